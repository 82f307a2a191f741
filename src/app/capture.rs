//! `--screenshot FILE.png [--frames N]`: wait until the picture is complete (every render
//! pipeline compiled, the map's units spawned, every glyph on screen in egui's font atlas:
//! [`super::reveal::FirstPicture`]), holding a demo's data clock still meanwhile; then render
//! N more frames, save the whole window (egui included) as PNG, write a JSON sidecar
//! describing where each unit's label point, label and panel landed, and exit 0. A picture that cannot complete within
//! [`CAPTURE_TIMEOUT_S`] exits with an error instead of saving half a picture.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::PrimaryWindow;
use serde::Serialize;

use super::demo::DemoFeed;
use super::drawn::{DrawnRects, PANELS, visible_panel};
use super::picture::Settings;
use super::reveal::FirstPicture;
use super::scene::{BureauClusters, BureauDisplay, CLUSTER_SIDE_M, UnitView};
use super::schedule::AppSystems;
use super::selection::Selection;
use super::theme;
use super::ui::{GLYPH_CELL, GLYPH_PROBE, GlyphProbe, glyph_probe_origin};

/// What to capture.
#[derive(Clone, Debug, Resource)]
pub struct CapturePlan {
    /// PNG path.
    pub path: PathBuf,
    /// Frames to render after the picture is complete, before capturing (0: capture the first
    /// complete frame). A demo plays on during these.
    pub frames: u32,
    /// Also paint the glyph probe (render check only).
    pub glyph_probe: bool,
}

/// The sidecar written next to the PNG as `FILE.png.json`: physical-pixel positions in the
/// image and the colours the renderer was asked to draw there.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureMeta {
    /// Image width, physical pixels.
    pub width: u32,
    /// Image height, physical pixels.
    pub height: u32,
    /// Physical pixels per logical pixel.
    pub scale_factor: f32,
    /// One entry per unit on screen.
    pub units: Vec<UnitSample>,
    /// Glyph probe cells, when painted.
    pub glyph_probe: Vec<GlyphCell>,
    /// The UI zoom (egui points to logical pixels).
    pub ui_zoom: f32,
    /// The selected unit.
    pub selected: Option<String>,
    /// Panels on screen by name (`ranking`, `detail`, `ticker`, `banner`, `timeline`,
    /// `legend`, `header`): `[left, top, right, bottom]`, physical pixels.
    pub panels: std::collections::BTreeMap<String, [f32; 4]>,
    /// Overdue badges drawn (超时 N over a unit): unit id and `[left, top, right, bottom]`,
    /// physical pixels; their fill is `theme::OVERDUE`.
    pub overdue_badges: Vec<(String, [f32; 4])>,
    /// Unit labels drawn on the map: unit id and `[left, top, right, bottom]`, physical pixels.
    pub labels: Vec<(String, [f32; 4])>,
    /// Leader lines to labels and badges set off from their points: unit id and `[x0, y0,
    /// x1, y1]` (the point, then the label's end), physical pixels.
    pub leaders: Vec<(String, [f32; 4])>,
    /// The ranking board's column heads as drawn: text and `[left, top, right, bottom]`,
    /// physical pixels.
    pub ranking_heads: Vec<(String, [f32; 4])>,
    /// The header's 模拟数据 / SIMULATED badge, when drawn: `[left, top, right, bottom]`,
    /// physical pixels; its fill is `theme::SIMULATED_BADGE`.
    pub simulated_badge: Option<[f32; 4]>,
    /// The stale watermark's dark plate, when drawn: `[left, top, right, bottom]`, physical
    /// pixels; it stands above the labels and panels.
    pub watermark: Option<[f32; 4]>,
    /// The bureau cluster columns drawn (district zoom): each one's count of bureaus, the
    /// screen rect of its count badge and of its square footprint on the ground
    /// (`[left, top, right, bottom]`, physical pixels).
    pub clusters: Vec<ClusterSample>,
    /// The clusters' count pills (×N) as drawn.
    pub cluster_pills: Vec<ClusterPill>,
    /// Whether near bureaus are drawn as clusters now (false once the camera zooms in).
    pub bureaus_clustered: bool,
    /// Frames rendered before the picture was complete (pipelines compiled, fonts settled).
    pub frames_to_complete: u32,
    /// Seconds from process start until the picture was complete.
    pub complete_after_s: f64,
}

/// One bureau cluster column on screen.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterSample {
    /// Bureaus it stands for.
    pub count: usize,
    /// Its square footprint on the ground, projected: `[left, top, right, bottom]`, physical
    /// pixels.
    pub footprint: [f32; 4],
}

/// A bureau cluster's count pill (×N) as drawn over its column.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterPill {
    /// Bureaus in the cluster.
    pub count: usize,
    /// `[left, top, right, bottom]`, physical pixels.
    pub rect: [f32; 4],
}

