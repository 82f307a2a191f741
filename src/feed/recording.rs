//! The recording format: versioned JSON Lines (docs/recording-format.md).
//!
//! Line 1 is a [`RecordingHeader`]; every later non-blank line is one [`Record`] with an RFC 3339
//! timestamp `t`. Parsing never stops on a bad line: the line is skipped and reported with its
//! 1-based number in [`Recording::errors`].

use std::fmt;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::model::{Alert, AlertStatus, RiskScore, Severity};

/// The `format` value of a header line.
pub const FORMAT_NAME: &str = "situation-wall-recording";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Id of the district map whose unit ids recordings use unless told otherwise: Chaoyang's
/// administrative code, 110105.
pub const DISTRICT_MAP_ID: &str = "chaoyang-110105";

/// The first line of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Format version; this build reads version [`FORMAT_VERSION`].
    pub version: u32,
    /// Id of the map whose unit ids the records use, e.g. `chaoyang-110105`.
    pub map: String,
    /// Time the recording starts, RFC 3339 with offset.
    pub start: DateTime<FixedOffset>,
    /// Free text: what was recorded, by whom, simulated or not.
    #[serde(default)]
    pub description: String,
}

impl RecordingHeader {
    /// Whether the recording says its data is simulated: its description mentions
    /// "simulated" (any case) or 模拟, as `situation-wall simulate` writes.
    pub fn is_simulated(&self) -> bool {
        self.description.to_lowercase().contains("simulated") || self.description.contains("模拟")
    }
}

/// One unit's score inside a `scores` record. All scores are 0–100, each read like the live
/// contract's (a number or a numeric string, see [`crate::api::number`]). An entry whose
/// `total` is `null` is a clear, kept in the `cleared` list of [`RecordBody::Scores`] instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreEntry {
    /// Unit id.
    pub unit: String,
    /// Overall risk.
    #[serde(deserialize_with = "crate::api::number")]
    pub total: f32,
    /// Threat operations (威胁).
    #[serde(deserialize_with = "crate::api::number")]
    pub threat: f32,
    /// Asset risk (资产风险).
    #[serde(deserialize_with = "crate::api::number")]
    pub asset: f32,
    /// Compliance gap (合规).
    #[serde(deserialize_with = "crate::api::number")]
    pub compliance: f32,
}

impl ScoreEntry {
    /// The score part of the entry.
    pub fn score(&self) -> RiskScore {
        RiskScore { total: self.total, threat: self.threat, asset: self.asset, compliance: self.compliance }
    }
}

/// What a record carries.
///
/// Written and read as JSON with a `type` field. A `scores` record's clears are written as
/// entries of its `scores` array with `"total": null` (the live contract's form), after the
/// scores.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RecordBody {
    /// New scores for one or many units, and units cleared to no data.
    Scores {
        /// One entry per unit.
        scores: Vec<ScoreEntry>,
        /// Units that have no data from the record's time on (entries with `"total": null`
        /// on disk). Never a unit that is also in `scores`.
        #[serde(default)]
        cleared: Vec<String>,
    },
    /// A new alert, raised at the record's time.
    Alert {
        /// Unique alert id.
        id: String,
        /// Unit id.
        unit: String,
        /// Severity.
        severity: Severity,
        /// Category, e.g. 恶意代码.
        category: String,
        /// One-line title.
        title: String,
        /// Initial status (default `new`).
        #[serde(default = "new_status")]
        status: AlertStatus,
        /// The platform's analysis (研判) text, if any.
        #[serde(default)]
        analysis: Option<String>,
    },
    /// An alert's status changed.
    AlertStatus {
        /// Alert id.
        id: String,
        /// New status.
        status: AlertStatus,
        /// The disposal note sent with the change, if any.
        #[serde(default)]
        note: Option<String>,
    },
}

fn new_status() -> AlertStatus {
    AlertStatus::New
}

