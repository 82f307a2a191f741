//! The command-centre panels: the district summary and ranking board (量化考核) on the left,
//! the selected unit's drill-down on the right. Every string comes from [`super::i18n`].

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::derive::Derived;
use super::i18n::{self, T, UiLang};
use super::map::MapResource;
use super::picture::{Picture, Settings};
use super::schedule::AppSystems;
use super::selection::{Select, Selection};
use super::theme;
use crate::model::{AlertStatus, Severity, trend_arrow};

pub(super) fn plugin(app: &mut App) {
    app.add_systems(EguiPrimaryContextPass, (ranking_ui.run_if(ranking_on), detail_ui).in_set(AppSystems::Ui));
}

fn ranking_on(settings: Res<Settings>) -> bool {
    settings.config.ui.ranking
}

/// Ranking board column widths, points: rank, unit, total, trend arrow, threat, asset,
/// compliance (340 in all).
const COLUMNS: [f32; 7] = [26.0, 122.0, 52.0, 20.0, 40.0, 40.0, 40.0];

#[allow(clippy::too_many_arguments)]
fn ranking_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    lang: Res<UiLang>,
    derived: Res<Derived>,
    map: Res<MapResource>,
    selection: Res<Selection>,
    mut select: MessageWriter<Select>,
    mut bureaus_tab: Local<bool>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let levels = &settings.config.levels;
    let s = &derived.summary;
    egui::Area::new("ranking".into()).anchor(egui::Align2::LEFT_TOP, egui::vec2(theme::MARGIN, theme::PANELS_TOP)).show(ctx, |ui| {
        theme::panel_frame().show(ui, |ui| {
            ui.set_width(theme::RANKING_W);
            ui.label(egui::RichText::new(T::District.get(lang)).size(16.0).strong().color(egui::Color32::WHITE));
            ui.horizontal(|ui| {
                let index = s.index.map_or("—".to_owned(), |v| format!("{v:.1}"));
                let colour = s.index.map_or(theme::egui(theme::DIM), |v| theme::colour32(settings.ramp.sample(v)));
                ui.label(egui::RichText::new(index).size(34.0).strong().color(colour));
                ui.vertical(|ui| {
                    ui.label(egui::RichText::new(T::OverallIndex.get(lang)).size(12.0).color(theme::egui(theme::DIM)));
                    ui.label(
                        egui::RichText::new(format!("{} {}  ·  {} {}", T::OpenIncidents.get(lang), s.open_incidents, T::Alerts24h.get(lang), s.alerts_24h))
                            .size(13.0)
                            .color(egui::Color32::WHITE),
                    );
                });
            });
            ui.horizontal(|ui| {
                for level in crate::model::Level::ALL.iter().rev() {
                    let (lo, hi) = levels.range(*level);
                    let colour = theme::colour32(settings.ramp.sample((lo + hi) / 2.0));
                    ui.label(egui::RichText::new(format!("{} {}", i18n::level(*level, lang), s.per_level[*level as usize])).size(14.0).color(colour));
                }
                if s.no_data > 0 {
                    ui.label(egui::RichText::new(format!("{} {}", T::NoData.get(lang), s.no_data)).size(14.0).color(theme::egui(theme::DIM)));
                }
            });
            ui.separator();
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(T::Ranking.get(lang)).size(16.0).strong().color(egui::Color32::WHITE));
                if !derived.ranking_bureaus.is_empty() {
                    let big = theme::touch_scale(settings.config.ui.touch);
                    for (on_bureaus, label) in [(false, T::Areas), (true, T::Bureau)] {
                        let button = egui::Button::new(egui::RichText::new(label.get(lang)).size(13.0 * big))
                            .selected(*bureaus_tab == on_bureaus)
                            .min_size(egui::vec2(48.0, 22.0) * big);
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
                    ui.painter().text(
                        egui::pos2(x + 2.0, rect.center().y),
                        egui::Align2::LEFT_CENTER,
                        text,
                        egui::FontId::proportional(11.0),
                        theme::egui(theme::DIM),
                    );
                    x += w;
                }
            }
            let h = theme::row_h(settings.config.ui.touch);
            // As many rows as configured, fewer when the legend and timeline below need the
            // room (points: header and summary above, legend and timeline below).
            let reserve = theme::PANELS_TOP + 200.0 + 150.0 + theme::TIMELINE_H + 24.0;
            let fit = ((ui.ctx().content_rect().height() - reserve) / (h + ui.spacing().item_spacing.y)).floor().max(3.0) as usize;
            let rows = settings.config.ui.ranking_rows.max(3).min(fit);
            let row_pitch = h + ui.spacing().item_spacing.y;
            egui::ScrollArea::vertical().max_height(row_pitch * rows as f32).min_scrolled_height(row_pitch * rows as f32).auto_shrink([false, true]).show_rows(
                ui,
                h,
                board.len(),
                |ui, range| {
                    for i in range {
                        let row = &board[i];
                        let selected = selection.unit.as_deref() == Some(row.id.as_str());
                        let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), h), egui::Sense::click());
                        if selected || response.hovered() {
                            ui.painter().rect_filled(rect, 3.0, theme::egui_alpha(theme::ACCENT, if selected { 60 } else { 25 }));
                        }
                        let mut x = rect.left();
                        let y = rect.center().y;
                        let mut cell = |text: String, w: f32, colour: egui::Color32, size: f32| {
                            ui.painter().text(egui::pos2(x + 2.0, y), egui::Align2::LEFT_CENTER, text, egui::FontId::proportional(size), colour);
                            x += w;
                        };
                        let size = if settings.config.ui.touch { 17.0 } else { 13.0 };
                        cell(format!("{}", i + 1), COLUMNS[0], theme::egui(theme::DIM), size);
                        cell(map.column_name(&row.id, if settings.config.ui.touch { 6 } else { 8 }), COLUMNS[1], egui::Color32::WHITE, size);
                        let arrow = trend_arrow(row.trend);
                        let arrow_colour = theme::egui(match arrow {
                            '▲' => theme::ALARM_RED,
                            '▼' => theme::GOOD_GREEN,
                            _ => theme::DIM,
                        });
                        cell(format!("{:.1}", row.score.total), COLUMNS[2], theme::colour32(settings.ramp.sample(row.score.total)), size);
                        cell(arrow.to_string(), COLUMNS[3], arrow_colour, size - 2.0);
                        cell(format!("{:.0}", row.score.threat), COLUMNS[4], theme::egui(theme::DIM), size - 1.0);
                        cell(format!("{:.0}", row.score.asset), COLUMNS[5], theme::egui(theme::DIM), size - 1.0);
                        cell(format!("{:.0}", row.score.compliance), COLUMNS[6], theme::egui(theme::DIM), size - 1.0);
                        if response.clicked() {
                            select.write(Select(if selected { None } else { Some(row.id.clone()) }));
                        }
                    }
                },
            );
        });
    });
    Ok(())
}

