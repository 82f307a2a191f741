//! The gateway's durable store: one SQLite database (bundled SQLite through `rusqlite`) that
//! holds what the district's platform pushed, the event log the walls follow, and the queries
//! the HTTP layer answers from.
//!
//! Conventions used throughout:
//! * scores are numbers 0–100, higher meaning more risk;
//! * times are kept as instants to the microsecond and handed back as RFC 3339 at +08:00
//!   (Beijing), whatever offset they were sent with;
//! * durations are seconds;
//! * event ids are the SQLite row ids of the `events` table: positive, only increasing, and
//!   never reused, also after every event has been purged (`AUTOINCREMENT`).
//!
//! A [`Store`] owns one connection and is `Send` but not `Sync`: the HTTP layer shares it
//! behind a mutex. A file store also runs a checkpoint thread with a second connection that
//! only copies the write-ahead log into the file (see `checkpoint`). Writes
//! ([`Store::ingest`], [`Store::apply_retention`]) each run in one transaction; reads see a
//! committed state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, FixedOffset, TimeZone, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api::AlertsPage;
use crate::geo::load::canonical_id;
pub use crate::model::Period;
use crate::model::{Alert, AlertStatus, Severity};

use super::checkpoint::Checkpointer;
use super::fold::{self, Staged, Unfolded};

/// The schema version this build writes: the number of schema migrations. A
/// database whose `PRAGMA user_version` is higher was written by a newer build and is refused.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// `PRAGMA application_id` of a gateway store ("SWGW"): a database file with another
/// application id, or tables but no schema version, belongs to something else and is refused.
pub const APPLICATION_ID: i32 = 0x5357_4757;

/// Longest id (alert id, unit id) accepted, in characters.
pub const MAX_ID_CHARS: usize = 256;
/// Longest short text (category, title, compliance check name) accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 1024;
/// Longest long text (an alert's analysis, a status change's note) accepted, in characters.
pub const MAX_LONG_TEXT_CHARS: usize = 65_536;
/// Most compliance checks in one detail record.
pub const MAX_CHECKS: usize = 10_000;

/// Pages after which a commit checkpoints the write-ahead log itself (`PRAGMA
/// wal_autocheckpoint`): the bound, should the checkpoint thread fall behind (see `checkpoint`).
const AUTOCHECKPOINT_PAGES: i64 = 16_384;

/// The write-ahead log's length kept on disk when it restarts (`PRAGMA journal_size_limit`),
/// bytes: a longer log is cut back to this.
pub const WAL_KEEP_BYTES: i64 = 8 * 1024 * 1024;

/// UTC+08:00 (Beijing), the offset every time is handed back in.
const BEIJING: FixedOffset = crate::model::BEIJING;

/// One hour in microseconds, the unit of stored times.
const HOUR_US: i64 = 3_600_000_000;
/// Key in `meta` of the retention horizon: raw scores before it exist only as hourly means.
const HORIZON_KEY: &str = "score_horizon_us";

/// The migrations, oldest first. Migration `i` (0-based) takes the schema from version `i` to
/// `i + 1`; all pending ones run in one transaction together with the `user_version` update,
/// so a crash leaves the database at its old version. Append only: never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema. Times are microseconds since 1970-01-01T00:00:00Z.
    r"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

    -- Raw score samples; one per unit and time (the idempotency key).
    CREATE TABLE scores (
        unit TEXT NOT NULL, t INTEGER NOT NULL,
        total REAL NOT NULL, threat REAL NOT NULL, asset REAL NOT NULL, compliance REAL NOT NULL,
        PRIMARY KEY (unit, t)
    ) WITHOUT ROWID;

    -- Hourly means of raw samples older than the retention horizon; n = samples averaged.
    CREATE TABLE scores_hourly (
        unit TEXT NOT NULL, hour INTEGER NOT NULL, n INTEGER NOT NULL,
        total REAL NOT NULL, threat REAL NOT NULL, asset REAL NOT NULL, compliance REAL NOT NULL,
        PRIMARY KEY (unit, hour)
    ) WITHOUT ROWID;

    -- Each unit's newest score by time (kept through retention).
    CREATE TABLE current_scores (
        unit TEXT PRIMARY KEY, t INTEGER NOT NULL,
        total REAL NOT NULL, threat REAL NOT NULL, asset REAL NOT NULL, compliance REAL NOT NULL
    ) WITHOUT ROWID;

    -- Alerts in arrival order: seq is the /alerts?since= cursor.
    CREATE TABLE alerts (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, unit TEXT NOT NULL, t INTEGER NOT NULL,
        severity TEXT NOT NULL, category TEXT NOT NULL, title TEXT NOT NULL, analysis TEXT,
        initial_status TEXT NOT NULL
    );
    CREATE INDEX alerts_by_unit ON alerts (unit, t);

    -- Every status change ever received, also for alerts not (yet) known.
    CREATE TABLE status_changes (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL, status TEXT NOT NULL, t INTEGER NOT NULL,
        note TEXT,
        UNIQUE (id, status, t)
    );
    CREATE INDEX status_by_alert ON status_changes (id, t);

    -- Detail snapshots; either part may be absent (NULL), never filled in.
    CREATE TABLE details (
        unit TEXT NOT NULL, as_of INTEGER NOT NULL,
        vuln_critical INTEGER, vuln_high INTEGER, vuln_medium INTEGER, vuln_low INTEGER,
        checks TEXT,
        PRIMARY KEY (unit, as_of)
    ) WITHOUT ROWID;

    -- The SSE log. received: when the batch that created it was ingested (for retention).
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, received INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX events_by_received ON events (received);
    ",
    // 2: clears. A score row whose parts are all NULL is a clear (`"total": null`): the unit
    // has no data from `t` on. SQLite cannot drop NOT NULL in place, so both tables are rebuilt.
    r"
    ALTER TABLE scores RENAME TO scores_v1;
    CREATE TABLE scores (
        unit TEXT NOT NULL, t INTEGER NOT NULL,
        total REAL, threat REAL, asset REAL, compliance REAL,
        PRIMARY KEY (unit, t)
    ) WITHOUT ROWID;
    INSERT INTO scores (unit, t, total, threat, asset, compliance) SELECT unit, t, total, threat, asset, compliance FROM scores_v1;
    DROP TABLE scores_v1;

    ALTER TABLE current_scores RENAME TO current_scores_v1;
    CREATE TABLE current_scores (
        unit TEXT PRIMARY KEY, t INTEGER NOT NULL,
        total REAL, threat REAL, asset REAL, compliance REAL
    ) WITHOUT ROWID;
    INSERT INTO current_scores (unit, t, total, threat, asset, compliance) SELECT unit, t, total, threat, asset, compliance FROM current_scores_v1;
    DROP TABLE current_scores_v1;
    ",
    // 3: operators' acknowledgements (确认) of alerts, one per alert: the first stands.
    r"
    CREATE TABLE acks (id TEXT PRIMARY KEY, by TEXT NOT NULL, t INTEGER NOT NULL) WITHOUT ROWID;
    ",
    // 4: scores reach `scores` some commits after their events (see `fold`); the watermark
    // says up to which event they all have. Every score stored before this version is there.
    r"
    INSERT INTO meta (key, value) VALUES ('scores_folded_event', coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0));
    ",
];

/// What [`Store::acknowledge`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// Recorded now: the `ack` event's id.
    Recorded(u64),
    /// Acknowledged before (the first acknowledgement stands): by whom and when.
    Already(crate::model::Ack),
    /// No alert with that id is stored.
    UnknownAlert,
}

/// What went wrong with the store. Every variant's message names the database (its path, or
/// `:memory:`) and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not an SQLite database (`SQLITE_NOTADB`): garbage, encrypted, or another
    /// kind of file. The store refuses it rather than start empty over it.
    #[error("{path}: not an SQLite database, or damaged beyond reading ({detail}); refusing to start on it: move it aside or restore a backup")]
    NotADatabase {
        /// The database file.
        path: String,
        /// SQLite's words.
        detail: String,
    },
    /// The file is an SQLite database but damaged (`PRAGMA quick_check` found problems, or
    /// SQLite reported `SQLITE_CORRUPT`).
    #[error("{path}: the database is corrupt ({detail}); refusing to start on it: restore a backup")]
    Corrupt {
        /// The database file.
        path: String,
        /// The first problems found.
        detail: String,
    },
    /// The file is an SQLite database of something else (another application id, or tables
    /// without a gateway schema version); the store will not add its tables to it.
    #[error("{path}: an SQLite database, but not a wall-gateway store ({detail}); refusing to use it")]
    Foreign {
        /// The database file.
        path: String,
        /// What gave it away.
        detail: String,
    },
    /// The file's schema (`PRAGMA user_version`) is newer than this build knows.
    #[error("{path} was written by a newer version (schema {found}, this build knows {known}); run that version or a newer one")]
    Newer {
        /// The database file.
        path: String,
        /// The file's schema version.
        found: i64,
        /// [`SCHEMA_VERSION`].
        known: u32,
    },
    /// `PRAGMA journal_mode=WAL` did not take (for example on a file system without shared
    /// memory support).
    #[error("{path}: cannot switch to WAL journal mode (SQLite kept {mode:?})")]
    NoWal {
        /// The database file.
        path: String,
        /// The journal mode SQLite reported.
        mode: String,
    },
    /// Any other SQLite failure (disk full, I/O error, locked, …). An ingest that fails this
    /// way is rolled back whole: nothing of the batch was acknowledged.
    #[error("{path}: {what}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// What the store was doing.
        what: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value this build cannot read back (a file edited by hand or by another tool).
    #[error("{path}: stored data is not valid: {detail}")]
    BadData {
        /// The database file.
        path: String,
        /// Which value.
        detail: String,
    },
    /// An argument out of range (a time beyond the calendar's range, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Maps an SQLite error to a [`StoreError`] with context, telling corruption apart.
fn sql_error(path: &str, what: &'static str, source: rusqlite::Error) -> StoreError {
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path: path.to_owned(), detail: format!("{what}: {source}") },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path: path.to_owned(), detail: format!("{what}: {source}") },
        _ => StoreError::Sqlite { path: path.to_owned(), what, source },
    }
}

/// A closure for `map_err`: [`sql_error`] with this path and context.
fn ctx<'a>(path: &'a str, what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |e| sql_error(path, what, e)
}

// ---------------------------------------------------------------------------------------------
// The ingest format
// ---------------------------------------------------------------------------------------------

/// One validated record of the ingest format: a JSON object whose `"type"` is `score`,
/// `alert`, `status` or `detail`. Fields not listed are ignored (so the platform may send
/// more); `null` counts as absent, except a score's `total`, where it makes the record a
/// [`ClearRecord`]. Unit ids may be strings or integers (`110105001` and
/// `"110105001"` are the same unit). Times are RFC 3339 strings with an offset.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// `"type": "score"`.
    Score(ScoreRecord),
    /// `"type": "score"` with `"total": null`: the unit has no data from `time` on (the
    /// contract's payload rule 2).
    Clear(ClearRecord),
    /// `"type": "alert"`.
    Alert(AlertRecord),
    /// `"type": "status"`.
    Status(StatusRecord),
    /// `"type": "detail"`.
    Detail(DetailRecord),
}

/// A unit's risk score at one time. Idempotency key: `unit` + `time` (the same instant, in
/// whatever offset, is the same key; the first one stored wins).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRecord {
    /// `unit`: unit id (string or integer), at most [`MAX_ID_CHARS`] characters.
    pub unit: String,
    /// `time`: when the score was computed, RFC 3339 with offset.
    pub time: DateTime<FixedOffset>,
    /// `total`: overall risk, finite, 0–100.
    pub total: f64,
    /// `threat`: threat operations (威胁), finite, 0–100.
    pub threat: f64,
    /// `asset`: asset risk (资产风险), finite, 0–100.
    pub asset: f64,
    /// `compliance`: compliance gap (合规; higher is worse), finite, 0–100.
    pub compliance: f64,
}

/// A clear: a `score` record whose `total` is `null` (present and null; an absent `total` is a
/// missing field). From `time` on the unit has no data: the snapshot lists it with a null total
/// until a newer score. Its other parts are ignored (null, absent or numbers). Idempotency key:
/// `unit` + `time`, shared with scores, so a score and a clear for the same instant are one
/// record (the first one stored wins).
#[derive(Clone, Debug, PartialEq)]
pub struct ClearRecord {
    /// `unit`: unit id (string or integer), at most [`MAX_ID_CHARS`] characters.
    pub unit: String,
    /// `time`: from when the unit has no data, RFC 3339 with offset.
    pub time: DateTime<FixedOffset>,
}

/// A security alert (告警) on a unit. Idempotency key: `id` (the first one stored wins; later
/// changes of its status come as [`StatusRecord`]s).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRecord {
    /// `id`: unique alert id, non-empty, at most [`MAX_ID_CHARS`] characters.
    pub id: String,
    /// `unit`: unit id (string or integer).
    pub unit: String,
    /// `time`: when it was reported, RFC 3339 with offset (the start of its MTTR).
    pub time: DateTime<FixedOffset>,
    /// `severity`: `low` (低), `medium` (中), `high` (高) or `critical` (严重).
    pub severity: Severity,
    /// `category`: e.g. 恶意代码, 漏洞利用, 数据泄露; at most [`MAX_TEXT_CHARS`] characters.
    pub category: String,
    /// `title`: one line, at most [`MAX_TEXT_CHARS`] characters.
    pub title: String,
    /// `analysis` (optional): text from the platform's analysis engine, at most
    /// [`MAX_LONG_TEXT_CHARS`] characters.
    pub analysis: Option<String>,
    /// `status` (optional, default `new`): `new` (新发现), `analysing` (研判中), `disposing`
    /// (处置中; contract version 1's `in_progress` reads as it) or `closed` (已闭环) — the
    /// status it was reported with, in force until a status change arrives.
    pub status: Option<AlertStatus>,
}

/// A change of an alert's status. Idempotency key: `id` + `status` + `time`. It may arrive
/// before its alert; it is kept and applies once the alert arrives.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusRecord {
    /// `id`: the alert's id, at most [`MAX_ID_CHARS`] characters.
    pub id: String,
    /// `status`: `new`, `analysing`, `disposing` (or its version 1 name `in_progress`) or
    /// `closed`.
    pub status: AlertStatus,
    /// `time`: when the status changed, RFC 3339 with offset.
    pub time: DateTime<FixedOffset>,
    /// `note` (optional): the disposal note (处置说明), at most [`MAX_LONG_TEXT_CHARS`]
    /// characters.
    pub note: Option<String>,
}

/// A snapshot of a unit's vulnerabilities and compliance checks. Idempotency key: `unit` +
/// `as_of`. At least one of the two parts must be present; an absent part is not stored as
/// zero, it stays unknown (the previous snapshot that had it still counts).
#[derive(Clone, Debug, PartialEq)]
pub struct DetailRecord {
    /// `unit`: unit id (string or integer).
    pub unit: String,
    /// `as_of`: when the snapshot was taken, RFC 3339 with offset.
    pub as_of: DateTime<FixedOffset>,
    /// `vulnerabilities` (optional): open vulnerabilities by severity.
    pub vulnerabilities: Option<Vulnerabilities>,
    /// `compliance` (optional): the compliance checks run, at most [`MAX_CHECKS`].
    pub compliance: Option<Vec<ComplianceCheck>>,
}

/// Open vulnerabilities by severity: `{"critical": n, "high": n, "medium": n, "low": n}`,
/// each a non-negative integer (all four required).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Vulnerabilities {
    /// 严重
    pub critical: u32,
    /// 高危
    pub high: u32,
    /// 中危
    pub medium: u32,
    /// 低危
    pub low: u32,
}

/// One compliance check: `{"check": "name", "passed": true}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComplianceCheck {
    /// `check`: the check's name, non-empty, at most [`MAX_TEXT_CHARS`] characters.
    pub check: String,
    /// `passed`: whether the unit passed it.
    pub passed: bool,
}

