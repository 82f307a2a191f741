//! The risk state: the newest score of every unit and the alerts, as feeds apply updates.

use std::collections::{BTreeMap, VecDeque};

/// Alerts a state keeps: beyond this the oldest are dropped, so a wall running for months
/// holds a bounded number (newest first on screen; MTTR over those kept).
pub const MAX_ALERTS: usize = 5000;

use chrono::{DateTime, FixedOffset};

use super::{Alert, AlertStatus, RiskScore};

/// How many points of score history a unit keeps (24 h at one update per 5 minutes).
pub const HISTORY_LEN: usize = 288;

/// What is known about one unit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnitState {
    /// The newest score; `None` until the first update ("no data").
    pub score: Option<RiskScore>,
    /// When the newest score was computed (the record's timestamp).
    pub as_of: Option<DateTime<FixedOffset>>,
    /// Past totals, oldest first, at most [`HISTORY_LEN`].
    pub history: VecDeque<(DateTime<FixedOffset>, f32)>,
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

/// Scores and alerts for every unit, newest wins: an update older than the state it would
/// replace is rejected, so duplicates and out-of-order events never overwrite newer data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RiskState {
    units: BTreeMap<String, UnitState>,
    alerts: BTreeMap<String, Alert>,
    /// Alert ids in arrival order (the newest [`MAX_ALERTS`]).
    alert_order: VecDeque<String>,
    /// Alerts ever applied, including those dropped since.
    alerts_applied: usize,
    /// Time of each alert's current status.
    status_at: BTreeMap<String, DateTime<FixedOffset>>,
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
    /// unit already shows a newer one. A score with the same timestamp as the shown one
    /// replaces it.
    pub fn apply_score(&mut self, unit: &str, at: DateTime<FixedOffset>, score: RiskScore) -> Result<(), Rejected> {
        score.validate().map_err(|e| Rejected::Invalid { unit: unit.to_owned(), reason: e.to_string() })?;
        // Look up before inserting: the id is copied only for a unit seen the first time.
        if !self.units.contains_key(unit) {
            self.units.insert(unit.to_owned(), UnitState::default());
        }
        let state = self.units.get_mut(unit).expect("inserted above");
        if let Some(shown) = state.as_of
            && at < shown
        {
            return Err(Rejected::Older { unit: unit.to_owned(), at: at.to_rfc3339(), shown: shown.to_rfc3339() });
        }
        if state.history.back().is_some_and(|&(t, _)| t == at) {
            state.history.pop_back();
        }
        state.history.push_back((at, score.total));
        while state.history.len() > HISTORY_LEN {
            state.history.pop_front();
        }
        state.score = Some(score);
        state.as_of = Some(at);
        self.touch(at);
        Ok(())
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
        self.alert_order.push_back(alert.id.clone());
        self.alerts.insert(alert.id.clone(), alert);
        self.alerts_applied += 1;
        while self.alert_order.len() > MAX_ALERTS {
            if let Some(old) = self.alert_order.pop_front() {
                self.alerts.remove(&old);
                self.status_at.remove(&old);
            }
        }
        Ok(())
    }

    /// Changes an alert's status.
    ///
    /// # Errors
    /// [`Rejected::UnknownAlert`] for an id never seen; [`Rejected::Older`] when the change is
    /// older than the alert's current status (a late `in_progress` cannot reopen it).
    pub fn apply_status(&mut self, id: &str, status: AlertStatus, at: DateTime<FixedOffset>) -> Result<(), Rejected> {
        let alert = self.alerts.get_mut(id).ok_or_else(|| Rejected::UnknownAlert(id.to_owned()))?;
        let shown = self.status_at.get(id).copied().unwrap_or(alert.time);
        if at < shown {
            return Err(Rejected::Older { unit: alert.unit.clone(), at: at.to_rfc3339(), shown: shown.to_rfc3339() });
        }
        alert.status = status;
        self.status_at.insert(id.to_owned(), at);
        self.touch(at);
        Ok(())
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

    /// All units with state, by id.
    pub fn units(&self) -> impl Iterator<Item = (&str, &UnitState)> {
        self.units.iter().map(|(k, v)| (k.as_str(), v))
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
        };
        s.apply_alert(a("a")).unwrap();
        s.apply_alert(a("b")).unwrap();
        assert_eq!(s.apply_alert(a("a")), Err(Rejected::DuplicateAlert("a".into())));
        s.apply_status("a", AlertStatus::Closed, t("2026-11-29T09:00:00+08:00")).unwrap();
        assert!(s.apply_status("a", AlertStatus::InProgress, t("2026-11-29T08:30:00+08:00")).is_err(), "late change cannot reopen");
        assert_eq!(s.alert("a").unwrap().status, AlertStatus::Closed);
        let ids: Vec<_> = s.alerts_newest_first().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(s.open_alerts(), 1);
        // Past the cap the oldest are dropped, and the count of alerts ever raised goes on.
        for i in 0..MAX_ALERTS {
            s.apply_alert(Alert { id: format!("n{i}"), ..a("x") }).unwrap();
        }
        assert_eq!(s.alerts_kept(), MAX_ALERTS);
        assert_eq!(s.alert_count(), MAX_ALERTS + 2);
        assert!(s.alert("a").is_none() && s.alert("b").is_none() && s.alert("n0").is_some());
        assert_eq!(s.status_time("a"), None);
        assert!(s.apply_status("zzz", AlertStatus::Closed, t("2026-11-29T09:00:00+08:00")).is_err());
    }
}
