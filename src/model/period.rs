//! 量化考核 over time: the calendar periods (day, ISO week, month, in Beijing time) a ranking
//! is taken over, the period ranking from score samples — mean total and parts per unit, rank
//! within its kind, rank change against the previous period —, and the disposal efficiency
//! (处置效率) of each unit over a period. The gateway ranks from its store with the same
//! periods and rules; demo mode ranks from the recording with [`period_ranking`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};

use super::time::BEIJING;
use super::{RiskScore, RiskState, Sla, closed_on_time, overdue};

/// A ranking period, in Beijing time (UTC+8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// The calendar day, 00:00–24:00.
    #[default]
    Day,
    /// The ISO week, Monday 00:00 to the next Monday 00:00.
    Week,
    /// The calendar month, the 1st 00:00 to the next month's 1st 00:00.
    Month,
}

/// Midnight at the start of `date`, Beijing time.
fn beijing_midnight(date: NaiveDate) -> Option<DateTime<FixedOffset>> {
    BEIJING.from_local_datetime(&date.and_time(NaiveTime::MIN)).single()
}

impl Period {
    /// Day, week and month.
    pub const ALL: [Period; 3] = [Period::Day, Period::Week, Period::Month];

    /// The period containing `at`: `[start, end)`, both at +08:00; `None` at the ends of the
    /// calendar.
    pub fn bounds(self, at: DateTime<FixedOffset>) -> Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)> {
        let day = at.with_timezone(&BEIJING).date_naive();
        let (start, end) = match self {
            Period::Day => (day, day.checked_add_days(Days::new(1))?),
            Period::Week => {
                let monday = day.checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))?;
                (monday, monday.checked_add_days(Days::new(7))?)
            }
            Period::Month => {
                let first = day.with_day(1)?;
                (first, first.checked_add_months(Months::new(1))?)
            }
        };
        Some((beijing_midnight(start)?, beijing_midnight(end)?))
    }

    /// The period just before the one that starts at `start` (previous day, week or month):
    /// `[its start, start)`.
    pub fn previous(self, start: DateTime<FixedOffset>) -> Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)> {
        let day = start.with_timezone(&BEIJING).date_naive();
        let prev = match self {
            Period::Day => day.checked_sub_days(Days::new(1))?,
            Period::Week => day.checked_sub_days(Days::new(7))?,
            Period::Month => day.checked_sub_months(Months::new(1))?,
        };
        Some((beijing_midnight(prev)?, start))
    }

    /// The wire name: `day`, `week`, `month`.
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

/// One unit's line in a period ranking.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodRow {
    /// Unit id.
    pub unit: String,
    /// Score samples in the period.
    pub samples: u64,
    /// Mean total and parts over the period, 0–100.
    pub mean: RiskScore,
    /// 1 = riskiest of its kind (highest mean total; ties by unit id).
    pub rank: u32,
    /// `previous_rank - rank`: positive when it climbed towards 1 (riskier), negative when
    /// it fell; `None` without samples in the previous period.
    pub rank_change: Option<i64>,
}

