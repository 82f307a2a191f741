//! GeoJSON FeatureCollection → projected map units, one feature at a time.
//!
//! Each feature is parsed and checked on its own: a broken feature is reported with its index,
//! id and reason (a [`FeatureIssue`]) and the rest still load. Repairs that keep the author's
//! intent (closing an unclosed ring, dropping a degenerate hole or part) are warnings; a feature
//! that cannot be placed on the map at all is an error.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use geo::orient::{Direction, Orient};
use geo::{Area, Coord, InteriorPoint, Intersects, LineString, Polygon, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::gcj02::gcj02_to_wgs84;
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
        write!(f, ": {}", self.reason)
    }
}

/// What loading a map file found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Number of entries in the `features` array.
    pub features_read: usize,
    /// Every warning and error, in feature order.
    pub issues: Vec<FeatureIssue>,
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
}

/// Reads and loads a GeoJSON file; see [`load_geojson_str`].
///
/// # Errors
/// [`MapError`] when the file cannot be read or is not a FeatureCollection; bad features are
/// reported in [`MapData::report`] instead.
pub fn load_geojson_file(path: &Path, options: &LoadOptions) -> Result<MapData, MapError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| MapError::Io { path: path.display().to_string(), source })?;
    load_geojson_str(&text, options)
}

