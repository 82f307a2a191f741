//! Input and the camera: picking units with mouse or touch, the selection and its drill-down,
//! the camera easing to the selected unit and back, the auto-tour, the flight to a unit with a
//! critical alert, language switching, and the kiosk lock.

use bevy::input::keyboard::KeyboardInput;
use bevy::input::mouse::{MouseButtonInput, MouseWheel};
use bevy::input::touch::TouchInput;
use bevy::prelude::*;
use bevy::window::CursorMoved;
use bevy_egui::input::EguiWantsInput;
use bevy_panorbit_camera::PanOrbitCamera;
use geo::{Contains, Point};

use super::i18n::UiLang;
use super::scene::{Selection, UnitView, view_height};
use super::{MapResource, Picture, Settings};
use crate::config::Lang;
use crate::model::{DistrictSummary, RankRow, UnitDetail, district_summary, ranking, unit_detail};

pub(super) fn plugin(app: &mut App) {
    app.add_message::<Select>()
        .init_resource::<Derived>()
        .init_resource::<Idle>()
        .init_resource::<Tour>()
        .init_resource::<Attention>()
        .add_systems(
            Update,
            (
                derive_panels,
                (track_input, keys, pick_on_click, run_tour, end_attention).chain(),
                apply_selection,
                ease_camera,
            )
                .chain()
                .in_set(InteractSystems)
                .before(super::scene::SceneSystems::Ease),
        );
}

/// Input, selection, tour and camera systems, in `Update` before the scene eases.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InteractSystems;

/// Asks to select a unit (`Some(id)`) or return to the district view (`None`). Sent by picking,
/// the ranking board, the tour and alert flights.
#[derive(Message, Clone, Debug, PartialEq)]
pub struct Select(pub Option<String>);

/// The panels' data, recomputed when the picture or the selection changes (not every frame).
#[derive(Resource, Default)]
pub struct Derived {
    /// The picture generation it was computed for.
    pub generation: u64,
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

fn derive_panels(picture: Res<Picture>, map: Res<MapResource>, settings: Res<Settings>, selection: Res<Selection>, mut derived: ResMut<Derived>, mut first: Local<bool>) {
    if *first && derived.generation == picture.generation && !selection.is_changed() {
        return;
    }
    *first = true;
    let thresholds = &settings.config.levels;
    if derived.generation != picture.generation || derived.ranking.is_empty() {
        let areas = map.data.units.iter().map(|u| u.id.as_str());
        derived.ranking = ranking(&picture.state, areas.clone());
        derived.ranking_bureaus = ranking(&picture.state, map.bureaus.iter().map(|b| b.id.as_str()));
        derived.summary = district_summary(&picture.state, areas, thresholds, picture.clock);
        derived.generation = picture.generation;
    }
    // A unit's rank is among its own kind: townships among townships, bureaus among bureaus.
    derived.detail = selection.unit.as_ref().map(|id| {
        let board = if map.bureaus.iter().any(|b| &b.id == id) { &derived.ranking_bureaus } else { &derived.ranking };
        (id.clone(), unit_detail(&picture.state, id, board, thresholds, DETAIL_RECENT_ALERTS))
    });
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

/// A flight to a unit with a critical alert: the unit stays selected until `until_s`.
#[derive(Resource, Default, Debug)]
pub struct Attention {
    /// The unit flown to, and the app time to fly back, seconds.
    pub active: Option<(String, f64)>,
}

impl Attention {
    /// Flies to `unit` for `dwell_s` seconds from `now_s`, unless the operator holds a selection.
    pub fn request(&mut self, unit: &str, now_s: f64, dwell_s: f64, selection: &Selection, tour: &Tour, select: &mut MessageWriter<Select>) {
        let operator_busy = selection.unit.is_some() && self.active.is_none() && !tour.active;
        if !operator_busy {
            self.active = Some((unit.to_owned(), now_s + dwell_s));
            select.write(Select(Some(unit.to_owned())));
        }
    }
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
            // selects a unit is handled after this.
            *tour = Tour::default();
            select.write(Select(None));
        }
    }
}

