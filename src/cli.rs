//! Window-less commands: `check-map` and `simulate`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset};

use crate::feed::simulate::{SimUnit, simulate};
use crate::geo::{self, LoadOptions, build_prism};

/// Loads a map and renders the load report as text: units loaded, each unit's area in km² and
/// triangulation check, then every warning and error. Returns the text and the number of
/// units loaded.
///
/// # Errors
/// When the file cannot be read or is not a FeatureCollection.
pub fn check_map(path: &Path, options: &LoadOptions) -> anyhow::Result<(String, usize)> {
    let map = geo::load_geojson_file(path, options)?;
    let mut out = String::new();
    let r = &map.report;
    let (errors, warnings) = (r.errors().count(), r.warnings().count());
    writeln!(out, "map: {}", path.display())?;
    writeln!(out, "units loaded: {} of {} features ({errors} errors, {warnings} warnings)", map.units.len(), r.features_read)?;
    writeln!(out, "projection: Lambert azimuthal equal-area centred on {:.5}E {:.5}N", map.projection.lon0, map.projection.lat0)?;
    writeln!(out, "{:<12} {:<16} {:>10} {:>5} {:>5} {:>8} {:>10}", "id", "name", "area km²", "parts", "holes", "walls", "tri check")?;
    let mut total = 0.0;
    let mut bad_triangulations = 0;
    for u in &map.units {
        let (mesh, checks) = build_prism(&u.polygons);
        let worst = checks.iter().map(|c| c.deviation()).fold(0.0, f64::max);
        let ok = checks.iter().all(|c| c.passes());
        bad_triangulations += usize::from(!ok);
        let holes: usize = u.polygons.iter().map(|p| p.interiors().len()).sum();
        total += u.area_m2;
        writeln!(
            out,
            "{:<12} {:<16} {:>10.3} {:>5} {:>5} {:>8} {:>10}",
            u.id,
            u.name,
            u.area_m2 / 1e6,
            u.polygons.len(),
            holes,
            mesh.wall_quads,
            if ok { "ok".to_owned() } else { format!("{worst:.1e}") }
        )?;
    }
    writeln!(out, "total area: {:.3} km²", total / 1e6)?;
    if bad_triangulations > 0 {
        writeln!(out, "triangulation: {bad_triangulations} unit(s) whose triangles do not cover their area within 1e-9")?;
    }
    for issue in &r.issues {
        writeln!(out, "{issue}")?;
    }
    Ok((out, map.units.len()))
}

/// Simulates a recording for the units of `map` and the point units in `bureaus` (see
/// [`crate::feed::simulate`]) and writes it to `out`. Returns the number of records.
///
/// # Errors
/// When the map cannot be loaded or the file cannot be written.
pub fn simulate_to_file(map: &Path, bureaus: Option<&Path>, seed: u64, hours: u32, start: DateTime<FixedOffset>, out: &Path) -> anyhow::Result<usize> {
    let data = geo::load_geojson_file(map, &LoadOptions::default())?;
    let mut units: Vec<SimUnit> = data
        .units
        .iter()
        .map(|u| SimUnit { id: u.id.clone(), name: u.name.clone(), kind: u.kind.clone().unwrap_or_default() })
        .collect();
    if let Some(path) = bureaus {
        let (points, errors) = geo::load_point_units(path, &data.projection).with_context(|| format!("reading {}", path.display()))?;
        anyhow::ensure!(errors.is_empty(), "{}: {}", path.display(), errors.join("; "));
        units.extend(points.into_iter().map(|p| SimUnit { id: p.id, name: p.name, kind: p.kind }));
    }
    anyhow::ensure!(!units.is_empty(), "map {} has no units", map.display());
    let map_id = map.file_stem().and_then(|s| s.to_str()).unwrap_or("map");
    let map_id = if map_id == "chaoyang_schematic" { "chaoyang-110105" } else { map_id };
    let recording = simulate(&units, seed, hours, start, map_id);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?);
    recording.write_to(&mut file)?;
    Ok(recording.records.len())
}

/// The units of a map, plus point units from `bureaus`, as the contract's `/units` lists them
/// (kind from the `kind` property, 地区/乡 shortened to 地区; bureaus with their location).
///
/// # Errors
/// When the map cannot be loaded.
pub fn unit_infos(map: &Path, bureaus: Option<&Path>) -> anyhow::Result<Vec<crate::api::UnitInfo>> {
    let data = geo::load_geojson_file(map, &LoadOptions::default())?;
    let mut out: Vec<crate::api::UnitInfo> = data
        .units
        .iter()
        .map(|u| crate::api::UnitInfo {
            id: u.id.clone(),
            name: u.name.clone(),
            kind: u.kind.as_deref().map(|k| if k.starts_with("地区") { "地区" } else { k }).unwrap_or("街道").to_owned(),
            location: None,
        })
        .collect();
    if let Some(path) = bureaus {
        let (points, _) = geo::load_point_units(path, &data.projection)?;
        out.extend(points.into_iter().map(|p| crate::api::UnitInfo { id: p.id, name: p.name, kind: p.kind, location: Some([p.lon, p.lat]) }));
    }
    Ok(out)
}
