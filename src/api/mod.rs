//! The backend contract, `/api/v1` (docs/api/openapi.yaml): the JSON shapes the security-
//! operations platform serves and the reference server (`situation-wall serve`) speaks.
//!
//! Scores are 0–100 with higher meaning more risk; times are RFC 3339 with offset; event ids
//! are positive integers that only increase.
//!
//! # Payload rules
//!
//! The live client, the reference server and the recording replay keep the same rules (the
//! contract's "Payload rules", docs/api/openapi.yaml):
//!
//! 1. A score field (`total`, `threat`, `asset`, `compliance`) is a JSON number or a string
//!    holding a finite number (`72.5` and `"72.5"` are the same); `"NaN"`, `"inf"`, `""` and
//!    `"72,5"` are wrong types ([`number`], [`number_or_null`]).
//! 2. An item whose `total` is `null` clears that unit to no data (its parts are ignored):
//!    [`DecodedScores::cleared`], applied with `RiskState::clear_score`, newest-wins like a score.
//! 3. An unrecognised severity is kept as `Severity::Unknown` and counted
//!    ([`DecodeReport::unknown_severity`]).
//! 4. Data stamped ahead of the receiver's clock is applied; the client warns once per source.
//! 5. Each invalid record is rejected alone, with its kind and id ([`Rejection`]).
//! 6. A unit listed twice in one payload keeps its last valid entry, and is reported
//!    ([`DecodeReport::duplicates`]).

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde::de::{self, Deserializer, Unexpected};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use smol_str::SmolStr;

use crate::model::{Alert, AlertStatus, Level, RiskScore, Severity};

pub mod wire;
pub use wire::{ScoreEventWire, ScoreWire, parse_number};

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

/// One unit's score in a snapshot or a `score` event. Each score field reads a number or a
/// numeric string ([`number`]); an item whose `total` is `null` is not a score but a clear,
/// which [`decode_scores`] reports in [`DecodedScores::cleared`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreItem {
    /// Unit id (a JSON number with the same digits is the same id); inline up to 23 bytes, so
    /// decoding an event of many scores allocates nothing per item for the ids.
    #[serde(deserialize_with = "unit_id")]
    pub unit: SmolStr,
    /// Overall risk, 0–100.
    #[serde(deserialize_with = "number")]
    pub total: f32,
    /// Threat operations (威胁), 0–100.
    #[serde(deserialize_with = "number")]
    pub threat: f32,
    /// Asset risk (资产风险), 0–100.
    #[serde(deserialize_with = "number")]
    pub asset: f32,
    /// Compliance gap (合规), 0–100.
    #[serde(deserialize_with = "number")]
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

/// The item that clears `unit` to no data, as a server sends it: `{"unit": …, "total": null}`.
pub fn no_data_item(unit: &str) -> Value {
    serde_json::json!({ "unit": unit, "total": null })
}

/// Reads a score field: a JSON number, or a string holding a finite number in Rust/JSON
/// decimal syntax, surrounding spaces ignored (`"72.5"`, `"1e2"`, `" 40 "`). Anything else —
/// `null`, `"NaN"`, `"inf"`, `""`, `"72,5"`, `true` — is an error (a wrong type). The range is
/// not checked here: [`RiskScore::validate`] does that.
///
/// # Errors
/// When the value is not such a number.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    number_or_null(d)?.ok_or_else(|| de::Error::invalid_type(Unexpected::Unit, &NumberVisitor))
}

/// Like [`number`], but `null` reads as `None`.
///
/// # Errors
/// When the value is neither `null` nor a number as [`number`] reads it.
pub fn number_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f32>, D::Error> {
    d.deserialize_any(NumberVisitor)
}

struct NumberVisitor;

impl<'de> de::Visitor<'de> for NumberVisitor {
    type Value = Option<f32>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string holding a finite number")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v as f32))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f32))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f32))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_number(v).map(|n| Some(n as f32)).ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(NumberVisitor)
    }
}

/// `GET /api/v1/scores`: every unit's current score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoresSnapshot {
    /// When these scores were computed.
    pub as_of: DateTime<FixedOffset>,
    /// Id of the newest event already reflected here: resume the event stream after it.
    pub last_event_id: u64,
    /// One item per unit (a unit with no data now has `total: null`). Clients validate each
    /// item alone ([`decode_scores`]).
    pub scores: Vec<Value>,
    /// Whether the data is simulated (a demo recording played by `serve`): the wall then
    /// shows its 模拟 / SIMULATED badge. Absent means false (real data), so a backend that
    /// predates the field reads as real.
    #[serde(default)]
    pub simulated: bool,
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
    /// Items, validated one by one ([`decode_scores`]); `total: null` clears a unit.
    pub scores: Vec<Value>,
}

