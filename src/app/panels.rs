//! The command-centre panels: district summary and ranking board (量化考核) on the left, the
//! selected unit's drill-down on the right, the alert ticker, the critical banner, and the
//! demo timeline along the bottom. Every string comes from [`super::i18n`].

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::alerts::AlertFx;
use super::i18n::{self, T, UiLang};
use super::interact::{Derived, Select};
use super::scene::Selection;
use super::ui::{ACCENT, DIM, PANEL_FILL, STALE_RED, colour32};
use super::{DemoFeed, MapResource, Picture, Settings};
use crate::model::{AlertStatus, Severity, trend_arrow};

pub(super) fn plugin(app: &mut App) {
    app.add_systems(EguiPrimaryContextPass, (ranking_ui, detail_ui, ticker_ui, banner_ui, timeline_ui).chain().after(super::ui::UiSystems));
}

/// Height of the demo timeline strip, points.
pub const TIMELINE_H: f32 = 52.0;

fn panel_frame() -> egui::Frame {
    egui::Frame::new().fill(PANEL_FILL).inner_margin(12).corner_radius(6).stroke(egui::Stroke::new(1.0, egui::Color32::from_rgb(0x1e, 0x3a, 0x5a)))
}

fn severity_colour(s: Severity) -> egui::Color32 {
    match s {
        Severity::Low => egui::Color32::from_rgb(0x73, 0xcc, 0xff),
        Severity::Medium => egui::Color32::from_rgb(0xff, 0xd9, 0x4d),
        Severity::High => egui::Color32::from_rgb(0xff, 0x8c, 0x33),
        Severity::Critical => egui::Color32::from_rgb(0xff, 0x33, 0x40),
    }
}

/// A name for a narrow column: without the "朝阳区" prefix every bureau shares, cut to
/// `max` characters.
fn column_name(map: &MapResource, id: &str, max: usize) -> String {
    let name = unit_name(map, id);
    super::ui::truncate(name.strip_prefix("朝阳区").filter(|n| !n.is_empty()).unwrap_or(name), max)
}

fn unit_name<'a>(map: &'a MapResource, id: &'a str) -> &'a str {
    map.data.units.iter().map(|u| (&u.id, &u.name)).chain(map.bureaus.iter().map(|b| (&b.id, &b.name))).find(|(i, _)| *i == id).map_or(id, |(_, n)| n.as_str())
}

/// Ranking board column widths, points: rank, unit, total, trend arrow, threat, asset,
/// compliance (340 in all).
const COLUMNS: [f32; 7] = [26.0, 122.0, 52.0, 20.0, 40.0, 40.0, 40.0];

/// Row height of lists, points: larger on touch kiosks.
fn row_h(settings: &Settings) -> f32 {
    if settings.config.ui.touch { 40.0 } else { 24.0 }
}