/// Words for a JSON value's type, for rejection reasons.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value quoted for a reason, cut to 64 characters.
fn quoted(s: &str) -> String {
    let mut cut: String = s.chars().take(64).collect();
    if cut.len() < s.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// The fields of one JSON object, read with specific reasons. `prefix` names the object in
/// reasons (`vulnerabilities.`, `compliance[3].`).
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn required(&self, key: &str) -> Result<&'a Value, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Err(format!("missing field `{}`", self.name(key))),
            Some(v) => Ok(v),
        }
    }

    fn optional(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, expected: &str, got: &Value) -> String {
        format!("wrong type for `{}`: expected {expected}, got {}", self.name(key), json_type(got))
    }

    fn text_of(&self, key: &str, v: &Value, max: usize) -> Result<String, String> {
        let Value::String(s) = v else { return Err(self.wrong(key, "a string", v)) };
        let s = s.trim();
        if s.is_empty() {
            return Err(format!("`{}` is empty", self.name(key)));
        }
        let n = s.chars().count();
        if n > max {
            return Err(format!("`{}` is longer than {max} characters ({n})", self.name(key)));
        }
        Ok(s.to_owned())
    }

    fn text(&self, key: &str, max: usize) -> Result<String, String> {
        self.text_of(key, self.required(key)?, max)
    }

    fn optional_text(&self, key: &str, max: usize) -> Result<Option<String>, String> {
        self.optional(key).map(|v| self.text_of(key, v, max)).transpose()
    }

    fn unit(&self, key: &str, known: Option<&dyn Fn(&str) -> bool>) -> Result<String, String> {
        let v = self.required(key)?;
        let id = match v {
            Value::String(_) | Value::Number(_) => canonical_id(v),
            _ => return Err(self.wrong(key, "a string or an integer", v)),
        };
        let Some(id) = id else {
            return Err(match v {
                Value::String(_) => format!("`{}` is empty", self.name(key)),
                _ => format!("wrong type for `{}`: expected a string or an integer, got a non-integral number", self.name(key)),
            });
        };
        let n = id.chars().count();
        if n > MAX_ID_CHARS {
            return Err(format!("`{}` is longer than {MAX_ID_CHARS} characters ({n})", self.name(key)));
        }
        if known.is_some_and(|k| !k(&id)) {
            return Err(format!("unknown unit {}", quoted(&id)));
        }
        Ok(id)
    }

    fn time(&self, key: &str) -> Result<DateTime<FixedOffset>, String> {
        let v = self.required(key)?;
        let Value::String(s) = v else { return Err(self.wrong(key, "an RFC 3339 time string", v)) };
        DateTime::parse_from_rfc3339(s.trim()).map_err(|e| format!("`{}` is not an RFC 3339 time with offset: {} ({e})", self.name(key), quoted(s)))
    }

    fn score(&self, key: &str) -> Result<f64, String> {
        let v = self.required(key)?;
        // The payload rules: a numeric string holding a finite number is that number.
        let number = match v {
            Value::String(text) => crate::api::parse_number(text),
            _ => v.as_f64(),
        };
        let Some(x) = number else { return Err(self.wrong(key, "a number", v)) };
        if !x.is_finite() {
            return Err(format!("score `{}` is not finite", self.name(key)));
        }
        if !(0.0..=100.0).contains(&x) {
            return Err(format!("score `{}` = {x} is outside 0–100", self.name(key)));
        }
        Ok(x)
    }

    fn count(&self, key: &str) -> Result<u32, String> {
        let v = self.required(key)?;
        let Value::Number(n) = v else { return Err(self.wrong(key, "a non-negative integer", v)) };
        n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| format!("`{}` = {n} is not a non-negative integer below 2^32", self.name(key)))
    }

    fn boolean(&self, key: &str) -> Result<bool, String> {
        let v = self.required(key)?;
        v.as_bool().ok_or_else(|| self.wrong(key, "a boolean", v))
    }

    fn severity(&self, key: &str) -> Result<Severity, String> {
        let v = self.required(key)?;
        let Value::String(_) = v else { return Err(self.wrong(key, "a string", v)) };
        serde_json::from_value(v.clone()).map_err(|_| format!("`{}` must be one of low, medium, high, critical (got {})", self.name(key), v))
    }

    fn status_of(&self, key: &str, v: &Value) -> Result<AlertStatus, String> {
        let Value::String(_) = v else { return Err(self.wrong(key, "a string", v)) };
        serde_json::from_value(v.clone()).map_err(|_| format!("`{}` must be one of new, analysing, disposing, closed (got {})", self.name(key), v))
    }
}

impl Record {
    /// Validates one JSON record of the ingest format. `known_unit` decides which unit ids
    /// exist (`None` accepts any).
    ///
    /// # Errors
    /// A specific reason, e.g. ``missing field `unit` ``, ``wrong type for `total`: expected a
    /// number, got a string``, ``score `total` = 150 is outside 0–100``, `unknown unit "zz"`,
    /// `unknown type "foo" …`, ``` `id` is longer than 256 characters (300)```,
    /// ``` `time` is not an RFC 3339 time with offset: …```.
    pub fn parse(value: &Value, known_unit: Option<&dyn Fn(&str) -> bool>) -> Result<Record, String> {
        let Value::Object(map) = value else { return Err(format!("a record must be a JSON object, got {}", json_type(value))) };
        let f = Fields { map, prefix: String::new() };
        let kind = f.required("type")?;
        let Value::String(kind) = kind else { return Err(f.wrong("type", "a string", kind)) };
        match kind.as_str() {
            "score" if map.get("total").is_some_and(Value::is_null) => {
                Ok(Record::Clear(ClearRecord { unit: f.unit("unit", known_unit)?, time: f.time("time")? }))
            }
            "score" => Ok(Record::Score(ScoreRecord {
                unit: f.unit("unit", known_unit)?,
                time: f.time("time")?,
                total: f.score("total")?,
                threat: f.score("threat")?,
                asset: f.score("asset")?,
                compliance: f.score("compliance")?,
            })),
            "alert" => Ok(Record::Alert(AlertRecord {
                id: f.text("id", MAX_ID_CHARS)?,
                unit: f.unit("unit", known_unit)?,
                time: f.time("time")?,
                severity: f.severity("severity")?,
                category: f.text("category", MAX_TEXT_CHARS)?,
                title: f.text("title", MAX_TEXT_CHARS)?,
                analysis: f.optional_text("analysis", MAX_LONG_TEXT_CHARS)?,
                status: f.optional("status").map(|v| f.status_of("status", v)).transpose()?,
            })),
            "status" => Ok(Record::Status(StatusRecord {
                id: f.text("id", MAX_ID_CHARS)?,
                status: f.status_of("status", f.required("status")?)?,
                time: f.time("time")?,
                note: f.optional_text("note", MAX_LONG_TEXT_CHARS)?,
            })),
            "detail" => parse_detail(&f, known_unit).map(Record::Detail),
            other => Err(format!("unknown type {} (expected score, alert, status or detail)", quoted(other))),
        }
    }
}

fn parse_detail(f: &Fields<'_>, known_unit: Option<&dyn Fn(&str) -> bool>) -> Result<DetailRecord, String> {
    let unit = f.unit("unit", known_unit)?;
    let as_of = f.time("as_of")?;
    let vulnerabilities = match f.optional("vulnerabilities") {
        None => None,
        Some(Value::Object(map)) => {
            let v = Fields { map, prefix: "vulnerabilities.".into() };
            Some(Vulnerabilities { critical: v.count("critical")?, high: v.count("high")?, medium: v.count("medium")?, low: v.count("low")? })
        }
        Some(other) => return Err(f.wrong("vulnerabilities", "an object", other)),
    };
    let compliance = match f.optional("compliance") {
        None => None,
        Some(Value::Array(items)) => {
            if items.len() > MAX_CHECKS {
                return Err(format!("`compliance` has more than {MAX_CHECKS} checks ({})", items.len()));
            }
            let mut checks = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::Object(map) = item else {
                    return Err(format!("wrong type for `compliance[{i}]`: expected an object, got {}", json_type(item)));
                };
                let c = Fields { map, prefix: format!("compliance[{i}].") };
                checks.push(ComplianceCheck { check: c.text("check", MAX_TEXT_CHARS)?, passed: c.boolean("passed")? });
            }
            Some(checks)
        }
        Some(other) => return Err(f.wrong("compliance", "an array", other)),
    };
    if vulnerabilities.is_none() && compliance.is_none() {
        return Err("a detail needs `vulnerabilities` or `compliance` (or both)".into());
    }
    Ok(DetailRecord { unit, as_of, vulnerabilities, compliance })
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/// What [`Store::ingest`] did with a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Records stored (each created an event, scores grouped per time).
    pub accepted: usize,
    /// Records already stored (same idempotency key): not stored again, no event.
    pub duplicate: usize,
    /// Records refused, by index in the batch, in index order.
    pub rejected: Vec<Rejection>,
    /// Id of the first event this batch created; `None` when it created none.
    pub first_event_id: Option<u64>,
    /// Id of the last event this batch created; `None` when it created none.
    pub last_event_id: Option<u64>,
}

/// One refused record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Its 0-based index in the batch.
    pub index: usize,
    /// Why, in words (see [`Record::parse`]).
    pub reason: String,
}

/// One stored batch: what was done with it and the events it appended, oldest first.
pub type Ingested = (IngestReport, Vec<StoredEvent>);

/// One entry of the event log, as the SSE endpoint sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// The SSE `id:`.
    pub id: u64,
    /// The SSE `event:`: `score`, `alert`, `alert_status` or `detail`.
    pub kind: String,
    /// The SSE `data:`: one line of JSON (see [`Store::ingest`] for each kind's shape).
    pub data: String,
}

/// A unit's current (newest by time) score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CurrentScore {
    /// Unit id.
    pub unit: String,
    /// When it was computed (RFC 3339, +08:00).
    pub time: DateTime<FixedOffset>,
    /// Overall risk, 0–100.
    pub total: f64,
    /// Threat operations, 0–100.
    pub threat: f64,
    /// Asset risk, 0–100.
    pub asset: f64,
    /// Compliance gap, 0–100.
    pub compliance: f64,
}

impl CurrentScore {
    /// The contract's score item: `{"unit","total","threat","asset","compliance"}`.
    pub fn item(&self) -> Value {
        json!({"unit": self.unit, "total": self.total, "threat": self.threat, "asset": self.asset, "compliance": self.compliance})
    }
}

/// A unit whose newest sample is a clear: it has no data since `time`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClearedUnit {
    /// Unit id.
    pub unit: String,
    /// When it was cleared (RFC 3339, +08:00).
    pub time: DateTime<FixedOffset>,
}

/// What `GET /api/v1/scores` serves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    /// Newest score or clear time over all units; `None` before the first.
    pub as_of: Option<DateTime<FixedOffset>>,
    /// Newest event id reflected here (0 before the first event): resume the stream after it.
    pub last_event_id: u64,
    /// Every unit's current score, by unit id (units whose newest sample is a clear are in
    /// `cleared` instead).
    pub scores: Vec<CurrentScore>,
    /// Units whose newest sample is a clear, by unit id: served with a null total.
    pub cleared: Vec<ClearedUnit>,
}

/// Incidents of one unit, as of a given time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Incidents {
    /// Alerts whose status is 新发现.
    pub new: u64,
    /// Alerts whose status is 研判中.
    pub analysing: u64,
    /// Alerts whose status is 处置中.
    pub disposing: u64,
    /// `analysing + disposing`: the one in-between count of contract version 1, kept for
    /// its clients.
    pub in_progress: u64,
    /// Alerts whose status is 已闭环.
    pub closed: u64,
    /// Mean time to resolve, seconds: see [`Store::unit_detail`]. `None` without a closed
    /// alert that has a closing status change.
    pub mttr_s: Option<f64>,
    /// How many closed alerts the MTTR averages.
    pub mttr_samples: u64,
}

/// A value with the time of the snapshot it comes from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dated<T> {
    /// The detail snapshot's `as_of` (RFC 3339, +08:00).
    pub as_of: DateTime<FixedOffset>,
    /// The value.
    pub value: T,
}

/// Compliance of a unit from one detail snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComplianceSummary {
    /// Checks passed.
    pub passed: u32,
    /// Checks run.
    pub total: u32,
    /// Names of the failed checks, in the order sent.
    pub failed: Vec<String>,
}

/// One unit's drill-down figures. Nothing here is derived from scores: a part never sent is
/// `None`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitDetail {
    /// Unit id.
    pub unit: String,
    /// Alerts by status and MTTR.
    pub incidents: Incidents,
    /// From the newest detail snapshot that had vulnerabilities.
    pub vulnerabilities: Option<Dated<Vulnerabilities>>,
    /// From the newest detail snapshot that had compliance checks.
    pub compliance: Option<Dated<ComplianceSummary>>,
}

/// One point of a score series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// The sample's time, an hourly mean's hour start, or a bucket's start (RFC 3339, +08:00).
    pub t: DateTime<FixedOffset>,
    /// Mean overall risk, 0–100; `None` (JSON `null`) for a gap: a clear, the unit had no data
    /// from `t` on.
    pub total: Option<f64>,
    /// Mean threat operations, 0–100; `None` for a gap.
    pub threat: Option<f64>,
    /// Mean asset risk, 0–100; `None` for a gap.
    pub asset: Option<f64>,
    /// Mean compliance gap, 0–100; `None` for a gap.
    pub compliance: Option<f64>,
    /// Raw scores behind this point (1 for a raw score; more for hourly means and buckets; 0
    /// for a gap).
    pub samples: u64,
}

/// One unit's line in a ranking.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankingRow {
    /// Unit id.
    pub unit: String,
    /// Its kind (街道, 地区, 委办局, …): ranks are counted within a kind.
    pub kind: String,
    /// Score samples in the period (hourly means count with their sample counts).
    pub samples: u64,
    /// Mean overall risk over the period, 0–100.
    pub total: f64,
    /// Mean threat operations, 0–100.
    pub threat: f64,
    /// Mean asset risk, 0–100.
    pub asset: f64,
    /// Mean compliance gap, 0–100.
    pub compliance: f64,
    /// 1 = riskiest of its kind (highest mean total; ties by unit id).
    pub rank: u32,
    /// Its rank in the previous period; `None` when it had no samples then.
    pub previous_rank: Option<u32>,
    /// `previous_rank - rank`: positive when it climbed towards 1 (riskier), negative when it
    /// fell; `None` without a previous rank.
    pub rank_change: Option<i64>,
}

/// A ranking (量化考核) over one period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rankings {
    /// Day, week or month.
    pub period: Period,
    /// Start of the period (inclusive), +08:00.
    pub from: DateTime<FixedOffset>,
    /// End of the period (exclusive), +08:00.
    pub to: DateTime<FixedOffset>,
    /// Start of the previous period; it ends at `from`.
    pub previous_from: DateTime<FixedOffset>,
    /// Units with samples in the period, by kind then rank.
    pub rows: Vec<RankingRow>,
}

/// What [`Store::apply_retention`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Raw scores before this (the cut-off rounded down to the hour) were rolled up; later
    /// scores before it are refused.
    pub horizon: DateTime<FixedOffset>,
    /// Raw score rows replaced by hourly means.
    pub raw_scores_rolled_up: u64,
    /// Hourly rows written or merged into.
    pub hourly_rows: u64,
    /// Events deleted.
    pub events_purged: u64,
    /// Oldest event left; `None` when the log is empty.
    pub oldest_event_id: Option<u64>,
}

/// Rows per table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    /// Raw score samples.
    pub scores: u64,
    /// Hourly means.
    pub scores_hourly: u64,
    /// Units with a current score.
    pub units: u64,
    /// Alerts.
    pub alerts: u64,
    /// Status changes.
    pub status_changes: u64,
    /// Detail snapshots.
    pub details: u64,
    /// Events in the log.
    pub events: u64,
}

/// The store's size and contents, for `/api/v1/health`. Counting walks every table: a few
/// hundred milliseconds per ten million rows, so cache it rather than compute it per request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoreStats {
    /// `page_count × page_size`, bytes (the main file; the WAL comes on top).
    pub file_bytes: u64,
    /// Length of the write-ahead log file (`…-wal`), bytes; 0 in memory or while it does not
    /// exist. SQLite reuses the file from its start once its frames are checkpointed (see
    /// `checkpoint`) and cuts a longer one back to [`WAL_KEEP_BYTES`] when it restarts, so this
    /// is the longest the log has been since it was last cut back, at least its current length.
    pub wal_bytes: u64,
    /// Bytes in free pages (reused by later writes).
    pub free_bytes: u64,
    /// Rows per table.
    pub counts: TableCounts,
    /// Time of the oldest record kept (score, hourly mean, alert, status change or detail).
    pub oldest_record: Option<DateTime<FixedOffset>>,
    /// Newest event id (0 before the first).
    pub last_event_id: u64,
    /// Oldest event kept.
    pub oldest_event_id: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/// The gateway's store: see the module documentation.
pub struct Store {
    /// A file store's checkpoint thread (`None` in memory, or when it could not start).
    /// Declared before `conn` so it is dropped first: the writer's connection, closed last,
    /// then checkpoints what is left and removes the log.
    checkpointer: Option<Checkpointer>,
    conn: Connection,
    /// The file's path as shown in errors, or `:memory:`.
    location: String,
    path: Option<PathBuf>,
    /// Most events kept ([`Store::set_event_limit`]).
    event_limit: Option<u64>,
    /// Accepted scores not yet in the `scores` table (see [`fold`]).
    unfolded: Unfolded,
    /// The stored watermark (`meta.scores_folded_event`).
    watermark: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("location", &self.location).finish_non_exhaustive()
    }
}

/// Microseconds since the epoch, as stored.
fn micros<Tz: TimeZone>(t: &DateTime<Tz>) -> i64 {
    t.timestamp_micros()
}

/// A u64 for SQLite's signed integers (values past `i64::MAX` saturate).
fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The serde name of a model enum (`"critical"`, `"disposing"`).
fn serde_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