fn detail_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    lang: Res<UiLang>,
    derived: Res<Derived>,
    picture: Res<Picture>,
    map: Res<MapResource>,
    mut select: MessageWriter<Select>,
) -> Result {
    let Some((id, d)) = &derived.detail else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let big = theme::touch_scale(settings.config.ui.touch);
    egui::Area::new("detail".into()).anchor(egui::Align2::RIGHT_TOP, egui::vec2(-theme::MARGIN, theme::PANELS_TOP)).show(ctx, |ui| {
        theme::panel_frame().show(ui, |ui| {
            ui.set_width(theme::DETAIL_W);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(map.unit_name(id)).size(22.0 * big).strong().color(egui::Color32::WHITE));
                let kind = if map.is_bureau(id) { T::Bureau } else { T::Street };
                ui.label(egui::RichText::new(format!("{} · {id}", kind.get(lang))).size(12.0).color(theme::egui(theme::DIM)));
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
                        ui.label(
                            egui::RichText::new(format!("{:.1}", score.total))
                                .size(40.0 * big)
                                .strong()
                                .color(theme::colour32(settings.ramp.sample(score.total))),
                        );
                        ui.vertical(|ui| {
                            if let Some(level) = d.level {
                                ui.label(
                                    egui::RichText::new(format!("{} {}", T::Level.get(lang), i18n::level(level, lang)))
                                        .size(15.0 * big)
                                        .color(egui::Color32::WHITE),
                                );
                            }
                            if let Some((rank, of)) = d.rank {
                                ui.label(egui::RichText::new(format!("{} {rank} / {of}", T::Rank.get(lang))).size(15.0 * big).color(egui::Color32::WHITE));
                            }
                        });
                    });
                    for (label, v) in [(T::Threat, score.threat), (T::Asset, score.asset), (T::Compliance, score.compliance)] {
                        ui.horizontal(|ui| {
                            ui.add_sized([90.0, 18.0], egui::Label::new(egui::RichText::new(label.get(lang)).size(13.0 * big).color(theme::egui(theme::DIM))));
                            let (rect, _) = ui.allocate_exact_size(egui::vec2(220.0, 12.0), egui::Sense::hover());
                            ui.painter().rect_filled(rect, 2.0, theme::egui(theme::TRACK));
                            let fill = egui::Rect::from_min_size(rect.min, egui::vec2(rect.width() * v / 100.0, rect.height()));
                            ui.painter().rect_filled(fill, 2.0, theme::colour32(settings.ramp.sample(v)));
                            ui.label(egui::RichText::new(format!("{v:.0}")).size(13.0 * big).color(egui::Color32::WHITE));
                        });
                    }
                }
                None => {
                    ui.label(egui::RichText::new(T::NoData.get(lang)).size(20.0).color(theme::egui(theme::DIM)));
                }
            }
            ui.separator();
            ui.label(egui::RichText::new(T::Trend24h.get(lang)).size(13.0 * big).color(theme::egui(theme::DIM)));
            trend_ui(ui, &picture, id, &settings);
            ui.separator();
            ui.label(egui::RichText::new(T::Incidents.get(lang)).size(13.0 * big).color(theme::egui(theme::DIM)));
            ui.horizontal(|ui| {
                for (i, status) in [AlertStatus::New, AlertStatus::InProgress, AlertStatus::Closed].into_iter().enumerate() {
                    let colour = theme::egui(theme::status(status));
                    ui.label(egui::RichText::new(format!("{} {}", i18n::status(status, lang), d.by_status[i])).size(15.0 * big).color(colour));
                    ui.add_space(6.0);
                }
            });
            let mttr = d.mttr_s.map_or("—".to_owned(), |s| if s >= 3600.0 { format!("{:.1} h", s / 3600.0) } else { format!("{:.0} min", s / 60.0) });
            ui.label(egui::RichText::new(format!("{} {mttr}", T::Mttr.get(lang))).size(13.0 * big).color(egui::Color32::WHITE));
            ui.separator();
            ui.label(egui::RichText::new(T::RecentAlerts.get(lang)).size(13.0 * big).color(theme::egui(theme::DIM)));
            if d.recent.is_empty() {
                ui.label(egui::RichText::new(T::NoAlerts.get(lang)).size(13.0).color(theme::egui(theme::DIM)));
            }
            for a in &d.recent {
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(a.time.format("%H:%M").to_string()).size(12.0 * big).monospace().color(theme::egui(theme::DIM)));
                    ui.label(egui::RichText::new(i18n::severity(a.severity, lang)).size(12.0 * big).color(theme::egui(theme::severity(a.severity))));
                    ui.label(egui::RichText::new(format!("{} · {}", a.category, i18n::status(a.status, lang))).size(12.0 * big).color(egui::Color32::WHITE));
                });
            }
            ui.separator();
            let [c, h, m, l] = d.vulnerabilities;
            ui.label(
                egui::RichText::new(format!("{} ({})", T::Vulnerabilities.get(lang), T::Simulated.get(lang))).size(13.0 * big).color(theme::egui(theme::DIM)),
            );
            ui.horizontal(|ui| {
                for (n, s) in [(c, Severity::Critical), (h, Severity::High), (m, Severity::Medium), (l, Severity::Low)] {
                    ui.label(egui::RichText::new(format!("{} {n}", i18n::severity(s, lang))).size(14.0 * big).color(theme::egui(theme::severity(s))));
                }
            });
            let (passed, checks) = d.compliance;
            ui.label(
                egui::RichText::new(format!(
                    "{} {:.0}% ({passed}/{checks}, {})",
                    T::CompliancePass.get(lang),
                    100.0 * passed as f32 / checks.max(1) as f32,
                    T::Simulated.get(lang)
                ))
                .size(13.0 * big)
                .color(egui::Color32::WHITE),
            );
            ui.add_space(4.0);
            ui.label(egui::RichText::new(T::BackHint.get(lang)).size(11.0).color(theme::egui(theme::DIM)));
        });
    });
    Ok(())
}

