//! The risk state: the newest score of every unit and the alerts, as feeds apply updates.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// Alerts a state keeps: beyond this the oldest are dropped, so a wall running for months
/// holds a bounded number (newest first on screen; MTTR over those kept).
pub const MAX_ALERTS: usize = 5000;

use chrono::{DateTime, FixedOffset};
use smol_str::SmolStr;

use super::{Alert, AlertStatus, History, RiskScore, StageTimes};

/// The history's resolution, in seconds: a unit keeps one point per step of the clock (steps
/// counted from the Unix epoch, so 5-minute steps start on the 5 minutes), its newest score in
/// that step. A feed that updates every second therefore still shows 24 h of trend, not the
/// last [`HISTORY_LEN`](super::HISTORY_LEN) seconds.
pub const HISTORY_STEP_S: i64 = 300;

/// Whether two Unix times, seconds, fall in the same history step ([`HISTORY_STEP_S`]).
fn same_step(a_s: i64, b_s: i64) -> bool {
    a_s.div_euclid(HISTORY_STEP_S) == b_s.div_euclid(HISTORY_STEP_S)
}

/// What is known about one unit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnitState {
    /// The newest score; `None` ("no data") before the first score and after a clear
    /// ([`RiskState::clear_score`]).
    pub score: Option<RiskScore>,
    /// When the newest update, a score or a clear, was computed (the record's timestamp).
    pub as_of: Option<DateTime<FixedOffset>>,
    /// Past totals, oldest first, at most [`HISTORY_LEN`](super::HISTORY_LEN) and one score per [`HISTORY_STEP_S`]
    /// (the step's newest, at its time): `Some(total)` for a score, `None` where the unit went
    /// to no data (a clear), so a chart can leave a gap there. A gap is recorded once, however
    /// many clears follow, and only after a score. Times are kept to the second ([`History`]).
    pub history: History,
}

/// Why an update was not applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The update is older than what the unit already shows.
    #[error("unit {unit}: update at {at} is older than the shown one at {shown}")]
    Older {
        /// Unit id.
        unit: String,
        /// The update's time.
        at: String,
        /// The shown score's time.
        shown: String,
    },
    /// The score is not finite or out of 0–100.
    #[error("unit {unit}: {reason}")]
    Invalid {
        /// Unit id.
        unit: String,
        /// Which field and value.
        reason: String,
    },
    /// An alert with this id exists already.
    #[error("alert {0} is a duplicate")]
    DuplicateAlert(String),
    /// A status change for an alert never seen.
    #[error("alert {0} is unknown")]
    UnknownAlert(String),
}

/// Scores and alerts for every unit, newest wins: an update (a score, or a clear to no data)
/// older than the state it would replace is rejected, so duplicates and out-of-order events
/// never overwrite newer data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RiskState {
    /// Every unit seen, in the order first seen, with an index by id (see [`Units`]).
    units: Units,
    alerts: BTreeMap<String, Alert>,
    /// Alert ids in arrival order (the newest [`MAX_ALERTS`]).
    alert_order: VecDeque<String>,
    /// Alerts ever applied, including those dropped since.
    alerts_applied: usize,
    /// Time of each alert's current status.
    status_at: BTreeMap<String, DateTime<FixedOffset>>,
    /// When each kept alert entered each stage of the close-loop.
    stages: BTreeMap<String, StageTimes>,
    /// Timestamp of the newest update applied, if any.
    pub last_update: Option<DateTime<FixedOffset>>,
}