#[allow(clippy::too_many_arguments)]
fn ranking_ui(mut contexts: EguiContexts, settings: Res<Settings>, lang: Res<UiLang>, derived: Res<Derived>, map: Res<MapResource>, selection: Res<Selection>, mut select: MessageWriter<Select>, mut bureaus_tab: Local<bool>) -> Result {
    if !settings.config.ui.ranking {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let levels = &settings.config.levels;
    let s = &derived.summary;
    egui::Area::new("ranking".into()).anchor(egui::Align2::LEFT_TOP, egui::vec2(16.0, 64.0)).show(ctx, |ui| {
        panel_frame().show(ui, |ui| {
            ui.set_width(340.0);
            ui.label(egui::RichText::new(T::District.get(lang)).size(16.0).strong().color(egui::Color32::WHITE));
            ui.horizontal(|ui| {
                let index = s.index.map_or("—".to_owned(), |v| format!("{v:.1}"));
                let colour = s.index.map_or(DIM, |v| colour32(settings.ramp.sample(v)));
                ui.label(egui::RichText::new(index).size(34.0).strong().color(colour));
                ui.vertical(|ui| {
                    ui.label(egui::RichText::new(T::OverallIndex.get(lang)).size(12.0).color(DIM));
                    ui.label(egui::RichText::new(format!("{} {}  ·  {} {}", T::OpenIncidents.get(lang), s.open_incidents, T::Alerts24h.get(lang), s.alerts_24h)).size(13.0).color(egui::Color32::WHITE));
                });
            });
            ui.horizontal(|ui| {
                for level in crate::model::Level::ALL.iter().rev() {
                    let (lo, hi) = levels.range(*level);
                    let colour = colour32(settings.ramp.sample((lo + hi) / 2.0));
                    ui.label(egui::RichText::new(format!("{} {}", i18n::level(*level, lang), s.per_level[*level as usize])).size(14.0).color(colour));
                }
                if s.no_data > 0 {
                    ui.label(egui::RichText::new(format!("{} {}", T::NoData.get(lang), s.no_data)).size(14.0).color(DIM));
                }
            });
            ui.separator();
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(T::Ranking.get(lang)).size(16.0).strong().color(egui::Color32::WHITE));
                if !derived.ranking_bureaus.is_empty() {
                    let big = if settings.config.ui.touch { 1.3 } else { 1.0 };
                    for (on_bureaus, label) in [(false, T::Areas), (true, T::Bureau)] {
                        let button = egui::Button::new(egui::RichText::new(label.get(lang)).size(13.0 * big)).selected(*bureaus_tab == on_bureaus).min_size(egui::vec2(48.0, 22.0) * big);
                        if ui.add(button).clicked() {
                            *bureaus_tab = on_bureaus;
                        }
                    }
                }
            });
            let board = if *bureaus_tab { &derived.ranking_bureaus } else { &derived.ranking };
            {
                let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), 16.0), egui::Sense::hover());
                let mut x = rect.left();
                let heads = ["#", T::Unit.get(lang), T::Total.get(lang), "", T::Threat.get(lang), T::Asset.get(lang), T::Compliance.get(lang)];
                for (text, w) in heads.into_iter().zip(COLUMNS) {
                    ui.painter().text(egui::pos2(x + 2.0, rect.center().y), egui::Align2::LEFT_CENTER, text, egui::FontId::proportional(11.0), DIM);
                    x += w;
                }
            }
            let h = row_h(&settings);
            // As many rows as configured, fewer when the legend and timeline below need the
            // room (points: header and summary above, legend and timeline below).
            let reserve = 64.0 + 200.0 + 150.0 + TIMELINE_H + 24.0;
            let fit = ((ui.ctx().content_rect().height() - reserve) / (h + ui.spacing().item_spacing.y)).floor().max(3.0) as usize;
            let rows = settings.config.ui.ranking_rows.max(3).min(fit);
            let row_pitch = h + ui.spacing().item_spacing.y;
            egui::ScrollArea::vertical().max_height(row_pitch * rows as f32).min_scrolled_height(row_pitch * rows as f32).auto_shrink([false, true]).show_rows(ui, h, board.len(), |ui, range| {
                for i in range {
                    let row = &board[i];
                    let selected = selection.unit.as_deref() == Some(row.id.as_str());
                    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), h), egui::Sense::click());
                    if selected || response.hovered() {
                        ui.painter().rect_filled(rect, 3.0, egui::Color32::from_rgba_unmultiplied(92, 214, 255, if selected { 60 } else { 25 }));
                    }
                    let mut x = rect.left();
                    let y = rect.center().y;
                    let mut cell = |text: String, w: f32, colour: egui::Color32, size: f32| {
                        ui.painter().text(egui::pos2(x + 2.0, y), egui::Align2::LEFT_CENTER, text, egui::FontId::proportional(size), colour);
                        x += w;
                    };
                    let size = if settings.config.ui.touch { 17.0 } else { 13.0 };
                    cell(format!("{}", i + 1), COLUMNS[0], DIM, size);
                    cell(column_name(&map, &row.id, if settings.config.ui.touch { 6 } else { 8 }), COLUMNS[1], egui::Color32::WHITE, size);
                    let arrow = trend_arrow(row.trend);
                    let arrow_colour = match arrow {
                        '▲' => STALE_RED,
                        '▼' => egui::Color32::from_rgb(0x4c, 0xe0, 0x8a),
                        _ => DIM,
                    };
                    cell(format!("{:.1}", row.score.total), COLUMNS[2], colour32(settings.ramp.sample(row.score.total)), size);
                    cell(arrow.to_string(), COLUMNS[3], arrow_colour, size - 2.0);
                    cell(format!("{:.0}", row.score.threat), COLUMNS[4], DIM, size - 1.0);
                    cell(format!("{:.0}", row.score.asset), COLUMNS[5], DIM, size - 1.0);
                    cell(format!("{:.0}", row.score.compliance), COLUMNS[6], DIM, size - 1.0);
                    if response.clicked() {
                        select.write(Select(if selected { None } else { Some(row.id.clone()) }));
                    }
                }
            });
        });
    });
    Ok(())
}

