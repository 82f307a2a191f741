//! The Bevy application: scene, UI and screenshot capture, wired from [`RunOptions`].
//!
//! Data flows one way: the feed (demo replay) writes the [`Picture`]; the scene and the UI read
//! it. Rendering code never parses data and the feed never touches entities.

pub mod alerts;
mod capture;
pub mod i18n;
pub mod interact;
pub mod live;
mod panels;
pub mod perf;
pub mod scene;
mod ui;
pub mod unit_material;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy_egui::EguiPlugin;
use bevy_panorbit_camera::PanOrbitCameraPlugin;
use chrono::{DateTime, FixedOffset};

use crate::config::{self, Config};
use crate::feed::{Recording, Replay};
use crate::geo::{self, LoadOptions, MapData};
use crate::model::{ColourRamp, RiskState};

pub use capture::CapturePlan;

/// Everything the app needs to start, resolved from the command line and the config file.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The configuration.
    pub config: Config,
    /// Unit map to show; `None` uses the built-in schematic.
    pub map: Option<PathBuf>,
    /// Recording to replay.
    pub recording: PathBuf,
    /// Follow this backend instead of replaying.
    pub live: Option<crate::feed::live::LiveOptions>,
    /// Write the live feed to this recording while showing it.
    pub record: Option<PathBuf>,
    /// Replay speed, recording seconds per second.
    pub speed: f64,
    /// Where replay starts, recording seconds from its start.
    pub seek_s: f64,
    /// Take a screenshot and exit.
    pub capture: Option<CapturePlan>,
    /// Load the bundled CJK font (false only for the render check's negative control).
    pub cjk_font: bool,
    /// Unit to select at start.
    pub select: Option<String>,
    /// Start the demo paused.
    pub paused: bool,
    /// Draw no units, context or bureaus: the frame-time baseline.
    pub empty_scene: bool,
    /// Frame-time harness, churn feed and soak sampler.
    pub perf: perf::PerfOptions,
}

/// The loaded map and its context layer.
#[derive(Resource)]
pub struct MapResource {
    /// The units.
    pub data: MapData,
    /// Whether this is the built-in schematic (labelled 示意图 on screen).
    pub schematic: bool,
    /// Dim context outlines (neighbouring districts) in the same projection.
    pub context: Vec<ContextArea>,
    /// Point units (bureaus, 委办局) in the same projection.
    pub bureaus: Vec<crate::geo::PointUnit>,
    /// Problems found while loading, logged once the app's logger is up.
    pub warnings: Vec<String>,
}

/// A neighbouring district drawn as context.
#[derive(Clone, Debug)]
pub struct ContextArea {
    /// Its name.
    pub name: String,
    /// Its polygons, projected metres.
    pub polygons: Vec<::geo::Polygon<f64>>,
    /// Where its name goes: an interior point of its first polygon, metres (computed once:
    /// it costs milliseconds on a detailed outline).
    pub label: Option<(f64, f64)>,
}

/// Where the picture comes from, for the header.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Replaying a recording at a speed factor.
    Demo {
        /// Recording seconds per second.
        speed: f64,
    },
    /// Following a backend.
    Live {
        /// Its base URL.
        url: String,
    },
}

/// The current picture of the district: what the wall shows.
#[derive(Resource)]
pub struct Picture {
    /// Scores and alerts, shared with the demo replay (see `Replay::shared_state`).
    pub state: Arc<RiskState>,
    /// Where it comes from.
    pub source: Source,
    /// The data clock: the recording's time in demo mode.
    pub clock: Option<DateTime<FixedOffset>>,
    /// Bumped whenever `state` changes, so views redo work only then.
    pub generation: u64,
    /// Bumped when `state` is rebuilt rather than moved forward (a seek, a restarted loop):
    /// the alerts it then holds are history, not news.
    pub epoch: u64,
    /// How current the data is (always live in demo mode).
    pub freshness: live::Freshness,
}

/// Display settings from the config.
#[derive(Resource, Clone)]
pub struct Settings {
    /// The choropleth ramp.
    pub ramp: ColourRamp,
    /// The full configuration.
    pub config: Config,
}

