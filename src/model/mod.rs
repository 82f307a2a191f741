//! The risk model: units' scores and levels, alerts, the colour ramp, and the state store that
//! feeds apply updates to. No rendering and no I/O here.

mod alert;
mod ramp;
mod score;
mod store;
mod transition;

pub use alert::{Alert, AlertStatus, Severity};
pub use ramp::{ColourRamp, RampError, RampStop, parse_hex};
pub use score::{Level, LevelThresholds, RiskScore, ScoreError};
pub use transition::{Transition, smoothstep};
pub use store::{HISTORY_LEN, Rejected, RiskState, UnitState};
