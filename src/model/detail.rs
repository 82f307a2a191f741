//! What the panels show, derived from a [`RiskState`]: the ranking (量化考核), the district
//! summary and one unit's drill-down. Pure functions, no rendering.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, TimeDelta};

use super::{Alert, AlertStatus, Level, LevelThresholds, Overdue, RiskScore, RiskState, Severity, Sla, StageTimes, deadline, overdue};

/// Change in total score over this long gives a unit's trend arrow, seconds.
pub const TREND_WINDOW_S: i64 = 3600;
/// A change smaller than this (points) is shown as flat.
pub const TREND_DEAD_BAND: f32 = 1.0;

/// One row of the ranking.
#[derive(Clone, Debug, PartialEq)]
pub struct RankRow {
    /// Unit id.
    pub id: String,
    /// Its newest score.
    pub score: RiskScore,
    /// Total now minus total [`TREND_WINDOW_S`] earlier (0–100 points; 0 with too little
    /// history).
    pub trend: f32,
}

/// Units with a score, riskiest first (ties by id), among `ids`: the ranking board's rows and
/// the rank of a unit (its position + 1).
pub fn ranking<'a>(state: &RiskState, ids: impl IntoIterator<Item = &'a str>) -> Vec<RankRow> {
    let mut rows: Vec<RankRow> = ids
        .into_iter()
        .filter_map(|id| {
            let unit = state.unit(id)?;
            let score = unit.score?;
            Some(RankRow { id: id.to_owned(), score, trend: trend(unit.history.iter()) })
        })
        .collect();
    rows.sort_by(|a, b| b.score.total.total_cmp(&a.score.total).then_with(|| a.id.cmp(&b.id)));
    rows
}

/// Total now minus the total at or before [`TREND_WINDOW_S`] ago, from a history oldest first
/// (see [`super::UnitState::history`]); 0 when there is too little history, or when the unit
/// has no data now or had none then (a gap, `None`).
pub fn trend(history: impl DoubleEndedIterator<Item = (DateTime<FixedOffset>, Option<f32>)> + Clone) -> f32 {
    let Some((now_t, Some(now_v))) = history.clone().next_back() else { return 0.0 };
    let then = now_t - TimeDelta::seconds(TREND_WINDOW_S);
    history.rev().find(|(t, _)| *t <= then).and_then(|(_, v)| v).map_or(0.0, |v| now_v - v)
}

/// The arrow for a trend: ▲ rising, ▼ falling, = flat (within [`TREND_DEAD_BAND`]).
pub fn trend_arrow(trend: f32) -> char {
    match trend.partial_cmp(&0.0) {
        _ if trend.abs() < TREND_DEAD_BAND => '=',
        Some(Ordering::Greater) => '▲',
        _ => '▼',
    }
}

/// The district at a glance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DistrictSummary {
    /// Mean total score of the units with data, 0–100 (`None` with none).
    pub index: Option<f32>,
    /// Units per level, indexed by `Level as usize`.
    pub per_level: [usize; 4],
    /// Units without data.
    pub no_data: usize,
    /// Alerts not closed (新发现 + 研判中 + 处置中).
    pub open_incidents: usize,
    /// Open incidents of severity 严重 (not units at the critical level).
    pub open_critical: usize,
    /// Open incidents past a time limit at `now` ([`overdue`]): [respond, close].
    pub overdue: [usize; 2],
    /// Units (any kind) with at least one overdue incident.
    pub overdue_units: usize,
    /// Alerts raised in the 24 h before `now`, and any stamped after it (clock skew: data
    /// ahead of this machine's clock is applied, so it is counted too).
    pub alerts_24h: usize,
}

/// Summarises the units `ids` (the map's areas) and every alert, as of `now`; overdue by the
/// limits `sla` (none without a `now`).
pub fn district_summary<'a>(
    state: &RiskState,
    ids: impl IntoIterator<Item = &'a str>,
    thresholds: &LevelThresholds,
    sla: &Sla,
    now: Option<DateTime<FixedOffset>>,
) -> DistrictSummary {
    let mut s = DistrictSummary::default();
    let (mut sum, mut n) = (0.0f64, 0usize);
    for id in ids {
        match state.score(id) {
            Some(score) => {
                s.per_level[thresholds.level(score.total) as usize] += 1;
                sum += f64::from(score.total);
                n += 1;
            }
            None => s.no_data += 1,
        }
    }
    s.index = (n > 0).then(|| (sum / n as f64) as f32);
    s.open_incidents = state.open_alerts();
    let mut late_units = std::collections::BTreeSet::new();
    for a in state.alerts_newest_first().filter(|a| a.status.is_open()) {
        s.open_critical += usize::from(a.severity == Severity::Critical);
        if let Some(late) = now.and_then(|now| alert_overdue(state, a, sla, now)) {
            s.overdue[late as usize] += 1;
            late_units.insert(a.unit.as_str());
        }
    }
    s.overdue_units = late_units.len();
    if let Some(now) = now {
        let from = now - TimeDelta::hours(24);
        s.alerts_24h = state.alerts_newest_first().take_while(|a| a.time > from).count();
    }
    s
}