/// The demo replay and its timeline controls.
#[derive(Resource)]
pub struct DemoFeed {
    /// The replay.
    pub replay: Replay,
    /// Paused: the clock stands still.
    pub paused: bool,
    /// A seek the timeline asked for: recording seconds from the start, done next frame.
    pub seek_to: Option<f64>,
    /// Whether the first frame published the state (which `--seek-hours` may have built).
    started: bool,
}

impl DemoFeed {
    /// A feed playing `replay`.
    pub fn new(replay: Replay) -> Self {
        Self { replay, paused: false, seek_to: None, started: false }
    }
}

/// The data source chosen at start-up.
enum Feed {
    Demo(DemoFeed),
    Live(live::LiveFeed),
    /// Synthetic scores every frame (`--churn`), from [`perf`].
    Churn,
}

/// Loads the map and context layer named by `options`.
///
/// # Errors
/// When the unit map cannot be read or no unit loads.
pub fn load_map(options: &RunOptions) -> anyhow::Result<MapResource> {
    let cfg = &options.config.map;
    let path = match (&options.map, &cfg.file) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => config::resolve(p),
        (None, None) => config::resolve(config::DEFAULT_MAP.as_ref()),
    };
    let same = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    let schematic = same(&path, &config::resolve(config::DEFAULT_MAP.as_ref()));
    let data = geo::load_geojson_file(&path, &cfg.load_options()).with_context(|| format!("loading map {}", path.display()))?;
    let mut warnings: Vec<String> = data.report.issues.iter().map(|i| format!("map {}: {i}", path.display())).collect();
    anyhow::ensure!(!data.units.is_empty(), "map {} has no usable unit", path.display());
    let mut context = Vec::new();
    if let Some(ctx) = cfg.context.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        let ctx_path = config::resolve(ctx);
        let opts = LoadOptions { id_property: "adcode".into(), projection: Some(data.projection), ..LoadOptions::default() };
        match geo::load_geojson_file(&ctx_path, &opts) {
            Ok(c) => {
                context = c
                    .units
                    .into_iter()
                    .map(|u| {
                        let label = u.polygons.first().and_then(::geo::InteriorPoint::interior_point).map(|p| (p.x(), p.y()));
                        ContextArea { name: u.name, polygons: u.polygons, label }
                    })
                    .collect()
            }
            Err(e) => warnings.push(format!("context layer {}: {e}; drawing none", ctx_path.display())),
        }
    }
    let mut bureaus = Vec::new();
    if !cfg.bureaus.as_os_str().is_empty() {
        let path = config::resolve(&cfg.bureaus);
        match crate::geo::load_point_units(&path, &data.projection) {
            Ok((points, errors)) => {
                warnings.extend(errors.into_iter().map(|e| format!("bureaus {}: {e}", path.display())));
                bureaus = points;
            }
            Err(e) => warnings.push(format!("bureaus {}: {e}; showing none", path.display())),
        }
    }
    Ok(MapResource { data, schematic, context, bureaus, warnings })
}

