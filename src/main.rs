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
    /// Replay speed: recording seconds per second (default from config, 60).
    #[arg(long)]
    speed: Option<f64>,
    /// Start the replay this many recording hours after its start (e.g. 14.5 for 14:30 on the
    /// demo's day).
    #[arg(long, default_value_t = 0.0)]
    seek_hours: f64,
    /// Render, save a PNG of the whole window to this file, and exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Frames to render before the screenshot.
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
    },
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
            eprintln!("situation-wall: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::CheckMap { file, crs, id_property, name_property }) => {
            let crs = match crs {
                CrsArg::Wgs84 => Crs::Wgs84,
                CrsArg::Gcj02 => Crs::Gcj02,
            };
            let (report, loaded) = situation_wall::cli::check_map(&file, &LoadOptions { id_property, name_property, crs, projection: None })?;
            print!("{report}");
            Ok(if loaded > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Some(Command::Simulate { seed, hours, out, start, map }) => {
            let start = DateTime::parse_from_rfc3339(&start).map_err(|e| anyhow::anyhow!("--start {start}: {e}"))?;
            let map = map.unwrap_or_else(|| config::resolve(config::DEFAULT_MAP.as_ref()));
            let n = situation_wall::cli::simulate_to_file(&map, seed, hours, start, &out)?;
            println!("wrote {n} records to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let config = Config::load(cli.config.as_deref())?;
            let recording = cli.recording.unwrap_or_else(|| config::resolve(&config.demo.recording));
            let speed = cli.speed.unwrap_or(config.demo.speed);
            anyhow::ensure!(speed.is_finite() && speed > 0.0, "--speed must be a positive number");
            let capture = cli.screenshot.map(|path| CapturePlan { path, frames: cli.frames, glyph_probe: cli.glyph_probe });
            anyhow::ensure!(cli.seek_hours.is_finite() && cli.seek_hours >= 0.0, "--seek-hours must be >= 0");
            app::run(RunOptions { config, map: cli.map, recording, speed, seek_s: cli.seek_hours * 3600.0, capture, cjk_font: !cli.no_cjk_font })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
