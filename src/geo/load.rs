//! GeoJSON FeatureCollection → projected map units, one feature at a time.
//!
//! Each feature is parsed and checked on its own: a broken feature is reported with its index,
//! id, part, ring and reason (a [`FeatureIssue`]) and the rest still load. Repairs that keep the
//! author's intent (closing an unclosed ring, dropping a degenerate hole or part) are warnings; a
//! feature that cannot be placed on the map at all is an error.
//!
//! Degenerate rings never reach the mesh, so they draw neither a top nor walls:
//! * a ring with fewer than 3 distinct positions (a hole that is one point repeated, say);
//! * a ring of zero area (collinear or doubled-back points: area at most 1e-4 of its perimeter
//!   squared, or at most 1e-3 m²);
//! * a hole equal to its outer ring (the same area within 1e-4, every vertex in or on the
//!   outer ring), which would cut the whole part away;
//! * a part whose holes together leave no area (net at most 1e-4 of the outer ring or 1e-3 m²).
//!
//! A degenerate hole is dropped and its part kept; a degenerate outer ring drops its part; a
//! feature left with no usable part is an error and is not loaded.
//!
//! ECharts/DataV compressed maps (`"UTF8Encoding": true`) are decoded feature by feature first
//! (see [`super::echarts`]). After loading, units whose footprints overlap are warned about
//! (see [`super::overlap`]).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use geo::orient::{Direction, Orient};
use geo::{Area, Coord, InteriorPoint, Intersects, LineString, Polygon, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::echarts;
use super::gcj02::gcj02_to_wgs84;
use super::overlap::{Footprint, UnitOverlap, find_overlaps};
use super::projection::LocalProjection;

/// The datum of a map file's coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS-84 lon/lat degrees (RFC 7946 GeoJSON; also CGCS2000 to within 1 m).
    #[default]
    Wgs84,
    /// GCJ-02 lon/lat degrees (Amap, DataV); converted to WGS-84 on load.
    Gcj02,
}

/// How to read a map file.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Property that holds the unit id (default `code`). `code`, `adcode` and the feature's own
    /// `id` are tried after it, in that order.
    pub id_property: String,
    /// Property that holds the display name (default `name`; falls back to `NAME`, `Name`).
    pub name_property: String,
    /// Datum of the file's coordinates.
    pub crs: Crs,
    /// Projection to use. `None` centres one on the middle of the loaded units' bounding box.
    pub projection: Option<LocalProjection>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { id_property: "code".into(), name_property: "name".into(), crs: Crs::Wgs84, projection: None }
    }
}

/// Whether an issue cost the feature (or a part of it) its place on the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueSeverity {
    /// Repaired or partly dropped; the unit still loads.
    Warning,
    /// The feature was not loaded.
    Error,
}

/// One problem found in one feature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureIssue {
    /// Zero-based index of the feature in the collection's `features` array.
    pub feature_index: usize,
    /// The unit id, when one could be read.
    pub id: Option<String>,
    /// Zero-based polygon part (of a MultiPolygon; 0 for a Polygon), when the issue is in one.
    pub part: Option<usize>,
    /// Zero-based ring within that part (0 = outer ring, 1.. = holes, in file order), when the
    /// issue is in one ring.
    pub ring: Option<usize>,
    /// Warning or error.
    pub severity: IssueSeverity,
    /// What was wrong, in words.
    pub reason: String,
}

impl fmt::Display for FeatureIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            IssueSeverity::Warning => "warning",
            IssueSeverity::Error => "error",
        };
        write!(f, "{sev}: feature {}", self.feature_index)?;
        if let Some(id) = &self.id {
            write!(f, " (id {id})")?;
        }
        if let Some(part) = self.part {
            write!(f, " part {part}")?;
        }
        if let Some(ring) = self.ring {
            write!(f, " ring {ring}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What loading a map file found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Number of entries in the `features` array.
    pub features_read: usize,
    /// Every warning and error: the features' own, in feature order, then one warning per
    /// overlapping pair of units (at the first unit's feature, naming the other).
    pub issues: Vec<FeatureIssue>,
    /// Pairs of loaded units whose footprints overlap (see [`super::overlap`]), in feature order.
    pub overlaps: Vec<UnitOverlap>,
}

impl LoadReport {
    /// The issues that kept a feature off the map.
    pub fn errors(&self) -> impl Iterator<Item = &FeatureIssue> {
        self.issues.iter().filter(|i| i.severity == IssueSeverity::Error)
    }

    /// The repairs and partial drops.
    pub fn warnings(&self) -> impl Iterator<Item = &FeatureIssue> {
        self.issues.iter().filter(|i| i.severity == IssueSeverity::Warning)
    }
}

/// One map unit (a township-level 街道/地区, or any polygon feature), projected to metres.
#[derive(Clone, Debug, PartialEq)]
pub struct MapUnit {
    /// Index of the source feature.
    pub feature_index: usize,
    /// Canonical unit id: the digits of the id property as a string ("000076" stays "000076";
    /// the JSON number 330130 becomes "330130").
    pub id: String,
    /// Display name; the id when the feature has none.
    pub name: String,
    /// The `kind` property (e.g. 街道, 地区), if any.
    pub kind: Option<String>,
    /// Polygon parts in local metres (x east, y north): exteriors counter-clockwise, holes
    /// clockwise, rings closed.
    pub polygons: Vec<Polygon<f64>>,
    /// Label point in local metres: the feature's `label` property `[lon, lat]` when present,
    /// else an interior point of its largest part.
    pub label_point: (f64, f64),
    /// Area in m²: exteriors minus holes, on the projection's equal-area plane.
    pub area_m2: f64,
}

/// A loaded map: units, the projection they were placed with, and the load report.
#[derive(Clone, Debug)]
pub struct MapData {
    /// The units that loaded, in feature order.
    pub units: Vec<MapUnit>,
    /// The projection that turned degrees into the units' metres.
    pub projection: LocalProjection,
    /// Warnings and errors per feature.
    pub report: LoadReport,
    /// The collection's `description` member, if any.
    pub description: Option<String>,
}

impl MapData {
    /// Bounding box of all units as `(min_x, min_y, max_x, max_y)` metres; zeros when empty.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for c in self.units.iter().flat_map(|u| &u.polygons).flat_map(|p| p.exterior().coords()) {
            b = (b.0.min(c.x), b.1.min(c.y), b.2.max(c.x), b.3.max(c.y));
        }
        if self.units.is_empty() { (0.0, 0.0, 0.0, 0.0) } else { b }
    }

    /// The unit with this id.
    pub fn unit(&self, id: &str) -> Option<&MapUnit> {
        self.units.iter().find(|u| u.id == id)
    }
}

