//! The Bevy application: the wall, wired from [`RunOptions`] into one [`WallPlugin`].
//!
//! Each feature is one file with a `plugin` that inserts its own resources and puts its
//! systems into one of the [`AppSystems`] sets, which [`schedule`] orders once. Shared types
//! live low, so features never import each other in a circle:
//!
//! | file | owns |
//! |---|---|
//! | [`schedule`] | the system sets and their order |
//! | [`picture`] | the [`picture::Picture`] the feeds write and every view reads; settings; freshness |
//! | [`map`] | the loaded map, its loading, the map ↔ world conversion |
//! | [`selection`] | the selected unit and the `Select` asks |
//! | [`theme`] | every colour and size |
//! | [`i18n`] | every UI string, and `L` to switch language |
//! | [`redraw`] | the reactive redraw: when an idle wall draws again |
//! | [`demo`] | demo replay and its timeline, `Space` |
//! | [`live`] | the live feed's channel, freshness, `--record` |
//! | [`remote_detail`] | live mode's drill-down figures from the backend |
//! | [`scene`] | unit prisms, bureau columns, borders, context; easing |
//! | [`unit_material`] | the merged map's shader material |
//! | [`ring_material`] | the alert ring's additive material, drawn in the opaque pass |
//! | [`camera`] | the orbit camera, its home view, easing to the selection |
//! | [`input`] | picking with mouse and touch, `Esc` |
//! | [`tour`] | the auto-tour |
//! | [`flight`] | the camera flight to a critical alert |
//! | [`alerts`] | the alert ring, pulse, banner and ticker |
//! | [`board`] | the ranking board's tab and its period and efficiency rows |
//! | [`incidents`] | overdue badges (超时), the open 严重 incidents the banner holds, acknowledgements |
//! | [`kiosk`] | quitting and the kiosk lock |
//! | [`derive`] | the panels' data (ranking, summary, drill-down) |
//! | [`panels`] | the ranking board and the drill-down |
//! | [`labels`] | the unit labels on the map |
//! | [`ui`] | fonts, UI zoom, header, legend, stale watermark |
//! | [`window`] | the window: size, and fullscreen placement with monitor fallbacks |
//! | [`watchdog`] | systemd readiness and watchdog pings |
//! | [`measure`] | frame stats, churn, soak, exit timer |
//! | [`drawn`] | rectangles the views drew, for the capture's sidecar |
//! | [`reveal`] | the first picture, held back until complete and then shown whole |
//! | [`capture`] | `--screenshot`: waits for a complete picture, saves it and its sidecar |

pub mod alerts;
pub mod board;
pub mod camera;
mod capture;
pub mod demo;
pub mod derive;
mod drawn;
mod features;
pub mod flight;
mod handoff;
pub mod i18n;
pub mod incidents;
pub mod input;
pub mod kiosk;
pub mod labels;
pub mod live;
pub mod map;
pub mod measure;
mod panels;
pub mod picture;
mod present;
pub mod redraw;
pub mod remote_detail;
pub mod reveal;
pub mod ring_material;
pub mod scene;
pub mod schedule;
pub mod selection;
#[cfg(test)]
mod testing;
pub mod theme;
pub mod tour;
mod ui;
pub mod unit_material;
pub mod watchdog;
pub mod window;

use std::path::PathBuf;

use bevy::prelude::*;
use bevy_egui::EguiPlugin;
use bevy_panorbit_camera::PanOrbitCameraPlugin;

use crate::config::Config;

pub use capture::CapturePlan;
use handoff::Handoff;
pub use schedule::AppSystems;

/// Everything the app needs to start, resolved from the command line and the config file.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The configuration.
    pub config: Config,
    /// Unit map to show; `None` uses `[map] file` or the built-in schematic.
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
    pub perf: measure::PerfOptions,
}

/// Where the picture comes from, opened before the app starts (one value, built once: its
/// variants' sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Feed {
    Demo(demo::DemoFeed),
    Live(live::LiveFeed, redraw::Waker, Option<live::LiveRecorder>, remote_detail::RemoteDetail, incidents::AckLine, remote_detail::RemoteRankings),
    /// Synthetic scores every frame (`--churn`), from [`measure`].
    Churn,
}