/// Whether alert `a` of `state` is overdue at `now` by the limits `sla` (see [`overdue`]).
pub fn alert_overdue(state: &RiskState, a: &Alert, sla: &Sla, now: DateTime<FixedOffset>) -> Option<Overdue> {
    let times = state.stages(&a.id).copied().unwrap_or_else(|| StageTimes::new(a.time));
    overdue(&times, a.status, sla.limit(a.severity), now)
}

/// Overdue open incidents per unit at `now`, by unit id: the count the map's badge shows.
pub fn overdue_by_unit(state: &RiskState, sla: &Sla, now: DateTime<FixedOffset>) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for a in state.alerts_newest_first().filter(|a| a.status.is_open()) {
        if alert_overdue(state, a, sla, now).is_some() {
            *out.entry(a.unit.clone()).or_insert(0) += 1;
        }
    }
    out
}

/// One open incident as the drill-down lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenIncident {
    /// The alert (its status is the stage).
    pub alert: Alert,
    /// Seconds since it was reported, at `now`.
    pub age_s: f64,
    /// Seconds from the report to the deadline it is working to ([`deadline`]).
    pub limit_s: f64,
    /// Which limit it has passed, if any.
    pub overdue: Option<Overdue>,
}

/// One unit's drill-down.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitDetail {
    /// Newest score.
    pub score: Option<RiskScore>,
    /// Its level.
    pub level: Option<Level>,
    /// Rank among the ranked units (1 = riskiest) and how many are ranked.
    pub rank: Option<(usize, usize)>,
    /// Alerts by status, indexed by `AlertStatus as usize`: 新发现, 研判中, 处置中, 已闭环.
    pub by_status: [usize; 4],
    /// The unit's open incidents, newest first (at most `recent`), with their time limits.
    pub open: Vec<OpenIncident>,
    /// Mean time from alert to 已闭环 over its closed alerts, seconds.
    pub mttr_s: Option<f64>,
    /// Newest alerts first, at most `recent` of them.
    pub recent: Vec<Alert>,
    /// Vulnerabilities by severity, critical first — derived from the asset score (see
    /// [`derived_vulnerabilities`]), so `simulated`.
    pub vulnerabilities: [u32; 4],
    /// Compliance checks passed and run — derived from the compliance score (see
    /// [`derived_compliance`]), so `simulated`.
    pub compliance: (u32, u32),
}

/// Vulnerability counts [critical, high, medium, low] that a reference backend derives from an
/// asset-risk score (0–100): one critical per 25 points, one high per 10, one medium per 4,
/// one low per 2. Used where no backend supplies them (demo mode, the reference server).
pub fn derived_vulnerabilities(asset: f32) -> [u32; 4] {
    let a = asset.clamp(0.0, 100.0);
    [25.0, 10.0, 4.0, 2.0].map(|per| (a / per).floor() as u32)
}

/// Compliance checks (passed, run) derived from a compliance-gap score (0–100): of 40 checks,
/// the share that fails is the score / 100, rounded.
pub fn derived_compliance(compliance: f32) -> (u32, u32) {
    let checks = 40u32;
    let failed = ((compliance.clamp(0.0, 100.0) / 100.0) * checks as f32).round() as u32;
    (checks - failed.min(checks), checks)
}