impl RiskState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a score for `unit` computed at `at`.
    ///
    /// # Errors
    /// [`Rejected::Invalid`] for a non-finite or out-of-range score, [`Rejected::Older`] when the
    /// unit already shows a newer update (a score or a clear). A score with the same timestamp
    /// as the shown update replaces it.
    pub fn apply_score(&mut self, unit: &str, at: DateTime<FixedOffset>, score: RiskScore) -> Result<(), Rejected> {
        score.validate().map_err(|e| Rejected::Invalid { unit: unit.to_owned(), reason: e.to_string() })?;
        if self.offer_score(unit, at, score) {
            return Ok(());
        }
        // Valid, so refused as older: name the update it lost to.
        let shown = self.newer_than(unit, at).unwrap_or(at);
        Err(Rejected::Older { unit: unit.to_owned(), at: at.to_rfc3339(), shown: shown.to_rfc3339() })
    }

    /// [`RiskState::apply_score`] for a feed that only needs to know whether it applied: no
    /// error is built (a live feed refuses hundreds of late scores a second under load, and
    /// formatting each refusal's times cost more than applying a score).
    pub fn offer_score(&mut self, unit: &str, at: DateTime<FixedOffset>, score: RiskScore) -> bool {
        if score.validate().is_err() {
            return false;
        }
        let applied = Self::put_score(self.units.state_or_insert(unit), at, score);
        if applied {
            self.touch(at);
        }
        applied
    }

    /// Puts a score into one unit's state unless it shows a newer update; an update at the
    /// same time replaces the shown one (its history entry too), and a score in the same
    /// history step as the last score replaces that point.
    fn put_score(state: &mut UnitState, at: DateTime<FixedOffset>, score: RiskScore) -> bool {
        if state.as_of.is_some_and(|shown| at < shown) {
            return false;
        }
        // A loop: a score replacing a clear at the same time may leave the step's score last.
        let at_s = at.timestamp();
        while state.history.back_s().is_some_and(|(t_s, v)| t_s == at_s || (v.is_some() && same_step(t_s, at_s))) {
            state.history.pop_back();
        }
        state.history.push_back(at, Some(score.total));
        state.score = Some(score);
        state.as_of = Some(at);
        true
    }

    /// The time of `unit`'s shown update when it is newer than `at` (an update at `at` would
    /// be refused).
    fn newer_than(&self, unit: &str, at: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        self.units.get(unit).and_then(|u| u.as_of).filter(|shown| at < *shown)
    }

    /// Clears `unit`'s score at `at`: from then on the unit has no data (`score` is `None`,
    /// drawn grey) until a newer score arrives. A clear is an update like a score: it obeys
    /// newest-wins both ways (a clear older than the unit's newest update is refused, and a
    /// score older than the clear is refused afterwards), moves `as_of` and
    /// [`RiskState::last_update`], and marks a gap (`None`) in the history after the last
    /// score. A clear at the same time as the shown update replaces it, as a score would. A
    /// unit never seen before is recorded as having no data since `at`.
    ///
    /// # Errors
    /// [`Rejected::Older`] when the unit already shows a newer update.
    pub fn clear_score(&mut self, unit: &str, at: DateTime<FixedOffset>) -> Result<(), Rejected> {
        if let Some(shown) = self.newer_than(unit, at) {
            return Err(Rejected::Older { unit: unit.to_owned(), at: at.to_rfc3339(), shown: shown.to_rfc3339() });
        }
        let state = self.update_slot(unit, at);
        // One gap after the last score; a unit that had no score has nothing to break.
        if state.history.back_s().is_some_and(|(_, v)| v.is_some()) {
            state.history.push_back(at, None);
        }
        state.score = None;
        state.as_of = Some(at);
        self.touch(at);
        Ok(())
    }

    /// The state of `unit` (created when first seen) ready to take an update at `at`, which
    /// the caller checked is not older than the shown one ([`RiskState::newer_than`]); an
    /// update at the same time as the shown one replaces it, so its history entry is taken off.
    fn update_slot(&mut self, unit: &str, at: DateTime<FixedOffset>) -> &mut UnitState {
        let state = self.units.state_or_insert(unit);
        if state.history.back_s().is_some_and(|(t_s, _)| t_s == at.timestamp()) {
            state.history.pop_back();
        }
        state
    }

    /// Adds a new alert.
    ///
    /// # Errors
    /// [`Rejected::DuplicateAlert`] when its id is known.
    pub fn apply_alert(&mut self, alert: Alert) -> Result<(), Rejected> {
        if self.alerts.contains_key(&alert.id) {
            return Err(Rejected::DuplicateAlert(alert.id));
        }
        self.touch(alert.time);
        // A snapshot's alert brings the times of its stages; else its status counts from its
        // report.
        let mut stages = StageTimes::new(alert.time);
        if let Some(s) = alert.stages {
            (stages.analysing, stages.disposing, stages.closed) = (s.analysing, s.disposing, s.closed);
            if let Some(newest) = [s.analysing, s.disposing, s.closed].into_iter().flatten().max().filter(|t| *t > alert.time) {
                self.status_at.insert(alert.id.clone(), newest);
            }
        }
        stages.enter(alert.status, alert.time);
        self.stages.insert(alert.id.clone(), stages);
        self.alert_order.push_back(alert.id.clone());
        self.alerts.insert(alert.id.clone(), alert);
        self.alerts_applied += 1;
        while self.alert_order.len() > MAX_ALERTS {
            if let Some(old) = self.alert_order.pop_front() {
                self.alerts.remove(&old);
                self.status_at.remove(&old);
                self.stages.remove(&old);
            }
        }
        Ok(())
    }

    /// Applies an alert as a snapshot lists it: a new one as [`RiskState::apply_alert`]; for
    /// one already kept, what the snapshot knows and this state missed (events it never got,
    /// e.g. while it could not resume): its acknowledgement, its note, and its status when
    /// the snapshot says when it took it (`stages`) — newest-wins like a status change. True
    /// when anything changed.
    pub fn merge_alert(&mut self, alert: Alert) -> bool {
        let Some(kept) = self.alerts.get(&alert.id) else { return self.apply_alert(alert).is_ok() };
        let (kept_status, kept_note) = (kept.status, kept.note.clone());
        let mut changed = false;
        if let Some(ack) = &alert.acknowledged {
            changed |= self.apply_ack(&alert.id, ack).unwrap_or(false);
        }
        if let Some(note) = alert.note.as_deref().filter(|n| kept_note.as_deref() != Some(*n)) {
            changed |= self.set_note(&alert.id, note);
        }
        let since = alert.stages.and_then(|s| match alert.status {
            AlertStatus::New => None,
            AlertStatus::Analysing => s.analysing,
            AlertStatus::Disposing => s.disposing,
            AlertStatus::Closed => s.closed,
        });
        if let Some(at) = since.filter(|_| kept_status != alert.status) {
            changed |= self.apply_status(&alert.id, alert.status, at).is_ok();
        }
        changed
    }

    /// Changes an alert's status.
    ///
    /// # Errors
    /// [`Rejected::UnknownAlert`] for an id never seen; [`Rejected::Older`] when the change is
    /// older than the alert's current status (a late `disposing` cannot reopen it). The stage
    /// entered is recorded in [`RiskState::stages`] (its first entry is kept).
    pub fn apply_status(&mut self, id: &str, status: AlertStatus, at: DateTime<FixedOffset>) -> Result<(), Rejected> {
        let alert = self.alerts.get_mut(id).ok_or_else(|| Rejected::UnknownAlert(id.to_owned()))?;
        let shown = self.status_at.get(id).copied().unwrap_or(alert.time);
        if at < shown {
            return Err(Rejected::Older { unit: alert.unit.clone(), at: at.to_rfc3339(), shown: shown.to_rfc3339() });
        }
        alert.status = status;
        self.status_at.insert(id.to_owned(), at);
        if let Some(stages) = self.stages.get_mut(id) {
            stages.enter(status, at);
        }
        self.touch(at);
        Ok(())
    }

    /// Sets alert `id`'s disposal note (a status change's `note`); `false` for an alert not
    /// kept.
    pub fn set_note(&mut self, id: &str, note: &str) -> bool {
        match self.alerts.get_mut(id) {
            Some(a) => {
                a.note = Some(note.to_owned());
                true
            }
            None => false,
        }
    }

    /// Records that alert `id` was acknowledged. The first acknowledgement stands; a later one
    /// changes nothing (and is not an error: every wall hears each one once or more).
    ///
    /// # Errors
    /// [`Rejected::UnknownAlert`] for an id not kept.
    pub fn apply_ack(&mut self, id: &str, ack: &super::Ack) -> Result<bool, Rejected> {
        let alert = self.alerts.get_mut(id).ok_or_else(|| Rejected::UnknownAlert(id.to_owned()))?;
        if alert.acknowledged.is_some() {
            return Ok(false);
        }
        alert.acknowledged = Some(ack.clone());
        Ok(true)
    }

    fn touch(&mut self, at: DateTime<FixedOffset>) {
        if self.last_update.is_none_or(|t| at > t) {
            self.last_update = Some(at);
        }
    }

    /// The state of one unit, if it ever had an update.
    pub fn unit(&self, id: &str) -> Option<&UnitState> {
        self.units.get(id)
    }

    /// The newest score of one unit.
    pub fn score(&self, id: &str) -> Option<RiskScore> {
        self.units.get(id).and_then(|u| u.score)
    }

    /// All units with state, with their ids, in the order first seen (sort them to show them).
    pub fn units(&self) -> impl Iterator<Item = (&str, &UnitState)> {
        self.units.slots.iter().map(|s| (s.id.as_str(), &s.state))
    }

    /// The newest score of `id`, looked for first at position `*hint` of [`RiskState::units`]
    /// and by id when another unit is there or `*hint` is past the end; when `id` is found,
    /// `*hint` is set to where it is (a unit the state does not know leaves it as it was). A
    /// caller walking the same units on every update (the map's units, each keeping its hint)
    /// so reads them in order without a lookup: at 10,000 units a lookup by id misses the
    /// caches, an in-order read does not. A stale hint (another state, a state rebuilt) only
    /// costs the lookup.
    pub fn score_hinted(&self, id: &str, hint: &mut usize) -> Option<RiskScore> {
        let slot = self.units.find(id, *hint)?;
        *hint = slot;
        self.units.slots[slot].state.score
    }

    /// One alert by id.
    pub fn alert(&self, id: &str) -> Option<&Alert> {
        self.alerts.get(id)
    }

    /// Alerts, newest first.
    pub fn alerts_newest_first(&self) -> impl Iterator<Item = &Alert> {
        self.alert_order.iter().rev().filter_map(|id| self.alerts.get(id))
    }

    /// When alert `id` took its current status (its raise time until a status change).
    pub fn status_time(&self, id: &str) -> Option<DateTime<FixedOffset>> {
        self.status_at.get(id).copied().or_else(|| self.alerts.get(id).map(|a| a.time))
    }

    /// When alert `id` entered each stage, while it is kept.
    pub fn stages(&self, id: &str) -> Option<&StageTimes> {
        self.stages.get(id)
    }

    /// Number of alerts ever raised (grows by one per new alert, also past [`MAX_ALERTS`]; a
    /// fresh state starts at 0).
    pub fn alert_count(&self) -> usize {
        self.alerts_applied
    }

    /// Number of alerts kept (at most [`MAX_ALERTS`]).
    pub fn alerts_kept(&self) -> usize {
        self.alert_order.len()
    }

    /// Number of alerts that are not closed.
    pub fn open_alerts(&self) -> usize {
        self.alerts.values().filter(|a| a.status != AlertStatus::Closed).count()
    }
}