impl Store {
    /// Opens the store. `None`: a new in-memory database (lost when dropped; for tests and
    /// demos). `Some(file)`: that file, created if missing, then checked and migrated.
    ///
    /// A file database runs with `journal_mode=WAL` and `synchronous=FULL`. In WAL mode, FULL
    /// makes SQLite fsync the WAL at every commit, so a batch acknowledged to the platform
    /// survives a power cut or a kernel crash; NORMAL would fsync only at checkpoints and could
    /// lose the last commits before one (the database would stay consistent, but acknowledged
    /// data would be gone). The cost is one fsync per transaction — hence one transaction per
    /// ingested batch (or per group of batches, [`Store::ingest_group`]), so the fsync is paid
    /// per batch and not per record. The page cache is 64 MiB. A thread with a second
    /// connection checkpoints the WAL after each commit, so no commit waits for one (see
    /// `checkpoint`); a commit checkpoints itself only should the log reach 16,384 pages.
    ///
    /// On open the file is checked with `PRAGMA quick_check`, which reads every page (30 MB took
    /// about 70 ms from the page cache; a cold file of gigabytes takes seconds), so a damaged
    /// file is refused at start rather than failing later in the middle of serving.
    ///
    /// # Errors
    /// [`StoreError::NotADatabase`] for a file that is not an SQLite database,
    /// [`StoreError::Corrupt`] for a damaged one, [`StoreError::Foreign`] for another
    /// application's database, [`StoreError::Newer`] when its schema is newer than
    /// [`SCHEMA_VERSION`], [`StoreError::NoWal`] when WAL mode cannot be set, and
    /// [`StoreError::Sqlite`] when the file cannot be created or read. The file is never
    /// emptied or overwritten because of any of these.
    pub fn open(path: Option<&Path>) -> Result<Store, StoreError> {
        let location = path.map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string());
        let loc = location.as_str();
        let conn = match path {
            None => Connection::open_in_memory(),
            Some(p) => Connection::open_with_flags(p, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX),
        }
        .map_err(ctx(loc, "opening the database"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(ctx(loc, "setting the busy timeout"))?;
        // Reading the header first: a file that is not a database fails here (SQLITE_NOTADB),
        // before anything is written to it.
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(ctx(loc, "reading the schema version"))?;
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(ctx(loc, "reading the application id"))?;
        if app_id != APPLICATION_ID && (app_id != 0 || version != 0) {
            let detail = format!("application_id {app_id:#x}, user_version {version}");
            return Err(StoreError::Foreign { path: location, detail });
        }
        if version == 0 {
            let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(ctx(loc, "reading the schema"))?;
            if objects > 0 {
                return Err(StoreError::Foreign { path: location, detail: format!("{objects} schema objects but no gateway schema version") });
            }
        }
        if version > i64::from(SCHEMA_VERSION) {
            return Err(StoreError::Newer { path: location, found: version, known: SCHEMA_VERSION });
        }
        if path.is_some() {
            quick_check(&conn, loc)?;
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(ctx(loc, "setting journal_mode=WAL"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::NoWal { path: location, mode });
            }
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(ctx(loc, "setting synchronous=FULL"))?;
        // 64 MiB of page cache (the default is 2 MiB): a batch touches a page per unit, and
        // those pages are read back from the OS on every batch when they do not fit.
        conn.pragma_update(None, "cache_size", -65_536).map_err(ctx(loc, "setting cache_size"))?;
        // Checkpoint the WAL every 16,384 pages (64 MiB) rather than 1,000: a batch of scores
        // dirties a page per unit, the same pages batch after batch, and each checkpoint writes
        // them into the database again; at the default a checkpoint ran every few batches and
        // took a fifth of the gateway's time. The WAL file is reused after each checkpoint.
        // That checkpoint now runs only as a bound: the checkpoint thread, started below,
        // copies each commit's pages without the writer waiting (see `checkpoint`).
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES).map_err(ctx(loc, "setting wal_autocheckpoint"))?;
        // A log that grew long while commits came back to back (the checkpoint thread could not
        // catch up between them) is cut back to 8 MiB when it next restarts, instead of staying
        // at its longest on disk.
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES).map_err(ctx(loc, "setting journal_size_limit"))?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut store =
            Store { checkpointer: None, conn, location, path: path.map(Path::to_path_buf), event_limit: None, unfolded: Unfolded::default(), watermark: 0 };
        store.migrate(version)?;
        let bad = |detail: String| StoreError::BadData { path: store.location.clone(), detail };
        store.unfolded = Unfolded::load(&store.conn).map_err(bad)?;
        store.watermark = fold::watermark(&store.conn).map_err(|e| bad(e.to_string()))?;
        if let Some(path) = path {
            store.checkpointer = Checkpointer::start(path)
                .inspect_err(|e| eprintln!("store: {e}; commits checkpoint the log themselves every {AUTOCHECKPOINT_PAGES} pages"))
                .ok();
        }
        Ok(store)
    }

    /// Hands what a commit wrote to the checkpoint thread (see `checkpoint`); nothing for an
    /// in-memory store.
    fn wake_checkpointer(&self) {
        if let Some(c) = &self.checkpointer {
            c.wake();
        }
    }

