//! The command-centre panels: the district summary and ranking board (量化考核) on the left,
//! the selected unit's drill-down on the right. Every string comes from [`super::i18n`].

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::board::{Board, BoardTab};
use super::demo::DemoFeed;
use super::derive::Derived;
use super::drawn::DrawnRects;
use super::i18n::{self, T, UiLang};
use super::incidents::Acks;
use super::map::MapResource;
use super::picture::{Picture, Settings};
use super::remote_detail::RemoteDetail;
use super::schedule::AppSystems;
use super::selection::{Select, Selection};
use super::theme;
use crate::model::{AlertStatus, Period, Severity, trend_arrow};
use chrono::{DateTime, FixedOffset};

pub(super) fn plugin(app: &mut App) {
    app.add_systems(EguiPrimaryContextPass, (ranking_ui.run_if(ranking_on), detail_ui).in_set(AppSystems::Ui));
}

fn ranking_on(settings: Res<Settings>) -> bool {
    settings.config.ui.ranking
}

/// Ranking board column widths at least, points: rank, unit, total, trend arrow, threat,
/// asset, compliance (340 in all). Each figure column widens to its head's text in the UI's
/// language ([`column_widths`]); the unit column takes what is left.
const COLUMNS: [f32; 7] = [26.0, 122.0, 52.0, 20.0, 40.0, 40.0, 40.0];

/// Space after a column head's text before the next column, points.
const HEAD_GAP: f32 = 6.0;

/// The board's column widths for heads whose text is `head_widths` points wide, in a board
/// `total` points wide: every column but the unit's at least its [`COLUMNS`] width and its
/// head plus [`HEAD_GAP`]; the unit column gets the rest (at least 72 points, where its names
/// are cut shorter).
fn column_widths(head_widths: [f32; 7], total: f32) -> [f32; 7] {
    let mut w = COLUMNS;
    for i in [0, 2, 3, 4, 5, 6] {
        w[i] = w[i].max(head_widths[i] + 2.0 + HEAD_GAP);
    }
    let others: f32 = w.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, v)| v).sum();
    w[1] = (total - others).max(72.0).max(head_widths[1] + 2.0 + HEAD_GAP);
    w
}

