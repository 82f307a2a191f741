//! The unit labels on the map, placed in screen space each frame: the riskiest units claim
//! label space first; a label that would overlap one already placed, a panel or the header
//! tries the other sides of its point, then spots further off with a leader line, and is left
//! out when none is free (it comes back as the camera zooms in). Labels are drawn over the 3D
//! scene, so a tall prism never hides one.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::drawn::{DrawnRects, PANELS, visible_panel};
use super::i18n;
use super::incidents::BadgesDrawn;
use super::map::{MapResource, world_from_map};
use super::picture::Settings;
use super::scene::{BureauClusters, CONTEXT_HEIGHT_M, UnitView};
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

#[allow(clippy::too_many_arguments)]
fn labels_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    cameras: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    units: Query<&UnitView>,
    map: Res<MapResource>,
    mut drawn: Option<ResMut<DrawnRects>>,
    clusters: Option<Res<BureauClusters>>,
    badges: Option<Res<BadgesDrawn>>,
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
    // The riskiest units claim label space first (then the larger ones).
    let font = egui::FontId::proportional(13.0);
    let screen = ctx.content_rect();
    // The panels and the header as drawn last frame: no label goes under them.
    let mut obstacles: Vec<egui::Rect> = PANELS.iter().filter_map(|name| visible_panel(ctx, name)).collect();
    // The overdue badges (超时 N) of the last frame stand over their units: labels go round.
    if let Some(b) = &badges {
        obstacles.extend(b.0.iter().map(|(_, r)| egui::Rect::from_min_max(egui::pos2(r[0], r[1]), egui::pos2(r[2], r[3]))));
    }
    if let Some(d) = drawn.as_mut() {
        d.cluster_badges.clear();
    }
    // Each bureau cluster's count on top of its column: a pill that labels also keep clear of.
    if let Some(clusters) = &clusters {
        let badge_font = egui::FontId::proportional(12.0);
        for c in clusters.drawn() {
            let Ok(top) = camera.world_to_viewport(cam_tf, Vec3::new(c.at_xz.x, c.height, c.at_xz.y)) else { continue };
            let top = egui::pos2(top.x, top.y) / zoom;
            if !screen.contains(top) || obstacles.iter().any(|o| o.contains(top)) {
                continue;
            }
            let galley = painter.layout_no_wrap(format!("×{}", c.members.len()), badge_font.clone(), egui::Color32::BLACK);
            let rect = egui::Rect::from_center_size(top - egui::vec2(0.0, galley.size().y / 2.0 + 4.0), galley.size() + egui::vec2(10.0, 4.0));
            let fill = c.score.map_or(theme::egui(theme::NO_DATA), |v| theme::colour32(settings.ramp.sample(v)));
            painter.rect_filled(rect, 8.0, fill);
            painter.rect_stroke(rect, 8.0, egui::Stroke::new(1.0, egui::Color32::from_black_alpha(200)), egui::StrokeKind::Outside);
            painter.galley(rect.center() - galley.size() / 2.0, galley, egui::Color32::BLACK);
            obstacles.push(rect);
            if let Some(d) = drawn.as_mut() {
                d.cluster_badges.push((c.members.len(), rect));
            }
        }
    }
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
    // On a map of thousands of units only the riskiest few hundred on screen are tried: more
    // labels than that cannot be read, and each try checks every label already placed.
    order.truncate(MAX_LABEL_CANDIDATES);
    let galleys: Vec<_> = order.iter().map(|(u, _)| painter.layout_no_wrap(short_name(&u.name), font.clone(), theme::egui(theme::TEXT))).collect();
    let asks: Vec<LabelAsk> = order.iter().zip(&galleys).map(|((_, anchor), g)| LabelAsk { anchor: *anchor, size: g.size() }).collect();
    let placed = place_labels(&asks, screen, &obstacles);
    if let Some(d) = drawn.as_mut() {
        d.labels.clear();
    }
    let halo = egui::Color32::from_black_alpha(220);
    for p in placed {
        let (unit, anchor) = order[p.index];
        if p.leader {
            // A thin line from the unit's point to the nearest point of its label.
            let end = egui::pos2(anchor.x.clamp(p.rect.left(), p.rect.right()), anchor.y.clamp(p.rect.top(), p.rect.bottom()));
            painter.line_segment([anchor, end], egui::Stroke::new(2.5, halo));
            painter.line_segment([anchor, end], egui::Stroke::new(1.0, theme::egui(theme::DIM)));
            painter.circle_filled(anchor, 2.0, theme::egui(theme::TEXT));
        }
        let galley = galleys[p.index].clone();
        for d in [egui::vec2(-1.0, 0.0), egui::vec2(1.0, 0.0), egui::vec2(0.0, -1.0), egui::vec2(0.0, 1.0)] {
            painter.galley_with_override_text_color(p.rect.min + d, galley.clone(), halo);
        }
        painter.galley(p.rect.min, galley, theme::egui(theme::TEXT));
        if let Some(d) = drawn.as_mut() {
            d.labels.push((unit.id.clone(), p.rect));
        }
    }
    Ok(())
}

/// A label to place: where its unit's label point is on screen and how big its text is, egui
/// points.
#[derive(Clone, Copy, Debug)]
pub struct LabelAsk {
    /// The unit's label point on screen.
    pub anchor: egui::Pos2,
    /// The text's size.
    pub size: egui::Vec2,
}

/// Where a label went.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlacedLabel {
    /// Index of its [`LabelAsk`].
    pub index: usize,
    /// Its rectangle, egui points.
    pub rect: egui::Rect,
    /// Set away from its point, with a leader line to it.
    pub leader: bool,
}