/// Mean scores per unit of `units` over `[from, to)` from `samples` (unit, time, score):
/// sample means (every score counts once, as the gateway counts raw scores), ranked riskiest
/// first, ties by id.
fn ranked_means<'a>(
    samples: impl Iterator<Item = (&'a str, DateTime<FixedOffset>, RiskScore)>,
    units: &[&str],
    from: DateTime<FixedOffset>,
    to: DateTime<FixedOffset>,
) -> Vec<PeriodRow> {
    let mut sums: BTreeMap<&str, (u64, [f64; 4])> = BTreeMap::new();
    for (unit, t, s) in samples {
        if t < from || t >= to || !units.contains(&unit) {
            continue;
        }
        let e = sums.entry(unit).or_insert((0, [0.0; 4]));
        e.0 += 1;
        for (sum, v) in e.1.iter_mut().zip([s.total, s.threat, s.asset, s.compliance]) {
            *sum += f64::from(v);
        }
    }
    let mut rows: Vec<PeriodRow> = sums
        .into_iter()
        .map(|(unit, (n, s))| {
            let m = |i: usize| (s[i] / n as f64) as f32;
            PeriodRow {
                unit: unit.to_owned(),
                samples: n,
                mean: RiskScore { total: m(0), threat: m(1), asset: m(2), compliance: m(3) },
                rank: 0,
                rank_change: None,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.mean.total.total_cmp(&a.mean.total).then_with(|| a.unit.cmp(&b.unit)));
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i as u32 + 1;
    }
    rows
}

/// The ranking of `units` (one kind: townships, or bureaus) over the `period` containing
/// `at`, counting only samples up to `at` (the data seen so far), with each rank compared to
/// the previous period's. `samples` is called twice (this period, the previous one) and
/// yields (unit, time, score) in any order. `None` at the ends of the calendar.
pub fn period_ranking<'a, I>(samples: impl Fn() -> I, units: &[&str], period: Period, at: DateTime<FixedOffset>) -> Option<Vec<PeriodRow>>
where
    I: Iterator<Item = (&'a str, DateTime<FixedOffset>, RiskScore)>,
{
    let (from, to) = period.bounds(at)?;
    let (prev_from, _) = period.previous(from)?;
    let until = to.min(at + chrono::TimeDelta::nanoseconds(1));
    let previous: HashMap<String, u32> = ranked_means(samples(), units, prev_from, from).into_iter().map(|r| (r.unit, r.rank)).collect();
    let mut rows = ranked_means(samples(), units, from, until);
    for r in &mut rows {
        r.rank_change = previous.get(&r.unit).map(|&p| i64::from(p) - i64::from(r.rank));
    }
    Some(rows)
}

/// One unit's disposal efficiency (处置效率) over a period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EfficiencyRow {
    /// Unit id.
    pub unit: String,
    /// Incidents closed in the period.
    pub closed: usize,
    /// Of those, closed within their close limit.
    pub closed_on_time: usize,
    /// Mean time from report to close over those closed in the period, seconds.
    pub mttr_s: Option<f64>,
    /// Incidents open at `now`.
    pub open: usize,
    /// Of those, past a limit at `now`.
    pub overdue: usize,
}

impl EfficiencyRow {
    /// On-time closure rate, 0–1; `None` with nothing closed.
    pub fn on_time_rate(&self) -> Option<f64> {
        (self.closed > 0).then(|| self.closed_on_time as f64 / self.closed as f64)
    }
}

/// Disposal efficiency of every unit in `units` over the `period` containing `now`, from the
/// incidents `state` keeps, by the limits `sla`: units that had no incident in the period and
/// have none open are left out. Sorted worst first: most overdue, then lowest on-time rate,
/// then longest MTTR, then id.
pub fn disposal_efficiency(state: &RiskState, units: &[&str], sla: &Sla, period: Period, now: DateTime<FixedOffset>) -> Vec<EfficiencyRow> {
    let Some((from, to)) = period.bounds(now) else { return Vec::new() };
    let mut rows: BTreeMap<&str, (EfficiencyRow, f64)> = BTreeMap::new();
    for a in state.alerts_newest_first() {
        let Some(&unit) = units.iter().find(|u| **u == a.unit) else { continue };
        let Some(times) = state.stages(&a.id) else { continue };
        let limit = sla.limit(a.severity);
        let (row, repair_s) = rows.entry(unit).or_insert_with(|| (EfficiencyRow { unit: unit.to_owned(), ..EfficiencyRow::default() }, 0.0));
        if let Some(closed) = times.closed.filter(|c| *c >= from && *c < to && *c <= now) {
            row.closed += 1;
            row.closed_on_time += usize::from(closed_on_time(times, limit) == Some(true));
            *repair_s += (closed - times.reported).as_seconds_f64().max(0.0);
        } else if a.status.is_open() {
            row.open += 1;
            row.overdue += usize::from(overdue(times, a.status, limit, now).is_some());
        }
    }
    let mut out: Vec<EfficiencyRow> = rows
        .into_values()
        .filter(|(r, _)| r.closed + r.open > 0)
        .map(|(mut r, repair_s)| {
            r.mttr_s = (r.closed > 0).then(|| repair_s / r.closed as f64);
            r
        })
        .collect();
    out.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(a.on_time_rate().unwrap_or(1.0).total_cmp(&b.on_time_rate().unwrap_or(1.0)))
            .then(b.mttr_s.unwrap_or(0.0).total_cmp(&a.mttr_s.unwrap_or(0.0)))
            .then_with(|| a.unit.cmp(&b.unit))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Alert, AlertStatus, Severity};

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }
    fn sc(total: f32) -> RiskScore {
        RiskScore { total, threat: total / 2.0, asset: total, compliance: 10.0 }
    }

    #[test]
    fn periods_follow_the_beijing_calendar() {
        let at = t("2026-11-29T15:00:00+08:00");
        assert_eq!(Period::Day.bounds(at), Some((t("2026-11-29T00:00:00+08:00"), t("2026-11-30T00:00:00+08:00"))));
        assert_eq!(Period::Week.bounds(at), Some((t("2026-11-23T00:00:00+08:00"), t("2026-11-30T00:00:00+08:00"))));
        assert_eq!(Period::Month.bounds(at), Some((t("2026-11-01T00:00:00+08:00"), t("2026-12-01T00:00:00+08:00"))));
        assert_eq!(Period::Month.previous(t("2026-03-01T00:00:00+08:00")), Some((t("2026-02-01T00:00:00+08:00"), t("2026-03-01T00:00:00+08:00"))));
        // 16:30 UTC on the 30th is 00:30 on 1 December in Beijing.
        assert_eq!(Period::Month.bounds(t("2026-11-30T16:30:00Z")).map(|b| b.0), Some(t("2026-12-01T00:00:00+08:00")));
    }

    #[test]
    fn a_period_ranking_is_the_mean_of_its_samples_with_the_rank_change() {
        let samples = [
            // The day before: b riskiest, a second.
            ("a", "2026-11-28T10:00:00+08:00", 40.0),
            ("b", "2026-11-28T10:00:00+08:00", 60.0),
            // The day: a overtakes b.
            ("a", "2026-11-29T08:00:00+08:00", 70.0),
            ("a", "2026-11-29T09:00:00+08:00", 80.0),
            ("b", "2026-11-29T08:00:00+08:00", 50.0),
            ("c", "2026-11-29T08:00:00+08:00", 10.0),
            // After "now": not seen yet.
            ("b", "2026-11-29T20:00:00+08:00", 99.0),
            // Not one of the units ranked.
            ("z", "2026-11-29T08:00:00+08:00", 100.0),
        ];
        let owned: Vec<(&str, DateTime<FixedOffset>, RiskScore)> = samples.iter().map(|&(u, at, v)| (u, t(at), sc(v))).collect();
        let rows = period_ranking(|| owned.iter().copied(), &["a", "b", "c"], Period::Day, t("2026-11-29T12:00:00+08:00")).unwrap();
        let got: Vec<(&str, u64, f32, u32, Option<i64>)> = rows.iter().map(|r| (r.unit.as_str(), r.samples, r.mean.total, r.rank, r.rank_change)).collect();
        assert_eq!(got, [("a", 2, 75.0, 1, Some(1)), ("b", 1, 50.0, 2, Some(-1)), ("c", 1, 10.0, 3, None)]);
        assert_eq!(rows[0].mean.threat, 37.5);
    }

    #[test]
    fn disposal_efficiency_counts_on_time_closures_mttr_and_overdue() {
        let mut s = RiskState::new();
        let alert = |id: &str, unit: &str, at: &str| Alert {
            id: id.into(),
            unit: unit.into(),
            time: t(at),
            severity: Severity::Critical,
            category: "c".into(),
            title: "t".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        };
        // a: one closed in 2 h (on time, limit 4 h), one closed after 5 h (late).
        s.apply_alert(alert("1", "a", "2026-11-29T01:00:00+08:00")).unwrap();
        s.apply_status("1", AlertStatus::Closed, t("2026-11-29T03:00:00+08:00")).unwrap();
        s.apply_alert(alert("2", "a", "2026-11-29T02:00:00+08:00")).unwrap();
        s.apply_status("2", AlertStatus::Disposing, t("2026-11-29T02:10:00+08:00")).unwrap();
        s.apply_status("2", AlertStatus::Closed, t("2026-11-29T07:00:00+08:00")).unwrap();
        // b: one open, reported 20 min before now, not disposing: overdue (15 min).
        s.apply_alert(alert("3", "b", "2026-11-29T09:40:00+08:00")).unwrap();
        // c: closed the day before: outside the period, nothing open: left out.
        s.apply_alert(alert("4", "c", "2026-11-28T09:00:00+08:00")).unwrap();
        s.apply_status("4", AlertStatus::Closed, t("2026-11-28T10:00:00+08:00")).unwrap();
        let rows = disposal_efficiency(&s, &["a", "b", "c"], &Sla::default(), Period::Day, t("2026-11-29T10:00:00+08:00"));
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].unit.as_str(), rows[0].open, rows[0].overdue, rows[0].on_time_rate()), ("b", 1, 1, None), "the most overdue first");
        let a = &rows[1];
        assert_eq!((a.closed, a.closed_on_time, a.on_time_rate(), a.mttr_s), (2, 1, Some(0.5), Some(3.5 * 3600.0)));
    }
}
