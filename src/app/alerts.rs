//! Alert effects: a new alert raises an expanding ripple at its unit and a pulse on its prism,
//! both scaled by severity; a critical one also raises a banner and, where the profile says
//! so, flies the camera there. Effects are pooled: at most `[alerts] max_effects` ripple
//! entities live at once, alerts arriving together are coalesced to one ripple per unit (the
//! most severe), and every ripple despawns when its time is up.

use std::collections::BTreeMap;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::demo::DemoFeed;
use super::flight::Attention;
use super::i18n::{self, T, UiLang};
use super::map::MapResource;
use super::picture::{Picture, Settings};
use super::redraw::Redraw;
use super::scene::{UnitView, view_height};
use super::schedule::AppSystems;
use super::selection::{Select, Selection};
use super::theme;
use super::tour::Tour;
use crate::model::{Alert, AlertStatus, Severity, severity_strength};

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
    pub materials: [Handle<StandardMaterial>; 5],
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
    /// The critical banner: the alert and the app time it goes, seconds.
    pub banner: Option<(Alert, f64)>,
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

fn setup_fx_assets(mut commands: Commands, mut meshes: ResMut<Assets<Mesh>>, mut materials: ResMut<Assets<StandardMaterial>>) {
    let ring = meshes.add(Annulus::new(0.86, 1.0).mesh().resolution(64).build().rotated_by(Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2)));
    let colour = |s: Severity| theme::bevy(theme::severity(s)).with_alpha(theme::ripple_alpha(s));
    let materials =
        Severity::ALL.map(|s| materials.add(StandardMaterial { base_color: colour(s), unlit: true, alpha_mode: AlphaMode::Add, cull_mode: None, ..default() }));
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
        if alert.severity == Severity::Critical && fx.banner.as_ref().is_none_or(|(b, _)| b.time <= alert.time) {
            fx.banner = Some((alert.clone(), now_s + f64::from(cfg.banner_s)));
            if cfg.fly_to_critical {
                attention.request(&alert.unit, now_s, cfg.fly_dwell_s, &selection, tour.as_ref().is_some_and(|t| t.active), &mut select);
            }
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
    if fx.banner.as_ref().is_some_and(|(_, until)| time.elapsed_secs_f64() >= *until) {
        fx.banner = None;
    }
    if ripples.is_empty() {
        // The ticker's count of coalesced effects is about the burst now on screen.
        fx.coalesced = 0;
    }
}

/// While a ripple runs or the banner blinks, the next frame is wanted at once.
fn ask_while_showing(ripples: Query<(), With<Ripple>>, fx: Res<AlertFx>, mut redraw: ResMut<Redraw>) {
    if !ripples.is_empty() || fx.banner.is_some() {
        redraw.animate();
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
    // Bottom right, or bottom centre while the drill-down holds the right side.
    let anchor = if selection.unit.is_some() {
        (egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -bottom))
    } else {
        (egui::Align2::RIGHT_BOTTOM, egui::vec2(-theme::MARGIN, -bottom))
    };
    egui::Area::new("ticker".into()).anchor(anchor.0, anchor.1).show(ctx, |ui| {
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
            for a in picture.state.alerts_newest_first().take(len) {
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(a.time.format("%H:%M:%S").to_string()).size(12.0).monospace().color(dim));
                    ui.label(egui::RichText::new(i18n::severity(a.severity, lang)).size(12.0).color(theme::egui(theme::severity(a.severity))));
                    ui.label(egui::RichText::new(map.column_name(&a.unit, 8)).size(12.0).color(white));
                    let colour = if a.status == AlertStatus::Closed { dim } else { white };
                    ui.add(egui::Label::new(egui::RichText::new(&a.title).size(12.0).color(colour)).truncate());
                });
            }
        });
    });
    Ok(())
}

fn banner_ui(mut contexts: EguiContexts, lang: Res<UiLang>, fx: Res<AlertFx>, map: Res<MapResource>, time: Res<Time>, selection: Res<Selection>) -> Result {
    let Some((alert, _)) = &fx.banner else { return Ok(()) };
    let ctx = contexts.ctx_mut()?;
    // Between the ranking board and the drill-down when both are out, wrapping if it must.
    let side = if selection.unit.is_some() { 2.0 * 430.0 } else { 2.0 * 390.0 };
    let max_width = (ctx.content_rect().width() - side).max(320.0);
    let lang = lang.0;
    // Blinks its border twice a second so it is noticed from across the room.
    let on = (time.elapsed_secs() * 2.0).fract() < 0.6;
    let frame = egui::Frame::new()
        .fill(theme::egui_alpha(theme::BANNER_FILL, 235))
        .inner_margin(egui::Margin::symmetric(24, 12))
        .corner_radius(6)
        .stroke(egui::Stroke::new(3.0, theme::egui(if on { theme::ALARM_RED } else { theme::BANNER_BLINK_OFF })));
    egui::Area::new("banner".into()).anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 70.0)).order(egui::Order::Foreground).show(ctx, |ui| {
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
            ui.label(egui::RichText::new(&alert.title).size(16.0).color(theme::egui(theme::TEXT)));
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
        }
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
                id: format!("u{i}"),
                name: format!("unit {i}"),
                area_m2: 4e6,
                label_xz: Vec2::new(i as f32 * 100.0, 0.0),
                transition: Transition::default(),
                border: None,
                point: false,
                index: i,
                pulse: Pulse::default(),
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
        assert!(app.world().resource::<AlertFx>().banner.is_none());
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
        assert_eq!(fx.banner.as_ref().map(|(a, _)| a.id.as_str()), Some("A7"));
        // Every unit pulses; the critical one strongest.
        let pulses: Vec<(String, f32)> = app.world_mut().query::<&UnitView>().iter(app.world()).map(|u| (u.id.clone(), u.pulse.amplitude)).collect();
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
