//! Replaying a recording against a clock, with a speed factor, looping and seeking.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeDelta};

use super::recording::{Record, RecordBody, Recording};
use crate::model::{Alert, Rejected, RiskState};

/// What one [`Replay::advance`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayStep {
    /// Number of records applied.
    pub applied: usize,
    /// Indices (into the recording's records) of the records applied, in order; after a
    /// restart, those of the new pass follow those of the old.
    pub records: Vec<usize>,
    /// Alerts raised by those records, in order.
    pub new_alerts: Vec<Alert>,
    /// The replay reached the end and started over (the state was cleared first).
    pub restarted: bool,
}

/// A recording being played into a [`RiskState`].
///
/// Pacing: each record is due at its offset from the start, where the gap between a record and
/// the newest earlier timestamp counts at most `max_gap_s` (so a clock jump in the data does not
/// stall the wall) and a record older than an earlier one is due at once (the state then
/// rejects it if it is older than what it shows).
#[derive(Clone, Debug)]
pub struct Replay {
    recording: Arc<Recording>,
    /// Due time of each record, recording seconds since the start.
    offsets: Vec<f64>,
    cursor: usize,
    elapsed_s: f64,
    newest: Option<DateTime<FixedOffset>>,
    /// Shared with the app's picture, which takes a handle after each step: updates happen
    /// in place when the picture has let go of it, so no step copies the whole state.
    state: Arc<RiskState>,
    /// Replay speed: recording seconds per wall-clock second.
    pub speed: f64,
    /// Start over at the end.
    pub looping: bool,
    /// Completed passes.
    pub passes: u32,
    /// Gaps longer than `max_gap_s` that were shortened.
    pub clamped_gaps: usize,
    /// Updates the state refused in this pass, with their line numbers.
    pub rejected: Vec<(usize, Rejected)>,
}

/// Recording seconds to hold the final state before a loop starts over.
pub const LOOP_HOLD_S: f64 = 60.0;

impl Replay {
    /// A replay at `speed` (recording seconds per second; must be > 0), clamping gaps to
    /// `max_gap_s` recording seconds.
    pub fn new(recording: Arc<Recording>, speed: f64, looping: bool, max_gap_s: f64) -> Self {
        let mut offsets = Vec::with_capacity(recording.records.len());
        let mut clamped_gaps = 0;
        let mut newest = recording.header.start;
        let mut at = 0.0;
        for (_, r) in &recording.records {
            let gap = (r.t - newest).as_seconds_f64().max(0.0);
            if gap > max_gap_s {
                clamped_gaps += 1;
            }
            at += gap.min(max_gap_s);
            newest = newest.max(r.t);
            offsets.push(at);
        }
        Self {
            recording,
            offsets,
            cursor: 0,
            elapsed_s: 0.0,
            newest: None,
            state: Arc::default(),
            speed: speed.max(1e-6),
            looping,
            passes: 0,
            clamped_gaps,
            rejected: Vec::new(),
        }
    }

    /// The recording being played.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// When each record of the recording is due in a pass: recording seconds from the start
    /// (long gaps shortened), in record order.
    pub fn offsets(&self) -> &[f64] {
        &self.offsets
    }

    /// The state so far.
    pub fn state(&self) -> &RiskState {
        &self.state
    }

    /// A handle on the state so far (cheap; the replay updates it in place once every other
    /// handle is dropped, and copies it first otherwise).
    pub fn shared_state(&self) -> Arc<RiskState> {
        Arc::clone(&self.state)
    }

    /// Length of one pass in recording seconds (the last record's due time).
    pub fn duration_s(&self) -> f64 {
        self.offsets.last().copied().unwrap_or(0.0)
    }

    /// Recording seconds since the start of this pass.
    pub fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    /// The recording's clock now: the newest applied timestamp plus the time since it was due,
    /// or the header's start plus the elapsed time before the first record.
    pub fn clock(&self) -> DateTime<FixedOffset> {
        let (base, since) = match (self.newest, self.cursor) {
            (Some(t), c) if c > 0 => (t, self.elapsed_s - self.offsets[c - 1]),
            _ => (self.recording.header.start, self.elapsed_s),
        };
        base + TimeDelta::milliseconds((since.max(0.0) * 1000.0) as i64)
    }

    /// Whether every record of this pass has been applied.
    pub fn finished(&self) -> bool {
        self.cursor >= self.offsets.len()
    }