/// Builds and runs the app until the window closes (or the screenshot is saved).
///
/// # Errors
/// When the map or the config's ramp is unusable.
pub fn run(options: RunOptions) -> anyhow::Result<()> {
    let _ = perf::START.set(std::time::Instant::now());
    let mut map = load_map(&options)?;
    let ramp = options.config.ramp()?;
    if options.empty_scene {
        map.data.units.clear();
        map.context.clear();
        map.bureaus.clear();
    }
    let mut live_waker = None;
    let (source, feed) = match &options.live {
        Some(live_options) => {
            let known: std::collections::HashSet<String> = map.data.units.iter().map(|u| u.id.clone()).chain(map.bureaus.iter().map(|b| b.id.clone())).collect();
            let feed_rx = crate::feed::live::spawn(live_options.clone(), Some(Arc::new(known)));
            // Forward the feed through a thread that wakes the reactive event loop for each
            // message, so an idle wall sleeps until data arrives.
            let waker = perf::Waker::default();
            let (tx, rx) = crossbeam_channel::unbounded();
            let wake = waker.clone();
            std::thread::Builder::new().name("live-wake".into()).spawn(move || {
                for msg in feed_rx {
                    if tx.send(msg).is_err() {
                        break;
                    }
                    wake.wake();
                }
            })?;
            live_waker = Some(waker);
            let cfg = &options.config.live;
            let thresholds = live::FreshnessThresholds { delayed_s: cfg.delayed_s, stale_s: cfg.stale_s };
            let url = live_options.base_url.clone();
            (Source::Live { url: url.clone() }, Feed::Live(live::LiveFeed::new(rx, url, thresholds)))
        }
        None if options.perf.churn => (Source::Demo { speed: 1.0 }, Feed::Churn),
        None => {
            let recording = Recording::read(&options.recording).with_context(|| format!("reading recording {}", options.recording.display()))?;
            map.warnings.extend(recording.errors.iter().take(20).map(|e| format!("recording {}: {e}", options.recording.display())));
            if recording.errors.len() > 20 {
                map.warnings.push(format!("recording {}: {} more bad lines", options.recording.display(), recording.errors.len() - 20));
            }
            map.warnings.extend(unknown_unit_warnings(&recording, &map.data, &map.bureaus));
            let demo = &options.config.demo;
            let mut replay = Replay::new(Arc::new(recording), options.speed, demo.looping, demo.max_gap_s);
            if replay.clamped_gaps > 0 {
                map.warnings.push(format!("recording {}: {} gap(s) longer than max_gap_s = {} s shortened", options.recording.display(), replay.clamped_gaps, demo.max_gap_s));
            }
            if options.seek_s > 0.0 {
                replay.seek(options.seek_s);
            }
            let mut demo = DemoFeed::new(replay);
            demo.paused = options.paused;
            (Source::Demo { speed: options.speed }, Feed::Demo(demo))
        }
    };

    let w = &options.config.window;
    // A screenshot run is a window of exactly the configured size, whatever the profile.
    let window_mode = if options.capture.is_some() { config::WindowMode::Windowed } else { w.mode };
    let mode = match window_mode {
        config::WindowMode::Windowed => bevy::window::WindowMode::Windowed,
        config::WindowMode::Borderless => bevy::window::WindowMode::BorderlessFullscreen(bevy::window::MonitorSelection::Index(w.monitor)),
        config::WindowMode::Fullscreen => bevy::window::WindowMode::Fullscreen(bevy::window::MonitorSelection::Index(w.monitor), bevy::window::VideoModeSelection::Current),
    };
    let locked = options.config.kiosk.locked;
    anyhow::ensure!(
        !locked || interact::parse_chord(&options.config.kiosk.admin_chord).is_some(),
        "config [kiosk] admin_chord = {:?}: a locked kiosk needs a chord it can recognise: modifiers (ctrl, alt, shift, super) and one letter, e.g. \"ctrl+alt+shift+q\"",
        options.config.kiosk.admin_chord
    );
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "朝阳区网络安全态势 · Situation Wall".into(),
                    resolution: WindowResolution::new(w.width, w.height),
                    mode,
                    // A capture must be exactly the configured size.
                    decorations: window_mode == config::WindowMode::Windowed,
                    ..default()
                }),
                primary_cursor_options: Some(bevy::window::CursorOptions { visible: w.cursor, ..default() }),
                // A locked kiosk ignores close requests (Alt+F4, the window manager).
                close_when_requested: !locked,
                ..default()
            }),
    )
    .add_plugins((EguiPlugin::default(), PanOrbitCameraPlugin))
    .insert_resource(ClearColor(Color::srgb_u8(0x05, 0x08, 0x12)))
    .insert_resource(Settings { ramp, config: options.config.clone() })
    .insert_resource(Picture { state: Arc::default(), source, clock: None, generation: 0, epoch: 0, freshness: live::Freshness::Live })
    .insert_resource(i18n::UiLang(options.config.ui.lang))
    .insert_resource(scene::Selection { unit: options.select.clone() })
    .insert_resource(map)
    .insert_resource(ui::FontChoice { cjk: options.cjk_font })
    .add_systems(Startup, log_startup_warnings)
    .add_systems(PreUpdate, advance_demo.run_if(resource_exists::<DemoFeed>))
    .add_plugins((unit_material::plugin, scene::plugin, interact::plugin, alerts::plugin, ui::plugin, panels::plugin, live::plugin));
    match feed {
        Feed::Demo(d) => app.insert_resource(d),
        Feed::Live(l) => app.insert_resource(l),
        Feed::Churn => &mut app,
    };
    // Redraw on change only, unless something must run every frame (a capture, a
    // measurement, the soak).
    let p = &options.perf;
    let measuring = options.capture.is_some() || p.frame_stats.is_some() || p.soak_csv.is_some() || p.churn;
    let reactive = (options.config.render.reactive && !measuring).then_some(options.config.render.idle_redraw_s);
    app.add_plugins(perf::plugin(options.perf.clone(), reactive));
    if let Some(waker) = live_waker {
        app.insert_resource(waker);
    }
    // One update may follow a long sleep (the reactive loop waits up to a minute when nothing
    // changes) or a slow frame (a software renderer): the replay, easing and effects must
    // still keep wall-clock pace, so Bevy's default 0.25 s cap on a step is lifted.
    app.world_mut().resource_mut::<Time<Virtual>>().set_max_delta(std::time::Duration::from_secs_f64(perf::QUIET_WAIT_S + 5.0));
    if let Some(path) = &options.record {
        anyhow::ensure!(options.live.is_some(), "--record needs --live: it records the live feed");
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let recorder = crate::feed::record::Recorder::new(std::io::BufWriter::new(file), "chaoyang-110105", "recorded live by situation-wall --record");
        app.insert_resource(live::LiveRecorder(recorder));
    }
    if let Some(plan) = options.capture {
        app.add_plugins(capture::plugin(plan));
    }
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("the app ended with error code {code} (see the log above)"),
    }
}

