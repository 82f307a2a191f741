//! The loaded map as the app holds it ([`MapResource`]: units, bureaus, the context layer and
//! the load warnings), how it is loaded from the options, and the one conversion between map
//! metres and Bevy's world ([`world_from_map`], [`map_from_world`]).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bevy::prelude::*;

use crate::config::{self, MapConfig};
use crate::geo::{self, LoadOptions, MapData, PointUnit};

/// Logs the load warnings once the logger is up.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(Startup, log_startup_warnings);
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
    pub bureaus: Vec<PointUnit>,
    /// Problems found while loading, logged once the app's logger is up.
    pub warnings: Vec<String>,
    /// The map's features that did not load (the first error of each), in feature order:
    /// shown on screen, with the count, so a missing unit is never a silent hole.
    pub failed: Vec<FailedFeature>,
}

/// A feature of the map file that did not load.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedFeature {
    /// Zero-based index in the file's `features` array.
    pub feature_index: usize,
    /// Its unit id, when one could be read.
    pub id: Option<String>,
    /// Its first error, in the loader's words (English; the log has them whole).
    pub reason: String,
}

impl FailedFeature {
    /// Its line on screen: "要素 7（编号 110105007）：几何坐标为空" or "feature 7 (id
    /// 110105007): geometry has empty coordinates" — the reason from the i18n table in
    /// Chinese (see [`crate::app::i18n::feature_reason`]), the loader's own words in English.
    pub fn line(&self, lang: crate::config::Lang) -> String {
        crate::app::i18n::failed_feature_line(self.feature_index, self.id.as_deref(), &self.reason, lang)
    }
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

impl MapResource {
    /// A map of `data` alone: not the schematic, no context, no bureaus, no warnings; its
    /// failed features from `data`'s report.
    pub fn from_data(data: MapData) -> Self {
        let failed = failed_features(&data);
        Self { data, schematic: false, context: Vec::new(), bureaus: Vec::new(), warnings: Vec::new(), failed }
    }

    /// The display name of the unit or bureau `id`, or `id` itself when unknown.
    pub fn unit_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.data
            .units
            .iter()
            .map(|u| (&u.id, &u.name))
            .chain(self.bureaus.iter().map(|b| (&b.id, &b.name)))
            .find(|(i, _)| *i == id)
            .map_or(id, |(_, n)| n.as_str())
    }

    /// `id`'s name for a narrow column: without the "朝阳区" prefix every bureau shares, cut
    /// to `max` characters.
    pub fn column_name(&self, id: &str, max: usize) -> String {
        let name = self.unit_name(id);
        crate::app::i18n::truncate(name.strip_prefix("朝阳区").filter(|n| !n.is_empty()).unwrap_or(name), max)
    }

    /// The on-screen load count ("42/43 units loaded · 1 failed"), when a feature failed.
    pub fn loaded_text(&self, lang: crate::config::Lang) -> Option<String> {
        crate::app::i18n::units_loaded_text(self.data.units.len(), self.data.units.len() + self.failed.len(), lang)
    }

    /// Whether `id` is a bureau (a point unit) rather than an area unit.
    pub fn is_bureau(&self, id: &str) -> bool {
        self.bureaus.iter().any(|b| b.id == id)
    }

    /// Every unit id: area units first, then bureaus.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.data.units.iter().map(|u| u.id.as_str()).chain(self.bureaus.iter().map(|b| b.id.as_str()))
    }
}

/// World position (Bevy: x east, y up, z south) of map point `(x east, y north)` metres at
/// height `height` metres. Map north is world −z, so the map reads north-up from the south.
pub fn world_from_map((x, y): (f64, f64), height: f32) -> Vec3 {
    let [wx, wy, wz] = geo::projection::world_from_map([x, y], height);
    Vec3::new(wx, wy, wz)
}

/// Map point `(x east, y north)` metres of a world position (its height dropped): the
/// inverse of [`world_from_map`].
pub fn map_from_world(p: Vec3) -> (f64, f64) {
    let [x, y] = geo::projection::map_from_world(p.to_array());
    (x, y)
}

/// Loads the unit map (`map`, else `[map] file`, else the built-in schematic), its context
/// layer and its bureaus. A context layer or bureau list that cannot be read is a warning,
/// not an error: the map still shows.
///
/// # Errors
/// When the unit map cannot be read or no unit loads.
pub fn load_map(map: Option<&Path>, cfg: &MapConfig) -> anyhow::Result<MapResource> {
    let default = config::resolve(config::DEFAULT_MAP.as_ref());
    let path: PathBuf = match (map, &cfg.file) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(p)) => config::resolve(p),
        (None, None) => default.clone(),
    };
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    let schematic = same(&path, &default);
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
        match geo::load_point_units(&path, &data.projection) {
            Ok((points, errors)) => {
                warnings.extend(errors.into_iter().map(|e| format!("bureaus {}: {e}", path.display())));
                bureaus = points;
            }
            Err(e) => warnings.push(format!("bureaus {}: {e}; showing none", path.display())),
        }
    }
    let failed = failed_features(&data);
    Ok(MapResource { data, schematic, context, bureaus, warnings, failed })
}

