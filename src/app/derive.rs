//! What the panels show, derived from the picture and the selection: the ranking boards, the
//! district summary and the selected unit's drill-down. Recomputed only when the picture or
//! the selection changed, after the selection is applied, so a click's drill-down is drawn in
//! the same frame as the click.

use bevy::prelude::*;

use super::map::MapResource;
use super::picture::{Picture, Settings};
use super::schedule::AppSystems;
use super::selection::Selection;
use crate::model::{DistrictSummary, RankRow, UnitDetail, district_summary, ranking, unit_detail};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Derived>().add_systems(Update, derive_panels.in_set(AppSystems::Derive));
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
        derived.summary = district_summary(&picture.state, areas, thresholds, now);
        derived.generation = picture.generation;
        derived.minute = minute;
    }
    // A unit's rank is among its own kind: townships among townships, bureaus among bureaus.
    derived.detail = selection.unit.as_ref().map(|id| {
        let board = if map.is_bureau(id) { &derived.ranking_bureaus } else { &derived.ranking };
        (id.clone(), unit_detail(&picture.state, id, board, thresholds, DETAIL_RECENT_ALERTS))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::picture::Source;
    use crate::app::testing::{test_app, test_map};
    use crate::config::Config;
    use crate::model::{Alert, AlertStatus, RiskState, Severity};
    use chrono::DateTime;

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