/// The drill-down of unit `id`: `ranked` is the ranking it is placed in; open incidents are
/// judged against `sla` at `now` (with no `now`, at their own report time).
pub fn unit_detail(
    state: &RiskState,
    id: &str,
    ranked: &[RankRow],
    thresholds: &LevelThresholds,
    sla: &Sla,
    now: Option<DateTime<FixedOffset>>,
    recent: usize,
) -> UnitDetail {
    let score = state.score(id);
    let mut by_status = [0usize; 4];
    let mut open = Vec::new();
    let (mut repair_s, mut closed) = (0.0f64, 0usize);
    let mut alerts = Vec::new();
    for a in state.alerts_newest_first().filter(|a| a.unit == id) {
        by_status[a.status as usize] += 1;
        if a.status.is_open() && open.len() < recent {
            let now = now.unwrap_or(a.time);
            let times = state.stages(&a.id).copied().unwrap_or_else(|| StageTimes::new(a.time));
            let limit = sla.limit(a.severity);
            let due = deadline(&times, a.status, limit).unwrap_or(a.time);
            open.push(OpenIncident {
                alert: a.clone(),
                age_s: (now - a.time).as_seconds_f64().max(0.0),
                limit_s: (due - a.time).as_seconds_f64(),
                overdue: overdue(&times, a.status, limit, now),
            });
        }
        if a.status == AlertStatus::Closed
            && let Some(at) = state.status_time(&a.id)
        {
            repair_s += (at - a.time).as_seconds_f64().max(0.0);
            closed += 1;
        }
        if alerts.len() < recent {
            alerts.push(a.clone());
        }
    }
    UnitDetail {
        score,
        level: score.map(|s| thresholds.level(s.total)),
        rank: ranked.iter().position(|r| r.id == id).map(|p| (p + 1, ranked.len())),
        by_status,
        open,
        mttr_s: (closed > 0).then(|| repair_s / closed as f64),
        recent: alerts,
        vulnerabilities: derived_vulnerabilities(score.map_or(0.0, |s| s.asset)),
        compliance: derived_compliance(score.map_or(0.0, |s| s.compliance)),
    }
}

