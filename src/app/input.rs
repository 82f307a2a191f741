//! The operator's direct input: picking a unit with mouse or touch (a ray against every
//! prism's top and walls and every bureau column), and `Esc` back to the district view.
//! Orbiting, panning and zooming are the orbit camera's own.

use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;
use geo::{Contains, Point};

use super::flight::Attention;
use super::map::{MapResource, map_from_world};
use super::picture::Settings;
use super::scene::{BureauClusters, BureauDisplay, UnitView, view_height};
use super::schedule::AppSystems;
use super::selection::Select;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, (escape_to_district, pick_on_click).in_set(AppSystems::Input));
}

/// Largest pointer travel, logical pixels, for a press and release to count as a click (more
/// is an orbit or pan drag); twice that for a touch.
pub const CLICK_SLOP_PX: f32 = 8.0;

/// `Esc`: back to the district view, ending a critical-alert flight.
fn escape_to_district(input: Res<ButtonInput<KeyCode>>, mut attention: ResMut<Attention>, mut select: MessageWriter<Select>) {
    if input.just_pressed(KeyCode::Escape) {
        attention.end();
        select.write(Select(None));
    }
}

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
    clusters: Option<Res<BureauClusters>>,
    display: Option<Res<BureauDisplay>>,
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
    // Bureaus a cluster column stands for (or all, toggled off) cannot be picked.
    let hidden = |u: &UnitView| matches!((&clusters, &display), (Some(c), Some(d)) if c.hides(u.index, u.point, d));
    let hit = pick(ray.origin, *ray.direction, units.iter().filter(|u| !hidden(u)).map(|u| (u, view_height(u, ext, u.transition.shown))), &map);
    attention.end();
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
                let (x, y) = map_from_world(p);
                let q = Point::new(x, y);
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
    best.map(|(_, u)| u.id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::derive::Derived;
    use crate::app::picture::{Picture, Source};
    use crate::app::selection::Selection;
    use crate::app::testing::{test_app, test_map};
    use crate::config::Config;
    use crate::model::{RiskScore, RiskState};
    use bevy::camera::{ComputedCameraValues, RenderTargetInfo};
    use bevy::input::ButtonState;
    use bevy::input::mouse::MouseButtonInput;
    use bevy::window::{PrimaryWindow, WindowResolution};

    fn views(map: &MapResource) -> Vec<UnitView> {
        map.data.units.iter().enumerate().map(|(i, u)| UnitView::area(i as u32, u)).collect()
    }

    /// The two test units scored 20 and 85 at 08:00.
    fn scored(map: &MapResource) -> Picture {
        let mut state = RiskState::new();
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-29T08:00:00+08:00").unwrap();
        for (unit, total) in map.data.units.iter().zip([20.0, 85.0]) {
            state.apply_score(&unit.id, at, RiskScore { total, threat: total, asset: total, compliance: total }).unwrap();
        }
        Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(at))
    }

    fn button(app: &mut App, window: Entity, state: ButtonState) {
        app.world_mut().write_message(MouseButtonInput { button: MouseButton::Left, state, window });
    }

    #[test]
    fn a_click_selects_the_unit_and_its_drill_down_comes_in_the_same_update() {
        let map = test_map();
        let picture = scored(&map);
        let units = views(&map);
        let target = units[0].label_xz;
        let ids: Vec<String> = units.iter().map(|u| u.id.to_string()).collect();
        let mut app = test_app(Config::default(), map, picture);
        for v in units {
            app.world_mut().spawn(v);
        }
        // A 1000 × 1000 window and a camera straight above the first unit's label point, so
        // the window's centre looks down onto it.
        let mut window = Window { resolution: WindowResolution::new(1000, 1000), ..default() };
        window.set_cursor_position(Some(Vec2::new(500.0, 500.0)));
        let window = app.world_mut().spawn((window, PrimaryWindow)).id();
        let camera = Camera {
            computed: ComputedCameraValues {
                clip_from_view: Mat4::perspective_infinite_reverse_rh(std::f32::consts::FRAC_PI_4, 1.0, 10.0),
                target_info: Some(RenderTargetInfo { physical_size: UVec2::new(1000, 1000), scale_factor: 1.0 }),
                ..default()
            },
            ..default()
        };
        let eye = Transform::from_xyz(target.x, 50_000.0, target.y).looking_at(Vec3::new(target.x, 0.0, target.y), Vec3::NEG_Z);
        app.world_mut().spawn((Camera3d::default(), camera, GlobalTransform::from(eye)));
        app.update();
        assert!(app.world().resource::<Derived>().detail.is_none());
        button(&mut app, window, ButtonState::Pressed);
        app.update();
        assert!(app.world().resource::<Derived>().detail.is_none(), "a press alone selects nothing");
        button(&mut app, window, ButtonState::Released);
        app.update();
        assert_eq!(app.world().resource::<Selection>().unit.as_deref(), Some(ids[0].as_str()));
        let (id, detail) = app.world().resource::<Derived>().detail.clone().expect("the drill-down of the click's frame");
        assert_eq!(id, ids[0], "the drill-down names the clicked unit in the click's own update");
        assert_eq!(detail.score.map(|s| s.total), Some(20.0));
        assert_eq!(detail.rank, Some((2, 2)));
        // Esc: back to the district view, drill-down closed in the same update.
        let esc = bevy::input::keyboard::KeyboardInput {
            key_code: KeyCode::Escape,
            logical_key: bevy::input::keyboard::Key::Escape,
            state: ButtonState::Pressed,
            text: None,
            repeat: false,
            window,
        };
        app.world_mut().write_message(esc);
        app.update();
        assert!(app.world().resource::<Selection>().unit.is_none());
        assert!(app.world().resource::<Derived>().detail.is_none());
    }

    #[test]
    fn a_ray_picks_the_top_it_meets_first() {
        let map = test_map();
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
}
