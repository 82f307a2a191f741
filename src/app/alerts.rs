//! Alert effects: a new alert raises an expanding ripple at its unit and a pulse on its prism,
//! both scaled by severity; a critical one, where the profile says so, flies the camera there.
//! Every open 严重 incident not yet acknowledged — new or already open when the wall started
//! — holds the critical banner ([`super::incidents::OpenCritical`]) until it is acknowledged
//! (its button, where `[alerts] acknowledge` allows) or closed. Effects are pooled: at most `[alerts] max_effects` ripple
//! entities live at once, alerts arriving together are coalesced to one ripple per unit (the
//! most severe), and every ripple despawns when its time is up.

use std::collections::BTreeMap;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::demo::DemoFeed;
use super::drawn::visible_panel;
use super::flight::Attention;
use super::i18n::{self, T, UiLang};
use super::incidents::{Acknowledge, OpenCritical};
use super::map::MapResource;
use super::picture::{Picture, Settings};
use super::redraw::Redraw;
use super::ring_material::RingMaterial;
use super::scene::{UnitView, view_height};
use super::schedule::AppSystems;
use super::selection::{Select, Selection};
use super::theme;
use super::tour::Tour;
use crate::model::{Alert, AlertStatus, Severity, alert_overdue, severity_strength};

/// Finding new alerts and running their effects (headless tests run this; a ripple is spawned
/// only where [`FxAssets`] exist).
pub(super) fn plugin(app: &mut App) {
    app.init_resource::<AlertFx>()
        .add_systems(Update, (spawn_alert_effects.in_set(AppSystems::Direct), (grow_ripples, ask_while_showing).chain().in_set(AppSystems::Animate)));
}

/// The ring mesh and materials, the ticker and the critical banner.
pub(super) fn view_plugin(app: &mut App) {
    app.add_systems(Startup, setup_fx_assets).add_systems(EguiPrimaryContextPass, (ticker_ui.run_if(ticker_on), banner_ui).in_set(AppSystems::Ui));
}

fn ticker_on(settings: Res<Settings>) -> bool {
    settings.config.alerts.ticker_len > 0
}

/// Alerts older than this (data time, before the data clock) raise no effect: they arrive in a
/// snapshot or a catch-up, not as news. Seconds.
pub const NEWS_WINDOW_S: i64 = 15 * 60;

/// Shared assets of the effects: one ring mesh and one material per severity.
#[derive(Resource, Clone, Default)]
pub struct FxAssets {
    /// Flat ring, outer radius 1 m, in the ground plane.
    pub ring: Handle<Mesh>,
    /// Ring material by `Severity as usize` (one per [`Severity::ALL`], the unknown one's in
    /// its fallback colour).
    pub materials: [Handle<RingMaterial>; 5],
}

/// What the alert effects know.
#[derive(Resource, Default, Debug)]
pub struct AlertFx {
    /// How many alerts of the picture have been seen (see `RiskState::alert_count`).
    pub seen: usize,
    /// The picture epoch `seen` belongs to.
    pub epoch: u64,
    /// Whether any data was seen yet: the alerts of the first data (a snapshot on connect,
    /// the state at start) are history, not news.
    pub primed: bool,
    /// Alerts that got no ripple because too many came at once (they still pulse their unit
    /// and are on the ticker).
    pub coalesced: usize,
}

/// An expanding ring at a unit.
#[derive(Component, Debug)]
pub struct Ripple {
    /// Seconds since it started.
    pub age_s: f32,
    /// Its lifetime, seconds.
    pub duration_s: f32,
    /// Final radius, metres.
    pub radius_m: f32,
}

fn setup_fx_assets(mut commands: Commands, mut meshes: ResMut<Assets<Mesh>>, mut materials: ResMut<Assets<RingMaterial>>) {
    let ring = meshes.add(Annulus::new(0.86, 1.0).mesh().resolution(64).build().rotated_by(Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2)));
    let colour = |s: Severity| theme::bevy(theme::severity(s)).with_alpha(theme::ripple_alpha(s));
    // Additive, drawn in the opaque pass (see `ring_material`).
    let materials = Severity::ALL.map(|s| materials.add(RingMaterial::additive(colour(s))));
    commands.insert_resource(FxAssets { ring, materials });
}