/// The key chord that quits a locked kiosk, parsed from `"ctrl+alt+shift+q"`.
pub fn parse_chord(chord: &str) -> Option<(Vec<[KeyCode; 2]>, KeyCode)> {
    let mut mods = Vec::new();
    let mut key = None;
    for part in chord.split('+').map(|p| p.trim().to_ascii_lowercase()) {
        match part.as_str() {
            "ctrl" | "control" => mods.push([KeyCode::ControlLeft, KeyCode::ControlRight]),
            "alt" => mods.push([KeyCode::AltLeft, KeyCode::AltRight]),
            "shift" => mods.push([KeyCode::ShiftLeft, KeyCode::ShiftRight]),
            "super" | "meta" => mods.push([KeyCode::SuperLeft, KeyCode::SuperRight]),
            p if p.len() == 1 && p.as_bytes()[0].is_ascii_lowercase() => key = Some(letter_key(p.as_bytes()[0])?),
            _ => return None,
        }
    }
    Some((mods, key?))
}

fn letter_key(c: u8) -> Option<KeyCode> {
    use KeyCode::*;
    const KEYS: [KeyCode; 26] = [KeyA, KeyB, KeyC, KeyD, KeyE, KeyF, KeyG, KeyH, KeyI, KeyJ, KeyK, KeyL, KeyM, KeyN, KeyO, KeyP, KeyQ, KeyR, KeyS, KeyT, KeyU, KeyV, KeyW, KeyX, KeyY, KeyZ];
    KEYS.get(usize::from(c.checked_sub(b'a')?)).copied()
}

/// Esc: back to the district view. L: switch language. Space: pause the demo. Unlocked,
/// Ctrl+Q quits; locked (kiosk), only the admin chord does.
fn keys(
    input: Res<ButtonInput<KeyCode>>,
    settings: Res<Settings>,
    mut lang: ResMut<UiLang>,
    mut select: MessageWriter<Select>,
    mut attention: ResMut<Attention>,
    demo: Option<ResMut<super::DemoFeed>>,
    mut exit: MessageWriter<AppExit>,
) {
    if input.just_pressed(KeyCode::Escape) {
        attention.active = None;
        select.write(Select(None));
    }
    if input.just_pressed(KeyCode::KeyL) {
        lang.0 = match lang.0 {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        };
    }
    if input.just_pressed(KeyCode::Space)
        && let Some(mut demo) = demo
    {
        demo.paused = !demo.paused;
    }
    let kiosk = &settings.config.kiosk;
    let quit = if kiosk.locked {
        parse_chord(&kiosk.admin_chord).is_some_and(|(mods, key)| input.just_pressed(key) && mods.iter().all(|pair| input.any_pressed(*pair)))
    } else {
        input.just_pressed(KeyCode::KeyQ) && input.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight])
    };
    if quit {
        exit.write(AppExit::Success);
    }
}

/// Largest pointer travel, logical pixels, for a press and release to count as a click (more
/// is an orbit or pan drag).
pub const CLICK_SLOP_PX: f32 = 8.0;

#[allow(clippy::too_many_arguments)]
fn pick_on_click(
    buttons: Res<ButtonInput<MouseButton>>,
    touches: Res<Touches>,
    windows: Query<&Window>,
    egui_input: Option<Res<EguiWantsInput>>,
    cameras: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    units: Query<&UnitView>,
    map: Res<MapResource>,
    settings: Res<Settings>,
    mut press: Local<Option<Vec2>>,
    mut select: MessageWriter<Select>,
    mut attention: ResMut<Attention>,
) {
    let Ok(window) = windows.single() else { return };
    let over_ui = egui_input.as_ref().is_some_and(|e| e.wants_any_pointer_input());
    let mut click = None;
    if buttons.just_pressed(MouseButton::Left) {
        *press = window.cursor_position();
    }
    if buttons.just_released(MouseButton::Left)
        && let (Some(down), Some(up)) = (press.take(), window.cursor_position())
        && down.distance(up) <= CLICK_SLOP_PX
    {
        click = Some(up);
    }
    for t in touches.iter_just_released() {
        if t.start_position().distance(t.position()) <= CLICK_SLOP_PX * 2.0 {
            click = Some(t.position());
        }
    }
    let Some(at) = click else { return };
    if over_ui {
        return;
    }
    let Ok((camera, cam_tf)) = cameras.single() else { return };
    let Ok(ray) = camera.viewport_to_world(cam_tf, at) else { return };
    let ext = &settings.config.extrusion;
    let hit = pick(ray.origin, *ray.direction, units.iter().map(|u| (u, view_height(u, ext, u.transition.shown))), &map);
    attention.active = None;
    select.write(Select(hit));
}