/// A feature that survived pass 1: id, name and rings in WGS-84 degrees.
struct RawUnit {
    index: usize,
    id: String,
    name: String,
    kind: Option<String>,
    label: Option<(f64, f64)>,
    /// parts → rings (0 = exterior) → (lon, lat), closed.
    parts: Vec<(usize, Vec<Vec<(f64, f64)>>)>,
}

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
    let root: Value = serde_json::from_str(text)?;
    let features = match (&root.get("type"), root.get("features")) {
        (Some(Value::String(t)), Some(Value::Array(f))) if t == "FeatureCollection" => f,
        (Some(Value::String(t)), _) if t == "Feature" => std::slice::from_ref(&root),
        (t, _) => {
            return Err(MapError::NotFeatureCollection(format!(
                "top-level type is {}",
                t.map(|v| v.to_string()).unwrap_or_else(|| "missing".into())
            )));
        }
    };
    let description = root.get("description").and_then(Value::as_str).map(str::to_owned);

    let mut report = LoadReport { features_read: features.len(), issues: Vec::new() };
    let mut raw_units = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, value) in features.iter().enumerate() {
        let mut issues = Issues { index, id: None, list: &mut report.issues };
        if let Some(unit) = read_feature(value, options, &mut issues) {
            if let Some(first) = seen.get(&unit.id) {
                issues.error(None, format!("duplicate unit id (first used by feature {first})"));
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
        if raw_units.is_empty() {
            LocalProjection::new(0.0, 0.0)
        } else {
            LocalProjection::new((b.0 + b.2) / 2.0, (b.1 + b.3) / 2.0)
        }
    });

    let mut units = Vec::with_capacity(raw_units.len());
    for raw in raw_units {
        let mut issues = Issues { index: raw.index, id: Some(raw.id.clone()), list: &mut report.issues };
        if let Some(unit) = project_unit(raw, &projection, &mut issues) {
            units.push(unit);
        }
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
    fn push(&mut self, severity: IssueSeverity, part: Option<usize>, reason: String) {
        self.list.push(FeatureIssue { feature_index: self.index, id: self.id.clone(), part, severity, reason });
    }
    fn warn(&mut self, part: Option<usize>, reason: String) {
        self.push(IssueSeverity::Warning, part, reason);
    }
    fn error(&mut self, part: Option<usize>, reason: String) {
        self.push(IssueSeverity::Error, part, reason);
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

fn read_feature(value: &Value, options: &LoadOptions, issues: &mut Issues) -> Option<RawUnit> {
    let Some(obj) = value.as_object() else {
        issues.error(None, "not a JSON object".into());
        return None;
    };
    let props = obj.get("properties").and_then(Value::as_object);
    let prop = |key: &str| props.and_then(|p| p.get(key));
    let id = [options.id_property.as_str(), "code", "adcode"]
        .iter()
        .find_map(|k| prop(k).and_then(canonical_id))
        .or_else(|| obj.get("id").and_then(canonical_id));
    issues.id = id.clone();

    let geometry = match obj.get("geometry") {
        None => {
            issues.error(None, "no geometry member: the feature has no location".into());
            return None;
        }
        Some(Value::Null) => {
            issues.error(None, "geometry is null: the feature has no location".into());
            return None;
        }
        Some(g) => g,
    };
    let geometry: geojson::Geometry = match serde_json::from_value(geometry.clone()) {
        Ok(g) => g,
        Err(e) => {
            issues.error(None, format!("geometry is not valid GeoJSON: {e}"));
            return None;
        }
    };
    let polygons = match geometry.value {
        geojson::GeometryValue::Polygon { coordinates } => vec![coordinates],
        geojson::GeometryValue::MultiPolygon { coordinates } => coordinates,
        other => {
            issues.error(None, format!("unsupported geometry type {}: only Polygon and MultiPolygon", type_name(&other)));
            return None;
        }
    };
    let Some(id) = id else {
        issues.error(
            None,
            format!("no unit id (property '{}', 'code', 'adcode' or Feature.id)", options.id_property),
        );
        return None;
    };
    if polygons.is_empty() || polygons.iter().all(|p| p.is_empty()) {
        issues.error(None, "geometry has empty coordinates".into());
        return None;
    }

    let mut parts = Vec::new();
    for (p, rings) in polygons.iter().enumerate() {
        let mut clean = Vec::new();
        for (r, ring) in rings.iter().enumerate() {
            let mut pts = Vec::with_capacity(ring.len());
            for (k, pos) in ring.iter().enumerate() {
                let s = pos.as_slice();
                let ok = s.len() >= 2
                    && s[0].is_finite()
                    && s[1].is_finite()
                    && (-180.0..=180.0).contains(&s[0])
                    && (-90.0..=90.0).contains(&s[1]);
                if !ok {
                    issues.error(Some(p), format!("ring {r} position {k} is non-finite or out of range: {s:?}"));
                    return None;
                }
                let (lon, lat) = match options.crs {
                    Crs::Wgs84 => (s[0], s[1]),
                    Crs::Gcj02 => gcj02_to_wgs84(s[0], s[1]),
                };
                pts.push((lon, lat));
            }
            match close_ring(pts) {
                Ok((ring, repaired)) => {
                    if let Some(msg) = repaired {
                        issues.warn(Some(p), format!("ring {r} {msg}"));
                    }
                    clean.push(ring);
                }
                Err(n) if r == 0 => {
                    issues.warn(Some(p), format!("part dropped: its outer ring has {n} distinct positions (needs 3)"));
                    clean.clear();
                    break;
                }
                Err(n) => issues.warn(Some(p), format!("hole {r} dropped: it has {n} distinct positions (needs 3)")),
            }
        }
        if !clean.is_empty() {
            parts.push((p, clean));
        }
    }
    if parts.is_empty() {
        issues.error(None, "no polygon part with a valid outer ring (each needs 3 distinct positions)".into());
        return None;
    }

    let text = |key: &str| prop(key).and_then(Value::as_str).map(str::to_owned);
    let name = [options.name_property.as_str(), "name", "NAME", "Name"]
        .iter()
        .find_map(|k| text(k))
        .unwrap_or_else(|| id.clone());
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

/// Removes repeated positions and closes the ring. Returns the closed ring and, when it had to
/// be closed, a note; or the number of distinct positions when there are fewer than 3.
fn close_ring(pts: Vec<(f64, f64)>) -> Result<(Vec<(f64, f64)>, Option<String>), usize> {
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
    Ok((ring, (!was_closed).then(|| "was not closed; closed it".to_owned())))
}

fn project_unit(raw: RawUnit, projection: &LocalProjection, issues: &mut Issues) -> Option<MapUnit> {
    let ring_m = |ring: &[(f64, f64)]| -> LineString<f64> {
        ring.iter().map(|&(lon, lat)| {
            let (x, y) = projection.project(lon, lat);
            Coord { x, y }
        }).collect()
    };
    let mut polygons = Vec::new();
    for (p, rings) in &raw.parts {
        let exterior = ring_m(&rings[0]);
        let mut holes = Vec::new();
        if !exterior.coords().all(|c| c.x.is_finite() && c.y.is_finite()) {
            issues.warn(Some(*p), "part dropped: it cannot be projected around this map's centre (too far away)".into());
            continue;
        }
        let outer = Polygon::new(exterior.clone(), vec![]);
        for (r, ring) in rings.iter().enumerate().skip(1) {
            let hole = ring_m(ring);
            if degenerate(&hole) {
                issues.warn(Some(*p), format!("hole {r} dropped: zero area"));
            } else if !hole.coords().all(|c| outer.intersects(&geo::Point::from(*c))) {
                issues.warn(Some(*p), format!("hole {r} dropped: it lies outside the outer ring"));
            } else {
                holes.push(hole);
            }
        }
        if degenerate(&exterior) {
            issues.warn(Some(*p), "part dropped: zero area (its ring encloses no area)".into());
            continue;
        }
        let polygon = Polygon::new(exterior, holes).orient(Direction::Default);
        // Invalid rings (self-intersections, crossing holes) still load, since earcut copes with
        // many of them; the triangulation check in `mesh` catches the ones it cannot.
        if let Some(err) = polygon.validation_errors().first() {
            issues.warn(Some(*p), format!("invalid polygon: {err}"));
        }
        polygons.push(polygon);
    }
    if polygons.is_empty() {
        issues.error(None, "zero area: every part is degenerate".into());
        return None;
    }
    let area_m2 = polygons.iter().map(|p| p.unsigned_area()).sum();
    let label_point = match raw.label {
        Some((lon, lat)) if lon.is_finite() && lat.is_finite() => projection.project(lon, lat),
        _ => {
            let largest = polygons
                .iter()
                .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
                .expect("at least one polygon");
            largest.interior_point().map(|p| (p.x(), p.y())).unwrap_or((0.0, 0.0))
        }
    };
    Some(MapUnit {
        feature_index: raw.index,
        id: raw.id,
        name: raw.name,
        kind: raw.kind,
        polygons,
        label_point,
        area_m2,
    })
}

/// Whether a ring encloses no real area: less than 1e-4 of its perimeter squared (a 2 km
/// sliver 10 m wide has 0.005; three collinear points projected give under 1e-5).
fn degenerate(ring: &LineString<f64>) -> bool {
    use geo::{Euclidean, Length};
    let area = Polygon::new(ring.clone(), vec![]).unsigned_area();
    let perimeter = Euclidean.length(ring);
    !(area > 1e-4 * perimeter * perimeter && area > 1e-3)
}
