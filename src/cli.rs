//! Window-less commands: `check-map` and `simulate`.

pub mod ingest;
pub mod record;
pub mod serve;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset};

use crate::feed::simulate::{SimUnit, simulate};
use crate::geo::{self, LoadOptions, build_prism};

/// Areas below this (m², 0.01 km²) are printed in m², so a few-m² unit does not read 0.000 km².
pub const SMALL_AREA_M2: f64 = 10_000.0;

/// An area for the report: `12.345` (km², the column's unit) from 0.01 km² up, else `37.5 m²`.
pub fn format_area(area_m2: f64) -> String {
    if area_m2 < SMALL_AREA_M2 { format!("{area_m2:.1} m²") } else { format!("{:.3}", area_m2 / 1e6) }
}

/// Loads a map and renders the load report as text: units loaded, each unit's area (in km², or
/// in m² below 0.01 km², see [`format_area`]) and triangulation check, then every warning and
/// error (degenerate rings, dropped parts and units, overlapping units). Returns the text and
/// the number of units loaded.
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
            "{:<12} {:<16} {:>10} {:>5} {:>5} {:>8} {:>10}",
            u.id,
            u.name,
            format_area(u.area_m2),
            u.polygons.len(),
            holes,
            mesh.wall_quads,
            if ok { "ok".to_owned() } else { format!("{worst:.1e}") }
        )?;
    }
    if total < SMALL_AREA_M2 {
        writeln!(out, "total area: {total:.1} m²")?;
    } else {
        writeln!(out, "total area: {:.3} km²", total / 1e6)?;
    }
    if bad_triangulations > 0 {
        writeln!(out, "triangulation: {bad_triangulations} unit(s) whose triangles do not cover their area within 1e-9")?;
    }
    for issue in &r.issues {
        writeln!(out, "{issue}")?;
    }
    Ok((out, map.units.len()))
}

/// The whole of [`mesh_json`]'s answer.
#[derive(serde::Serialize)]
struct MeshDoc<'a> {
    projection: MeshProjection,
    units: Vec<UnitMesh<'a>>,
}

/// The projection's centre, degrees.
#[derive(serde::Serialize)]
struct MeshProjection {
    lon0: f64,
    lat0: f64,
}

/// One unit's mesh in [`mesh_json`].
#[derive(serde::Serialize)]
struct UnitMesh<'a> {
    id: &'a str,
    name: &'a str,
    area_m2: f64,
    top: Vec<[[f32; 2]; 3]>,
    walls: Vec<[[f32; 3]; 3]>,
}

/// Loads a map and returns every loaded unit's prism triangles (as [`build_prism`] makes them
/// for the renderer) as JSON, in the map's local plane: x east and y north, metres from the
/// projection's centre; f32, as the GPU gets them.
///
/// ```json
/// {"projection": {"lon0": 116.49, "lat0": 39.95},
///  "units": [{"id": "110105001", "name": "建外街道", "area_m2": 3812345.6,
///             "top":   [[[x, y], [x, y], [x, y]], ...],
///             "walls": [[[x, y, z], [x, y, z], [x, y, z]], ...]}]}
/// ```
///
/// `top` holds the cap triangles (at the prism's top, counter-clockwise seen from above);
/// `walls` the wall triangles, two per ring edge, with `z` the height as a fraction of the
/// unit's extrusion (0 = ground, 1 = top; the renderer scales it by the unit's height),
/// counter-clockwise seen from outside. Units that did not load (see `check-map`) are absent;
/// a degenerate ring that was dropped has neither top nor walls.
///
/// # Errors
/// When the file cannot be read or is not a FeatureCollection.
pub fn mesh_json(path: &Path, options: &LoadOptions) -> anyhow::Result<String> {
    let map = geo::load_geojson_file(path, options)?;
    let mut units = Vec::with_capacity(map.units.len());
    for u in &map.units {
        let (mesh, _) = build_prism(&u.polygons);
        // Back from the renderer's axes: plane (east, north) plus the height fraction.
        let plane = |i: u32| {
            let p = mesh.positions[i as usize];
            let [x, y] = geo::projection::map_from_world(p);
            [x as f32, y as f32, p[1]]
        };
        let mut top = Vec::with_capacity(mesh.top_triangles);
        let mut walls = Vec::with_capacity(mesh.wall_quads * 2);
        for t in mesh.indices.chunks_exact(3) {
            let [a, b, c] = [plane(t[0]), plane(t[1]), plane(t[2])];
            if mesh.normals[t[0] as usize][1] > 0.5 {
                top.push([[a[0], a[1]], [b[0], b[1]], [c[0], c[1]]]);
            } else {
                walls.push([a, b, c]);
            }
        }
        units.push(UnitMesh { id: &u.id, name: &u.name, area_m2: u.area_m2, top, walls });
    }
    // Serialised as structs, not through `serde_json::Value`, so the f32s keep their short form.
    let doc = MeshDoc { projection: MeshProjection { lon0: map.projection.lon0, lat0: map.projection.lat0 }, units };
    Ok(serde_json::to_string(&doc)?)
}

/// Simulates a recording for the units of `map` and the point units in `bureaus` (see
/// [`crate::feed::simulate`]) and writes it to `out`. Returns the number of records.
///
/// # Errors
/// When the map cannot be loaded or the file cannot be written.
pub fn simulate_to_file(map: &Path, bureaus: Option<&Path>, seed: u64, hours: u32, start: DateTime<FixedOffset>, out: &Path) -> anyhow::Result<usize> {
    let data = geo::load_geojson_file(map, &LoadOptions::default())?;
    let mut units: Vec<SimUnit> =
        data.units.iter().map(|u| SimUnit { id: u.id.clone(), name: u.name.clone(), kind: u.kind.clone().unwrap_or_default() }).collect();
    if let Some(path) = bureaus {
        let (points, errors) = geo::load_point_units(path, &data.projection).with_context(|| format!("reading {}", path.display()))?;
        anyhow::ensure!(errors.is_empty(), "{}: {}", path.display(), errors.join("; "));
        units.extend(points.into_iter().map(|p| SimUnit { id: p.id, name: p.name, kind: p.kind }));
    }
    anyhow::ensure!(!units.is_empty(), "map {} has no units", map.display());
    let map_id = map.file_stem().and_then(|s| s.to_str()).unwrap_or("map");
    let map_id = if map_id == "chaoyang_schematic" { crate::feed::recording::DISTRICT_MAP_ID } else { map_id };
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