/// Half the side of a bureau column's hit area, metres: a little wider than the 200 m column
/// so a fingertip finds it.
pub const COLUMN_HALF_M: f32 = 180.0;

/// Steps along the part of a ray inside a prism's height, to find where it meets a wall.
const WALL_STEPS: usize = 24;

/// The unit whose prism (top or wall) or column a ray from `origin` along `dir` (world
/// metres) meets first, if any. Units are `(view, height in metres)`; area units are tested
/// against their footprints in `map`, point units against a [`COLUMN_HALF_M`] square. The top
/// is met exactly; a wall to within 1/[`WALL_STEPS`] of the prism's height.
pub fn pick<'a>(origin: Vec3, dir: Vec3, units: impl Iterator<Item = (&'a UnitView, f32)>, map: &MapResource) -> Option<String> {
    if dir.y >= 0.0 {
        return None;
    }
    let mut best: Option<(f32, &UnitView)> = None;
    for (unit, height) in units {
        let (t_top, t_ground) = ((height - origin.y) / dir.y, -origin.y / dir.y);
        if t_ground <= 0.0 || best.is_some_and(|(b, _)| t_top.max(0.0) >= b) {
            continue;
        }
        let inside = |t: f32| {
            let p = origin + dir * t;
            if unit.point {
                (p.x - unit.label_xz.x).abs() <= COLUMN_HALF_M && (p.z - unit.label_xz.y).abs() <= COLUMN_HALF_M
            } else {
                let q = Point::new(f64::from(p.x), -f64::from(p.z));
                map.data.units.get(unit.index as usize).is_some_and(|u| u.polygons.iter().any(|poly| poly.contains(&q)))
            }
        };
        // The top first (exact), then down the ray through the prism's height for a wall.
        let start = t_top.max(0.0);
        let hit = std::iter::once(start).chain((1..=WALL_STEPS).map(|i| start + (t_ground - start) * i as f32 / WALL_STEPS as f32)).find(|&t| inside(t));
        if let Some(t) = hit
            && best.is_none_or(|(b, _)| t < b)
        {
            best = Some((t, unit));
        }
    }
    best.map(|(_, u)| u.id.clone())
}

fn apply_selection(mut requests: MessageReader<Select>, mut selection: ResMut<Selection>) {
    if let Some(Select(unit)) = requests.read().last()
        && selection.unit != *unit
    {
        selection.unit = unit.clone();
    }
}

/// The district view the camera returns to.
#[derive(Resource, Clone, Copy, Debug)]
pub struct HomeView {
    /// Focus point, world metres.
    pub focus: Vec3,
    /// Distance from the focus, metres.
    pub radius: f32,
    /// Yaw and pitch, radians.
    pub yaw: f32,
    /// Pitch, radians.
    pub pitch: f32,
}

/// Eases the camera to the selected unit (closer and a little steeper) or back home; the
/// orbit camera's own smoothing does the easing. It also stops orbiting while the pointer is
/// over a panel.
fn ease_camera(
    selection: Res<Selection>,
    home: Option<Res<HomeView>>,
    units: Query<&UnitView>,
    settings: Res<Settings>,
    egui_input: Option<Res<EguiWantsInput>>,
    mut cameras: Query<&mut PanOrbitCamera>,
    mut applied: Local<Option<Option<String>>>,
) {
    let Ok(mut cam) = cameras.single_mut() else { return };
    let over_ui = egui_input.is_some_and(|e| e.wants_any_pointer_input());
    if cam.enabled == over_ui {
        cam.enabled = !over_ui;
    }
    // The orbit camera sets its targets from its start values on its first update: move it
    // only after that.
    let Some(home) = home else { return };
    if !cam.initialized || applied.as_ref() == Some(&selection.unit) {
        return;
    }
    *applied = Some(selection.unit.clone());
    let ext = &settings.config.extrusion;
    match selection.unit.as_ref().and_then(|id| units.iter().find(|u| &u.id == id)) {
        Some(unit) => {
            let h = view_height(unit, ext, unit.transition.shown);
            cam.target_focus = Vec3::new(unit.label_xz.x, h * 0.5, unit.label_xz.y);
            cam.target_radius = (home.radius * 0.4).max(3.0 * h);
            cam.target_pitch = home.pitch.max(50f32.to_radians());
        }
        None => {
            cam.target_focus = home.focus;
            cam.target_radius = home.radius;
            cam.target_yaw = home.yaw;
            cam.target_pitch = home.pitch;
        }
    }
    cam.force_update = true;
}