/// Warnings about the unit ids a recording scores that the map does not have (their updates
/// are kept in the state but drawn nowhere) and the map units it never scores.
fn unknown_unit_warnings(recording: &Recording, map: &MapData, bureaus: &[crate::geo::PointUnit]) -> Vec<String> {
    let mut out = Vec::new();
    use std::collections::BTreeSet;
    let in_recording: BTreeSet<&str> = recording
        .records
        .iter()
        .filter_map(|(_, r)| match &r.body {
            crate::feed::RecordBody::Scores { scores } => Some(scores.iter().map(|s| s.unit.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    let on_map: BTreeSet<&str> = map.units.iter().map(|u| u.id.as_str()).chain(bureaus.iter().map(|b| b.id.as_str())).collect();
    let unknown: Vec<&str> = in_recording.difference(&on_map).copied().collect();
    if !unknown.is_empty() {
        out.push(format!("recording scores {} unit id(s) not on the map, e.g. {}", unknown.len(), unknown.iter().take(5).copied().collect::<Vec<_>>().join(", ")));
    }
    let unscored = on_map.difference(&in_recording).count();
    if unscored > 0 {
        out.push(format!("{unscored} map unit(s) get no score from the recording and show as 无数据 (no data)"));
    }
    out
}

/// Logs the start-up warnings once the logger exists.
fn log_startup_warnings(map: Res<MapResource>) {
    for w in &map.warnings {
        warn!("{w}");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Recording;

    #[test]
    fn seeking_gives_the_recordings_state_at_that_time() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(config::DEFAULT_RECORDING);
        let recording = Arc::new(Recording::read(&path).unwrap());
        let mut app = App::new();
        app.add_plugins(MinimalPlugins);
        app.insert_resource(DemoFeed::new(Replay::new(Arc::clone(&recording), 60.0, false, 3600.0)));
        app.insert_resource(Picture { state: Arc::default(), source: Source::Demo { speed: 60.0 }, clock: None, generation: 0, epoch: 0, freshness: live::Freshness::Live });
        app.add_systems(Update, advance_demo);
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
