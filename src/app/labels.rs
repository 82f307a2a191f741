//! What is written on the map, placed in screen space each frame: the bureau clusters'
//! count pills, the overdue badges (超时 N), then the unit labels, the riskiest units first.
//! A label that would overlap one already placed, a leader line, a panel or the header tries
//! the other sides of its point, then spots further off with a leader line, and is left out
//! when none is free (it comes back as the camera zooms in). All of it is drawn over the 3D
//! scene, so a tall prism never hides a label, and under the panels and the stale watermark.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::drawn::{DrawnRects, PANELS, visible_panel};
use super::i18n::{self, T, UiLang};
use super::incidents::{BADGE_PAD, BadgesDrawn, OVERDUE_PULSE_S, Overdue};
use super::map::{MapResource, world_from_map};
use super::picture::Settings;
use super::scene::{BureauClusters, BureauDisplay, CONTEXT_HEIGHT_M, UnitView};
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

/// What the map overlay reads besides the camera and the units.
#[derive(bevy::ecs::system::SystemParam)]
struct OverlayInputs<'w> {
    settings: Res<'w, Settings>,
    map: Res<'w, MapResource>,
    lang: Res<'w, UiLang>,
    time: Res<'w, Time>,
    overdue: Res<'w, Overdue>,
    clusters: Option<Res<'w, BureauClusters>>,
    display: Option<Res<'w, BureauDisplay>>,
}