/// A map file that could not be read at all (as opposed to one bad feature).
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The file could not be read.
    #[error("cannot read map {path}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The text is not JSON.
    #[error("map is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not a GeoJSON FeatureCollection.
    #[error("map is not a GeoJSON FeatureCollection: {0}")]
    NotFeatureCollection(String),
    /// An ECharts/DataV compressed map (`UTF8Encoding`) that cannot be decoded as a whole: text
    /// that mentions `UTF8Encoding` but is not JSON, or a bad `UTF8Scale`. (A feature that does
    /// not decode is a [`FeatureIssue`] instead.)
    #[error("ECharts/DataV compressed (UTF8Encoding) map: {0}")]
    Compressed(String),
}

/// Reads and loads a GeoJSON file; see [`load_geojson_str`].
///
/// # Errors
/// [`MapError`] when the file cannot be read or is not a FeatureCollection; bad features are
/// reported in [`MapData::report`] instead.
pub fn load_geojson_file(path: &Path, options: &LoadOptions) -> Result<MapData, MapError> {
    let text = std::fs::read_to_string(path).map_err(|source| MapError::Io { path: path.display().to_string(), source })?;
    load_geojson_str(&text, options)
}

/// A feature that survived pass 1: id, name and rings in WGS-84 degrees.
struct RawUnit {
    index: usize,
    id: String,
    name: String,
    kind: Option<String>,
    label: Option<(f64, f64)>,
    /// (part index, its rings): rings (0 = exterior) → (lon, lat), closed.
    parts: Vec<(usize, RawRings)>,
}

/// One part's rings in WGS-84 degrees: ring 0 the exterior, then the holes; each closed.
type RawRings = Vec<Vec<(f64, f64)>>;

