//! Measuring the wall: the frame-time harness (`--frame-stats`), the synthetic churn feed
//! (`--churn`: every unit rescored every frame, alerts twice a second), the soak sampler
//! (`--soak-csv`) and the exit timer (`--exit-after-s`). None of it runs in production.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use bevy::prelude::*;
use bevy::render::storage::ShaderBuffer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::alerts::Ripple;
use super::handoff::Handoff;
use super::map::MapResource;
use super::picture::{Picture, START};
use super::reveal::FirstPicture;
use super::ring_material::RingMaterial;
use super::schedule::AppSystems;
use super::unit_material::UnitMaterial;
use crate::model::{Alert, AlertStatus, RiskScore, Severity};

/// What to measure, from the command line.
#[derive(Clone, Debug, Default)]
pub struct PerfOptions {
    /// Measure this many frames after the warm-up, print the figures and exit.
    pub frame_stats: Option<u32>,
    /// Frames rendered after the picture is first shown, before measuring.
    pub warmup: u32,
    /// Also write the frame figures as JSON here.
    pub stats_out: Option<PathBuf>,
    /// Rescore every unit every frame and raise two alerts a second, instead of the demo.
    pub churn: bool,
    /// Sample memory and entity and asset counts into this CSV.
    pub soak_csv: Option<PathBuf>,
    /// Seconds between soak samples.
    pub soak_sample_s: f64,
    /// Exit after this many seconds of wall-clock time.
    pub exit_after_s: Option<f64>,
    /// Time each render pass on the GPU (Bevy's render diagnostics) for the frame figures.
    pub pass_timings: bool,
    /// Run no UI system (panels, labels, banner, ticker, timeline): the map alone, as deck.gl's
    /// benchmark page draws it. egui's pass then has nothing to draw.
    pub map_only: bool,
}

impl PerfOptions {
    /// Whether every frame must be drawn (a measurement is running).
    pub fn measuring(&self) -> bool {
        self.frame_stats.is_some() || self.soak_csv.is_some() || self.churn
    }
}

/// The measurements of a run, with the soak file already created.
pub struct Measurement {
    options: PerfOptions,
    soak: Option<std::io::BufWriter<std::fs::File>>,
}

impl Measurement {
    /// Prepares `options`' measurements.
    ///
    /// # Errors
    /// When the soak CSV cannot be created.
    pub fn open(options: PerfOptions) -> anyhow::Result<Self> {
        let soak = match &options.soak_csv {
            Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("--soak-csv: cannot create {}", path.display()))?)),
            None => None,
        };
        Ok(Self { options, soak })
    }
}

pub(super) fn plugin(measurement: Measurement) -> impl Fn(&mut App) {
    let handoff = Handoff::new(measurement);
    move |app: &mut App| {
        let Some(Measurement { options, soak }) = handoff.take() else { return };
        if options.churn {
            app.insert_resource(Churn { rng: ChaCha8Rng::seed_from_u64(7), next_alert_s: 0.0, alerts: 0 }).add_systems(Update, churn.in_set(AppSystems::Feed));
        }
        if options.pass_timings {
            app.add_plugins(bevy::render::diagnostic::RenderDiagnosticsPlugin);
        }
        if options.map_only {
            app.configure_sets(bevy_egui::EguiPrimaryContextPass, AppSystems::Ui.run_if(|| false));
        }
        if let Some(frames) = options.frame_stats {
            app.insert_resource(FrameStats { warmup: options.warmup, frames, out: options.stats_out.clone(), ..default() })
                .add_systems(Last, frame_stats.in_set(AppSystems::Diagnostics));
        }
        if let Some(out) = soak {
            app.insert_resource(Soak { out, every_s: options.soak_sample_s.max(0.1), next_s: 0.0, start: Instant::now() })
                .add_systems(Last, soak_sample.in_set(AppSystems::Diagnostics));
        }
        if let Some(after) = options.exit_after_s {
            let start = Instant::now();
            app.add_systems(
                Last,
                (move |mut exit: MessageWriter<AppExit>| {
                    if start.elapsed().as_secs_f64() >= after {
                        exit.write(AppExit::Success);
                    }
                })
                .in_set(AppSystems::Diagnostics),
            );
        }
    }
}

/// The churn feed's state.
#[derive(Resource)]
pub struct Churn {
    rng: ChaCha8Rng,
    next_alert_s: f64,
    alerts: u64,
}