/// The map overlay, in one painter on the background layer (under every panel, and under
/// the stale watermark): the context areas' names, each bureau cluster's count pill, the
/// overdue badges (超时 N) with their pulse, then the unit labels. One [`Placer`] places the
/// badges and labels, so none covers another, a leader line or a point it labels.
fn labels_ui(
    mut contexts: EguiContexts,
    inputs: OverlayInputs,
    cameras: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    units: Query<&UnitView>,
    mut drawn: Option<ResMut<DrawnRects>>,
    mut badges_out: ResMut<BadgesDrawn>,
) -> Result {
    let OverlayInputs { settings, map, lang, time, overdue, clusters, display } = inputs;
    badges_out.0.clear();
    let ctx = contexts.ctx_mut()?;
    let Ok((camera, cam_tf)) = cameras.single() else { return Ok(()) };
    let painter = ctx.layer_painter(egui::LayerId::background());
    // Viewport positions are logical window pixels; egui points are those over its zoom.
    let zoom = ctx.zoom_factor();
    let ext = &settings.config.extrusion;
    let on_screen = |world: Vec3| camera.world_to_viewport(cam_tf, world).ok().map(|p| egui::pos2(p.x, p.y) / zoom);
    let screen = ctx.content_rect();
    // The panels and the header as drawn last frame: nothing goes under them.
    let panels: Vec<egui::Rect> = PANELS.iter().filter_map(|name| visible_panel(ctx, name)).collect();
    let mut placer = Placer::new(screen, panels);
    if let Some(d) = drawn.as_mut() {
        d.cluster_badges.clear();
        d.labels.clear();
        d.leaders.clear();
    }
    let halo = egui::Color32::from_black_alpha(220);
    // Each bureau cluster's count on top of its column, fixed there: the rest keeps clear.
    let mut pills: Vec<Option<egui::Rect>> = Vec::new();
    if let Some(clusters) = &clusters {
        pills = vec![None; clusters.clusters.len()];
        let badge_font = egui::FontId::proportional(12.0);
        for (k, c) in clusters.drawn() {
            let Some(top) = on_screen(Vec3::new(c.at_xz.x, c.height, c.at_xz.y)) else { continue };
            let galley = painter.layout_no_wrap(format!("×{}", c.members.len()), badge_font.clone(), egui::Color32::BLACK);
            let rect = egui::Rect::from_center_size(top - egui::vec2(0.0, galley.size().y / 2.0 + 4.0), galley.size() + egui::vec2(10.0, 4.0));
            if !placer.claim(rect) {
                continue;
            }
            let fill = c.score.map_or(theme::egui(theme::NO_DATA), |v| theme::colour32(settings.ramp.sample(v)));
            painter.rect_filled(rect, 8.0, fill);
            painter.rect_stroke(rect, 8.0, egui::Stroke::new(1.0, egui::Color32::from_black_alpha(200)), egui::StrokeKind::Outside);
            painter.galley(rect.center() - galley.size() / 2.0, galley, egui::Color32::BLACK);
            pills[k] = Some(rect);
            if let Some(d) = drawn.as_mut() {
                d.cluster_badges.push((c.members.len(), rect));
            }
        }
    }
    // The overdue badges, most overdue incidents first: over the unit's own label, or over
    // its cluster's pill when the bureau is folded into one (the counts add up there).
    let mut wants: Vec<(String, usize, egui::Pos2)> = Vec::new();
    let mut folded: std::collections::BTreeMap<usize, (usize, String)> = std::collections::BTreeMap::new();
    for unit in units.iter() {
        let Some(&count) = overdue.by_unit.get(unit.id.as_str()) else { continue };
        if unit.point && display.as_ref().is_some_and(|d| !d.shown) {
            continue;
        }
        if unit.point
            && let Some(k) = clusters.as_ref().and_then(|c| c.folded_into(unit.index))
        {
            folded.entry(k).or_insert((0, unit.id.to_string())).0 += count;
            continue;
        }
        if let Some(p) = on_screen(unit.label_world(ext)) {
            wants.push((unit.id.to_string(), count, p));
        }
    }
    // A folded badge stands on its pill (when the pill was drawn), named after the cluster's
    // first overdue member.
    for (k, (count, id)) in folded {
        if let Some(Some(pill)) = pills.get(k) {
            wants.push((id, count, pill.center_top() - egui::vec2(0.0, 1.0)));
        }
    }
    wants.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let red = theme::egui(theme::OVERDUE);
    let phase = (time.elapsed_secs_f64() / OVERDUE_PULSE_S).fract() as f32;
    let ring = egui::Color32::from_rgba_unmultiplied(red.r(), red.g(), red.b(), (200.0 * (1.0 - phase)) as u8);
    let badge_font = egui::FontId::proportional(13.0);
    for (id, count, anchor) in wants {
        if !screen.contains(anchor) {
            continue;
        }
        // The pulse: a ring from 10 to 34 points around the point, fading as it grows.
        painter.circle_stroke(anchor, 10.0 + 24.0 * phase, egui::Stroke::new(2.5, ring));
        let galley = painter.layout_no_wrap(format!("{} {count}", T::Overdue.get(lang.0)), badge_font.clone(), theme::egui(theme::TEXT));
        // First choice: high enough over the point to leave the unit's own label room below.
        let ask = LabelAsk { anchor, size: galley.size() + egui::vec2(2.0 * BADGE_PAD, 4.0), lift: BADGE_LIFT };
        let Some(p) = placer.place(&ask) else { continue };
        if p.leader {
            leader_line(&painter, anchor, p.rect, halo);
            if let Some(d) = drawn.as_mut() {
                d.leaders.push((id.clone(), [anchor, nearest_on(p.rect, anchor)]));
            }
        }
        painter.rect_filled(p.rect, 4.0, red);
        painter.rect_stroke(p.rect, 4.0, egui::Stroke::new(1.0, theme::egui(theme::TEXT)), egui::StrokeKind::Outside);
        painter.galley(p.rect.min + egui::vec2(BADGE_PAD, 2.0), galley, theme::egui(theme::TEXT));
        badges_out.0.push((id, [p.rect.left(), p.rect.top(), p.rect.right(), p.rect.bottom()]));
    }
    // The riskiest units claim label space first (then the larger ones).
    let font = egui::FontId::proportional(13.0);
    let mut order: Vec<(&UnitView, egui::Pos2)> =
        units.iter().filter(|u| !u.point).filter_map(|u| on_screen(u.label_world(ext)).filter(|p| screen.contains(*p)).map(|p| (u, p))).collect();
    order.sort_by(|(a, _), (b, _)| {
        let (sa, sb) = (a.transition.shown.unwrap_or(-1.0), b.transition.shown.unwrap_or(-1.0));
        sb.total_cmp(&sa).then(b.area_m2.total_cmp(&a.area_m2))
    });
    // On a map of thousands of units only the riskiest few hundred on screen are tried: more
    // labels than that cannot be read, and each try checks every label already placed.
    order.truncate(MAX_LABEL_CANDIDATES);
    for (unit, anchor) in order {
        let galley = painter.layout_no_wrap(short_name(&unit.name), font.clone(), theme::egui(theme::TEXT));
        let Some(p) = placer.place(&LabelAsk { anchor, size: galley.size(), lift: 0.0 }) else { continue };
        if p.leader {
            leader_line(&painter, anchor, p.rect, halo);
            if let Some(d) = drawn.as_mut() {
                d.leaders.push((unit.id.to_string(), [anchor, nearest_on(p.rect, anchor)]));
            }
        }
        for d in [egui::vec2(-1.0, 0.0), egui::vec2(1.0, 0.0), egui::vec2(0.0, -1.0), egui::vec2(0.0, 1.0)] {
            painter.galley_with_override_text_color(p.rect.min + d, galley.clone(), halo);
        }
        painter.galley(p.rect.min, galley, theme::egui(theme::TEXT));
        if let Some(d) = drawn.as_mut() {
            d.labels.push((unit.id.to_string(), p.rect));
        }
    }
    // The neighbouring districts' names last, where they are free: never cut by a panel nor
    // over a unit's label.
    for area in &map.context {
        if let Some((x, y)) = area.label
            && let Some(pos) = on_screen(world_from_map((x, y), CONTEXT_HEIGHT_M))
        {
            let name = i18n::district_name(&area.name, lang.0).to_owned();
            let galley = painter.layout_no_wrap(name, egui::FontId::proportional(13.0), theme::egui(theme::CONTEXT_LABEL));
            let rect = egui::Rect::from_center_size(pos, galley.size());
            if placer.claim(rect) {
                painter.galley(rect.min, galley, theme::egui(theme::CONTEXT_LABEL));
            }
        }
    }
    Ok(())
}

