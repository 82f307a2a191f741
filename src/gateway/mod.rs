//! The wall gateway (issue 11): `serve` as a backend that the district's security-operations
//! platform pushes data into, that keeps it durably and serves it to every wall through the
//! `/api/v1` contract (docs/api/openapi.yaml).
//!
//! [`store`] is its storage layer: one SQLite file holding
//! * what the platform pushed, in the ingest format below;
//! * the event log behind `/api/v1/events` (ids persisted, so a wall resumes with
//!   `Last-Event-ID` across gateway restarts);
//! * and the queries behind `/scores`, `/alerts`, `/units/{id}`, history, rankings and
//!   `/health`.
//!
//! # Ingest format
//!
//! A batch is a JSON array of records (over HTTP also NDJSON, one record per line: see
//! [`crate::server`]); each record is an object tagged by `"type"`. Every
//! record is validated alone: a bad one is refused with its index and a reason, the others are
//! kept; the batch is stored in one transaction and is durable once acknowledged. Re-sending
//! is harmless: a record whose key is stored already counts as a duplicate. Unit ids may be
//! strings or integers; times are RFC 3339 with an offset (`2026-11-29T08:00:00+08:00`); scores
//! are finite numbers 0–100, higher meaning more risk. Unknown fields are ignored, `null` is
//! the same as absent (except a score's `total`, where it is a clear).
//!
//! | `type` | fields | key |
//! |---|---|---|
//! | `score` | `unit`, `time`, `total`, `threat`, `asset`, `compliance` | unit + time |
//! | `score` with `"total": null` (a clear: no data from `time` on; other parts ignored) | `unit`, `time` | unit + time |
//! | `alert` | `id` (≤ 256 chars), `unit`, `time` (reported), `severity` (`low`/`medium`/`high`/`critical` = 低/中/高/严重), `category`, `title`, `analysis`?, `status`? (`new`/`analysing`/`disposing`/`closed`, default `new`; `in_progress` reads as `disposing`) | id |
//! | `status` | `id` (the alert's), `status`, `time`, `note`? (disposal note) | id + status + time |
//! | `detail` | `unit`, `as_of`, `vulnerabilities`? `{critical, high, medium, low}` counts, `compliance`? `[{check, passed}]` (at least one of the two) | unit + as_of |
//!
//! Late and out-of-order records are stored but never override newer state: a unit's current
//! score is its newest by time, an alert's status that of its newest status change. The
//! details of each field are on [`store::Record`] and its variants.
mod checkpoint;
mod fold;
pub mod store;