/// Rescores every map unit and bureau every frame (a random walk) and raises an alert every
/// half second on a random unit, with severities cycling through all four.
fn churn(time: Res<Time>, map: Res<MapResource>, mut churn: ResMut<Churn>, mut picture: ResMut<Picture>) {
    let now = chrono::Utc::now().with_timezone(&crate::model::beijing());
    let churn = &mut *churn;
    let state = std::sync::Arc::make_mut(&mut picture.state);
    for id in map.ids() {
        let base = state.score(id).map_or_else(|| churn.rng.random_range(10.0..90.0), |s| s.total);
        let total = (base + churn.rng.random_range(-3.0f32..3.0)).clamp(0.0, 100.0);
        let _ = state.apply_score(id, now, RiskScore { total, threat: total, asset: total, compliance: total });
    }
    let t = time.elapsed_secs_f64();
    if t >= churn.next_alert_s && !map.data.units.is_empty() {
        churn.next_alert_s = t + 0.5;
        churn.alerts += 1;
        let unit = &map.data.units[churn.rng.random_range(0..map.data.units.len())];
        let severity = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical][(churn.alerts % 4) as usize];
        let _ = state.apply_alert(Alert {
            id: format!("churn-{}", churn.alerts),
            unit: unit.id.clone(),
            time: now,
            severity,
            category: "churn".into(),
            title: "synthetic".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        });
    }
    picture.clock = Some(now);
    picture.generation += 1;
}

/// The frame-time harness's samples.
#[derive(Resource, Default)]
pub struct FrameStats {
    warmup: u32,
    frames: u32,
    out: Option<PathBuf>,
    seen: u32,
    last: Option<Instant>,
    cpu_start: Option<f64>,
    wall_start: Option<Instant>,
    samples_ms: Vec<f64>,
    first_data_ms: Option<f64>,
}

/// This process's CPU time so far (user + system), seconds, from /proc/self/stat; `None`
/// where that file does not exist.
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel reports clock ticks of USER_HZ, 100 on every Linux architecture we ship to.
    Some(ticks / 100.0)
}

/// This process's resident memory, KiB, from /proc/self/status.
pub fn process_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Summary of a frame-time run.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct FrameSummary {
    /// Frames measured.
    pub frames: usize,
    /// Mean frame time, ms.
    pub mean_ms: f64,
    /// 99th-percentile frame time (nearest rank), ms.
    pub p99_ms: f64,
    /// Frames per second over the run.
    pub fps: f64,
    /// CPU time of the whole process per frame, ms (all threads, so it can exceed the frame
    /// time on several cores).
    pub cpu_ms_per_frame: f64,
    /// From the app's start (before the map loads) to the end of the first frame that drew
    /// data, ms; 0 when not known.
    pub first_data_frame_ms: f64,
    /// Resident memory at the end, MiB.
    pub rss_mib: f64,
    /// With `--pass-timings`: each render pass's mean time over the measured frames, ms, by
    /// Bevy's diagnostic path (`render/main_opaque_pass_3d/elapsed_gpu`, …); empty without.
    pub passes: std::collections::BTreeMap<String, f64>,
}

/// Mean and nearest-rank 99th percentile of frame times (ms), with the CPU seconds and wall
/// seconds the frames took.
pub fn summarise(samples_ms: &[f64], cpu_s: f64, wall_s: f64) -> FrameSummary {
    let n = samples_ms.len().max(1);
    let mut sorted = samples_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
    FrameSummary {
        frames: samples_ms.len(),
        mean_ms: samples_ms.iter().sum::<f64>() / n as f64,
        p99_ms: sorted.get(rank - 1).copied().unwrap_or(0.0),
        fps: samples_ms.len() as f64 / wall_s.max(1e-9),
        cpu_ms_per_frame: cpu_s * 1000.0 / n as f64,
        first_data_frame_ms: 0.0,
        rss_mib: process_rss_kib().map_or(0.0, |k| k as f64 / 1024.0),
        passes: Default::default(),
    }
}

fn frame_stats(
    mut stats: ResMut<FrameStats>,
    picture: Res<Picture>,
    first: Option<Res<FirstPicture>>,
    diagnostics: Option<Res<bevy::diagnostic::DiagnosticsStore>>,
    mut exit: MessageWriter<AppExit>,
) {
    let now = Instant::now();
    if stats.first_data_ms.is_none() && picture.generation > 0 {
        stats.first_data_ms = START.get().map(|s| now.duration_since(*s).as_secs_f64() * 1000.0);
    }
    // Frames before the picture is shown draw no window and may not have the map yet (a
    // 100,000-unit mesh took longer than a 30-frame warm-up): the warm-up counts from the
    // first frame shown.
    if first.is_some_and(|f| !f.shown) {
        return;
    }
    stats.seen += 1;
    if stats.seen == stats.warmup.max(1) {
        stats.last = Some(now);
        stats.wall_start = Some(now);
        stats.cpu_start = process_cpu_s();
        return;
    }
    let Some(last) = stats.last else { return };
    stats.samples_ms.push(now.duration_since(last).as_secs_f64() * 1000.0);
    stats.last = Some(now);
    if stats.samples_ms.len() as u32 >= stats.frames {
        let cpu = match (stats.cpu_start, process_cpu_s()) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        let wall = stats.wall_start.map_or(0.0, |w| now.duration_since(w).as_secs_f64());
        let mut summary = summarise(&stats.samples_ms, cpu, wall);
        summary.first_data_frame_ms = stats.first_data_ms.unwrap_or(0.0);
        // The render passes' times, as far as the diagnostics have them (their history holds
        // the last 120 frames by default; the render world's figures lag a frame or two).
        if let Some(store) = &diagnostics {
            for d in store.iter().filter(|d| d.path().as_str().starts_with("render/")) {
                if let Some(mean) = d.average() {
                    summary.passes.insert(d.path().as_str().to_owned(), mean);
                }
            }
        }
        match serde_json::to_string(&summary) {
            Ok(json) => {
                println!("frame-stats {json}");
                if let Some(path) = &stats.out
                    && let Err(e) = std::fs::write(path, &json)
                {
                    error!("cannot write {}: {e}", path.display());
                }
            }
            Err(e) => error!("frame stats: {e}"),
        }
        exit.write(AppExit::Success);
    }
}