#[allow(clippy::too_many_arguments)]
fn ranking_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    lang: Res<UiLang>,
    derived: Res<Derived>,
    map: Res<MapResource>,
    selection: Res<Selection>,
    mut board: ResMut<Board>,
    demo: Option<Res<DemoFeed>>,
    picture: Res<Picture>,
    mut select: MessageWriter<Select>,
    mut bureaus_tab: Local<bool>,
    mut drawn: Option<ResMut<DrawnRects>>,
) -> Result {
    let demo = demo.is_some();
    let stale = picture.freshness == super::picture::Freshness::Stale;
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let s = &derived.summary;
    egui::Area::new("ranking".into()).anchor(egui::Align2::LEFT_TOP, egui::vec2(theme::MARGIN, theme::PANELS_TOP)).show(ctx, |ui| {
        theme::panel_frame().show(ui, |ui| {
            // A stale picture's figures are not current: the summary and ranking fade with
            // the map (still readable, never shown as live).
            if stale {
                ui.set_opacity(theme::STALE_PANEL_OPACITY);
            }
            ui.set_width(theme::RANKING_W);
            ui.label(egui::RichText::new(T::District.get(lang)).size(16.0).strong().color(theme::egui(theme::TEXT)));
            ui.horizontal(|ui| {
                let index = s.index.map_or("—".to_owned(), |v| format!("{v:.1}"));
                let colour = s.index.map_or(theme::egui(theme::DIM), |v| theme::colour32(settings.ramp.sample(v)));
                ui.label(egui::RichText::new(index).size(34.0).strong().color(colour));
                ui.vertical(|ui| {
                    ui.label(egui::RichText::new(T::OverallIndex.get(lang)).size(12.0).color(theme::egui(theme::DIM)));
                    ui.horizontal(|ui| {
                        ui.spacing_mut().item_spacing.x = 4.0;
                        let text = |t: String, c: egui::Color32| egui::RichText::new(t).size(13.0).color(c);
                        ui.label(text(format!("{} {}", T::OpenIncidents.get(lang), s.open_incidents), theme::egui(theme::TEXT)));
                        let critical = theme::colour32(settings.level_colour(crate::model::Level::Critical));
                        ui.label(text(
                            format!("({} {})", T::OpenCritical.get(lang), s.open_critical),
                            if s.open_critical > 0 { critical } else { theme::egui(theme::DIM) },
                        ));
                        let late = s.overdue[0] + s.overdue[1];
                        ui.label(text(
                            format!("· {} {late}", T::Overdue.get(lang)),
                            if late > 0 { theme::egui(theme::OVERDUE) } else { theme::egui(theme::DIM) },
                        ));
                    });
                    ui.label(egui::RichText::new(format!("{} {}", T::Alerts24h.get(lang), s.alerts_24h)).size(13.0).color(theme::egui(theme::TEXT)));
                });
            });
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(T::UnitsByLevel.get(lang)).size(12.0).color(theme::egui(theme::DIM)));
                for level in crate::model::Level::ALL.iter().rev() {
                    let colour = theme::colour32(settings.level_colour(*level));
                    ui.label(egui::RichText::new(format!("{} {}", i18n::level(*level, lang), s.per_level[*level as usize])).size(14.0).color(colour));
                }
                if s.no_data > 0 {
                    ui.label(egui::RichText::new(format!("{} {}", T::NoData.get(lang), s.no_data)).size(14.0).color(theme::egui(theme::DIM)));
                }
            });
            ui.separator();
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(T::Ranking.get(lang)).size(16.0).strong().color(theme::egui(theme::TEXT)));
                if !derived.ranking_bureaus.is_empty() {
                    let big = theme::touch_scale(settings.config.ui.touch);
                    for (on_bureaus, label) in [(false, T::Areas), (true, T::BureausTab)] {
                        let button = egui::Button::new(egui::RichText::new(label.get(lang)).size(13.0 * big))
                            .selected(*bureaus_tab == on_bureaus)
                            .min_size(egui::vec2(48.0, 22.0) * big);
                        if ui.add(button).clicked() {
                            *bureaus_tab = on_bureaus;
                        }
                    }
                }
            });
            // The board's tabs: now, today, this week, this month, disposal efficiency.
            ui.horizontal(|ui| {
                let big = theme::touch_scale(settings.config.ui.touch);
                for (tab, label) in [
                    (BoardTab::Now, T::TabNow),
                    (BoardTab::Period(Period::Day), T::TabDay),
                    (BoardTab::Period(Period::Week), T::TabWeek),
                    (BoardTab::Period(Period::Month), T::TabMonth),
                    (BoardTab::Efficiency, T::TabEfficiency),
                ] {
                    let button = egui::Button::new(egui::RichText::new(label.get(lang)).size(12.0 * big))
                        .selected(board.tab == tab)
                        .min_size(egui::vec2(40.0, 20.0) * big);
                    if ui.add(button).clicked() && board.tab != tab {
                        board.tab = tab;
                        if let BoardTab::Period(p) = tab {
                            board.efficiency_period = p;
                        }
                    }
                }
            });
            let rows = board_rows(&derived, &board, *bureaus_tab, &settings);
            let efficiency = board.tab == BoardTab::Efficiency;
            if efficiency {
                let over = match board.efficiency_period {
                    Period::Day => T::TabDay,
                    Period::Week => T::TabWeek,
                    Period::Month => T::TabMonth,
                };
                let text = format!("{} · {}", T::EfficiencyOver.get(lang), over.get(lang));
                ui.label(egui::RichText::new(text).size(11.0).color(theme::egui(theme::DIM)));
            }
            let heads = if efficiency {
                ["#", T::Unit.get(lang), T::OnTime.get(lang), "", T::MttrShort.get(lang), T::OpenShort.get(lang), T::Overdue.get(lang)]
            } else {
                ["#", T::Unit.get(lang), T::TotalShort.get(lang), "", T::Threat.get(lang), T::AssetShort.get(lang), T::ComplianceShort.get(lang)]
            };
            let head_font = egui::FontId::proportional(11.0);
            let galleys = heads.map(|t| ui.painter().layout_no_wrap(t.to_owned(), head_font.clone(), theme::egui(theme::DIM)));
            let widths = column_widths(galleys.each_ref().map(|g| g.size().x), theme::RANKING_W);
            {
                let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), 16.0), egui::Sense::hover());
                let mut x = rect.left();
                if let Some(d) = drawn.as_mut() {
                    d.ranking_heads.clear();
                }
                for ((text, galley), w) in heads.into_iter().zip(galleys).zip(widths) {
                    let at = egui::pos2(x + 2.0, rect.center().y - galley.size().y / 2.0);
                    if let Some(d) = drawn.as_mut()
                        && !text.is_empty()
                    {
                        d.ranking_heads.push((text.to_owned(), egui::Rect::from_min_size(at, galley.size())));
                    }
                    ui.painter().galley(at, galley, theme::egui(theme::DIM));
                    x += w;
                }
            }
            if rows.is_empty() {
                let text = if matches!(board.tab, BoardTab::Period(_)) && !demo { T::NoPeriodData } else { T::NoData };
                ui.label(egui::RichText::new(text.get(lang)).size(13.0).color(theme::egui(theme::DIM)));
            }
            let h = theme::row_h(settings.config.ui.touch);
            // As many rows as configured, fewer when the legend below needs the room: down to
            // the legend's top as drawn last frame (less this frame's margin and a gap), or
            // before it is drawn, an estimate of the legend and the timeline.
            let bottom = super::drawn::visible_panel(ui.ctx(), "legend")
                .map_or(ui.ctx().content_rect().bottom() - 150.0 - theme::TIMELINE_H - 24.0, |legend| legend.top() - theme::MARGIN / 2.0);
            let room = bottom - ui.cursor().top() - 12.0;
            let fit = (room / (h + ui.spacing().item_spacing.y)).floor().max(3.0) as usize;
            let shown = settings.config.ui.ranking_rows.max(3).min(fit);
            let row_pitch = h + ui.spacing().item_spacing.y;
            egui::ScrollArea::vertical()
                .max_height(row_pitch * shown as f32)
                .min_scrolled_height(row_pitch * shown as f32)
                .auto_shrink([false, true])
                .show_rows(ui, h, rows.len(), |ui, range| {
                    for i in range {
                        let row = &rows[i];
                        let selected = selection.unit.as_deref() == Some(row.id.as_str());
                        let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width(), h), egui::Sense::click());
                        if selected || response.hovered() {
                            ui.painter().rect_filled(rect, 3.0, theme::egui_alpha(theme::ACCENT, if selected { 60 } else { 25 }));
                        }
                        let mut x = rect.left();
                        let y = rect.center().y;
                        let mut cell = |text: &str, w: f32, colour: egui::Color32, size: f32| {
                            ui.painter().text(egui::pos2(x + 2.0, y), egui::Align2::LEFT_CENTER, text, egui::FontId::proportional(size), colour);
                            x += w;
                        };
                        let size = if settings.config.ui.touch { 17.0 } else { 13.0 };
                        cell(&format!("{}", row.rank), widths[0], theme::egui(theme::DIM), size);
                        // Names cut to what the unit column holds (about 15 points a character).
                        let chars = ((widths[1] - 6.0) / if settings.config.ui.touch { 19.0 } else { 15.0 }).floor().clamp(3.0, 8.0) as usize;
                        cell(&map.column_name(&row.id, chars), widths[1], theme::egui(theme::TEXT), size);
                        cell(&row.main, widths[2], row.main_colour, size);
                        // The trend arrow or rank change, as large as the figures.
                        cell(&row.mark, widths[3], row.mark_colour, size + 1.0);
                        for (k, part) in row.parts.iter().enumerate() {
                            cell(&part.0, widths[4 + k], part.1, size - 1.0);
                        }
                        if response.clicked() {
                            select.write(Select(if selected { None } else { Some(row.id.clone()) }));
                        }
                    }
                });
        });
    });
    Ok(())
}