fn detail_ui(mut contexts: EguiContexts, settings: Res<Settings>, lang: Res<UiLang>, derived: Res<Derived>, picture: Res<Picture>, map: Res<MapResource>, mut select: MessageWriter<Select>) -> Result {
    let Some((id, d)) = &derived.detail else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let big = if settings.config.ui.touch { 1.25 } else { 1.0 };
    egui::Area::new("detail".into()).anchor(egui::Align2::RIGHT_TOP, egui::vec2(-16.0, 64.0)).show(ctx, |ui| {
        panel_frame().show(ui, |ui| {
            ui.set_width(380.0);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(unit_name(&map, id)).size(22.0 * big).strong().color(egui::Color32::WHITE));
                let kind = if map.bureaus.iter().any(|b| &b.id == id) { T::Bureau } else { T::Street };
                ui.label(egui::RichText::new(format!("{} · {id}", kind.get(lang))).size(12.0).color(DIM));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let close = egui::Button::new(egui::RichText::new("✕").size(16.0 * big)).min_size(egui::vec2(32.0, 32.0) * big);
                    if ui.add(close).clicked() {
                        select.write(Select(None));
                    }
                });
            });
            match d.score {
                Some(score) => {
                    ui.horizontal(|ui| {
                        ui.label(egui::RichText::new(format!("{:.1}", score.total)).size(40.0 * big).strong().color(colour32(settings.ramp.sample(score.total))));
                        ui.vertical(|ui| {
                            if let Some(level) = d.level {
                                ui.label(egui::RichText::new(format!("{} {}", T::Level.get(lang), i18n::level(level, lang))).size(15.0 * big).color(egui::Color32::WHITE));
                            }
                            if let Some((rank, of)) = d.rank {
                                ui.label(egui::RichText::new(format!("{} {rank} / {of}", T::Rank.get(lang))).size(15.0 * big).color(egui::Color32::WHITE));
                            }
                        });
                    });
                    for (label, v) in [(T::Threat, score.threat), (T::Asset, score.asset), (T::Compliance, score.compliance)] {
                        ui.horizontal(|ui| {
                            ui.add_sized([90.0, 18.0], egui::Label::new(egui::RichText::new(label.get(lang)).size(13.0 * big).color(DIM)));
                            let (rect, _) = ui.allocate_exact_size(egui::vec2(220.0, 12.0), egui::Sense::hover());
                            ui.painter().rect_filled(rect, 2.0, egui::Color32::from_rgb(0x1a, 0x22, 0x33));
                            let fill = egui::Rect::from_min_size(rect.min, egui::vec2(rect.width() * v / 100.0, rect.height()));
                            ui.painter().rect_filled(fill, 2.0, colour32(settings.ramp.sample(v)));
                            ui.label(egui::RichText::new(format!("{v:.0}")).size(13.0 * big).color(egui::Color32::WHITE));
                        });
                    }
                }
                None => {
                    ui.label(egui::RichText::new(T::NoData.get(lang)).size(20.0).color(DIM));
                }
            }
            ui.separator();
            ui.label(egui::RichText::new(T::Trend24h.get(lang)).size(13.0 * big).color(DIM));
            trend_ui(ui, &picture, id, &settings);
            ui.separator();
            ui.label(egui::RichText::new(T::Incidents.get(lang)).size(13.0 * big).color(DIM));
            ui.horizontal(|ui| {
                for (i, status) in [AlertStatus::New, AlertStatus::InProgress, AlertStatus::Closed].into_iter().enumerate() {
                    let colour = [STALE_RED, egui::Color32::from_rgb(0xf0, 0xb0, 0x40), egui::Color32::from_rgb(0x4c, 0xe0, 0x8a)][i];
                    ui.label(egui::RichText::new(format!("{} {}", i18n::status(status, lang), d.by_status[i])).size(15.0 * big).color(colour));
                    ui.add_space(6.0);
                }
            });
            let mttr = d.mttr_s.map_or("—".to_owned(), |s| if s >= 3600.0 { format!("{:.1} h", s / 3600.0) } else { format!("{:.0} min", s / 60.0) });
            ui.label(egui::RichText::new(format!("{} {mttr}", T::Mttr.get(lang))).size(13.0 * big).color(egui::Color32::WHITE));
            ui.separator();
            ui.label(egui::RichText::new(T::RecentAlerts.get(lang)).size(13.0 * big).color(DIM));
            if d.recent.is_empty() {
                ui.label(egui::RichText::new(T::NoAlerts.get(lang)).size(13.0).color(DIM));
            }
            for a in &d.recent {
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(a.time.format("%H:%M").to_string()).size(12.0 * big).monospace().color(DIM));
                    ui.label(egui::RichText::new(i18n::severity(a.severity, lang)).size(12.0 * big).color(severity_colour(a.severity)));
                    ui.label(egui::RichText::new(format!("{} · {}", a.category, i18n::status(a.status, lang))).size(12.0 * big).color(egui::Color32::WHITE));
                });
            }
            ui.separator();
            let [c, h, m, l] = d.vulnerabilities;
            ui.label(egui::RichText::new(format!("{} ({})", T::Vulnerabilities.get(lang), T::Simulated.get(lang))).size(13.0 * big).color(DIM));
            ui.horizontal(|ui| {
                for (n, s) in [(c, Severity::Critical), (h, Severity::High), (m, Severity::Medium), (l, Severity::Low)] {
                    ui.label(egui::RichText::new(format!("{} {n}", i18n::severity(s, lang))).size(14.0 * big).color(severity_colour(s)));
                }
            });
            let (passed, checks) = d.compliance;
            ui.label(
                egui::RichText::new(format!("{} {:.0}% ({passed}/{checks}, {})", T::CompliancePass.get(lang), 100.0 * passed as f32 / checks.max(1) as f32, T::Simulated.get(lang)))
                    .size(13.0 * big)
                    .color(egui::Color32::WHITE),
            );
            ui.add_space(4.0);
            ui.label(egui::RichText::new(T::BackHint.get(lang)).size(11.0).color(DIM));
        });
    });
    Ok(())
}

