//! The orbit camera: its framing of the district (the [`HomeView`]), its MSAA, easing to the
//! selected unit and back, and standing still while the pointer is over a panel.

use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;
use bevy_panorbit_camera::PanOrbitCamera;

use super::map::{MapResource, world_from_map};
use super::picture::Settings;
use super::redraw::Redraw;
use super::scene::{UnitView, view_height};
use super::schedule::AppSystems;
use super::selection::Selection;

/// Easing to the selection (headless tests run this).
pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, (ease_camera, ask_while_moving).chain().in_set(AppSystems::Animate));
}

/// Spawning the camera over the map.
pub(super) fn view_plugin(app: &mut App) {
    app.add_systems(Startup, spawn_camera);
}

/// The district view the camera returns to.
#[derive(Resource, Clone, Copy, Debug)]
pub struct HomeView {
    /// Focus point, world metres.
    pub focus: Vec3,
    /// Distance from the focus, metres.
    pub radius: f32,
    /// Yaw, radians.
    pub yaw: f32,
    /// Pitch, radians.
    pub pitch: f32,
}

/// Elevation of the district view, degrees.
const HOME_PITCH_DEG: f32 = 42.0;

impl HomeView {
    /// The view of `map`: its bounding box (or three times the tallest prism, `tallest_m`,
    /// if larger) seen from the south at 42° elevation through a vertical field of view of
    /// `fov` radians, with 10 % to spare.
    pub fn framing(map: &MapResource, tallest_m: f32, fov: f32) -> (Self, f32) {
        let (x0, y0, x1, y1) = map.data.bounds();
        let focus = world_from_map(((x0 + x1) / 2.0, (y0 + y1) / 2.0), 0.0);
        // On a small map the tallest prism, not the footprint, sets the frame.
        let extent = ((x1 - x0).max(y1 - y0) as f32).max(3.0 * tallest_m).max(100.0);
        let radius = extent * 0.5 / (fov / 2.0).tan() * 1.1;
        (Self { focus, radius, yaw: 0.0, pitch: HOME_PITCH_DEG.to_radians() }, extent)
    }
}

/// MSAA samples for `[render] msaa` (0: auto, 4 on a GPU and none on a CPU rasteriser
/// (lavapipe, llvmpipe), where it multiplies the cost of every pixel).
pub fn msaa(configured: u32, software: bool) -> Msaa {
    match configured {
        0 if software => Msaa::Off,
        0 => Msaa::Sample4,
        1 => Msaa::Off,
        2 => Msaa::Sample2,
        8 => Msaa::Sample8,
        _ => Msaa::Sample4,
    }
}

fn spawn_camera(mut commands: Commands, map: Res<MapResource>, settings: Res<Settings>, adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>) {
    let software = adapter.is_some_and(|a| format!("{:?}", a.device_type) == "Cpu");
    let fov = std::f32::consts::FRAC_PI_4;
    let (home, extent) = HomeView::framing(&map, settings.config.extrusion.height_m(100.0), fov);
    commands.insert_resource(home);
    commands.spawn((
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection { fov, near: home.radius * 0.01, far: home.radius * 20.0, ..default() }),
        Tonemapping::None,
        msaa(settings.config.render.msaa, software),
        DebandDither::Disabled,
        PanOrbitCamera {
            focus: home.focus,
            radius: Some(home.radius),
            yaw: Some(home.yaw),
            pitch: Some(home.pitch),
            pitch_lower_limit: Some(10f32.to_radians()),
            pitch_upper_limit: Some(89f32.to_radians()),
            zoom_lower_limit: extent * 0.05,
            zoom_upper_limit: Some(home.radius * 4.0),
            ..default()
        },
    ));
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

/// While the camera travels to its target, the next frame is wanted at once.
fn ask_while_moving(cameras: Query<&PanOrbitCamera>, mut redraw: ResMut<Redraw>) {
    let moving = cameras.iter().any(|c| {
        c.focus.distance(c.target_focus) > 0.5
            || c.radius.is_some_and(|r| (r - c.target_radius).abs() > 0.5)
            || c.yaw.is_some_and(|y| (y - c.target_yaw).abs() > 1e-4)
            || c.pitch.is_some_and(|p| (p - c.target_pitch).abs() > 1e-4)
    });
    if moving {
        redraw.animate();
    }
}
