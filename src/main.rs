//! `situation-wall`: the wall app and its command-line tools.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::DateTime;
use clap::{Parser, Subcommand};

use situation_wall::app::{self, CapturePlan, RunOptions};
use situation_wall::config::{self, Config};
use situation_wall::geo::{Crs, LoadOptions};

/// Situation Wall: Chaoyang District's cyber-security risk as an extruded 3D map.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (default: config/default.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// GeoJSON map of the units, e.g. ../shared/maps/chaoyang_townships.geojson (default: the
    /// built-in schematic).
    #[arg(long)]
    map: Option<PathBuf>,
    /// Recording to replay (default: the built-in demo).
    #[arg(long)]
    recording: Option<PathBuf>,
    /// Follow this backend (base URL, e.g. http://127.0.0.1:8080) instead of the demo.
    #[arg(long)]
    live: Option<String>,
    /// With --live: also write the feed to this recording file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Replay speed: recording seconds per second (default from config, 60).
    #[arg(long)]
    speed: Option<f64>,
    /// Start the replay this many recording hours after its start (e.g. 14.5 for 14:30 on the
    /// demo's day).
    #[arg(long, default_value_t = 0.0)]
    seek_hours: f64,
    /// Display profile from config/: `wall` (borderless fullscreen, no cursor, tour, 4K/8K
    /// scale), `kiosk` (touch-first, locked) or `desktop` (windowed); laid over --config.
    #[arg(long)]
    profile: Option<String>,
    /// Start with this unit (id) selected and its drill-down open.
    #[arg(long)]
    select: Option<String>,
    /// UI language: `zh` (中文) or `en`; overrides `[ui] lang` (`L` switches while running).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Override the window size, e.g. 3840x2160 (logical pixels).
    #[arg(long, value_parser = parse_size)]
    window: Option<(u32, u32)>,
    /// Start the demo paused (Space plays).
    #[arg(long)]
    paused: bool,
    /// How units are drawn: `merged` (one mesh, per-unit storage buffer) or `palette` (one
    /// entity per unit); overrides `[render] mode`.
    #[arg(long, value_enum)]
    renderer: Option<RendererArg>,
    /// Frame-time harness: after --warmup frames, time this many, print mean, p99 and CPU ms
    /// per frame, and exit (see README, "Performance").
    #[arg(long)]
    frame_stats: Option<u32>,
    /// Frames after the picture is first shown (every unit drawn, pipelines compiled), before
    /// measuring.
    #[arg(long, default_value_t = 60)]
    warmup: u32,
    /// Also write the frame figures as JSON to this file.
    #[arg(long)]
    stats_out: Option<PathBuf>,
    /// Instead of the demo, rescore every unit every frame and raise two alerts a second.
    #[arg(long)]
    churn: bool,
    /// Draw no units, context or bureaus (the frame-time baseline).
    #[arg(long)]
    empty_scene: bool,
    /// Draw the map only: no panels, labels, banner, ticker or timeline (what deck.gl's
    /// benchmark page draws, for a renderer-to-renderer comparison; README, "Performance").
    #[arg(long)]
    map_only: bool,
    /// With --frame-stats: also time each render pass on the GPU (timestamp queries, Bevy's
    /// render diagnostics) and report their means as `passes` in the frame-stats line.
    #[arg(long)]
    pass_timings: bool,
    /// Soak: sample RSS, entity count and mesh and material asset counts into this CSV.
    #[arg(long)]
    soak_csv: Option<PathBuf>,
    /// Seconds between soak samples.
    #[arg(long, default_value_t = 5.0)]
    soak_sample_s: f64,
    /// Exit after this many wall-clock seconds.
    #[arg(long)]
    exit_after_s: Option<f64>,
    /// Render, save a PNG of the whole window to this file, and exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Frames to render after the picture is complete (pipelines compiled, fonts in place),
    /// before the screenshot.
    #[arg(long, default_value_t = 40)]
    frames: u32,
    /// Paint the glyph probe used by the render check.
    #[arg(long, hide = true)]
    glyph_probe: bool,
    /// Do not load the bundled CJK font (the render check's negative control).
    #[arg(long, hide = true)]
    no_cjk_font: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load a map and print the load report: units, areas in km², warnings and errors.
    /// Exits non-zero when no unit loads.
    CheckMap {
        /// GeoJSON FeatureCollection.
        file: PathBuf,
        /// Datum of the file.
        #[arg(long, value_enum, default_value = "wgs84")]
        crs: CrsArg,
        /// Property holding the unit id.
        #[arg(long, default_value = "code")]
        id_property: String,
        /// Property holding the name.
        #[arg(long, default_value = "name")]
        name_property: String,
        /// Also write each unit's top and wall triangles in the local plane (east, north
        /// metres) as JSON to this file.
        #[arg(long)]
        mesh_json: Option<PathBuf>,
    },
    /// The wall gateway: keep what the platform pushes to POST /api/v1/ingest (in --data DIR,
    /// or in memory) and serve it to the walls through /api/v1 (HTTP + Server-Sent Events).
    /// Without --data it plays the built-in demo (or --recording) as a reference backend.
    Serve {
        /// Recording to play through the ingest path (default without --data: the built-in
        /// demo; with --data: none).
        #[arg(long)]
        recording: Option<PathBuf>,
        /// Keep the data in DIR/gateway.sqlite3 (created when missing); default: in memory.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Address to listen on; loopback unless you mean it.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Recording seconds per second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Map whose units /units lists (default: the built-in schematic).
        #[arg(long)]
        map: Option<PathBuf>,
        /// A read token: this environment variable's value.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// An ingest token (may also read): this environment variable's value.
        #[arg(long, value_name = "VAR")]
        ingest_token_env: Option<String>,
        /// An operator token (may acknowledge alerts and read): this environment variable's value.
        #[arg(long, value_name = "VAR")]
        operator_token_env: Option<String>,
        /// Tokens file: lines `name scope token` (scope read, ingest or operator; # comments).
        #[arg(long, value_name = "FILE")]
        tokens: Option<PathBuf>,
        /// Most events kept for Last-Event-ID resumption.
        #[arg(long, default_value_t = 100_000)]
        retain_events: u64,
        /// Purge events and roll up raw scores older than this many days (not while playing a
        /// recording).
        #[arg(long, default_value_t = situation_wall::server::DEFAULT_RETENTION_DAYS)]
        retention_days: u32,
        /// Largest ingest body, MiB.
        #[arg(long, default_value_t = situation_wall::server::DEFAULT_MAX_BODY_MIB)]
        max_body_mib: usize,
        /// Most records in one ingested batch.
        #[arg(long, default_value_t = situation_wall::server::DEFAULT_MAX_BATCH)]
        max_batch: usize,
        /// Serve HTTPS with this PEM certificate chain (with --tls-key).
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Send an NDJSON file of ingest records to a gateway in batches, retrying failures;
    /// prints a summary and each refused line, and exits non-zero when a line was refused or
    /// a batch could not be delivered.
    Ingest {
        /// The gateway's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        /// Environment variable holding the ingest token.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// Records per batch.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// NDJSON file, or - for standard input.
        file: PathBuf,
    },
    /// Record a live backend's feed as a recording that demo mode and `serve` replay.
    Record {
        /// Backend base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        from: String,
        /// Output JSON Lines file.
        #[arg(long)]
        out: PathBuf,
        /// Stop after this many seconds (default: until interrupted; every line is flushed).
        #[arg(long)]
        seconds: Option<f64>,
    },
    /// Simulate a recording for the map's units (see docs/recording-format.md).
    Simulate {
        /// Random seed; the same seed gives the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated hours.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// Output JSON Lines file.
        #[arg(long)]
        out: PathBuf,
        /// Start time, RFC 3339.
        #[arg(long, default_value = "2026-11-28T00:00:00+08:00")]
        start: String,
        /// Map whose units to simulate (default: the built-in schematic).
        #[arg(long)]
        map: Option<PathBuf>,
        /// Point units (bureaus, 委办局) to simulate too; "" for none.
        #[arg(long, default_value = situation_wall::config::DEFAULT_BUREAUS)]
        bureaus: PathBuf,
    },
    /// Write a synthetic benchmark map: N community-sized (0.05–0.5 km²) star polygons of 12–40
    /// vertices, a tenth with a hole, with `code`, `name` and `score`; the same seed gives the
    /// same file.
    SynthMap {
        /// Number of units.
        #[arg(long)]
        units: usize,
        /// Random seed.
        #[arg(long, default_value_t = situation_wall::geo::synthetic::DEFAULT_SEED)]
        seed: u64,
        /// Output GeoJSON file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Time map loading, meshing and score updates and print a table (README, "Benchmarks").
    /// Default maps: the built-in schematic and synthetic maps of 1,000 and 10,000 units.
    Bench {
        /// A GeoJSON map to time (repeatable); replaces the default maps.
        #[arg(long)]
        map: Vec<PathBuf>,
        /// A synthetic map of this many units, generated in memory (repeatable); replaces the
        /// default maps.
        #[arg(long)]
        synthetic: Vec<usize>,
        /// Seed of the synthetic maps.
        #[arg(long, default_value_t = situation_wall::geo::synthetic::DEFAULT_SEED)]
        seed: u64,
        /// Timed iterations of load and mesh per map.
        #[arg(long, default_value_t = 5)]
        iterations: usize,
        /// Property holding the unit id (then `code`, `adcode`, Feature.id).
        #[arg(long, default_value = "code")]
        id_property: String,
        /// Also write the figures to this CSV file.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

/// Parses `WIDTHxHEIGHT`.
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(|| format!("{text}: expected WIDTHxHEIGHT, e.g. 3840x2160"))?;
    let parse = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{text}: {e}"));
    Ok((parse(w)?, parse(h)?))
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum RendererArg {
    Merged,
    Palette,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LangArg {
    Zh,
    En,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum CrsArg {
    Wgs84,
    Gcj02,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Print the error chain, skipping causes the message above already quotes.
            let mut text = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !text.contains(&c) {
                    text = format!("{text}: {c}");
                }
            }
            eprintln!("situation-wall: {text}");
            // The app's own code (3: a render error or a lost GPU) reaches the service manager.
            e.downcast_ref::<app::AppFailed>().map_or(ExitCode::FAILURE, |f| ExitCode::from(f.0))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::CheckMap { file, crs, id_property, name_property, mesh_json }) => {
            let crs = match crs {
                CrsArg::Wgs84 => Crs::Wgs84,
                CrsArg::Gcj02 => Crs::Gcj02,
            };
            let options = LoadOptions { id_property, name_property, crs, projection: None };
            let (report, loaded) = situation_wall::cli::check_map(&file, &options)?;
            print!("{report}");
            if let Some(out) = mesh_json {
                let json = situation_wall::cli::mesh_json(&file, &options)?;
                std::fs::write(&out, json).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
            }
            Ok(if loaded > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Some(Command::Simulate { seed, hours, out, start, map, bureaus }) => {
            let start = DateTime::parse_from_rfc3339(&start).map_err(|e| anyhow::anyhow!("--start {start}: {e}"))?;
            anyhow::ensure!((1..=24 * 366).contains(&hours), "--hours must be 1 to 8784 (a year)");
            let map = map.unwrap_or_else(|| config::resolve(config::DEFAULT_MAP.as_ref()));
            let bureaus = (!bureaus.as_os_str().is_empty()).then(|| config::resolve(&bureaus));
            let n = situation_wall::cli::simulate_to_file(&map, bureaus.as_deref(), seed, hours, start, &out)?;
            println!("wrote {n} records to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::SynthMap { units, seed, out }) => {
            let map = situation_wall::geo::synthetic::synthetic_map(units, seed);
            std::fs::write(&out, &map.geojson).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
            let s = &map.stats;
            println!("wrote {} units ({} outer vertices, {} holes) to {}", s.units, s.outer_vertices, s.holes, out.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Bench { map, synthetic, seed, iterations, id_property, csv }) => {
            use situation_wall::bench::{self, BenchOptions, MapSource};
            anyhow::ensure!(iterations >= 1, "--iterations must be at least 1");
            let mut sources: Vec<MapSource> = map.into_iter().map(MapSource::File).collect();
            sources.extend(synthetic.into_iter().map(|units| MapSource::Synthetic { units, seed }));
            if sources.is_empty() {
                sources = vec![
                    MapSource::File(config::resolve(config::DEFAULT_MAP.as_ref())),
                    MapSource::Synthetic { units: 1_000, seed },
                    MapSource::Synthetic { units: 10_000, seed },
                ];
            }
            let options = BenchOptions { iterations, load: LoadOptions { id_property, ..LoadOptions::default() }, ..BenchOptions::default() };
            let report = bench::run(&sources, &options)?;
            print!("{}", bench::render_table(&report));
            if let Some(path) = csv {
                std::fs::write(&path, bench::render_csv(&report)).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Record { from, out, seconds }) => {
            let config = Config::load(cli.config.as_deref())?;
            let outcome = situation_wall::cli::record::record(&config, &from, &out, seconds)?;
            println!("recorded {} messages to {}", outcome.written, out.display());
            if outcome.written == 0 {
                eprintln!("record: nothing was recorded{}", if outcome.refused { " (the server refused our credentials)" } else { "" });
                return Ok(ExitCode::FAILURE);
            }
            if outcome.feed_errors > 0 {
                eprintln!("record: the feed client failed {} time(s) and was restarted; the recording may have gaps", outcome.feed_errors);
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Serve {
            recording,
            data,
            addr,
            speed,
            map,
            token_env,
            ingest_token_env,
            operator_token_env,
            tokens,
            retain_events,
            retention_days,
            max_body_mib,
            max_batch,
            tls_cert,
            tls_key,
        }) => {
            situation_wall::cli::serve::serve(situation_wall::cli::serve::ServeArgs {
                recording,
                data,
                addr,
                speed,
                map,
                token_env,
                ingest_token_env,
                operator_token_env,
                tokens_file: tokens,
                retain_events,
                retention_days,
                max_body_mib,
                max_batch,
                tls: tls_cert.zip(tls_key),
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Ingest { url, token_env, batch, file }) => {
            use situation_wall::cli::ingest::{IngestArgs, ingest};
            let mut args = IngestArgs::new(&url, file);
            args.batch = batch;
            if let Some(var) = token_env {
                args.token = Some(situation_wall::cli::serve::token_from_env(&var, "--token-env")?);
            }
            let outcome = ingest(&args)?;
            for r in &outcome.rejected {
                eprintln!("line {}: {}", r.line, r.reason);
            }
            println!("{}", outcome.summary());
            Ok(if outcome.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        None => {
            app::run(wall_options(cli)?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The wall's options from the command line and the configuration (with its profile).
fn wall_options(cli: Cli) -> anyhow::Result<RunOptions> {
    let mut config = match &cli.profile {
        Some(p) => Config::load_with_profile(cli.config.as_deref(), p)?,
        None => Config::load(cli.config.as_deref())?,
    };
    if let Some(r) = cli.renderer {
        config.render.mode = match r {
            RendererArg::Merged => config::RenderMode::Merged,
            RendererArg::Palette => config::RenderMode::Palette,
        };
    }
    if let Some(lang) = cli.lang {
        config.ui.lang = match lang {
            LangArg::Zh => config::Lang::Zh,
            LangArg::En => config::Lang::En,
        };
    }
    if let Some((width, height)) = cli.window {
        let (max, max_side) = (config::MAX_WINDOW_SIDE, config::MAX_WINDOW_SIDE);
        anyhow::ensure!(width >= 320 && height >= 240 && width <= max && height <= max_side, "--window must be 320x240 to {max}x{max_side}");
        config.window.width = width;
        config.window.height = height;
    }
    let recording = cli.recording.unwrap_or_else(|| config::resolve(&config.demo.recording));
    let speed = cli.speed.unwrap_or(config.demo.speed);
    anyhow::ensure!(speed.is_finite() && speed > 0.0 && speed <= config::MAX_SPEED, "--speed must be above 0 and at most {}", config::MAX_SPEED);
    let capture = cli.screenshot.map(|path| CapturePlan { path, frames: cli.frames, glyph_probe: cli.glyph_probe });
    anyhow::ensure!(cli.seek_hours.is_finite() && cli.seek_hours >= 0.0, "--seek-hours must be >= 0");
    let url = cli.live.clone().unwrap_or_else(|| config.live.url.clone());
    let live = if url.is_empty() { None } else { Some(config.live.options(&url)?) };
    Ok(RunOptions {
        config,
        map: cli.map,
        recording,
        live,
        record: cli.record,
        speed,
        seek_s: cli.seek_hours * 3600.0,
        capture,
        cjk_font: !cli.no_cjk_font,
        select: cli.select,
        paused: cli.paused,
        empty_scene: cli.empty_scene,
        perf: app::measure::PerfOptions {
            frame_stats: cli.frame_stats,
            warmup: cli.warmup,
            stats_out: cli.stats_out,
            churn: cli.churn,
            soak_csv: cli.soak_csv,
            soak_sample_s: cli.soak_sample_s,
            exit_after_s: cli.exit_after_s,
            pass_timings: cli.pass_timings,
            map_only: cli.map_only,
        },
    })
}