/// The unit's score history as a line over the last 24 h of data time, with the level
/// thresholds as faint lines.
fn trend_ui(ui: &mut egui::Ui, picture: &Picture, id: &str, settings: &Settings) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), 70.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, egui::Color32::from_rgb(0x0b, 0x12, 0x20));
    let levels = &settings.config.levels;
    let y_of = |v: f32| rect.bottom() - rect.height() * v / 100.0;
    for t in [levels.medium, levels.high, levels.critical] {
        painter.line_segment([egui::pos2(rect.left(), y_of(t)), egui::pos2(rect.right(), y_of(t))], egui::Stroke::new(1.0, colour32(settings.ramp.sample(t)).gamma_multiply(0.35)));
    }
    let Some(unit) = picture.state.unit(id) else { return };
    let Some(&(end, _)) = unit.history.back() else { return };
    let end = picture.clock.map_or(end, |c| c.max(end));
    let span = 24.0 * 3600.0;
    let points: Vec<egui::Pos2> = unit
        .history
        .iter()
        .filter_map(|(t, v)| {
            let age = (end - *t).as_seconds_f64();
            (age <= span).then(|| egui::pos2(rect.right() - rect.width() * (age / span) as f32, y_of(*v)))
        })
        .collect();
    if let Some(last) = points.last() {
        let colour = colour32(settings.ramp.sample(unit.score.map_or(0.0, |s| s.total)));
        painter.add(egui::Shape::line(points.clone(), egui::Stroke::new(2.0, colour)));
        painter.circle_filled(*last, 3.0, colour);
    }
}