/// [`RecordBody`] as written: clears become `scores` entries with a null total.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BodyOut<'a> {
    Scores {
        scores: Vec<EntryOut<'a>>,
    },
    Alert {
        id: &'a str,
        unit: &'a str,
        severity: Severity,
        category: &'a str,
        title: &'a str,
        status: AlertStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        analysis: Option<&'a str>,
    },
    AlertStatus {
        id: &'a str,
        status: AlertStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<&'a str>,
    },
}

/// One entry of a written `scores` array.
#[derive(Serialize)]
#[serde(untagged)]
enum EntryOut<'a> {
    Score(&'a ScoreEntry),
    /// `()` is written as `null`.
    Clear {
        unit: &'a str,
        total: (),
    },
}

impl Serialize for RecordBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let out = match self {
            RecordBody::Scores { scores, cleared } => {
                BodyOut::Scores { scores: scores.iter().map(EntryOut::Score).chain(cleared.iter().map(|u| EntryOut::Clear { unit: u, total: () })).collect() }
            }
            RecordBody::Alert { id, unit, severity, category, title, status, analysis } => {
                BodyOut::Alert { id, unit, severity: *severity, category, title, status: *status, analysis: analysis.as_deref() }
            }
            RecordBody::AlertStatus { id, status, note } => BodyOut::AlertStatus { id, status: *status, note: note.as_deref() },
        };
        out.serialize(serializer)
    }
}

/// One timestamped record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// When it happened, RFC 3339 with offset.
    pub t: DateTime<FixedOffset>,
    /// What happened.
    #[serde(flatten)]
    pub body: RecordBody,
}

impl Record {
    /// The alert a `alert` record raises.
    pub fn alert(&self) -> Option<Alert> {
        match &self.body {
            RecordBody::Alert { id, unit, severity, category, title, status, analysis } => Some(Alert {
                id: id.clone(),
                unit: unit.clone(),
                time: self.t,
                severity: *severity,
                category: category.clone(),
                title: title.clone(),
                status: *status,
                acknowledged: None,
                analysis: analysis.clone(),
                note: None,
                stages: None,
            }),
            _ => None,
        }
    }
}

/// A line that could not be used.
#[derive(Clone, Debug, PartialEq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// The header (a default one, reported as an error, when line 1 is not a header).
    pub header: RecordingHeader,
    /// Records in file order, each with its 1-based line number.
    pub records: Vec<(usize, Record)>,
    /// Lines that were skipped, entries of a `scores` record that were dropped or overridden
    /// by a later entry for the same unit, and alerts kept with an unknown severity, with why.
    pub errors: Vec<LineError>,
}

impl Recording {
    /// Parses recording text. Strips a UTF-8 byte-order mark, accepts LF and CRLF, skips blank
    /// lines, and ignores unknown fields. Never fails: bad lines land in `errors`.
    pub fn parse(text: &str) -> Self {
        Self::parse_bytes(text.as_bytes())
    }

