//! The map-loading cases of ../shared/cases (see its LOG.md), each as its expected behaviour
//! says. Skipped, with a message, when ../shared is absent.

mod common;

use std::path::PathBuf;

use geo::{Area, Contains, Point, Polygon};
use situation_wall::geo::{Crs, IssueSeverity, LoadOptions, LocalProjection, MapData, build_prism, load_geojson_file};

use common::{check_mesh, hole_centres, shared_dir};

fn case(name: &str) -> Option<PathBuf> {
    shared_dir().map(|d| d.join("cases").join(name))
}

fn load(name: &str) -> Option<MapData> {
    case(name).map(|p| load_geojson_file(&p, &LoadOptions::default()).unwrap())
}

fn outer_area(p: &Polygon<f64>) -> f64 {
    Polygon::new(p.exterior().clone(), vec![]).unsigned_area()
}

fn ids(map: &MapData) -> Vec<&str> {
    map.units.iter().map(|u| u.id.as_str()).collect()
}

/// Net/outer area ratio, the mesh checks, wall-quad count, and no cap over a hole centre.
fn assert_holey_unit(map: &MapData, id: &str, ratio: f64, walls: usize) {
    let u = map.unit(id).unwrap();
    let net = u.polygons[0].unsigned_area();
    assert!((net / outer_area(&u.polygons[0]) - ratio).abs() < 1e-4, "{id}: ratio {}", net / outer_area(&u.polygons[0]));
    let (mesh, checks) = build_prism(&u.polygons);
    assert!(checks.iter().all(|c| c.passes()), "{id}: {checks:?}");
    check_mesh(&mesh, &u.polygons);
    assert_eq!(mesh.wall_quads, walls, "{id}");
    for c in hole_centres(&u.polygons) {
        assert!(!u.polygons[0].contains(&Point::from(c)), "{id}: hole centre is covered");
    }
}

#[test]
fn case_001_hole_touching_outer_ring() {
    let Some(map) = load("001-hole-touching-outer.geojson") else { return };
    assert_eq!(ids(&map), ["330001"]);
    assert!(map.report.issues.is_empty(), "{:?}", map.report.issues);
    assert_holey_unit(&map, "330001", 400.0 / 450.0, 10);
    // ≈ 42 831 m² (LOG.md quotes an equirectangular ±0.5 %).
    let a = map.units[0].area_m2;
    assert!((a - 42_831.0).abs() / 42_831.0 < 0.005, "{a}");
}

#[test]
fn case_002_touching_holes() {
    let Some(map) = load("002-touching-holes.geojson") else { return };
    assert_eq!(ids(&map), ["330002"]);
    // LOG.md says 11 wall quads, but the input has 4 + 3 + 3 = 10 non-zero ring edges, and its
    // own wall rule (one quad per input edge) gives 10, as case 001's "10 (4+3+3)" does.
    assert_holey_unit(&map, "330002", 0.909, 10);
    assert!((map.units[0].area_m2 - 48_667.0).abs() / 48_667.0 < 0.005);
}

#[test]
fn case_005_every_winding_gives_the_same_mesh() {
    let Some(map) = load("005-winding-variants.geojson") else { return };
    assert_eq!(ids(&map), ["330050", "330051", "330052", "330053"]);
    for id in ["330050", "330051", "330052", "330053"] {
        assert_holey_unit(&map, id, 0.84, 8);
        let u = map.unit(id).unwrap();
        assert!((u.area_m2 - 899_400.0).abs() / 899_400.0 < 0.005, "{id}: {}", u.area_m2);
        // Hole walls face into the hole: n · (edge midpoint − hole centre) < 0.
        let (mesh, _) = build_prism(&u.polygons);
        let hole = hole_centres(&u.polygons)[0];
        let hole_ring = &u.polygons[0].interiors()[0];
        let mut hole_walls = 0;
        for t in mesh.indices.chunks_exact(3) {
            let n = mesh.normals[t[0] as usize];
            if n[1] != 0.0 {
                continue;
            }
            let p = mesh.positions[t[0] as usize];
            let (x, y) = common::plane(p);
            let on_hole = hole_ring.0.iter().any(|c| (c.x - x).abs() < 1e-2 && (c.y - y).abs() < 1e-2);
            if on_hole {
                let mid = [(x - hole.x), (y - hole.y)];
                let dot = f64::from(n[0]) * mid[0] + (-f64::from(n[2])) * mid[1];
                assert!(dot < 0.0, "{id}: hole wall faces away from the hole");
                hole_walls += 1;
            }
        }
        assert!(hole_walls >= 8, "{id}: {hole_walls} hole wall triangles");
    }
    // Same mesh up to vertex order: equal cap areas and wall counts.
    let areas: Vec<f64> = map.units.iter().map(|u| u.area_m2).collect();
    assert!(areas.iter().all(|a| (a - areas[0]).abs() / areas[0] < 1e-6), "{areas:?}");
}

