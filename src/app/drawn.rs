//! What the views drew this frame where a check needs to know: unit labels, the ranking
//! board's column heads, the simulated-data badge. Present only in capture runs (the capture
//! inserts [`DrawnRects`] and writes it into the sidecar); the views skip the bookkeeping
//! otherwise.

use bevy::prelude::*;
use bevy_egui::egui;

/// Rectangles drawn this frame, egui points (the capture converts them to physical pixels).
#[derive(Resource, Default, Clone, Debug)]
pub struct DrawnRects {
    /// Unit labels placed on the map: unit id and rect.
    pub labels: Vec<(String, egui::Rect)>,
    /// The ranking board's column heads: text and rect.
    pub ranking_heads: Vec<(String, egui::Rect)>,
    /// The header's 模拟数据 / SIMULATED badge, when drawn.
    pub simulated_badge: Option<egui::Rect>,
    /// The stale watermark's plate, when drawn.
    pub watermark: Option<egui::Rect>,
    /// The count badges on the bureau cluster columns: members and rect.
    pub cluster_badges: Vec<(usize, egui::Rect)>,
    /// Leader lines from a point to its label or overdue badge set off from it: the unit id
    /// and the segment's two ends (the point first).
    pub leaders: Vec<(String, [egui::Pos2; 2])>,
}

/// The egui areas that are panels, by their ids: labels keep clear of them, and the capture's
/// sidecar reports their rectangles.
pub const PANELS: [&str; 7] = ["ranking", "detail", "ticker", "banner", "timeline", "legend", "header"];

/// The rect of panel `name` (an [`egui::Area`] id) if it was drawn last frame, egui points.
/// Areas not drawn keep their last rect in egui's memory: only visible ones are reported.
pub fn visible_panel(ctx: &egui::Context, name: &str) -> Option<egui::Rect> {
    let id = egui::Id::new(name);
    let rect = ctx.memory(|m| m.area_rect(id))?;
    let visible =
        ctx.memory(|m| [egui::Order::Middle, egui::Order::Foreground].into_iter().any(|order| m.areas().visible_last_frame(&egui::LayerId::new(order, id))));
    visible.then_some(rect)
}
