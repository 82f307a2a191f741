//! Map loading on the real Chaoyang boundaries (../shared/maps) and on the built-in schematic:
//! counts, areas, triangulation coverage, the exclave, 王四营's hole, and outward walls.

mod common;

use geo::{Area, Distance, Euclidean};
use situation_wall::geo::{LoadOptions, MapData, build_prism, load_geojson_file};

use common::{check_mesh, project_file, shared_dir};

/// Every unit: triangles cover polygon minus holes within 1e-9, caps cover no hole, walls face out.
fn assert_all_units_sound(map: &MapData) {
    for unit in &map.units {
        let (mesh, checks) = build_prism(&unit.polygons);
        for (i, c) in checks.iter().enumerate() {
            assert!(c.passes(), "unit {} {} part {i}: deviation {:e}", unit.id, unit.name, c.deviation());
        }
        let m = check_mesh(&mesh, &unit.polygons);
        assert_eq!(m.top_triangles, mesh.top_triangles, "unit {}", unit.id);
        assert!(((m.top_area - unit.area_m2) / unit.area_m2).abs() < 1e-6, "unit {}: {} vs {}", unit.id, m.top_area, unit.area_m2);
    }
}

#[test]
fn real_chaoyang_map_loads_43_sound_units() {
    let Some(shared) = shared_dir() else { return };
    let map = load_geojson_file(&shared.join("maps/chaoyang_townships.geojson"), &LoadOptions::default()).unwrap();
    assert_eq!(map.units.len(), 43);
    assert_eq!(map.report.errors().count(), 0, "{:?}", map.report.issues);
    assert_all_units_sound(&map);

    // SOURCES.md: geodesic total 464.1 km²; our equal-area sphere agrees within 0.5 %.
    let total: f64 = map.units.iter().map(|u| u.area_m2).sum::<f64>() / 1e6;
    assert!((total - 464.1).abs() / 464.1 < 0.005, "total {total} km²");

    // The airport exclave (首都机场街道, 10.6 km²) is detached from every other unit by kilometres.
    let airport = map.unit("110105020").expect("首都机场街道");
    assert_eq!(airport.name, "首都机场街道");
    assert!((airport.area_m2 / 1e6 - 10.6).abs() < 0.2, "{}", airport.area_m2 / 1e6);
    let nearest =
        map.units.iter().filter(|u| u.id != airport.id).flat_map(|u| &u.polygons).map(|p| Euclidean.distance(p, &airport.polygons[0])).fold(f64::MAX, f64::min);
    assert!(nearest > 1_000.0, "airport is {nearest} m from the nearest unit");

    // 王四营 keeps its hole, and 垡头's enclave sits inside that hole.
    let wsy = map.unit("110105042").expect("王四营地区");
    assert_eq!(wsy.polygons.len(), 1);
    assert_eq!(wsy.polygons[0].interiors().len(), 1);
    let hole_area = geo::Polygon::new(wsy.polygons[0].interiors()[0].clone(), vec![]).unsigned_area();
    assert!(hole_area > 0.8e6, "hole {hole_area} m²");
    let fatou = map.unit("110105019").expect("垡头街道");
    assert_eq!(fatou.polygons.len(), 3);
    assert!(fatou.polygons.iter().any(|p| (p.unsigned_area() - 0.81e6).abs() < 0.05e6), "垡头 enclave of 0.81 km²");
}

#[test]
fn default_schematic_map_covers_the_official_units() {
    let map = load_geojson_file(&project_file("maps/chaoyang_schematic.geojson"), &LoadOptions::default()).unwrap();
    assert_eq!(map.units.len(), 43);
    assert!(map.report.issues.is_empty(), "{:?}", map.report.issues);
    assert_all_units_sound(&map);
    let csv = std::fs::read_to_string(project_file("maps/chaoyang_units.csv")).unwrap();
    let mut official: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), f[1].to_owned())
        })
        .collect();
    official.sort();
    let mut ours: Vec<(String, String)> = map.units.iter().map(|u| (u.id.clone(), u.name.clone())).collect();
    ours.sort();
    assert_eq!(ours, official);
    assert_eq!(map.units.iter().filter(|u| u.kind.as_deref() == Some("街道")).count(), 24);
    // Each label point lies inside its own cell.
    for u in &map.units {
        let inside = u.polygons.iter().any(|p| geo::Contains::contains(p, &geo::Point::new(u.label_point.0, u.label_point.1)));
        assert!(inside, "label of {} is outside its cell", u.name);
    }
    // The schematic partitions the district outline: about the real district's 464 km².
    let total: f64 = map.units.iter().map(|u| u.area_m2).sum::<f64>() / 1e6;
    assert!((total - 464.0).abs() < 5.0, "total {total} km²");
    let airport = map.unit("110105020").unwrap();
    assert!((airport.area_m2 / 1e6 - 10.6).abs() < 1.0, "airport {} km²", airport.area_m2 / 1e6);
}

#[test]
fn default_context_layer_has_the_fifteen_neighbours() {
    let opts = LoadOptions { id_property: "adcode".into(), ..LoadOptions::default() };
    let map = load_geojson_file(&project_file("maps/beijing_neighbours.geojson"), &opts).unwrap();
    assert_eq!(map.units.len(), 15);
    assert!(map.unit("110105").is_none());
    assert_eq!(map.unit("110113").unwrap().name, "顺义区");
    assert_eq!(map.report.errors().count(), 0);
}
