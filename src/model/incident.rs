//! The incident close-loop (上报 → 研判 → 处置 → 闭环): when each incident entered each stage,
//! the time limits (SLA) per severity, and from those two whether an incident is overdue
//! (超时) now and whether it was closed on time. Pure functions of times; the wall, the
//! simulator and the tests share them.
//!
//! The two limits are counted from the report time: *respond* (start disposing, 处置) within
//! `dispose_min`, *close* (闭环) within `close_min`. An incident is overdue when it is open
//! and a limit has passed without its step: strictly more than the limit, so an incident at
//! exactly its limit is still on time.

use chrono::{DateTime, FixedOffset, TimeDelta};
use serde::{Deserialize, Serialize};

use super::{AlertStatus, Severity};

/// When one incident entered each stage of the close-loop. A stage never entered is `None`;
/// the first time a stage is entered is kept (a repeated status change does not move it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageTimes {
    /// 上报 / 新发现: when it was reported (the alert's time).
    pub reported: DateTime<FixedOffset>,
    /// 研判中: when analysis began.
    pub analysing: Option<DateTime<FixedOffset>>,
    /// 处置中: when disposal began.
    pub disposing: Option<DateTime<FixedOffset>>,
    /// 已闭环: when it was closed.
    pub closed: Option<DateTime<FixedOffset>>,
}

impl StageTimes {
    /// An incident reported at `reported`, in no later stage yet.
    pub fn new(reported: DateTime<FixedOffset>) -> Self {
        Self { reported, analysing: None, disposing: None, closed: None }
    }

    /// Records that the incident entered `stage` at `at`. The first entry into a stage is
    /// kept; [`AlertStatus::New`] changes nothing (the report time is fixed). Entering an open
    /// stage after closing reopens it: the close time is forgotten, so its limits apply again.
    pub fn enter(&mut self, stage: AlertStatus, at: DateTime<FixedOffset>) {
        if stage.is_open() && self.closed.is_some_and(|c| c <= at) {
            self.closed = None;
        }
        let slot = match stage {
            AlertStatus::New => return,
            AlertStatus::Analysing => &mut self.analysing,
            AlertStatus::Disposing => &mut self.disposing,
            AlertStatus::Closed => &mut self.closed,
        };
        slot.get_or_insert(at);
    }

    /// When disposal began: the disposing time, or the closing time for an incident closed
    /// without a disposing step.
    pub fn response(&self) -> Option<DateTime<FixedOffset>> {
        match (self.disposing, self.closed) {
            (Some(d), Some(c)) => Some(d.min(c)),
            (d, c) => d.or(c),
        }
    }
}

/// The two time limits of one severity, minutes from the report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaLimit {
    /// Start disposing (处置) within this many minutes of the report.
    pub dispose_min: f64,
    /// Close (闭环) within this many minutes of the report.
    pub close_min: f64,
}

impl SlaLimit {
    /// The respond limit as a duration (whole milliseconds).
    pub fn dispose(&self) -> TimeDelta {
        minutes(self.dispose_min)
    }

    /// The close limit as a duration (whole milliseconds).
    pub fn close(&self) -> TimeDelta {
        minutes(self.close_min)
    }
}

fn minutes(m: f64) -> TimeDelta {
    TimeDelta::milliseconds((m * 60_000.0).round() as i64)
}

/// `[sla]`: the time limits per severity. An unknown severity has the medium limits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sla {
    /// 低危.
    pub low: SlaLimit,
    /// 中危 (and unknown severities).
    pub medium: SlaLimit,
    /// 高危.
    pub high: SlaLimit,
    /// 严重.
    pub critical: SlaLimit,
}