/// The unit's score history as a line over the last 24 h of data time, with the level
/// thresholds as faint lines. Where the unit went to no data (a gap in the history) the line
/// breaks; an age is never negative, so data stamped ahead of the clock sits at the right edge.
fn trend_ui(ui: &mut egui::Ui, picture: &Picture, id: &str, settings: &Settings) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), 70.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, theme::egui(theme::CHART_FILL));
    let levels = &settings.config.levels;
    let y_of = |v: f32| rect.bottom() - rect.height() * v / 100.0;
    for t in [levels.medium, levels.high, levels.critical] {
        painter.line_segment(
            [egui::pos2(rect.left(), y_of(t)), egui::pos2(rect.right(), y_of(t))],
            egui::Stroke::new(1.0, theme::colour32(settings.ramp.sample(t)).gamma_multiply(0.35)),
        );
    }
    let Some(unit) = picture.state.unit(id) else { return };
    let Some(&(end, _)) = unit.history.back() else { return };
    let end = picture.clock.map_or(end, |c| c.max(end));
    let span = 24.0 * 3600.0;
    // Runs of points between gaps.
    let mut runs: Vec<Vec<egui::Pos2>> = vec![Vec::new()];
    for (t, v) in &unit.history {
        let age = (end - *t).as_seconds_f64().max(0.0);
        if age > span {
            continue;
        }
        match v {
            Some(v) => runs.last_mut().expect("at least one run").push(egui::pos2(rect.right() - rect.width() * (age / span) as f32, y_of(*v))),
            None if runs.last().is_some_and(|r| !r.is_empty()) => runs.push(Vec::new()),
            None => {}
        }
    }
    let colour = theme::colour32(settings.ramp.sample(unit.score.map_or(0.0, |s| s.total)));
    for run in &runs {
        match run.as_slice() {
            [] => {}
            [only] => {
                painter.circle_filled(*only, 1.5, colour);
            }
            _ => {
                painter.add(egui::Shape::line(run.clone(), egui::Stroke::new(2.0, colour)));
            }
        }
    }
    // The dot marks the current score; a unit with no data now has none.
    if unit.score.is_some()
        && let Some(last) = runs.last().and_then(|r| r.last())
    {
        painter.circle_filled(*last, 3.0, colour);
    }
}