/// A thin haloed line from a point to the nearest point of the rectangle set off from it,
/// and a dot on the point.
fn leader_line(painter: &egui::Painter, anchor: egui::Pos2, rect: egui::Rect, halo: egui::Color32) {
    let end = nearest_on(rect, anchor);
    painter.line_segment([anchor, end], egui::Stroke::new(2.5, halo));
    painter.line_segment([anchor, end], egui::Stroke::new(1.0, theme::egui(theme::DIM)));
    painter.circle_filled(anchor, 2.0, theme::egui(theme::TEXT));
}

/// The point of `rect` nearest `p`.
fn nearest_on(rect: egui::Rect, p: egui::Pos2) -> egui::Pos2 {
    egui::pos2(p.x.clamp(rect.left(), rect.right()), p.y.clamp(rect.top(), rect.bottom()))
}

/// A label to place: where its point is on screen and how big its text is, egui points.
#[derive(Clone, Copy, Debug)]
pub struct LabelAsk {
    /// The point it labels (a unit's label point) on screen.
    pub anchor: egui::Pos2,
    /// The text's size.
    pub size: egui::Vec2,
    /// Extra distance of the first choice, straight above the point, points: 0 for a unit's
    /// label; an overdue badge asks to stand higher and leave that spot to the label.
    pub lift: f32,
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
/// Gap between a label and its point when it is set off with a leader line, points: a first
/// ring of spots this far, a second twice as far.
const FAR_GAP: f32 = 26.0;
/// Labels keep this far from each other, points.
const LABEL_PAD: f32 = 1.0;
/// Half the side of the square kept free round a labelled point (and a leader's dot), points.
const POINT_KEEP: f32 = 3.0;
/// Space kept round a leader's dot beyond [`POINT_KEEP`], points.
const DOT_CLEAR: f32 = 3.0;
/// How much higher than a label an overdue badge asks to stand over its point, points.
pub const BADGE_LIFT: f32 = 22.0;

/// Screen space handed out to labels one at a time: each claim stays clear of the
/// obstacles (panels, the header, cluster pills), of every label placed before, of their
/// leader lines and of the points they label.
pub struct Placer {
    inside: egui::Rect,
    obstacles: Vec<egui::Rect>,
    taken: Vec<egui::Rect>,
    /// The squares kept free round the points labelled so far.
    points: Vec<egui::Rect>,
    leaders: Vec<[egui::Pos2; 2]>,
}

impl Placer {
    /// Nothing placed yet on `screen` (egui points), `obstacles` off limits.
    pub fn new(screen: egui::Rect, obstacles: Vec<egui::Rect>) -> Self {
        Self { inside: screen.shrink(2.0), obstacles, taken: Vec::new(), points: Vec::new(), leaders: Vec::new() }
    }