/// Gap between a label and its point when the label sits next to it, points.
const NEAR_GAP: f32 = 6.0;
/// Gap between a label and its point when it is set off with a leader line, points.
const FAR_GAP: f32 = 26.0;
/// Labels keep this far from each other, points.
const LABEL_PAD: f32 = 1.0;

/// Places labels in screen space, `asks` in priority order (the first claims its space
/// first): each tries just above, below, right and left of its point, then eight spots
/// [`FAR_GAP`] away with a leader line; a spot must lie inside `screen`, clear of every
/// rectangle in `obstacles` (panels, the header) and of every label already placed. A label
/// with no free spot, or whose point is under an obstacle, is left out: lowest priority
/// first, so the riskiest units keep theirs, and the rest come back as the camera zooms in
/// and spreads the points. O(n² × 12) for n asks: callers cap n (`MAX_LABEL_CANDIDATES`).
pub fn place_labels(asks: &[LabelAsk], screen: egui::Rect, obstacles: &[egui::Rect]) -> Vec<PlacedLabel> {
    let mut placed: Vec<PlacedLabel> = Vec::with_capacity(asks.len());
    let inside = screen.shrink(2.0);
    for (index, ask) in asks.iter().enumerate() {
        if obstacles.iter().any(|o| o.contains(ask.anchor)) {
            continue;
        }
        let (p, s) = (ask.anchor, ask.size);
        let at = |x: f32, y: f32| egui::Rect::from_min_size(egui::pos2(x, y), s);
        let near = [
            at(p.x - s.x / 2.0, p.y - NEAR_GAP - s.y),
            at(p.x - s.x / 2.0, p.y + NEAR_GAP),
            at(p.x + NEAR_GAP, p.y - s.y / 2.0),
            at(p.x - NEAR_GAP - s.x, p.y - s.y / 2.0),
        ];
        let far = [
            at(p.x - s.x / 2.0, p.y - FAR_GAP - s.y),
            at(p.x - s.x / 2.0, p.y + FAR_GAP),
            at(p.x + FAR_GAP * 0.7, p.y - FAR_GAP * 0.7 - s.y),
            at(p.x - FAR_GAP * 0.7 - s.x, p.y - FAR_GAP * 0.7 - s.y),
            at(p.x + FAR_GAP * 0.7, p.y + FAR_GAP * 0.7),
            at(p.x - FAR_GAP * 0.7 - s.x, p.y + FAR_GAP * 0.7),
            at(p.x + FAR_GAP, p.y - s.y / 2.0),
            at(p.x - FAR_GAP - s.x, p.y - s.y / 2.0),
        ];
        let free = |r: &egui::Rect| {
            inside.contains_rect(*r) && !obstacles.iter().any(|o| o.intersects(*r)) && placed.iter().all(|q| !q.rect.expand(LABEL_PAD).intersects(*r))
        };
        let spot = near.iter().map(|r| (*r, false)).chain(far.iter().map(|r| (*r, true))).find(|(r, _)| free(r));
        if let Some((rect, leader)) = spot {
            placed.push(PlacedLabel { index, rect, leader });
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(x: f32, y: f32) -> LabelAsk {
        LabelAsk { anchor: egui::pos2(x, y), size: egui::vec2(60.0, 16.0) }
    }

    #[test]
    fn crowded_labels_never_overlap_and_keep_clear_of_panels() {
        let screen = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(800.0, 600.0));
        let header = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(800.0, 48.0));
        let panel = egui::Rect::from_min_max(egui::pos2(0.0, 60.0), egui::pos2(200.0, 600.0));
        // A tight cluster of 30 points near the panel's edge and under the header, plus one
        // whose point is under the panel.
        let mut asks: Vec<LabelAsk> = (0..30).map(|i| ask(210.0 + (i % 6) as f32 * 12.0, 52.0 + (i / 6) as f32 * 10.0)).collect();
        asks.push(ask(100.0, 300.0));
        let placed = place_labels(&asks, screen, &[header, panel]);
        // Each label has 12 spots around its own point; a 60 × 40 cluster against the header
        // leaves room for 7 (measured), and a change that places fewer is a regression.
        assert!(placed.len() >= 7, "only {} of 30 placed", placed.len());
        assert!(placed.len() < 30, "30 labels of 60×16 cannot all fit around a 60×40 cluster");
        assert!(placed.iter().all(|p| p.index != 30), "a label whose point is under a panel is left out");
        for (i, a) in placed.iter().enumerate() {
            assert!(!a.rect.intersects(header) && !a.rect.intersects(panel), "{a:?} under a panel");
            assert!(screen.contains_rect(a.rect));
            for b in &placed[i + 1..] {
                assert!(!a.rect.intersects(b.rect), "{a:?} overlaps {b:?}");
            }
        }
        // Priority: the first ask gets a spot (off with a leader: its point sits against the
        // header and the panel, so no spot next to it is free).
        assert_eq!((placed[0].index, placed[0].leader), (0, true));
        // Some later ones are set off with a leader line rather than dropped.
        assert!(placed.iter().any(|p| p.leader));
    }

    #[test]
    fn spread_points_all_get_a_label_next_to_them() {
        let screen = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1000.0, 1000.0));
        let asks: Vec<LabelAsk> = (0..25).map(|i| ask(100.0 + (i % 5) as f32 * 180.0, 100.0 + (i / 5) as f32 * 180.0)).collect();
        let placed = place_labels(&asks, screen, &[]);
        assert_eq!(placed.len(), 25);
        assert!(placed.iter().all(|p| !p.leader));
        // Just above its point, centred.
        assert_eq!(placed[0].rect, egui::Rect::from_min_size(egui::pos2(70.0, 78.0), egui::vec2(60.0, 16.0)));
    }
}
