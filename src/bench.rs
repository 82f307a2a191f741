//! `situation-wall bench`: timings of map loading, meshing and score updates, measured with
//! [`std::time::Instant`] in whatever profile the binary was built with (the project builds
//! only the dev profile, opt-level 1).
//!
//! For each map it times, over K iterations (median and minimum, ms):
//! * **parse**: GeoJSON text → JSON tree (`serde_json::from_str`, the loader's first step);
//! * **load**: [`load_geojson_str`] as a whole: parse, per-feature geometry reading and
//!   checks, projection, orientation and validation (the stages after parsing are not
//!   separable through the loader's API, so load includes parse);
//! * **mesh**: [`build_prism`] for every unit (earcut, area check, walls);
//! * **total**: load + mesh, timed together in one pass.
//!
//! Then the cost of one score update when 1, 100 and all units change, in µs (median of many
//! repetitions), the way the app spends it: `apply_score` on a [`RiskState`] whose units hold a
//! full day of history, then, as `app::scene` does on every new picture, each unit reads its
//! score (where it found it last, `RiskState::score_hinted`) and retargets its [`Transition`],
//! and every transition steps once (one frame).
//! Last, the cost of cloning that whole state: a measure of its size (demo mode once cloned it
//! per update; it now shares it with the replay).
//!
//! The text that is loaded is already in memory: reading the file is not timed.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset, TimeDelta};
use smol_str::SmolStr;

use crate::geo::synthetic::synthetic_map;
use crate::geo::{LoadOptions, build_prism, load_geojson_str};
use crate::model::{HISTORY_LEN, RiskScore, RiskState, Transition};

/// Where a benchmark map comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum MapSource {
    /// A GeoJSON file, read once before timing.
    File(PathBuf),
    /// A synthetic map generated in memory ([`crate::geo::synthetic`]).
    Synthetic {
        /// Number of units.
        units: usize,
        /// Generator seed.
        seed: u64,
    },
}

impl MapSource {
    /// A short label: the path as given, or `synthetic-N`.
    pub fn label(&self) -> String {
        match self {
            MapSource::File(p) => p.display().to_string(),
            MapSource::Synthetic { units, seed } => format!("synthetic-{units} (seed {seed})"),
        }
    }
}

/// How to run the benchmarks.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchOptions {
    /// Timed iterations of parse, load and mesh per map (at least 1).
    pub iterations: usize,
    /// How to read the maps (id property, datum).
    pub load: LoadOptions,
    /// Time spent repeating each score-update case (repetitions stop at whichever comes first
    /// of this and 100 000; at least 21 run).
    pub update_budget: Duration,
    /// Numbers of changed units per update (clamped to the map's unit count, duplicates
    /// dropped).
    pub changed: Vec<usize>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self { iterations: 5, load: LoadOptions::default(), update_budget: Duration::from_millis(400), changed: vec![1, 100, usize::MAX] }
    }
}

/// Median and minimum of a set of timings, in milliseconds (or µs where the field says).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    /// Median, ms (µs in [`UpdateBench`] and [`CloneBench`]).
    pub median: f64,
    /// Minimum, same unit as `median`.
    pub min: f64,
}

impl Timing {
    /// Median and minimum of `samples` (zeros when empty).
    pub fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
        Self { median, min: s[0] }
    }
}

/// Loading and meshing figures for one map.
#[derive(Clone, Debug, PartialEq)]
pub struct MapBench {
    /// Map label (path or `synthetic-N`).
    pub label: String,
    /// Size of the GeoJSON text, bytes.
    pub bytes: usize,
    /// Features in the file.
    pub features: usize,
    /// Units that loaded.
    pub units: usize,
    /// Warnings and errors the loader reported.
    pub issues: usize,
    /// Holes over all units.
    pub holes: usize,
    /// Ring vertices over all units (distinct positions, not the closing repeat).
    pub ring_vertices: usize,
    /// Mesh vertices over all prisms (walls have their own four per edge).
    pub mesh_vertices: usize,
    /// Mesh triangles over all prisms (top caps and walls).
    pub triangles: usize,
    /// Parse time, ms.
    pub parse: Timing,
    /// Whole-loader time (including its parse), ms.
    pub load: Timing,
    /// Triangulation and prism building for every unit, ms.
    pub mesh: Timing,
    /// Load + mesh timed together, ms.
    pub total: Timing,
    /// Iterations timed.
    pub iterations: usize,
}

