//! The orbit camera: its framing of the district (the [`HomeView`]), its MSAA, easing to the
//! selected unit and back, and standing still while the pointer is over a panel.

use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;
use bevy_panorbit_camera::PanOrbitCamera;

use super::map::{MapResource, world_from_map};
use super::picture::Settings;
use super::redraw::Redraw;
use super::scene::{BureauDisplay, UnitView, view_height};
use super::schedule::AppSystems;
use super::selection::Selection;

/// Easing to the selection (headless tests run this).
pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, (ease_camera, ask_while_moving, cluster_by_zoom).chain().in_set(AppSystems::Animate));
}

/// Bureaus cluster while the camera is further out than this share of the home view's
/// radius, and show one by one once it comes closer than [`EXPAND_BELOW`].
const CLUSTER_ABOVE: f32 = 0.65;
/// See [`CLUSTER_ABOVE`]: the gap between the two keeps a camera at the threshold from
/// flickering between the two.
const EXPAND_BELOW: f32 = 0.55;

/// Clusters the bureau columns at district zoom and expands them as the camera zooms in.
fn cluster_by_zoom(cameras: Query<&PanOrbitCamera>, home: Option<Res<HomeView>>, display: Option<ResMut<BureauDisplay>>) {
    let (Some(home), Some(mut display), Ok(cam)) = (home, display, cameras.single()) else { return };
    let share = cam.radius.unwrap_or(home.radius) / home.radius.max(1.0);
    let clustered = if display.clustered { share > EXPAND_BELOW } else { share > CLUSTER_ABOVE };
    if display.clustered != clustered {
        display.clustered = clustered;
    }
}

