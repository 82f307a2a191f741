//! The geometry kinds of issue 10, through the library as the app and `check-map` use it:
//! degenerate rings, overlapping and touching units, ECharts/DataV compressed maps, the
//! check-map areas and the mesh dump. Inputs are the small files in tests/data/geo.

use std::path::PathBuf;

use situation_wall::cli::{check_map, format_area, mesh_json};
use situation_wall::geo::{IssueSeverity, LoadOptions, MapData, build_prism, load_geojson_file};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/geo").join(name)
}

fn load(name: &str) -> MapData {
    load_geojson_file(&data(name), &LoadOptions::default()).unwrap()
}

/// Area of a lon/lat box on the authalic sphere (R = 6 371 007.2 m), m².
fn box_area(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> f64 {
    6_371_007.2f64.powi(2) * (lon1 - lon0).to_radians() * (lat1.to_radians().sin() - lat0.to_radians().sin())
}

#[test]
fn degenerate_rings_name_feature_id_part_and_ring() {
    let map = load("hole_one_point.geojson");
    let w: Vec<String> = map.report.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "warning: feature 0 (id 900011) part 0 ring 1: hole dropped: it is one point repeated (needs 3 distinct positions)",
            "warning: feature 1 (id 900012) part 1 ring 1: hole dropped: it is one point repeated (needs 3 distinct positions)",
        ]
    );
    let map = load("hole_equal_to_outer.geojson");
    let first = &map.report.issues[0];
    assert_eq!((first.feature_index, first.id.as_deref(), first.part, first.ring), (0, Some("900001"), Some(0), Some(1)));
    assert!(first.reason.contains("outer ring again"), "{first}");
    // The unit keeps its whole square: neither the hole's cap cut-out nor its walls remain.
    let u = map.unit("900001").unwrap();
    let square = box_area(116.50, 39.90, 116.51, 39.91);
    assert!((u.area_m2 - square).abs() / square < 1e-4, "{} vs {square}", u.area_m2);
    assert_eq!(build_prism(&u.polygons).0.wall_quads, 4);
    // 900003's holes cover it: not loaded, never a 0.000 km² hollow frame.
    assert!(map.unit("900003").is_none());
    let e: Vec<_> = map.report.errors().collect();
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].feature_index, e[0].id.as_deref()), (2, Some("900003")));
    assert!(e[0].reason.starts_with("not loaded: no usable polygon part"), "{}", e[0]);
}

#[test]
fn zero_area_outer_rings_never_load_as_empty_units() {
    let map = load("zero_area_outer.geojson");
    let ids: Vec<&str> = map.units.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["900022", "900024"]);
    assert!(map.units.iter().all(|u| u.area_m2 > 0.9e6), "{:?}", map.units.iter().map(|u| u.area_m2).collect::<Vec<_>>());
    let errors: Vec<usize> = map.report.errors().map(|e| e.feature_index).collect();
    assert_eq!(errors, [0, 2]);
    let zero: Vec<(usize, Option<usize>, Option<usize>)> =
        map.report.warnings().filter(|w| w.reason.contains("zero area")).map(|w| (w.feature_index, w.part, w.ring)).collect();
    assert_eq!(zero, [(0, Some(0), Some(0)), (1, Some(0), Some(0)), (2, Some(0), Some(0))]);
}

#[test]
fn overlaps_warn_and_shared_borders_do_not() {
    let map = load("overlapping_squares.geojson");
    assert_eq!(map.report.overlaps.len(), 1);
    let o = &map.report.overlaps[0];
    assert_eq!((o.id_a.as_str(), o.id_b.as_str()), ("900031", "900032"));
    let strip = box_area(116.508, 39.90, 116.51, 39.91);
    assert!((o.area_m2 - strip).abs() / strip < 1e-3, "{} vs {strip}", o.area_m2);
    let w: Vec<_> = map.report.warnings().collect();
    assert_eq!(w.len(), 1);
    assert!(w[0].to_string().starts_with("warning: feature 0 (id 900031): overlaps unit 900032 (feature 1) by "), "{}", w[0]);
    assert!(w[0].reason.ends_with(" m² (20.00 % of the smaller unit)"), "{}", w[0]);

    let map = load("touching_squares.geojson");
    assert_eq!(map.units.len(), 4);
    assert!(map.report.issues.is_empty(), "{:?}", map.report.issues);
}

#[test]
fn compressed_maps_decode_and_damaged_ones_name_the_format() {
    let map = load("echarts_compressed.geojson");
    assert_eq!(map.units.len(), 3);
    assert!(map.report.issues.is_empty(), "{:?}", map.report.issues);
    // 900061: a 10 × 10-step square (1024 steps per degree) with a 3 × 3-step hole.
    let outer = box_area(119_296.0 / 1024.0, 40_858.0 / 1024.0, 119_306.0 / 1024.0, 40_868.0 / 1024.0);
    let a = map.unit("900061").unwrap();
    assert_eq!(a.polygons[0].interiors().len(), 1);
    assert!((a.area_m2 - 0.91 * outer).abs() / outer < 1e-3, "{}", a.area_m2);
    assert_eq!(map.unit("900062").unwrap().polygons.len(), 2);

    let map = load("echarts_compressed_damaged.geojson");
    assert_eq!(map.units.len(), 1);
    let errors: Vec<String> = map.report.errors().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3);
    for (e, n) in errors.iter().zip(1..) {
        assert!(e.contains(": ECharts/DataV compressed (UTF8Encoding) map: ") && e.ends_with(&format!(" at feature {n}")), "{e}");
        assert!(!e.contains("not valid GeoJSON"), "{e}");
    }
}