#[allow(clippy::too_many_arguments)]
fn ticker_ui(mut contexts: EguiContexts, settings: Res<Settings>, lang: Res<UiLang>, picture: Res<Picture>, map: Res<MapResource>, fx: Res<AlertFx>, demo: Option<Res<DemoFeed>>, derived: Res<Derived>) -> Result {
    let len = settings.config.alerts.ticker_len;
    if len == 0 {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let bottom = if demo.is_some() { TIMELINE_H + 24.0 } else { 16.0 };
    // Bottom right, or bottom centre while the drill-down holds the right side.
    let anchor = if derived.detail.is_some() { (egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -bottom)) } else { (egui::Align2::RIGHT_BOTTOM, egui::vec2(-16.0, -bottom)) };
    egui::Area::new("ticker".into()).anchor(anchor.0, anchor.1).show(ctx, |ui| {
        panel_frame().show(ui, |ui| {
            ui.set_width(420.0);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(T::LatestAlerts.get(lang)).size(14.0).strong().color(egui::Color32::WHITE));
                let more = picture.state.alert_count().saturating_sub(len);
                if more > 0 {
                    ui.label(egui::RichText::new(format!("+{more} {}", T::More.get(lang))).size(11.0).color(DIM));
                }
                if fx.coalesced > 0 {
                    ui.label(egui::RichText::new(format!("≋{}", fx.coalesced)).size(11.0).color(DIM)).on_hover_text(T::Coalesced.get(lang));
                }
            });
            for a in picture.state.alerts_newest_first().take(len) {
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(a.time.format("%H:%M:%S").to_string()).size(12.0).monospace().color(DIM));
                    ui.label(egui::RichText::new(i18n::severity(a.severity, lang)).size(12.0).color(severity_colour(a.severity)));
                    ui.label(egui::RichText::new(column_name(&map, &a.unit, 8)).size(12.0).color(egui::Color32::WHITE));
                    let colour = if a.status == AlertStatus::Closed { DIM } else { egui::Color32::WHITE };
                    ui.add(egui::Label::new(egui::RichText::new(&a.title).size(12.0).color(colour)).truncate());
                });
            }
        });
    });
    Ok(())
}

fn banner_ui(mut contexts: EguiContexts, lang: Res<UiLang>, fx: Res<AlertFx>, map: Res<MapResource>, time: Res<Time>, derived: Res<Derived>) -> Result {
    let Some((alert, _)) = &fx.banner else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    // Between the ranking board and the drill-down when both are out, wrapping if it must.
    let side = if derived.detail.is_some() { 2.0 * 430.0 } else { 2.0 * 390.0 };
    let max_width = (ctx.content_rect().width() - side).max(320.0);
    let lang = lang.0;
    // Blinks its border twice a second so it is noticed from across the room.
    let on = (time.elapsed_secs() * 2.0).fract() < 0.6;
    let frame = egui::Frame::new()
        .fill(egui::Color32::from_rgba_unmultiplied(80, 6, 12, 235))
        .inner_margin(egui::Margin::symmetric(24, 12))
        .corner_radius(6)
        .stroke(egui::Stroke::new(3.0, if on { STALE_RED } else { egui::Color32::from_rgb(0x60, 0x10, 0x18) }));
    egui::Area::new("banner".into()).anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 70.0)).order(egui::Order::Foreground).show(ctx, |ui| {
        frame.show(ui, |ui| {
            ui.set_max_width(max_width);
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(format!("⚠ {}", T::CriticalAlert.get(lang))).size(26.0).strong().color(egui::Color32::WHITE));
                ui.label(egui::RichText::new(format!("{} · {} · {}", unit_name(&map, &alert.unit), alert.category, alert.time.format("%H:%M:%S"))).size(20.0).color(egui::Color32::from_rgb(0xff, 0xd0, 0xd0)));
            });
            ui.label(egui::RichText::new(&alert.title).size(16.0).color(egui::Color32::WHITE));
        });
    });
    Ok(())
}

