//! What the panels show, derived from the picture and the selection: the ranking boards, the
//! district summary and the selected unit's drill-down. Recomputed only when the picture or
//! the selection changed, after the selection is applied, so a click's drill-down is drawn in
//! the same frame as the click.

use bevy::prelude::*;

use super::board::{Board, BoardTab};
use super::demo::DemoFeed;
use super::map::MapResource;
use super::picture::{Picture, Settings};
use super::schedule::AppSystems;
use super::selection::Selection;
use crate::config::BoardStart;
use crate::feed::RecordBody;
use crate::model::{
    DistrictSummary, Period, PeriodRow, RankRow, RiskScore, UnitDetail, disposal_efficiency, district_summary, period_ranking, ranking, unit_detail,
};

pub(super) fn plugin(app: &mut App) {
    let start = app.world().get_resource::<Settings>().map(|s| s.config.ui.board).unwrap_or_default();
    let tab = match start {
        BoardStart::Now => BoardTab::Now,
        BoardStart::Day => BoardTab::Period(Period::Day),
        BoardStart::Week => BoardTab::Period(Period::Week),
        BoardStart::Month => BoardTab::Period(Period::Month),
        BoardStart::Efficiency => BoardTab::Efficiency,
    };
    let efficiency_period = match tab {
        BoardTab::Period(p) => p,
        _ => Period::Day,
    };
    app.init_resource::<Derived>()
        .insert_resource(Board { tab, efficiency_period, ..Board::default() })
        .add_systems(Update, (derive_panels, derive_board).chain().in_set(AppSystems::Derive));
}

/// The panels' data.
#[derive(Resource, Default)]
pub struct Derived {
    /// The picture generation it was computed for.
    pub generation: u64,
    /// The minute (Unix seconds / 60) of the picture's "now" it was computed for: the
    /// rolling windows move on with the clock even without new data.
    pub minute: Option<i64>,
    /// The map's area units (街乡) with data, riskiest first.
    pub ranking: Vec<RankRow>,
    /// The bureaus (委办局) with data, riskiest first.
    pub ranking_bureaus: Vec<RankRow>,
    /// The district summary over the map's area units.
    pub summary: DistrictSummary,
    /// The selected unit's drill-down.
    pub detail: Option<(String, UnitDetail)>,
}

/// Newest alerts the drill-down lists.
pub const DETAIL_RECENT_ALERTS: usize = 6;

fn derive_panels(
    picture: Res<Picture>,
    map: Res<MapResource>,
    settings: Res<Settings>,
    selection: Res<Selection>,
    mut derived: ResMut<Derived>,
    mut first: Local<bool>,
) {
    let now = picture.now();
    let minute = now.map(|t| t.timestamp().div_euclid(60));
    if *first && derived.generation == picture.generation && derived.minute == minute && !selection.is_changed() {
        return;
    }
    *first = true;
    let thresholds = &settings.config.levels;
    if derived.generation != picture.generation || derived.minute != minute || derived.ranking.is_empty() {
        let areas = map.data.units.iter().map(|u| u.id.as_str());
        derived.ranking = ranking(&picture.state, areas.clone());
        derived.ranking_bureaus = ranking(&picture.state, map.bureaus.iter().map(|b| b.id.as_str()));
        derived.summary = district_summary(&picture.state, areas, thresholds, &settings.config.sla, now);
        derived.generation = picture.generation;
        derived.minute = minute;
    }
    // A unit's rank is among its own kind: townships among townships, bureaus among bureaus.
    derived.detail = selection.unit.as_ref().map(|id| {
        let board = if map.is_bureau(id) { &derived.ranking_bureaus } else { &derived.ranking };
        (id.clone(), unit_detail(&picture.state, id, board, thresholds, &settings.config.sla, now, DETAIL_RECENT_ALERTS))
    });
}

