//! The egui overlay's base: the CJK font, the UI zoom, the header (title, clock, data source
//! and its freshness), the legend, the stale watermark and the render check's glyph probe.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::demo::DemoFeed;
use super::drawn::DrawnRects;
use super::i18n::{self, T, UiLang};
use super::live::LiveFeed;
use super::map::MapResource;
use super::picture::{Freshness, Picture, Settings, Source};
use super::schedule::AppSystems;
use super::theme;
use super::tour::Tour;
use chrono::{DateTime, FixedOffset};

use crate::feed::live::ConnState;
use crate::model::Level;

/// WenQuanYi Micro Hei (Apache-2.0, face 0 of the collection), covering simplified Chinese.
/// See assets/fonts/LICENSE-wqy-microhei.txt.
pub const CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/wqy-microhei.ttc");

/// Whether to install the CJK font (the render check turns it off for its negative control).
#[derive(Resource, Clone, Copy)]
pub struct FontChoice {
    /// Install the bundled CJK font.
    pub cjk: bool,
}

/// Installs the fonts (the CJK font when `cjk_font`) and draws the base overlay.
pub(super) fn plugin(cjk_font: bool) -> impl Fn(&mut App) {
    move |app: &mut App| {
        app.insert_resource(FontChoice { cjk: cjk_font }).add_systems(
            EguiPrimaryContextPass,
            (
                (install_fonts, ui_scale).chain().in_set(AppSystems::UiSetup),
                (header_ui, legend_ui, stale_watermark_ui.run_if(resource_exists::<LiveFeed>), glyph_probe_ui.run_if(resource_exists::<GlyphProbe>))
                    .in_set(AppSystems::Ui),
            ),
        );
    }
}

fn ui_scale(mut contexts: EguiContexts, settings: Res<Settings>, windows: Query<&Window>) -> Result {
    let ctx = contexts.ctx_mut()?;
    let Ok(window) = windows.single() else { return Ok(()) };
    let zoom = theme::ui_zoom(settings.config.ui.scale, window.height());
    if (ctx.zoom_factor() - zoom).abs() > 1e-3 {
        ctx.set_zoom_factor(zoom);
    }
    Ok(())
}

/// Text in the glyph probe, painted only in capture runs with `--glyph-probe`: a common CJK
/// character, and U+0378, an unassigned code point that no font has (its render is the
/// "tofu" the check compares against).
pub const GLYPH_PROBE: [char; 2] = ['朝', '\u{0378}'];
/// Size of one probe cell, logical pixels; cells sit side by side from [`glyph_probe_origin`].
pub const GLYPH_CELL: f32 = 64.0;

/// Top-left of the glyph probe, logical pixels: the bottom-right corner of the window.
pub fn glyph_probe_origin(width: f32, height: f32) -> egui::Pos2 {
    egui::pos2(width - 2.0 * GLYPH_CELL - 24.0, height - GLYPH_CELL - 24.0)
}

/// Whether the probe is drawn.
#[derive(Resource, Clone, Copy, Default)]
pub struct GlyphProbe;

fn install_fonts(mut contexts: EguiContexts, choice: Res<FontChoice>, map: Res<MapResource>, mut frame: Local<u32>) -> Result {
    let ctx = contexts.ctx_mut()?;
    *frame += 1;
    if *frame == 1 {
        let mut fonts = egui::FontDefinitions::default();
        if choice.cjk {
            fonts.font_data.insert("wqy-microhei".into(), egui::FontData::from_static(CJK_FONT).into());
            for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
                fonts.families.entry(family).or_default().push("wqy-microhei".into());
            }
        }
        ctx.set_fonts(fonts);
        ctx.set_visuals(egui::Visuals::dark());
    } else if *frame == 3 {
        // Glyph coverage of every unit name (case 021): list each missing code point once.
        let font = egui::FontId::proportional(14.0);
        let mut missing: Vec<char> = ctx.fonts_mut(|f| map.data.units.iter().flat_map(|u| u.name.chars()).filter(|&c| !f.has_glyph(&font, c)).collect());
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|c| format!("U+{:04X} {c}", *c as u32)).collect();
            warn!("the UI font lacks {} code point(s) used in unit names: {}", missing.len(), list.join(", "));
        }
    }
    Ok(())
}