/// Finds the alerts new since the last frame and starts their effects.
#[allow(clippy::too_many_arguments)]
pub fn spawn_alert_effects(
    mut commands: Commands,
    time: Res<Time>,
    picture: Res<Picture>,
    settings: Res<Settings>,
    assets: Option<Res<FxAssets>>,
    mut fx: ResMut<AlertFx>,
    mut units: Query<&mut UnitView>,
    ripples: Query<(), With<Ripple>>,
    selection: Res<Selection>,
    tour: Option<Res<Tour>>,
    mut attention: ResMut<Attention>,
    mut select: MessageWriter<Select>,
) {
    let count = picture.state.alert_count();
    if !fx.primed && picture.generation > 0 {
        fx.primed = true;
        fx.epoch = picture.epoch;
        fx.seen = count;
        return;
    }
    if fx.epoch != picture.epoch || count < fx.seen {
        // A seek or a restarted loop rebuilt the state: what it holds is history, not news.
        fx.epoch = picture.epoch;
        fx.seen = count;
        return;
    }
    if count == fx.seen {
        return;
    }
    let fresh = count - fx.seen;
    fx.seen = count;
    let cfg = &settings.config.alerts;
    let now_s = time.elapsed_secs_f64();
    let news_from = picture.clock.map(|c| c - chrono::TimeDelta::seconds(NEWS_WINDOW_S));
    // The most severe new alert of each unit (newest among equals).
    let mut per_unit: BTreeMap<&str, &Alert> = BTreeMap::new();
    for alert in picture.state.alerts_newest_first().take(fresh) {
        if news_from.is_some_and(|from| alert.time < from) {
            continue;
        }
        let slot = per_unit.entry(alert.unit.as_str()).or_insert(alert);
        if alert.severity > slot.severity {
            *slot = alert;
        }
        // An alert that takes over flies to its unit: always while the tour runs (which it
        // interrupts), else where the profile asks; it holds until acknowledged where this
        // screen can acknowledge, for fly_dwell_s where it cannot.
        let touring = tour.as_ref().is_some_and(|t| t.active);
        if alert.severity >= cfg.takeover && alert.status.is_open() && (cfg.fly_to_critical || touring) && attention.alert.is_none() {
            // Held until acknowledged only where it can be: a 严重 one, on the banner with its
            // 确认 button, on a screen that acknowledges; any other for fly_dwell_s.
            let dwell = if cfg.acknowledge && alert.severity == Severity::Critical { f64::INFINITY } else { cfg.fly_dwell_s };
            attention.request(&alert.unit, &alert.id, now_s, dwell, &selection, touring, &mut select);
        }
    }
    let mut order: Vec<&Alert> = per_unit.into_values().collect();
    order.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.time.cmp(&a.time)));
    let mut free = cfg.max_effects.saturating_sub(ripples.iter().count());
    let ext = &settings.config.extrusion;
    for alert in order {
        let Some(mut unit) = units.iter_mut().find(|u| u.id == alert.unit) else { continue };
        let strength = severity_strength(alert.severity);
        let duration = cfg.effect_s * if alert.severity == Severity::Critical { 1.5 } else { 1.0 };
        unit.pulse.start(strength, duration);
        if free == 0 {
            fx.coalesced += 1;
            continue;
        }
        free -= 1;
        if let Some(assets) = &assets {
            let top = view_height(&unit, ext, unit.transition.shown);
            let radius = if unit.point { 1200.0 } else { (unit.area_m2.sqrt() as f32 * 0.8).clamp(1200.0, 4000.0) } * (0.6 + 0.4 * strength);
            commands.spawn((
                Mesh3d(assets.ring.clone()),
                MeshMaterial3d(assets.materials[alert.severity as usize].clone()),
                Transform::from_xyz(unit.label_xz.x, top + 20.0, unit.label_xz.y).with_scale(Vec3::splat(radius * 0.1)),
                Ripple { age_s: 0.0, duration_s: duration, radius_m: radius },
            ));
        }
    }
}