/// Spawning the camera over the map.
pub(super) fn view_plugin(app: &mut App) {
    app.add_systems(Startup, spawn_camera).add_systems(Update, refit_home_on_resize.in_set(AppSystems::Animate));
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

/// The part of the window the map may use at home view, as fractions of its width and height
/// (`[left, top, right, bottom]`, y down): the window less the header and the band the 严重
/// banner takes when it stands, the ranking board's
/// column (when shown), the timeline and the ticker's band at the bottom. Falls back to the
/// whole window when that would leave less than a third of it. `width` and `height` are
/// logical pixels, `zoom` the UI zoom (points to logical pixels), `banner_bottom` where the
/// banner ends (points, [`super::theme::banner_bottom`]).
pub fn free_area(width: f32, height: f32, zoom: f32, ranking: bool, demo: bool, ticker_rows: usize, banner_bottom: f32) -> [f32; 4] {
    use super::theme::{MARGIN, RANKING_W, bottom_clearance};
    let pt = |v: f32| v * zoom;
    let left = if ranking { pt(MARGIN + RANKING_W + 24.0 + MARGIN) } else { pt(MARGIN) };
    // The header, and the 严重 banner that takes over the top centre while an incident is open.
    let top = pt(banner_bottom);
    let bottom = pt(bottom_clearance(demo) + super::theme::ticker_height(ticker_rows));
    let right = pt(MARGIN);
    let area = [left / width, top / height, 1.0 - right / width, 1.0 - bottom / height];
    if area[2] - area[0] < 0.33 || area[3] - area[1] < 0.33 { [0.0, 0.0, 1.0, 1.0] } else { area }
}

/// Focus and radius of an orbit camera at `yaw`, `pitch` (radians) that frame the world box
/// `lo`–`hi` (metres) inside `area` (fractions of the viewport, `[left, top, right, bottom]`, y
/// down) with a vertical field of view `fov` (radians) and aspect `aspect` (width / height),
/// 5 % margin. The camera looks at the box from `focus` + `radius` along its back axis, as
/// bevy_panorbit_camera places it; found by iteration (the perspective makes size and offset
/// depend on each other), converging within a few dozen steps.
pub fn fit_box(lo: Vec3, hi: Vec3, yaw: f32, pitch: f32, fov: f32, aspect: f32, area: [f32; 4]) -> (Vec3, f32) {
    let rot = Quat::from_axis_angle(Vec3::Y, yaw) * Quat::from_axis_angle(Vec3::X, -pitch);
    let (right, up) = (rot * Vec3::X, rot * Vec3::Y);
    let corners: Vec<Vec3> = (0..8).map(|i| Vec3::new([lo.x, hi.x][i & 1], [lo.y, hi.y][(i >> 1) & 1], [lo.z, hi.z][(i >> 2) & 1])).collect();
    let (tan_y, aw, ah) = ((fov / 2.0).tan(), (area[2] - area[0]) * 0.95, (area[3] - area[1]) * 0.95);
    let (acx, acy) = ((area[0] + area[2]) / 2.0, (area[1] + area[3]) / 2.0);
    let mut focus = (lo + hi) / 2.0;
    let mut radius = (hi - lo).length().max(1.0) / tan_y;
    for _ in 0..60 {
        let eye = focus + rot * Vec3::new(0.0, 0.0, radius);
        let inv = rot.inverse();
        let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        let mut behind = false;
        for c in &corners {
            let v = inv * (*c - eye);
            if v.z > -1e-3 {
                behind = true;
                break;
            }
            let (x, y) = (v.x / -v.z / (tan_y * aspect), v.y / -v.z / tan_y);
            let (sx, sy) = ((x + 1.0) / 2.0, (1.0 - y) / 2.0);
            b = [b[0].min(sx), b[1].min(sy), b[2].max(sx), b[3].max(sy)];
        }
        if behind {
            radius *= 2.0;
            continue;
        }
        let scale = ((b[2] - b[0]) / aw).max((b[3] - b[1]) / ah);
        // Move the box's centre onto the area's: a fraction of the view spans
        // 2·tan·radius metres at the focus's distance.
        let (bcx, bcy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
        focus -= right * (acx - bcx) * 2.0 * tan_y * aspect * radius;
        focus += up * (acy - bcy) * 2.0 * tan_y * radius;
        radius *= scale.clamp(0.5, 2.0).powf(0.8);
    }
    (focus, radius)
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

/// The vertical field of view, radians.
const FOV: f32 = std::f32::consts::FRAC_PI_4;

/// The home view for a window `width` × `height` logical pixels: the district (at the
/// tallest extrusion) framed inside the [`free_area`] the panels leave.
fn home_for(map: &MapResource, settings: &Settings, width: f32, height: f32, demo: bool) -> (HomeView, f32) {
    let tallest = settings.config.extrusion.height_m(100.0);
    let (mut home, extent) = HomeView::framing(map, tallest, FOV);
    if width > 1.0 && height > 1.0 && !map.data.units.is_empty() {
        let (x0, y0, x1, y1) = map.data.bounds();
        let (lo, hi) = (world_from_map((x0, y1), 0.0), world_from_map((x1, y0), tallest));
        let zoom = super::theme::ui_zoom(settings.config.ui.scale, height);
        let banner = super::theme::banner_bottom(settings.config.alerts.acknowledge, settings.config.ui.touch);
        let area = free_area(width, height, zoom, settings.config.ui.ranking, demo, settings.config.alerts.ticker_len, banner);
        let (focus, radius) = fit_box(lo.min(hi), lo.max(hi), home.yaw, home.pitch, FOV, width / height, area);
        if focus.is_finite() && radius.is_finite() && radius > 0.0 {
            home.focus = focus;
            home.radius = radius;
        }
    }
    (home, extent)
}

fn spawn_camera(
    mut commands: Commands,
    map: Res<MapResource>,
    settings: Res<Settings>,
    adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>,
    windows: Query<&Window>,
    demo: Option<Res<super::demo::DemoFeed>>,
) {
    let software = adapter.is_some_and(|a| format!("{:?}", a.device_type) == "Cpu");
    let fov = FOV;
    let (w, h) = windows.iter().next().map_or((0.0, 0.0), |w| (w.width(), w.height()));
    let (home, extent) = home_for(&map, &settings, w, h, demo.is_some());
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
    match selection.unit.as_ref().and_then(|id| units.iter().find(|u| u.id == id)) {
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
/// A window resized (a wall placed fullscreen on its monitor, a desktop window dragged): the
/// home view is framed afresh for the new size, and the camera goes there when it is home.
#[allow(clippy::too_many_arguments)]
fn refit_home_on_resize(
    mut resized: MessageReader<bevy::window::WindowResized>,
    windows: Query<&Window>,
    map: Res<MapResource>,
    settings: Res<Settings>,
    selection: Res<Selection>,
    demo: Option<Res<super::demo::DemoFeed>>,
    mut home: Option<ResMut<HomeView>>,
    mut cameras: Query<&mut PanOrbitCamera>,
) {
    if resized.read().count() == 0 {
        return;
    }
    let (Some(home), Ok(window)) = (home.as_mut(), windows.single()) else { return };
    let (fresh, _) = home_for(&map, &settings, window.width(), window.height(), demo.is_some());
    **home = fresh;
    if selection.unit.is_none()
        && let Ok(mut cam) = cameras.single_mut()
    {
        cam.target_focus = fresh.focus;
        cam.target_radius = fresh.radius;
        cam.zoom_upper_limit = Some(fresh.radius * 4.0);
        cam.force_update = true;
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Screen fractions (x right, y down) of `p` seen by an orbit camera, through Bevy's own
    /// perspective matrix.
    fn project(p: Vec3, focus: Vec3, radius: f32, yaw: f32, pitch: f32, aspect: f32) -> (f32, f32) {
        let rot = Quat::from_axis_angle(Vec3::Y, yaw) * Quat::from_axis_angle(Vec3::X, -pitch);
        let cam = Transform { translation: focus + rot * Vec3::new(0.0, 0.0, radius), rotation: rot, ..default() };
        let clip = Mat4::perspective_rh(FOV, aspect, 1.0, 1e7) * cam.to_matrix().inverse() * p.extend(1.0);
        let ndc = clip.truncate() / clip.w;
        ((ndc.x + 1.0) / 2.0, (1.0 - ndc.y) / 2.0)
    }

    #[test]
    fn the_district_is_framed_inside_the_area_the_panels_leave() {
        // A 20 × 16 km district up to 2 km tall, on a 1280 × 800 kiosk with its panels.
        let (lo, hi) = (Vec3::new(-10_000.0, 0.0, -8_000.0), Vec3::new(10_000.0, 2_000.0, 8_000.0));
        let aspect = 1280.0 / 800.0;
        let area = free_area(1280.0, 800.0, 1.0, true, true, 8, super::super::theme::banner_bottom(true, true));
        assert!(area[0] > 0.3 && area[2] < 1.0 && area[3] < 0.8, "{area:?}");
        // The kiosk's banner, with its touch-sized 确认 button, reaches 210 points down.
        assert!((area[1] * 800.0 - 209.6).abs() < 0.1, "{area:?}");
        assert!(super::super::theme::banner_bottom(false, false) < 170.0, "the wall's banner has no button");
        let (pitch, yaw) = (HOME_PITCH_DEG.to_radians(), 0.0);
        let (focus, radius) = fit_box(lo, hi, yaw, pitch, FOV, aspect, area);
        let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        for i in 0..8 {
            let c = Vec3::new([lo.x, hi.x][i & 1], [lo.y, hi.y][(i >> 1) & 1], [lo.z, hi.z][(i >> 2) & 1]);
            let (x, y) = project(c, focus, radius, yaw, pitch, aspect);
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
        let eps = 1e-3;
        assert!(b[0] >= area[0] - eps && b[1] >= area[1] - eps && b[2] <= area[2] + eps && b[3] <= area[3] + eps, "box {b:?} leaves area {area:?}");
        // Tight: it fills the area's width or height (95 % margin, 2 % slack).
        let fill = ((b[2] - b[0]) / (area[2] - area[0])).max((b[3] - b[1]) / (area[3] - area[1]));
        assert!(fill > 0.93, "fills only {fill}");
    }
}