fn header_ui(
    mut contexts: EguiContexts,
    picture: Res<Picture>,
    map: Res<MapResource>,
    lang: Res<UiLang>,
    live: Option<Res<LiveFeed>>,
    tour: Option<Res<Tour>>,
    mut drawn: Option<ResMut<DrawnRects>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let frame = egui::Frame::new().fill(theme::egui_alpha(theme::PANEL_FILL, 235)).inner_margin(egui::Margin::symmetric(16, 8));
    let width = ctx.content_rect().width();
    egui::Area::new("header".into()).anchor(egui::Align2::LEFT_TOP, egui::vec2(0.0, 0.0)).show(ctx, |ui| {
        frame.show(ui, |ui| {
            ui.set_width(width - 32.0);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(T::Title.get(lang)).size(24.0).strong().color(theme::egui(theme::TEXT)));
                if width > 1400.0 {
                    ui.label(egui::RichText::new("Situation Wall").size(14.0).color(theme::egui(theme::DIM)));
                }
                if map.schematic {
                    ui.add_space(12.0);
                    ui.label(
                        egui::RichText::new(format!(" {} ", T::Schematic.get(lang)))
                            .size(13.0)
                            .color(egui::Color32::BLACK)
                            .background_color(theme::egui(theme::SCHEMATIC_BADGE)),
                    );
                }
                // Provenance: the source says its data is simulated (a demo recording, or a
                // gateway playing one); a live-looking wall must never hide that.
                if picture.simulated {
                    ui.add_space(8.0);
                    let badge = egui::RichText::new(format!(" {} ", T::SimulatedData.get(lang)))
                        .size(15.0)
                        .strong()
                        .color(egui::Color32::BLACK)
                        .background_color(theme::egui(theme::SIMULATED_BADGE));
                    let shown = ui.label(badge);
                    if let Some(d) = drawn.as_mut() {
                        d.simulated_badge = Some(shown.rect);
                    }
                } else if let Some(d) = drawn.as_mut() {
                    d.simulated_badge = None;
                }
                if let Some(count) = map.loaded_text(lang) {
                    ui.add_space(8.0);
                    ui.label(egui::RichText::new(count).size(14.0).color(theme::egui(theme::AMBER)));
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let clock = picture.clock.map(|c| c.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "—".into());
                    let (source, colour) = match &picture.source {
                        Source::Demo { speed } => (format!("{} ×{} · {clock}", T::Demo.get(lang), fmt_speed(*speed)), theme::egui(theme::ACCENT)),
                        Source::Live { .. } => match (&live, picture.freshness) {
                            (Some(l), _) if matches!(l.conn, ConnState::Unauthorized(_)) => {
                                (T::Unauthorised.get(lang).to_owned(), theme::egui(theme::ALARM_RED))
                            }
                            (_, Freshness::Live) => (format!("{} · {clock}", T::Live.get(lang)), theme::egui(theme::GOOD_GREEN)),
                            (_, Freshness::Delayed) => (format!("{} · {clock}", T::Delayed.get(lang)), theme::egui(theme::AMBER)),
                            (_, Freshness::Stale) => (format!("{} · {clock}", T::Stale.get(lang)), theme::egui(theme::ALARM_RED)),
                        },
                    };
                    ui.label(egui::RichText::new(source).size(15.0).color(colour));
                    if let Some(l) = &live {
                        let conn = match &l.conn {
                            ConnState::Connecting => T::Connecting.get(lang).to_owned(),
                            ConnState::Live => "SSE".to_owned(),
                            ConnState::Polling => T::Polling.get(lang).to_owned(),
                            // The kind in the UI's language; the library's own words go to the log.
                            ConnState::Retrying { kind, retry_in, .. } if retry_in.is_finite() => {
                                format!("{} {retry_in:.0} s · {}", T::RetryIn.get(lang), i18n::retry_text(*kind, lang))
                            }
                            ConnState::Retrying { kind, .. } => i18n::retry_text(*kind, lang),
                            ConnState::Unauthorized(_) => "401".to_owned(),
                            ConnState::FeedError { restart_in, .. } => format!("{} · {restart_in:.0} s", T::FeedError.get(lang)),
                        };
                        ui.label(egui::RichText::new(conn).size(12.0).color(theme::egui(theme::DIM)));
                    }
                    ui.add_space(16.0);
                    let secs = picture.clock.map(|c| c.format("%H:%M:%S").to_string()).unwrap_or_default();
                    ui.label(egui::RichText::new(secs).size(22.0).monospace().color(theme::egui(theme::TEXT)));
                    if tour.is_some_and(|t| t.active) {
                        ui.add_space(8.0);
                        ui.label(
                            egui::RichText::new(format!(" {} ", T::Tour.get(lang)))
                                .size(13.0)
                                .color(egui::Color32::BLACK)
                                .background_color(theme::egui(theme::ACCENT)),
                        );
                    }
                });
            });
        });
    });
    Ok(())
}