/// The wall: every feature plugin, the map, the feed and the settings, prepared by
/// [`WallPlugin::prepare`] (where every start-up error is found) and added after Bevy's
/// `DefaultPlugins`, egui and the orbit camera.
pub struct WallPlugin {
    parts: Handoff<Parts>,
}

struct Parts {
    settings: picture::Settings,
    picture: picture::Picture,
    map: map::MapResource,
    feed: Feed,
    measurement: measure::Measurement,
    reactive: bool,
    select: Option<String>,
    cjk_font: bool,
    capture: Option<CapturePlan>,
    window: crate::config::WindowConfig,
}

impl WallPlugin {
    /// Loads the map, opens the feed (demo recording, live client or churn) and checks the
    /// settings, so that nothing fails once the window is up.
    ///
    /// # Errors
    /// When the map, the recording, the colour ramp, the kiosk chord, the soak file or the
    /// `--record` file is unusable.
    pub fn prepare(options: RunOptions) -> anyhow::Result<Self> {
        let settings = picture::Settings::new(options.config.clone())?;
        kiosk::check(&options.config.kiosk)?;
        let mut map = map::load_map(options.map.as_deref(), &options.config.map)?;
        if options.empty_scene {
            map.data.units.clear();
            map.context.clear();
            map.bureaus.clear();
        }
        anyhow::ensure!(options.record.is_none() || options.live.is_some(), "--record needs --live: it records the live feed");
        let (source, feed) = match &options.live {
            Some(live_options) => {
                let recorder = options.record.as_deref().map(live::LiveRecorder::create).transpose()?;
                let waker = redraw::Waker::default();
                let feed = live::LiveFeed::open(live_options, &options.config.live, &map, &waker)?;
                let (ask, replies) = crate::feed::detail::spawn(live_options.clone()).map_err(|e| anyhow::anyhow!("starting the unit-detail thread: {e}"))?;
                let remote = remote_detail::RemoteDetail::new(ask, replies);
                let (send, replies) =
                    crate::feed::detail::spawn_acks(live_options.clone()).map_err(|e| anyhow::anyhow!("starting the acknowledgement thread: {e}"))?;
                let ack_line = incidents::AckLine { send, replies };
                let (ask, replies) =
                    crate::feed::detail::spawn_rankings(live_options.clone()).map_err(|e| anyhow::anyhow!("starting the rankings thread: {e}"))?;
                let rankings = remote_detail::RemoteRankings::new(ask, replies);
                (picture::Source::Live { url: live_options.base_url.clone() }, Feed::Live(feed, waker, recorder, remote, ack_line, rankings))
            }
            None if options.perf.churn => (picture::Source::Demo { speed: 1.0 }, Feed::Churn),
            None => {
                let demo = demo::DemoFeed::open(&options.recording, &options.config.demo, options.speed, options.seek_s, options.paused, &mut map)?;
                (picture::Source::Demo { speed: options.speed }, Feed::Demo(demo))
            }
        };
        // Redraw on change only, unless something must run every frame (a capture, a
        // measurement, the soak).
        let measuring = options.capture.is_some() || options.perf.measuring();
        let reactive = options.config.render.reactive && !measuring;
        let measurement = measure::Measurement::open(options.perf.clone())?;
        let mut picture = picture::Picture::new(source);
        picture.simulated = matches!(&feed, Feed::Demo(d) if d.simulated);
        let parts = Parts {
            settings,
            picture,
            map,
            feed,
            measurement,
            reactive,
            select: options.select.clone(),
            cjk_font: options.cjk_font,
            capture: options.capture.clone(),
            window: options.config.window.clone(),
        };
        Ok(Self { parts: Handoff::new(parts) })
    }
}