/// The features of `data` that did not load (each with its first error), in feature order.
fn failed_features(data: &MapData) -> Vec<FailedFeature> {
    let loaded: std::collections::HashSet<usize> = data.units.iter().map(|u| u.feature_index).collect();
    let mut seen = std::collections::HashSet::new();
    data.report
        .errors()
        .filter(|e| !loaded.contains(&e.feature_index) && seen.insert(e.feature_index))
        .map(|e| FailedFeature { feature_index: e.feature_index, id: e.id.clone(), reason: e.reason.clone() })
        .collect()
}

fn log_startup_warnings(map: Res<MapResource>) {
    for w in &map.warnings {
        warn!("{w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of feature error the loader reports has its Chinese line: none falls
    /// back to the table's catch-all (a new kind of error must be added to `i18n`).
    #[test]
    fn every_kind_of_failed_feature_reads_in_chinese() {
        let ok = r#"{"type":"Polygon","coordinates":[[[116.5,39.9],[116.51,39.9],[116.51,39.91],[116.5,39.9]]]}"#;
        let features = [
            r#"7"#.to_string(),
            r#"{"type":"Feature","properties":{"code":"a"}}"#.to_string(),
            r#"{"type":"Feature","properties":{"code":"b"},"geometry":null}"#.to_string(),
            r#"{"type":"Feature","properties":{"code":"c"},"geometry":{"type":"Polygon","coordinates":"x"}}"#.to_string(),
            r#"{"type":"Feature","properties":{"code":"d"},"geometry":{"type":"Point","coordinates":[116.5,39.9]}}"#.to_string(),
            format!(r#"{{"type":"Feature","properties":{{}},"geometry":{ok}}}"#),
            r#"{"type":"Feature","properties":{"code":"e"},"geometry":{"type":"Polygon","coordinates":[]}}"#.to_string(),
            r#"{"type":"Feature","properties":{"code":"f"},"geometry":{"type":"Polygon","coordinates":[[[116.5,39.9],[999,39.9],[116.51,39.91],[116.5,39.9]]]}}"#.to_string(),
            r#"{"type":"Feature","properties":{"code":"g"},"geometry":{"type":"Polygon","coordinates":[[[116.5,39.9],[116.5,39.9],[116.5,39.9],[116.5,39.9]]]}}"#.to_string(),
            format!(r#"{{"type":"Feature","properties":{{"code":"h"}},"geometry":{ok}}}"#),
            format!(r#"{{"type":"Feature","properties":{{"code":"h"}},"geometry":{ok}}}"#),
        ];
        let text = format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","));
        let map = MapResource::from_data(crate::geo::load::load_geojson_str(&text, &Default::default()).unwrap());
        assert_eq!(map.data.units.len(), 1, "only the first 'h' loads");
        assert_eq!(map.failed.len(), features.len() - 1, "{:#?}", map.failed);
        for f in &map.failed {
            let zh = f.line(crate::config::Lang::Zh);
            assert!(!zh.contains("详见日志"), "feature {} has no Chinese reason: {:?}", f.feature_index, f.reason);
            assert!(!zh.contains(&f.reason), "{zh}");
        }
    }

    #[test]
    fn world_and_map_convert_both_ways_with_north_away_from_the_viewer() {
        let w = world_from_map((1200.0, 3400.0), 50.0);
        assert_eq!(w, Vec3::new(1200.0, 50.0, -3400.0), "north is world -z");
        assert_eq!(map_from_world(w), (1200.0, 3400.0));
    }

    #[test]
    fn a_unit_that_fails_to_load_is_counted_and_listed() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/one_broken_unit.geojson");
        let cfg = MapConfig { context: Some(PathBuf::new()), bureaus: PathBuf::new(), ..MapConfig::default() };
        let map = load_map(Some(&path), &cfg).unwrap();
        assert_eq!(map.data.units.len(), 2);
        assert_eq!(map.failed.len(), 1, "{:?}", map.failed);
        let line = map.failed[0].line(crate::config::Lang::En);
        assert!(line.starts_with("feature 2 (id 900003): "), "{line}");
        let zh = map.failed[0].line(crate::config::Lang::Zh);
        assert!(zh.starts_with("要素 2（编号 900003）："), "{zh}");
        assert!(!zh.is_ascii() && !zh.contains(&map.failed[0].reason), "the reason in Chinese: {zh}");
        assert_eq!(map.loaded_text(crate::config::Lang::En).as_deref(), Some("2/3 units loaded · 1 failed"));
        assert_eq!(map.loaded_text(crate::config::Lang::Zh).as_deref(), Some("2/3 个单元已加载 · 1 个失败"));
        // A map whose every feature loads says nothing.
        let whole = load_map(Some(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/two_units.geojson")), &cfg).unwrap();
        assert!(whole.failed.is_empty() && whole.loaded_text(crate::config::Lang::Zh).is_none());
    }
}