/// One line of the ranking board, whatever the tab: rank, unit, the main figure and its
/// colour, a mark (trend or rank change) and three more figures.
struct BoardLine {
    id: String,
    rank: usize,
    main: String,
    main_colour: egui::Color32,
    mark: String,
    mark_colour: egui::Color32,
    parts: [(String, egui::Color32); 3],
}

/// The rows of the board's tab for the areas or (`bureaus`) the bureaus.
fn board_rows(derived: &Derived, board: &Board, bureaus: bool, settings: &Settings) -> Vec<BoardLine> {
    let dim = theme::egui(theme::DIM);
    let up_down = |rising: bool| theme::egui(if rising { theme::ALARM_RED } else { theme::GOOD_GREEN });
    let part = |v: f32| (format!("{v:.0}"), dim);
    match board.tab {
        BoardTab::Now => {
            let rows = if bureaus { &derived.ranking_bureaus } else { &derived.ranking };
            rows.iter()
                .enumerate()
                .map(|(i, r)| {
                    let arrow = trend_arrow(r.trend);
                    BoardLine {
                        id: r.id.clone(),
                        rank: i + 1,
                        main: format!("{:.1}", r.score.total),
                        main_colour: theme::colour32(settings.ramp.sample(r.score.total)),
                        mark: arrow.to_string(),
                        mark_colour: if arrow == '=' { dim } else { up_down(arrow == '▲') },
                        parts: [part(r.score.threat), part(r.score.asset), part(r.score.compliance)],
                    }
                })
                .collect()
        }
        BoardTab::Period(_) => {
            let rows = if bureaus { &board.period_bureaus } else { &board.period };
            rows.iter()
                .map(|r| {
                    // ▲ climbed towards 1 (riskier than the previous period), ▼ fell back.
                    let (mark, mark_colour) = match r.rank_change {
                        Some(c) if c > 0 => (format!("▲{c}"), up_down(true)),
                        Some(c) if c < 0 => (format!("▼{}", -c), up_down(false)),
                        Some(_) => ("=".to_owned(), dim),
                        None => ("—".to_owned(), dim),
                    };
                    BoardLine {
                        id: r.unit.clone(),
                        rank: r.rank as usize,
                        main: format!("{:.1}", r.mean.total),
                        main_colour: theme::colour32(settings.ramp.sample(r.mean.total)),
                        mark,
                        mark_colour,
                        parts: [part(r.mean.threat), part(r.mean.asset), part(r.mean.compliance)],
                    }
                })
                .collect()
        }
        BoardTab::Efficiency => {
            let rows = if bureaus { &board.efficiency_bureaus } else { &board.efficiency };
            rows.iter()
                .enumerate()
                .map(|(i, r)| {
                    let rate = r.on_time_rate();
                    let late = theme::egui(theme::OVERDUE);
                    BoardLine {
                        id: r.unit.clone(),
                        rank: i + 1,
                        main: rate.map_or("—".to_owned(), |v| format!("{:.0}%", v * 100.0)),
                        main_colour: match rate {
                            Some(v) if v < 0.8 => late,
                            Some(_) => theme::egui(theme::GOOD_GREEN),
                            None => dim,
                        },
                        mark: String::new(),
                        mark_colour: dim,
                        parts: [
                            (r.mttr_s.map_or("—".to_owned(), |s| format!("{:.0}m", s / 60.0)), dim),
                            (r.open.to_string(), dim),
                            (r.overdue.to_string(), if r.overdue > 0 { late } else { dim }),
                        ],
                    }
                })
                .collect()
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn detail_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    lang: Res<UiLang>,
    derived: Res<Derived>,
    picture: Res<Picture>,
    map: Res<MapResource>,
    remote: Option<Res<RemoteDetail>>,
    acks: Res<Acks>,
    mut select: MessageWriter<Select>,
) -> Result {
    let Some((id, d)) = &derived.detail else {
        // Nothing selected: the drill-down area lists the map's features that did not load.
        if !map.failed.is_empty() {
            failed_units_ui(contexts.ctx_mut()?, &map, lang.0);
        }
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let big = theme::touch_scale(settings.config.ui.touch);
    egui::Area::new("detail".into()).anchor(egui::Align2::RIGHT_TOP, egui::vec2(-theme::MARGIN, theme::PANELS_TOP)).show(ctx, |ui| {
        theme::panel_frame().show(ui, |ui| {
            ui.set_width(theme::DETAIL_W);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(map.unit_name(id)).size(22.0 * big).strong().color(theme::egui(theme::TEXT)));
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
                                        .color(theme::egui(theme::TEXT)),
                                );
                            }
                            if let Some((rank, of)) = d.rank {
                                ui.label(egui::RichText::new(format!("{} {rank} / {of}", T::Rank.get(lang))).size(15.0 * big).color(theme::egui(theme::TEXT)));
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
                            ui.label(egui::RichText::new(format!("{v:.0}")).size(13.0 * big).color(theme::egui(theme::TEXT)));
                        });
                    }
                }
                None => {
                    ui.label(egui::RichText::new(T::NoData.get(lang)).size(20.0).color(theme::egui(theme::DIM)));
                }
            }
            ui.separator();
            ui.label(egui::RichText::new(T::Trend24h.get(lang)).size(13.0 * big).color(theme::egui(theme::DIM)));
            let backfill: Vec<(DateTime<FixedOffset>, Option<f32>)> = remote
                .as_ref()
                .filter(|r| r.unit.as_deref() == Some(id.as_str()))
                .map(|r| r.history.iter().map(|p| (p.t, p.total)).collect())
                .unwrap_or_default();
            trend_ui(ui, &picture, id, &settings, &backfill);
            ui.separator();
            let remote_doc = remote.as_ref().and_then(|r| r.detail_of(id));
            ui.label(egui::RichText::new(T::Incidents.get(lang)).size(13.0 * big).color(theme::egui(theme::DIM)));
            ui.horizontal(|ui| {
                // Live: the backend's counts over everything it keeps; else the wall's own.
                let counts = match remote_doc {
                    Some(doc) => doc.incidents.by_status(),
                    None => d.by_status,
                };
                for (i, status) in AlertStatus::ALL.into_iter().enumerate() {
                    let colour = theme::egui(theme::status(status));
                    ui.label(egui::RichText::new(format!("{} {}", i18n::status(status, lang), counts[i])).size(15.0 * big).color(colour));
                    ui.add_space(6.0);
                }
            });
            let mttr_s = remote_doc.map_or(d.mttr_s, |doc| doc.incidents.mttr_s);
            let mttr = mttr_s.map_or("—".to_owned(), |s| if s >= 3600.0 { format!("{:.1} h", s / 3600.0) } else { format!("{:.0} min", s / 60.0) });
            ui.label(egui::RichText::new(format!("{} {mttr}", T::Mttr.get(lang))).size(13.0 * big).color(theme::egui(theme::TEXT)));
            ui.separator();
            open_incidents_ui(ui, d, map.unit_name(id), &acks, &settings, lang, big);
            ui.separator();
            match &remote {
                // Live: only what the backend sent, with its time; 无数据 where it sent none.
                Some(r) => remote_figures_ui(ui, r, id, lang, big),
                None => simulated_figures_ui(ui, d, lang, big),
            }
            ui.add_space(4.0);
            ui.label(egui::RichText::new(T::BackHint.get(lang)).size(11.0).color(theme::egui(theme::DIM)));
        });
    });
    Ok(())
}