    /// Parses recording bytes line by line; a line that is not UTF-8 is reported and skipped
    /// like any other bad line. In a `scores` record, an entry with a wrong type or a score
    /// outside 0–100 is reported and dropped alone; the other entries apply. The live
    /// contract's payload rules hold here too: a numeric string is a number, `"total": null`
    /// clears the unit, a unit listed twice in one record keeps its last valid entry (the
    /// earlier ones are reported), and an alert with an unknown severity is kept (as
    /// [`Severity::Unknown`]) and reported.
    pub fn parse_bytes(bytes: &[u8]) -> Self {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let mut header = None;
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let n = i + 1;
            let Ok(line) = std::str::from_utf8(raw) else {
                errors.push(LineError { line: n, message: "not valid UTF-8".into() });
                continue;
            };
            let line = line.trim_end_matches('\r').trim();
            if line.is_empty() {
                continue;
            }
            if header.is_none() && records.is_empty() && errors.is_empty() {
                match serde_json::from_str::<RecordingHeader>(line) {
                    Ok(h) if h.format == FORMAT_NAME && h.version == FORMAT_VERSION => {
                        header = Some(h);
                        continue;
                    }
                    Ok(h) => {
                        errors.push(LineError {
                            line: n,
                            message: format!("header is {} version {}; this build reads {FORMAT_NAME} version {FORMAT_VERSION}", h.format, h.version),
                        });
                        continue;
                    }
                    Err(_) => errors.push(LineError { line: n, message: "first line is not a recording header; replaying it as a record".into() }),
                }
            }
            match parse_record(line, n, &mut errors) {
                Ok(r) => records.push((n, r)),
                Err(e) => errors.push(LineError { line: n, message: format!("invalid record: {e}") }),
            }
        }
        let header = header.unwrap_or_else(|| RecordingHeader {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            map: String::new(),
            start: records.first().map(|(_, r)| r.t).unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset()),
            description: String::new(),
        });
        Self { header, records, errors }
    }

    /// Reads and parses a recording file.
    ///
    /// # Errors
    /// Only when the file cannot be read; bad lines are in `errors`.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        Ok(Self::parse_bytes(&std::fs::read(path)?))
    }

    /// Writes the recording as JSON Lines: the header, then one record per line.
    ///
    /// # Errors
    /// I/O errors from `out`.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &self.header)?;
        out.write_all(b"\n")?;
        for (_, r) in &self.records {
            serde_json::to_writer(&mut *out, r)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// The unit of a clearing entry (`"total": null`); its other fields are ignored.
#[derive(Deserialize)]
struct ClearEntry {
    unit: String,
}

/// The severities a recording names; any other string reads as [`Severity::Unknown`].
const KNOWN_SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// Parses one record line. In a `scores` record each entry is checked alone: bad entries are
/// reported (with the line and entry index) and dropped, entries with a null total become
/// the record's `cleared` units, and of a unit listed more than once only the last valid
/// entry stays (the others are reported). An alert with an unknown severity is reported and
/// kept.
fn parse_record(line: &str, n: usize, errors: &mut Vec<LineError>) -> Result<Record, serde_json::Error> {
    let mut value: Value = serde_json::from_str(line)?;
    let kind = value.get("type").and_then(Value::as_str).map(str::to_owned);
    if kind.as_deref() == Some("alert")
        && let Some(severity) = value.get("severity").and_then(Value::as_str)
        && !KNOWN_SEVERITIES.contains(&severity)
    {
        let id = value.get("id").and_then(Value::as_str).unwrap_or("?");
        errors.push(LineError { line: n, message: format!("alert {id}: unknown severity {severity:?}, kept as unknown (未知)") });
    }
    if kind.as_deref() == Some("scores")
        && let Some(record) = value.as_object_mut()
    {
        // `cleared` exists only in memory: on disk a clear is an entry with a null total.
        record.remove("cleared");
        let mut cleared = Vec::new();
        if let Some(entries) = record.get_mut("scores").and_then(Value::as_array_mut) {
            // (index, unit, the entry for a score or None for a clear)
            let mut valid: Vec<(usize, String, Option<Value>)> = Vec::new();
            for (index, entry) in std::mem::take(entries).into_iter().enumerate() {
                let verdict = if entry.get("total").is_some_and(Value::is_null) {
                    serde_json::from_value::<ClearEntry>(entry).map(|c| (c.unit, None)).map_err(|e| e.to_string())
                } else {
                    match serde_json::from_value::<ScoreEntry>(entry.clone()) {
                        Err(e) => Err(e.to_string()),
                        Ok(s) => match s.score().validate() {
                            Ok(()) => Ok((s.unit, Some(entry))),
                            Err(e) => Err(format!("unit {}: {e}", s.unit)),
                        },
                    }
                };
                match verdict {
                    Ok((unit, entry)) => valid.push((index, unit, entry)),
                    Err(message) => errors.push(LineError { line: n, message: format!("scores[{index}] dropped: {message}") }),
                }
            }
            let mut last = std::collections::HashMap::new();
            for (k, (_, unit, _)) in valid.iter().enumerate() {
                last.insert(unit.clone(), k);
            }
            for (k, (index, unit, entry)) in valid.into_iter().enumerate() {
                if last[&unit] != k {
                    errors.push(LineError {
                        line: n,
                        message: format!("scores[{index}] overridden: unit {unit} is listed again later in this record; the last entry wins"),
                    });
                    continue;
                }
                match entry {
                    Some(e) => entries.push(e),
                    None => cleared.push(Value::String(unit)),
                }
            }
        }
        record.insert("cleared".to_owned(), Value::Array(cleared));
    }
    serde_json::from_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\u{feff}{\"format\":\"situation-wall-recording\",\"version\":1,\"map\":\"m\",\"start\":\"2026-11-29T08:00:00+08:00\",\"description\":\"d\"}\r\n\
        {\"t\":\"2026-11-29T08:00:00+08:00\",\"type\":\"scores\",\"scores\":[{\"unit\":\"1\",\"total\":10,\"threat\":1,\"asset\":2,\"compliance\":3}],\"note\":\"ignored\"}\r\n\
        \r\n\
        {\"t\":\"2026-11-29T08:00:10+08:00\",\"type\":\"scores\",\"scores\":[{\"unit\":\"1\",\"total\":\"x\"}]}\n\
        {\"t\":\"2026-11-29T08:00:20+08:00\",\"type\":\"alert\",\"id\":\"a1\",\"unit\":\"1\",\"severity\":\"critical\",\"category\":\"c\",\"title\":\"标题\"}\n\
        {\"t\":\"2026-11-29T08:00:30+08:00\",\"type\":\"alert_status\",\"id\":\"a1\",\"status\":\"in_progress\"}\n\
        {\"t\":\"2026-11-29T08:00:40+08:00\",\"type\":\"sco";

    #[test]
    fn bad_lines_are_skipped_and_numbered() {
        let r = Recording::parse(TEXT);
        assert_eq!(r.header.map, "m");
        let lines: Vec<usize> = r.records.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [2, 4, 5, 6]);
        let bad: Vec<usize> = r.errors.iter().map(|e| e.line).collect();
        // Line 4's only entry has a string total: the entry is dropped, the (empty) record stays.
        assert_eq!(bad, [4, 7]);
        let alert = r.records[2].1.alert().unwrap();
        assert_eq!((alert.severity, alert.status, alert.title.as_str()), (Severity::Critical, AlertStatus::New, "标题"));
    }

    #[test]
    fn one_bad_entry_or_byte_does_not_cost_the_rest() {
        let mut text = b"{\"format\":\"situation-wall-recording\",\"version\":1,\"map\":\"m\",\"start\":\"2026-11-29T08:00:00+08:00\"}\n".to_vec();
        text.extend_from_slice(b"{\"t\":\"2026-11-29T08:00:00+08:00\",\"type\":\"alert\",\"id\":\"a\",\"unit\":\"1\",\"severity\":\"low\",\"category\":\"c\",\"title\":\"\xb1\xea\"}\n");
        text.extend_from_slice(b"{\"t\":\"2026-11-29T08:00:00+08:00\",\"type\":\"scores\",\"scores\":[{\"unit\":\"1\",\"total\":null,\"threat\":1,\"asset\":1,\"compliance\":1},{\"unit\":\"2\",\"total\":150,\"threat\":1,\"asset\":1,\"compliance\":1},{\"unit\":\"3\",\"total\":30,\"threat\":1,\"asset\":1,\"compliance\":1}]}\n");
        text.extend_from_slice(b"{\"t\":\"2026-11-29T08:00:00+08:00\",\"type\":\"scores\",\"scores\":[{\"unit\":\"4\",\"total\":true,\"threat\":1,\"asset\":1,\"compliance\":1}]}\n");
        let r = Recording::parse_bytes(&text);
        assert_eq!(r.errors.len(), 3, "{:?}", r.errors);
        assert_eq!(r.errors[0].line, 2);
        assert!(r.errors[0].message.contains("UTF-8"));
        // Unit 1's null total is a clear, not an error; unit 2 is out of range.
        assert!(r.errors[1].message.starts_with("scores[1] dropped") && r.errors[1].message.contains("unit 2"), "{:?}", r.errors[1]);
        assert!(r.errors[2].message.starts_with("scores[0] dropped") && r.errors[2].line == 4, "{:?}", r.errors[2]);
        match &r.records[0].1.body {
            RecordBody::Scores { scores, cleared } => {
                assert_eq!(scores.iter().map(|s| s.unit.as_str()).collect::<Vec<_>>(), ["3"]);
                assert_eq!(cleared, &["1"]);
            }
            other => panic!("{other:?}"),
        }
    }

    const HEADER: &str = r#"{"format":"situation-wall-recording","version":1,"map":"m","start":"2026-11-29T08:00:00+08:00"}"#;

    #[test]
    fn the_payload_rules_hold_in_recordings() {
        let lines = [
            HEADER,
            // A numeric string, a duplicate (last wins), a clear, NaN as a string.
            r#"{"t":"2026-11-29T08:00:00+08:00","type":"scores","scores":[{"unit":"1","total":"72.5","threat":"70","asset":70,"compliance":70},{"unit":"2","total":10,"threat":1,"asset":1,"compliance":1},{"unit":"2","total":20,"threat":1,"asset":1,"compliance":1},{"unit":"3","total":null},{"unit":"4","total":"NaN","threat":1,"asset":1,"compliance":1}]}"#,
            // A literal "cleared" field is not the format: ignored.
            r#"{"t":"2026-11-29T08:00:01+08:00","type":"scores","scores":[],"cleared":["1"]}"#,
            r#"{"t":"2026-11-29T08:00:02+08:00","type":"alert","id":"a1","unit":"1","severity":"p1","category":"c","title":"t"}"#,
        ];
        let r = Recording::parse(&lines.join("\n"));
        let messages: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].starts_with("line 2: scores[4] dropped"), "{messages:?}");
        assert!(messages[1].starts_with("line 2: scores[1] overridden: unit 2"), "{messages:?}");
        assert!(messages[2].starts_with("line 4: alert a1: unknown severity \"p1\""), "{messages:?}");
        match &r.records[0].1.body {
            RecordBody::Scores { scores, cleared } => {
                let got: Vec<(&str, f32)> = scores.iter().map(|s| (s.unit.as_str(), s.total)).collect();
                assert_eq!(got, [("1", 72.5), ("2", 20.0)]);
                assert_eq!(scores[0].threat, 70.0);
                assert_eq!(cleared, &["3"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.records[1].1.body, RecordBody::Scores { scores: vec![], cleared: vec![] });
        assert_eq!(r.records[2].1.alert().unwrap().severity, Severity::Unknown);
        // Written back, a clear is an entry with a null total, and reads the same again.
        let mut buf = Vec::new();
        r.write_to(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains(r#"{"unit":"3","total":null}"#), "{text}");
        assert!(!text.contains("cleared"), "{text}");
        assert!(text.contains(r#""severity":"unknown""#), "{text}");
        let again = Recording::parse(&text);
        let a: Vec<&Record> = again.records.iter().map(|(_, r)| r).collect();
        let b: Vec<&Record> = r.records.iter().map(|(_, r)| r).collect();
        assert_eq!(a, b);
        assert_eq!(again.errors.len(), 1, "only the unknown severity: {:?}", again.errors);
    }

    #[test]
    fn write_then_parse_round_trips() {
        let r = Recording::parse(TEXT);
        let mut buf = Vec::new();
        r.write_to(&mut buf).unwrap();
        let again = Recording::parse(std::str::from_utf8(&buf).unwrap());
        assert_eq!(again.header, r.header);
        let a: Vec<&Record> = again.records.iter().map(|(_, r)| r).collect();
        let b: Vec<&Record> = r.records.iter().map(|(_, r)| r).collect();
        assert_eq!(a, b);
        assert!(again.errors.is_empty());
    }
}