/// Loads a GeoJSON FeatureCollection of Polygon/MultiPolygon features into projected units.
///
/// Coordinates are converted from `options.crs` to WGS-84, then projected with
/// `options.projection` (or one centred on the units' bounding box).
///
/// # Errors
/// [`MapError`] when the text is not JSON or not a FeatureCollection. Each bad feature is a
/// [`FeatureIssue`] in the report and does not stop the others.
pub fn load_geojson_str(text: &str, options: &LoadOptions) -> Result<MapData, MapError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) if text.contains("\"UTF8Encoding\"") => return Err(MapError::Compressed(format!("not valid JSON: {e}"))),
        Err(e) => return Err(e.into()),
    };
    let features = match (&root.get("type"), root.get("features")) {
        (Some(Value::String(t)), Some(Value::Array(f))) if t == "FeatureCollection" => f,
        (Some(Value::String(t)), _) if t == "Feature" => std::slice::from_ref(&root),
        (t, _) => {
            return Err(MapError::NotFeatureCollection(format!("top-level type is {}", t.map(|v| v.to_string()).unwrap_or_else(|| "missing".into()))));
        }
    };
    let description = root.get("description").and_then(Value::as_str).map(str::to_owned);
    let compressed = if echarts::is_compressed(&root) { Some(echarts::scale_of(&root).map_err(MapError::Compressed)?) } else { None };

    let mut report = LoadReport { features_read: features.len(), issues: Vec::new(), overlaps: Vec::new() };
    let mut raw_units = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, value) in features.iter().enumerate() {
        let mut issues = Issues { index, id: None, list: &mut report.issues };
        if let Some(unit) = read_feature(value, options, compressed, &mut issues) {
            if let Some(first) = seen.get(&unit.id) {
                issues.error(None, None, format!("duplicate unit id (first used by feature {first})"));
                continue;
            }
            seen.insert(unit.id.clone(), index);
            raw_units.push(unit);
        }
    }

    let projection = options.projection.unwrap_or_else(|| {
        let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(lon, lat) in raw_units.iter().flat_map(|u| &u.parts).flat_map(|(_, rings)| &rings[0]) {
            b = (b.0.min(lon), b.1.min(lat), b.2.max(lon), b.3.max(lat));
        }
        if raw_units.is_empty() { LocalProjection::new(0.0, 0.0) } else { LocalProjection::new((b.0 + b.2) / 2.0, (b.1 + b.3) / 2.0) }
    });

    let mut units = Vec::with_capacity(raw_units.len());
    for raw in raw_units {
        let mut issues = Issues { index: raw.index, id: Some(raw.id.clone()), list: &mut report.issues };
        if let Some(unit) = project_unit(raw, &projection, &mut issues) {
            units.push(unit);
        }
    }

    // Pass 1 reported every feature before pass 2 reported any: back to feature order.
    report.issues.sort_by_key(|i| i.feature_index);
    let footprints: Vec<Footprint> =
        units.iter().map(|u| Footprint { feature_index: u.feature_index, id: &u.id, polygons: &u.polygons, area_m2: u.area_m2 }).collect();
    report.overlaps = find_overlaps(&footprints);
    for o in &report.overlaps {
        report.issues.push(FeatureIssue {
            feature_index: o.feature_index_a,
            id: Some(o.id_a.clone()),
            part: None,
            ring: None,
            severity: IssueSeverity::Warning,
            reason: format!(
                "overlaps unit {} (feature {}) by {:.1} m² ({:.2} % of the smaller unit)",
                o.id_b,
                o.feature_index_b,
                o.area_m2,
                o.fraction_of_smaller * 100.0
            ),
        });
    }
    Ok(MapData { units, projection, report, description })
}

/// Collects issues for one feature.
struct Issues<'a> {
    index: usize,
    id: Option<String>,
    list: &'a mut Vec<FeatureIssue>,
}

impl Issues<'_> {
    fn push(&mut self, severity: IssueSeverity, part: Option<usize>, ring: Option<usize>, reason: String) {
        self.list.push(FeatureIssue { feature_index: self.index, id: self.id.clone(), part, ring, severity, reason });
    }
    fn warn(&mut self, part: Option<usize>, ring: Option<usize>, reason: String) {
        self.push(IssueSeverity::Warning, part, ring, reason);
    }
    fn error(&mut self, part: Option<usize>, ring: Option<usize>, reason: String) {
        self.push(IssueSeverity::Error, part, ring, reason);
    }
    /// An error about the compressed encoding, naming the format and the feature.
    fn compressed_error(&mut self, part: Option<usize>, ring: Option<usize>, what: &str) {
        let reason = format!("{}: {what} at feature {}", echarts::FORMAT_NAME, self.index);
        self.error(part, ring, reason);
    }
}

/// A JSON id (string, integer, or float with an integral value) as its canonical string.
pub fn canonical_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.to_string())
            } else if let Some(u) = n.as_u64() {
                Some(u.to_string())
            } else {
                n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| format!("{f:.0}"))
            }
        }
        _ => None,
    }
}