    /// Takes `rect` as it is (a cluster's pill on its column) if it is on screen and free;
    /// says whether it was.
    pub fn claim(&mut self, rect: egui::Rect) -> bool {
        let free = self.inside.contains_rect(rect) && self.rect_free(rect);
        if free {
            self.taken.push(rect);
        }
        free
    }

    fn rect_free(&self, r: egui::Rect) -> bool {
        !self.obstacles.iter().any(|o| o.intersects(r))
            && self.taken.iter().all(|q| !q.expand(LABEL_PAD).intersects(r))
            && self.points.iter().all(|q| !q.intersects(r))
            && self.leaders.iter().all(|[a, b]| !segment_hits_rect(*a, *b, r))
    }

    fn leader_free(&self, a: egui::Pos2, b: egui::Pos2) -> bool {
        !self.obstacles.iter().chain(&self.taken).chain(self.points.iter().filter(|q| !q.contains(a))).any(|r| segment_hits_rect(a, b, *r))
            && self.leaders.iter().all(|[c, d]| !segments_cross(a, b, *c, *d))
    }

    /// Places one label: just above its point (higher by `lift`), below, right and left,
    /// then sixteen spots in two rings [`FAR_GAP`] and twice that away, each with a leader
    /// line. A spot must lie on screen, clear of everything placed, and its leader must
    /// cross no label, obstacle or other leader, its dot clear of them. `None` when no spot
    /// is free or the point is under an obstacle or a label placed before. The result's
    /// `index` is 0: [`place_labels`] numbers them.
    pub fn place(&mut self, ask: &LabelAsk) -> Option<PlacedLabel> {
        let (p, s) = (ask.anchor, ask.size);
        // A point under an obstacle, or under a label placed before (which then reads as
        // its label), gets none.
        if self.obstacles.iter().any(|o| o.contains(p)) || self.taken.iter().any(|q| q.contains(p)) {
            return None;
        }
        let at = |x: f32, y: f32| egui::Rect::from_min_size(egui::pos2(x, y), s);
        let near = [
            at(p.x - s.x / 2.0, p.y - NEAR_GAP - ask.lift - s.y),
            at(p.x - s.x / 2.0, p.y + NEAR_GAP),
            at(p.x + NEAR_GAP, p.y - s.y / 2.0),
            at(p.x - NEAR_GAP - s.x, p.y - s.y / 2.0),
        ];
        let ring = |g: f32| {
            let d = g * 0.7;
            [
                at(p.x - s.x / 2.0, p.y - g - ask.lift - s.y),
                at(p.x - s.x / 2.0, p.y + g),
                at(p.x + d, p.y - d - s.y),
                at(p.x - d - s.x, p.y - d - s.y),
                at(p.x + d, p.y + d),
                at(p.x - d - s.x, p.y + d),
                at(p.x + g, p.y - s.y / 2.0),
                at(p.x - g - s.x, p.y - s.y / 2.0),
            ]
        };
        let keep = egui::Rect::from_center_size(p, egui::Vec2::splat(2.0 * POINT_KEEP));
        let spots = near.into_iter().map(|r| (r, false)).chain(ring(FAR_GAP).into_iter().chain(ring(2.0 * FAR_GAP)).map(|r| (r, true)));
        for (rect, leader) in spots {
            if !self.inside.contains_rect(rect) || rect.intersects(keep) || !self.rect_free(rect) {
                continue;
            }
            let end = nearest_on(rect, p);
            // A leader's dot marks the point: it must stand clear of every other label, badge
            // and pill, or it reads as theirs.
            let dot = keep.expand(DOT_CLEAR);
            if leader
                && (!self.leader_free(p, end)
                    || self.taken.iter().any(|q| q.intersects(dot))
                    || self.points.iter().any(|q| !q.contains(p) && q.intersects(dot)))
            {
                continue;
            }
            self.taken.push(rect);
            // Its point stays visible: no later label covers it.
            self.points.push(keep);
            if leader {
                self.leaders.push([p, end]);
            }
            return Some(PlacedLabel { index: 0, rect, leader });
        }
        None
    }
}

/// Places labels in screen space, `asks` in priority order (the first claims its space
/// first), with one [`Placer`]: a label with no free spot, or whose point is under an
/// obstacle, is left out — lowest priority first, so the riskiest units keep theirs, and the
/// rest come back as the camera zooms in and spreads the points. O(n² × 20) for n asks:
/// callers cap n (`MAX_LABEL_CANDIDATES`).
pub fn place_labels(asks: &[LabelAsk], screen: egui::Rect, obstacles: &[egui::Rect]) -> Vec<PlacedLabel> {
    let mut placer = Placer::new(screen, obstacles.to_vec());
    asks.iter().enumerate().filter_map(|(index, ask)| placer.place(ask).map(|p| PlacedLabel { index, ..p })).collect()
}

/// Whether segment `a`–`b` meets rectangle `r` (Liang–Barsky clipping: the segment's
/// parameter interval is cut by each of the four edges' half-planes).
fn segment_hits_rect(a: egui::Pos2, b: egui::Pos2, r: egui::Rect) -> bool {
    let d = b - a;
    let (mut t0, mut t1) = (0.0f32, 1.0f32);
    for (p, q) in [(-d.x, a.x - r.min.x), (d.x, r.max.x - a.x), (-d.y, a.y - r.min.y), (d.y, r.max.y - a.y)] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

/// Whether segments `a`–`b` and `c`–`d` cross (proper crossings, by the signs of the
/// orientation determinants; touching at an end does not count).
fn segments_cross(a: egui::Pos2, b: egui::Pos2, c: egui::Pos2, d: egui::Pos2) -> bool {
    let orient = |p: egui::Pos2, q: egui::Pos2, r: egui::Pos2| (q - p).x * (r - p).y - (q - p).y * (r - p).x;
    let (d1, d2, d3, d4) = (orient(c, d, a), orient(c, d, b), orient(a, b, c), orient(a, b, d));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(x: f32, y: f32) -> LabelAsk {
        LabelAsk { anchor: egui::pos2(x, y), size: egui::vec2(60.0, 16.0), lift: 0.0 }
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
        // Each label has 20 spots around its own point; a 60 × 40 cluster against the header,
        // where no label may cover a leader line or a labelled point, leaves room for 4
        // (measured), and a change that places fewer is a regression.
        assert!(placed.len() >= 4, "only {} of 30 placed", placed.len());
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

    #[test]
    fn leaders_cross_no_label_and_no_other_leader_and_points_stay_visible() {
        let screen = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(800.0, 600.0));
        let header = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(800.0, 48.0));
        let panel = egui::Rect::from_min_max(egui::pos2(0.0, 60.0), egui::pos2(200.0, 600.0));
        // Two crowds: 12 points on a ring of 40 points' radius, and 30 on a grid against the
        // header and a panel (where the first labels can only go off with leaders).
        let ring = (0..12).map(|i| {
            let a = i as f32 * std::f32::consts::TAU / 12.0;
            ask(400.0 + 40.0 * a.cos(), 300.0 + 40.0 * a.sin())
        });
        let grid = (0..30).map(|i| ask(210.0 + (i % 6) as f32 * 12.0, 52.0 + (i / 6) as f32 * 10.0));
        let asks: Vec<LabelAsk> = grid.chain(ring).collect();
        let placed = place_labels(&asks, screen, &[header, panel]);
        assert!(placed.iter().any(|p| p.leader), "{placed:?}");
        for a in &placed {
            let seg = [asks[a.index].anchor, nearest_on(a.rect, asks[a.index].anchor)];
            for b in placed.iter().filter(|b| b.index != a.index) {
                assert!(!a.rect.intersects(b.rect), "{a:?} overlaps {b:?}");
                // No label covers a labelled point; a leader's dot keeps its distance.
                assert!(!b.rect.contains(asks[a.index].anchor), "{b:?} covers the point of {a:?}");
                if a.leader {
                    let dot = egui::Rect::from_center_size(seg[0], egui::Vec2::splat(2.0 * (POINT_KEEP + DOT_CLEAR) - 0.5));
                    assert!(!dot.intersects(b.rect), "the dot of {a:?} touches {b:?}");
                    assert!(!segment_hits_rect(seg[0], seg[1], b.rect), "the leader of {a:?} crosses {b:?}");
                    if b.leader {
                        let other = [asks[b.index].anchor, nearest_on(b.rect, asks[b.index].anchor)];
                        assert!(!segments_cross(seg[0], seg[1], other[0], other[1]), "leaders of {a:?} and {b:?} cross");
                    }
                }
            }
        }
    }

    #[test]
    fn a_badge_stands_higher_than_a_label_and_the_label_keeps_its_spot() {
        let screen = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(800.0, 600.0));
        let mut placer = Placer::new(screen, vec![]);
        let badge = placer.place(&LabelAsk { anchor: egui::pos2(400.0, 300.0), size: egui::vec2(50.0, 18.0), lift: BADGE_LIFT }).unwrap();
        let label = placer.place(&ask(400.0, 300.0)).unwrap();
        assert_eq!(badge.rect.bottom(), 300.0 - NEAR_GAP - BADGE_LIFT);
        assert!(!badge.leader && !label.leader);
        assert_eq!(label.rect, egui::Rect::from_min_size(egui::pos2(370.0, 278.0), egui::vec2(60.0, 16.0)), "just above the point, under the badge");
        // A pill claimed over the next point pushes that label to another side.
        assert!(placer.claim(egui::Rect::from_min_max(egui::pos2(560.0, 270.0), egui::pos2(640.0, 296.0))));
        assert!(!placer.claim(egui::Rect::from_min_max(egui::pos2(600.0, 280.0), egui::pos2(620.0, 290.0))), "taken");
        let below = placer.place(&ask(600.0, 300.0)).unwrap();
        assert_eq!(below.rect.top(), 306.0);
    }