/// The cost of one score update, in µs.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateBench {
    /// Map label.
    pub label: String,
    /// Units on the map.
    pub units: usize,
    /// Units whose score changed in each update.
    pub changed: usize,
    /// Repetitions timed.
    pub repetitions: usize,
    /// `RiskState::apply_score` for the changed units, µs.
    pub apply: Timing,
    /// Every unit reads its score (`RiskState::score_hinted`) and retargets its transition, µs.
    pub retarget: Timing,
    /// One step of every unit's transition, µs.
    pub step: Timing,
    /// The three together, µs.
    pub total: Timing,
}

/// The cost of cloning the whole risk state (a measure of its size), µs.
#[derive(Clone, Debug, PartialEq)]
pub struct CloneBench {
    /// Map label.
    pub label: String,
    /// Units in the state.
    pub units: usize,
    /// History points per unit.
    pub history: usize,
    /// Heap bytes every unit's history holds once full ([`crate::model::History::heap_bytes`]
    /// summed), MB (10^6 bytes).
    pub history_mb: f64,
    /// Repetitions timed.
    pub repetitions: usize,
    /// One `RiskState::clone`, µs.
    pub clone: Timing,
}

/// Everything one `bench` run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// Loading and meshing, one per map.
    pub maps: Vec<MapBench>,
    /// Score updates, per map and number of changed units.
    pub updates: Vec<UpdateBench>,
    /// State clones, one per map.
    pub clones: Vec<CloneBench>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times parse, load and mesh of one map's text over `options.iterations` iterations, and
/// returns the figures and the unit ids in map order.
///
/// # Errors
/// When the text is not a FeatureCollection or no unit loads.
pub fn bench_map(label: &str, text: &str, options: &BenchOptions) -> anyhow::Result<(MapBench, Vec<String>)> {
    let iterations = options.iterations.max(1);
    let (mut parse, mut load, mut mesh, mut total) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut figures = None;
    let mut ids = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        let tree: serde_json::Value = serde_json::from_str(text).with_context(|| format!("{label}: not JSON"))?;
        parse.push(ms(t.elapsed()));
        drop(black_box(tree));

        let t0 = Instant::now();
        let map = load_geojson_str(text, &options.load).with_context(|| format!("loading {label}"))?;
        let t1 = Instant::now();
        let prisms: Vec<_> = map.units.iter().map(|u| build_prism(&u.polygons).0).collect();
        let t2 = Instant::now();
        load.push(ms(t1 - t0));
        mesh.push(ms(t2 - t1));
        total.push(ms(t2 - t0));
        if figures.is_none() {
            anyhow::ensure!(
                !map.units.is_empty(),
                "{label}: no unit loaded from {} features (first issue: {}); is the id in another property? (--id-property)",
                map.report.features_read,
                map.report.issues.first().map(ToString::to_string).unwrap_or_default()
            );
            let rings = map.units.iter().flat_map(|u| &u.polygons).flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()));
            let ring_vertices = rings.map(|r| r.0.len().saturating_sub(1)).sum();
            figures = Some(MapBench {
                label: label.to_owned(),
                bytes: text.len(),
                features: map.report.features_read,
                units: map.units.len(),
                issues: map.report.issues.len(),
                holes: map.units.iter().flat_map(|u| &u.polygons).map(|p| p.interiors().len()).sum(),
                ring_vertices,
                mesh_vertices: prisms.iter().map(|p| p.positions.len()).sum(),
                triangles: prisms.iter().map(|p| p.indices.len() / 3).sum(),
                parse: Timing::default(),
                load: Timing::default(),
                mesh: Timing::default(),
                total: Timing::default(),
                iterations,
            });
            ids = map.units.iter().map(|u| u.id.clone()).collect();
        }
        drop(black_box(prisms));
        drop(black_box(map));
    }
    let mut f = figures.expect("at least one iteration");
    f.parse = Timing::of(&parse);
    f.load = Timing::of(&load);
    f.mesh = Timing::of(&mesh);
    f.total = Timing::of(&total);
    Ok((f, ids))
}