/// Reads a unit id given as a string or a JSON number (`110105001` and `"110105001"` are the
/// same id).
fn unit_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SmolStr, D::Error> {
    let v = Value::deserialize(d)?;
    crate::geo::load::canonical_id(&v).map(SmolStr::from).ok_or_else(|| serde::de::Error::custom("unit id must be a string or an integer"))
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
    /// The disposal note sent with the change, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An `ack` event: an operator acknowledged alert `id` (`POST /api/v1/alerts/{id}/ack`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AckEvent {
    /// Alert id.
    pub id: String,
    /// The operator (the name of the token that acknowledged).
    pub by: String,
    /// When.
    pub at: DateTime<FixedOffset>,
}

/// Why one record in a payload was rejected; counted per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectKind {
    /// A field has the wrong JSON type or is missing (a score field that is neither a number
    /// nor a numeric string, an alert's severity that is not a string).
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

/// What sort of record a report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    /// A score item of a snapshot or a `score` event.
    Score,
    /// An alert of an alerts page or an `alert` event.
    Alert,
    /// A whole event of the stream (bad id, bad JSON, unknown event type).
    Event,
}

impl ItemKind {
    /// The noun for the log: `score`, `alert` or `event`.
    pub fn noun(self) -> &'static str {
        match self {
            ItemKind::Score => "score",
            ItemKind::Alert => "alert",
            ItemKind::Event => "event",
        }
    }
}

/// A remark on records that were kept: not a rejection, but worth one line in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoteKind {
    /// A unit listed more than once in one payload: its last valid entry was kept.
    DuplicateUnit,
    /// An alert with a severity this build does not know: kept as `Severity::Unknown`.
    UnknownSeverity,
}

impl NoteKind {
    /// Words for the log.
    pub fn describe(self) -> &'static str {
        match self {
            NoteKind::DuplicateUnit => "unit listed more than once in one payload, the last entry kept",
            NoteKind::UnknownSeverity => "alert with an unknown severity, kept and drawn as 未知 (unknown)",
        }
    }
}

/// How many offending ids a report carries for the log; the count covers them all.
pub const REPORT_IDS: usize = 5;

/// One record a decode rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub kind: RejectKind,
    /// Which: its unit id (a score) or alert id (an alert) where that much could be read,
    /// else its 0-based position in the payload's array as `#3`.
    pub id: String,
}

/// What decoding one payload found besides the records it kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeReport {
    /// Records rejected, in payload order.
    pub rejected: Vec<Rejection>,
    /// Units listed more than once among the valid items (each once, in order of first
    /// appearance); the last entry of each was kept.
    pub duplicates: Vec<String>,
    /// Ids of the alerts kept with an unrecognised severity (now `Severity::Unknown`).
    pub unknown_severity: Vec<String>,
}

impl DecodeReport {
    /// Whether nothing was rejected or noted.
    pub fn is_empty(&self) -> bool {
        self.rejected.is_empty() && self.duplicates.is_empty() && self.unknown_severity.is_empty()
    }

    /// The rejections by kind, in [`RejectKind`] order: each kind present with its count and
    /// its first [`REPORT_IDS`] ids.
    pub fn rejected_by_kind(&self) -> Vec<(RejectKind, usize, Vec<String>)> {
        let mut out: Vec<(RejectKind, usize, Vec<String>)> = Vec::new();
        let mut kinds: Vec<RejectKind> = self.rejected.iter().map(|r| r.kind).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            let of_kind = self.rejected.iter().filter(|r| r.kind == kind);
            let ids = of_kind.clone().take(REPORT_IDS).map(|r| r.id.clone()).collect();
            out.push((kind, of_kind.count(), ids));
        }
        out
    }

    /// The remarks: each kind present with its count and its first [`REPORT_IDS`] ids.
    pub fn notes(&self) -> Vec<(NoteKind, usize, Vec<String>)> {
        [(NoteKind::DuplicateUnit, &self.duplicates), (NoteKind::UnknownSeverity, &self.unknown_severity)]
            .into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(kind, ids)| (kind, ids.len(), ids.iter().take(REPORT_IDS).cloned().collect()))
            .collect()
    }
}