/// Derives the rows of the board's period and efficiency tabs, when the tab, the picture or
/// the data minute changed. Demo mode ranks a period from the recording's scores up to the
/// data clock; live mode's period rows come from the backend (`remote_rankings`).
fn derive_board(
    picture: Res<Picture>,
    map: Res<MapResource>,
    settings: Res<Settings>,
    demo: Option<Res<DemoFeed>>,
    remote: Option<Res<super::remote_detail::RemoteRankings>>,
    mut board: ResMut<Board>,
) {
    let now = picture.now();
    let key = (board.tab, picture.generation, now.map(|t| t.timestamp().div_euclid(60)));
    if board.key == Some(key) && !remote.as_ref().is_some_and(|r| r.is_changed()) {
        return;
    }
    board.key = Some(key);
    let Some(now) = now else { return };
    let areas: Vec<&str> = map.data.units.iter().map(|u| u.id.as_str()).collect();
    let bureaus: Vec<&str> = map.bureaus.iter().map(|b| b.id.as_str()).collect();
    match board.tab {
        BoardTab::Now => {}
        BoardTab::Period(period) => {
            if let Some(demo) = demo {
                let samples = || recording_scores(demo.replay.recording());
                board.period = period_ranking(samples, &areas, period, now).unwrap_or_default();
                board.period_bureaus = period_ranking(samples, &bureaus, period, now).unwrap_or_default();
            } else if let Some(remote) = remote {
                // The gateway's figures for this board's units, riskiest first; its ranks are
                // within each kind (街道, 地区, 委办局), the board's position is the rank here.
                let rows: &[PeriodRow] = match &remote.rows {
                    Some((p, rows)) if *p == period => rows,
                    _ => &[],
                };
                let pick = |units: &[&str]| {
                    let mut out: Vec<PeriodRow> = rows.iter().filter(|r| units.contains(&r.unit.as_str())).cloned().collect();
                    out.sort_by(|a, b| b.mean.total.total_cmp(&a.mean.total).then_with(|| a.unit.cmp(&b.unit)));
                    for (i, r) in out.iter_mut().enumerate() {
                        r.rank = i as u32 + 1;
                    }
                    out
                };
                board.period = pick(&areas);
                board.period_bureaus = pick(&bureaus);
            }
        }
        BoardTab::Efficiency => {
            let sla = &settings.config.sla;
            let period = board.efficiency_period;
            board.efficiency = disposal_efficiency(&picture.state, &areas, sla, period, now);
            board.efficiency_bureaus = disposal_efficiency(&picture.state, &bureaus, sla, period, now);
        }
    }
}