/// A capture gives up (exit code 1, no PNG) when the picture is not complete this many
/// seconds after the process started: a renderer that cannot compile its pipelines, say.
pub const CAPTURE_TIMEOUT_S: f64 = 180.0;

/// Where one unit's label point (on its top cap) landed.
#[derive(Clone, Debug, Serialize)]
pub struct UnitSample {
    /// Unit id.
    pub id: String,
    /// Score shown, 0–100, or `None` for no data.
    pub score: Option<f32>,
    /// sRGB colour of the unit's top cap, 0–255.
    pub colour: [u8; 3],
    /// Pixel column.
    pub x: f32,
    /// Pixel row.
    pub y: f32,
    /// Whether it is the selected unit (its top is lightened, see `shaders/unit.wgsl`).
    pub selected: bool,
}

/// One glyph probe cell, physical pixels.
#[derive(Clone, Debug, Serialize)]
pub struct GlyphCell {
    /// The character painted.
    pub ch: char,
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width and height.
    pub size: f32,
}

pub(super) fn plugin(plan: CapturePlan) -> impl Fn(&mut App) {
    move |app: &mut App| {
        if plan.glyph_probe {
            app.insert_resource(GlyphProbe);
        }
        app.insert_resource(plan.clone()).init_resource::<DrawnRects>().add_systems(Last, count_and_capture.in_set(AppSystems::Diagnostics));
    }
}

/// Where the wait for a complete picture stands.
#[derive(Default)]
struct Progress {
    /// Frames rendered so far.
    frame: u32,
    /// The frame the picture was complete on, and the seconds since start then.
    complete: Option<(u32, f64)>,
    /// The demo's own pause state, while the capture holds its clock.
    held: Option<bool>,
    /// The screenshot was asked for.
    taken: bool,
}

/// What the sidecar reads off the views.
#[derive(bevy::ecs::system::SystemParam)]
struct Views<'w, 's> {
    window: Single<'w, 's, &'static Window, With<PrimaryWindow>>,
    cameras: Query<'w, 's, (&'static Camera, &'static GlobalTransform), With<Camera3d>>,
    units: Query<'w, 's, &'static UnitView>,
    settings: Res<'w, Settings>,
    selection: Res<'w, Selection>,
    badges: Option<Res<'w, super::incidents::BadgesDrawn>>,
    drawn: Res<'w, DrawnRects>,
    clusters: Option<Res<'w, BureauClusters>>,
    display: Option<Res<'w, BureauDisplay>>,
}