/// The units of a [`RiskState`] in dense storage: one slot per unit in the order first seen,
/// and an index from id to slot. A live feed sends its units in the same order on every update
/// (the backend's order, which need not be the order they were first seen in: a snapshot may
/// list them by id), so each slot remembers which slot was asked for right after it last time,
/// and [`Units::state_or_insert`] checks that one before hashing: after one update in a feed's
/// order, every unit of the next is found without a lookup, and when that order is the slots'
/// own a full rescore walks them in memory order. Units are never removed (a cleared unit
/// keeps its slot), so slots never move.
#[derive(Clone, Debug, Default)]
struct Units {
    /// Unit id → slot; hashed (foldhash). Ids up to 23 bytes (every id we have seen) sit
    /// inline, so the table is 32 B a unit and a lookup reads no other memory.
    index: HashMap<SmolStr, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    /// By slot: the slot asked for right after it last time (at first, the next slot): where
    /// the next unit of a feed's update is expected.
    after: Vec<u32>,
    /// The slot last found or inserted.
    last: Option<u32>,
}

/// One unit's slot: its id beside its state, so that checking the guessed slot reads the
/// memory the update then writes.
#[derive(Clone, Debug)]
struct Slot {
    id: SmolStr,
    state: UnitState,
}

impl Units {
    /// The slot of `id`: slot `hint` when it holds `id`, else by the index.
    fn find(&self, id: &str, hint: usize) -> Option<usize> {
        if self.slots.get(hint).is_some_and(|s| s.id == id) {
            return Some(hint);
        }
        self.index.get(id).map(|&slot| slot as usize)
    }

