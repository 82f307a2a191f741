//! The risk model: units' scores and levels, alerts, the colour ramp, and the state store that
//! feeds apply updates to. No rendering and no I/O here.

mod alert;
mod detail;
mod ramp;
mod score;
mod store;
mod transition;

pub use alert::{Alert, AlertStatus, Severity};
pub use detail::{DistrictSummary, RankRow, TREND_DEAD_BAND, TREND_WINDOW_S, UnitDetail, derived_compliance, derived_vulnerabilities, district_summary, ranking, severity_strength, trend, trend_arrow, unit_detail};
pub use ramp::{ColourRamp, RampError, RampStop, parse_hex};
pub use score::{Level, LevelThresholds, RiskScore, ScoreError};
pub use transition::{Transition, smoothstep};
pub use store::{HISTORY_LEN, MAX_ALERTS, Rejected, RiskState, UnitState};