impl Default for Sla {
    /// 严重 15 min / 4 h, 高危 1 h / 24 h, 中危 4 h / 3 days, 低危 24 h / 7 days. These are
    /// starting values of our own choosing (each grade a few times the next one's), not a
    /// standard's: a district sets its own in `[sla]`.
    fn default() -> Self {
        let l = |dispose_min: f64, close_min: f64| SlaLimit { dispose_min, close_min };
        Self { low: l(1440.0, 10080.0), medium: l(240.0, 4320.0), high: l(60.0, 1440.0), critical: l(15.0, 240.0) }
    }
}

impl Sla {
    /// The limits of a severity.
    pub fn limit(&self, severity: Severity) -> SlaLimit {
        match severity {
            Severity::Low => self.low,
            Severity::Medium | Severity::Unknown => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }

    /// Checks every limit is finite and positive, and that no severity must close before it
    /// must respond.
    ///
    /// # Errors
    /// A message naming the severity and the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, l) in [("low", self.low), ("medium", self.medium), ("high", self.high), ("critical", self.critical)] {
            for (field, v) in [("dispose_min", l.dispose_min), ("close_min", l.close_min)] {
                if !v.is_finite() || v <= 0.0 || v > 525_600.0 * 10.0 {
                    return Err(format!("{name}.{field} = {v} must be a positive number of minutes (at most ten years)"));
                }
            }
            if l.close_min < l.dispose_min {
                return Err(format!("{name}: close_min {} is shorter than dispose_min {}", l.close_min, l.dispose_min));
            }
        }
        Ok(())
    }
}

/// Which limit an open incident has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Overdue {
    /// 未响应超时: not yet disposing past the respond limit (the unit has not answered the
    /// notification).
    Response,
    /// 闭环超时: not closed past the close limit.
    Closure,
}

/// Whether an incident in `status` with these stage times is overdue at `now`: the close
/// limit passed while open is [`Overdue::Closure`]; else the respond limit passed with no
/// disposal begun is [`Overdue::Response`]. A closed incident is never overdue (see
/// [`closed_on_time`] for how it closed). At exactly a limit it is not overdue yet.
pub fn overdue(times: &StageTimes, status: AlertStatus, limit: SlaLimit, now: DateTime<FixedOffset>) -> Option<Overdue> {
    if status == AlertStatus::Closed {
        return None;
    }
    let age = now - times.reported;
    if age > limit.close() {
        Some(Overdue::Closure)
    } else if age > limit.dispose() && times.response().is_none_or(|r| r > now) {
        Some(Overdue::Response)
    } else {
        None
    }
}

/// The deadline an open incident is working to: the respond deadline until disposal begins,
/// then the close deadline; `None` once closed.
pub fn deadline(times: &StageTimes, status: AlertStatus, limit: SlaLimit) -> Option<DateTime<FixedOffset>> {
    if status == AlertStatus::Closed {
        return None;
    }
    Some(times.reported + if times.response().is_none() { limit.dispose() } else { limit.close() })
}

