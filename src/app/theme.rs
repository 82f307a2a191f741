//! Every colour and size the wall uses, for egui and Bevy alike, in one place.
//!
//! Colours are sRGB bytes; [`egui`] and [`bevy`] convert them for each side, so a panel's
//! severity colour and the ripple of the same severity cannot drift apart.

use bevy::prelude::Color;
use bevy_egui::egui;

use crate::model::{AlertStatus, Severity};

/// An sRGB colour, 0–255 per channel.
pub type Rgb = [u8; 3];

/// The colour for egui.
pub const fn egui(c: Rgb) -> egui::Color32 {
    egui::Color32::from_rgb(c[0], c[1], c[2])
}

/// The colour for egui with `alpha` (0–255, unmultiplied).
pub fn egui_alpha(c: Rgb, alpha: u8) -> egui::Color32 {
    egui::Color32::from_rgba_unmultiplied(c[0], c[1], c[2], alpha)
}

/// The colour for Bevy.
pub fn bevy(c: Rgb) -> Color {
    Color::srgb_u8(c[0], c[1], c[2])
}

/// An egui colour from sRGB components 0–1 (a ramp sample).
pub fn colour32([r, g, b]: [f32; 3]) -> egui::Color32 {
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    egui::Color32::from_rgb(byte(r), byte(g), byte(b))
}

/// Window background behind the map.
pub const BACKGROUND: Rgb = [0x05, 0x08, 0x12];
/// Accent (cyan): the demo source, the playhead, the tour badge, selection highlights and the
/// selected unit's rim glow.
pub const ACCENT: Rgb = [0x5c, 0xd6, 0xff];
/// Live data, and a falling trend (▼, better).
pub const GOOD_GREEN: Rgb = [0x4c, 0xe0, 0x8a];
/// Delayed data, and incidents being disposed.
pub const AMBER: Rgb = [0xf0, 0xb0, 0x40];
/// Alarm red: stale data, 401, a rising trend (▲, worse), new incidents.
pub const ALARM_RED: Rgb = [0xff, 0x5a, 0x5a];
/// The overdue (超时) badge and its pulse: a deep red, apart from the 严重 level colour and the
/// alert ring.
pub const OVERDUE: Rgb = [0xc8, 0x10, 0x28];
/// Secondary text.
pub const DIM: Rgb = [0x8a, 0x96, 0xad];
/// Primary text.
pub const TEXT: Rgb = [0xff, 0xff, 0xff];
/// Panel background.
pub const PANEL_FILL: Rgb = [6, 12, 26];
/// Panel border.
pub const PANEL_STROKE: Rgb = [0x1e, 0x3a, 0x5a];
/// The 示意图 (schematic) badge.
pub const SCHEMATIC_BADGE: Rgb = [0xe8, 0xb0, 0x4a];
/// Fill of the 模拟数据 / SIMULATED badge in the header (black text on it).
pub const SIMULATED_BADGE: Rgb = [0xff, 0x9f, 0x1c];
/// Background of bars and the trend chart inside panels.
pub const TRACK: Rgb = [0x1a, 0x22, 0x33];
/// Background of the 24 h trend chart.
pub const CHART_FILL: Rgb = [0x0b, 0x12, 0x20];
/// The timeline's track.
pub const TIMELINE_TRACK: Rgb = [0x14, 0x1e, 0x30];
/// The critical banner's fill, its border when the blink is off, and its secondary text.
pub const BANNER_FILL: Rgb = [80, 6, 12];
/// See [`BANNER_FILL`].
pub const BANNER_BLINK_OFF: Rgb = [0x60, 0x10, 0x18];
/// See [`BANNER_FILL`].
pub const BANNER_TEXT: Rgb = [0xff, 0xd0, 0xd0];
/// The stale watermark's title (the alarm red, drawn translucent) and subtitle.
pub const WATERMARK: Rgb = ALARM_RED;
/// The opacity of the district summary and ranking over a stale picture (they fade with the
/// map, whose colours desaturate).
pub const STALE_PANEL_OPACITY: f32 = 0.45;
/// See [`WATERMARK`].
pub const WATERMARK_SUB: Rgb = [255, 200, 200];
/// Units without data (the shader's no-data colour and the capture sidecar's expectation).
pub const NO_DATA: Rgb = [0x3a, 0x40, 0x4c];
/// Unit borders on the map.
pub const BORDER: Rgb = [0xbf, 0xf2, 0xff];
/// Neighbouring districts: their low walls, outlines and names.
pub const CONTEXT_SLAB: Rgb = [0x10, 0x16, 0x24];
/// See [`CONTEXT_SLAB`].
pub const CONTEXT_OUTLINE: Rgb = [0x2c, 0x3a, 0x55];
/// See [`CONTEXT_SLAB`].
pub const CONTEXT_LABEL: Rgb = [0x3e, 0x4d, 0x6b];

/// Colour of a severity: panels, ticker, timeline marks and ripples. An unknown severity
/// (one the backend named but this build does not know) gets a neutral grey-violet, apart
/// from the four known colours, so it is seen and not mistaken for one of them.
pub const fn severity(s: Severity) -> Rgb {
    match s {
        Severity::Low => [0x73, 0xcc, 0xff],
        Severity::Medium => [0xff, 0xd9, 0x4d],
        Severity::Unknown => [0xb0, 0xa0, 0xd0],
        Severity::High => [0xff, 0x8c, 0x33],
        Severity::Critical => [0xff, 0x33, 0x40],
    }
}