/// Expands the ripples (two rings' worth of travel, easing out) and despawns the finished.
pub fn grow_ripples(mut commands: Commands, time: Res<Time>, mut ripples: Query<(Entity, &mut Ripple, &mut Transform)>, mut fx: ResMut<AlertFx>) {
    let dt = time.delta_secs();
    for (entity, mut ripple, mut transform) in &mut ripples {
        ripple.age_s += dt;
        if ripple.age_s >= ripple.duration_s {
            commands.entity(entity).despawn();
            continue;
        }
        // Two waves: the ring runs out twice over the lifetime, easing out each time.
        let phase = (ripple.age_s / ripple.duration_s * 2.0).fract();
        let eased = 1.0 - (1.0 - phase).powi(3);
        transform.scale = Vec3::splat(ripple.radius_m * (0.1 + 0.9 * eased));
    }
    if ripples.is_empty() {
        // The ticker's count of coalesced effects is about the burst now on screen.
        fx.coalesced = 0;
    }
}

/// While a ripple runs the next frame is wanted at once; while the banner blinks (twice a
/// second), within a tenth of a second.
fn ask_while_showing(ripples: Query<(), With<Ripple>>, critical: Res<OpenCritical>, mut redraw: ResMut<Redraw>) {
    if !ripples.is_empty() {
        redraw.animate();
    } else if !critical.alerts.is_empty() {
        redraw.wake_within(0.1);
    }
}

#[allow(clippy::too_many_arguments)]
fn ticker_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    lang: Res<UiLang>,
    picture: Res<Picture>,
    map: Res<MapResource>,
    fx: Res<AlertFx>,
    demo: Option<Res<DemoFeed>>,
    selection: Res<Selection>,
) -> Result {
    let len = settings.config.alerts.ticker_len;
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    let bottom = theme::bottom_clearance(demo.is_some());
    let dim = theme::egui(theme::DIM);
    let white = theme::egui(theme::TEXT);
    // Bottom right. While the drill-down holds the right side, under it with as many rows as
    // fit between it and the bottom (never over the map in the middle), or not at all when
    // fewer than two would.
    let len = match selection.unit.as_ref().and(visible_panel(ctx, "detail")) {
        Some(detail) => {
            let room = ctx.content_rect().bottom() - bottom - detail.bottom() - theme::MARGIN - theme::TICKER_FRAME_H;
            let rows = (room / theme::TICKER_ROW_H).floor().max(0.0) as usize;
            if rows < 2 {
                return Ok(());
            }
            rows.min(len)
        }
        None => len,
    };
    egui::Area::new("ticker".into()).anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-theme::MARGIN, -bottom)).show(ctx, |ui| {
        theme::panel_frame().show(ui, |ui| {
            ui.set_width(theme::TICKER_W);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(T::LatestAlerts.get(lang)).size(14.0).strong().color(white));
                let more = picture.state.alert_count().saturating_sub(len);
                if more > 0 {
                    ui.label(egui::RichText::new(format!("+{more} {}", T::More.get(lang))).size(11.0).color(dim));
                }
                if fx.coalesced > 0 {
                    ui.label(egui::RichText::new(format!("≋{}", fx.coalesced)).size(11.0).color(dim)).on_hover_text(T::Coalesced.get(lang));
                }
            });
            let now = picture.now();
            for a in picture.state.alerts_newest_first().take(len) {
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(a.time.format("%H:%M:%S").to_string()).size(12.0).monospace().color(dim));
                    ui.label(egui::RichText::new(i18n::severity(a.severity, lang)).size(12.0).color(theme::colour32(settings.severity_colour(a.severity))));
                    let unit = map.column_name(&a.unit, 8);
                    ui.label(egui::RichText::new(&unit).size(12.0).color(white));
                    if now.is_some_and(|now| alert_overdue(&picture.state, a, &settings.config.sla, now).is_some()) {
                        ui.label(egui::RichText::new(T::Overdue.get(lang)).size(12.0).strong().color(theme::egui(theme::OVERDUE)));
                    }
                    let colour = if a.status == AlertStatus::Closed { dim } else { white };
                    ui.add(egui::Label::new(egui::RichText::new(event_text(&a.title, map.unit_name(&a.unit))).size(12.0).color(colour)).truncate());
                });
            }
        });
    });
    Ok(())
}