    fn get(&self, id: &str) -> Option<&UnitState> {
        self.index.get(id).map(|&slot| &self.slots[slot as usize].state)
    }

    /// The state of `id`, added (with no data) when first seen; its slot is expected where the
    /// last slot asked for was followed last time ([`Units::after`]).
    fn state_or_insert(&mut self, id: &str) -> &mut UnitState {
        let guess = self.last.map_or(0, |l| self.after[l as usize] as usize);
        let slot = match self.find(id, guess) {
            Some(slot) => slot,
            None => {
                // More than u32::MAX units would not fit in memory first (a slot is ~80 B).
                let slot = self.slots.len();
                let id = SmolStr::new(id);
                self.index.insert(id.clone(), slot as u32);
                self.slots.push(Slot { id, state: UnitState::default() });
                self.after.push(slot as u32 + 1);
                slot
            }
        };
        if let Some(l) = self.last {
            self.after[l as usize] = slot as u32;
        }
        self.last = Some(slot as u32);
        &mut self.slots[slot].state
    }
}

/// Equal when the same units have the same state, whatever order they were first seen in.
impl PartialEq for Units {
    fn eq(&self, other: &Self) -> bool {
        self.slots.len() == other.slots.len() && self.slots.iter().all(|s| other.get(&s.id) == Some(&s.state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }
    fn score(total: f32) -> RiskScore {
        RiskScore { total, threat: total, asset: total, compliance: total }
    }

    #[test]
    fn older_updates_never_overwrite_newer_ones() {
        let mut s = RiskState::new();
        s.apply_score("1", t("2026-11-29T08:00:05+08:00"), score(30.0)).unwrap();
        let err = s.apply_score("1", t("2026-11-29T08:00:01+08:00"), score(99.0)).unwrap_err();
        assert!(matches!(err, Rejected::Older { .. }));
        assert_eq!(s.score("1").unwrap().total, 30.0);
        // The same instant in another offset is the same time: replaced, not appended.
        s.apply_score("1", t("2026-11-29T00:00:05Z"), score(31.0)).unwrap();
        assert_eq!(s.unit("1").unwrap().history.len(), 1);
        assert_eq!(s.score("1").unwrap().total, 31.0);
    }

    #[test]
    fn a_unit_updated_every_second_keeps_one_point_per_step_and_its_trend() {
        let mut s = RiskState::new();
        let start = t("2026-11-29T08:00:00+08:00");
        // Two hours at one score a second: 20 below 10:00, then 40.
        for i in 0..7200 {
            let v = if i < 3600 { 20.0 } else { 40.0 };
            assert!(s.offer_score("1", start + chrono::TimeDelta::seconds(i), score(v)));
        }
        let u = s.unit("1").unwrap();
        assert_eq!(u.history.len(), 24, "one point per 5 minutes");
        // Each point is its step's newest score, at that score's time.
        assert_eq!(u.history.get(0).unwrap(), (t("2026-11-29T08:04:59+08:00"), Some(20.0)));
        assert_eq!(u.history.back(), Some((t("2026-11-29T09:59:59+08:00"), Some(40.0))));
        assert_eq!(crate::model::trend(u.history.iter()), 20.0, "the hour's rise, not 0 from a history of the last 288 s");
        // A gap stays a point of its own within a step.
        s.clear_score("1", t("2026-11-29T10:00:01+08:00")).unwrap();
        s.offer_score("1", t("2026-11-29T10:00:02+08:00"), score(30.0));
        s.offer_score("1", t("2026-11-29T10:00:03+08:00"), score(31.0));
        let tail: Vec<Option<f32>> = s.unit("1").unwrap().history.iter().rev().take(3).map(|(_, v)| v).collect();
        assert_eq!(tail, [Some(31.0), None, Some(40.0)]);
        // A score at a clear's own time replaces the clear, and then the step's earlier score.
        s.clear_score("1", t("2026-11-29T10:06:00+08:00")).unwrap();
        s.offer_score("1", t("2026-11-29T10:06:00+08:00"), score(33.0));
        let tail: Vec<(DateTime<FixedOffset>, Option<f32>)> = s.unit("1").unwrap().history.iter().rev().take(2).collect();
        assert_eq!(tail, [(t("2026-11-29T10:06:00+08:00"), Some(33.0)), (t("2026-11-29T10:00:03+08:00"), Some(31.0))]);
        s.clear_score("1", t("2026-11-29T10:07:00+08:00")).unwrap();
        s.offer_score("1", t("2026-11-29T10:07:00+08:00"), score(35.0));
        let tail: Vec<(DateTime<FixedOffset>, Option<f32>)> = s.unit("1").unwrap().history.iter().rev().take(2).collect();
        assert_eq!(tail, [(t("2026-11-29T10:07:00+08:00"), Some(35.0)), (t("2026-11-29T10:00:03+08:00"), Some(31.0))], "one point for the 10:05 step");
    }

    #[test]
    fn a_clear_means_no_data_and_obeys_newest_wins() {
        let mut s = RiskState::new();
        s.apply_score("1", t("2026-11-29T08:00:00+08:00"), score(40.0)).unwrap();
        s.apply_score("1", t("2026-11-29T08:05:00+08:00"), score(45.0)).unwrap();
        // An older clear is refused: the unit keeps its newer score.
        let err = s.clear_score("1", t("2026-11-29T08:04:59+08:00")).unwrap_err();
        assert!(matches!(err, Rejected::Older { .. }), "{err:?}");
        assert_eq!(s.score("1").unwrap().total, 45.0);
        // A newer one clears it, and marks a gap after the last score.
        s.clear_score("1", t("2026-11-29T08:10:00+08:00")).unwrap();
        assert_eq!(s.score("1"), None);
        let u = s.unit("1").unwrap();
        assert_eq!(u.as_of, Some(t("2026-11-29T08:10:00+08:00")));
        let history: Vec<Option<f32>> = u.history.iter().map(|(_, v)| v).collect();
        assert_eq!(history, [Some(40.0), Some(45.0), None]);
        assert_eq!(s.last_update, Some(t("2026-11-29T08:10:00+08:00")));
        // A score older than the clear cannot bring the old data back.
        assert!(matches!(s.apply_score("1", t("2026-11-29T08:07:00+08:00"), score(99.0)), Err(Rejected::Older { .. })));
        assert_eq!(s.score("1"), None);
        // A second clear adds no second gap; a newer score ends the gap.
        s.clear_score("1", t("2026-11-29T08:15:00+08:00")).unwrap();
        s.apply_score("1", t("2026-11-29T08:20:00+08:00"), score(50.0)).unwrap();
        let history: Vec<Option<f32>> = s.unit("1").unwrap().history.iter().map(|(_, v)| v).collect();
        assert_eq!(history, [Some(40.0), Some(45.0), None, Some(50.0)]);
        assert_eq!(s.score("1").unwrap().total, 50.0);
        // A clear at the same time as the shown score replaces it.
        s.clear_score("1", t("2026-11-29T08:20:00+08:00")).unwrap();
        assert_eq!(s.score("1"), None);
        let history: Vec<Option<f32>> = s.unit("1").unwrap().history.iter().map(|(_, v)| v).collect();
        assert_eq!(history, [Some(40.0), Some(45.0), None]);
        // A unit never seen: no data since then, so an older score is refused too.
        s.clear_score("2", t("2026-11-29T08:30:00+08:00")).unwrap();
        assert!(s.unit("2").unwrap().history.is_empty());
        assert!(s.apply_score("2", t("2026-11-29T08:29:00+08:00"), score(10.0)).is_err());
        // Clones compare equal, a clear included (no NaN marker in the history).
        assert_eq!(s.clone(), s);
    }

    #[test]
    fn invalid_scores_are_rejected_alone() {
        let mut s = RiskState::new();
        s.apply_score("1", t("2026-11-29T08:00:00+08:00"), score(50.0)).unwrap();
        assert!(s.apply_score("1", t("2026-11-29T08:01:00+08:00"), score(f32::INFINITY)).is_err());
        assert!(s.apply_score("2", t("2026-11-29T08:01:00+08:00"), score(101.0)).is_err());
        assert_eq!(s.score("1").unwrap().total, 50.0);
        assert!(s.score("2").is_none());
    }

    #[test]
    fn alerts_keep_arrival_order_and_reject_duplicates() {
        let mut s = RiskState::new();
        let a = |id: &str| Alert {
            id: id.into(),
            unit: "1".into(),
            time: t("2026-11-29T08:00:00+08:00"),
            severity: Severity::High,
            category: "x".into(),
            title: "y".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        };
        s.apply_alert(a("a")).unwrap();
        s.apply_alert(a("b")).unwrap();
        assert_eq!(s.apply_alert(a("a")), Err(Rejected::DuplicateAlert("a".into())));
        s.apply_status("a", AlertStatus::Closed, t("2026-11-29T09:00:00+08:00")).unwrap();
        assert!(s.apply_status("a", AlertStatus::Disposing, t("2026-11-29T08:30:00+08:00")).is_err(), "late change cannot reopen");
        assert_eq!(s.alert("a").unwrap().status, AlertStatus::Closed);
        let stages = s.stages("a").unwrap();
        assert_eq!((stages.reported, stages.disposing, stages.closed), (t("2026-11-29T08:00:00+08:00"), None, Some(t("2026-11-29T09:00:00+08:00"))));
        s.apply_status("b", AlertStatus::Analysing, t("2026-11-29T08:10:00+08:00")).unwrap();
        s.apply_status("b", AlertStatus::Disposing, t("2026-11-29T08:20:00+08:00")).unwrap();
        let stages = s.stages("b").unwrap();
        assert_eq!((stages.analysing, stages.disposing), (Some(t("2026-11-29T08:10:00+08:00")), Some(t("2026-11-29T08:20:00+08:00"))));
        let ids: Vec<_> = s.alerts_newest_first().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(s.open_alerts(), 1);
        assert!(s.stages("a").is_some());
        // Past the cap the oldest are dropped, and the count of alerts ever raised goes on.
        for i in 0..MAX_ALERTS {
            s.apply_alert(Alert { id: format!("n{i}"), ..a("x") }).unwrap();
        }
        assert_eq!(s.alerts_kept(), MAX_ALERTS);
        assert_eq!(s.alert_count(), MAX_ALERTS + 2);
        assert!(s.alert("a").is_none() && s.alert("b").is_none() && s.alert("n0").is_some());
        assert_eq!(s.status_time("a"), None);
        assert!(s.stages("a").is_none(), "dropped with its alert");
        assert!(s.apply_status("zzz", AlertStatus::Closed, t("2026-11-29T09:00:00+08:00")).is_err());
    }

    #[test]
    fn a_snapshot_brings_what_the_events_missed_for_alerts_already_kept() {
        let mut s = RiskState::new();
        let alert = Alert {
            id: "a".into(),
            unit: "1".into(),
            time: t("2026-11-29T08:00:00+08:00"),
            severity: Severity::Critical,
            category: "x".into(),
            title: "y".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        };
        assert!(s.merge_alert(alert.clone()), "new: applied");
        assert!(!s.merge_alert(alert.clone()), "the same again: nothing to do");
        // Meanwhile (events missed) it was acknowledged and closed at 09:00.
        let later = Alert {
            status: AlertStatus::Closed,
            acknowledged: Some(crate::model::Ack { by: "kiosk-1".into(), at: t("2026-11-29T08:10:00+08:00") }),
            note: Some("已处置".into()),
            stages: Some(crate::model::Stages { closed: Some(t("2026-11-29T09:00:00+08:00")), ..Default::default() }),
            ..alert.clone()
        };
        assert!(s.merge_alert(later));
        let a = s.alert("a").unwrap();
        assert_eq!((a.status, a.acknowledged.as_ref().map(|k| k.by.as_str()), a.note.as_deref()), (AlertStatus::Closed, Some("kiosk-1"), Some("已处置")));
        assert_eq!(s.stages("a").unwrap().closed, Some(t("2026-11-29T09:00:00+08:00")));
        // A status without its time cannot be ordered against what is shown: left as it is.
        let no_time = Alert { status: AlertStatus::Disposing, ..alert };
        assert!(!s.merge_alert(no_time));
        assert_eq!(s.alert("a").unwrap().status, AlertStatus::Closed);
    }

    /// Units are found by id whatever order the updates come in, and keep the order first
    /// seen; two states with the same units and scores are equal whatever that order; a hint
    /// pointing at another unit (or past the end) still finds the right score and is moved.
    #[test]
    fn units_in_any_order_are_found_and_compared_by_id() {
        let at = t("2026-11-29T08:00:00+08:00");
        let (mut a, mut b) = (RiskState::new(), RiskState::new());
        for (i, id) in ["x", "y", "z"].iter().enumerate() {
            a.apply_score(id, at, score(10.0 * (i + 1) as f32)).unwrap();
        }
        for (id, v) in [("z", 30.0), ("x", 10.0), ("y", 20.0)] {
            b.apply_score(id, at, score(v)).unwrap();
        }
        assert_eq!(a.units().map(|(id, _)| id).collect::<Vec<_>>(), ["x", "y", "z"]);
        assert_eq!(b.units().map(|(id, _)| id).collect::<Vec<_>>(), ["z", "x", "y"]);
        assert_eq!(a, b);
        // An update in yet another order lands on the right units (the guessed slot misses).
        let later = t("2026-11-29T08:05:00+08:00");
        for (id, v) in [("y", 55.0), ("x", 44.0), ("z", 66.0)] {
            assert!(a.offer_score(id, later, score(v)));
        }
        assert_eq!([a.score("x"), a.score("y"), a.score("z")].map(|s| s.unwrap().total), [44.0, 55.0, 66.0]);
        // The order of that update is learned: after y comes x, after x comes z (slots 1, 0, 2),
        // and after the update's last unit, the first of the next.
        assert_eq!(a.units.after, [2, 0, 1]);
        assert_eq!(a.units.find("x", a.units.after[1] as usize), Some(0));
        assert_ne!(a, b);
        for (mut hint, id, want) in [(2, "x", 44.0), (0, "z", 66.0), (99, "y", 55.0), (1, "y", 55.0)] {
            assert_eq!(a.score_hinted(id, &mut hint).unwrap().total, want);
            assert_eq!(a.units().nth(hint).unwrap().0, id, "the hint now points at {id}");
        }
        let mut hint = 0;
        assert_eq!(a.score_hinted("w", &mut hint), None);
        assert_eq!(hint, 0);
        // A unit first seen in the middle of a feed's run is added once and found after.
        assert!(a.offer_score("w", later, score(1.0)));
        assert!(a.offer_score("w", t("2026-11-29T08:10:00+08:00"), score(2.0)));
        assert_eq!(a.units().count(), 4);
        assert_eq!(a.score("w").unwrap().total, 2.0);
    }
}