/// Width of an open incident's age bar, points.
const AGE_BAR_W: f32 = 150.0;

/// The unit's open incidents, newest first: time, severity, stage and title, then a bar of
/// its age against the deadline it works to (amber, red once past it) with the age and the
/// limit in minutes. Scrolls when there are more than fit (a kiosk drags it).
#[allow(clippy::too_many_arguments)]
/// At most this many failed features are listed; the rest are counted.
const FAILED_LISTED: usize = 8;

/// The drill-down area with no unit selected, when map features failed to load: the count
/// and the first [`FAILED_LISTED`] failures (feature, id, reason; the full list is in the log).
fn failed_units_ui(ctx: &egui::Context, map: &MapResource, lang: crate::config::Lang) {
    egui::Area::new("detail".into()).anchor(egui::Align2::RIGHT_TOP, egui::vec2(-theme::MARGIN, theme::PANELS_TOP)).show(ctx, |ui| {
        theme::panel_frame().show(ui, |ui| {
            ui.set_width(theme::DETAIL_W);
            ui.label(egui::RichText::new(T::NotLoaded.get(lang)).size(16.0).strong().color(theme::egui(theme::AMBER)));
            if let Some(count) = map.loaded_text(lang) {
                ui.label(egui::RichText::new(count).size(13.0).color(theme::egui(theme::TEXT)));
            }
            for f in map.failed.iter().take(FAILED_LISTED) {
                ui.label(egui::RichText::new(i18n::truncate(&f.line(lang), 120)).size(12.0).color(theme::egui(theme::DIM)));
            }
            if map.failed.len() > FAILED_LISTED {
                ui.label(egui::RichText::new(format!("… +{}", map.failed.len() - FAILED_LISTED)).size(12.0).color(theme::egui(theme::DIM)));
            }
        });
    });
}