    /// The database file; `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Applies the migrations after `from` in one transaction.
    fn migrate(&mut self, from: i64) -> Result<(), StoreError> {
        let loc = self.location.as_str();
        let from = usize::try_from(from).map_err(|_| StoreError::BadData { path: loc.to_owned(), detail: format!("negative schema version {from}") })?;
        if from >= MIGRATIONS.len() {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(ctx(loc, "starting the migration"))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(ctx(loc, "setting the application id"))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
            tx.execute_batch(sql).map_err(ctx(loc, "migrating the schema"))?;
            tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX)).map_err(ctx(loc, "setting the schema version"))?;
        }
        tx.commit().map_err(ctx(loc, "committing the migration"))
    }

    /// [`Store::ingest_at`] with the system clock as the receive time.
    ///
    /// # Errors
    /// As [`Store::ingest_at`].
    pub fn ingest(&mut self, records: &[Value], known_unit: Option<&dyn Fn(&str) -> bool>) -> Result<IngestReport, StoreError> {
        self.ingest_at(records, known_unit, Utc::now())
    }

    /// Stores a batch of ingest-format records (see [`Record`]) in one transaction: one fsync
    /// for the batch on a file database, and when this returns `Ok` the batch is durable.
    ///
    /// Each record is validated alone: a bad one is listed in [`IngestReport::rejected`] with
    /// its index and reason, the good ones are kept. A record whose idempotency key is already
    /// stored (also earlier in the same batch) counts as a duplicate and changes nothing.
    /// Late and out-of-order records are stored but never override newer state: a unit's
    /// current score is its newest by time, an alert's status that of its newest status change
    /// (by time; at equal times the later arrival, as the wall's client does). A clear
    /// ([`ClearRecord`]) is a sample like a score: newest wins both ways. Scores and clears older
    /// than the retention horizon (see [`Store::apply_retention`]) are refused.
    ///
    /// Every accepted record appends events, in record order, with `received` as their time for
    /// retention:
    /// * `score`: accepted scores grouped by time, one event per distinct time, placed where
    ///   the first score of that time was: `{"as_of": time, "scores": [{"unit", "total",
    ///   "threat", "asset", "compliance"}]}`, a clear as `{"unit", "total": null}`;
    /// * `alert`: the alert as the model's `Alert` serialises (`id, unit, time, severity,
    ///   category, title, status`, the status being the current one, which includes status
    ///   changes that arrived before the alert), plus `analysis` when sent;
    /// * `alert_status`: `{"id", "status", "at"}` plus `note` when sent;
    /// * `detail`: `{"unit", "as_of", "vulnerabilities"?, "compliance"?}` as sent (normalised).
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails (disk full, I/O error): then the whole batch is rolled
    /// back and nothing of it is stored or acknowledged.
    pub fn ingest_at(&mut self, records: &[Value], known_unit: Option<&dyn Fn(&str) -> bool>, received: DateTime<Utc>) -> Result<IngestReport, StoreError> {
        self.ingest_with_events(records, known_unit, received).map(|(report, _)| report)
    }

    /// [`Store::ingest_at`], also returning the events the batch appended (ids
    /// [`IngestReport::first_event_id`] to [`IngestReport::last_event_id`], oldest first), so a
    /// server can pass them on without a query. They are what [`Store::events_after`] reads
    /// back, except those already purged by the event limit ([`Store::set_event_limit`]).
    ///
    /// # Errors
    /// As [`Store::ingest_at`].
    pub fn ingest_with_events(
        &mut self,
        records: &[Value],
        known_unit: Option<&dyn Fn(&str) -> bool>,
        received: DateTime<Utc>,
    ) -> Result<Ingested, StoreError> {
        let mut done = self.ingest_group(&[records], known_unit, received)?;
        done.pop().unwrap_or_else(|| Ok(Default::default()))
    }

    /// Stores several batches in one transaction (a group commit: one fsync for all), each
    /// exactly as [`Store::ingest_with_events`] would one after the other (a later batch sees
    /// what an earlier one stored, so duplicates across them are found), and returns each
    /// batch's outcome in order. Each batch has its own savepoint: one that fails (a SQLite
    /// error, a stored record that cannot be read back) is rolled back alone with its error,
    /// and the others are kept. When this returns `Ok`, every batch reported `Ok` is durable.
    ///
    /// # Errors
    /// A [`StoreError`] when the transaction cannot be started or committed: then no batch of
    /// the group is stored.
    pub fn ingest_group(
        &mut self,
        batches: &[&[Value]],
        known_unit: Option<&dyn Fn(&str) -> bool>,
        received: DateTime<Utc>,
    ) -> Result<Vec<Result<Ingested, StoreError>>, StoreError> {
        let loc = self.location.as_str();
        let received_us = micros(&received);
        let mut tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(ctx(loc, "starting an ingest transaction"))?;
        let horizon = read_horizon(&tx).map_err(ctx(loc, "reading the retention horizon"))?;
        let mut done = Vec::with_capacity(batches.len());
        // Scores accepted in this transaction, and their keys (for duplicates across batches).
        let (mut staged, mut seen): (Vec<Staged>, HashSet<(String, i64)>) = Default::default();
        for records in batches {
            let savepoint = tx.savepoint().map_err(ctx(loc, "starting a batch's savepoint"))?;
            let start = staged.len();
            let accepted = Accepted { unfolded: &self.unfolded, seen: &mut seen, staged: &mut staged };
            // Dropping the savepoint uncommitted rolls the batch back.
            let outcome = ingest_into(&savepoint, loc, horizon, records, known_unit, received_us, accepted)
                .and_then(|stored| savepoint.commit().map(|()| stored).map_err(ctx(loc, "releasing a batch's savepoint")));
            if outcome.is_err() {
                for (unit, t, ..) in staged.drain(start..) {
                    seen.remove(&(unit, t));
                }
            }
            done.push(outcome);
        }
        // Fold a few units' waiting rows into `scores` (all of them when the event limit is
        // about to purge events whose scores still wait).
        let last = done.iter().filter_map(|d| d.as_ref().ok().and_then(|(report, _)| report.last_event_id)).max();
        let last_id = match last {
            Some(id) => id,
            None => last_event_id(&tx).map_err(ctx(loc, "reading the last event id"))?,
        };
        let mut units = self.unfolded.fold_choice(staged.len());
        self.unfolded.write(&tx, &units).map_err(ctx(loc, "folding scores"))?;
        let mut mark = self.unfolded.watermark_after(&units, &staged, last_id);
        let cut = self.event_limit.zip(last).and_then(|(keep, last)| last.checked_sub(keep)).filter(|c| *c > 0);
        let all = cut.is_some_and(|cut| cut > mark);
        if all {
            let rest: Vec<String> = self.unfolded.all_units().into_iter().filter(|u| !units.contains(u)).collect();
            self.unfolded.write(&tx, &rest).map_err(ctx(loc, "folding scores"))?;
            Unfolded::write_staged(&tx, &staged).map_err(ctx(loc, "folding scores"))?;
            units.extend(rest);
            mark = last_id;
        }
        if let Some(cut) = cut {
            // Ids are handed out one by one, so the newest `keep` are those above `last - keep`.
            tx.execute("DELETE FROM events WHERE id <= ?1", params![to_sql_int(cut)]).map_err(ctx(loc, "purging events beyond the count kept"))?;
        }
        if mark != self.watermark {
            fold::set_watermark(&tx, mark).map_err(ctx(loc, "saving the fold watermark"))?;
        }
        tx.commit().map_err(ctx(loc, "committing the batch"))?;
        self.wake_checkpointer();
        self.unfolded.committed(&units, staged, all);
        self.watermark = mark;
        for (report, _) in done.iter_mut().flatten() {
            report.rejected.sort_by_key(|r| r.index);
        }
        Ok(done)
    }

    /// Up to `limit` events with an id above `after`, oldest first.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let loc = self.location.as_str();
        let mut stmt =
            self.conn.prepare_cached("SELECT id, kind, data FROM events WHERE id > ?1 ORDER BY id LIMIT ?2").map_err(ctx(loc, "preparing the event query"))?;
        let rows = stmt
            .query_map(params![to_sql_int(after), to_sql_int(limit as u64)], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
            .map_err(ctx(loc, "reading events"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, data) = row.map_err(ctx(loc, "reading an event"))?;
            out.push(StoredEvent { id: u64::try_from(id).unwrap_or(0), kind, data });
        }
        Ok(out)
    }

    /// Records that an operator (`by`, a token's name) acknowledged alert `id` at `at`, and
    /// appends an `ack` event (`{"id", "by", "at"}`) for the walls; in one transaction. The
    /// first acknowledgement stands: a second one records nothing and says who was first.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails.
    pub fn acknowledge(&mut self, id: &str, by: &str, at: DateTime<FixedOffset>) -> Result<AckOutcome, StoreError> {
        let loc = self.location.as_str();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(ctx(loc, "starting an acknowledgement"))?;
        let known: Option<i64> =
            tx.query_row("SELECT seq FROM alerts WHERE id = ?1", [id], |r| r.get(0)).optional().map_err(ctx(loc, "looking up the alert"))?;
        if known.is_none() {
            return Ok(AckOutcome::UnknownAlert);
        }
        let before: Option<(String, i64)> = tx
            .query_row("SELECT by, t FROM acks WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(ctx(loc, "reading an acknowledgement"))?;
        if let Some((by, t)) = before {
            let at = DateTime::from_timestamp_micros(t)
                .map(|t| t.with_timezone(&BEIJING))
                .ok_or_else(|| StoreError::BadData { path: loc.to_owned(), detail: format!("acknowledgement time {t} µs is out of range") })?;
            return Ok(AckOutcome::Already(crate::model::Ack { by, at }));
        }
        tx.execute("INSERT INTO acks (id, by, t) VALUES (?1, ?2, ?3)", params![id, by, micros(&at)]).map_err(ctx(loc, "storing an acknowledgement"))?;
        let data = json!({"id": id, "by": by, "at": at.with_timezone(&BEIJING)}).to_string();
        let received = micros(&Utc::now());
        tx.execute("INSERT INTO events (kind, received, data) VALUES ('ack', ?1, ?2)", params![received, data]).map_err(ctx(loc, "appending an event"))?;
        let event = u64::try_from(tx.last_insert_rowid()).unwrap_or(0);
        tx.commit().map_err(ctx(loc, "committing an acknowledgement"))?;
        self.wake_checkpointer();
        Ok(AckOutcome::Recorded(event))
    }

    /// The newest event id ever issued, 0 before the first. It survives restarts and purges.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails.
    pub fn last_event_id(&self) -> Result<u64, StoreError> {
        last_event_id(&self.conn).map_err(ctx(&self.location, "reading the last event id"))
    }

    /// The oldest event still kept; `None` when the log is empty. A client whose
    /// `Last-Event-ID` + 1 is below it (or which is above [`Store::last_event_id`]) cannot
    /// resume: answer 409.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails.
    pub fn oldest_event_id(&self) -> Result<Option<u64>, StoreError> {
        oldest_event_id(&self.conn).map_err(ctx(&self.location, "reading the oldest event id"))
    }

    /// Every unit's current score, the newest score time and the event id they reflect, read in
    /// one transaction.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails or a stored time is out of range.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let loc = self.location.as_str();
        let tx = self.conn.unchecked_transaction().map_err(ctx(loc, "starting a read"))?;
        let current = self.current_where(&tx, None)?;
        let last_event_id = last_event_id(&tx).map_err(ctx(loc, "reading the last event id"))?;
        tx.finish().map_err(ctx(loc, "ending a read"))?;
        let as_of = current.iter().map(|(_, time, _)| *time).max();
        let (mut scores, mut cleared) = (Vec::new(), Vec::new());
        for (unit, time, parts) in current {
            match parts {
                Some(p) => scores.push(CurrentScore { unit, time, total: p[0], threat: p[1], asset: p[2], compliance: p[3] }),
                None => cleared.push(ClearedUnit { unit, time }),
            }
        }
        Ok(Snapshot { as_of, last_event_id, scores, cleared })
    }

    /// One unit's current score; `None` before its first, and while its newest sample is a
    /// clear.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails or a stored time is out of range.
    pub fn current_score(&self, unit: &str) -> Result<Option<CurrentScore>, StoreError> {
        Ok(self
            .current_where(&self.conn, Some(unit))?
            .pop()
            .and_then(|(unit, time, parts)| parts.map(|p| CurrentScore { unit, time, total: p[0], threat: p[1], asset: p[2], compliance: p[3] })))
    }

    /// Time of the newest current sample (score or clear) over all units; `None` before the
    /// first. What `/api/v1/health` reports as `as_of`.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails or the stored time is out of range.
    pub fn newest_sample_time(&self) -> Result<Option<DateTime<FixedOffset>>, StoreError> {
        let loc = self.location.as_str();
        let t: Option<i64> = self.conn.query_row("SELECT max(t) FROM current_scores", [], |r| r.get(0)).map_err(ctx(loc, "reading the newest sample time"))?;
        t.map(|t| self.time(t)).transpose()
    }

    /// Current samples by unit id: (unit, time, parts), parts `None` for a clear.
    #[allow(clippy::type_complexity)]
    fn current_where(&self, conn: &Connection, unit: Option<&str>) -> Result<Vec<(String, DateTime<FixedOffset>, Option<[f64; 4]>)>, StoreError> {
        let loc = self.location.as_str();
        let mut stmt = conn
            .prepare_cached("SELECT unit, t, total, threat, asset, compliance FROM current_scores WHERE ?1 IS NULL OR unit = ?1 ORDER BY unit")
            .map_err(ctx(loc, "preparing the score query"))?;
        let rows = stmt
            .query_map(params![unit], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, [r.get::<_, Option<f64>>(2)?, r.get(3)?, r.get(4)?, r.get(5)?])))
            .map_err(ctx(loc, "reading current scores"))?;
        let mut out = Vec::new();
        for row in rows {
            let (unit, t, p) = row.map_err(ctx(loc, "reading a current score"))?;
            let time = self.time(t)?;
            // A row is a score when all four parts are there; a clear stores none.
            let parts = match p {
                [Some(total), Some(threat), Some(asset), Some(compliance)] => Some([total, threat, asset, compliance]),
                _ => None,
            };
            out.push((unit, time, parts));
        }
        Ok(out)
    }

    /// Alerts whose sequence number (arrival order, from 1) is above `since`, oldest first, at
    /// most `limit`, each as the model's `Alert` JSON with its current status (plus `analysis`
    /// when sent) — what `GET /api/v1/alerts?since=N` serves. `next` is the sequence number of
    /// the last alert in the page; with an empty page it is `since`, or the newest sequence
    /// number when `since` is beyond it. Keep calling with `next` until the page is empty.
    ///
    /// Note: the wall's client reads one page with `since=0` as its snapshot; for that,
    /// [`Store::recent_alerts`] gives the newest alerts instead of the oldest.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails or a stored value cannot be read back.
    pub fn alerts_since(&self, since: u64, limit: usize) -> Result<AlertsPage, StoreError> {
        let alerts = self.alert_rows("a.seq > ?1 ORDER BY a.seq LIMIT ?2", to_sql_int(since), to_sql_int(limit as u64))?;
        let next = match alerts.last() {
            Some((seq, _)) => *seq,
            None => since.min(self.max_alert_seq()?),
        };
        Ok(AlertsPage { alerts: alerts.into_iter().map(|(_, v)| v).collect(), next })
    }

    /// The newest `limit` alerts, oldest of them first, like [`Store::alerts_since`]; `next` is
    /// the newest sequence number (0 without alerts), so polling from it sees only newer ones.
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails or a stored value cannot be read back.
    pub fn recent_alerts(&self, limit: usize) -> Result<AlertsPage, StoreError> {
        let max = self.max_alert_seq()?;
        let mut alerts = self.alert_rows("a.seq > ?1 ORDER BY a.seq DESC LIMIT ?2", 0, to_sql_int(limit as u64))?;
        alerts.reverse();
        Ok(AlertsPage { alerts: alerts.into_iter().map(|(_, v)| v).collect(), next: max })
    }

    fn max_alert_seq(&self) -> Result<u64, StoreError> {
        let loc = self.location.as_str();
        let max: i64 = self.conn.query_row("SELECT coalesce(max(seq), 0) FROM alerts", [], |r| r.get(0)).map_err(ctx(loc, "reading the alert cursor"))?;
        Ok(u64::try_from(max).unwrap_or(0))
    }

    /// Alert rows as (seq, JSON) for a `WHERE` tail over alias `a` with two parameters.
    fn alert_rows(&self, tail: &str, p1: i64, p2: i64) -> Result<Vec<(u64, Value)>, StoreError> {
        let loc = self.location.as_str();
        let sql = format!(
            "SELECT a.seq, a.id, a.unit, a.t, a.severity, a.category, a.title, a.analysis, a.initial_status,
                 (SELECT s.status FROM status_changes s WHERE s.id = a.id ORDER BY s.t DESC, s.seq DESC LIMIT 1),
                 k.by, k.t,
                 (SELECT min(s.t) FROM status_changes s WHERE s.id = a.id AND s.status = 'analysing'),
                 (SELECT min(s.t) FROM status_changes s WHERE s.id = a.id AND s.status IN ('disposing', 'in_progress')),
                 (SELECT min(s.t) FROM status_changes s WHERE s.id = a.id AND s.status = 'closed')
             FROM alerts a LEFT JOIN acks k ON k.id = a.id WHERE {tail}"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(ctx(loc, "preparing the alert query"))?;
        type Row = (i64, String, String, i64, String, String, String, Option<String>, String, Option<String>, Option<String>, Option<i64>, [Option<i64>; 3]);
        let rows = stmt
            .query_map(params![p1, p2], |r| -> rusqlite::Result<Row> {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    [r.get(12)?, r.get(13)?, r.get(14)?],
                ))
            })
            .map_err(ctx(loc, "reading alerts"))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, id, unit, t, severity, category, title, analysis, initial, current, ack_by, ack_t, stage_us) =
                row.map_err(ctx(loc, "reading an alert"))?;
            let [analysing, disposing, closed] = stage_us.map(|us| us.map(|us| self.time(us)).transpose());
            let stages = crate::model::Stages { analysing: analysing?, disposing: disposing?, closed: closed? };
            let stages = (stages != crate::model::Stages::default()).then_some(stages);
            let acknowledged = match (ack_by, ack_t) {
                (Some(by), Some(t)) => Some(crate::model::Ack { by, at: self.time(t)? }),
                _ => None,
            };
            let alert = Alert {
                id,
                unit,
                time: self.time(t)?,
                severity: self.parse_name(&severity, "alert severity")?,
                category,
                title,
                status: self.parse_name(current.as_deref().unwrap_or(&initial), "alert status")?,
                acknowledged,
                analysis: None,
                note: None,
                stages,
            };
            out.push((u64::try_from(seq).unwrap_or(0), alert_json(&alert, analysis.as_deref())));
        }
        Ok(out)
    }

    /// One unit's incidents and detail figures as of `now`: only alerts reported at or before
    /// `now`, status changes at or before `now` and detail snapshots taken at or before `now`
    /// count (later ones exist only for clocks ahead of ours).
    ///
    /// * Incidents by status: each alert's status is that of its newest status change (ties:
    ///   the later arrival), or the status it was reported with when it has none.
    /// * MTTR (mean time to resolve), seconds: over the unit's alerts whose status is closed,
    ///   the mean of `close_time − report_time`, where `report_time` is the alert's `time` and
    ///   `close_time` is the time of the status change that closed it (its newest one); a
    ///   negative difference (close stamped before the report) counts as 0. Alerts reported as
    ///   already closed, with no status change, are counted as closed but are not in the mean
    ///   (their close time is unknown). `None` when no alert qualifies.
    /// * Vulnerabilities and compliance: from the newest detail snapshot that has that part,
    ///   each with its own `as_of`; `None` when none was ever sent (never derived from scores).
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails or a stored value cannot be read back.
    pub fn unit_detail(&self, unit: &str, now: DateTime<FixedOffset>) -> Result<UnitDetail, StoreError> {
        let loc = self.location.as_str();
        let now_us = micros(&now);
        let tx = self.conn.unchecked_transaction().map_err(ctx(loc, "starting a read"))?;
        let mut incidents = Incidents::default();
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT a.t, a.initial_status, c.status, c.t FROM alerts a
                     LEFT JOIN status_changes c ON c.seq = (
                         SELECT s.seq FROM status_changes s WHERE s.id = a.id AND s.t <= ?2 ORDER BY s.t DESC, s.seq DESC LIMIT 1)
                     WHERE a.unit = ?1 AND a.t <= ?2",
                )
                .map_err(ctx(loc, "preparing the incident query"))?;
            let rows = stmt
                .query_map(params![unit, now_us], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<i64>>(3)?))
                })
                .map_err(ctx(loc, "reading incidents"))?;
            let mut repair_us = 0i128;
            for row in rows {
                let (reported, initial, status, changed) = row.map_err(ctx(loc, "reading an incident"))?;
                let status: AlertStatus = self.parse_name(status.as_deref().unwrap_or(&initial), "alert status")?;
                match status {
                    AlertStatus::New => incidents.new += 1,
                    AlertStatus::Analysing => incidents.analysing += 1,
                    AlertStatus::Disposing => incidents.disposing += 1,
                    AlertStatus::Closed => {
                        incidents.closed += 1;
                        if let Some(closed_at) = changed {
                            repair_us += i128::from(closed_at.saturating_sub(reported).max(0));
                            incidents.mttr_samples += 1;
                        }
                    }
                }
            }
            incidents.in_progress = incidents.analysing + incidents.disposing;
            if incidents.mttr_samples > 0 {
                incidents.mttr_s = Some(repair_us as f64 / 1e6 / incidents.mttr_samples as f64);
            }
        }
        let vulnerabilities = tx
            .prepare_cached(
                "SELECT as_of, vuln_critical, vuln_high, vuln_medium, vuln_low FROM details
                 WHERE unit = ?1 AND as_of <= ?2 AND vuln_critical IS NOT NULL ORDER BY as_of DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![unit, now_us], |r| Ok((r.get::<_, i64>(0)?, [r.get::<_, u32>(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))).optional()
            })
            .map_err(ctx(loc, "reading vulnerabilities"))?;
        let vulnerabilities = match vulnerabilities {
            None => None,
            Some((t, [critical, high, medium, low])) => Some(Dated { as_of: self.time(t)?, value: Vulnerabilities { critical, high, medium, low } }),
        };
        let compliance = tx
            .prepare_cached("SELECT as_of, checks FROM details WHERE unit = ?1 AND as_of <= ?2 AND checks IS NOT NULL ORDER BY as_of DESC LIMIT 1")
            .and_then(|mut s| s.query_row(params![unit, now_us], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).optional())
            .map_err(ctx(loc, "reading compliance"))?;
        let compliance = match compliance {
            None => None,
            Some((t, checks)) => {
                let checks: Vec<(String, bool)> = serde_json::from_str(&checks)
                    .map_err(|e| StoreError::BadData { path: loc.to_owned(), detail: format!("compliance checks of {unit}: {e}") })?;
                let total = u32::try_from(checks.len()).unwrap_or(u32::MAX);
                let failed: Vec<String> = checks.iter().filter(|(_, passed)| !passed).map(|(name, _)| name.clone()).collect();
                let passed = total - u32::try_from(failed.len()).unwrap_or(total);
                Some(Dated { as_of: self.time(t)?, value: ComplianceSummary { passed, total, failed } })
            }
        };
        tx.finish().map_err(ctx(loc, "ending a read"))?;
        Ok(UnitDetail { unit: unit.to_owned(), incidents, vulnerabilities, compliance })
    }

    /// A unit's score series with `from <= t <= to`, oldest first, from raw samples and, before
    /// the retention horizon, hourly means (each at its hour's start).
    ///
    /// `step_s` > 0 downsamples: points fall into buckets `[from + k·step_s, from + (k+1)·step_s)`
    /// and each bucket becomes one point at its start whose values are the mean of the raw
    /// samples in it (an hourly mean weighs as many samples as it averages). Empty buckets give
    /// no point. `None` or 0: every stored point.
    ///
    /// A clear is a gap: a point whose values are `None` and `samples` 0. Downsampled, a bucket
    /// with scores gives their mean (a clear inside it is not seen at that resolution) and a
    /// bucket with only clears gives a gap. Clears before the retention horizon are gone (hourly
    /// means hold scores only).
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails or a stored time is out of range.
    pub fn history(&self, unit: &str, from: DateTime<FixedOffset>, to: DateTime<FixedOffset>, step_s: Option<u32>) -> Result<Vec<HistoryPoint>, StoreError> {
        let loc = self.location.as_str();
        let (from_us, to_us) = (micros(&from), micros(&to));
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t, total IS NOT NULL, total, threat, asset, compliance FROM scores WHERE unit = ?1 AND t >= ?2 AND t <= ?3
                 UNION ALL
                 SELECT hour, n, total, threat, asset, compliance FROM scores_hourly WHERE unit = ?1 AND hour >= ?2 AND hour <= ?3
                 ORDER BY 1",
            )
            .map_err(ctx(loc, "preparing the history query"))?;
        let rows = stmt
            .query_map(params![unit, from_us, to_us], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, [r.get::<_, Option<f64>>(2)?, r.get(3)?, r.get(4)?, r.get(5)?]))
            })
            .map_err(ctx(loc, "reading history"))?;
        let mut points = rows.collect::<Result<Vec<_>, _>>().map_err(ctx(loc, "reading a history point"))?;
        // Scores not yet folded into the table (see `fold`) are points like the table's.
        let waiting = self.unfolded.unit_rows(unit, from_us, to_us).map(|(t, p)| (t, i64::from(p.is_some()), p.map_or([None; 4], |p| p.map(Some))));
        let before = points.len();
        points.extend(waiting);
        if points.len() > before {
            points.sort_by_key(|p| p.0);
        }
        let step_us = step_s.filter(|s| *s > 0).map(|s| i64::from(s) * 1_000_000);
        // (bucket start, scores, weighted sums); a clear adds a bucket with no scores.
        let mut buckets: Vec<(i64, u64, [f64; 4])> = Vec::new();
        for (t, n, p) in points {
            let p = match p {
                [Some(total), Some(threat), Some(asset), Some(compliance)] => [total, threat, asset, compliance],
                _ => [0.0; 4],
            };
            // 0 for a clear (its parts are NULL), 1 for a raw score, the count for an hourly mean.
            let n = u64::try_from(n).unwrap_or(0);
            let key = match step_us {
                Some(step) => from_us + (t - from_us).div_euclid(step) * step,
                None => t,
            };
            let w = n as f64;
            match buckets.last_mut() {
                Some(b) if b.0 == key && step_us.is_some() => {
                    b.1 += n;
                    for (sum, v) in b.2.iter_mut().zip(p) {
                        *sum += v * w;
                    }
                }
                _ => buckets.push((key, n, p.map(|v| v * w))),
            }
        }
        buckets
            .into_iter()
            .map(|(t, n, s)| {
                let w = n as f64;
                let mean = |i: usize| (n > 0).then(|| s[i] / w);
                Ok(HistoryPoint { t: self.time(t)?, total: mean(0), threat: mean(1), asset: mean(2), compliance: mean(3), samples: n })
            })
            .collect()
    }

    /// Ranks units within their kind by their mean total over the `period` containing `at`
    /// (Beijing time: see [`Period`]), and compares each rank with the previous period's.
    ///
    /// Means are sample means (not time-weighted): every raw score in the period counts once,
    /// an hourly mean counts as many times as the samples it averages, so rolling up does not
    /// change a period's mean. A unit with irregular reporting is weighted towards the hours it
    /// reported most in. Clears are not samples. `kinds` maps unit id → kind; units not in it are not ranked, units in it
    /// without samples in the period are left out. Rank 1 = highest mean total; ties by unit id.
    ///
    /// # Errors
    /// [`StoreError::InvalidArgument`] for a time at the ends of the calendar, or a
    /// [`StoreError`] when SQLite fails.
    pub fn rankings(&self, period: Period, at: DateTime<FixedOffset>, kinds: &HashMap<String, String>) -> Result<Rankings, StoreError> {
        let loc = self.location.as_str();
        let bad = || StoreError::InvalidArgument(format!("no {period:?} period around {}", at.to_rfc3339()));
        let (from, to) = period.bounds(at).ok_or_else(bad)?;
        let (previous_from, _) = period.previous(from).ok_or_else(bad)?;
        let tx = self.conn.unchecked_transaction().map_err(ctx(loc, "starting a read"))?;
        let current = self.period_means(&tx, kinds, micros(&from), micros(&to))?;
        let previous = self.period_means(&tx, kinds, micros(&previous_from), micros(&from))?;
        tx.finish().map_err(ctx(loc, "ending a read"))?;
        let previous_ranks: HashMap<&str, u32> = previous.iter().map(|r| (r.unit.as_str(), r.rank)).collect();
        let rows = current
            .into_iter()
            .map(|mut r| {
                r.previous_rank = previous_ranks.get(r.unit.as_str()).copied();
                r.rank_change = r.previous_rank.map(|p| i64::from(p) - i64::from(r.rank));
                r
            })
            .collect();
        Ok(Rankings { period, from, to, previous_from, rows })
    }

    /// Ranked rows of the units in `kinds` over `[from, to)` (microseconds).
    fn period_means(&self, conn: &Connection, kinds: &HashMap<String, String>, from: i64, to: i64) -> Result<Vec<RankingRow>, StoreError> {
        let loc = self.location.as_str();
        let mut stmt = conn
            .prepare_cached(
                "SELECT sum(n), sum(total * n), sum(threat * n), sum(asset * n), sum(compliance * n) FROM (
                     SELECT 1 AS n, total, threat, asset, compliance FROM scores WHERE unit = ?1 AND t >= ?2 AND t < ?3 AND total IS NOT NULL
                     UNION ALL
                     SELECT n, total, threat, asset, compliance FROM scores_hourly WHERE unit = ?1 AND hour >= ?2 AND hour < ?3)",
            )
            .map_err(ctx(loc, "preparing the ranking query"))?;
        let mut rows = Vec::new();
        for (unit, kind) in kinds {
            let (n, sums) = stmt
                .query_row(params![unit, from, to], |r| Ok((r.get::<_, Option<i64>>(0)?, [r.get::<_, Option<f64>>(1)?, r.get(2)?, r.get(3)?, r.get(4)?])))
                .map_err(ctx(loc, "reading period means"))?;
            let (mut n, mut sums) = (n.unwrap_or(0), sums.map(|s| s.unwrap_or(0.0)));
            // Scores not yet folded into the table (see `fold`); clears are not samples.
            for p in self.unfolded.unit_rows(unit, from, to.saturating_sub(1)).filter_map(|(_, p)| p) {
                n += 1;
                for (sum, v) in sums.iter_mut().zip(p) {
                    *sum += v;
                }
            }
            if n <= 0 {
                continue;
            }
            let w = n as f64;
            let mean = |i: usize| sums[i] / w;
            rows.push(RankingRow {
                unit: unit.clone(),
                kind: kind.clone(),
                samples: u64::try_from(n).unwrap_or(0),
                total: mean(0),
                threat: mean(1),
                asset: mean(2),
                compliance: mean(3),
                rank: 0,
                previous_rank: None,
                rank_change: None,
            });
        }
        rows.sort_by(|a, b| a.kind.cmp(&b.kind).then(b.total.total_cmp(&a.total)).then_with(|| a.unit.cmp(&b.unit)));
        let mut rank = 0u32;
        let mut kind: Option<String> = None;
        for r in &mut rows {
            if kind.as_deref() != Some(r.kind.as_str()) {
                kind = Some(r.kind.clone());
                rank = 0;
            }
            rank += 1;
            r.rank = rank;
        }
        Ok(rows)
    }

    /// Applies retention as of `now`, in one transaction. The cut-off is `now − retention_days`
    /// rounded down to the hour (the horizon):
    /// * raw scores before it are replaced by their hourly means (`scores_hourly`, merged by
    ///   sample count into a mean already there); history and rankings read both, and scores
    ///   before the horizon sent later are refused, so nothing is counted twice; clears before
    ///   it are dropped (a gap in old history is not kept);
    /// * events received before `now − retention_days` are deleted, always a prefix of the log
    ///   (every id up to the newest such one), so a client resuming from a purged id gets 409
    ///   from [`Store::oldest_event_id`] rather than a gap;
    /// * alerts, status changes, detail snapshots and current scores are kept.
    ///
    /// The horizon only moves forward: a run with more days than the last one rolls up nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidArgument`] when the cut-off is out of range, or a [`StoreError`] when
    /// SQLite fails (then nothing changed).
    pub fn apply_retention(&mut self, now: DateTime<FixedOffset>, retention_days: u32) -> Result<RetentionReport, StoreError> {
        let loc = self.location.as_str();
        let cutoff = now
            .checked_sub_days(Days::new(u64::from(retention_days)))
            .ok_or_else(|| StoreError::InvalidArgument(format!("{retention_days} days before {} is out of range", now.to_rfc3339())))?;
        let cutoff_us = micros(&cutoff);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(ctx(loc, "starting retention"))?;
        let horizon = read_horizon(&tx).map_err(ctx(loc, "reading the retention horizon"))?.unwrap_or(i64::MIN).max(cutoff_us.div_euclid(HOUR_US) * HOUR_US);
        // Every waiting score goes into `scores` first, so the roll-up sees them all and the
        // event purge below cannot take the only copy of one.
        let folded = self.unfolded.all_units();
        self.unfolded.write(&tx, &folded).map_err(ctx(loc, "folding scores"))?;
        let mark = last_event_id(&tx).map_err(ctx(loc, "reading the last event id"))?;
        if mark != self.watermark {
            fold::set_watermark(&tx, mark).map_err(ctx(loc, "saving the fold watermark"))?;
        }
        let (mut rolled, mut hourly) = (0u64, 0u64);
        {
            let units: Vec<String> = {
                let mut stmt = tx.prepare_cached("SELECT unit FROM current_scores").map_err(ctx(loc, "listing units"))?;
                let rows = stmt.query_map([], |r| r.get(0)).map_err(ctx(loc, "listing units"))?;
                rows.collect::<Result<_, _>>().map_err(ctx(loc, "listing units"))?
            };
            let mut roll = tx
                .prepare_cached(
                    "INSERT INTO scores_hourly (unit, hour, n, total, threat, asset, compliance)
                     SELECT unit, t - (t % 3600000000 + 3600000000) % 3600000000 AS h, count(*), avg(total), avg(threat), avg(asset), avg(compliance)
                     FROM scores WHERE unit = ?1 AND t < ?2 AND total IS NOT NULL GROUP BY h
                     ON CONFLICT (unit, hour) DO UPDATE SET
                         n = n + excluded.n,
                         total = (total * n + excluded.total * excluded.n) / (n + excluded.n),
                         threat = (threat * n + excluded.threat * excluded.n) / (n + excluded.n),
                         asset = (asset * n + excluded.asset * excluded.n) / (n + excluded.n),
                         compliance = (compliance * n + excluded.compliance * excluded.n) / (n + excluded.n)",
                )
                .map_err(ctx(loc, "preparing the roll-up"))?;
            let mut delete = tx.prepare_cached("DELETE FROM scores WHERE unit = ?1 AND t < ?2").map_err(ctx(loc, "preparing the roll-up"))?;
            for unit in &units {
                hourly += roll.execute(params![unit, horizon]).map_err(ctx(loc, "rolling up scores"))? as u64;
                rolled += delete.execute(params![unit, horizon]).map_err(ctx(loc, "deleting rolled-up scores"))? as u64;
            }
        }
        let purged = tx
            .execute("DELETE FROM events WHERE id <= (SELECT max(id) FROM events WHERE received < ?1)", params![cutoff_us])
            .map_err(ctx(loc, "purging events"))? as u64;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
            params![HORIZON_KEY, horizon],
        )
        .map_err(ctx(loc, "saving the retention horizon"))?;
        let oldest = oldest_event_id(&tx).map_err(ctx(loc, "reading the oldest event id"))?;
        tx.commit().map_err(ctx(loc, "committing retention"))?;
        self.wake_checkpointer();
        self.unfolded.committed(&folded, Vec::new(), true);
        self.watermark = mark;
        Ok(RetentionReport { horizon: self.time(horizon)?, raw_scores_rolled_up: rolled, hourly_rows: hourly, events_purged: purged, oldest_event_id: oldest })
    }

    /// Keeps at most the newest `keep` events from now on: each [`Store::ingest_at`] deletes
    /// the older ones in its own transaction (no extra fsync), always a prefix of the log, as
    /// [`Store::apply_retention`] does by age, so a client resuming from a purged id gets 409.
    /// Ids are never reused. `None` (the default): no limit by count. A limit of 0 keeps no
    /// events at all.
    pub fn set_event_limit(&mut self, keep: Option<u64>) {
        self.event_limit = keep;
    }

    /// Size and contents, for `/api/v1/health` (see [`StoreStats`] on its cost).
    ///
    /// # Errors
    /// A [`StoreError`] when SQLite fails.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let loc = self.location.as_str();
        let tx = self.conn.unchecked_transaction().map_err(ctx(loc, "starting a read"))?;
        let int = |sql: &str, what: &'static str| -> Result<i64, StoreError> {
            tx.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).map(|v| v.unwrap_or(0)).map_err(ctx(loc, what))
        };
        let page_size = int("PRAGMA page_size", "reading the page size")?;
        let pages = int("PRAGMA page_count", "reading the page count")?;
        let free = int("PRAGMA freelist_count", "reading the free page count")?;
        let n = |table: &'static str| -> Result<u64, StoreError> {
            Ok(u64::try_from(int(&format!("SELECT count(*) FROM {table}"), "counting rows")?).unwrap_or(0))
        };
        let counts = TableCounts {
            // With the scores not yet folded into the table (see `fold`).
            scores: n("scores")?.saturating_add(self.unfolded.len() as u64),
            scores_hourly: n("scores_hourly")?,
            units: n("current_scores")?,
            alerts: n("alerts")?,
            status_changes: n("status_changes")?,
            details: n("details")?,
            events: n("events")?,
        };
        // Per-unit minima use the (unit, t) keys; a bare min(t) would scan the table.
        let oldest: Option<i64> = tx
            .query_row(
                "SELECT min(m) FROM (
                     SELECT (SELECT min(t) FROM scores s WHERE s.unit = c.unit) AS m FROM current_scores c
                     UNION ALL SELECT (SELECT min(hour) FROM scores_hourly h WHERE h.unit = c.unit) FROM current_scores c
                     UNION ALL SELECT min(t) FROM alerts
                     UNION ALL SELECT min(t) FROM status_changes
                     UNION ALL SELECT min(as_of) FROM details)",
                [],
                |r| r.get(0),
            )
            .map_err(ctx(loc, "finding the oldest record"))?;
        let oldest = match (oldest, self.unfolded.oldest()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let last = last_event_id(&tx).map_err(ctx(loc, "reading the last event id"))?;
        let oldest_event = oldest_event_id(&tx).map_err(ctx(loc, "reading the oldest event id"))?;
        tx.finish().map_err(ctx(loc, "ending a read"))?;
        let bytes = |pages: i64| u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0);
        Ok(StoreStats {
            file_bytes: bytes(pages),
            // The log beside the file SQLite opened (links resolved), as SQLite names it.
            wal_bytes: self.conn.path().filter(|p| !p.is_empty()).and_then(|p| std::fs::metadata(format!("{p}-wal")).ok()).map_or(0, |m| m.len()),
            free_bytes: bytes(free),
            counts,
            oldest_record: oldest.map(|t| self.time(t)).transpose()?,
            last_event_id: last,
            oldest_event_id: oldest_event,
        })
    }

    /// A stored time (microseconds) as a +08:00 time.
    fn time(&self, us: i64) -> Result<DateTime<FixedOffset>, StoreError> {
        DateTime::from_timestamp_micros(us)
            .map(|t| t.with_timezone(&BEIJING))
            .ok_or_else(|| StoreError::BadData { path: self.location.clone(), detail: format!("time {us} µs is out of range") })
    }

    /// A stored serde name back as its enum.
    fn parse_name<T: serde::de::DeserializeOwned>(&self, name: &str, what: &str) -> Result<T, StoreError> {
        serde_json::from_value(Value::String(name.to_owned()))
            .map_err(|_| StoreError::BadData { path: self.location.clone(), detail: format!("{what} {name:?}") })
    }
}