/// Starts the tour after `[tour] idle_s` without input and moves it on every `dwell_s`: the
/// riskiest area units in turn, then the district view, then again.
fn run_tour(time: Res<Time>, settings: Res<Settings>, idle: Res<Idle>, derived: Res<Derived>, map: Res<MapResource>, mut tour: ResMut<Tour>, attention: Res<Attention>, mut select: MessageWriter<Select>) {
    let cfg = &settings.config.tour;
    let now = time.elapsed_secs_f64();
    if !cfg.enabled || attention.active.is_some() {
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
    let areas: Vec<&RankRow> = derived.ranking.iter().filter(|r| map.data.units.iter().any(|u| u.id == r.id)).take(cfg.units).collect();
    let stops = areas.len() + 1;
    let stop = tour.stop % stops;
    select.write(Select(areas.get(stop).map(|r| r.id.clone())));
    tour.stop = stop + 1;
    tour.next_s = now + cfg.dwell_s;
}

/// Flies back from a critical alert's unit when its dwell is over.
fn end_attention(time: Res<Time>, mut attention: ResMut<Attention>, selection: Res<Selection>, mut select: MessageWriter<Select>) {
    if let Some((unit, until)) = &attention.active
        && time.elapsed_secs_f64() >= *until
    {
        if selection.unit.as_ref() == Some(unit) {
            select.write(Select(None));
        }
        attention.active = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::live::Freshness;
    use crate::app::{Picture, Source};
    use crate::config::Config;
    use crate::model::{RiskScore, RiskState};
    use chrono::DateTime;

    fn map() -> MapResource {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/two_units.geojson");
        let data = crate::geo::load_geojson_file(&path, &crate::geo::LoadOptions::default()).unwrap();
        MapResource { data, schematic: false, context: Vec::new(), bureaus: Vec::new(), warnings: Vec::new() }
    }

    fn views(map: &MapResource) -> Vec<UnitView> {
        map.data.units.iter().enumerate().map(|(i, u)| UnitView::area(i as u32, u)).collect()
    }

    /// The two test units scored 20 and 85 at 08:00, and their ids.
    fn scored(map: &MapResource) -> (RiskState, Vec<String>, DateTime<chrono::FixedOffset>) {
        let ids: Vec<String> = map.data.units.iter().map(|u| u.id.clone()).collect();
        let mut state = RiskState::new();
        let at = DateTime::parse_from_rfc3339("2026-11-29T08:00:00+08:00").unwrap();
        for (id, total) in ids.iter().zip([20.0, 85.0]) {
            state.apply_score(id, at, RiskScore { total, threat: total, asset: total, compliance: total }).unwrap();
        }
        (state, ids, at)
    }

    #[test]
    fn selecting_a_unit_sets_the_drill_down() {
        let map = map();
        let (state, ids, at) = scored(&map);
        let mut app = App::new();
        app.add_plugins(MinimalPlugins);
        let config = Config::default();
        app.insert_resource(crate::app::Settings { ramp: config.ramp().unwrap(), config });
        app.insert_resource(Picture { state: state.into(), source: Source::Demo { speed: 1.0 }, clock: Some(at), generation: 1, epoch: 0, freshness: Freshness::Live });
        for v in views(&map) {
            app.world_mut().spawn(v);
        }
        app.insert_resource(map);
        app.init_resource::<Selection>().init_resource::<Derived>().add_message::<Select>();
        app.add_systems(Update, (apply_selection, derive_panels).chain());
        app.update();
        assert!(app.world().resource::<Derived>().detail.is_none());
        assert_eq!(app.world().resource::<Derived>().ranking.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [ids[1].as_str(), ids[0].as_str()]);
        app.world_mut().write_message(Select(Some(ids[0].clone())));
        app.update();
        assert_eq!(app.world().resource::<Selection>().unit.as_deref(), Some(ids[0].as_str()));
        let (id, detail) = app.world().resource::<Derived>().detail.clone().unwrap();
        assert_eq!(id, ids[0]);
        assert_eq!(detail.score.unwrap().total, 20.0);
        assert_eq!(detail.rank, Some((2, 2)));
        assert_eq!(detail.level, Some(crate::model::Level::Low));
        // Back to the district view.
        app.world_mut().write_message(Select(None));
        app.update();
        assert!(app.world().resource::<Selection>().unit.is_none());
        assert!(app.world().resource::<Derived>().detail.is_none());
    }

    #[test]
    fn a_ray_picks_the_top_it_meets_first() {
        let map = map();
        let units = views(&map);
        let (a, b) = (&units[0], &units[1]);
        // Straight down onto each label point.
        let down = Vec3::NEG_Y;
        let over = |u: &UnitView| Vec3::new(u.label_xz.x, 10_000.0, u.label_xz.y);
        let heights = [500.0, 2000.0];
        let with_heights = || units.iter().zip(heights);
        assert_eq!(pick(over(a), down, with_heights(), &map).as_deref(), Some(a.id.as_str()));
        assert_eq!(pick(over(b), down, with_heights(), &map).as_deref(), Some(b.id.as_str()));
        // Far outside both units: nothing (a tap outside returns to the district view).
        assert_eq!(pick(Vec3::new(1e6, 10_000.0, 1e6), down, with_heights(), &map), None);
        // Looking up: nothing.
        assert_eq!(pick(over(a), Vec3::Y, with_heights(), &map), None);
        // A ray that misses b's top but runs into its wall: from beside b, slanting into it
        // 1000 m below its 2000 m top.
        let beside = Vec3::new(b.label_xz.x, 2500.0, b.label_xz.y + 20_000.0);
        let into_wall = Vec3::new(b.label_xz.x, 1000.0, b.label_xz.y);
        let hit = pick(beside, (into_wall - beside).normalize(), with_heights(), &map);
        assert_eq!(hit.as_deref(), Some(b.id.as_str()), "the wall is hit");
    }

    #[test]
    fn the_tour_starts_when_idle_visits_the_riskiest_and_stops_on_input() {
        let map = map();
        let (state, ids, at) = scored(&map);
        let mut app = App::new();
        app.add_plugins(MinimalPlugins);
        // 0.25 s a frame (Bevy's default cap on a virtual-time step).
        app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(std::time::Duration::from_millis(250)));
        let mut config = Config::default();
        config.tour = crate::config::TourConfig { enabled: true, idle_s: 3.0, dwell_s: 2.0, units: 2 };
        app.insert_resource(crate::app::Settings { ramp: config.ramp().unwrap(), config });
        app.insert_resource(Picture { state: state.into(), source: Source::Demo { speed: 1.0 }, clock: Some(at), generation: 1, epoch: 0, freshness: Freshness::Live });
        app.insert_resource(map);
        app.add_message::<KeyboardInput>().add_message::<MouseButtonInput>().add_message::<CursorMoved>().add_message::<MouseWheel>().add_message::<TouchInput>();
        app.init_resource::<Selection>().init_resource::<Derived>().init_resource::<Idle>().init_resource::<Tour>().init_resource::<Attention>().add_message::<Select>();
        app.add_systems(Update, (derive_panels, track_input, run_tour, apply_selection).chain());
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
        app.world_mut().write_message(MouseWheel { unit: bevy::input::mouse::MouseScrollUnit::Line, x: 0.0, y: 1.0, window: Entity::PLACEHOLDER, phase: bevy::input::touch::TouchPhase::Moved });
        app.update();
        assert!(!app.world().resource::<Tour>().active);
        assert_eq!(selected(&app), None);
    }

    #[test]
    fn admin_chords_parse() {
        let (mods, key) = parse_chord("Ctrl+Alt+Shift+Q").unwrap();
        assert_eq!(mods.len(), 3);
        assert_eq!(key, KeyCode::KeyQ);
        assert!(parse_chord("ctrl+alt").is_none(), "no key");
        assert!(parse_chord("ctrl+f13").is_none(), "unknown key");
    }
}