fn open_incidents_ui(ui: &mut egui::Ui, d: &crate::model::UnitDetail, unit_name: &str, acks: &Acks, settings: &Settings, lang: crate::config::Lang, big: f32) {
    let dim = theme::egui(theme::DIM);
    ui.label(egui::RichText::new(T::OpenIncidentsList.get(lang)).size(13.0 * big).color(dim));
    if d.open.is_empty() {
        ui.label(egui::RichText::new(T::NoOpenIncidents.get(lang)).size(13.0 * big).color(dim));
        return;
    }
    egui::ScrollArea::vertical().id_salt("open-incidents").max_height(190.0 * big).show(ui, |ui| {
        for inc in &d.open {
            let a = &inc.alert;
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(a.time.format("%H:%M").to_string()).size(12.0 * big).monospace().color(dim));
                ui.label(egui::RichText::new(i18n::severity(a.severity, lang)).size(12.0 * big).color(theme::colour32(settings.severity_colour(a.severity))));
                ui.label(egui::RichText::new(i18n::status(a.status, lang)).size(12.0 * big).color(theme::egui(theme::status(a.status))));
                let title = super::alerts::event_text(&a.title, unit_name);
                ui.add(egui::Label::new(egui::RichText::new(title).size(12.0 * big).color(theme::egui(theme::TEXT))).truncate());
            });
            // Acknowledged at the gateway (who), or on this screen in demo mode.
            if let Some(by) = a.acknowledged.as_ref().map(|k| k.by.as_str()).or_else(|| acks.by_id.get(&a.id).map(String::as_str)) {
                ui.label(egui::RichText::new(format!("✔ {} · {by}", T::Acknowledged.get(lang))).size(11.0 * big).color(theme::egui(theme::GOOD_GREEN)));
            }
            for text in [&a.analysis, &a.note].into_iter().flatten() {
                ui.add(egui::Label::new(egui::RichText::new(text).size(11.0 * big).color(dim)).wrap());
            }
            ui.horizontal(|ui| {
                let (rect, _) = ui.allocate_exact_size(egui::vec2(AGE_BAR_W, 8.0 * big), egui::Sense::hover());
                ui.painter().rect_filled(rect, 2.0, theme::egui(theme::TRACK));
                let share = (inc.age_s / inc.limit_s.max(1.0)).clamp(0.0, 1.0) as f32;
                let colour = if inc.overdue.is_some() { theme::OVERDUE } else { theme::AMBER };
                ui.painter().rect_filled(egui::Rect::from_min_size(rect.min, egui::vec2(rect.width() * share, rect.height())), 2.0, theme::egui(colour));
                let age = format!("{:.0} / {:.0} min", inc.age_s / 60.0, inc.limit_s / 60.0);
                ui.label(egui::RichText::new(age).size(11.0 * big).monospace().color(theme::egui(theme::TEXT)));
                if let Some(late) = inc.overdue {
                    let text = match late {
                        crate::model::Overdue::Response => T::OverdueResponse,
                        crate::model::Overdue::Closure => T::OverdueClosure,
                    };
                    ui.label(egui::RichText::new(text.get(lang)).size(11.0 * big).strong().color(theme::egui(theme::OVERDUE)));
                }
            });
        }
    });
}

