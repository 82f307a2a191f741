//! The backend contract, `/api/v1` (docs/api/openapi.yaml): the JSON shapes the security-
//! operations platform serves and the reference server (`situation-wall serve`) speaks.
//!
//! Scores are 0–100 with higher meaning more risk; times are RFC 3339 with offset; event ids
//! are positive integers that only increase.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Alert, AlertStatus, Level, RiskScore};

/// Path prefix of every endpoint.
pub const PREFIX: &str = "/api/v1";

/// `GET /api/v1/health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` when the server can serve current data.
    pub status: String,
    /// Time of the newest data, if any.
    pub as_of: Option<DateTime<FixedOffset>>,
    /// Id of the newest event (0 before the first).
    pub last_event_id: u64,
}

/// One unit in `GET /api/v1/units`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitInfo {
    /// Unit id: 9-digit township code, or a bureau id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// 街道, 地区 or 委办局.
    pub kind: String,
    /// `[lon, lat]` WGS-84 degrees, for point units (bureaus); absent for areas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<[f64; 2]>,
}

/// One unit's score in a snapshot or a `score` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreItem {
    /// Unit id (a JSON number with the same digits is the same id).
    #[serde(deserialize_with = "unit_id")]
    pub unit: String,
    /// Overall risk, 0–100.
    pub total: f32,
    /// Threat operations (威胁), 0–100.
    pub threat: f32,
    /// Asset risk (资产风险), 0–100.
    pub asset: f32,
    /// Compliance gap (合规), 0–100.
    pub compliance: f32,
    /// The level the server assigns (informational; the wall applies its own thresholds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
}

impl ScoreItem {
    /// The score part.
    pub fn score(&self) -> RiskScore {
        RiskScore { total: self.total, threat: self.threat, asset: self.asset, compliance: self.compliance }
    }
}

/// `GET /api/v1/scores`: every unit's current score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoresSnapshot {
    /// When these scores were computed.
    pub as_of: DateTime<FixedOffset>,
    /// Id of the newest event already reflected here: resume the event stream after it.
    pub last_event_id: u64,
    /// One item per unit. Clients validate each item alone.
    pub scores: Vec<Value>,
}

/// `GET /api/v1/alerts?since=N`: alerts whose sequence number is above `N`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertsPage {
    /// Alerts in sequence order (each is an [`Alert`] as JSON; validated one by one).
    pub alerts: Vec<Value>,
    /// Pass as `since` to get only newer alerts.
    pub next: u64,
}

/// Data of a `score` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreEvent {
    /// When the scores were computed.
    pub as_of: DateTime<FixedOffset>,
    /// Items, validated one by one.
    pub scores: Vec<Value>,
}

/// Reads a unit id given as a string or a JSON number (`110105001` and `"110105001"` are the
/// same id).
fn unit_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    crate::geo::load::canonical_id(&v).ok_or_else(|| serde::de::Error::custom("unit id must be a string or an integer"))
}

/// Data of an `alert_status` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertStatusEvent {
    /// Alert id.
    pub id: String,
    /// New status.
    pub status: AlertStatus,
    /// When it changed.
    pub at: DateTime<FixedOffset>,
}

/// Why one record in a payload was rejected; counted per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectKind {
    /// A field has the wrong JSON type or is missing.
    WrongType,
    /// A score is not finite or outside 0–100.
    OutOfRange,
    /// The unit id is not on the map.
    UnknownUnit,
}

impl RejectKind {
    /// Words for the log.
    pub fn describe(self) -> &'static str {
        match self {
            RejectKind::WrongType => "wrong type or missing field",
            RejectKind::OutOfRange => "non-finite or out-of-range score",
            RejectKind::UnknownUnit => "unknown unit id",
        }
    }
}

/// Decodes score items one by one: the valid ones, and a reject kind per invalid one.
/// `known` decides which unit ids exist; `None` accepts any.
pub fn decode_scores(items: &[Value], known: Option<&dyn Fn(&str) -> bool>) -> (Vec<ScoreItem>, Vec<RejectKind>) {
    let mut ok = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for v in items {
        match serde_json::from_value::<ScoreItem>(v.clone()) {
            Err(_) => rejected.push(RejectKind::WrongType),
            Ok(item) if item.score().validate().is_err() => rejected.push(RejectKind::OutOfRange),
            Ok(item) if known.is_some_and(|k| !k(&item.unit)) => rejected.push(RejectKind::UnknownUnit),
            Ok(item) => ok.push(item),
        }
    }
    (ok, rejected)
}

/// Decodes alerts one by one, like [`decode_scores`].
pub fn decode_alerts(items: &[Value], known: Option<&dyn Fn(&str) -> bool>) -> (Vec<Alert>, Vec<RejectKind>) {
    let mut ok = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for v in items {
        match serde_json::from_value::<Alert>(v.clone()) {
            Err(_) => rejected.push(RejectKind::WrongType),
            Ok(a) if known.is_some_and(|k| !k(&a.unit)) => rejected.push(RejectKind::UnknownUnit),
            Ok(a) => ok.push(a),
        }
    }
    (ok, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_score_item_is_judged_alone() {
        let items = vec![
            json!({"unit":"a","total":50,"threat":1,"asset":2,"compliance":3}),
            json!({"unit":"b","total":150,"threat":1,"asset":2,"compliance":3}),
            json!({"unit":"c","total":"high","threat":1,"asset":2,"compliance":3}),
            json!({"unit":"zz","total":5,"threat":1,"asset":2,"compliance":3}),
            json!({"unit":"d","total":5,"threat":1,"asset":2,"compliance":3,"level":"low","extra":true}),
            json!({"unit":110105001,"total":5,"threat":1,"asset":2,"compliance":3}),
        ];
        let known = |id: &str| id != "zz";
        let (ok, bad) = decode_scores(&items, Some(&known));
        assert_eq!(ok.iter().map(|s| s.unit.as_str()).collect::<Vec<_>>(), ["a", "d", "110105001"]);
        assert_eq!(bad, [RejectKind::OutOfRange, RejectKind::WrongType, RejectKind::UnknownUnit]);
    }
}