fn read_feature(value: &Value, options: &LoadOptions, compressed: Option<f64>, issues: &mut Issues) -> Option<RawUnit> {
    let Some(obj) = value.as_object() else {
        issues.error(None, None, "not a JSON object".into());
        return None;
    };
    let props = obj.get("properties").and_then(Value::as_object);
    let prop = |key: &str| props.and_then(|p| p.get(key));
    let id =
        [options.id_property.as_str(), "code", "adcode"].iter().find_map(|k| prop(k).and_then(canonical_id)).or_else(|| obj.get("id").and_then(canonical_id));
    issues.id = id.clone();

    let geometry = match obj.get("geometry") {
        None => {
            issues.error(None, None, "no geometry member: the feature has no location".into());
            return None;
        }
        Some(Value::Null) => {
            issues.error(None, None, "geometry is null: the feature has no location".into());
            return None;
        }
        Some(g) => g,
    };
    // A compressed map's rings are strings: decode them into positions first.
    let decoded;
    let geometry = match compressed {
        Some(scale) => match echarts::decode_geometry(geometry, scale) {
            Ok(Some(g)) => {
                decoded = g;
                &decoded
            }
            Ok(None) => geometry,
            Err(e) => {
                issues.compressed_error(e.part, e.ring, &e.reason);
                return None;
            }
        },
        None if echarts::has_encoded_rings(geometry) => {
            issues.error(
                None,
                None,
                format!("its rings are strings, as in an {}, but the collection does not declare \"UTF8Encoding\": true", echarts::FORMAT_NAME),
            );
            return None;
        }
        None => geometry,
    };
    let geometry: geojson::Geometry = match serde_json::from_value(geometry.clone()) {
        Ok(g) => g,
        Err(e) if compressed.is_some() => {
            issues.compressed_error(None, None, &format!("the decoded geometry is not valid GeoJSON ({e})"));
            return None;
        }
        Err(e) => {
            issues.error(None, None, format!("geometry is not valid GeoJSON: {e}"));
            return None;
        }
    };
    let polygons = match geometry.value {
        geojson::GeometryValue::Polygon { coordinates } => vec![coordinates],
        geojson::GeometryValue::MultiPolygon { coordinates } => coordinates,
        other => {
            issues.error(None, None, format!("unsupported geometry type {}: only Polygon and MultiPolygon", type_name(&other)));
            return None;
        }
    };
    let Some(id) = id else {
        issues.error(None, None, format!("no unit id (property '{}', 'code', 'adcode' or Feature.id)", options.id_property));
        return None;
    };
    if polygons.is_empty() || polygons.iter().all(|p| p.is_empty()) {
        issues.error(None, None, "geometry has empty coordinates".into());
        return None;
    }

    let mut parts = Vec::new();
    for (p, rings) in polygons.iter().enumerate() {
        let mut clean = Vec::new();
        for (r, ring) in rings.iter().enumerate() {
            let mut pts = Vec::with_capacity(ring.len());
            for (k, pos) in ring.iter().enumerate() {
                let s = pos.as_slice();
                let ok = s.len() >= 2 && s[0].is_finite() && s[1].is_finite() && (-180.0..=180.0).contains(&s[0]) && (-90.0..=90.0).contains(&s[1]);
                if !ok {
                    let hint = if compressed.is_some() { " (decoded from a compressed ring: check UTF8Scale and encodeOffsets)" } else { "" };
                    issues.error(Some(p), Some(r), format!("position {k} is non-finite or out of range: {s:?}{hint}"));
                    return None;
                }
                let (lon, lat) = match options.crs {
                    Crs::Wgs84 => (s[0], s[1]),
                    Crs::Gcj02 => gcj02_to_wgs84(s[0], s[1]),
                };
                pts.push((lon, lat));
            }
            match close_ring(pts) {
                Ok((ring, was_closed)) => {
                    // The compressed format does not repeat a ring's first position; GeoJSON does.
                    if !was_closed && compressed.is_none() {
                        issues.warn(Some(p), Some(r), "ring was not closed; closed it".into());
                    }
                    clean.push(ring);
                }
                Err(n) if r == 0 => {
                    issues.warn(Some(p), Some(0), format!("part dropped: its outer ring {}", too_few(n)));
                    clean.clear();
                    break;
                }
                Err(n) => issues.warn(Some(p), Some(r), format!("hole dropped: it {}", too_few(n))),
            }
        }
        if !clean.is_empty() {
            parts.push((p, clean));
        }
    }
    if parts.is_empty() {
        issues.error(None, None, NO_USABLE_PART.into());
        return None;
    }

    let text = |key: &str| prop(key).and_then(Value::as_str).map(str::to_owned);
    let name = [options.name_property.as_str(), "name", "NAME", "Name"].iter().find_map(|k| text(k)).unwrap_or_else(|| id.clone());
    let label = prop("label").and_then(Value::as_array).and_then(|a| match a.as_slice() {
        [lon, lat] => Some((lon.as_f64()?, lat.as_f64()?)),
        _ => None,
    });
    let label = label.filter(|&(lon, lat)| (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)).map(|(lon, lat)| match options.crs {
        Crs::Wgs84 => (lon, lat),
        Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
    });
    Some(RawUnit { index: issues.index, id, name, kind: text("kind"), label, parts })
}

/// The error of a feature none of whose parts survived (each dropped part has its warning).
const NO_USABLE_PART: &str = "not loaded: no usable polygon part (every part was dropped; see its warnings)";

/// Why a ring with `n` (< 3) distinct positions is unusable, after "its outer ring " / "it ".
fn too_few(n: usize) -> String {
    match n {
        0 => "has no positions (needs 3 distinct ones)".into(),
        1 => "is one point repeated (needs 3 distinct positions)".into(),
        n => format!("has {n} distinct positions (needs 3)"),
    }
}

fn type_name(v: &geojson::GeometryValue) -> &'static str {
    use geojson::GeometryValue::*;
    match v {
        Point { .. } => "Point",
        MultiPoint { .. } => "MultiPoint",
        LineString { .. } => "LineString",
        MultiLineString { .. } => "MultiLineString",
        Polygon { .. } => "Polygon",
        MultiPolygon { .. } => "MultiPolygon",
        GeometryCollection { .. } => "GeometryCollection",
    }
}

/// Positions closer than this (degrees, about 0.1 mm) are the same position.
const SAME_POSITION_DEG: f64 = 1e-9;

/// Removes repeated positions and closes the ring. Returns the closed ring and whether it was
/// closed already; or the number of distinct positions when there are fewer than 3.
fn close_ring(pts: Vec<(f64, f64)>) -> Result<(Vec<(f64, f64)>, bool), usize> {
    let same = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() <= SAME_POSITION_DEG && (a.1 - b.1).abs() <= SAME_POSITION_DEG;
    let was_closed = pts.len() >= 2 && same(pts[0], pts[pts.len() - 1]);
    let mut ring: Vec<(f64, f64)> = Vec::with_capacity(pts.len() + 1);
    for p in pts {
        if ring.last().is_none_or(|&q| !same(p, q)) {
            ring.push(p);
        }
    }
    while ring.len() >= 2 && same(ring[0], ring[ring.len() - 1]) {
        ring.pop();
    }
    if ring.len() < 3 {
        return Err(ring.len());
    }
    ring.push(ring[0]);
    Ok((ring, was_closed))
}