/// Speeds the timeline offers, recording seconds per second.
pub const TIMELINE_SPEEDS: [f64; 5] = [1.0, 10.0, 60.0, 300.0, 1800.0];

fn timeline_ui(mut contexts: EguiContexts, settings: Res<Settings>, lang: Res<UiLang>, demo: Option<ResMut<DemoFeed>>, mut marks: Local<Vec<(f64, Severity)>>) -> Result {
    let Some(mut demo) = demo else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    if marks.is_empty() {
        let replay = &demo.replay;
        *marks = replay.recording().records.iter().zip(replay.offsets()).filter_map(|((_, r), &at)| r.alert().map(|a| (at, a.severity))).collect();
    }
    let duration = demo.replay.duration_s().max(1.0);
    let big = if settings.config.ui.touch { 1.3 } else { 1.0 };
    let width = ctx.content_rect().width();
    egui::Area::new("timeline".into()).anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(0.0, 0.0)).show(ctx, |ui| {
        egui::Frame::new().fill(PANEL_FILL).inner_margin(egui::Margin::symmetric(16, 8)).show(ui, |ui| {
            ui.set_width(width - 32.0);
            ui.horizontal(|ui| {
                let label = if demo.paused { format!("▶ {}", T::Play.get(lang)) } else { format!("⏸ {}", T::Pause.get(lang)) };
                if ui.add(egui::Button::new(egui::RichText::new(label).size(14.0 * big)).min_size(egui::vec2(80.0, 30.0) * big)).clicked() {
                    demo.paused = !demo.paused;
                }
                ui.label(egui::RichText::new(T::Speed.get(lang)).size(12.0).color(DIM));
                for s in TIMELINE_SPEEDS {
                    let on = (demo.replay.speed - s).abs() < 1e-9;
                    if ui.add(egui::Button::new(egui::RichText::new(format!("×{s:.0}")).size(13.0 * big)).selected(on).min_size(egui::vec2(44.0, 30.0) * big)).clicked() {
                        demo.replay.speed = s;
                    }
                }
                // The track: alert marks by severity, the playhead, click or drag to seek.
                let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width() - 8.0, 30.0 * big), egui::Sense::click_and_drag());
                let painter = ui.painter_at(rect);
                let track = rect.shrink2(egui::vec2(0.0, rect.height() * 0.3));
                painter.rect_filled(track, 3.0, egui::Color32::from_rgb(0x14, 0x1e, 0x30));
                let x_of = |t: f64| track.left() + track.width() * (t / duration).clamp(0.0, 1.0) as f32;
                for &(at, severity) in marks.iter() {
                    let x = x_of(at);
                    let h = if severity == Severity::Critical { rect.height() } else { track.height() };
                    painter.line_segment([egui::pos2(x, rect.center().y - h / 2.0), egui::pos2(x, rect.center().y + h / 2.0)], egui::Stroke::new(if severity == Severity::Critical { 2.0 } else { 1.0 }, severity_colour(severity)));
                }
                for hour in (0..=(duration / 3600.0) as u32).step_by(6) {
                    let x = x_of(f64::from(hour) * 3600.0);
                    if x > track.right() - 30.0 {
                        continue;
                    }
                    let t = demo.replay.recording().header.start + chrono::TimeDelta::hours(i64::from(hour));
                    painter.text(egui::pos2(x + 2.0, rect.bottom()), egui::Align2::LEFT_BOTTOM, t.format("%H:%M").to_string(), egui::FontId::proportional(10.0), DIM);
                }
                let head = x_of(demo.replay.elapsed_s());
                painter.line_segment([egui::pos2(head, rect.top()), egui::pos2(head, rect.bottom())], egui::Stroke::new(2.0, ACCENT));
                if (response.clicked() || response.dragged())
                    && let Some(p) = response.interact_pointer_pos()
                {
                    let t = f64::from((p.x - track.left()) / track.width()).clamp(0.0, 1.0) * duration;
                    demo.seek_to = Some(t);
                }
            });
        });
    });
    Ok(())
}
