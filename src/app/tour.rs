//! The auto-tour: after `[tour] idle_s` without input the camera visits the riskiest area
//! units in turn, `dwell_s` each, with their drill-down, then the district view, then again;
//! any input stops it. It waits while a critical-alert flight holds the camera.

use bevy::input::keyboard::KeyboardInput;
use bevy::input::mouse::{MouseButtonInput, MouseWheel};
use bevy::input::touch::TouchInput;
use bevy::prelude::*;
use bevy::window::CursorMoved;

use super::derive::Derived;
use super::flight::Attention;
use super::map::MapResource;
use super::picture::Settings;
use super::redraw::Redraw;
use super::schedule::AppSystems;
use super::selection::Select;
use crate::model::RankRow;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Idle>().init_resource::<Tour>().add_systems(
        Update,
        (track_input.in_set(AppSystems::Input), run_tour.in_set(AppSystems::Direct), wake_for_next_stop.in_set(AppSystems::Animate)).run_if(tour_enabled),
    );
}

fn tour_enabled(settings: Res<Settings>) -> bool {
    settings.config.tour.enabled
}

/// When the last input arrived, seconds of app time.
#[derive(Resource, Default)]
pub struct Idle {
    /// App time of the last keyboard, mouse or touch input.
    pub last_input_s: f64,
}

/// The auto-tour's state.
#[derive(Resource, Default, Debug)]
pub struct Tour {
    /// Whether it is running.
    pub active: bool,
    /// Next stop (0-based over the riskiest units; the last stop is the district view).
    pub stop: usize,
    /// App time of the next move, seconds.
    pub next_s: f64,
}

#[allow(clippy::too_many_arguments)]
fn track_input(
    time: Res<Time>,
    mut keys: MessageReader<KeyboardInput>,
    mut buttons: MessageReader<MouseButtonInput>,
    mut moves: MessageReader<CursorMoved>,
    mut wheels: MessageReader<MouseWheel>,
    mut touches: MessageReader<TouchInput>,
    mut idle: ResMut<Idle>,
    mut tour: ResMut<Tour>,
    mut select: MessageWriter<Select>,
) {
    let any = keys.read().count() + buttons.read().count() + moves.read().count() + wheels.read().count() + touches.read().count() > 0;
    if any {
        idle.last_input_s = time.elapsed_secs_f64();
        if tour.active {
            // Any input stops the tour and returns to the district view; a click that
            // selects a unit is applied after this (the last ask of a frame wins).
            *tour = Tour::default();
            select.write(Select(None));
        }
    }
}

/// Starts the tour after `idle_s` without input and moves it on every `dwell_s`.
#[allow(clippy::too_many_arguments)]
fn run_tour(
    time: Res<Time>,
    settings: Res<Settings>,
    idle: Res<Idle>,
    derived: Res<Derived>,
    map: Res<MapResource>,
    mut tour: ResMut<Tour>,
    attention: Res<Attention>,
    mut select: MessageWriter<Select>,
) {
    let cfg = &settings.config.tour;
    let now = time.elapsed_secs_f64();
    if attention.active.is_some() {
        return;
    }
    if !tour.active {
        if now - idle.last_input_s >= cfg.idle_s {
            *tour = Tour { active: true, stop: 0, next_s: now };
        } else {
            return;
        }
    }
    if now < tour.next_s {
        return;
    }
    let areas: Vec<&RankRow> = derived.ranking.iter().filter(|r| !map.is_bureau(&r.id)).take(cfg.units).collect();
    let stops = areas.len() + 1;
    let stop = tour.stop % stops;
    select.write(Select(areas.get(stop).map(|r| r.id.clone())));
    tour.stop = stop + 1;
    tour.next_s = now + cfg.dwell_s;
}

/// The tour's start and its next stop happen by themselves: wake for them.
fn wake_for_next_stop(time: Res<Time>, settings: Res<Settings>, idle: Res<Idle>, tour: Res<Tour>, mut redraw: ResMut<Redraw>) {
    let next = if tour.active { tour.next_s } else { idle.last_input_s + settings.config.tour.idle_s };
    redraw.wake_within(next - time.elapsed_secs_f64() + 0.05);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::picture::{Picture, Source};
    use crate::app::selection::Selection;
    use crate::app::testing::{test_app, test_map};
    use crate::config::{Config, TourConfig};
    use crate::model::{RiskScore, RiskState};

    #[test]
    fn the_tour_starts_when_idle_visits_the_riskiest_and_stops_on_input() {
        let map = test_map();
        let ids: Vec<String> = map.data.units.iter().map(|u| u.id.clone()).collect();
        let mut state = RiskState::new();
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-29T08:00:00+08:00").unwrap();
        for (id, total) in ids.iter().zip([20.0, 85.0]) {
            state.apply_score(id, at, RiskScore { total, threat: total, asset: total, compliance: total }).unwrap();
        }
        let config = Config { tour: TourConfig { enabled: true, idle_s: 3.0, dwell_s: 2.0, units: 2 }, ..Config::default() };
        let mut app = test_app(config, map, Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(at)));
        // 0.25 s a frame.
        app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(std::time::Duration::from_millis(250)));
        let selected = |app: &App| app.world().resource::<Selection>().unit.clone();
        // Idle for less than 3 s: nothing.
        for _ in 0..10 {
            app.update();
        }
        assert!(!app.world().resource::<Tour>().active);
        assert_eq!(selected(&app), None);
        // Then the riskiest unit, the next one 2 s later, then the district view.
        let mut seen = vec![selected(&app)];
        for _ in 0..40 {
            app.update();
            if seen.last() != Some(&selected(&app)) {
                seen.push(selected(&app));
            }
        }
        assert!(app.world().resource::<Tour>().active);
        assert_eq!(seen[..5], [None, Some(ids[1].clone()), Some(ids[0].clone()), None, Some(ids[1].clone())]);
        // Any input stops it and returns to the district view.
        app.world_mut().write_message(MouseWheel {
            unit: bevy::input::mouse::MouseScrollUnit::Line,
            x: 0.0,
            y: 1.0,
            window: Entity::PLACEHOLDER,
            phase: bevy::input::touch::TouchPhase::Moved,
        });
        app.update();
        assert!(!app.world().resource::<Tour>().active);
        assert_eq!(selected(&app), None);
    }

    #[test]
    fn a_disabled_tour_never_starts() {
        let mut app = test_app(Config::default(), test_map(), Picture::new(Source::Demo { speed: 1.0 }));
        app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(std::time::Duration::from_secs(60)));
        for _ in 0..10 {
            app.update();
        }
        assert!(!app.world().resource::<Tour>().active, "[tour] enabled = false by default");
    }
}