/// A score whose every part is `total` (0–100).
fn flat_score(total: f32) -> RiskScore {
    RiskScore { total, threat: total, asset: total, compliance: total }
}

/// A deterministic score 0–99.9 for update `rep`, changed unit `j`.
fn score_for(rep: usize, j: usize) -> f32 {
    ((rep * 37 + j * 11) % 1000) as f32 / 10.0
}

/// A risk state in which every unit of `ids` has a full day of history
/// ([`HISTORY_LEN`] scores, five minutes apart), and the time after its last entry.
fn state_with_history(ids: &[String]) -> (RiskState, DateTime<FixedOffset>) {
    let start = DateTime::parse_from_rfc3339("2026-11-28T00:00:00+08:00").expect("a valid time");
    let mut state = RiskState::new();
    for h in 0..HISTORY_LEN {
        let at = start + TimeDelta::seconds(300 * h as i64);
        for (j, id) in ids.iter().enumerate() {
            state.apply_score(id, at, flat_score(score_for(h, j))).expect("a valid, newer score");
        }
    }
    (state, start + TimeDelta::seconds(300 * HISTORY_LEN as i64))
}

/// Repeats `f(rep)` until `budget` is spent (at least 21 and at most 100 000 times).
fn repeat(budget: Duration, mut f: impl FnMut(usize)) -> usize {
    let start = Instant::now();
    let mut rep = 0;
    while rep < 21 || (rep < 100_000 && start.elapsed() < budget) {
        f(rep);
        rep += 1;
    }
    rep
}

/// Times score updates of `changed` units out of `ids` (see the module documentation).
pub fn bench_updates(label: &str, ids: &[String], changed: usize, budget: Duration) -> UpdateBench {
    let n = ids.len();
    let changed = changed.min(n);
    let (mut state, mut at) = state_with_history(ids);
    // The ids as the wall holds them (`UnitView::id`: inline, beside the unit), not one heap
    // string each: a pass over 10,000 scattered strings measures cache misses the wall never
    // has. A feed's update brings its ids freshly parsed, so they are in cache too.
    let ids: Vec<SmolStr> = ids.iter().map(SmolStr::new).collect();
    let mut transitions = vec![Transition::default(); n];
    // Each unit's place in the state, as the wall's units keep it (`UnitView::state_slot`).
    let mut slots = vec![0; n];
    for ((t, id), slot) in transitions.iter_mut().zip(&ids).zip(&mut slots) {
        t.retarget(state.score_hinted(id, slot).map(|s| s.total));
        t.step(1.0, 0.8);
    }
    let ease_s = 0.8;
    let dt = 1.0 / 60.0;
    let (mut apply, mut retarget, mut step, mut total) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let repetitions = repeat(budget, |rep| {
        // One history step on: each update adds a point and drops the oldest (the worst case;
        // updates within one step replace the step's point instead).
        at += TimeDelta::seconds(crate::model::HISTORY_STEP_S);
        let first = rep * changed;
        let t0 = Instant::now();
        for j in 0..changed {
            let id = &ids[(first + j) % n];
            black_box(state.apply_score(id, at, flat_score(score_for(rep + HISTORY_LEN, j))).is_ok());
        }
        let t1 = Instant::now();
        for ((t, id), slot) in transitions.iter_mut().zip(&ids).zip(&mut slots) {
            t.retarget(state.score_hinted(id, slot).map(|s| s.total));
        }
        let t2 = Instant::now();
        for t in &mut transitions {
            black_box(t.step(dt, ease_s));
        }
        let t3 = Instant::now();
        apply.push(us(t1 - t0));
        retarget.push(us(t2 - t1));
        step.push(us(t3 - t2));
        total.push(us(t3 - t0));
    });
    UpdateBench {
        label: label.to_owned(),
        units: n,
        changed,
        repetitions,
        apply: Timing::of(&apply),
        retarget: Timing::of(&retarget),
        step: Timing::of(&step),
        total: Timing::of(&total),
    }
}