#[test]
fn check_map_prints_small_areas_in_square_metres() {
    assert_eq!(format_area(5.0), "5.0 m²");
    assert_eq!(format_area(9_999.0), "9999.0 m²");
    assert_eq!(format_area(10_000.0), "0.010");
    assert_eq!(format_area(3_812_345.6), "3.812");

    // A 2 × 2.5 m unit (about 5 m²) beside a normal one.
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("geometry-kinds-tiny.geojson");
    let (dlon, dlat) = (2.0 / 85_300.0, 2.5 / 111_195.0);
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[
{{"type":"Feature","properties":{{"code":"900091","name":"tiny"}},"geometry":{{"type":"Polygon","coordinates":[[[116.5,39.9],[{x},39.9],[{x},{y}],[116.5,{y}],[116.5,39.9]]]}}}},
{{"type":"Feature","properties":{{"code":"900092","name":"normal"}},"geometry":{{"type":"Polygon","coordinates":[[[116.52,39.9],[116.53,39.9],[116.53,39.91],[116.52,39.91],[116.52,39.9]]]}}}}]}}"#,
        x = 116.5 + dlon,
        y = 39.9 + dlat
    );
    std::fs::write(&path, text).unwrap();
    let (report, loaded) = check_map(&path, &LoadOptions::default()).unwrap();
    assert_eq!(loaded, 2);
    let tiny = report.lines().find(|l| l.starts_with("900091")).unwrap();
    let m2: f64 = tiny.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!((m2 - 5.0).abs() < 0.05, "{tiny}");
    assert!(tiny.contains(" m²"), "{tiny}");
    let normal = report.lines().find(|l| l.starts_with("900092")).unwrap();
    let km2: f64 = normal.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!((km2 - box_area(116.52, 39.9, 116.53, 39.91) / 1e6).abs() < 0.001, "{normal}");

    // Overlap and degenerate-ring warnings reach the report.
    let (report, _) = check_map(&data("overlapping_squares.geojson"), &LoadOptions::default()).unwrap();
    assert!(report.contains("warning: feature 0 (id 900031): overlaps unit 900032 (feature 1) by "), "{report}");
    let (report, _) = check_map(&data("hole_one_point.geojson"), &LoadOptions::default()).unwrap();
    assert!(report.contains("warning: feature 0 (id 900011) part 0 ring 1: hole dropped"), "{report}");
}

#[test]
fn mesh_json_lists_top_and_wall_triangles_in_metres() {
    let text = mesh_json(&data("hole_equal_to_outer.geojson"), &LoadOptions::default()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let units = v["units"].as_array().unwrap();
    let ids: Vec<&str> = units.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["900001", "900002"]);
    let map = load("hole_equal_to_outer.geojson");
    for (u, unit) in units.iter().zip(&map.units) {
        let top = u["top"].as_array().unwrap();
        let walls = u["walls"].as_array().unwrap();
        let (mesh, _) = build_prism(&unit.polygons);
        assert_eq!(top.len(), mesh.top_triangles);
        assert_eq!(walls.len(), 2 * mesh.wall_quads);
        // The caps cover the unit's area; each is counter-clockwise seen from above.
        let mut area = 0.0;
        for t in top {
            let p: Vec<(f64, f64)> = t.as_array().unwrap().iter().map(|q| (q[0].as_f64().unwrap(), q[1].as_f64().unwrap())).collect();
            let a2 = (p[1].0 - p[0].0) * (p[2].1 - p[0].1) - (p[2].0 - p[0].0) * (p[1].1 - p[0].1);
            assert!(a2 >= 0.0);
            area += a2 / 2.0;
        }
        assert!((area - unit.area_m2).abs() / unit.area_m2 < 1e-5, "{}: {area} vs {}", unit.id, unit.area_m2);
        // Walls stand from the ground (0) to the top (1).
        let heights: Vec<f64> = walls.iter().flat_map(|t| t.as_array().unwrap().iter().map(|q| q[2].as_f64().unwrap())).collect();
        assert!(heights.iter().all(|&z| z == 0.0 || z == 1.0));
    }
    // 900001's dropped hole (its outer ring again) has no walls: 4 edges, 8 triangles.
    assert_eq!(units[0]["walls"].as_array().unwrap().len(), 8);
    assert_eq!(units[1]["walls"].as_array().unwrap().len(), 16);
    assert!(v["projection"]["lon0"].as_f64().is_some());
    // Errors are the loader's: a missing file fails.
    assert!(mesh_json(&data("does-not-exist.geojson"), &LoadOptions::default()).is_err());
}

#[test]
fn issue_severity_of_an_overlap_is_a_warning() {
    let map = load("overlapping_squares.geojson");
    assert!(map.report.issues.iter().all(|i| i.severity == IssueSeverity::Warning && i.part.is_none() && i.ring.is_none()));
}