/// How a closed incident closed: `Some(true)` within its close limit (at the limit counts as
/// on time), `Some(false)` late, `None` while open.
pub fn closed_on_time(times: &StageTimes, limit: SlaLimit) -> Option<bool> {
    times.closed.map(|c| c - times.reported <= limit.close())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }
    const CRIT: SlaLimit = SlaLimit { dispose_min: 15.0, close_min: 240.0 };

    #[test]
    fn overdue_begins_one_second_after_each_limit() {
        let times = StageTimes::new(t("2026-11-29T08:00:00+08:00"));
        let at = |s: &str| overdue(&times, AlertStatus::New, CRIT, t(s));
        assert_eq!(at("2026-11-29T08:14:59+08:00"), None, "one second before the respond limit");
        assert_eq!(at("2026-11-29T08:15:00+08:00"), None, "at the limit: still on time");
        assert_eq!(at("2026-11-29T08:15:01+08:00"), Some(Overdue::Response), "one second after");
        assert_eq!(at("2026-11-29T11:59:59+08:00"), Some(Overdue::Response));
        assert_eq!(at("2026-11-29T12:00:00+08:00"), Some(Overdue::Response), "at the close limit: only the respond one passed");
        assert_eq!(at("2026-11-29T12:00:01+08:00"), Some(Overdue::Closure));
        assert_eq!(deadline(&times, AlertStatus::New, CRIT), Some(t("2026-11-29T08:15:00+08:00")));
    }

    #[test]
    fn disposing_in_time_leaves_only_the_close_limit() {
        let mut times = StageTimes::new(t("2026-11-29T08:00:00+08:00"));
        times.enter(AlertStatus::Analysing, t("2026-11-29T08:05:00+08:00"));
        // Analysing is not disposing: at 08:15:01 it is late to respond.
        assert_eq!(overdue(&times, AlertStatus::Analysing, CRIT, t("2026-11-29T08:15:01+08:00")), Some(Overdue::Response));
        times.enter(AlertStatus::Disposing, t("2026-11-29T08:20:00+08:00"));
        // Began late, but it has begun: no longer overdue until the close limit.
        assert_eq!(overdue(&times, AlertStatus::Disposing, CRIT, t("2026-11-29T08:20:00+08:00")), None);
        assert_eq!(deadline(&times, AlertStatus::Disposing, CRIT), Some(t("2026-11-29T12:00:00+08:00")));
        assert_eq!(overdue(&times, AlertStatus::Disposing, CRIT, t("2026-11-29T12:00:01+08:00")), Some(Overdue::Closure));
        // The first entry is kept.
        times.enter(AlertStatus::Disposing, t("2026-11-29T09:00:00+08:00"));
        assert_eq!(times.disposing, Some(t("2026-11-29T08:20:00+08:00")));
        // Closed, then reopened: open again, and overdue again past its close limit.
        times.enter(AlertStatus::Closed, t("2026-11-29T09:30:00+08:00"));
        times.enter(AlertStatus::Disposing, t("2026-11-29T09:40:00+08:00"));
        assert_eq!(times.closed, None, "reopened");
        assert_eq!(overdue(&times, AlertStatus::Disposing, CRIT, t("2026-11-29T12:00:01+08:00")), Some(Overdue::Closure));
        assert_eq!(closed_on_time(&times, CRIT), None, "open");
    }

    #[test]
    fn an_incident_closed_late_is_closed_but_not_on_time() {
        let reported = t("2026-11-29T08:00:00+08:00");
        let closed_at = |s: &str| {
            let mut times = StageTimes::new(reported);
            times.enter(AlertStatus::Closed, t(s));
            times
        };
        for (at, on_time) in [("2026-11-29T11:59:59+08:00", true), ("2026-11-29T12:00:00+08:00", true), ("2026-11-29T12:00:01+08:00", false)] {
            let times = closed_at(at);
            assert_eq!(closed_on_time(&times, CRIT), Some(on_time), "closed at {at}");
            assert_eq!(overdue(&times, AlertStatus::Closed, CRIT, t("2026-11-30T00:00:00+08:00")), None, "closed is never overdue");
            assert_eq!(deadline(&times, AlertStatus::Closed, CRIT), None);
            assert_eq!(times.response(), Some(t(at)), "closed without a disposing step: it responded by closing");
        }
    }

    #[test]
    fn limits_by_severity_and_validation() {
        let sla = Sla::default();
        assert_eq!(sla.limit(Severity::Critical), CRIT);
        assert_eq!(sla.limit(Severity::Unknown), sla.medium);
        assert_eq!(CRIT.dispose(), TimeDelta::minutes(15));
        assert!(sla.validate().is_ok());
        let bad = Sla { high: SlaLimit { dispose_min: 60.0, close_min: 30.0 }, ..sla };
        assert_eq!(bad.validate().unwrap_err(), "high: close_min 30 is shorter than dispose_min 60");
        let bad = Sla { low: SlaLimit { dispose_min: f64::NAN, close_min: 30.0 }, ..sla };
        assert!(bad.validate().unwrap_err().starts_with("low.dispose_min = NaN"));
    }
}