/// Opacity of a severity's ripple (additive), 0–1: stronger for higher severities; an unknown
/// severity's like a medium one's.
pub const fn ripple_alpha(s: Severity) -> f32 {
    match s {
        Severity::Low => 0.55,
        Severity::Medium | Severity::Unknown => 0.65,
        Severity::High => 0.8,
        Severity::Critical => 0.95,
    }
}

/// Colour of an incident status: new red, analysing and disposing amber, closed green.
pub const fn status(s: AlertStatus) -> Rgb {
    match s {
        AlertStatus::New => ALARM_RED,
        AlertStatus::Analysing | AlertStatus::Disposing => AMBER,
        AlertStatus::Closed => GOOD_GREEN,
    }
}

/// The frame every panel is drawn in.
pub fn panel_frame() -> egui::Frame {
    egui::Frame::new().fill(egui(PANEL_FILL)).inner_margin(12).corner_radius(6).stroke(egui::Stroke::new(1.0, egui(PANEL_STROKE)))
}

/// How much larger buttons and text are on a touch kiosk (`[ui] touch`).
pub const TOUCH_SCALE: f32 = 1.3;

/// [`TOUCH_SCALE`] when `touch`, else 1.
pub fn touch_scale(touch: bool) -> f32 {
    if touch { TOUCH_SCALE } else { 1.0 }
}

/// Row height of lists, points: 24, or 40 on a touch kiosk (a fingertip's height).
pub fn row_h(touch: bool) -> f32 {
    if touch { 40.0 } else { 24.0 }
}

/// Height of the demo timeline strip along the bottom, points.
pub const TIMELINE_H: f32 = 52.0;
/// Gap between the window's edge and the panels, points.
pub const MARGIN: f32 = 16.0;
/// Top of the panels below the header, points.
pub const PANELS_TOP: f32 = 64.0;
/// Width of the ranking board's content, points.
pub const RANKING_W: f32 = 340.0;
/// Width of the drill-down's content, points.
pub const DETAIL_W: f32 = 380.0;
/// Height of one ticker row, points (12-point text and its spacing).
pub const TICKER_ROW_H: f32 = 19.0;
/// The ticker's title row and frame margins, points.
pub const TICKER_FRAME_H: f32 = 48.0;

/// Height of the ticker with `rows` rows, points (0 with none).
pub fn ticker_height(rows: usize) -> f32 {
    if rows == 0 { 0.0 } else { TICKER_FRAME_H + TICKER_ROW_H * rows as f32 }
}

/// Top of the 严重 banner, points (below the header, over the map's top centre).
pub const BANNER_TOP: f32 = 70.0;

/// Where the 严重 banner ends, points from the window's top, when it stands: its top, the
/// frame's margins and stroke, a 26-point and a 16-point line (1.3 × their size tall, as
/// the CJK font sets them), and with `acknowledge` the 确认 button (30 points, touch-scaled
/// on a kiosk), with 8 points to spare. The home view keeps the map below it.
pub fn banner_bottom(acknowledge: bool, touch: bool) -> f32 {
    let button = if acknowledge { 4.0 + 30.0 * touch_scale(touch) } else { 0.0 };
    BANNER_TOP + 2.0 * 12.0 + 2.0 * 3.0 + 1.3 * 26.0 + 4.0 + 1.3 * 16.0 + button + 8.0
}

/// Width of the ticker's content, points.
pub const TICKER_W: f32 = 420.0;

/// The UI scale for a window `height` logical pixels tall: the configured factor, or with
/// 0 (auto) height / 1080, at least 1 — so panels keep their share of a 4K or 8K wall.
pub fn ui_zoom(configured: f32, height: f32) -> f32 {
    if configured > 0.0 { configured } else { (height / 1080.0).max(1.0) }
}

/// Space the bottom-anchored panels (legend, ticker) leave below them, points: above the
/// timeline in demo mode, else the margin.
pub fn bottom_clearance(demo: bool) -> f32 {
    if demo { TIMELINE_H + 24.0 } else { MARGIN }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_colour_reaches_egui_and_bevy_alike() {
        for s in Severity::ALL {
            let rgb = severity(s);
            let e = egui(rgb);
            let b = bevy(rgb).to_srgba();
            assert_eq!([e.r(), e.g(), e.b()], rgb);
            assert_eq!([b.red, b.green, b.blue].map(|c| (c * 255.0).round() as u8), rgb);
        }
        // The fallback colour is its own: no known severity shares it.
        assert!(Severity::KNOWN.iter().all(|&s| severity(s) != severity(Severity::Unknown)));
        assert_eq!(ripple_alpha(Severity::Unknown), ripple_alpha(Severity::Medium));
        assert_eq!(colour32([1.0, 0.5, 0.0]), egui::Color32::from_rgb(255, 128, 0));
        assert_eq!(colour32([2.0, -1.0, 0.0]), egui::Color32::from_rgb(255, 0, 0), "clamped");
    }
}