    /// Advances by `wall_s` wall-clock seconds (times `speed`) and applies the records due.
    pub fn advance(&mut self, wall_s: f64) -> ReplayStep {
        let mut step = ReplayStep::default();
        self.elapsed_s += wall_s.max(0.0) * self.speed;
        self.apply_due(&mut step);
        if self.looping && self.finished() && self.elapsed_s > self.duration_s() + LOOP_HOLD_S {
            let excess = self.elapsed_s - self.duration_s() - LOOP_HOLD_S;
            self.restart();
            self.passes += 1;
            step.restarted = true;
            self.elapsed_s = excess;
            self.apply_due(&mut step);
        }
        step
    }

    /// Jumps to `t_s` recording seconds from the start: the state is rebuilt from the first
    /// record, so it is exactly what the recording defines at that time.
    pub fn seek(&mut self, t_s: f64) {
        self.restart();
        self.elapsed_s = t_s.clamp(0.0, self.duration_s() + LOOP_HOLD_S);
        let mut step = ReplayStep::default();
        self.apply_due(&mut step);
    }

    fn restart(&mut self) {
        self.state = Arc::default();
        self.cursor = 0;
        self.elapsed_s = 0.0;
        self.newest = None;
        self.rejected.clear();
    }

    fn apply_due(&mut self, step: &mut ReplayStep) {
        let recording = Arc::clone(&self.recording);
        while self.cursor < self.offsets.len() && self.offsets[self.cursor] <= self.elapsed_s {
            let (line, record) = &recording.records[self.cursor];
            step.records.push(self.cursor);
            self.cursor += 1;
            self.newest = Some(self.newest.map_or(record.t, |n| n.max(record.t)));
            self.apply(*line, record, step);
            step.applied += 1;
        }
    }