/// A stored time for messages and event data: RFC 3339 at +08:00 (`?` when out of range).
fn show_time(us: i64) -> String {
    DateTime::from_timestamp_micros(us).map_or_else(|| "?".into(), |t| t.with_timezone(&BEIJING).to_rfc3339())
}

/// One item of a `score` event: a score with its parts, or a clear (`"total": null` alone).
#[derive(Serialize)]
struct ScoreEventItem<'a> {
    unit: &'a str,
    total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asset: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compliance: Option<f64>,
}

/// The model's `Alert` as JSON, plus `analysis` when there is one.
fn alert_json(alert: &Alert, analysis: Option<&str>) -> Value {
    let mut v = serde_json::to_value(alert).unwrap_or(Value::Null);
    if let (Value::Object(map), Some(text)) = (&mut v, analysis) {
        map.insert("analysis".into(), Value::String(text.to_owned()));
    }
    v
}

/// Where [`ingest_into`] checks a score for a duplicate and leaves the ones it accepts.
struct Accepted<'a> {
    /// Rows of earlier commits not yet folded into `scores`.
    unfolded: &'a Unfolded,
    /// Keys accepted earlier in this transaction (this batch and those before it).
    seen: &'a mut HashSet<(String, i64)>,
    /// Rows accepted in this transaction, with their events' ids.
    staged: &'a mut Vec<Staged>,
}