/// Demo mode's vulnerabilities and compliance, derived from the scores and marked 模拟.
fn simulated_figures_ui(ui: &mut egui::Ui, d: &crate::model::UnitDetail, lang: crate::config::Lang, big: f32) {
    let [c, h, m, l] = d.vulnerabilities;
    ui.label(egui::RichText::new(format!("{} ({})", T::Vulnerabilities.get(lang), T::Simulated.get(lang))).size(13.0 * big).color(theme::egui(theme::DIM)));
    vulnerabilities_ui(ui, [c, h, m, l], lang, big);
    let (passed, checks) = d.compliance;
    let pct = 100.0 * passed as f32 / checks.max(1) as f32;
    let text = format!("{} {pct:.0}% ({passed}/{checks}, {})", T::CompliancePass.get(lang), T::Simulated.get(lang));
    ui.label(egui::RichText::new(text).size(13.0 * big).color(theme::egui(theme::TEXT)));
}

fn vulnerabilities_ui(ui: &mut egui::Ui, [c, h, m, l]: [u32; 4], lang: crate::config::Lang, big: f32) {
    ui.horizontal(|ui| {
        for (n, s) in [(c, Severity::Critical), (h, Severity::High), (m, Severity::Medium), (l, Severity::Low)] {
            ui.label(egui::RichText::new(format!("{} {n}", i18n::severity(s, lang))).size(14.0 * big).color(theme::egui(theme::severity(s))));
        }
    });
}