    fn apply(&mut self, line: usize, record: &Record, step: &mut ReplayStep) {
        let mut results = Vec::new();
        match &record.body {
            RecordBody::Scores { scores, cleared } => {
                for s in scores {
                    results.push(Arc::make_mut(&mut self.state).apply_score(&s.unit, record.t, s.score()));
                }
                for unit in cleared {
                    results.push(Arc::make_mut(&mut self.state).clear_score(unit, record.t));
                }
            }
            RecordBody::Alert { .. } => {
                let alert = record.alert().expect("alert record");
                match Arc::make_mut(&mut self.state).apply_alert(alert.clone()) {
                    Ok(()) => step.new_alerts.push(alert),
                    Err(e) => results.push(Err(e)),
                }
            }
            RecordBody::AlertStatus { id, status, note } => {
                let state = Arc::make_mut(&mut self.state);
                let applied = state.apply_status(id, *status, record.t);
                if let (Ok(()), Some(note)) = (&applied, note) {
                    state.set_note(id, note);
                }
                results.push(applied);
            }
        }
        for r in results {
            if let Err(e) = r
                && self.rejected.len() < 10_000
            {
                self.rejected.push((line, e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording() -> Arc<Recording> {
        let lines = [
            r#"{"format":"situation-wall-recording","version":1,"map":"m","start":"2026-11-29T08:00:00+08:00"}"#,
            r#"{"t":"2026-11-29T08:00:00+08:00","type":"scores","scores":[{"unit":"a","total":10,"threat":10,"asset":10,"compliance":10},{"unit":"b","total":20,"threat":20,"asset":20,"compliance":20}]}"#,
            r#"{"t":"2026-11-29T08:01:00+08:00","type":"scores","scores":[{"unit":"a","total":50,"threat":50,"asset":50,"compliance":50}]}"#,
            r#"not json"#,
            r#"{"t":"2026-11-29T08:00:30+08:00","type":"scores","scores":[{"unit":"a","total":99,"threat":99,"asset":99,"compliance":99}]}"#,
            r#"{"t":"2026-11-29T08:02:00+08:00","type":"alert","id":"x","unit":"b","severity":"high","category":"c","title":"t"}"#,
            r#"{"t":"2026-11-29T08:03:00+08:00","type":"scores","scores":[{"unit":"b","total":70,"threat":70,"asset":70,"compliance":70}]}"#,
        ];
        Arc::new(Recording::parse(&lines.join("\n")))
    }

    fn totals(r: &Replay) -> (Option<f32>, Option<f32>) {
        (r.state().score("a").map(|s| s.total), r.state().score("b").map(|s| s.total))
    }

    #[test]
    fn known_state_at_known_times_at_two_speeds() {
        for speed in [1.0, 30.0] {
            let mut r = Replay::new(recording(), speed, false, 3600.0);
            assert_eq!(r.recording().errors.len(), 1);
            assert_eq!(r.recording().errors[0].line, 4);
            r.advance(0.0);
            assert_eq!(totals(&r), (Some(10.0), Some(20.0)));
            // 59 recording seconds in: still the first record.
            r.advance(59.0 / speed);
            assert_eq!(totals(&r), (Some(10.0), Some(20.0)));
            // 60 s: a = 50, and the late record from 08:00:30 is rejected, never shown.
            r.advance(1.0 / speed);
            assert_eq!(totals(&r), (Some(50.0), Some(20.0)));
            assert_eq!(r.rejected.len(), 1);
            assert_eq!(r.rejected[0].0, 5);
            let step = r.advance(60.0 / speed);
            assert_eq!(step.new_alerts.len(), 1);
            assert_eq!(r.clock().to_rfc3339(), "2026-11-29T08:02:00+08:00");
            r.advance(60.0 / speed);
            assert_eq!(totals(&r), (Some(50.0), Some(70.0)));
            assert!(r.finished());
        }
    }

    #[test]
    fn seeking_rebuilds_the_state_of_that_time() {
        let mut r = Replay::new(recording(), 1.0, false, 3600.0);
        r.advance(1000.0);
        r.seek(90.0);
        assert_eq!(totals(&r), (Some(50.0), Some(20.0)));
        assert!(r.state().alerts_newest_first().next().is_none());
        r.seek(0.0);
        assert_eq!(totals(&r), (Some(10.0), Some(20.0)));
    }

    #[test]
    fn looping_restarts_with_the_same_result() {
        let mut r = Replay::new(recording(), 1.0, true, 3600.0);
        r.advance(180.0);
        let first = r.state().clone();
        let step = r.advance(LOOP_HOLD_S + 1.0);
        assert!(step.restarted);
        assert_eq!(r.passes, 1);
        r.advance(180.0);
        assert_eq!(r.state().score("b"), first.score("b"));
        assert_eq!(r.rejected.len(), 1);
    }

    #[test]
    fn a_null_total_clears_the_unit_in_replay_and_an_older_score_is_refused() {
        let lines = [
            r#"{"format":"situation-wall-recording","version":1,"map":"m","start":"2026-11-29T08:00:00+08:00"}"#,
            r#"{"t":"2026-11-29T08:00:00+08:00","type":"scores","scores":[{"unit":"a","total":"40","threat":40,"asset":40,"compliance":40}]}"#,
            r#"{"t":"2026-11-29T08:01:00+08:00","type":"scores","scores":[{"unit":"a","total":null}]}"#,
            r#"{"t":"2026-11-29T08:00:30+08:00","type":"scores","scores":[{"unit":"a","total":45,"threat":45,"asset":45,"compliance":45}]}"#,
            r#"{"t":"2026-11-29T08:02:00+08:00","type":"scores","scores":[{"unit":"a","total":50,"threat":50,"asset":50,"compliance":50}]}"#,
        ];
        let mut r = Replay::new(Arc::new(Recording::parse(&lines.join("\n"))), 1.0, false, 3600.0);
        assert!(r.recording().errors.is_empty(), "{:?}", r.recording().errors);
        r.advance(0.0);
        assert_eq!(r.state().score("a").unwrap().total, 40.0, "a numeric string is a number");
        r.advance(60.0);
        assert_eq!(r.state().score("a"), None, "cleared: no data");
        assert_eq!(r.rejected.len(), 1, "the late 08:00:30 score is older than the clear");
        assert_eq!(r.rejected[0].0, 4);
        r.advance(60.0);
        assert_eq!(r.state().score("a").unwrap().total, 50.0);
        let history: Vec<Option<f32>> = r.state().unit("a").unwrap().history.iter().map(|(_, v)| v).collect();
        assert_eq!(history, [Some(40.0), None, Some(50.0)]);
    }

    #[test]
    fn long_gaps_are_clamped() {
        let lines = [
            r#"{"format":"situation-wall-recording","version":1,"map":"m","start":"2026-11-29T08:00:00+08:00"}"#,
            r#"{"t":"2026-11-29T08:00:00+08:00","type":"scores","scores":[{"unit":"a","total":1,"threat":1,"asset":1,"compliance":1}]}"#,
            r#"{"t":"2026-11-29T13:00:00+08:00","type":"scores","scores":[{"unit":"a","total":2,"threat":2,"asset":2,"compliance":2}]}"#,
        ];
        let mut r = Replay::new(Arc::new(Recording::parse(&lines.join("\n"))), 1.0, false, 10.0);
        assert_eq!(r.clamped_gaps, 1);
        assert_eq!(r.duration_s(), 10.0);
        r.advance(10.0);
        assert_eq!(r.state().score("a").unwrap().total, 2.0);
        assert_eq!(r.clock().to_rfc3339(), "2026-11-29T13:00:00+08:00");
    }
}