/// A payload's score items, decoded ([`decode_scores`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedScores {
    /// Valid scores, at most one per unit (the last valid entry of a unit listed more than
    /// once), in payload order.
    pub scores: Vec<ScoreItem>,
    /// Units whose item has `total: null`: no data now (apply with
    /// `RiskState::clear_score`). Never a unit that is also in `scores`.
    pub cleared: Vec<String>,
    /// What was rejected or noted.
    pub report: DecodeReport,
}

/// A payload's alerts, decoded ([`decode_alerts`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedAlerts {
    /// Valid alerts, in payload order (an unknown severity is kept as `Severity::Unknown`).
    pub alerts: Vec<Alert>,
    /// What was rejected or noted.
    pub report: DecodeReport,
}

/// One valid item: a score, or a clear.
enum Entry {
    Score(ScoreItem),
    Clear(SmolStr),
}

impl Entry {
    fn unit(&self) -> &str {
        match self {
            Entry::Score(s) => &s.unit,
            Entry::Clear(u) => u,
        }
    }

    fn into_unit(self) -> SmolStr {
        match self {
            Entry::Score(s) => s.unit,
            Entry::Clear(u) => u,
        }
    }
}

/// Decodes score items one by one by the payload rules: a score field may be a number or a
/// numeric string; `total: null` clears the unit; an invalid item is rejected alone with its
/// kind and id; among the valid items a unit listed twice keeps its last entry and is
/// reported. `known` decides which unit ids exist; `None` accepts any.
pub fn decode_scores(items: &[Value], known: Option<&dyn Fn(&str) -> bool>) -> DecodedScores {
    // A `Value` read as a wire item never fails (see `wire`): one set of rules for both.
    decode_score_wires(items.iter().map(|v| ScoreWire::deserialize(v).unwrap_or_default()).collect(), known)
}

/// [`decode_scores`] over items read straight from the text ([`ScoreEventWire`]): the same
/// rules, without a `Value` per item.
pub fn decode_score_wires(items: Vec<ScoreWire>, known: Option<&dyn Fn(&str) -> bool>) -> DecodedScores {
    let mut entries = Vec::with_capacity(items.len());
    let mut report = DecodeReport::default();
    for (i, mut w) in items.into_iter().enumerate() {
        // The shape decides; only then does the id move from the wire item into the entry (an
        // inline id, no allocation up to 23 bytes). A refused item keeps its id for the rejection.
        let entry = match (w.shape_ok, w.fields, w.level) {
            (true, [wire::Field::Null, ..], _) => w.unit.take().map(Entry::Clear),
            (true, [wire::Field::Num(total), wire::Field::Num(threat), wire::Field::Num(asset), wire::Field::Num(compliance)], Ok(level)) => {
                w.unit.take().map(|unit| Entry::Score(ScoreItem { unit, total, threat, asset, compliance, level }))
            }
            _ => None,
        };
        let verdict = match entry {
            None => Err((RejectKind::WrongType, w.unit)),
            Some(Entry::Score(s)) if s.score().validate().is_err() => Err((RejectKind::OutOfRange, Some(s.unit))),
            Some(e) if known.is_some_and(|k| !k(e.unit())) => Err((RejectKind::UnknownUnit, Some(e.into_unit()))),
            Some(e) => Ok(e),
        };
        match verdict {
            Ok(e) => entries.push(e),
            Err((kind, id)) => report.rejected.push(Rejection { kind, id: id.map_or_else(|| format!("#{i}"), String::from) }),
        }
    }
    // Last wins: keep each unit's last valid entry (one hash per entry).
    let mut keep = vec![true; entries.len()];
    let mut last: HashMap<&str, usize, foldhash::fast::RandomState> = HashMap::with_capacity_and_hasher(entries.len(), Default::default());
    for (n, e) in entries.iter().enumerate() {
        if let Some(earlier) = last.insert(e.unit(), n) {
            keep[earlier] = false;
        }
    }
    drop(last);
    let mut listed = HashSet::new();
    let mut out = DecodedScores { report, ..DecodedScores::default() };
    out.scores.reserve(entries.len());
    for (e, is_last) in entries.into_iter().zip(keep) {
        if !is_last {
            if listed.insert(e.unit().to_owned()) {
                out.report.duplicates.push(e.unit().to_owned());
            }
            continue;
        }
        match e {
            Entry::Score(s) => out.scores.push(s),
            Entry::Clear(u) => out.cleared.push(u.into()),
        }
    }
    out
}

