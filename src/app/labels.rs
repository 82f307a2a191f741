//! The unit labels on the map: the riskiest units claim label space first, and a label that
//! would overlap one already placed tries other sides of its point or is left out.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::i18n;
use super::map::{MapResource, world_from_map};
use super::picture::Settings;
use super::scene::{CONTEXT_HEIGHT_M, UnitView};
use super::schedule::AppSystems;
use super::theme;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(EguiPrimaryContextPass, labels_ui.in_set(AppSystems::Ui));
}

/// At most this many unit labels are tried per frame, riskiest first.
pub const MAX_LABEL_CANDIDATES: usize = 400;

/// Map labels longer than this many characters are cut with an ellipsis.
pub const LABEL_MAX_CHARS: usize = 10;

/// A unit name as its map label: at most [`LABEL_MAX_CHARS`] characters, the last one "…"
/// when cut.
pub fn short_name(name: &str) -> String {
    i18n::truncate(name, LABEL_MAX_CHARS)
}

fn labels_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    cameras: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    units: Query<&UnitView>,
    map: Res<MapResource>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let Ok((camera, cam_tf)) = cameras.single() else { return Ok(()) };
    let painter = ctx.layer_painter(egui::LayerId::background());
    // Viewport positions are logical window pixels; egui points are those over its zoom.
    let zoom = ctx.zoom_factor();
    let ext = &settings.config.extrusion;
    for area in &map.context {
        if let Some((x, y)) = area.label
            && let Ok(pos) = camera.world_to_viewport(cam_tf, world_from_map((x, y), CONTEXT_HEIGHT_M))
        {
            painter.text(
                egui::pos2(pos.x, pos.y) / zoom,
                egui::Align2::CENTER_CENTER,
                &area.name,
                egui::FontId::proportional(13.0),
                theme::egui(theme::CONTEXT_LABEL),
            );
        }
    }
    // The riskiest units claim label space first (then the larger ones); a label that would
    // overlap one already placed tries below, right and left of its point, and is left out
    // when all are taken.
    let font = egui::FontId::proportional(13.0);
    let screen = ctx.content_rect();
    let mut order: Vec<(&UnitView, egui::Pos2)> = units
        .iter()
        .filter(|u| !u.point)
        .filter_map(|u| {
            let p = camera.world_to_viewport(cam_tf, u.label_world(ext)).ok()? / zoom;
            let p = egui::pos2(p.x, p.y);
            screen.contains(p).then_some((u, p))
        })
        .collect();
    order.sort_by(|(a, _), (b, _)| {
        let (sa, sb) = (a.transition.shown.unwrap_or(-1.0), b.transition.shown.unwrap_or(-1.0));
        sb.total_cmp(&sa).then(b.area_m2.total_cmp(&a.area_m2))
    });
    let mut placed: Vec<egui::Rect> = Vec::with_capacity(order.len().min(MAX_LABEL_CANDIDATES));
    // On a map of thousands of units only the riskiest few hundred on screen are tried: more
    // labels than that cannot be read, and each try checks every label already placed.
    for (unit, pos) in order.into_iter().take(MAX_LABEL_CANDIDATES) {
        let galley = painter.layout_no_wrap(short_name(&unit.name), font.clone(), theme::egui(theme::TEXT));
        let size = galley.size();
        // Just above or just below the point, so the point's own colour stays visible.
        let candidates = [
            egui::Rect::from_min_size(egui::pos2(pos.x - size.x / 2.0, pos.y - 6.0 - size.y), size),
            egui::Rect::from_min_size(egui::pos2(pos.x - size.x / 2.0, pos.y + 6.0), size),
            egui::Rect::from_min_size(egui::pos2(pos.x + 6.0, pos.y - size.y / 2.0), size),
            egui::Rect::from_min_size(egui::pos2(pos.x - 6.0 - size.x, pos.y - size.y / 2.0), size),
        ];
        let Some(rect) = candidates.into_iter().find(|r| placed.iter().all(|p| !p.expand(1.0).intersects(*r))) else { continue };
        placed.push(rect);
        for d in [egui::vec2(-1.0, 0.0), egui::vec2(1.0, 0.0), egui::vec2(0.0, -1.0), egui::vec2(0.0, 1.0)] {
            painter.galley_with_override_text_color(rect.min + d, galley.clone(), egui::Color32::from_black_alpha(220));
        }
        painter.galley(rect.min, galley, theme::egui(theme::TEXT));
    }
    Ok(())
}