/// Live mode's vulnerabilities and compliance as the backend last sent them, each with the
/// time it was taken; 无数据 where the backend has none (or while it is being asked).
fn remote_figures_ui(ui: &mut egui::Ui, remote: &RemoteDetail, id: &str, lang: crate::config::Lang, big: f32) {
    let doc = remote.detail_of(id);
    let missing = if doc.is_none() && remote.pending { T::Loading } else { T::NoData };
    let dim = theme::egui(theme::DIM);
    let as_of = |t: &DateTime<FixedOffset>| format!("{} {}", T::AsOf.get(lang), t.format("%m-%d %H:%M"));
    match doc.and_then(|d| d.vulnerabilities.as_ref()) {
        Some(v) => {
            ui.label(egui::RichText::new(format!("{} · {}", T::Vulnerabilities.get(lang), as_of(&v.as_of))).size(13.0 * big).color(dim));
            vulnerabilities_ui(ui, [v.value.critical, v.value.high, v.value.medium, v.value.low], lang, big);
        }
        None => {
            ui.label(egui::RichText::new(format!("{} · {}", T::Vulnerabilities.get(lang), missing.get(lang))).size(13.0 * big).color(dim));
        }
    }
    match doc.and_then(|d| d.compliance.as_ref()) {
        Some(c) => {
            let (passed, total) = (c.value.passed, c.value.total);
            let pct = 100.0 * passed as f32 / total.max(1) as f32;
            let text = format!("{} {pct:.0}% ({passed}/{total}) · {}", T::CompliancePass.get(lang), as_of(&c.as_of));
            ui.label(egui::RichText::new(text).size(13.0 * big).color(theme::egui(theme::TEXT)));
        }
        None => {
            ui.label(egui::RichText::new(format!("{} · {}", T::CompliancePass.get(lang), missing.get(lang))).size(13.0 * big).color(dim));
        }
    }
}

/// The unit's score history as a line over the last 24 h of data time, with the level
/// thresholds as faint lines. Where the unit went to no data (a gap in the history) the line
/// breaks; an age is never negative, so data stamped ahead of the clock sits at the right edge.
/// `backfill` (live mode: the backend's history of the unit) fills in before the wall's own.
fn trend_ui(ui: &mut egui::Ui, picture: &Picture, id: &str, settings: &Settings, backfill: &[(DateTime<FixedOffset>, Option<f32>)]) {
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
    let unit = picture.state.unit(id);
    let own: Vec<(DateTime<FixedOffset>, Option<f32>)> = unit.map(|u| u.history.iter().collect()).unwrap_or_default();
    let first_own = own.first().map(|(t, _)| *t);
    let history: Vec<(DateTime<FixedOffset>, Option<f32>)> = backfill.iter().copied().filter(|(t, _)| first_own.is_none_or(|f| *t < f)).chain(own).collect();
    let Some(&(end, _)) = history.last() else { return };
    let end = picture.clock.map_or(end, |c| c.max(end));
    let span = 24.0 * 3600.0;
    // Runs of points between gaps.
    let mut runs: Vec<Vec<egui::Pos2>> = vec![Vec::new()];
    for (t, v) in &history {
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
    let score = unit.and_then(|u| u.score);
    let colour = theme::colour32(settings.ramp.sample(score.map_or(0.0, |s| s.total)));
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
    if score.is_some()
        && let Some(last) = runs.last().and_then(|r| r.last())
    {
        painter.circle_filled(*last, 3.0, colour);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_widen_to_their_heads_and_the_unit_column_takes_the_rest() {
        // Short heads: the minimum widths, 340 in all.
        let w = column_widths([8.0, 20.0, 20.0, 0.0, 20.0, 20.0, 20.0], 340.0);
        assert_eq!(w, COLUMNS);
        // A 60-point head ("Compliance" at 11 pt) widens its column to 68; the unit column
        // gives up the 28 points, so the board keeps its width.
        let w = column_widths([8.0, 20.0, 20.0, 0.0, 20.0, 20.0, 60.0], 340.0);
        assert_eq!(w[6], 68.0);
        assert_eq!(w[1], 94.0);
        assert_eq!(w.iter().sum::<f32>(), 340.0);
    }
}
