//! Alerts (告警) and incident status.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// How severe an alert is.
///
/// On the wire the four known severities are `low`, `medium`, `high` and `critical`; any other
/// string reads as [`Severity::Unknown`] (what `#[serde(other)]` would do, which serde allows
/// only on the last variant, so `Deserialize` is written out below), so an alert from a newer
/// backend is kept and shown rather than dropped (and counted by `api::decode_alerts`). A
/// severity that is not a string is an error. The order (`Ord`, the declaration order) is
/// low < medium < unknown < high < critical: an unknown severity outranks a known medium one,
/// so it is never hidden behind it when alerts are coalesced, and never hides a known high or
/// critical one. Its effects are those of a medium alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// 低
    Low,
    /// 中
    Medium,
    /// 未知 — a severity this build does not know (any unrecognised string). Drawn in a
    /// neutral fallback colour and animated like a medium alert; written back as `unknown`.
    Unknown,
    /// 高
    High,
    /// 严重 — raises a banner on the wall.
    Critical,
}

impl Severity {
    /// Every severity in order, lowest first: `ALL[s as usize] == s`.
    pub const ALL: [Severity; 5] = [Severity::Low, Severity::Medium, Severity::Unknown, Severity::High, Severity::Critical];

    /// The four severities the contract names, lowest first.
    pub const KNOWN: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Severity::Low => "低危",
            Severity::Medium => "中危",
            Severity::Unknown => "未知",
            Severity::High => "高危",
            Severity::Critical => "严重",
        }
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(match name.as_str() {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => Severity::Unknown,
        })
    }
}

/// Where an alert's incident stands in the close-loop 上报 → 研判 → 处置 → 闭环. The order
/// (`Ord`) is the loop's: a status change never moves an incident back (newest-wins by time
/// decides which change stands, see `RiskState::apply_status`).
///
/// On the wire: `new`, `analysing`, `disposing`, `closed`; `in_progress`, the one in-between
/// status of contract version 1 and of older recordings, reads as `disposing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// 新发现 — reported, not yet being handled.
    New,
    /// 研判中 — being analysed.
    Analysing,
    /// 处置中 — being disposed.
    #[serde(alias = "in_progress")]
    Disposing,
    /// 已闭环 — closed.
    Closed,
}

impl AlertStatus {
    /// Every stage, in the loop's order.
    pub const ALL: [AlertStatus; 4] = [AlertStatus::New, AlertStatus::Analysing, AlertStatus::Disposing, AlertStatus::Closed];

    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            AlertStatus::New => "新发现",
            AlertStatus::Analysing => "研判中",
            AlertStatus::Disposing => "处置中",
            AlertStatus::Closed => "已闭环",
        }
    }

    /// Whether the incident is still open (not closed).
    pub fn is_open(self) -> bool {
        self != AlertStatus::Closed
    }
}

/// One security alert on one unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique alert id, e.g. `A-20261128-0007`.
    pub id: String,
    /// The unit id (9-digit township code or bureau id).
    pub unit: String,
    /// When it was raised, with its UTC offset (Beijing is +08:00).
    pub time: DateTime<FixedOffset>,
    /// Severity.
    pub severity: Severity,
    /// Category, e.g. 恶意代码, 漏洞利用, 数据泄露.
    pub category: String,
    /// One-line title.
    pub title: String,
    /// Current status.
    pub status: AlertStatus,
    /// Who acknowledged it on a wall's screen (确认), and when; `None` until then. Absent on
    /// the wire when not acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Ack>,
    /// The platform's analysis (研判) text, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<String>,
    /// The newest disposal note (处置说明) of its status changes, when one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it entered its later stages, as a gateway's snapshot serves them (a wall that
    /// connects late still judges time limits and on-time closure right); absent in `alert`
    /// events and recordings, whose status changes carry the times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Stages>,
}

/// When an incident first entered each later stage of the close-loop; `None` for a stage not
/// entered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stages {
    /// 研判中.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysing: Option<DateTime<FixedOffset>>,
    /// 处置中.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposing: Option<DateTime<FixedOffset>>,
    /// 已闭环.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<DateTime<FixedOffset>>,
}

/// An operator's acknowledgement of an alert: `POST /api/v1/alerts/{id}/ack` on the gateway,
/// broadcast to every wall as an `ack` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The operator: the name of the token that acknowledged it.
    pub by: String,
    /// When, with its UTC offset.
    pub at: DateTime<FixedOffset>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_severity_string_is_kept_as_unknown() {
        let read = |s: &str| serde_json::from_value::<Severity>(serde_json::Value::String(s.into()));
        assert_eq!(read("critical").unwrap(), Severity::Critical);
        assert_eq!(read("medium").unwrap(), Severity::Medium);
        assert_eq!(read("urgent").unwrap(), Severity::Unknown);
        assert_eq!(read("").unwrap(), Severity::Unknown);
        assert_eq!(read("CRITICAL").unwrap(), Severity::Unknown, "names are lowercase");
        assert!(serde_json::from_value::<Severity>(serde_json::json!(3)).is_err(), "not a string: a wrong type");
        assert!(serde_json::from_value::<Severity>(serde_json::Value::Null).is_err());
        assert_eq!(serde_json::to_string(&Severity::Unknown).unwrap(), "\"unknown\"");
        assert_eq!(serde_json::to_string(&Severity::High).unwrap(), "\"high\"");
        // Between medium and high: never hidden behind a medium, never hiding a high.
        assert!(Severity::Medium < Severity::Unknown && Severity::Unknown < Severity::High);
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            assert_eq!(s as usize, i);
        }
        assert_eq!(Severity::Unknown.label_zh(), "未知");
    }

    #[test]
    fn the_version_1_in_between_status_reads_as_disposing() {
        let read = |s: &str| serde_json::from_value::<AlertStatus>(serde_json::Value::String(s.into()));
        assert_eq!(read("in_progress").unwrap(), AlertStatus::Disposing);
        assert_eq!(read("analysing").unwrap(), AlertStatus::Analysing);
        assert!(read("done").is_err());
        assert_eq!(serde_json::to_string(&AlertStatus::Disposing).unwrap(), "\"disposing\"");
        assert!(AlertStatus::New < AlertStatus::Analysing && AlertStatus::Disposing < AlertStatus::Closed);
    }
}