/// The soak sampler.
#[derive(Resource)]
pub struct Soak {
    out: std::io::BufWriter<std::fs::File>,
    every_s: f64,
    next_s: f64,
    start: Instant,
}

/// Header of the soak CSV.
pub const SOAK_HEADER: &str =
    "elapsed_s,data_time,rss_kib,entities,meshes,standard_materials,unit_materials,shader_buffers,ripples,alerts_seen,frames,ring_materials";

#[allow(clippy::too_many_arguments)]
fn soak_sample(
    mut soak: ResMut<Soak>,
    entities: Query<Entity>,
    meshes: Res<Assets<Mesh>>,
    materials: Res<Assets<StandardMaterial>>,
    unit_materials: Res<Assets<UnitMaterial>>,
    buffers: Res<Assets<ShaderBuffer>>,
    ring_materials: Option<Res<Assets<RingMaterial>>>,
    ripples: Query<(), With<Ripple>>,
    picture: Res<Picture>,
    mut frames: Local<u64>,
) {
    *frames += 1;
    let elapsed = soak.start.elapsed().as_secs_f64();
    if *frames == 1 {
        let _ = writeln!(soak.out, "{SOAK_HEADER}");
    }
    if elapsed < soak.next_s {
        return;
    }
    soak.next_s = elapsed + soak.every_s;
    let clock = picture.clock.map(|c| c.to_rfc3339()).unwrap_or_default();
    let row = format!(
        "{elapsed:.1},{clock},{},{},{},{},{},{},{},{},{},{}",
        process_rss_kib().unwrap_or(0),
        entities.iter().count(),
        meshes.len(),
        materials.len(),
        unit_materials.len(),
        buffers.len(),
        ripples.iter().count(),
        picture.state.alert_count(),
        *frames,
        ring_materials.map_or(0, |m| m.len())
    );
    let _ = writeln!(soak.out, "{row}");
    let _ = soak.out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_summary_takes_mean_and_nearest_rank_p99() {
        let mut samples: Vec<f64> = (1..=100).map(f64::from).collect();
        samples.reverse();
        let s = summarise(&samples, 2.0, 10.0);
        assert_eq!(s.frames, 100);
        assert_eq!(s.mean_ms, 50.5);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.fps, 10.0);
        assert_eq!(s.cpu_ms_per_frame, 20.0);
        // The kernel counts CPU time in 10 ms ticks: a test run alone may not have used one
        // yet, so spin for 50 ms of it first.
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed().as_millis() < 50 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(process_cpu_s().is_some_and(|c| c > 0.0));
        assert!(process_rss_kib().is_some_and(|r| r > 1000));
    }

    #[test]
    fn the_warm_up_counts_from_the_first_frame_shown() {
        let mut app = App::new();
        app.insert_resource(FrameStats { warmup: 2, frames: 3, ..default() })
            .insert_resource(Picture::new(super::super::picture::Source::Demo { speed: 1.0 }))
            .init_resource::<FirstPicture>()
            .add_systems(Update, frame_stats);
        let exits = |app: &mut App| app.world_mut().resource_mut::<Messages<AppExit>>().drain().count();
        // Not shown yet (the map still coming): nothing counts.
        for _ in 0..5 {
            app.update();
        }
        let stats = app.world().resource::<FrameStats>();
        assert_eq!((stats.seen, stats.samples_ms.len()), (0, 0));
        app.world_mut().resource_mut::<FirstPicture>().shown = true;
        // Two warm-up frames, then three measured, then the figures and the exit.
        app.update();
        app.update();
        assert_eq!(app.world().resource::<FrameStats>().samples_ms.len(), 0);
        app.update();
        app.update();
        assert_eq!((app.world().resource::<FrameStats>().samples_ms.len(), exits(&mut app)), (2, 0));
        app.update();
        assert_eq!((app.world().resource::<FrameStats>().samples_ms.len(), exits(&mut app)), (3, 1));
    }

    #[test]
    fn an_uncreatable_soak_file_is_an_error_naming_it() {
        let options = PerfOptions { soak_csv: Some("/nonexistent-dir/soak.csv".into()), ..PerfOptions::default() };
        let err = Measurement::open(options).err().expect("cannot create a file in a missing directory").to_string();
        assert!(err.contains("--soak-csv") && err.contains("/nonexistent-dir/soak.csv"), "{err}");
    }
}