/// Every score of a recording as (unit, time, score), in file order.
pub fn recording_scores(recording: &crate::feed::Recording) -> impl Iterator<Item = (&str, chrono::DateTime<chrono::FixedOffset>, RiskScore)> {
    recording.records.iter().flat_map(|(_, r)| {
        let scores = match &r.body {
            RecordBody::Scores { scores, .. } => scores.as_slice(),
            _ => &[],
        };
        scores.iter().map(move |e| (e.unit.as_str(), r.t, RiskScore { total: e.total, threat: e.threat, asset: e.asset, compliance: e.compliance }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::picture::Source;
    use crate::app::testing::{test_app, test_map};
    use crate::config::Config;
    use crate::model::{Alert, AlertStatus, RiskState, Severity};
    use chrono::DateTime;

    /// The demo's day ranking is the mean of the shipped recording's scores over that day,
    /// computed here from the file's lines alone; the week tab has the same means (the
    /// recording is one day) and no rank change (no previous week).
    #[test]
    fn the_demo_day_ranking_is_the_mean_of_the_recordings_scores_that_day() {
        use crate::feed::{Recording, Replay};
        let path = crate::config::data_root().join(crate::config::DEFAULT_RECORDING);
        let text = std::fs::read_to_string(&path).unwrap();
        // Independently: every `scores` line of the 28th, summed per unit.
        let mut sums: std::collections::HashMap<String, (f64, u32)> = Default::default();
        for line in text.lines().skip(1) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] == "scores" && v["t"].as_str().unwrap().starts_with("2026-11-28") {
                for s in v["scores"].as_array().unwrap() {
                    let e = sums.entry(s["unit"].as_str().unwrap().to_owned()).or_default();
                    e.0 += s["total"].as_f64().unwrap();
                    e.1 += 1;
                }
            }
        }
        // The shipped schematic map, with its bureaus: the recording's units.
        let map = crate::app::map::load_map(None, &Config::default().map).unwrap();
        let areas: Vec<String> = map.data.units.iter().map(|u| u.id.clone()).collect();
        assert_eq!(areas.len(), 43);
        let recording = std::sync::Arc::new(Recording::parse(&text));
        let clock = t("2026-11-28T23:59:59+08:00");
        let mut app = test_app(Config::default(), map, Picture::new(Source::Demo { speed: 1.0 }).with_state(RiskState::new(), Some(clock)));
        app.insert_resource(DemoFeed::new(Replay::new(recording, 1.0, false, 3600.0)));
        app.world_mut().resource_mut::<Board>().tab = BoardTab::Period(Period::Day);
        app.update();
        let board = app.world().resource::<Board>();
        assert_eq!(board.period.len(), 43, "every area unit of the map had scores that day");
        assert_eq!(board.period_bureaus.len(), sums.len() - 43, "and every bureau, on their own board");
        for r in &board.period {
            let (sum, n) = sums[&r.unit];
            assert!((f64::from(r.mean.total) - sum / f64::from(n)).abs() < 1e-3, "{}: {} vs {}", r.unit, r.mean.total, sum / f64::from(n));
            assert_eq!(r.samples, u64::from(n));
            assert_eq!(r.rank_change, None, "no day before in the recording");
        }
        assert!(board.period.windows(2).all(|w| w[0].mean.total >= w[1].mean.total && w[0].rank + 1 == w[1].rank), "riskiest first, ranked 1, 2, …");
        let day: Vec<(String, f32)> = board.period.iter().map(|r| (r.unit.clone(), r.mean.total)).collect();
        app.world_mut().resource_mut::<Board>().tab = BoardTab::Period(Period::Week);
        app.update();
        let week: Vec<(String, f32)> = app.world().resource::<Board>().period.iter().map(|r| (r.unit.clone(), r.mean.total)).collect();
        assert_eq!(week, day);
    }

    fn t(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn the_24_hour_window_rolls_over_midnight_without_new_data() {
        let map = test_map();
        let unit = map.data.units[0].id.clone();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        let mut state = RiskState::new();
        for (i, at) in ["2026-11-28T23:30:00+08:00", "2026-11-29T00:10:00+08:00", "2026-11-29T12:00:00+08:00"].into_iter().enumerate() {
            let alert = Alert {
                id: format!("a{i}"),
                unit: unit.clone(),
                time: t(at),
                severity: Severity::High,
                category: "c".into(),
                title: "t".into(),
                status: AlertStatus::New,
                acknowledged: None,
                analysis: None,
                note: None,
                stages: None,
            };
            state.apply_alert(alert).unwrap();
        }
        // The demo's data clock one second before midnight on the 29th: all three alerts are
        // within 24 h.
        let clock = t("2026-11-29T23:59:59+08:00");
        let mut app = test_app(Config::default(), map, Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(clock)));
        app.update();
        assert_eq!(app.world().resource::<Derived>().summary.alerts_24h, 2, "23:30 on the 28th is more than 24 h before");
        let generation = app.world().resource::<Picture>().generation;
        // The clock moves past midnight and on to 00:10:30 with no new data (generation
        // unchanged): the window rolls, and the 00:10 alert of the 29th drops out.
        for (at, expected) in [("2026-11-30T00:00:01+08:00", 2), ("2026-11-30T00:10:30+08:00", 1)] {
            app.world_mut().resource_mut::<Picture>().clock = Some(t(at));
            app.update();
            assert_eq!(app.world().resource::<Picture>().generation, generation);
            assert_eq!(app.world().resource::<Derived>().summary.alerts_24h, expected, "at {at}");
        }
    }
}