/// Two areas closer than this fraction of the larger are the same area (a hole equal to its
/// outer ring; a part whose holes leave nothing).
const SAME_AREA_REL: f64 = 1e-4;

/// A ring's or part's area of this many m² or less is no area.
const MIN_AREA_M2: f64 = 1e-3;

fn project_unit(raw: RawUnit, projection: &LocalProjection, issues: &mut Issues) -> Option<MapUnit> {
    let ring_m = |ring: &[(f64, f64)]| -> LineString<f64> {
        ring.iter()
            .map(|&(lon, lat)| {
                let (x, y) = projection.project(lon, lat);
                Coord { x, y }
            })
            .collect()
    };
    let mut polygons = Vec::new();
    for (p, rings) in &raw.parts {
        let p = Some(*p);
        let exterior = ring_m(&rings[0]);
        if !exterior.coords().all(|c| c.x.is_finite() && c.y.is_finite()) {
            issues.warn(p, Some(0), "part dropped: it cannot be projected around this map's centre (too far away)".into());
            continue;
        }
        let outer = Polygon::new(exterior, vec![]);
        let outer_area = outer.unsigned_area();
        if degenerate(outer.exterior()) {
            let perimeter = {
                use geo::{Euclidean, Length};
                Euclidean.length(outer.exterior())
            };
            issues.warn(p, Some(0), format!("part dropped: its outer ring has zero area ({outer_area:.3} m² inside a {perimeter:.1} m perimeter)"));
            continue;
        }
        let mut holes = Vec::new();
        let mut holes_area = 0.0;
        for (r, ring) in rings.iter().enumerate().skip(1) {
            let hole = ring_m(ring);
            let hole_area = Polygon::new(hole.clone(), vec![]).unsigned_area();
            if !hole.coords().all(|c| c.x.is_finite() && c.y.is_finite()) || degenerate(&hole) {
                issues.warn(p, Some(r), "hole dropped: zero area".into());
            } else if !hole.coords().all(|c| outer.intersects(&geo::Point::from(*c))) {
                issues.warn(p, Some(r), "hole dropped: it lies outside the outer ring".into());
            } else if (outer_area - hole_area).abs() <= SAME_AREA_REL * outer_area {
                issues.warn(p, Some(r), format!("hole dropped: it is the outer ring again ({hole_area:.1} m²) and would cut away the whole part"));
            } else {
                holes_area += hole_area;
                holes.push(hole);
            }
        }
        let net = outer_area - holes_area;
        if net <= MIN_AREA_M2 || net <= SAME_AREA_REL * outer_area {
            issues.warn(p, None, format!("part dropped: its holes cover its whole outer ring (net area {net:.3} m² of {outer_area:.1} m²)"));
            continue;
        }
        let polygon = Polygon::new(outer.into_inner().0, holes).orient(Direction::Default);
        // Invalid rings (self-intersections, crossing holes) still load, since earcut copes with
        // many of them; the triangulation check in `mesh` catches the ones it cannot.
        if let Some(err) = polygon.validation_errors().first() {
            issues.warn(p, None, format!("invalid polygon: {err}"));
        }
        polygons.push(polygon);
    }
    if polygons.is_empty() {
        issues.error(None, None, NO_USABLE_PART.into());
        return None;
    }
    let area_m2 = polygons.iter().map(|p| p.unsigned_area()).sum();
    let label_point = match raw.label {
        Some((lon, lat)) if lon.is_finite() && lat.is_finite() => projection.project(lon, lat),
        _ => {
            let largest = polygons.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area())).expect("at least one polygon");
            largest.interior_point().map(|p| (p.x(), p.y())).unwrap_or((0.0, 0.0))
        }
    };
    Some(MapUnit { feature_index: raw.index, id: raw.id, name: raw.name, kind: raw.kind, polygons, label_point, area_m2 })
}