fn fmt_speed(speed: f64) -> String {
    if (speed - speed.round()).abs() < 1e-9 { format!("{speed:.0}") } else { format!("{speed:.1}") }
}

fn legend_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    map: Res<MapResource>,
    picture: Res<Picture>,
    lang: Res<UiLang>,
    demo: Option<Res<DemoFeed>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let bottom = theme::bottom_clearance(demo.is_some());
    // Opaque, as every panel: nothing of the map shows through the ramp.
    let frame = theme::panel_frame();
    egui::Area::new("legend".into()).anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(theme::MARGIN, -bottom)).show(ctx, |ui| {
        frame.show(ui, |ui| {
            ui.label(egui::RichText::new(T::RiskScore.get(lang)).size(14.0).color(theme::egui(theme::TEXT)));
            let (rect, _) = ui.allocate_exact_size(egui::vec2(260.0, 14.0), egui::Sense::hover());
            let painter = ui.painter();
            let steps = 100;
            for i in 0..steps {
                let x0 = rect.left() + rect.width() * i as f32 / steps as f32;
                let x1 = rect.left() + rect.width() * (i + 1) as f32 / steps as f32;
                let c = theme::colour32(settings.ramp.sample(100.0 * (i as f32 + 0.5) / steps as f32));
                painter.rect_filled(egui::Rect::from_x_y_ranges(x0..=x1 + 0.5, rect.y_range()), 0.0, c);
            }
            let levels = &settings.config.levels;
            for t in [0.0, levels.medium, levels.high, levels.critical, 100.0] {
                let x = rect.left() + rect.width() * t / 100.0;
                painter.line_segment([egui::pos2(x, rect.bottom()), egui::pos2(x, rect.bottom() + 4.0)], egui::Stroke::new(1.0, theme::egui(theme::DIM)));
                painter.text(
                    egui::pos2(x, rect.bottom() + 5.0),
                    egui::Align2::CENTER_TOP,
                    format!("{t:.0}"),
                    egui::FontId::proportional(11.0),
                    theme::egui(theme::DIM),
                );
            }
            ui.add_space(16.0);
            ui.horizontal(|ui| {
                for level in Level::ALL {
                    let (lo, hi) = levels.range(level);
                    let (r, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    ui.painter().rect_filled(r, 2.0, theme::colour32(settings.level_colour(level)));
                    ui.label(egui::RichText::new(format!("{} {lo:.0}–{hi:.0}", i18n::level(level, lang))).size(13.0).color(theme::egui(theme::TEXT)));
                }
            });
            ui.horizontal(|ui| {
                let (r, _) = ui.allocate_exact_size(egui::vec2(22.0, 12.0), egui::Sense::hover());
                ui.painter().rect_filled(r, 3.0, theme::egui(theme::OVERDUE));
                ui.label(egui::RichText::new(T::OverdueLegend.get(lang)).size(12.0).color(theme::egui(theme::DIM)));
            });
            let ext = &settings.config.extrusion;
            ui.label(
                egui::RichText::new(format!("{} = {:.0} m + {:.0} m × {}", T::HeightRule.get(lang), ext.base_m, ext.metres_per_point, T::RiskScore.get(lang)))
                    .size(12.0)
                    .color(theme::egui(theme::DIM)),
            );
            if !map.bureaus.is_empty() {
                let simulated = if map.bureaus.iter().any(|b| b.simulated) { format!(" ({})", T::SimulatedPositions.get(lang)) } else { String::new() };
                // How many of them have a score now: the columns claim nothing more.
                let scored = map.bureaus.iter().filter(|b| picture.state.score(&b.id).is_some()).count();
                let text = format!("{} × {} · {} {scored}{simulated}", T::Bureaus.get(lang), map.bureaus.len(), T::Scored.get(lang));
                ui.label(egui::RichText::new(text).size(12.0).color(theme::egui(theme::DIM)));
            }
        });
    });
    Ok(())
}