#[test]
fn case_007_null_geometry_and_foreign_members() {
    let Some(map) = load("007-null-geometry-foreign-members.geojson") else { return };
    assert_eq!(ids(&map), ["330071", "330073", "330074", "000076"]);
    let errors: Vec<usize> = map.report.errors().map(|e| e.feature_index).collect();
    assert_eq!(errors, [1, 4]);
    assert!(map.report.errors().all(|e| e.reason.contains("no location")));
    assert_eq!(map.report.warnings().count(), 0, "foreign members are ignored silently");
}

#[test]
fn case_009_unclosed_and_short_rings() {
    let Some(map) = load("009-unclosed-short-rings.geojson") else { return };
    assert_eq!(ids(&map), ["330091", "330092", "330093", "330094", "330097"]);
    let errors: Vec<usize> = map.report.errors().map(|e| e.feature_index).collect();
    assert_eq!(errors, [4, 5]);
    let warn = |index: usize| map.report.warnings().filter(move |w| w.feature_index == index).collect::<Vec<_>>();
    assert!(warn(0).iter().any(|w| w.reason.contains("not closed")));
    assert!(warn(2).iter().any(|w| w.part == Some(0) && w.reason.contains("part dropped")));
    assert_eq!(warn(3).iter().filter(|w| w.reason.contains("hole")).count(), 4);
    assert!(warn(6).is_empty(), "an end 1e-12° off counts as closed");
    let a91 = map.unit("330091").unwrap().area_m2;
    let a92 = map.unit("330092").unwrap().area_m2;
    assert!((a91 - a92).abs() / a92 < 1e-9, "{a91} vs {a92}");
    for u in &map.units {
        assert!((u.area_m2 / 1e6 - 1.0708).abs() < 0.006, "{}: {}", u.id, u.area_m2);
        let (mesh, checks) = build_prism(&u.polygons);
        assert!(checks.iter().all(|c| c.passes()));
        check_mesh(&mesh, &u.polygons);
        assert_eq!(mesh.wall_quads, 4, "{}", u.id);
    }
    assert_eq!(map.unit("330094").unwrap().polygons[0].interiors().len(), 0);
    for e in map.report.errors() {
        assert_eq!(e.severity, IssueSeverity::Error);
        assert!(e.to_string().starts_with(&format!("error: feature {}", e.feature_index)));
    }
}

#[test]
fn case_011_gcj02_is_converted_only_when_declared() {
    let (Some(wgs), Some(gcj)) = (case("011-gcj02-vs-wgs84.wgs84.geojson"), case("011-gcj02-vs-wgs84.gcj02.geojson")) else { return };
    let twin = load_geojson_file(&wgs, &LoadOptions::default()).unwrap();
    assert_eq!(ids(&twin), ["110101"]);
    assert!(twin.report.errors().any(|e| e.reason.contains("Point")), "the alert marker is not a unit");
    let projection: LocalProjection = twin.projection;
    let declared = load_geojson_file(&gcj, &LoadOptions { crs: Crs::Gcj02, projection: Some(projection), ..LoadOptions::default() }).unwrap();
    let raw = load_geojson_file(&gcj, &LoadOptions { projection: Some(projection), ..LoadOptions::default() }).unwrap();
    let coords = |m: &MapData| m.units[0].polygons[0].exterior().0.clone();
    let reference = coords(&twin);
    let max_offset = |m: &MapData| {
        let c = coords(m);
        assert_eq!(c.len(), reference.len());
        c.iter().zip(&reference).map(|(a, b)| (a.x - b.x).hypot(a.y - b.y)).fold(0.0, f64::max)
    };
    assert!(max_offset(&declared) < 1.0, "declared GCJ-02: {} m", max_offset(&declared));
    let raw_offsets: Vec<f64> = coords(&raw).iter().zip(&reference).map(|(a, b)| (a.x - b.x).hypot(a.y - b.y)).collect();
    assert!(raw_offsets.iter().all(|d| (553.7..=556.0).contains(d)), "undeclared: {raw_offsets:?}");
    // The WGS-84 alert point lies inside the converted unit.
    let (x, y) = projection.project(116.3975, 39.9087);
    assert!(declared.units[0].polygons[0].contains(&Point::new(x, y)));
}

#[test]
fn case_021_cjk_names_survive_loading() {
    let Some(map) = load("021-cjk-names.geojson") else { return };
    assert_eq!(map.units.len(), 14);
    assert_eq!(map.unit("500011").unwrap().name, "测试𠮟区");
    assert_eq!(map.unit("500005").unwrap().name, "澳門特別行政區");
    assert_eq!(map.unit("500013").unwrap().name, "阿拉善盟额济纳旗达来呼布镇（测试）");
}