/// An alert's title as the ticker shows it after the unit's column: without the unit's name
/// when the title starts with it (the platform's and the simulator's titles often do), so the
/// name is not read twice and the event itself gets the room.
pub fn event_text<'a>(title: &'a str, unit_name: &str) -> &'a str {
    match title.strip_prefix(unit_name) {
        Some(rest) if !rest.trim().is_empty() => rest.trim_start(),
        _ => title,
    }
}

#[allow(clippy::too_many_arguments)]
fn banner_ui(
    mut contexts: EguiContexts,
    lang: Res<UiLang>,
    critical: Res<OpenCritical>,
    settings: Res<Settings>,
    map: Res<MapResource>,
    time: Res<Time>,
    selection: Res<Selection>,
    mut ack: MessageWriter<Acknowledge>,
) -> Result {
    let Some(alert) = critical.alerts.first() else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    // Between the ranking board and the drill-down when both are out, wrapping if it must.
    let side = if selection.unit.is_some() { 2.0 * 430.0 } else { 2.0 * 390.0 };
    let max_width = (ctx.content_rect().width() - side).max(320.0);
    let lang = lang.0;
    // Blinks its border twice a second so it is noticed from across the room.
    let on = (time.elapsed_secs() * 2.0).fract() < 0.6;
    let frame = egui::Frame::new()
        .fill(theme::egui(theme::BANNER_FILL))
        .inner_margin(egui::Margin::symmetric(24, 12))
        .corner_radius(6)
        .stroke(egui::Stroke::new(3.0, theme::egui(if on { theme::ALARM_RED } else { theme::BANNER_BLINK_OFF })));
    egui::Area::new("banner".into()).anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, theme::BANNER_TOP)).order(egui::Order::Foreground).show(ctx, |ui| {
        frame.show(ui, |ui| {
            ui.set_max_width(max_width);
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(format!("⚠ {}", T::CriticalAlert.get(lang))).size(26.0).strong().color(theme::egui(theme::TEXT)));
                ui.label(
                    egui::RichText::new(format!("{} · {} · {}", map.unit_name(&alert.unit), alert.category, alert.time.format("%H:%M:%S")))
                        .size(20.0)
                        .color(theme::egui(theme::BANNER_TEXT)),
                );
            });
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(event_text(&alert.title, map.unit_name(&alert.unit))).size(16.0).color(theme::egui(theme::TEXT)));
                let status = format!("· {}", i18n::status(alert.status, lang));
                ui.label(egui::RichText::new(status).size(16.0).color(theme::egui(theme::BANNER_TEXT)));
                if critical.alerts.len() > 1 {
                    let more = format!("· +{} {}", critical.alerts.len() - 1, T::MoreCritical.get(lang));
                    ui.label(egui::RichText::new(more).size(16.0).color(theme::egui(theme::BANNER_TEXT)));
                }
            });
            if settings.config.alerts.acknowledge {
                let big = theme::touch_scale(settings.config.ui.touch);
                let button = egui::Button::new(egui::RichText::new(T::Acknowledge.get(lang)).size(16.0 * big).strong()).min_size(egui::vec2(96.0, 30.0) * big);
                if ui.add(button).clicked() {
                    ack.write(Acknowledge { id: alert.id.clone() });
                }
            }
        });
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::picture::Source;
    use crate::app::scene::Pulse;
    use crate::config::Config;
    use crate::model::{AlertStatus, Transition};
    use bevy::time::TimeUpdateStrategy;
    use chrono::DateTime;
    use std::time::Duration;

    fn alert(i: usize, unit: &str, severity: Severity) -> Alert {
        Alert {
            id: format!("A{i}"),
            unit: unit.into(),
            time: DateTime::parse_from_rfc3339("2026-11-29T10:00:00+08:00").unwrap(),
            severity,
            category: "x".into(),
            title: "t".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        }
    }

    #[test]
    fn the_ticker_reads_the_unit_once() {
        assert_eq!(event_text("垡头街道 勒索软件加密行为", "垡头街道"), "勒索软件加密行为");
        assert_eq!(event_text("勒索软件加密行为", "垡头街道"), "勒索软件加密行为");
        assert_eq!(event_text("垡头街道", "垡头街道"), "垡头街道", "nothing but the name: kept");
        assert_eq!(event_text("区财政局 VPN 账号暴力破解", "区财政局"), "VPN 账号暴力破解");
    }

    #[test]
    fn a_burst_of_alerts_is_capped_coalesced_and_cleaned_up() {
        let mut config = Config::default();
        config.alerts.max_effects = 5;
        config.alerts.effect_s = 2.0;
        let mut picture = Picture::new(Source::Demo { speed: 1.0 });
        picture.clock = Some(DateTime::parse_from_rfc3339("2026-11-29T10:00:00+08:00").unwrap());
        let mut app = crate::app::testing::test_app(config, crate::app::testing::test_map(), picture);
        app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
        app.insert_resource(FxAssets::default());
        for i in 0..20 {
            app.world_mut().spawn(UnitView {
                id: format!("u{i}").into(),
                name: format!("unit {i}"),
                area_m2: 4e6,
                label_xz: Vec2::new(i as f32 * 100.0, 0.0),
                transition: Transition::default(),
                border: None,
                point: false,
                index: i,
                pulse: Pulse::default(),
                state_slot: 0,
            });
        }
        // The first data is history: an alert already there raises nothing.
        {
            let mut picture = app.world_mut().resource_mut::<Picture>();
            std::sync::Arc::make_mut(&mut picture.state).apply_alert(alert(500, "u3", Severity::Critical)).unwrap();
            picture.generation += 1;
        }
        app.update();
        assert_eq!(app.world_mut().query::<&Ripple>().iter(app.world()).count(), 0);
        // …but an open 严重 incident is shown until acknowledged or closed, history or not.
        let open = |app: &App| app.world().resource::<OpenCritical>().alerts.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
        assert_eq!(open(&app), ["A500"]);
        // 200 alerts at once over 20 units, three each on u0 (critical among them).
        {
            let mut picture = app.world_mut().resource_mut::<Picture>();
            for i in 0..200 {
                let severity = if i == 7 { Severity::Critical } else { Severity::Medium };
                std::sync::Arc::make_mut(&mut picture.state).apply_alert(alert(i, &format!("u{}", i % 20), severity)).unwrap();
            }
            picture.generation += 1;
        }
        app.update();
        let live = |app: &mut App| app.world_mut().query::<&Ripple>().iter(app.world()).count();
        assert_eq!(live(&mut app), 5, "capped at max_effects");
        let fx = app.world().resource::<AlertFx>();
        assert_eq!(fx.coalesced, 15, "one effect per unit: 20 units, 5 ripples");
        assert_eq!(open(&app), ["A7", "A500"], "the banner shows the newest open 严重 incident");
        // Every unit pulses; the critical one strongest.
        let pulses: Vec<(String, f32)> = app.world_mut().query::<&UnitView>().iter(app.world()).map(|u| (u.id.to_string(), u.pulse.amplitude)).collect();
        assert!(pulses.iter().all(|(_, a)| *a > 0.0));
        assert_eq!(pulses.iter().find(|(id, _)| id == "u7").unwrap().1, 1.0);
        // After the longest duration (critical: 1.5 × 2 s) every ripple is gone.
        for _ in 0..31 {
            app.update();
        }
        assert_eq!(live(&mut app), 0);
        // Pulses are values the scene steps, not entities: each has ended after its duration.
        let ended: Vec<f32> = app.world_mut().query::<&UnitView>().iter(app.world()).map(|u| u.pulse.amplitude).collect();
        assert_eq!(ended, vec![0.0; 20]);
        // A seek (new epoch) that brings old alerts back raises nothing.
        {
            let mut picture = app.world_mut().resource_mut::<Picture>();
            picture.epoch += 1;
            std::sync::Arc::make_mut(&mut picture.state).apply_alert(alert(999, "u1", Severity::High)).unwrap();
        }
        app.update();
        assert_eq!(live(&mut app), 0);
    }
}