/// Over a stale picture: a large watermark saying since when data stopped, so old data is
/// never presented as live.
fn stale_watermark_ui(
    mut contexts: EguiContexts,
    picture: Res<Picture>,
    live: Res<LiveFeed>,
    lang: Res<UiLang>,
    mut drawn: Option<ResMut<super::drawn::DrawnRects>>,
) -> Result {
    let lang = lang.0;
    if let Some(d) = drawn.as_mut() {
        d.watermark = None;
    }
    if picture.freshness != Freshness::Stale {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let rect = ctx.content_rect();
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, "stale-watermark".into()));
    let (title, sub) = watermark_lines(&live.conn, live.last_contact_at, picture.state.last_update, lang);
    let centre = rect.center();
    let size = (rect.width() / 18.0).clamp(28.0, 160.0);
    let mut title_galley = painter.layout_no_wrap(title.clone(), egui::FontId::proportional(size), theme::egui(theme::WATERMARK));
    // A dated title is long: smaller, so it keeps within 90 % of the width.
    if title_galley.size().x > 0.9 * rect.width() {
        let fitted = (size * 0.9 * rect.width() / title_galley.size().x).max(14.0);
        title_galley = painter.layout_no_wrap(title, egui::FontId::proportional(fitted), theme::egui(theme::WATERMARK));
    }
    let title = title_galley;
    let sub = painter.layout_no_wrap(sub, egui::FontId::proportional((rect.width() / 60.0).clamp(14.0, 48.0)), theme::egui(theme::WATERMARK_SUB));
    let gap = (rect.width() / 24.0).clamp(24.0, 120.0);
    let title_at = centre - title.size() / 2.0;
    let sub_at = centre + egui::vec2(-sub.size().x / 2.0, gap - sub.size().y / 2.0);
    // A dark plate under both lines: the greyed map behind is as light as the red title, and
    // the data time must read from across the room. Nearly opaque: egui blends in linear
    // light on the sRGB target, so even 235 of 255 lets white labels through at a third of
    // their brightness. On the foreground layer: above the labels, the panels and the banner.
    let plate =
        egui::Rect::from_min_size(title_at, title.size()).union(egui::Rect::from_min_size(sub_at, sub.size())).expand2(egui::vec2(gap / 2.0, gap / 4.0));
    painter.rect_filled(plate, gap / 4.0, egui::Color32::from_black_alpha(250));
    if let Some(d) = drawn.as_mut() {
        d.watermark = Some(plate);
    }
    painter.galley(title_at, title, theme::egui(theme::WATERMARK));
    painter.galley(sub_at, sub, theme::egui(theme::WATERMARK_SUB));
    Ok(())
}