/// How strongly an alert of this severity animates, 0–1; an unknown severity animates like
/// a medium one.
pub fn severity_strength(s: Severity) -> f32 {
    match s {
        Severity::Low => 0.35,
        Severity::Medium | Severity::Unknown => 0.55,
        Severity::High => 0.8,
        Severity::Critical => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }
    fn sc(total: f32) -> RiskScore {
        RiskScore { total, threat: total, asset: total, compliance: total }
    }

    fn state() -> RiskState {
        let mut s = RiskState::new();
        s.apply_score("a", t("2026-11-29T08:00:00+08:00"), sc(30.0)).unwrap();
        s.apply_score("a", t("2026-11-29T09:30:00+08:00"), sc(50.0)).unwrap();
        s.apply_score("b", t("2026-11-29T09:30:00+08:00"), sc(85.0)).unwrap();
        s.apply_score("c", t("2026-11-29T09:30:00+08:00"), sc(50.0)).unwrap();
        let alert = |id: &str, unit: &str, at: &str| Alert {
            id: id.into(),
            unit: unit.into(),
            time: t(at),
            severity: Severity::High,
            category: "x".into(),
            title: "y".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        };
        s.apply_alert(alert("1", "a", "2026-11-28T07:00:00+08:00")).unwrap();
        s.apply_alert(alert("2", "a", "2026-11-29T08:00:00+08:00")).unwrap();
        s.apply_alert(alert("3", "a", "2026-11-29T09:00:00+08:00")).unwrap();
        s.apply_status("1", AlertStatus::Closed, t("2026-11-28T09:00:00+08:00")).unwrap();
        s.apply_status("2", AlertStatus::Closed, t("2026-11-29T09:00:00+08:00")).unwrap();
        s.apply_status("3", AlertStatus::Disposing, t("2026-11-29T09:10:00+08:00")).unwrap();
        s
    }

    #[test]
    fn ranking_sorts_by_total_then_id_with_trends() {
        let s = state();
        let rows = ranking(&s, ["a", "b", "c", "nodata"]);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "c"]);
        assert_eq!(rows[1].trend, 20.0);
        assert_eq!(trend_arrow(rows[1].trend), '▲');
        assert_eq!(trend_arrow(rows[0].trend), '=');
        assert_eq!(trend_arrow(-3.0), '▼');
    }

    #[test]
    fn summary_and_detail_count_what_the_state_holds() {
        let s = state();
        let th = LevelThresholds::default();
        let sla = Sla::default();
        let sum = district_summary(&s, ["a", "b", "c", "nodata"], &th, &sla, Some(t("2026-11-29T09:30:00+08:00")));
        assert_eq!(sum.index, Some(185.0 / 3.0));
        assert_eq!(sum.per_level, [0, 2, 0, 1]);
        assert_eq!(sum.no_data, 1);
        assert_eq!(sum.open_incidents, 1);
        assert_eq!(sum.alerts_24h, 2, "the alert of the day before is older than 24 h");
        let rows = ranking(&s, ["a", "b", "c"]);
        let d = unit_detail(&s, "a", &rows, &th, &sla, Some(t("2026-11-29T09:30:00+08:00")), 2);
        assert_eq!(d.rank, Some((2, 3)));
        assert_eq!(d.by_status, [0, 0, 1, 2]);
        // Alert 3 (高危, reported 09:00, disposing since 09:10) works to its close limit, 24 h.
        assert_eq!(d.open.len(), 1);
        assert_eq!((d.open[0].alert.id.as_str(), d.open[0].age_s, d.open[0].limit_s, d.open[0].overdue), ("3", 1800.0, 86_400.0, None));
        // Closed after 2 h and after 1 h: MTTR 1.5 h.
        assert_eq!(d.mttr_s, Some(5400.0));
        assert_eq!(d.recent.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["3", "2"]);
        assert_eq!(d.vulnerabilities, [2, 5, 12, 25]);
        assert_eq!(d.compliance, (20, 40));
        assert_eq!(d.level, Some(Level::Medium));
    }

    #[test]
    fn the_summary_counts_open_critical_incidents_and_overdue_ones() {
        let mut s = RiskState::new();
        // A unit at a low score with an open 严重 incident: the summary counts the incident.
        s.apply_score("a", t("2026-11-29T08:00:00+08:00"), sc(20.0)).unwrap();
        let alert = |id: &str, unit: &str, severity: Severity| Alert {
            id: id.into(),
            unit: unit.into(),
            time: t("2026-11-29T08:00:00+08:00"),
            severity,
            category: "x".into(),
            title: "y".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        };
        s.apply_alert(alert("c1", "a", Severity::Critical)).unwrap();
        s.apply_alert(alert("c2", "b", Severity::Critical)).unwrap();
        s.apply_alert(alert("h1", "a", Severity::High)).unwrap();
        let (th, sla) = (LevelThresholds::default(), Sla::default());
        let at = |s_: &RiskState, when: &str| district_summary(s_, ["a"], &th, &sla, Some(t(when)));
        let sum = at(&s, "2026-11-29T08:15:00+08:00");
        assert_eq!((sum.open_critical, sum.per_level[Level::Critical as usize], sum.overdue), (2, 0, [0, 0]), "at the limit: none overdue");
        let sum = at(&s, "2026-11-29T08:15:01+08:00");
        assert_eq!((sum.overdue, sum.overdue_units), ([2, 0], 2), "both 严重 incidents late to respond, the 高危 one not yet");
        s.apply_status("c2", AlertStatus::Closed, t("2026-11-29T08:20:00+08:00")).unwrap();
        let sum = at(&s, "2026-11-29T12:00:01+08:00");
        assert_eq!((sum.open_critical, sum.overdue, sum.overdue_units), (1, [1, 1], 1), "c1 past its close limit, h1 past its respond limit");
        assert_eq!(overdue_by_unit(&s, &sla, t("2026-11-29T12:00:01+08:00")), [("a".to_owned(), 2)].into_iter().collect());
    }

    #[test]
    fn a_gap_in_the_history_gives_no_trend_across_it() {
        let mut s = RiskState::new();
        s.apply_score("a", t("2026-11-29T08:00:00+08:00"), sc(30.0)).unwrap();
        s.clear_score("a", t("2026-11-29T08:30:00+08:00")).unwrap();
        assert_eq!(trend(s.unit("a").unwrap().history.iter()), 0.0, "no data now");
        assert!(ranking(&s, ["a"]).is_empty(), "a unit without data is not ranked");
        assert_eq!(district_summary(&s, ["a"], &LevelThresholds::default(), &Sla::default(), None).no_data, 1);
        s.apply_score("a", t("2026-11-29T09:10:00+08:00"), sc(50.0)).unwrap();
        // An hour before 09:10 is 08:10, before the clear: the 08:00 score still stood.
        assert_eq!(trend(s.unit("a").unwrap().history.iter()), 20.0);
        s.apply_score("a", t("2026-11-29T09:40:00+08:00"), sc(55.0)).unwrap();
        assert_eq!(trend(s.unit("a").unwrap().history.iter()), 0.0, "08:40 is in the gap: nothing to compare");
        s.apply_score("a", t("2026-11-29T10:15:00+08:00"), sc(60.0)).unwrap();
        assert_eq!(trend(s.unit("a").unwrap().history.iter()), 10.0, "against 09:10");
    }

    #[test]
    fn an_unknown_severity_animates_like_a_medium_one_and_future_alerts_count() {
        assert_eq!(severity_strength(Severity::Unknown), severity_strength(Severity::Medium));
        let mut s = RiskState::new();
        let alert = |id: &str, at: &str| Alert {
            id: id.into(),
            unit: "a".into(),
            time: t(at),
            severity: Severity::Unknown,
            category: "x".into(),
            title: "y".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        };
        s.apply_alert(alert("1", "2026-11-29T09:00:00+08:00")).unwrap();
        // Stamped 2 h ahead of "now" (clock skew): applied, and counted.
        s.apply_alert(alert("2", "2026-11-29T12:00:00+08:00")).unwrap();
        let sum = district_summary(&s, ["a"], &LevelThresholds::default(), &Sla::default(), Some(t("2026-11-29T10:00:00+08:00")));
        assert_eq!(sum.alerts_24h, 2);
    }
}