/// Whether a ring encloses no real area: at most 1e-4 of its perimeter squared (a 2 km sliver
/// 10 m wide has 0.005; three collinear points projected give under 1e-5), or at most
/// [`MIN_AREA_M2`].
fn degenerate(ring: &LineString<f64>) -> bool {
    use geo::{Euclidean, Length};
    let area = Polygon::new(ring.clone(), vec![]).unsigned_area();
    let perimeter = Euclidean.length(ring);
    !(area > 1e-4 * perimeter * perimeter && area > MIN_AREA_M2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::echarts::tests::encode_ring;
    use crate::geo::mesh::build_prism;
    use crate::geo::projection::AUTHALIC_RADIUS_M;

    fn load_test_file(name: &str) -> MapData {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/geo").join(name);
        load_geojson_file(&path, &LoadOptions::default()).unwrap()
    }

    fn ids(map: &MapData) -> Vec<&str> {
        map.units.iter().map(|u| u.id.as_str()).collect()
    }

    fn issues_of(map: &MapData, feature: usize) -> Vec<&FeatureIssue> {
        map.report.issues.iter().filter(|i| i.feature_index == feature).collect()
    }

    /// Area of a lon/lat box on the authalic sphere, m² (what the equal-area plane preserves).
    fn box_area(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> f64 {
        AUTHALIC_RADIUS_M.powi(2) * (lon1 - lon0).to_radians() * (lat1.to_radians().sin() - lat0.to_radians().sin())
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn a_hole_equal_to_its_outer_ring_is_dropped_and_the_part_kept() {
        let map = load_test_file("hole_equal_to_outer.geojson");
        assert_eq!(ids(&map), ["900001", "900002"]);
        let square = box_area(116.50, 39.90, 116.51, 39.91);
        let u = map.unit("900001").unwrap();
        assert_eq!(u.polygons.len(), 1);
        assert!(u.polygons[0].interiors().is_empty());
        assert!(close(u.area_m2, square, 1e-4), "{} vs {square}", u.area_m2);
        let w = issues_of(&map, 0);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!((w[0].severity, w[0].part, w[0].ring), (IssueSeverity::Warning, Some(0), Some(1)));
        assert!(w[0].reason.starts_with("hole dropped: it is the outer ring again"), "{}", w[0]);
        // The dropped hole draws no walls: four, the outer ring's.
        assert_eq!(build_prism(&u.polygons).0.wall_quads, 4);

        // The control: a 0.004° hole in a 0.01° square keeps 84 % (to the sphere's 0.1 %).
        assert!(issues_of(&map, 1).is_empty());
        let holed = map.unit("900002").unwrap();
        assert!(close(holed.area_m2, 0.84 * square, 1e-3), "{}", holed.area_m2);
        assert_eq!(build_prism(&holed.polygons).0.wall_quads, 8);

        // Two triangle holes that fill the square leave nothing: the part goes, then the unit.
        let e = issues_of(&map, 2);
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!((e[0].severity, e[0].part, e[0].ring), (IssueSeverity::Warning, Some(0), None));
        assert!(e[0].reason.starts_with("part dropped: its holes cover its whole outer ring"), "{}", e[0]);
        assert_eq!(e[1].severity, IssueSeverity::Error);
        assert_eq!(e[1].to_string(), format!("error: feature 2 (id 900003): {NO_USABLE_PART}"));
    }

    #[test]
    fn a_hole_of_one_repeated_point_is_dropped() {
        let map = load_test_file("hole_one_point.geojson");
        assert_eq!(ids(&map), ["900011", "900012"]);
        let u = map.unit("900011").unwrap();
        assert!(u.polygons[0].interiors().is_empty());
        assert!(close(u.area_m2, box_area(116.50, 39.90, 116.51, 39.91), 1e-4));
        let w = issues_of(&map, 0);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].to_string(), "warning: feature 0 (id 900011) part 0 ring 1: hole dropped: it is one point repeated (needs 3 distinct positions)");

        // In a MultiPolygon: part 1 loses ring 1 and keeps ring 2, the real hole.
        let m = map.unit("900012").unwrap();
        assert_eq!(m.polygons.len(), 2);
        assert_eq!(m.polygons[1].interiors().len(), 1);
        let w = issues_of(&map, 1);
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].part, w[0].ring), (Some(1), Some(1)));
        let square = box_area(116.52, 39.90, 116.53, 39.91);
        assert!(close(m.area_m2, square + 0.84 * square, 1e-3), "{}", m.area_m2);
        assert_eq!(build_prism(&m.polygons).0.wall_quads, 4 + 4 + 4);
    }

    #[test]
    fn a_zero_area_outer_ring_drops_its_part_and_a_unit_with_no_part_is_an_error() {
        let map = load_test_file("zero_area_outer.geojson");
        assert_eq!(ids(&map), ["900022", "900024"], "one bad feature never stops the others");
        let errors: Vec<(usize, Option<&str>)> = map.report.errors().map(|e| (e.feature_index, e.id.as_deref())).collect();
        assert_eq!(errors, [(0, Some("900021")), (2, Some("900023"))]);
        assert!(map.report.errors().all(|e| e.reason == NO_USABLE_PART && e.part.is_none()));

        // Feature 0: three collinear positions along a diagonal.
        let w = issues_of(&map, 0);
        assert_eq!((w[0].severity, w[0].part, w[0].ring), (IssueSeverity::Warning, Some(0), Some(0)));
        assert!(w[0].reason.starts_with("part dropped: its outer ring has zero area"), "{}", w[0]);
        // Feature 1: part 0 doubles back along a parallel; part 1 loads alone.
        let w = issues_of(&map, 1);
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].part, w[0].ring), (Some(0), Some(0)));
        assert!(w[0].reason.contains("zero area"));
        let u = map.unit("900022").unwrap();
        assert_eq!(u.polygons.len(), 1);
        assert!(close(u.area_m2, box_area(116.52, 39.92, 116.53, 39.93), 1e-4));
        // Feature 2: its hole (two positions) and then its zero-area outer ring are dropped.
        let w = issues_of(&map, 2);
        assert_eq!(
            w.iter().map(|i| (i.severity, i.part, i.ring)).collect::<Vec<_>>(),
            [(IssueSeverity::Warning, Some(0), Some(1)), (IssueSeverity::Warning, Some(0), Some(0)), (IssueSeverity::Error, None, None),]
        );
        assert!(w[0].reason.contains("2 distinct positions"), "{}", w[0]);
        assert!(issues_of(&map, 3).is_empty());
    }

    #[test]
    fn overlapping_units_are_warned_with_both_ids_and_the_area() {
        let map = load_test_file("overlapping_squares.geojson");
        assert_eq!(map.units.len(), 3, "an overlap is a warning: both units load");
        assert_eq!(map.report.overlaps.len(), 1, "{:?}", map.report.overlaps);
        let o = &map.report.overlaps[0];
        assert_eq!((o.id_a.as_str(), o.feature_index_a, o.id_b.as_str(), o.feature_index_b), ("900031", 0, "900032", 1));
        let strip = box_area(116.508, 39.90, 116.51, 39.91);
        assert!(close(o.area_m2, strip, 1e-3), "{} vs {strip}", o.area_m2);
        assert!((o.fraction_of_smaller - 0.2).abs() < 1e-3, "{}", o.fraction_of_smaller);
        let w: Vec<_> = map.report.warnings().collect();
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].to_string(),
            format!("warning: feature 0 (id 900031): overlaps unit 900032 (feature 1) by {:.1} m² (20.00 % of the smaller unit)", o.area_m2)
        );
    }

    #[test]
    fn touching_units_are_not_overlaps() {
        let map = load_test_file("touching_squares.geojson");
        assert_eq!(map.units.len(), 4);
        assert!(map.report.issues.is_empty(), "{:?}", map.report.issues);
        assert!(map.report.overlaps.is_empty());
        // The long shared edge of 900044 is one chord where its neighbours have two, so the
        // projected borders differ by centimetres: far under the thresholds, and no warning.
        let big = map.unit("900044").unwrap();
        for id in ["900041", "900042"] {
            let a = crate::geo::overlap::overlap_area(&map.unit(id).unwrap().polygons, &big.polygons);
            assert!(a < 100.0, "{id}: {a} m²");
        }
    }

    #[test]
    fn a_compressed_map_decodes_to_the_coordinates_it_was_made_from() {
        let map = load_test_file("echarts_compressed.geojson");
        assert_eq!(ids(&map), ["900061", "900062", "900063"]);
        assert!(map.report.issues.is_empty(), "{:?}", map.report.issues);
        assert_eq!(map.unit("900061").unwrap().name, "压缩甲");
        // The file's positions in quantisation steps (1024 per degree) from (119296, 40858).
        let deg =
            |rel: &[(i32, i32)]| -> Vec<(f64, f64)> { rel.iter().map(|&(x, y)| (f64::from(119_296 + x) / 1024.0, f64::from(40_858 + y) / 1024.0)).collect() };
        let expect = [
            ("900061", 0, 0, deg(&[(0, 0), (10, 0), (10, 10), (0, 10)])),
            ("900061", 0, 1, deg(&[(3, 3), (3, 6), (6, 6), (6, 3)])),
            ("900062", 0, 0, deg(&[(20, 0), (30, 0), (25, 8)])),
            ("900062", 1, 0, deg(&[(40, 0), (44, 0), (44, 4), (40, 4)])),
            ("900063", 0, 0, deg(&[(0, -30), (-15, -30), (-15, -12), (0, -12)])),
        ];
        for (id, part, ring, points) in expect {
            let p = &map.unit(id).unwrap().polygons[part];
            let r = if ring == 0 { p.exterior() } else { &p.interiors()[ring - 1] };
            assert_eq!(r.0.len(), points.len() + 1, "{id} part {part} ring {ring}: closed on load");
            for &(lon, lat) in &points {
                let (x, y) = map.projection.project(lon, lat);
                assert!(r.0.iter().any(|c| c.x == x && c.y == y), "{id} part {part} ring {ring}: ({lon}, {lat}) missing");
            }
        }
        let a = map.unit("900061").unwrap().area_m2;
        let outer = box_area(119_296.0 / 1024.0, 40_858.0 / 1024.0, 119_306.0 / 1024.0, 40_868.0 / 1024.0);
        assert!(close(a, 0.91 * outer, 1e-3), "{a} vs {}", 0.91 * outer);

        let fine = load_test_file("echarts_compressed_scale.geojson");
        let u = fine.unit("900071").unwrap();
        for (lon, lat) in [(116.48123, 39.93456), (116.49001, 39.93456), (116.49001, 39.94), (116.48123, 39.94)] {
            let (x, y) = fine.projection.project(lon, lat);
            assert!(u.polygons[0].exterior().0.iter().any(|c| (c.x - x).abs() < 1e-6 && (c.y - y).abs() < 1e-6), "({lon}, {lat})");
        }
    }

    #[test]
    fn a_compressed_map_loads_like_the_same_map_written_plainly() {
        // 200 synthetic units (star polygons, some with a hole) rounded to 1e-6°, written plainly
        // and compressed at UTF8Scale 1e6, where the encoding is exact.
        let mut plain: Value = serde_json::from_str(&crate::geo::synthetic::synthetic_map(200, 11).geojson).unwrap();
        for f in plain["features"].as_array_mut().unwrap() {
            for ring in f["geometry"]["coordinates"].as_array_mut().unwrap() {
                for p in ring.as_array_mut().unwrap() {
                    *p = serde_json::json!([(p[0].as_f64().unwrap() * 1e6).round() / 1e6, (p[1].as_f64().unwrap() * 1e6).round() / 1e6]);
                }
            }
        }
        let mut v = plain.clone();
        for f in v["features"].as_array_mut().unwrap() {
            let g = &mut f["geometry"];
            let (rings, offsets): (Vec<Value>, Vec<Value>) = g["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|ring| {
                    let pts: Vec<(f64, f64)> = ring.as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())).collect();
                    let (s, off) = encode_ring(&pts, 1e6);
                    (Value::String(s), serde_json::json!(off))
                })
                .unzip();
            g["coordinates"] = Value::Array(rings);
            g["encodeOffsets"] = Value::Array(offsets);
        }
        v["UTF8Encoding"] = Value::Bool(true);
        v["UTF8Scale"] = serde_json::json!(1e6);
        let a = load_geojson_str(&plain.to_string(), &LoadOptions::default()).unwrap();
        assert!(a.report.issues.is_empty());
        let b = load_geojson_str(&v.to_string(), &LoadOptions::default()).unwrap();
        assert!(b.report.issues.is_empty(), "{:?}", b.report.issues.first());
        assert_eq!(a.units.len(), 200);
        assert_eq!(a.units, b.units, "decoded units equal the plain ones exactly");
    }

    #[test]
    fn a_compressed_feature_that_does_not_decode_is_one_error_naming_the_format() {
        let map = load_test_file("echarts_compressed_damaged.geojson");
        assert_eq!(ids(&map), ["900081"]);
        let errors: Vec<&FeatureIssue> = map.report.errors().collect();
        assert_eq!(errors.iter().map(|e| e.feature_index).collect::<Vec<_>>(), [1, 2, 3]);
        for e in &errors {
            assert!(e.reason.starts_with("ECharts/DataV compressed (UTF8Encoding) map: "), "{e}");
            assert!(e.reason.ends_with(&format!(" at feature {}", e.feature_index)), "{e}");
            assert!(!e.reason.contains("not valid GeoJSON"), "{e}");
        }
        assert_eq!(
            errors[0].to_string(),
            "error: feature 1 (id 900082) part 0 ring 0: ECharts/DataV compressed (UTF8Encoding) map: cannot decode part 0 ring 0: the string has 9 characters, an odd number (each position takes two) at feature 1"
        );
        assert!(errors[1].reason.contains("part 0 ring 0 has no encodeOffsets pair"), "{}", errors[1]);
        assert!(errors[2].reason.contains("position 1 has the character U+0021"), "{}", errors[2]);
        assert_eq!(map.report.warnings().count(), 0);
    }

    #[test]
    fn compressed_rings_without_the_flag_or_with_a_bad_scale_name_the_format() {
        let feature =
            r#"{"type":"Feature","id":"1","properties":{},"geometry":{"type":"Polygon","coordinates":["@@T@@TS@@S"],"encodeOffsets":[[119296,40858]]}}"#;
        let unflagged = format!(r#"{{"type":"FeatureCollection","features":[{feature}]}}"#);
        let map = load_geojson_str(&unflagged, &LoadOptions::default()).unwrap();
        assert!(map.units.is_empty());
        let e = map.report.errors().next().unwrap();
        assert!(e.reason.contains("ECharts/DataV compressed (UTF8Encoding) map") && e.reason.contains("does not declare"), "{e}");

        let bad_scale = format!(r#"{{"type":"FeatureCollection","UTF8Encoding":true,"UTF8Scale":-5,"features":[{feature}]}}"#);
        let e = load_geojson_str(&bad_scale, &LoadOptions::default()).unwrap_err();
        assert!(matches!(e, MapError::Compressed(_)));
        assert_eq!(e.to_string(), "ECharts/DataV compressed (UTF8Encoding) map: UTF8Scale must be a positive number, not -5");

        let truncated = &bad_scale[..60];
        let e = load_geojson_str(truncated, &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("ECharts/DataV compressed (UTF8Encoding) map: not valid JSON: "), "{e}");

        // The same feature, flagged, loads: a 10 × 10-step square.
        let flagged = format!(r#"{{"type":"FeatureCollection","UTF8Encoding":true,"features":[{feature}]}}"#);
        let map = load_geojson_str(&flagged, &LoadOptions::default()).unwrap();
        assert_eq!(ids(&map), ["1"]);
        let expected = box_area(119_296.0 / 1024.0, 40_858.0 / 1024.0, 119_306.0 / 1024.0, 40_868.0 / 1024.0);
        assert!(close(map.units[0].area_m2, expected, 1e-4));
    }
}
