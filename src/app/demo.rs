//! Demo mode: the recording's replay (the data clock, pause, speed, seek) and its timeline
//! strip along the bottom of the screen, with `Space` to pause.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::handoff::Handoff;
use super::i18n::{T, UiLang};
use super::map::MapResource;
use super::picture::{Picture, Settings, Source};
use super::redraw::Redraw;
use super::schedule::AppSystems;
use super::theme;
use crate::config::DemoConfig;
use crate::feed::{Recording, Replay};
use crate::model::Severity;

/// The demo replay and its timeline controls.
#[derive(Resource)]
pub struct DemoFeed {
    /// The replay.
    pub replay: Replay,
    /// Paused: the clock stands still.
    pub paused: bool,
    /// A seek the timeline asked for: recording seconds from the start, done next frame.
    pub seek_to: Option<f64>,
    /// Whether the recording's header says its data is simulated
    /// ([`crate::feed::RecordingHeader::is_simulated`]).
    pub simulated: bool,
    /// Whether the first frame published the state (which `--seek-hours` may have built).
    started: bool,
}

impl DemoFeed {
    /// A feed playing `replay`.
    pub fn new(replay: Replay) -> Self {
        Self { replay, paused: false, seek_to: None, simulated: false, started: false }
    }

    /// Reads the recording at `path` and prepares its replay at `speed` (recording seconds
    /// per second) from `seek_s` seconds after its start; warnings about the recording (bad
    /// lines, units not on `map`, shortened gaps) are added to the map's start-up warnings.
    ///
    /// # Errors
    /// When the recording cannot be read at all.
    pub fn open(path: &Path, cfg: &DemoConfig, speed: f64, seek_s: f64, paused: bool, map: &mut MapResource) -> anyhow::Result<Self> {
        let recording = Recording::read(path).with_context(|| format!("reading recording {}", path.display()))?;
        // A wall replaying nothing would stand grey and say nothing of why.
        anyhow::ensure!(
            !recording.records.is_empty(),
            "recording {} has no usable record ({} bad line(s){})",
            path.display(),
            recording.errors.len(),
            recording.errors.first().map(|e| format!("; the first: {e}")).unwrap_or_default()
        );
        map.warnings.extend(recording.errors.iter().take(20).map(|e| format!("recording {}: {e}", path.display())));
        if recording.errors.len() > 20 {
            map.warnings.push(format!("recording {}: {} more bad lines", path.display(), recording.errors.len() - 20));
        }
        map.warnings.extend(unknown_unit_warnings(&recording, map));
        let simulated = recording.header.is_simulated();
        let mut replay = Replay::new(Arc::new(recording), speed, cfg.looping, cfg.max_gap_s);
        if replay.clamped_gaps > 0 {
            map.warnings.push(format!("recording {}: {} gap(s) longer than max_gap_s = {} s shortened", path.display(), replay.clamped_gaps, cfg.max_gap_s));
        }
        if seek_s > 0.0 {
            replay.seek(seek_s);
        }
        let mut demo = Self::new(replay);
        demo.paused = paused;
        demo.simulated = simulated;
        Ok(demo)
    }
}

/// Plays `demo`: its replay feeds the picture, its timeline is drawn, `Space` pauses.
pub(super) fn plugin(demo: DemoFeed) -> impl Fn(&mut App) {
    let handoff = Handoff::new(demo);
    move |app: &mut App| {
        let Some(demo) = handoff.take() else { return };
        app.insert_resource(demo)
            .add_systems(
                Update,
                (advance_demo.in_set(AppSystems::Feed), toggle_pause.in_set(AppSystems::Input), tick_while_playing.in_set(AppSystems::Animate)),
            )
            .add_systems(EguiPrimaryContextPass, timeline_ui.in_set(AppSystems::Ui));
    }
}

