//! `--screenshot FILE.png [--frames N]`: render N frames, save the whole window (egui
//! included) as PNG, write a JSON sidecar describing where each unit's label point landed, and
//! exit 0.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::PrimaryWindow;
use serde::Serialize;

use super::picture::Settings;
use super::scene::UnitView;
use super::schedule::AppSystems;
use super::selection::Selection;
use super::theme;
use super::ui::{GLYPH_CELL, GLYPH_PROBE, GlyphProbe, glyph_probe_origin};

/// What to capture.
#[derive(Clone, Debug, Resource)]
pub struct CapturePlan {
    /// PNG path.
    pub path: PathBuf,
    /// Frames to render before capturing.
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
}

/// The egui areas the sidecar reports.
pub const PANELS: [&str; 7] = ["ranking", "detail", "ticker", "banner", "timeline", "legend", "header"];

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
        app.insert_resource(plan.clone()).add_systems(Last, count_and_capture.in_set(AppSystems::Diagnostics));
    }
}

#[allow(clippy::too_many_arguments)]
fn count_and_capture(
    mut commands: Commands,
    plan: Res<CapturePlan>,
    mut frame: Local<u32>,
    window: Single<&Window, With<PrimaryWindow>>,
    cameras: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    units: Query<&UnitView>,
    settings: Res<Settings>,
    selection: Res<Selection>,
    badges: Option<Res<super::incidents::BadgesDrawn>>,
    mut contexts: bevy_egui::EguiContexts,
) {
    *frame += 1;
    if *frame != plan.frames.max(1) {
        return;
    }
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let ui_zoom = ctx.zoom_factor();
    let px = ui_zoom * window.scale_factor();
    let panels = PANELS
        .iter()
        .filter_map(|name| {
            let r = ctx.memory(|m| m.area_rect(bevy_egui::egui::Id::new(*name)))?;
            // Areas not drawn this frame keep their last rect: report only the visible.
            ctx.memory(|m| {
                m.areas().visible_last_frame(&bevy_egui::egui::LayerId::new(bevy_egui::egui::Order::Middle, bevy_egui::egui::Id::new(*name)))
                    || m.areas().visible_last_frame(&bevy_egui::egui::LayerId::new(bevy_egui::egui::Order::Foreground, bevy_egui::egui::Id::new(*name)))
            })
            .then(|| ((*name).to_owned(), [r.left() * px, r.top() * px, r.right() * px, r.bottom() * px]))
        })
        .collect();
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
                samples.push(UnitSample { id: unit.id.clone(), score: unit.transition.shown, colour, x: p.x * scale, y: p.y * scale, selected });
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