/// Decodes alerts one by one, like [`decode_scores`]: an invalid one is rejected alone with
/// its kind and id, and one with an unrecognised severity is kept (as `Severity::Unknown`)
/// and counted in [`DecodeReport::unknown_severity`].
pub fn decode_alerts(items: &[Value], known: Option<&dyn Fn(&str) -> bool>) -> DecodedAlerts {
    let mut out = DecodedAlerts { alerts: Vec::with_capacity(items.len()), report: DecodeReport::default() };
    for (i, v) in items.iter().enumerate() {
        // Read from the value in place: no copy of each item.
        let verdict = match Alert::deserialize(v) {
            Err(_) => Err(RejectKind::WrongType),
            Ok(a) if known.is_some_and(|k| !k(&a.unit)) => Err(RejectKind::UnknownUnit),
            Ok(a) => Ok(a),
        };
        match verdict {
            Ok(a) => {
                if a.severity == Severity::Unknown {
                    out.report.unknown_severity.push(a.id.clone());
                }
                out.alerts.push(a);
            }
            Err(kind) => {
                let id = v.get("id").and_then(crate::geo::load::canonical_id).unwrap_or_else(|| format!("#{i}"));
                out.report.rejected.push(Rejection { kind, id });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn units(d: &DecodedScores) -> Vec<&str> {
        d.scores.iter().map(|s| s.unit.as_str()).collect()
    }

    #[test]
    fn each_score_item_is_judged_alone() {
        let items = vec![
            json!({"unit":"a","total":50,"threat":1,"asset":2,"compliance":3}),
            json!({"unit":"b","total":150,"threat":1,"asset":2,"compliance":3}),
            json!({"unit":"c","total":"high","threat":1,"asset":2,"compliance":3}),
            json!({"unit":"zz","total":5,"threat":1,"asset":2,"compliance":3}),
            json!({"unit":"d","total":5,"threat":1,"asset":2,"compliance":3,"level":"low","extra":true}),
            json!({"unit":110105001,"total":5,"threat":1,"asset":2,"compliance":3}),
            json!({"total":5,"threat":1,"asset":2,"compliance":3}),
            json!("not an object"),
            json!({"unit":"e","total":5,"threat":1,"asset":2,"compliance":3,"level":"purple"}),
        ];
        let known = |id: &str| id != "zz";
        let d = decode_scores(&items, Some(&known));
        assert_eq!(units(&d), ["a", "d", "110105001"]);
        let bad: Vec<(RejectKind, &str)> = d.report.rejected.iter().map(|r| (r.kind, r.id.as_str())).collect();
        assert_eq!(
            bad,
            [
                (RejectKind::OutOfRange, "b"),
                (RejectKind::WrongType, "c"),
                (RejectKind::UnknownUnit, "zz"),
                (RejectKind::WrongType, "#6"),
                (RejectKind::WrongType, "#7"),
                (RejectKind::WrongType, "e")
            ]
        );
        assert!(d.cleared.is_empty() && d.report.duplicates.is_empty());
    }

    #[test]
    fn numeric_strings_are_numbers_and_nothing_else_is() {
        let item = |total: Value| json!({"unit":"a","total":total,"threat":"10","asset":" 20 ","compliance":3.5});
        let read = |total: Value| serde_json::from_value::<ScoreItem>(item(total));
        let s = read(json!("72.5")).unwrap();
        assert_eq!((s.total, s.threat, s.asset, s.compliance), (72.5, 10.0, 20.0, 3.5));
        assert_eq!(read(json!(72.5)).unwrap().total, 72.5);
        assert_eq!(read(json!("1e1")).unwrap().total, 10.0);
        assert_eq!(read(json!(40)).unwrap().total, 40.0);
        for bad in ["NaN", "nan", "inf", "-inf", "infinity", "", " ", "72,5", "72.5%", "0x10", "high"] {
            assert!(read(json!(bad)).is_err(), "{bad:?} is not a number");
        }
        assert!(read(json!(true)).is_err());
        assert!(read(json!([72.5])).is_err());
        assert!(read(Value::Null).is_err(), "a null total is a clear, not a ScoreItem");
        // In a payload: kept with the value, or rejected as a wrong type.
        let d = decode_scores(&[item(json!("72.5")), item(json!("NaN")), item(json!("inf")), item(json!("")), item(json!("72,5"))], None);
        assert_eq!(d.scores.len(), 1);
        assert_eq!(d.scores[0].total, 72.5);
        assert_eq!(d.report.rejected.iter().map(|r| r.kind).collect::<Vec<_>>(), [RejectKind::WrongType; 4]);
        // A numeric string out of range is out of range, as the number would be.
        let d = decode_scores(&[item(json!("100.5")), item(json!("1e39"))], None);
        assert_eq!(d.report.rejected.iter().map(|r| r.kind).collect::<Vec<_>>(), [RejectKind::OutOfRange; 2]);
        assert_eq!(parse_number(" 72.5 "), Some(72.5));
        assert_eq!(parse_number("NaN"), None);
    }

    #[test]
    fn a_null_total_clears_the_unit() {
        let items = vec![
            json!({"unit":"a","total":null}),
            json!({"unit":"b","total":null,"threat":null,"asset":null,"compliance":null}),
            json!({"unit":"c","total":null,"threat":5}),
            json!({"unit":"zz","total":null}),
            json!({"total":null}),
            json!({"unit":"d","threat":1,"asset":1,"compliance":1}),
        ];
        let known = |id: &str| id != "zz";
        let d = decode_scores(&items, Some(&known));
        assert!(d.scores.is_empty());
        assert_eq!(d.cleared, ["a", "b", "c"]);
        let bad: Vec<(RejectKind, &str)> = d.report.rejected.iter().map(|r| (r.kind, r.id.as_str())).collect();
        // An absent total is a missing field, not a clear.
        assert_eq!(bad, [(RejectKind::UnknownUnit, "zz"), (RejectKind::WrongType, "#4"), (RejectKind::WrongType, "d")]);
        assert_eq!(no_data_item("a"), items[0]);
    }

    #[test]
    fn a_unit_listed_twice_keeps_its_last_valid_entry() {
        let score = |unit: &str, total: f64| json!({"unit":unit,"total":total,"threat":1,"asset":1,"compliance":1});
        let items =
            vec![score("a", 10.0), score("b", 20.0), score("a", 11.0), json!({"unit":"b","total":null}), score("c", 30.0), score("c", 300.0), score("a", 12.0)];
        let d = decode_scores(&items, None);
        assert_eq!(units(&d), ["c", "a"]);
        assert_eq!(d.scores.iter().map(|s| s.total).collect::<Vec<_>>(), [30.0, 12.0]);
        assert_eq!(d.cleared, ["b"], "the clear came last for b");
        // Each duplicated unit once; c's second entry was invalid, so c is no duplicate.
        assert_eq!(d.report.duplicates, ["a", "b"]);
        assert_eq!(d.report.rejected, [Rejection { kind: RejectKind::OutOfRange, id: "c".into() }]);
        assert_eq!(d.report.notes(), [(NoteKind::DuplicateUnit, 2, vec!["a".to_owned(), "b".to_owned()])]);
    }

    #[test]
    fn an_unknown_severity_is_kept_and_counted() {
        let alert = |id: &str, severity: Value| json!({"id":id,"unit":"1","time":"2026-11-29T08:00:00+08:00","severity":severity,"category":"c","title":"t","status":"new"});
        let items = vec![alert("A1", json!("high")), alert("A2", json!("urgent")), alert("A3", json!(4)), alert("A4", json!("p1")), json!({"id":7})];
        let d = decode_alerts(&items, None);
        let kept: Vec<(&str, Severity)> = d.alerts.iter().map(|a| (a.id.as_str(), a.severity)).collect();
        assert_eq!(kept, [("A1", Severity::High), ("A2", Severity::Unknown), ("A4", Severity::Unknown)]);
        assert_eq!(d.report.unknown_severity, ["A2", "A4"]);
        let bad: Vec<(RejectKind, &str)> = d.report.rejected.iter().map(|r| (r.kind, r.id.as_str())).collect();
        assert_eq!(bad, [(RejectKind::WrongType, "A3"), (RejectKind::WrongType, "7")]);
        assert_eq!(d.report.notes(), [(NoteKind::UnknownSeverity, 2, vec!["A2".to_owned(), "A4".to_owned()])]);
    }

    #[test]
    fn rejections_group_by_kind_with_the_first_ids() {
        let items: Vec<Value> = (0..8).map(|i| json!({"unit":format!("99900{i}"),"total":5,"threat":1,"asset":1,"compliance":1})).collect();
        let mut items = items;
        items.insert(2, json!({"unit":"x","total":"bad","threat":1,"asset":1,"compliance":1}));
        let d = decode_scores(&items, Some(&|_: &str| false));
        let groups = d.report.rejected_by_kind();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0], (RejectKind::WrongType, 1, vec!["x".to_owned()]));
        assert_eq!(groups[1].0, RejectKind::UnknownUnit);
        assert_eq!(groups[1].1, 8);
        assert_eq!(groups[1].2, ["999000", "999001", "999002", "999003", "999004"], "the first {REPORT_IDS}");
        assert!(!d.report.is_empty());
        assert!(DecodeReport::default().is_empty());
    }
}