impl Plugin for WallPlugin {
    fn build(&self, app: &mut App) {
        let Some(parts) = self.parts.take() else { return };
        app.insert_resource(ClearColor(theme::bevy(theme::BACKGROUND)))
            .insert_resource(parts.settings)
            .insert_resource(parts.picture)
            .insert_resource(parts.map);
        features::core_plugins(app, parts.reactive, parts.select);
        features::view_plugins(app, parts.cjk_font);
        match parts.feed {
            Feed::Demo(d) => {
                app.add_plugins(demo::plugin(d));
            }
            Feed::Live(feed, waker, recorder, remote, ack_line, rankings) => {
                app.add_plugins((live::plugin(feed, waker, recorder), remote_detail::plugin(remote), remote_detail::rankings_plugin(rankings)))
                    .insert_resource(ack_line);
            }
            Feed::Churn => {}
        }
        app.add_plugins((measure::plugin(parts.measurement), watchdog::plugin));
        match parts.capture {
            Some(plan) => {
                app.add_plugins(capture::plugin(plan));
            }
            None => {
                app.add_plugins(window::placement_plugin(parts.window.mode, parts.window.monitor));
            }
        }
        // One update may follow a long sleep (the reactive loop waits up to a minute when
        // nothing changes) or a slow frame (a software renderer): the replay, easing and
        // effects must still keep wall-clock pace, so Bevy's default 0.25 s cap on a step is
        // lifted.
        app.world_mut().resource_mut::<Time<Virtual>>().set_max_delta(std::time::Duration::from_secs_f64(redraw::QUIET_WAIT_S + 5.0));
    }
}

/// Builds and runs the app until the window closes (or the screenshot is saved).
///
/// # Errors
/// As [`WallPlugin::prepare`]; when there is no display (`DISPLAY` unset, or an X server that
/// cannot be reached); when the GPU device is lost; when the app ends with an error code.
pub fn run(options: RunOptions) -> anyhow::Result<()> {
    let _ = picture::START.set(std::time::Instant::now());
    let window = window::plugin(&options.config.window, &options.config.kiosk, options.capture.is_some());
    let wall = WallPlugin::prepare(options)?;
    // Only X11 is built in (the `x11` feature): without DISPLAY there is nothing to open.
    anyhow::ensure!(
        std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()),
        "no display: DISPLAY is not set (the wall needs an X11 display; for a headless check run it under xvfb-run)"
    );
    // Bevy's window and render plugins panic when the display or the GPU cannot be had; a wall
    // must exit with a clear error instead (its service manager restarts it).
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut app = App::new();
        // Pipelines are compiled in the frame that first needs them, not on a background task
        // over the next frames: the frame that reveals the first picture (see `reveal`) then
        // has Bevy's blit and egui's pass in it, and a pipeline needed later (the first alert
        // ring) costs that one frame its compile time instead of leaving the ring out of a few.
        let render = bevy::render::RenderPlugin { synchronous_pipeline_compilation: true, ..default() };
        app.add_plugins(DefaultPlugins.set(window).set(render)).add_plugins((EguiPlugin::default(), PanOrbitCameraPlugin)).add_plugins(wall);
        app.insert_resource(bevy::render::error_handler::RenderErrorHandler(on_render_error));
        app
    }));
    let mut app = built.map_err(|p| anyhow::anyhow!("cannot open the display or the GPU: {}", panic_text(p.as_ref())))?;
    let exit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || app.run()))
        .map_err(|p| anyhow::anyhow!("the display or the renderer failed: {}", panic_text(p.as_ref())))?;
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(AppFailed(code.get()).into()),
    }
}

/// The app ended with an error code of its own (3: a render error or a lost GPU device); the
/// process exits with it, so a service manager can tell.
#[derive(Debug, thiserror::Error)]
#[error("the app ended with error code {0} (see the log above)")]
pub struct AppFailed(pub u8);

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "unknown panic".into())
}

/// A lost GPU device (a driver reset, a GPU that went away) or any other render error ends the
/// app with an error code instead of a frozen picture: the service manager starts it afresh.
fn on_render_error(
    error: &bevy::render::error_handler::RenderError,
    main_world: &mut World,
    _render_world: &mut World,
) -> bevy::render::error_handler::RenderErrorPolicy {
    error!("render error {:?}: {}; exiting so the wall is restarted", error.ty, error.description);
    main_world.write_message(AppExit::from_code(3));
    bevy::render::error_handler::RenderErrorPolicy::StopRendering
}
