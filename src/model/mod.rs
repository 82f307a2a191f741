//! The risk model: units' scores and levels, alerts, the colour ramp, and the state store that
//! feeds apply updates to. No rendering and no I/O here.

mod alert;
mod detail;
mod incident;
mod period;
mod ramp;
mod score;
mod store;
mod transition;

pub use alert::{Ack, Alert, AlertStatus, Severity};
pub use detail::{
    DistrictSummary, OpenIncident, RankRow, TREND_DEAD_BAND, TREND_WINDOW_S, UnitDetail, alert_overdue, derived_compliance, derived_vulnerabilities,
    district_summary, overdue_by_unit, ranking, severity_strength, trend, trend_arrow, unit_detail,
};
pub use incident::{Overdue, Sla, SlaLimit, StageTimes, closed_on_time, deadline, overdue};
pub use period::{EfficiencyRow, Period, PeriodRow, disposal_efficiency, period_ranking};
pub use ramp::{ColourRamp, LEVEL_COLOURS, RampError, RampStop, parse_hex};
pub use score::{Level, LevelThresholds, RiskScore, ScoreError};
pub use store::{HISTORY_LEN, MAX_ALERTS, Rejected, RiskState, UnitState};
pub use transition::{Transition, smoothstep};

/// UTC+08:00 (China Standard Time), the zone of every time the wall shows, the simulator
/// writes and the gateway hands back, whatever the machine's own zone; checked at compile time.
pub const BEIJING: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"),
};

/// [`BEIJING`], as a function for `with_timezone(&beijing())`.
pub fn beijing() -> chrono::FixedOffset {
    BEIJING
}