/// One batch of [`Store::ingest_group`], inside its transaction: validates each record,
/// stores the good ones and appends their events (see [`Store::ingest`]); `horizon` is the
/// retention horizon (µs), `received_us` the events' `received` time. Scores are not written
/// to `scores` here: they join `acc.staged`, and their events make them durable (see [`fold`]).
fn ingest_into(
    tx: &Connection,
    loc: &str,
    horizon: Option<i64>,
    records: &[Value],
    known_unit: Option<&dyn Fn(&str) -> bool>,
    received_us: i64,
    acc: Accepted<'_>,
) -> Result<Ingested, StoreError> {
    let staged_from = acc.staged.len();
    let mut report = IngestReport::default();
    let mut appended = Vec::new();
    let parsed: Vec<Option<Record>> = records
        .iter()
        .enumerate()
        .map(|(index, v)| Record::parse(v, known_unit).map_err(|reason| report.rejected.push(Rejection { index, reason })).ok())
        .collect();

    /// An event to append once the batch is through.
    enum Pending {
        Ready(&'static str, String),
        /// The score event of this time.
        Scores(i64),
    }
    let mut pending: Vec<Pending> = Vec::new();
    // Each time's score event items, written as JSON text as they come (comma-separated).
    let mut groups: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    // Each unit's newest sample in this batch: (time, [total, threat, asset, compliance]),
    // `None` for a clear.
    let mut newest: HashMap<String, (i64, Option<[f64; 4]>)> = HashMap::new();
    {
        let mut in_table = tx.prepare_cached("SELECT 1 FROM scores WHERE unit = ?1 AND t = ?2").map_err(ctx(loc, "preparing the score lookup"))?;
        for (index, record) in parsed.into_iter().enumerate() {
            let Some(record) = record else { continue };
            // Scores and clears are samples; the other kinds are stored by their helpers.
            // An alert, status change or detail is stored at once: its event data, or
            // `None` when it was stored before (a duplicate).
            let stored = match &record {
                Record::Score(_) | Record::Clear(_) => None,
                Record::Alert(a) => Some(("alert", store_alert(tx, loc, a)?)),
                Record::Status(s) => Some(("alert_status", store_status(tx, loc, s)?)),
                Record::Detail(d) => Some(("detail", store_detail(tx, loc, d)?)),
            };
            if let Some((kind, data)) = stored {
                match data {
                    Some(data) => {
                        report.accepted += 1;
                        pending.push(Pending::Ready(kind, data));
                    }
                    None => report.duplicate += 1,
                }
                continue;
            }
            let (unit, time, parts) = match record {
                Record::Score(s) => (s.unit, s.time, Some([s.total, s.threat, s.asset, s.compliance])),
                Record::Clear(c) => (c.unit, c.time, None),
                Record::Alert(_) | Record::Status(_) | Record::Detail(_) => continue,
            };
            let t = micros(&time);
            if let Some(h) = horizon
                && t < h
            {
                let reason =
                    format!("`time` {} is before the retention horizon {} (older scores are kept as hourly means only)", time.to_rfc3339(), show_time(h));
                report.rejected.push(Rejection { index, reason });
                continue;
            }
            let key = (unit, t);
            // The table is asked only for a time it may hold (a resent or late score).
            let duplicate = acc.seen.contains(&key)
                || acc.unfolded.contains(&key.0, t)
                || (acc.unfolded.may_be_folded(&key.0, t) && in_table.exists(params![key.0, t]).map_err(ctx(loc, "looking up a score"))?);
            if duplicate {
                report.duplicate += 1;
                continue;
            }
            acc.seen.insert(key.clone());
            let unit = key.0;
            // The event id is filled in below, once the event is appended.
            acc.staged.push((unit.clone(), t, parts, 0));
            report.accepted += 1;
            // A clear goes out as the contract's null item.
            let item = match parts {
                Some(p) => ScoreEventItem { unit: &unit, total: Some(p[0]), threat: Some(p[1]), asset: Some(p[2]), compliance: Some(p[3]) },
                None => ScoreEventItem { unit: &unit, total: None, threat: None, asset: None, compliance: None },
            };
            let items = groups.entry(t).or_insert_with(|| {
                pending.push(Pending::Scores(t));
                Vec::new()
            });
            if !items.is_empty() {
                items.push(b',');
            }
            // Serialising a struct of strings and numbers into memory cannot fail.
            let _ = serde_json::to_writer(&mut *items, &item);
            match newest.get_mut(&unit) {
                Some(cur) if cur.0 >= t => {}
                Some(cur) => *cur = (t, parts),
                None => {
                    newest.insert(unit, (t, parts));
                }
            }
        }
    }
    {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO current_scores (unit, t, total, threat, asset, compliance) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (unit) DO UPDATE SET t = excluded.t, total = excluded.total, threat = excluded.threat,
                     asset = excluded.asset, compliance = excluded.compliance
                 WHERE excluded.t > current_scores.t",
            )
            .map_err(ctx(loc, "preparing the current-score update"))?;
        for (unit, (t, parts)) in &newest {
            let [total, threat, asset, compliance] = parts.map_or([None; 4], |p| p.map(Some));
            upsert.execute(params![unit, t, total, threat, asset, compliance]).map_err(ctx(loc, "updating a current score"))?;
        }
        let mut insert_event =
            tx.prepare_cached("INSERT INTO events (kind, received, data) VALUES (?1, ?2, ?3)").map_err(ctx(loc, "preparing the event insert"))?;
        // Each score time's event id.
        let mut score_events: HashMap<i64, u64> = HashMap::new();
        for p in pending {
            let score_time = match p {
                Pending::Scores(t) => Some(t),
                Pending::Ready(..) => None,
            };
            let (kind, data) = match p {
                Pending::Ready(kind, data) => (kind, data),
                Pending::Scores(t) => {
                    // serde_json writes UTF-8 only, so the text is always valid.
                    let items = groups.remove(&t).unwrap_or_default();
                    let scores = String::from_utf8(items).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                    ("score", format!(r#"{{"as_of":{},"scores":[{scores}]}}"#, Value::String(show_time(t))))
                }
            };
            let id = insert_event.insert(params![kind, received_us, &data]).map_err(ctx(loc, "appending an event"))?;
            let id = u64::try_from(id).unwrap_or(0);
            report.first_event_id.get_or_insert(id);
            report.last_event_id = Some(id);
            if let Some(t) = score_time {
                score_events.insert(t, id);
            }
            appended.push(StoredEvent { id, kind: kind.to_owned(), data });
        }
        for row in &mut acc.staged[staged_from..] {
            row.3 = score_events.get(&row.1).copied().unwrap_or(0);
        }
    }
    Ok((report, appended))
}

fn read_horizon(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([HORIZON_KEY], |r| r.get(0)).optional()
}

fn last_event_id(conn: &Connection) -> rusqlite::Result<u64> {
    let seq: Option<i64> = conn.prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'events'")?.query_row([], |r| r.get(0)).optional()?;
    Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

fn oldest_event_id(conn: &Connection) -> rusqlite::Result<Option<u64>> {
    let id: Option<i64> = conn.prepare_cached("SELECT min(id) FROM events")?.query_row([], |r| r.get(0))?;
    Ok(id.and_then(|i| u64::try_from(i).ok()))
}

/// Runs `PRAGMA quick_check`; anything but a single `ok` is corruption.
fn quick_check(conn: &Connection, loc: &str) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("PRAGMA quick_check").map_err(ctx(loc, "checking the database"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(ctx(loc, "checking the database"))?;
    let mut problems = Vec::new();
    for row in rows {
        let line = row.map_err(ctx(loc, "checking the database"))?;
        if line != "ok" {
            problems.push(line);
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
    let more = if problems.len() > 3 { format!(" and {} more", problems.len() - 3) } else { String::new() };
    Err(StoreError::Corrupt { path: loc.to_owned(), detail: format!("quick_check: {}{more}", shown.join("; ")) })
}

/// Inserts an alert; its event data, or `None` for a duplicate id.
fn store_alert(tx: &Connection, loc: &str, a: &AlertRecord) -> Result<Option<String>, StoreError> {
    let initial = a.status.unwrap_or(AlertStatus::New);
    let t = micros(&a.time);
    let n = tx
        .prepare_cached(
            "INSERT INTO alerts (id, unit, t, severity, category, title, analysis, initial_status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![a.id, a.unit, t, serde_name(&a.severity), a.category, a.title, a.analysis, serde_name(&initial)]))
        .map_err(ctx(loc, "storing an alert"))?;
    if n == 0 {
        return Ok(None);
    }
    // Status changes that arrived before the alert decide its status already.
    let current: Option<String> = tx
        .prepare_cached("SELECT status FROM status_changes WHERE id = ?1 ORDER BY t DESC, seq DESC LIMIT 1")
        .and_then(|mut s| s.query_row([&a.id], |r| r.get(0)).optional())
        .map_err(ctx(loc, "reading an alert's status"))?;
    let status = match current {
        Some(name) => serde_json::from_value(Value::String(name.clone()))
            .map_err(|_| StoreError::BadData { path: loc.to_owned(), detail: format!("alert status {name:?}") })?,
        None => initial,
    };
    let alert = Alert {
        id: a.id.clone(),
        unit: a.unit.clone(),
        time: a.time.with_timezone(&BEIJING),
        severity: a.severity,
        category: a.category.clone(),
        title: a.title.clone(),
        status,
        acknowledged: None,
        analysis: None,
        note: None,
        stages: None,
    };
    Ok(Some(alert_json(&alert, a.analysis.as_deref()).to_string()))
}

/// Inserts a status change; its event data, or `None` for a duplicate.
fn store_status(tx: &Connection, loc: &str, s: &StatusRecord) -> Result<Option<String>, StoreError> {
    let n = tx
        .prepare_cached("INSERT INTO status_changes (id, status, t, note) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")
        .and_then(|mut st| st.execute(params![s.id, serde_name(&s.status), micros(&s.time), s.note]))
        .map_err(ctx(loc, "storing a status change"))?;
    if n == 0 {
        return Ok(None);
    }
    let mut data = json!({"id": s.id, "status": s.status, "at": s.time.with_timezone(&BEIJING)});
    if let (Value::Object(map), Some(note)) = (&mut data, &s.note) {
        map.insert("note".into(), Value::String(note.clone()));
    }
    Ok(Some(data.to_string()))
}

/// Inserts a detail snapshot; its event data, or `None` for a duplicate.
fn store_detail(tx: &Connection, loc: &str, d: &DetailRecord) -> Result<Option<String>, StoreError> {
    let v = d.vulnerabilities;
    let checks = d.compliance.as_ref().map(|c| Value::Array(c.iter().map(|c| json!([c.check, c.passed])).collect()).to_string());
    let n = tx
        .prepare_cached(
            "INSERT INTO details (unit, as_of, vuln_critical, vuln_high, vuln_medium, vuln_low, checks) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![d.unit, micros(&d.as_of), v.map(|v| v.critical), v.map(|v| v.high), v.map(|v| v.medium), v.map(|v| v.low), checks]))
        .map_err(ctx(loc, "storing a detail snapshot"))?;
    if n == 0 {
        return Ok(None);
    }
    let mut data = json!({"unit": d.unit, "as_of": d.as_of.with_timezone(&BEIJING)});
    if let Value::Object(map) = &mut data {
        if let Some(v) = v {
            map.insert("vulnerabilities".into(), json!(v));
        }
        if let Some(c) = &d.compliance {
            map.insert("compliance".into(), json!(c));
        }
    }
    Ok(Some(data.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AlertStatusEvent, ScoreEvent, decode_scores};

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        t(s).with_timezone(&Utc)
    }

    fn score(unit: &str, time: &str, total: f64) -> Value {
        json!({"type": "score", "unit": unit, "time": time, "total": total, "threat": total / 2.0, "asset": 10, "compliance": 20})
    }

    fn alert(id: &str, unit: &str, time: &str) -> Value {
        json!({"type": "alert", "id": id, "unit": unit, "time": time, "severity": "high", "category": "恶意代码", "title": "木马回连"})
    }

    fn status(id: &str, status: &str, time: &str) -> Value {
        json!({"type": "status", "id": id, "status": status, "time": time})
    }

    /// A fresh path in the temp dir (removed with its WAL files when dropped).
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(name: &str) -> TempDb {
            let p = std::env::temp_dir().join(format!("sw-store-{}-{name}.db", std::process::id()));
            let db = TempDb(p);
            db.clean();
            db
        }

        fn clean(&self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            self.clean();
        }
    }

    #[test]
    fn the_store_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<Store>();
    }

    /// Waits until the checkpoint thread has caught up more than `seen` times; panics after
    /// 10 s.
    fn caught_up_after(store: &Store, seen: u64) -> u64 {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let n = store.checkpointer.as_ref().expect("a file store has a checkpoint thread").caught_up();
            if n > seen {
                return n;
            }
            assert!(std::time::Instant::now() < until, "the checkpoint thread did not catch up within 10 s (caught up {n} times)");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn the_checkpoint_thread_copies_commits_into_the_file_and_the_log_restarts() {
        let db = TempDb::new("checkpoint");
        let mut store = Store::open(Some(&db.0)).unwrap();
        // The thread's first checkpoint, at start, copies the migration.
        let mut seen = caught_up_after(&store, 0);
        let file_before = std::fs::metadata(&db.0).unwrap().len();
        let batch = |k: usize| -> Vec<Value> {
            let time = format!("2026-11-29T08:{:02}:{:02}+08:00", k / 60, k % 60);
            (0..500).map(|u| score(&format!("u{u}"), &time, (u % 100) as f64)).collect()
        };
        store.ingest(&batch(0), None).unwrap();
        let first_bytes = store.stats().unwrap().wal_bytes;
        assert!(first_bytes > 500 * 20, "the log is {first_bytes} bytes after a commit of 500 scores");
        seen = caught_up_after(&store, seen);
        // Far below the commits' own threshold of 16,384 pages, the batch is in the file while
        // the store is open (its score event alone is some 30 KB).
        let file_after = std::fs::metadata(&db.0).unwrap().len();
        assert!(file_after >= file_before + 16 * 1024, "database file {file_before} -> {file_after} bytes");
        // Each commit that begins with every frame copied restarts the log at its beginning:
        // 20 more batches leave it as long as before (without restarts it would hold all 21).
        for k in 1..=20 {
            store.ingest(&batch(k), None).unwrap();
            seen = caught_up_after(&store, seen);
        }
        let wal_bytes = store.stats().unwrap().wal_bytes;
        assert!(wal_bytes < 4 * first_bytes, "the log is {wal_bytes} bytes after 21 commits, {first_bytes} after the first");
        // The log's header counts its restarts (the checkpoint sequence number, bytes 12–15,
        // big-endian): one at each of the 21 commits.
        let header = std::fs::read(format!("{}-wal", db.0.display())).unwrap();
        assert_eq!(u32::from_be_bytes([header[12], header[13], header[14], header[15]]), 21);
        drop(store);
        // Reopened, everything is there.
        let store = Store::open(Some(&db.0)).unwrap();
        let snap = store.snapshot().unwrap();
        assert_eq!((snap.scores.len(), snap.last_event_id), (500, 21));
        assert_eq!(snap.as_of.unwrap().to_rfc3339(), "2026-11-29T08:00:20+08:00");
    }

    #[test]
    fn a_long_log_is_cut_back_when_it_restarts() {
        let db = TempDb::new("wal-limit");
        let mut store = Store::open(Some(&db.0)).unwrap();
        let mut seen = caught_up_after(&store, 0);
        // One commit of some 10 MB: 5,000 alerts with 1,000-character analyses.
        let analysis = "研".repeat(1000);
        let big: Vec<Value> = (0..5000)
            .map(|i| {
                let mut a = alert(&format!("A{i}"), "u1", "2026-11-29T08:00:00+08:00");
                a["analysis"] = json!(analysis);
                a
            })
            .collect();
        assert_eq!(store.ingest(&big, None).unwrap().accepted, 5000);
        let long = store.stats().unwrap().wal_bytes;
        assert!(long > WAL_KEEP_BYTES as u64, "the log is {long} bytes after the big commit");
        seen = caught_up_after(&store, seen);
        // The next commit restarts the copied log and cuts the file back.
        store.ingest(&[score("u1", "2026-11-29T08:00:00+08:00", 10.0)], None).unwrap();
        caught_up_after(&store, seen);
        let cut = store.stats().unwrap().wal_bytes;
        assert!(cut <= WAL_KEEP_BYTES as u64, "the log is {cut} bytes after a restart, {long} before");
    }

    #[test]
    fn a_bad_record_is_rejected_with_its_index_and_reason_and_the_others_kept() {
        let mut store = Store::open(None).unwrap();
        let known = |id: &str| id != "zz";
        let long_id = "x".repeat(300);
        let batch = vec![
            score("a", "2026-11-29T08:00:00+08:00", 50.0),
            json!({"type": "score", "unit": "b", "time": "2026-11-29T08:00:00+08:00", "total": 150, "threat": 1, "asset": 2, "compliance": 3}),
            json!({"type": "score", "time": "2026-11-29T08:00:00+08:00", "total": 1, "threat": 1, "asset": 2, "compliance": 3}),
            json!({"type": "weather", "unit": "a"}),
            alert(&long_id, "a", "2026-11-29T08:00:00+08:00"),
            score("a", "2026-11-29 08:00", 50.0),
            score("zz", "2026-11-29T08:00:00+08:00", 50.0),
            alert("A-1", "a", "2026-11-29T08:01:00+08:00"),
            json!({"type": "score", "unit": "c", "time": "2026-11-29T08:00:00+08:00", "total": "high", "threat": 1, "asset": 2, "compliance": 3}),
            json!([1, 2]),
            json!({"type": "alert", "id": "A-2", "unit": "a", "time": "2026-11-29T08:01:00+08:00", "severity": "严重", "category": "c", "title": "t"}),
            json!({"type": "score", "unit": 110105001, "time": "2026-11-29T08:00:00Z", "total": "12.5", "threat": 1, "asset": 2, "compliance": 3}),
        ];
        let report = store.ingest_at(&batch, Some(&known), utc("2026-11-29T08:02:00+08:00")).unwrap();
        // The payload rules: "12.5" is 12.5; a severity this build does not know is kept.
        assert_eq!(report.accepted, 4);
        assert_eq!(report.duplicate, 0);
        let reasons: Vec<(usize, &str)> = report.rejected.iter().map(|r| (r.index, r.reason.as_str())).collect();
        assert_eq!(
            reasons,
            [
                (1, "score `total` = 150 is outside 0–100"),
                (2, "missing field `unit`"),
                (3, "unknown type \"weather\" (expected score, alert, status or detail)"),
                (4, "`id` is longer than 256 characters (300)"),
                (5, "`time` is not an RFC 3339 time with offset: \"2026-11-29 08:00\" (premature end of input)"),
                (6, "unknown unit \"zz\""),
                (8, "wrong type for `total`: expected a number, got a string"),
                (9, "a record must be a JSON object, got an array"),
            ]
        );
        // Two score times (08:00 and 08:00Z = 16:00 Beijing) and two alerts: four events.
        assert_eq!((report.first_event_id, report.last_event_id), (Some(1), Some(4)));
        let snap = store.snapshot().unwrap();
        let units: Vec<(&str, f64)> = snap.scores.iter().map(|s| (s.unit.as_str(), s.total)).collect();
        assert_eq!(units, [("110105001", 12.5), ("a", 50.0)]);
        assert_eq!(snap.as_of, Some(t("2026-11-29T16:00:00+08:00")));
        assert_eq!(snap.last_event_id, 4);
    }

    #[test]
    fn every_reason_names_the_field() {
        let reason = |v: Value| Record::parse(&v, None).unwrap_err();
        assert_eq!(reason(json!({"unit": "a"})), "missing field `type`");
        assert_eq!(reason(json!({"type": 3})), "wrong type for `type`: expected a string, got a number");
        assert_eq!(reason(json!({"type": "score", "unit": true})), "wrong type for `unit`: expected a string or an integer, got a boolean");
        assert_eq!(reason(json!({"type": "score", "unit": " "})), "`unit` is empty");
        assert_eq!(reason(json!({"type": "score", "unit": "a", "time": 5})), "wrong type for `time`: expected an RFC 3339 time string, got a number");
        assert_eq!(
            reason(json!({"type": "score", "unit": "a", "time": "2026-11-29T08:00:00", "total": 1})),
            "`time` is not an RFC 3339 time with offset: \"2026-11-29T08:00:00\" (premature end of input)"
        );
        assert_eq!(reason(json!({"type": "score", "unit": "a", "time": "2026-11-29T08:00:00Z", "total": -0.5})), "score `total` = -0.5 is outside 0–100");
        assert_eq!(
            reason(json!({"type": "status", "id": "A", "status": "done", "time": "2026-11-29T08:00:00Z"})),
            "`status` must be one of new, analysing, disposing, closed (got \"done\")"
        );
        assert_eq!(
            reason(json!({"type": "detail", "unit": "a", "as_of": "2026-11-29T08:00:00Z"})),
            "a detail needs `vulnerabilities` or `compliance` (or both)"
        );
        assert_eq!(
            reason(json!({"type": "detail", "unit": "a", "as_of": "2026-11-29T08:00:00Z", "vulnerabilities": {"critical": 1, "high": -1}})),
            "`vulnerabilities.high` = -1 is not a non-negative integer below 2^32"
        );
        assert_eq!(
            reason(json!({"type": "detail", "unit": "a", "as_of": "2026-11-29T08:00:00Z", "compliance": [{"check": "x", "passed": true}, {"check": "y"}]})),
            "missing field `compliance[1].passed`"
        );
        let v =
            json!({"type": "alert", "id": "A", "unit": "a", "time": "2026-11-29T08:00:00Z", "severity": "low", "category": "c", "title": "t", "analysis": 7});
        assert_eq!(reason(v), "wrong type for `analysis`: expected a string, got a number");
    }

    #[test]
    fn resending_a_batch_gives_no_new_records_and_no_events() {
        let mut store = Store::open(None).unwrap();
        let batch = vec![
            score("a", "2026-11-29T08:00:00+08:00", 50.0),
            score("b", "2026-11-29T08:00:00+08:00", 40.0),
            alert("A-1", "a", "2026-11-29T08:01:00+08:00"),
            status("A-1", "in_progress", "2026-11-29T08:05:00+08:00"),
            json!({"type": "detail", "unit": "a", "as_of": "2026-11-29T08:00:00+08:00", "vulnerabilities": {"critical": 1, "high": 2, "medium": 3, "low": 4}}),
        ];
        let first = store.ingest(&batch, None).unwrap();
        assert_eq!((first.accepted, first.duplicate), (5, 0));
        assert_eq!((first.first_event_id, first.last_event_id), (Some(1), Some(4)), "the two scores share one event");
        let again = store.ingest(&batch, None).unwrap();
        assert_eq!(again, IngestReport { accepted: 0, duplicate: 5, rejected: vec![], first_event_id: None, last_event_id: None });
        // The same instant in another offset is the same score.
        let same = store.ingest(&[score("a", "2026-11-29T00:00:00Z", 99.0)], None).unwrap();
        assert_eq!((same.accepted, same.duplicate), (0, 1));
        assert_eq!(store.last_event_id().unwrap(), 4);
        assert_eq!(store.stats().unwrap().counts, TableCounts { scores: 2, scores_hourly: 0, units: 2, alerts: 1, status_changes: 1, details: 1, events: 4 });
        assert_eq!(store.current_score("a").unwrap().map(|s| s.total), Some(50.0));
        // A duplicate inside one batch counts as such too.
        let within = store.ingest(&[score("c", "2026-11-29T08:00:00+08:00", 1.0), score("c", "2026-11-29T08:00:00+08:00", 2.0)], None).unwrap();
        assert_eq!((within.accepted, within.duplicate), (1, 1));
    }

    #[test]
    fn a_late_score_is_stored_but_does_not_change_the_current_one() {
        let mut store = Store::open(None).unwrap();
        store.ingest(&[score("a", "2026-11-29T09:00:00+08:00", 60.0)], None).unwrap();
        let late = store.ingest(&[score("a", "2026-11-29T08:00:00+08:00", 10.0)], None).unwrap();
        assert_eq!(late.accepted, 1);
        let now = store.current_score("a").unwrap().unwrap();
        assert_eq!((now.total, now.time), (60.0, t("2026-11-29T09:00:00+08:00")));
        // Newest wins also inside one batch, whatever the order.
        store.ingest(&[score("b", "2026-11-29T09:00:00+08:00", 70.0), score("b", "2026-11-29T08:30:00+08:00", 5.0)], None).unwrap();
        assert_eq!(store.current_score("b").unwrap().map(|s| s.total), Some(70.0));
        let h = store.history("a", t("2026-11-29T00:00:00+08:00"), t("2026-11-30T00:00:00+08:00"), None).unwrap();
        assert_eq!(h.iter().map(|p| p.total).collect::<Vec<_>>(), [Some(10.0), Some(60.0)]);
        assert_eq!(store.snapshot().unwrap().as_of, Some(t("2026-11-29T09:00:00+08:00")));
    }

    #[test]
    fn a_group_commit_stores_each_batch_as_if_alone() {
        let mut store = Store::open(None).unwrap();
        let first = vec![score("a", "2026-11-29T08:00:00+08:00", 50.0), score("b", "2026-11-29T08:00:00+08:00", 40.0)];
        // The second batch repeats a score of the first (a duplicate across the group), adds
        // a newer one and carries a bad record, refused alone.
        let second = vec![score("a", "2026-11-29T08:00:00+08:00", 50.0), score("a", "2026-11-29T08:05:00+08:00", 60.0), json!({"type": "score", "unit": "a"})];
        let done: Vec<(IngestReport, Vec<StoredEvent>)> =
            store.ingest_group(&[&first, &second], None, Utc::now()).unwrap().into_iter().map(Result::unwrap).collect();
        let counts: Vec<(usize, usize, usize)> = done.iter().map(|(r, _)| (r.accepted, r.duplicate, r.rejected.len())).collect();
        assert_eq!(counts, [(2, 0, 0), (1, 1, 1)]);
        assert_eq!(done[1].0.rejected[0].index, 2);
        let ids: Vec<Vec<u64>> = done.iter().map(|(_, events)| events.iter().map(|e| e.id).collect()).collect();
        assert_eq!(ids, [vec![1], vec![2]], "event ids follow the batches' order");
        assert_eq!(store.events_after(0, 10).unwrap(), done.iter().flat_map(|(_, e)| e.clone()).collect::<Vec<_>>());
        assert_eq!(store.snapshot().unwrap().scores.iter().map(|c| (c.unit.as_str(), c.total)).collect::<Vec<_>>(), [("a", 60.0), ("b", 40.0)]);
    }

    #[test]
    fn events_match_the_wall_clients_contract() {
        let mut store = Store::open(None).unwrap();
        let batch = vec![
            score("a", "2026-11-29T08:00:00+08:00", 50.0),
            alert("A-1", "a", "2026-11-29T08:01:00+08:00"),
            score("b", "2026-11-29T08:00:00+08:00", 40.0),
            score("a", "2026-11-29T08:05:00+08:00", 55.5),
            json!({"type": "status", "id": "A-1", "status": "closed", "time": "2026-11-29T09:00:00+08:00", "note": "已隔离主机"}),
            json!({"type": "detail", "unit": "a", "as_of": "2026-11-29T08:00:00+08:00", "compliance": [{"check": "弱口令", "passed": false}]}),
        ];
        let (report, appended) = store.ingest_with_events(&batch, None, Utc::now()).unwrap();
        let events = store.events_after(0, 100).unwrap();
        assert_eq!(appended, events, "the events handed back are those stored");
        assert_eq!((report.first_event_id, report.last_event_id), (Some(1), Some(5)));
        // A score event's exact text: the items in batch order, a clear with its null total.
        let (_, clear) = store
            .ingest_with_events(
                &[score("a", "2026-11-29T08:10:00+08:00", 60.25), json!({"type": "score", "unit": "b", "time": "2026-11-29T08:10:00+08:00", "total": null})],
                None,
                Utc::now(),
            )
            .unwrap();
        assert_eq!(
            clear[0].data,
            r#"{"as_of":"2026-11-29T08:10:00+08:00","scores":[{"unit":"a","total":60.25,"threat":30.125,"asset":10.0,"compliance":20.0},{"unit":"b","total":null}]}"#
        );
        let kinds: Vec<(u64, &str)> = events.iter().map(|e| (e.id, e.kind.as_str())).collect();
        assert_eq!(kinds, [(1, "score"), (2, "alert"), (3, "score"), (4, "alert_status"), (5, "detail")]);
        let first: ScoreEvent = serde_json::from_str(&events[0].data).unwrap();
        assert_eq!(first.as_of, t("2026-11-29T08:00:00+08:00"));
        let decoded = decode_scores(&first.scores, None);
        assert!(decoded.report.rejected.is_empty());
        assert_eq!(decoded.scores.iter().map(|i| (i.unit.as_str(), i.total)).collect::<Vec<_>>(), [("a", 50.0), ("b", 40.0)]);
        let a: Alert = serde_json::from_str(&events[1].data).unwrap();
        assert_eq!((a.id.as_str(), a.severity, a.status, a.time), ("A-1", Severity::High, AlertStatus::New, t("2026-11-29T08:01:00+08:00")));
        let s: AlertStatusEvent = serde_json::from_str(&events[3].data).unwrap();
        assert_eq!((s.id.as_str(), s.status, s.at), ("A-1", AlertStatus::Closed, t("2026-11-29T09:00:00+08:00")));
        assert!(events[3].data.contains("已隔离主机"));
        assert_eq!(store.events_after(3, 1).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [4]);
        // The alerts page shows the current status.
        let page = store.alerts_since(0, 10).unwrap();
        assert_eq!(page.next, 1);
        assert_eq!(page.alerts[0]["status"], "closed");
        assert_eq!(store.alerts_since(1, 10).unwrap(), AlertsPage { alerts: vec![], next: 1 });
        assert_eq!(store.alerts_since(50, 10).unwrap().next, 1);
    }

    #[test]
    fn a_status_change_before_its_alert_applies_when_the_alert_arrives() {
        let mut store = Store::open(None).unwrap();
        store.ingest(&[status("A-9", "in_progress", "2026-11-29T08:10:00+08:00")], None).unwrap();
        store.ingest(&[alert("A-9", "a", "2026-11-29T08:00:00+08:00")], None).unwrap();
        let events = store.events_after(1, 10).unwrap();
        let a: Alert = serde_json::from_str(&events[0].data).unwrap();
        assert_eq!(a.status, AlertStatus::Disposing);
        // An older status change arriving later does not win.
        store.ingest(&[status("A-9", "new", "2026-11-29T08:05:00+08:00")], None).unwrap();
        assert_eq!(store.recent_alerts(10).unwrap().alerts[0]["status"], "disposing", "the version 1 name is read, the current one written");
        store.ingest(&[alert("A-10", "a", "2026-11-29T08:20:00+08:00"), alert("A-11", "a", "2026-11-29T08:30:00+08:00")], None).unwrap();
        let recent = store.recent_alerts(2).unwrap();
        assert_eq!(recent.alerts.iter().map(|a| a["id"].as_str().unwrap_or("")).collect::<Vec<_>>(), ["A-10", "A-11"]);
        assert_eq!(recent.next, 3);
        assert_eq!(store.alerts_since(recent.next, 10).unwrap().alerts.len(), 0);
    }

    /// Rows in the `scores` table itself (not those waiting to be folded).
    fn table_scores(store: &Store) -> i64 {
        store.conn.query_row("SELECT count(*) FROM scores", [], |r| r.get(0)).unwrap()
    }

    /// Scores wait in the event log and in memory before they reach the `scores` table a few
    /// units per commit; meanwhile reads see them, a reopen reads them back from the log
    /// (without counting a unit folded under an unmoved watermark twice), resending them is a
    /// duplicate, and retention folds everything.
    #[test]
    fn waiting_scores_are_read_kept_across_a_reopen_and_folded_in_turn() {
        let db = TempDb::new("fold");
        let units: Vec<String> = (0..40).map(|i| format!("U{i:02}")).collect();
        let batch: Vec<Value> = units.iter().map(|u| score(u, "2026-11-29T10:00:00+08:00", 50.0)).collect();
        let history = |store: &Store, unit: &str| {
            store.history(unit, t("2026-11-29T00:00:00+08:00"), t("2026-11-30T00:00:00+08:00"), None).unwrap().iter().map(|p| p.total).collect::<Vec<_>>()
        };
        {
            let mut store = Store::open(Some(&db.0)).unwrap();
            assert_eq!(store.ingest(&batch, None).unwrap().accepted, 40);
            // Nothing waited before this commit, so nothing was folded in it.
            assert_eq!(table_scores(&store), 0);
            assert_eq!(store.stats().unwrap().counts.scores, 40);
            assert_eq!(history(&store, "U39"), vec![Some(50.0)]);
        }
        {
            let mut store = Store::open(Some(&db.0)).unwrap();
            assert_eq!(store.stats().unwrap().counts.scores, 40, "read back from the log");
            assert_eq!(history(&store, "U07"), vec![Some(50.0)]);
            let again = store.ingest(&batch, None).unwrap();
            assert_eq!((again.accepted, again.duplicate), (0, 40));
            // That commit folded the first 32 units; the watermark stays below their event,
            // which still has 8 units waiting.
            assert_eq!(table_scores(&store), fold::UNITS_PER_FOLD as i64);
            assert_eq!(store.watermark, 0);
        }
        let mut store = Store::open(Some(&db.0)).unwrap();
        assert_eq!(store.stats().unwrap().counts.scores, 40, "a folded unit is not read back as waiting too");
        assert_eq!(history(&store, "U00"), vec![Some(50.0)]);
        assert_eq!(history(&store, "U39"), vec![Some(50.0)]);
        let kinds: HashMap<String, String> = units.iter().map(|u| (u.clone(), "街道".to_owned())).collect();
        let ranked = store.rankings(Period::Day, t("2026-11-29T12:00:00+08:00"), &kinds).unwrap();
        assert_eq!(ranked.rows.len(), 40);
        assert!(ranked.rows.iter().all(|r| r.samples == 1 && r.total == 50.0));
        // A later score of a folded unit is not looked up in the table, and is kept.
        assert_eq!(store.ingest(&[score("U00", "2026-11-29T10:05:00+08:00", 60.0)], None).unwrap().accepted, 1);
        assert_eq!(history(&store, "U00"), vec![Some(50.0), Some(60.0)]);
        store.apply_retention(t("2026-11-29T12:00:00+08:00"), 30).unwrap();
        assert_eq!(table_scores(&store), 41);
        assert_eq!(store.unfolded.len(), 0);
        assert_eq!(store.watermark, store.last_event_id().unwrap());
        assert_eq!(store.stats().unwrap().counts.scores, 41);
    }

    /// An event limit never purges the only copy of a waiting score: the commit that would
    /// folds everything first.
    #[test]
    fn an_event_limit_folds_waiting_scores_before_purging_their_events() {
        let db = TempDb::new("fold-limit");
        let mut store = Store::open(Some(&db.0)).unwrap();
        store.set_event_limit(Some(1));
        for (i, time) in ["2026-11-29T10:00:00+08:00", "2026-11-29T10:01:00+08:00", "2026-11-29T10:02:00+08:00"].iter().enumerate() {
            assert_eq!(store.ingest(&[score("A", time, i as f64), score("B", time, i as f64)], None).unwrap().accepted, 2);
        }
        assert_eq!(store.stats().unwrap().counts.events, 1);
        drop(store);
        let store = Store::open(Some(&db.0)).unwrap();
        let points = store.history("B", t("2026-11-29T00:00:00+08:00"), t("2026-11-30T00:00:00+08:00"), None).unwrap();
        assert_eq!(points.iter().map(|p| p.total).collect::<Vec<_>>(), vec![Some(0.0), Some(1.0), Some(2.0)]);
        assert_eq!(store.stats().unwrap().counts.scores, 6);
    }

    #[test]
    fn event_ids_survive_closing_and_reopening_a_file() {
        let db = TempDb::new("reopen");
        {
            let mut store = Store::open(Some(&db.0)).unwrap();
            let r = store.ingest(&[score("a", "2026-11-29T08:00:00+08:00", 1.0), alert("A-1", "a", "2026-11-29T08:00:00+08:00")], None).unwrap();
            assert_eq!(r.last_event_id, Some(2));
            let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
            let sync: i64 = store.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
            assert_eq!((mode.as_str(), sync), ("wal", 2), "WAL with synchronous=FULL");
        }
        let mut store = Store::open(Some(&db.0)).unwrap();
        assert_eq!(store.last_event_id().unwrap(), 2);
        assert_eq!(store.oldest_event_id().unwrap(), Some(1));
        let r = store.ingest(&[score("a", "2026-11-29T08:05:00+08:00", 2.0)], None).unwrap();
        assert_eq!(r.first_event_id, Some(3));
        assert_eq!(store.events_after(1, 10).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(store.current_score("a").unwrap().map(|s| s.total), Some(2.0));
        let user_version: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(user_version, i64::from(SCHEMA_VERSION));
    }

    #[test]
    fn a_garbage_file_is_refused_with_its_path_and_left_alone() {
        let db = TempDb::new("garbage");
        let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect();
        std::fs::write(&db.0, &garbage).unwrap();
        let err = Store::open(Some(&db.0)).unwrap_err();
        assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&db.0.display().to_string()), "{msg}");
        assert!(msg.contains("not an SQLite database"), "{msg}");
        assert_eq!(std::fs::read(&db.0).unwrap(), garbage, "the file is untouched");
    }

    #[test]
    fn a_damaged_database_is_refused() {
        let db = TempDb::new("damaged");
        {
            let mut store = Store::open(Some(&db.0)).unwrap();
            let batch: Vec<Value> = (0..2000).map(|i| score(&format!("u{i}"), "2026-11-29T08:00:00+08:00", 1.0)).collect();
            store.ingest(&batch, None).unwrap();
        }
        // Closing checkpointed the WAL into the file; overwrite a stretch of b-tree pages.
        let mut bytes = std::fs::read(&db.0).unwrap();
        assert!(bytes.len() > 16 * 4096, "{} bytes", bytes.len());
        for b in &mut bytes[4 * 4096..12 * 4096] {
            *b = 0xA5;
        }
        std::fs::write(&db.0, &bytes).unwrap();
        let err = Store::open(Some(&db.0)).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. } | StoreError::NotADatabase { .. }), "{err:?}");
        assert!(err.to_string().contains(&db.0.display().to_string()), "{err}");
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let db = TempDb::new("newer");
        {
            let conn = Connection::open(&db.0).unwrap();
            conn.execute_batch(&format!("CREATE TABLE future (x); PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 7;")).unwrap();
        }
        let err = Store::open(Some(&db.0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} was written by a newer version (schema 7, this build knows {SCHEMA_VERSION}); run that version or a newer one", db.0.display())
        );
        let conn = Connection::open(&db.0).unwrap();
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0)).unwrap();
        assert_eq!(tables, 1, "nothing was created in it");
    }

    #[test]
    fn another_applications_database_is_refused() {
        let db = TempDb::new("foreign");
        {
            let conn = Connection::open(&db.0).unwrap();
            conn.execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);").unwrap();
        }
        let err = Store::open(Some(&db.0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: an SQLite database, but not a wall-gateway store (1 schema objects but no gateway schema version); refusing to use it",
                db.0.display()
            )
        );
        Connection::open(&db.0).unwrap().execute_batch("PRAGMA application_id = 42;").unwrap();
        let err = Store::open(Some(&db.0)).unwrap_err();
        assert!(err.to_string().contains("application_id 0x2a"), "{err}");
        // An empty file is a new database, not a foreign one.
        let empty = TempDb::new("empty");
        std::fs::write(&empty.0, b"").unwrap();
        let store = Store::open(Some(&empty.0)).unwrap();
        assert_eq!(store.last_event_id().unwrap(), 0);
    }

    #[test]
    fn unit_detail_counts_incidents_and_mttr_from_what_was_sent() {
        let mut store = Store::open(None).unwrap();
        let mut closed_on_report = alert("A-4", "a", "2026-11-29T08:00:00+08:00");
        closed_on_report["status"] = json!("closed");
        let batch = vec![
            alert("A-1", "a", "2026-11-29T08:00:00+08:00"),
            alert("A-2", "a", "2026-11-29T09:00:00+08:00"),
            alert("A-3", "a", "2026-11-29T09:30:00+08:00"),
            closed_on_report,
            alert("A-5", "a", "2026-11-29T10:00:00+08:00"),
            alert("B-1", "b", "2026-11-29T08:00:00+08:00"),
            status("A-1", "in_progress", "2026-11-29T08:10:00+08:00"),
            status("A-1", "closed", "2026-11-29T10:00:00+08:00"),
            status("A-2", "closed", "2026-11-29T09:30:00+08:00"),
            status("A-3", "in_progress", "2026-11-29T09:45:00+08:00"),
            // After `now`: not counted.
            status("A-3", "closed", "2026-11-29T13:00:00+08:00"),
            json!({"type": "detail", "unit": "a", "as_of": "2026-11-29T07:00:00+08:00",
                   "vulnerabilities": {"critical": 9, "high": 9, "medium": 9, "low": 9},
                   "compliance": [{"check": "c1", "passed": true}]}),
            json!({"type": "detail", "unit": "a", "as_of": "2026-11-29T11:00:00+08:00",
                   "vulnerabilities": {"critical": 1, "high": 2, "medium": 3, "low": 4}}),
        ];
        let r = store.ingest(&batch, None).unwrap();
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        let d = store.unit_detail("a", t("2026-11-29T12:00:00+08:00")).unwrap();
        // A-1, A-2, A-4 closed; A-3 in progress; A-5 new.
        assert_eq!((d.incidents.new, d.incidents.in_progress, d.incidents.closed), (1, 1, 3));
        assert_eq!((d.incidents.analysing, d.incidents.disposing), (0, 1), "version 1's in_progress is disposing");
        // A-1: 2 h = 7200 s; A-2: 30 min = 1800 s; A-4 has no close time.
        assert_eq!(d.incidents.mttr_samples, 2);
        assert_eq!(d.incidents.mttr_s, Some(4500.0));
        assert_eq!(
            d.vulnerabilities,
            Some(Dated { as_of: t("2026-11-29T11:00:00+08:00"), value: Vulnerabilities { critical: 1, high: 2, medium: 3, low: 4 } })
        );
        // Compliance comes from the older snapshot, the newest that had it.
        assert_eq!(d.compliance, Some(Dated { as_of: t("2026-11-29T07:00:00+08:00"), value: ComplianceSummary { passed: 1, total: 1, failed: vec![] } }));
        let later = store.unit_detail("a", t("2026-11-29T14:00:00+08:00")).unwrap();
        assert_eq!((later.incidents.in_progress, later.incidents.closed), (0, 4));
        // A-3: 09:30 → 13:00 = 12600 s; (7200 + 1800 + 12600) / 3 = 7200.
        assert_eq!(later.incidents.mttr_s, Some(7200.0));
    }

    #[test]
    fn a_unit_without_detail_snapshots_has_none() {
        let mut store = Store::open(None).unwrap();
        store.ingest(&[score("a", "2026-11-29T08:00:00+08:00", 50.0)], None).unwrap();
        let d = store.unit_detail("a", t("2026-11-29T12:00:00+08:00")).unwrap();
        assert_eq!(d.vulnerabilities, None);
        assert_eq!(d.compliance, None);
        assert_eq!(d.incidents, Incidents::default());
        assert_eq!(d.incidents.mttr_s, None);
    }

    #[test]
    fn history_downsamples_by_bucket_means() {
        let mut store = Store::open(None).unwrap();
        let totals = [10.0, 20.0, 30.0, 40.0, 50.0];
        let batch: Vec<Value> = totals.iter().enumerate().map(|(i, v)| score("a", &format!("2026-11-29T08:{:02}:00+08:00", i * 4), *v)).collect();
        store.ingest(&batch, None).unwrap();
        // Samples at :00 :04 :08 :12 :16; buckets of 10 min from 08:00: [10, 20, 30] and [40, 50].
        let h = store.history("a", t("2026-11-29T08:00:00+08:00"), t("2026-11-29T09:00:00+08:00"), Some(600)).unwrap();
        let got: Vec<_> = h.iter().map(|p| (p.t, p.total, p.threat, p.samples)).collect();
        assert_eq!(got, [(t("2026-11-29T08:00:00+08:00"), Some(20.0), Some(10.0), 3), (t("2026-11-29T08:10:00+08:00"), Some(45.0), Some(22.5), 2)]);
        assert_eq!(store.history("a", t("2026-11-29T08:04:00+08:00"), t("2026-11-29T08:12:00+08:00"), None).unwrap().len(), 3, "both ends inclusive");
        assert!(store.history("nobody", t("2026-11-29T08:00:00+08:00"), t("2026-11-29T09:00:00+08:00"), Some(600)).unwrap().is_empty());
    }

    #[test]
    fn day_rankings_equal_independently_computed_means() {
        let mut store = Store::open(None).unwrap();
        let kinds: HashMap<String, String> = [("s1", "街道"), ("s2", "街道"), ("s3", "街道"), ("b1", "委办局"), ("b2", "委办局")]
            .into_iter()
            .map(|(u, k)| (u.to_owned(), k.to_owned()))
            .collect();
        // Today (29th, Beijing): s1 low, s2 high, s3 middle; b1 > b2.
        let today: &[(&str, &str, f64)] = &[
            ("s1", "2026-11-29T00:00:00+08:00", 10.0),
            ("s1", "2026-11-29T12:00:00+08:00", 20.0),
            ("s1", "2026-11-29T23:59:59+08:00", 33.0),
            ("s2", "2026-11-29T08:00:00+08:00", 90.0),
            ("s2", "2026-11-29T09:00:00+08:00", 70.0),
            ("s3", "2026-11-29T10:00:00+08:00", 45.0),
            ("b1", "2026-11-29T10:00:00+08:00", 60.0),
            ("b2", "2026-11-29T10:00:00+08:00", 30.0),
            // Next day and an unranked unit: not counted.
            ("s1", "2026-11-30T00:00:00+08:00", 100.0),
            ("zz", "2026-11-29T10:00:00+08:00", 99.0),
        ];
        // Yesterday: s1 was riskiest, s3 second, s2 third; b2 > b1.
        let yesterday: &[(&str, &str, f64)] = &[
            ("s1", "2026-11-28T10:00:00+08:00", 80.0),
            ("s2", "2026-11-28T10:00:00+08:00", 20.0),
            ("s3", "2026-11-28T10:00:00+08:00", 50.0),
            ("b1", "2026-11-28T10:00:00+08:00", 10.0),
            ("b2", "2026-11-28T23:59:00+08:00", 90.0),
        ];
        let batch: Vec<Value> = today.iter().chain(yesterday).map(|(u, time, v)| score(u, time, *v)).collect();
        store.ingest(&batch, None).unwrap();
        let r = store.rankings(Period::Day, t("2026-11-29T15:00:00+08:00"), &kinds).unwrap();
        assert_eq!((r.from, r.to, r.previous_from), (t("2026-11-29T00:00:00+08:00"), t("2026-11-30T00:00:00+08:00"), t("2026-11-28T00:00:00+08:00")));
        let mean = |unit: &str| {
            let v: Vec<f64> = today.iter().filter(|(u, time, _)| *u == unit && time.starts_with("2026-11-29")).map(|(_, _, v)| *v).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let rows: Vec<(&str, &str, u32, Option<i64>)> = r.rows.iter().map(|r| (r.kind.as_str(), r.unit.as_str(), r.rank, r.rank_change)).collect();
        assert_eq!(
            rows,
            [("委办局", "b1", 1, Some(1)), ("委办局", "b2", 2, Some(-1)), ("街道", "s2", 1, Some(2)), ("街道", "s3", 2, Some(0)), ("街道", "s1", 3, Some(-2))]
        );
        for row in &r.rows {
            assert!((row.total - mean(&row.unit)).abs() < 1e-9, "{}: {} vs {}", row.unit, row.total, mean(&row.unit));
            assert!((row.threat - mean(&row.unit) / 2.0).abs() < 1e-9);
            assert_eq!((row.asset, row.compliance), (10.0, 20.0));
        }
        assert_eq!(r.rows.iter().find(|r| r.unit == "s1").map(|r| (r.samples, r.total)), Some((3, 21.0)));
        // The instant 2026-11-28T16:30Z is the 29th in Beijing.
        let same_day = store.rankings(Period::Day, t("2026-11-28T16:30:00Z"), &kinds).unwrap();
        assert_eq!(same_day.from, t("2026-11-29T00:00:00+08:00"));
    }

    #[test]
    fn week_and_month_periods_follow_beijing_calendar() {
        // 2026-11-29 is a Sunday: its ISO week starts Monday the 23rd.
        let at = t("2026-11-29T23:30:00+08:00");
        assert_eq!(Period::Week.bounds(at), Some((t("2026-11-23T00:00:00+08:00"), t("2026-11-30T00:00:00+08:00"))));
        assert_eq!(Period::Month.bounds(at), Some((t("2026-11-01T00:00:00+08:00"), t("2026-12-01T00:00:00+08:00"))));
        assert_eq!(Period::Month.previous(t("2026-03-01T00:00:00+08:00")), Some((t("2026-02-01T00:00:00+08:00"), t("2026-03-01T00:00:00+08:00"))));
        // 2026-11-30T16:30Z is already Tuesday 1 December in Beijing.
        assert_eq!(Period::Month.bounds(t("2026-11-30T16:30:00Z")).map(|b| b.0), Some(t("2026-12-01T00:00:00+08:00")));
    }

    #[test]
    fn retention_keeps_hourly_means_and_purges_old_events() {
        let mut store = Store::open(None).unwrap();
        let kinds: HashMap<String, String> = [("a".to_owned(), "街道".to_owned())].into();
        // Old data, received long ago: four samples in the 08:00 hour, two in the 09:00 hour.
        let old = ["08:00", "08:15", "08:30", "08:45", "09:10", "09:50"];
        let totals = [10.0, 20.0, 30.0, 40.0, 70.0, 80.0];
        let batch: Vec<Value> = old.iter().zip(totals).map(|(hm, v)| score("a", &format!("2026-10-01T{hm}:00+08:00"), v)).collect();
        let r1 = store.ingest_at(&batch, None, utc("2026-10-01T10:00:00+08:00")).unwrap();
        assert_eq!(r1.last_event_id, Some(6));
        let r2 = store.ingest_at(&[score("a", "2026-11-29T08:00:00+08:00", 55.0)], None, utc("2026-11-29T08:00:01+08:00")).unwrap();
        assert_eq!(r2.first_event_id, Some(7));
        let day_before = store.rankings(Period::Day, t("2026-10-01T12:00:00+08:00"), &kinds).unwrap();

        let rep = store.apply_retention(t("2026-11-29T09:20:00+08:00"), 30).unwrap();
        assert_eq!(rep.horizon, t("2026-10-30T09:00:00+08:00"));
        assert_eq!((rep.raw_scores_rolled_up, rep.hourly_rows, rep.events_purged, rep.oldest_event_id), (6, 2, 6, Some(7)));
        assert_eq!(store.oldest_event_id().unwrap(), Some(7));
        assert_eq!(store.last_event_id().unwrap(), 7);
        let h = store.history("a", t("2026-10-01T00:00:00+08:00"), t("2026-12-01T00:00:00+08:00"), None).unwrap();
        let got: Vec<(DateTime<FixedOffset>, Option<f64>, u64)> = h.iter().map(|p| (p.t, p.total, p.samples)).collect();
        assert_eq!(
            got,
            [(t("2026-10-01T08:00:00+08:00"), Some(25.0), 4), (t("2026-10-01T09:00:00+08:00"), Some(75.0), 2), (t("2026-11-29T08:00:00+08:00"), Some(55.0), 1)]
        );
        // The day's mean is unchanged by the roll-up: (10+20+30+40+70+80)/6 = 41.666….
        let day_after = store.rankings(Period::Day, t("2026-10-01T12:00:00+08:00"), &kinds).unwrap();
        assert_eq!(day_after.rows[0].samples, 6);
        assert!((day_after.rows[0].total - 250.0 / 6.0).abs() < 1e-9);
        assert!((day_after.rows[0].total - day_before.rows[0].total).abs() < 1e-9);
        // Downsampled history over the hourly means weighs them by their samples.
        let whole = store.history("a", t("2026-10-01T00:00:00+08:00"), t("2026-10-02T00:00:00+08:00"), Some(86_400)).unwrap();
        assert!((whole[0].total.unwrap_or(0.0) - 250.0 / 6.0).abs() < 1e-9);
        // A late score before the horizon is refused; the current score and alerts stay.
        let late = store.ingest(&[score("a", "2026-10-01T08:20:00+08:00", 1.0)], None).unwrap();
        assert_eq!(late.accepted, 0);
        assert!(late.rejected[0].reason.contains("before the retention horizon 2026-10-30T09:00:00+08:00"), "{}", late.rejected[0].reason);
        assert_eq!(store.current_score("a").unwrap().map(|s| s.total), Some(55.0));
        let stats = store.stats().unwrap();
        assert_eq!((stats.counts.scores, stats.counts.scores_hourly, stats.counts.events), (1, 2, 1));
        assert_eq!(stats.oldest_record, Some(t("2026-10-01T08:00:00+08:00")));
        assert!(stats.file_bytes > 0);
        // Purging everything keeps the id sequence: the next event is 8, not 1.
        let all = store.apply_retention(t("2027-06-01T00:00:00+08:00"), 1).unwrap();
        assert_eq!((all.events_purged, all.oldest_event_id), (1, None));
        let next = store.ingest(&[alert("A-1", "a", "2027-06-01T00:00:00+08:00")], None).unwrap();
        assert_eq!(next.first_event_id, Some(8));
    }

    fn clear(unit: &str, time: &str) -> Value {
        json!({"type": "score", "unit": unit, "time": time, "total": null})
    }

    #[test]
    fn a_null_total_clears_the_unit_newest_wins_both_ways() {
        let mut store = Store::open(None).unwrap();
        store.ingest(&[score("a", "2026-11-29T08:00:00+08:00", 50.0), score("b", "2026-11-29T08:00:00+08:00", 40.0)], None).unwrap();
        // Parts may be null, absent or numbers; an absent total is a missing field, not a clear.
        let mut with_parts = clear("a", "2026-11-29T08:05:00+08:00");
        with_parts["threat"] = json!(3);
        let r = store.ingest(&[with_parts, json!({"type": "score", "unit": "b", "time": "2026-11-29T08:05:00+08:00"})], None).unwrap();
        assert_eq!((r.accepted, r.rejected.len()), (1, 1));
        assert_eq!(r.rejected[0].reason, "missing field `total`");
        let snap = store.snapshot().unwrap();
        assert_eq!(snap.scores.iter().map(|s| s.unit.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(snap.cleared, [ClearedUnit { unit: "a".into(), time: t("2026-11-29T08:05:00+08:00") }]);
        assert_eq!(snap.as_of, Some(t("2026-11-29T08:05:00+08:00")));
        assert_eq!(store.current_score("a").unwrap(), None);
        assert_eq!(store.newest_sample_time().unwrap(), Some(t("2026-11-29T08:05:00+08:00")));
        // The event carries the contract's null item, which the wall's client reads as a clear.
        let event = store.events_after(1, 10).unwrap().pop().unwrap();
        let e: ScoreEvent = serde_json::from_str(&event.data).unwrap();
        assert_eq!(e.scores, [json!({"unit": "a", "total": null})]);
        assert_eq!(decode_scores(&e.scores, None).cleared, ["a"]);
        // An older score does not undo the clear; a score at the clear's instant is the same key.
        let late = store.ingest(&[score("a", "2026-11-29T08:01:00+08:00", 70.0), score("a", "2026-11-29T08:05:00+08:00", 71.0)], None).unwrap();
        assert_eq!((late.accepted, late.duplicate), (1, 1));
        assert_eq!(store.current_score("a").unwrap(), None);
        // An older clear does not undo a newer score.
        store.ingest(&[score("a", "2026-11-29T08:10:00+08:00", 60.0), clear("a", "2026-11-29T08:07:00+08:00")], None).unwrap();
        assert_eq!(store.current_score("a").unwrap().map(|s| s.total), Some(60.0));
        assert!(store.snapshot().unwrap().cleared.is_empty());
        // History shows the clears as gaps; rankings and hourly means leave them out.
        let h = store.history("a", t("2026-11-29T08:00:00+08:00"), t("2026-11-29T09:00:00+08:00"), None).unwrap();
        let got: Vec<(String, Option<f64>, u64)> = h.iter().map(|p| (p.t.format("%H:%M").to_string(), p.total, p.samples)).collect();
        let want = [("08:00", Some(50.0), 1), ("08:01", Some(70.0), 1), ("08:05", None, 0), ("08:07", None, 0), ("08:10", Some(60.0), 1)];
        assert_eq!(got, want.map(|(hm, v, n)| (hm.to_owned(), v, n)));
        let buckets = store.history("a", t("2026-11-29T08:00:00+08:00"), t("2026-11-29T09:00:00+08:00"), Some(300)).unwrap();
        let got: Vec<(Option<f64>, u64)> = buckets.iter().map(|p| (p.total, p.samples)).collect();
        assert_eq!(got, [(Some(60.0), 2), (None, 0), (Some(60.0), 1)], "08:00–05 holds two scores, 08:05–10 only clears");
        let kinds: HashMap<String, String> = [("a".to_owned(), "街道".to_owned())].into();
        let r = store.rankings(Period::Day, t("2026-11-29T12:00:00+08:00"), &kinds).unwrap();
        assert_eq!((r.rows[0].samples, r.rows[0].total), (3, 60.0));
        let rep = store.apply_retention(t("2026-12-30T00:00:00+08:00"), 1).unwrap();
        // a's five samples and b's score roll up into one hourly row each.
        assert_eq!((rep.raw_scores_rolled_up, rep.hourly_rows), (6, 2));
        let h = store.history("a", t("2026-11-29T08:00:00+08:00"), t("2026-11-29T09:00:00+08:00"), None).unwrap();
        assert_eq!(h.iter().map(|p| (p.total, p.samples)).collect::<Vec<_>>(), [(Some(60.0), 3)]);
    }

    #[test]
    fn a_schema_1_database_is_migrated_with_its_data() {
        let db = TempDb::new("migrate");
        {
            let conn = Connection::open(&db.0).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;")).unwrap();
            conn.execute_batch(
                "INSERT INTO scores VALUES ('a', 1000000, 50, 1, 2, 3); INSERT INTO current_scores VALUES ('a', 1000000, 50, 1, 2, 3);
                 INSERT INTO events (kind, received, data) VALUES ('score', 0, '{}');",
            )
            .unwrap();
        }
        let mut store = Store::open(Some(&db.0)).unwrap();
        let version: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, i64::from(SCHEMA_VERSION));
        assert_eq!(store.current_score("a").unwrap().map(|s| (s.total, s.compliance)), Some((50.0, 3.0)));
        assert_eq!(store.last_event_id().unwrap(), 1);
        let r = store.ingest(&[clear("a", "2026-11-29T08:00:00+08:00")], None).unwrap();
        assert_eq!((r.accepted, r.first_event_id), (1, Some(2)));
        assert_eq!(store.snapshot().unwrap().cleared.len(), 1);
        let tables: Vec<String> = store
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE name LIKE '%_v1'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(tables.is_empty(), "{tables:?}");
    }

    #[test]
    fn an_event_limit_keeps_only_the_newest_events() {
        let mut store = Store::open(None).unwrap();
        store.set_event_limit(Some(3));
        for i in 0..5 {
            store.ingest(&[alert(&format!("A-{i}"), "a", "2026-11-29T08:00:00+08:00")], None).unwrap();
        }
        assert_eq!((store.oldest_event_id().unwrap(), store.last_event_id().unwrap()), (Some(3), 5));
        assert_eq!(store.events_after(0, 10).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [3, 4, 5]);
        // A batch of many events keeps only the newest of them too.
        let batch: Vec<Value> = (5..10).map(|i| alert(&format!("A-{i}"), "a", "2026-11-29T08:00:00+08:00")).collect();
        store.ingest(&batch, None).unwrap();
        assert_eq!(store.events_after(0, 10).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [8, 9, 10]);
        // Alerts themselves are kept.
        assert_eq!(store.stats().unwrap().counts.alerts, 10);
    }

    /// `cargo test --lib -- --ignored --nocapture bench_ingest_scores_into_a_file`: prints
    /// durable score records per second into a file database in the temp dir, and the time of
    /// the main queries, of a checked open and of a retention run over the result.
    #[test]
    #[ignore = "benchmark: prints figures, asserts nothing about speed"]
    fn bench_ingest_scores_into_a_file() {
        let db = TempDb::new("bench");
        let mut store = Store::open(Some(&db.0)).unwrap();
        let (units, batches, per_batch) = (50usize, 400usize, 500usize);
        let start = DateTime::parse_from_rfc3339("2026-11-01T00:00:00+08:00").unwrap();
        let mut sample = 0i64;
        let mut make = || -> Vec<Value> {
            (0..per_batch)
                .map(|_| {
                    let unit = format!("1101050{:02}", sample as usize % units);
                    let time = start + chrono::TimeDelta::seconds(60 * (sample / units as i64));
                    sample += 1;
                    let v = (sample % 1000) as f64 / 10.0;
                    json!({"type": "score", "unit": unit, "time": time.to_rfc3339(), "total": v, "threat": v, "asset": 100.0 - v, "compliance": v / 2.0})
                })
                .collect()
        };
        let prepared: Vec<Vec<Value>> = (0..batches).map(|_| make()).collect();
        let began = std::time::Instant::now();
        let mut accepted = 0;
        for batch in &prepared {
            accepted += store.ingest(batch, None).unwrap().accepted;
        }
        let secs = began.elapsed().as_secs_f64();
        println!(
            "ingest: {accepted} scores in {batches} durable batches of {per_batch}: {secs:.2} s, {:.0} records/s, {:.2} ms/batch",
            accepted as f64 / secs,
            secs * 1e3 / batches as f64
        );
        let timed = |what: &str, f: &mut dyn FnMut()| {
            let t0 = std::time::Instant::now();
            f();
            println!("{what}: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
        };
        timed("snapshot", &mut || assert_eq!(store.snapshot().unwrap().scores.len(), units));
        timed("history of one unit, 1 h buckets", &mut || {
            store.history("110105000", start, start + chrono::TimeDelta::days(30), Some(3600)).unwrap();
        });
        let kinds: HashMap<String, String> = (0..units).map(|i| (format!("1101050{i:02}"), "街道".to_owned())).collect();
        timed("day ranking", &mut || {
            store.rankings(Period::Day, start, &kinds).unwrap();
        });
        timed("stats", &mut || println!("  {:?}", store.stats().unwrap()));
        drop(store);
        let bytes = std::fs::metadata(&db.0).map(|m| m.len()).unwrap_or(0);
        let mut store = None;
        timed(&format!("open with quick_check ({:.1} MB)", bytes as f64 / 1e6), &mut || store = Some(Store::open(Some(&db.0)).unwrap()));
        let mut store = store.unwrap();
        timed("retention rolling up all raw scores", &mut || println!("  {:?}", store.apply_retention(start + chrono::TimeDelta::days(60), 1).unwrap()));
    }
}