/// Times cloning a risk state of `ids` with full histories.
pub fn bench_clone(label: &str, ids: &[String], budget: Duration) -> CloneBench {
    let (state, _) = state_with_history(ids);
    let mut samples = Vec::new();
    let repetitions = repeat(budget, |_| {
        let t = Instant::now();
        let copy = state.clone();
        samples.push(us(t.elapsed()));
        drop(black_box(copy));
    });
    let history_mb = state.units().map(|(_, u)| u.history.heap_bytes()).sum::<usize>() as f64 / 1e6;
    CloneBench { label: label.to_owned(), units: ids.len(), history: HISTORY_LEN, history_mb, repetitions, clone: Timing::of(&samples) }
}

/// Runs every benchmark on every map, printing a line to stderr as each map starts.
///
/// # Errors
/// When a map file cannot be read or loads no unit.
pub fn run(sources: &[MapSource], options: &BenchOptions) -> anyhow::Result<BenchReport> {
    let mut report = BenchReport { maps: Vec::new(), updates: Vec::new(), clones: Vec::new() };
    for source in sources {
        let label = source.label();
        eprintln!("bench: {label}");
        let text = match source {
            MapSource::File(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            MapSource::Synthetic { units, seed } => synthetic_map(*units, *seed).geojson,
        };
        let (figures, ids) = bench_map(&label, &text, options)?;
        drop(text);
        report.maps.push(figures);
        let mut counts: Vec<usize> = options.changed.iter().map(|&c| c.min(ids.len())).collect();
        counts.dedup();
        for changed in counts {
            report.updates.push(bench_updates(&label, &ids, changed, options.update_budget));
        }
        report.clones.push(bench_clone(&label, &ids, options.update_budget));
    }
    Ok(report)
}

/// "median/min" with `decimals` decimals.
fn pair(t: Timing, decimals: usize) -> String {
    format!("{:.decimals$}/{:.decimals$}", t.median, t.min)
}

/// Thousands separators for counts: 260180 → "260,180".
fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The report as plain-text tables (ASCII in the aligned columns; the map label, which may
/// hold any text, comes last on each row).
pub fn render_table(report: &BenchReport) -> String {
    let mut out = String::new();
    let profile = if cfg!(debug_assertions) { "dev profile (debug assertions on)" } else { "release profile" };
    let _ = writeln!(out, "situation-wall bench, {profile}; times are median/min");
    let iterations = report.maps.first().map_or(0, |m| m.iterations);
    let _ = writeln!(out, "\nLoad and mesh, ms ({iterations} iterations; load includes parse, total = load + mesh)");
    let _ = writeln!(
        out,
        "{:>6} {:>6} {:>5} {:>9} {:>10} {:>10} {:>7} {:>13} {:>13} {:>13} {:>13}  map",
        "units", "issues", "holes", "ring_vtx", "mesh_vtx", "triangles", "MB", "parse", "load", "mesh", "total"
    );
    for m in &report.maps {
        let _ = writeln!(
            out,
            "{:>6} {:>6} {:>5} {:>9} {:>10} {:>10} {:>7.2} {:>13} {:>13} {:>13} {:>13}  {}",
            m.units,
            m.issues,
            m.holes,
            count(m.ring_vertices),
            count(m.mesh_vertices),
            count(m.triangles),
            m.bytes as f64 / 1e6,
            pair(m.parse, 1),
            pair(m.load, 1),
            pair(m.mesh, 1),
            pair(m.total, 1),
            m.label
        );
    }
    let _ = writeln!(
        out,
        "\nScore update, µs per update (apply = RiskState::apply_score of the changed units; retarget and step = every unit's Transition, one frame)"
    );
    let _ = writeln!(out, "{:>6} {:>7} {:>6} {:>17} {:>17} {:>17} {:>17}  map", "units", "changed", "reps", "apply", "retarget", "step", "total");
    for u in &report.updates {
        let _ = writeln!(
            out,
            "{:>6} {:>7} {:>6} {:>17} {:>17} {:>17} {:>17}  {}",
            u.units,
            u.changed,
            u.repetitions,
            pair(u.apply, 1),
            pair(u.retarget, 1),
            pair(u.step, 1),
            pair(u.total, 1),
            u.label
        );
    }
    let _ = writeln!(out, "\nWhole-state clone (the size of the state; demo mode shares it with the replay instead), µs");
    let _ = writeln!(out, "{:>6} {:>7} {:>10} {:>6} {:>19}  map", "units", "history", "history_MB", "reps", "clone");
    for c in &report.clones {
        let _ = writeln!(out, "{:>6} {:>7} {:>10.1} {:>6} {:>19}  {}", c.units, c.history, c.history_mb, c.repetitions, pair(c.clone, 1), c.label);
    }
    out
}

/// The report as CSV, one measurement per row:
/// `section,map,units,changed,metric,median,min,unit,samples` (`unit` is `ms` or `us`).
pub fn render_csv(report: &BenchReport) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("section,map,units,changed,metric,median,min,unit,samples\n");
    for m in &report.maps {
        for (metric, t) in [("parse", m.parse), ("load", m.load), ("mesh", m.mesh), ("total", m.total)] {
            let _ = writeln!(out, "load,{},{},,{metric},{:.4},{:.4},ms,{}", quote(&m.label), m.units, t.median, t.min, m.iterations);
        }
        for (metric, n) in [
            ("ring_vertices", m.ring_vertices),
            ("mesh_vertices", m.mesh_vertices),
            ("triangles", m.triangles),
            ("holes", m.holes),
            ("issues", m.issues),
            ("bytes", m.bytes),
        ] {
            let _ = writeln!(out, "size,{},{},,{metric},{n},{n},count,1", quote(&m.label), m.units);
        }
    }
    for u in &report.updates {
        for (metric, t) in [("apply", u.apply), ("retarget", u.retarget), ("step", u.step), ("total", u.total)] {
            let _ = writeln!(out, "update,{},{},{},{metric},{:.4},{:.4},us,{}", quote(&u.label), u.units, u.changed, t.median, t.min, u.repetitions);
        }
    }
    for c in &report.clones {
        let _ = writeln!(out, "clone,{},{},,clone,{:.4},{:.4},us,{}", quote(&c.label), c.units, c.clone.median, c.clone.min, c.repetitions);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_takes_median_and_min() {
        assert_eq!(Timing::of(&[3.0, 1.0, 2.0]), Timing { median: 2.0, min: 1.0 });
        assert_eq!(Timing::of(&[4.0, 1.0, 2.0, 3.0]), Timing { median: 2.5, min: 1.0 });
        assert_eq!(Timing::of(&[]), Timing::default());
        assert_eq!(count(260_180), "260,180");
        assert_eq!(count(43), "43");
    }

    #[test]
    fn a_small_run_reports_every_section() {
        let options = BenchOptions { iterations: 2, update_budget: Duration::from_millis(1), ..BenchOptions::default() };
        let report = run(&[MapSource::Synthetic { units: 30, seed: 1 }], &options).unwrap();
        assert_eq!(report.maps[0].units, 30);
        assert_eq!(report.maps[0].issues, 0);
        assert_eq!(report.updates.iter().map(|u| u.changed).collect::<Vec<_>>(), [1, 30]);
        assert!(report.updates.iter().all(|u| u.repetitions >= 21));
        // 30 full histories of 288 points, 8 bytes each.
        assert_eq!(report.clones[0].history_mb, 30.0 * 2304.0 / 1e6);
        let table = render_table(&report);
        assert!(table.contains("synthetic-30"), "{table}");
        let csv = render_csv(&report);
        assert_eq!(csv.lines().count(), 1 + 4 + 6 + 2 * 4 + 1, "{csv}");
    }
}