    #[test]
    fn segment_tests_agree_with_geometry() {
        let r = egui::Rect::from_min_max(egui::pos2(10.0, 10.0), egui::pos2(20.0, 20.0));
        assert!(segment_hits_rect(egui::pos2(0.0, 15.0), egui::pos2(30.0, 15.0), r), "straight through");
        assert!(segment_hits_rect(egui::pos2(15.0, 15.0), egui::pos2(15.0, 16.0), r), "inside");
        assert!(!segment_hits_rect(egui::pos2(0.0, 0.0), egui::pos2(9.0, 30.0), r), "passes left");
        assert!(!segment_hits_rect(egui::pos2(0.0, 25.0), egui::pos2(25.0, 25.0), r), "passes below");
        assert!(segment_hits_rect(egui::pos2(0.0, 0.0), egui::pos2(30.0, 30.0), r), "diagonal");
        assert!(segments_cross(egui::pos2(0.0, 0.0), egui::pos2(10.0, 10.0), egui::pos2(0.0, 10.0), egui::pos2(10.0, 0.0)));
        assert!(!segments_cross(egui::pos2(0.0, 0.0), egui::pos2(10.0, 10.0), egui::pos2(0.0, 1.0), egui::pos2(9.0, 10.0)), "parallel");
        assert!(!segments_cross(egui::pos2(0.0, 0.0), egui::pos2(5.0, 5.0), egui::pos2(5.0, 5.0), egui::pos2(10.0, 0.0)), "touching at an end");
    }
}
