//! The auto-tour: after `[tour] idle_s` without input the camera visits the riskiest area
//! units in turn, `dwell_s` each, with their drill-down, then the district view, then again;
//! any input stops it. An alert that takes over (see [`super::flight`]) interrupts it; when
//! that flight ends (acknowledged, closed or its dwell over) the tour resumes at the stop it
//! left. Input during such a flight (an operator reaching for the 确认 button) does not stop
//! the tour.

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
        (
            track_input.in_set(AppSystems::Input),
            run_tour.in_set(AppSystems::Direct).after(super::flight::end_attention),
            wake_for_next_stop.in_set(AppSystems::Animate),
        )
            .run_if(tour_enabled),
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
    /// The stop an alert's flight interrupted, shown again when it ends.
    pub resume: Option<usize>,
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
    attention: Res<Attention>,
    mut select: MessageWriter<Select>,
) {
    let any = keys.read().count() + buttons.read().count() + moves.read().count() + wheels.read().count() + touches.read().count() > 0;
    if any {
        idle.last_input_s = time.elapsed_secs_f64();
        if tour.active && attention.alert.is_none() {
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
        // Interrupted: remember the stop on screen (the one before the next).
        if tour.active && tour.resume.is_none() {
            tour.resume = Some(tour.stop.saturating_sub(1));
        }
        return;
    }
    if let Some(stop) = tour.resume.take()
        && tour.active
    {
        tour.stop = stop;
        tour.next_s = now;
    }
    if !tour.active {
        if now - idle.last_input_s >= cfg.idle_s {
            *tour = Tour { active: true, stop: 0, next_s: now, resume: None };
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

    /// The two-unit map with scores 20 and 85 at 08:00: its ids, the state, the time.
    fn two_scored_units() -> (crate::app::map::MapResource, Vec<String>, RiskState, chrono::DateTime<chrono::FixedOffset>) {
        let map = test_map();
        let ids: Vec<String> = map.data.units.iter().map(|u| u.id.clone()).collect();
        let mut state = RiskState::new();
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-29T08:00:00+08:00").unwrap();
        for (id, total) in ids.iter().zip([20.0, 85.0]) {
            state.apply_score(id, at, RiskScore { total, threat: total, asset: total, compliance: total }).unwrap();
        }
        (map, ids, state, at)
    }

    #[test]
    fn the_tour_starts_when_idle_visits_the_riskiest_and_stops_on_input() {
        let (map, ids, state, at) = two_scored_units();
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
    fn a_critical_alert_takes_over_the_tour_until_acknowledged_then_it_resumes_where_it_was() {
        use crate::app::derive::Derived;
        use crate::app::incidents::Acknowledge;
        use crate::model::{Alert, AlertStatus, Severity};
        let (map, ids, state, at) = two_scored_units();
        let config = Config { tour: TourConfig { enabled: true, idle_s: 1.0, dwell_s: 2.0, units: 2 }, ..Config::default() };
        assert!(config.alerts.acknowledge && !config.alerts.fly_to_critical, "the desktop defaults: the flight comes from the tour");
        let mut app = test_app(config, map, Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(at)));
        app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(std::time::Duration::from_millis(250)));
        let selected = |app: &App| app.world().resource::<Selection>().unit.clone();
        // Into the tour: the riskiest (ids[1]) first, then ids[0] after 2 s.
        for _ in 0..6 {
            app.update();
        }
        assert_eq!(selected(&app), Some(ids[1].clone()));
        for _ in 0..8 {
            app.update();
        }
        assert_eq!(selected(&app), Some(ids[0].clone()), "the tour's second stop");
        // A 严重 alert on the first unit: the tour is interrupted and its drill-down shown.
        {
            let mut picture = app.world_mut().resource_mut::<Picture>();
            let alert = Alert {
                id: "c1".into(),
                unit: ids[1].clone(),
                time: at,
                severity: Severity::Critical,
                category: "c".into(),
                title: "t".into(),
                status: AlertStatus::New,
                acknowledged: None,
                analysis: None,
                note: None,
                stages: None,
            };
            std::sync::Arc::make_mut(&mut picture.state).apply_alert(alert).unwrap();
            picture.generation += 1;
        }
        app.update();
        app.update();
        assert_eq!(selected(&app), Some(ids[1].clone()), "flown to the alert's unit");
        assert_eq!(app.world().resource::<Derived>().detail.as_ref().map(|(id, _)| id.clone()), Some(ids[1].clone()));
        // Held far past the tour's dwell and the flight's own (no acknowledgement yet), and
        // an operator's mouse moving to the button does not end the tour.
        for _ in 0..80 {
            app.update();
        }
        app.world_mut().write_message(bevy::window::CursorMoved { window: Entity::PLACEHOLDER, position: Vec2::new(10.0, 10.0), delta: None });
        app.update();
        assert_eq!(selected(&app), Some(ids[1].clone()), "still held: 20 s on");
        assert!(app.world().resource::<Tour>().active);
        // Acknowledged: the tour resumes at the stop it left (ids[0]), then goes on.
        app.world_mut().write_message(Acknowledge { id: "c1".into() });
        let mut seen = Vec::new();
        for _ in 0..12 {
            app.update();
            if seen.last() != Some(&selected(&app)) {
                seen.push(selected(&app));
            }
        }
        assert_eq!(seen[..2], [Some(ids[0].clone()), None], "back at the interrupted stop, then the district view; no frame between");
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