/// The stale watermark's two lines: what happened, with the wall-clock time of the last contact
/// (Beijing time), and what is shown, with the data time of the newest update in the picture —
/// or that nothing was ever received.
fn watermark_lines(
    conn: &ConnState,
    last_contact: Option<DateTime<FixedOffset>>,
    last_data: Option<DateTime<FixedOffset>>,
    lang: i18n::Lang,
) -> (String, String) {
    // Beijing time; with the date when the last contact (wall clock) and the newest data (data
    // time) fall on different days, so neither is read as the other's day.
    let day = |t: DateTime<FixedOffset>| t.with_timezone(&crate::model::BEIJING).date_naive();
    let dated = matches!((last_contact, last_data), (Some(a), Some(b)) if day(a) != day(b));
    let format = if dated { "%Y-%m-%d %H:%M:%S" } else { "%H:%M:%S" };
    let clock = |t: DateTime<FixedOffset>| t.with_timezone(&crate::model::BEIJING).format(format).to_string();
    let title = match (conn, last_contact) {
        (ConnState::Unauthorized(_), _) => format!("{} · 401", T::Unauthorised.get(lang)),
        (_, None) => T::NotConnected.get(lang).to_owned(),
        (_, Some(t)) => format!("{} · {} {}", T::DataInterrupted.get(lang), T::Since.get(lang), clock(t)),
    };
    let sub = match last_data {
        Some(t) => format!("{} {}", T::LastDataAt.get(lang), clock(t)),
        None => T::NothingReceived.get(lang).to_owned(),
    };
    (title, sub)
}

fn glyph_probe_ui(mut contexts: EguiContexts, windows: Query<&Window>) -> Result {
    let ctx = contexts.ctx_mut()?;
    let Ok(window) = windows.single() else { return Ok(()) };
    // The probe's cells are logical pixels (as the capture reports them): painted in egui
    // points, they are that over the UI zoom, and so is the glyph.
    let zoom = ctx.zoom_factor();
    let origin = glyph_probe_origin(window.width(), window.height()) / zoom;
    let cell_pt = GLYPH_CELL / zoom;
    let painter = ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, "glyph-probe".into()));
    for (i, ch) in GLYPH_PROBE.iter().enumerate() {
        let cell = egui::Rect::from_min_size(origin + egui::vec2(i as f32 * cell_pt, 0.0), egui::vec2(cell_pt, cell_pt));
        painter.rect_filled(cell, 0.0, egui::Color32::BLACK);
        painter.text(cell.center(), egui::Align2::CENTER_CENTER, ch.to_string(), egui::FontId::proportional(44.0 / zoom), theme::egui(theme::TEXT));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn the_stale_watermark_says_what_is_true() {
        let retrying = ConnState::Connecting;
        // Never reached: no "last good picture" claimed.
        let (title, sub) = watermark_lines(&retrying, None, None, i18n::Lang::En);
        assert_eq!((title.as_str(), sub.as_str()), ("NOT CONNECTED · NO DATA YET", "no data received yet"));
        // Contact lost at 14:05:10 wall time; the newest data is from 14:03:21 (data time),
        // both in Beijing time whatever offset they came in.
        let (title, sub) = watermark_lines(&retrying, Some(t("2026-12-02T06:05:10Z")), Some(t("2026-12-02T14:03:21+08:00")), i18n::Lang::Zh);
        assert_eq!(title, "数据中断 · 自 14:05:10");
        assert_eq!(sub, "显示最后一次有效数据，非实时 · 数据时间 14:03:21");
        // Contact lost days after the newest data (a replayed recording): both with their date.
        let (title, sub) = watermark_lines(&retrying, Some(t("2026-12-02T06:05:10Z")), Some(t("2026-11-28T02:10:00+08:00")), i18n::Lang::Zh);
        assert_eq!(title, "数据中断 · 自 2026-12-02 14:05:10");
        assert_eq!(sub, "显示最后一次有效数据，非实时 · 数据时间 2026-11-28 02:10:00");
        // Reached, but nothing came: says so.
        let (_, sub) = watermark_lines(&retrying, Some(t("2026-12-02T14:05:10+08:00")), None, i18n::Lang::En);
        assert_eq!(sub, "no data received yet");
    }
}