/// Warnings about the unit ids a recording scores that the map does not have (their updates
/// are kept in the state but drawn nowhere) and the map units it never scores.
fn unknown_unit_warnings(recording: &Recording, map: &MapResource) -> Vec<String> {
    use std::collections::BTreeSet;
    let mut out = Vec::new();
    let in_recording: BTreeSet<&str> = recording
        .records
        .iter()
        .filter_map(|(_, r)| match &r.body {
            crate::feed::RecordBody::Scores { scores, .. } => Some(scores.iter().map(|s| s.unit.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    let on_map: BTreeSet<&str> = map.ids().collect();
    let unknown: Vec<&str> = in_recording.difference(&on_map).copied().collect();
    if !unknown.is_empty() {
        out.push(format!(
            "recording scores {} unit id(s) not on the map, e.g. {}",
            unknown.len(),
            unknown.iter().take(5).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let unscored = on_map.difference(&in_recording).count();
    if unscored > 0 {
        out.push(format!("{unscored} map unit(s) get no score from the recording and show as 无数据 (no data)"));
    }
    out
}

/// Plays the demo recording forward by the frame time (unless paused), does the timeline's
/// seeks, and publishes the new state.
pub fn advance_demo(time: Res<Time>, mut demo: ResMut<DemoFeed>, mut picture: ResMut<Picture>, mut logged: Local<usize>) {
    // The state a start-up seek built is published on the first frame, as history.
    let mut rebuilt = !demo.started;
    demo.started = true;
    if let Some(t) = demo.seek_to.take() {
        demo.replay.seek(t);
        rebuilt = true;
    }
    let dt = if demo.paused { 0.0 } else { time.delta_secs_f64() };
    // Let go of the picture's handle so the replay updates the state in place.
    picture.state = Arc::default();
    let step = demo.replay.advance(dt);
    if step.restarted || rebuilt {
        *logged = 0;
    }
    // Updates the state refused (older than shown, duplicates, unknown alerts): the first 20
    // of each pass are logged with their line numbers.
    for (line, why) in demo.replay.rejected.iter().skip(*logged).take(20usize.saturating_sub(*logged)) {
        warn!("recording line {line}: not applied: {why}");
    }
    *logged = demo.replay.rejected.len().max(*logged);
    picture.state = demo.replay.shared_state();
    if step.applied > 0 || step.restarted || rebuilt {
        picture.generation += 1;
        if step.restarted || rebuilt {
            picture.epoch += 1;
        }
    }
    if let Source::Demo { speed } = &mut picture.source
        && *speed != demo.replay.speed
    {
        *speed = demo.replay.speed;
    }
    picture.clock = Some(demo.replay.clock());
}

/// `Space`: pause or play.
fn toggle_pause(input: Res<ButtonInput<KeyCode>>, mut demo: ResMut<DemoFeed>) {
    if input.just_pressed(KeyCode::Space) {
        demo.paused = !demo.paused;
    }
}

/// A playing demo's clock ticks on screen: wake at least every `[render] idle_redraw_s`.
fn tick_while_playing(demo: Res<DemoFeed>, settings: Res<Settings>, mut redraw: ResMut<Redraw>) {
    if !demo.paused {
        redraw.wake_within(settings.config.render.idle_redraw_s);
    }
}

/// Speeds the timeline offers, recording seconds per second.
pub const TIMELINE_SPEEDS: [f64; 5] = [1.0, 10.0, 60.0, 300.0, 1800.0];

fn timeline_ui(
    mut contexts: EguiContexts,
    settings: Res<Settings>,
    lang: Res<UiLang>,
    mut demo: ResMut<DemoFeed>,
    mut marks: Local<Vec<(f64, Severity)>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let lang = lang.0;
    if marks.is_empty() {
        let replay = &demo.replay;
        *marks = replay.recording().records.iter().zip(replay.offsets()).filter_map(|((_, r), &at)| r.alert().map(|a| (at, a.severity))).collect();
    }
    let duration = demo.replay.duration_s().max(1.0);
    let big = theme::touch_scale(settings.config.ui.touch);
    let width = ctx.content_rect().width();
    egui::Area::new("timeline".into()).anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(0.0, 0.0)).show(ctx, |ui| {
        egui::Frame::new().fill(theme::egui(theme::PANEL_FILL)).inner_margin(egui::Margin::symmetric(16, 8)).show(ui, |ui| {
            ui.set_width(width - 32.0);
            ui.horizontal(|ui| {
                let label = if demo.paused { format!("▶ {}", T::Play.get(lang)) } else { format!("⏸ {}", T::Pause.get(lang)) };
                if ui.add(egui::Button::new(egui::RichText::new(label).size(14.0 * big)).min_size(egui::vec2(80.0, 30.0) * big)).clicked() {
                    demo.paused = !demo.paused;
                }
                ui.label(egui::RichText::new(T::Speed.get(lang)).size(12.0).color(theme::egui(theme::DIM)));
                for s in TIMELINE_SPEEDS {
                    let on = (demo.replay.speed - s).abs() < 1e-9;
                    if ui
                        .add(egui::Button::new(egui::RichText::new(format!("×{s:.0}")).size(13.0 * big)).selected(on).min_size(egui::vec2(44.0, 30.0) * big))
                        .clicked()
                    {
                        demo.replay.speed = s;
                    }
                }
                track_ui(ui, &mut demo, &marks, duration, big);
            });
        });
    });
    Ok(())
}

/// The timeline's track: alert marks by severity (严重 taller), hour ticks, the playhead;
/// a click or drag seeks.
fn track_ui(ui: &mut egui::Ui, demo: &mut DemoFeed, marks: &[(f64, Severity)], duration: f64, big: f32) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(ui.available_width() - 8.0, 30.0 * big), egui::Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    let track = rect.shrink2(egui::vec2(0.0, rect.height() * 0.3));
    painter.rect_filled(track, 3.0, theme::egui(theme::TIMELINE_TRACK));
    let x_of = |t: f64| track.left() + track.width() * (t / duration).clamp(0.0, 1.0) as f32;
    for &(at, severity) in marks {
        let x = x_of(at);
        let critical = severity == Severity::Critical;
        let h = if critical { rect.height() } else { track.height() };
        painter.line_segment(
            [egui::pos2(x, rect.center().y - h / 2.0), egui::pos2(x, rect.center().y + h / 2.0)],
            egui::Stroke::new(if critical { 2.0 } else { 1.0 }, theme::egui(theme::severity(severity))),
        );
    }
    for hour in (0..=(duration / 3600.0) as u32).step_by(6) {
        let x = x_of(f64::from(hour) * 3600.0);
        if x > track.right() - 30.0 {
            continue;
        }
        let t = demo.replay.recording().header.start + chrono::TimeDelta::hours(i64::from(hour));
        painter.text(
            egui::pos2(x + 2.0, rect.bottom()),
            egui::Align2::LEFT_BOTTOM,
            t.format("%H:%M").to_string(),
            egui::FontId::proportional(10.0),
            theme::egui(theme::DIM),
        );
    }
    let head = x_of(demo.replay.elapsed_s());
    painter.line_segment([egui::pos2(head, rect.top()), egui::pos2(head, rect.bottom())], egui::Stroke::new(2.0, theme::egui(theme::ACCENT)));
    if (response.clicked() || response.dragged())
        && let Some(p) = response.interact_pointer_pos()
    {
        let t = f64::from((p.x - track.left()) / track.width()).clamp(0.0, 1.0) * duration;
        demo.seek_to = Some(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    #[test]
    fn seeking_gives_the_recordings_state_at_that_time() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(config::DEFAULT_RECORDING);
        let recording = Arc::new(Recording::read(&path).unwrap());
        let mut app = App::new();
        app.add_plugins(MinimalPlugins);
        app.insert_resource(Picture::new(Source::Demo { speed: 60.0 }));
        app.add_plugins((super::super::schedule::plugin, super::super::redraw::plugin(false)));
        app.insert_resource(Settings::new(config::Config::default()).unwrap());
        // The timeline is drawn in egui's pass, which a headless app never runs.
        app.add_plugins(bevy::input::InputPlugin);
        app.add_plugins(plugin(DemoFeed::new(Replay::new(Arc::clone(&recording), 60.0, false, 3600.0))));
        app.update();
        for t in [14.5 * 3600.0, 3.0 * 3600.0, 20.0 * 3600.0 + 17.0] {
            {
                let mut demo = app.world_mut().resource_mut::<DemoFeed>();
                demo.paused = true;
                demo.seek_to = Some(t);
            }
            app.update();
            // The reference: a fresh replay played from the start to exactly t, record by
            // record, with no seek involved.
            let mut reference = Replay::new(Arc::clone(&recording), 1.0, false, 3600.0);
            reference.advance(t);
            let picture = app.world().resource::<Picture>();
            assert_eq!(*picture.state, *reference.state(), "state at t = {t} s");
            assert!(picture.state.alert_count() > 0);
            assert_eq!(picture.clock, Some(reference.clock()));
        }
        // Paused, the clock stands still.
        let before = app.world().resource::<Picture>().clock;
        app.update();
        assert_eq!(app.world().resource::<Picture>().clock, before);
    }
}