#[allow(clippy::too_many_arguments)]
fn count_and_capture(
    mut commands: Commands,
    plan: Res<CapturePlan>,
    mut progress: Local<Progress>,
    first: Res<FirstPicture>,
    mut demo: Option<ResMut<DemoFeed>>,
    mut exit: MessageWriter<AppExit>,
    views: Views,
    mut contexts: bevy_egui::EguiContexts,
) {
    let Views { window, cameras, units, settings, selection, badges, drawn, clusters, display } = views;
    if progress.taken {
        return;
    }
    progress.frame += 1;
    let since_start = super::picture::START.get().map_or(0.0, |t| t.elapsed().as_secs_f64());
    if progress.complete.is_none() {
        // The picture is complete (see `reveal`): every map unit spawned, every pipeline
        // compiled, every glyph in the atlas. Until then a demo's data clock stands still.
        if let Some((frame, s)) = first.complete {
            progress.complete = Some((progress.frame, s));
            info!("capture: the picture is complete after {frame} frames ({s:.2} s from start)");
            if let (Some(d), Some(paused)) = (demo.as_mut(), progress.held.take()) {
                d.paused = paused;
            }
        } else {
            if let Some(d) = demo.as_mut()
                && progress.held.is_none()
            {
                progress.held = Some(d.paused);
                d.paused = true;
            }
            if since_start > CAPTURE_TIMEOUT_S {
                error!(
                    "capture: the picture did not complete within {CAPTURE_TIMEOUT_S} s (the `picture:` warning above says what was missing); no screenshot saved"
                );
                progress.taken = true;
                exit.write(AppExit::error());
            }
            return;
        }
    }
    let Some((complete_frame, complete_s)) = progress.complete else { return };
    if progress.frame < complete_frame + plan.frames {
        return;
    }
    progress.taken = true;
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let ui_zoom = ctx.zoom_factor();
    let px = ui_zoom * window.scale_factor();
    let panels = PANELS.iter().filter_map(|name| Some(((*name).to_owned(), physical(visible_panel(ctx, name)?, px)))).collect();
    let scale = window.scale_factor();
    let ext = &settings.config.extrusion;
    let mut samples = Vec::new();
    if let Ok((camera, cam_tf)) = cameras.single() {
        for unit in units.iter().filter(|u| !u.point) {
            if let Ok(p) = camera.world_to_viewport(cam_tf, unit.label_world(ext)) {
                let colour = match unit.transition.shown {
                    Some(s) => settings.ramp.sample(super::scene::palette_index(s) as f32).map(|c| (c * 255.0).round() as u8),
                    None => theme::NO_DATA,
                };
                let selected = selection.unit.as_deref() == Some(unit.id.as_str());
                samples.push(UnitSample { id: unit.id.to_string(), score: unit.transition.shown, colour, x: p.x * scale, y: p.y * scale, selected });
            }
        }
    }
    let mut glyphs = Vec::new();
    if plan.glyph_probe {
        let o = glyph_probe_origin(window.width(), window.height());
        for (i, ch) in GLYPH_PROBE.iter().enumerate() {
            glyphs.push(GlyphCell { ch: *ch, x: (o.x + i as f32 * GLYPH_CELL) * scale, y: o.y * scale, size: GLYPH_CELL * scale });
        }
    }
    let meta = CaptureMeta {
        width: window.physical_width(),
        height: window.physical_height(),
        scale_factor: scale,
        units: samples,
        glyph_probe: glyphs,
        ui_zoom,
        selected: selection.unit.clone(),
        panels,
        overdue_badges: badges.map(|b| b.0.iter().map(|(id, r)| (id.clone(), r.map(|v| v * px))).collect()).unwrap_or_default(),
        labels: drawn.labels.iter().map(|(id, r)| (id.clone(), physical(*r, px))).collect(),
        leaders: drawn.leaders.iter().map(|(id, [a, b])| (id.clone(), [a.x, a.y, b.x, b.y].map(|v| v * px))).collect(),
        ranking_heads: drawn.ranking_heads.iter().map(|(t, r)| (t.clone(), physical(*r, px))).collect(),
        simulated_badge: drawn.simulated_badge.map(|r| physical(r, px)),
        watermark: drawn.watermark.map(|r| physical(r, px)),
        clusters: cluster_samples(clusters.as_deref(), cameras.single().ok(), scale),
        cluster_pills: drawn.cluster_badges.iter().map(|(count, r)| ClusterPill { count: *count, rect: physical(*r, px) }).collect(),
        bureaus_clustered: display.is_some_and(|d| d.clustered),
        frames_to_complete: complete_frame,
        complete_after_s: complete_s,
    };
    let path = plan.path.clone();
    commands.spawn(Screenshot::primary_window()).observe(move |captured: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
        let result = captured.image.clone().try_into_dynamic().map_err(|e| e.to_string()).and_then(|img| img.to_rgb8().save(&path).map_err(|e| e.to_string()));
        match result {
            Ok(()) => {
                let sidecar = PathBuf::from(format!("{}.json", path.display()));
                let written = serde_json::to_string_pretty(&meta).map_err(std::io::Error::other).and_then(|json| std::fs::write(&sidecar, json));
                if let Err(e) = written {
                    error!("cannot write {}: {e}", sidecar.display());
                    exit.write(AppExit::error());
                    return;
                }
                info!("screenshot saved to {}", path.display());
                exit.write(AppExit::Success);
            }
            Err(e) => {
                error!("cannot save screenshot {}: {e}", path.display());
                exit.write(AppExit::error());
            }
        }
    });
}

/// `r` (egui points) as `[left, top, right, bottom]` physical pixels, `px` pixels per point.
fn physical(r: bevy_egui::egui::Rect, px: f32) -> [f32; 4] {
    [r.left() * px, r.top() * px, r.right() * px, r.bottom() * px]
}

/// The drawn cluster columns' footprints on screen: the projected corners of each one's base
/// square, physical pixels (`scale` per logical pixel).
fn cluster_samples(clusters: Option<&BureauClusters>, camera: Option<(&Camera, &GlobalTransform)>, scale: f32) -> Vec<ClusterSample> {
    let (Some(clusters), Some((camera, tf))) = (clusters, camera) else { return Vec::new() };
    let half = CLUSTER_SIDE_M as f32 / 2.0;
    clusters
        .drawn()
        .filter_map(|(_, c)| {
            let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
            for (dx, dz) in [(-half, -half), (half, -half), (half, half), (-half, half)] {
                let p = camera.world_to_viewport(tf, Vec3::new(c.at_xz.x + dx, 0.0, c.at_xz.y + dz)).ok()? * scale;
                b = [b[0].min(p.x), b[1].min(p.y), b[2].max(p.x), b[3].max(p.y)];
            }
            Some(ClusterSample { count: c.members.len(), footprint: b })
        })
        .collect()
}
