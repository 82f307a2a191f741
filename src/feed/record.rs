//! Writing a live feed as a recording (`situation-wall record`, `--record FILE`), so demo mode
//! and `serve` can replay it exactly.

use std::io::Write;

use chrono::{DateTime, FixedOffset};

use super::live::FeedMsg;
use super::recording::{FORMAT_NAME, FORMAT_VERSION, Record, RecordBody, RecordingHeader, ScoreEntry};
use crate::api::ScoreItem;
use crate::model::{Alert, AlertStatus};

/// Turns feed messages into recording lines, flushing each, so a recording cut short by a
/// crash still replays up to its last line.
pub struct Recorder<W: Write> {
    out: W,
    map: String,
    description: String,
    started: bool,
}

fn entries(scores: &[ScoreItem]) -> Vec<ScoreEntry> {
    scores.iter().map(|s| ScoreEntry { unit: s.unit.to_string(), total: s.total, threat: s.threat, asset: s.asset, compliance: s.compliance }).collect()
}

fn alert_record(a: &Alert) -> Record {
    Record {
        t: a.time,
        body: RecordBody::Alert {
            id: a.id.clone(),
            unit: a.unit.clone(),
            severity: a.severity,
            category: a.category.clone(),
            title: a.title.clone(),
            status: a.status,
            analysis: a.analysis.clone(),
        },
    }
}

impl<W: Write> Recorder<W> {
    /// A recorder writing to `out`; the header (with `map` and `description`) is written
    /// before the first record, with that record's time as the start.
    pub fn new(out: W, map: &str, description: &str) -> Self {
        Self { out, map: map.to_owned(), description: description.to_owned(), started: false }
    }

    fn write(&mut self, record: &Record) -> std::io::Result<()> {
        if !self.started {
            let header = RecordingHeader {
                format: FORMAT_NAME.into(),
                version: FORMAT_VERSION,
                map: self.map.clone(),
                start: record.t,
                description: self.description.clone(),
            };
            serde_json::to_writer(&mut self.out, &header)?;
            self.out.write_all(b"\n")?;
            self.started = true;
        }
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn scores(&mut self, as_of: DateTime<FixedOffset>, scores: &[ScoreItem], cleared: &[String]) -> std::io::Result<()> {
        self.write(&Record { t: as_of, body: RecordBody::Scores { scores: entries(scores), cleared: cleared.to_vec() } })
    }

    /// The output, once done.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes the records a message stands for; connection messages write nothing.
    ///
    /// # Errors
    /// I/O errors of the output.
    pub fn record(&mut self, msg: &FeedMsg) -> std::io::Result<()> {
        match msg {
            FeedMsg::Snapshot { as_of, scores, cleared, alerts } => {
                // In time order: each alert as raised (earliest first, so the header's start
                // is the earliest time), then the status changes and the scores at `as_of`.
                let mut alerts: Vec<&Alert> = alerts.iter().collect();
                alerts.sort_by_key(|a| a.time);
                for a in &alerts {
                    self.write(&alert_record(&Alert { status: AlertStatus::New, ..(*a).clone() }))?;
                }
                for a in alerts.iter().filter(|a| a.status != AlertStatus::New) {
                    self.write(&Record {
                        t: (*as_of).max(a.time),
                        body: RecordBody::AlertStatus { id: a.id.clone(), status: a.status, note: a.note.clone() },
                    })?;
                }
                self.scores(*as_of, scores, cleared)
            }
            FeedMsg::Scores { as_of, scores, cleared } => self.scores(*as_of, scores, cleared),
            FeedMsg::Alert(a) => self.write(&alert_record(a)),
            FeedMsg::AlertStatus(e) => {
                self.write(&Record { t: e.at, body: RecordBody::AlertStatus { id: e.id.clone(), status: e.status, note: e.note.clone() } })
            }
            _ => Ok(()),
        }
    }
}
