//! The risk model: units' scores and levels, alerts, the colour ramp, and the state store that
//! feeds apply updates to. No rendering and no I/O here.

mod alert;
mod detail;
mod history;
mod incident;
mod period;
mod ramp;
mod score;
mod store;
mod time;
mod transition;

pub use alert::{Ack, Alert, AlertStatus, Severity, Stages};
pub use detail::{
    DistrictSummary, OpenIncident, RankRow, TREND_DEAD_BAND, TREND_WINDOW_S, UnitDetail, alert_overdue, derived_compliance, derived_vulnerabilities,
    district_summary, overdue_by_unit, ranking, severity_strength, trend, trend_arrow, unit_detail,
};
pub use history::{HISTORY_LEN, History, Iter as HistoryIter};
pub use incident::{Overdue, Sla, SlaLimit, StageTimes, closed_on_time, deadline, overdue};
pub use period::{EfficiencyRow, Period, PeriodRow, disposal_efficiency, period_ranking};
pub use ramp::{ColourRamp, LEVEL_COLOURS, RampError, RampStop, parse_hex};
pub use score::{Level, LevelThresholds, RiskScore, ScoreError};
pub use store::{HISTORY_STEP_S, MAX_ALERTS, Rejected, RiskState, UnitState};
pub use time::{BEIJING, beijing};
pub use transition::{Transition, smoothstep};
