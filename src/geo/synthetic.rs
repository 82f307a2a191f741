//! Synthetic unit maps for benchmarks: many community-sized polygons (社区, 0.05–0.5 km²) laid
//! out like a city around Chaoyang, as a GeoJSON FeatureCollection string.
//!
//! Layout: a grid of 1 km cells centred on 116.5°E 39.95°N, as wide and tall in proportion as
//! the box lon 116.4–116.6°, lat 39.85–40.05°; cells stretch to fill that box when there are
//! few units and the grid grows past it when there are many (10 000 units span about
//! 88 km × 114 km, lon 115.98–117.02°, lat 39.44–40.46°). Each cell holds one unit, so units
//! never touch:
//!
//! * the outer ring is a star polygon around a jittered cell centre with 12–40 vertices
//!   (angles strictly increasing around the centre, radii 0.65–1 of the unit's scale), so it is
//!   always simple; it runs counter-clockwise;
//! * its net area (outer minus hole) is drawn log-uniformly from 0.05–0.5 km²; a unit that
//!   would come within 25 m of its cell's edge is scaled down to fit (rare, and only for the
//!   largest);
//! * exactly a tenth of the units (rounded) have one hole: a 6–12-vertex star polygon of at most
//!   0.3 of the outer ring's smallest radius around the same centre, clockwise;
//! * properties: `code` (12 digits, unique, starting `99`, which is no real province code),
//!   `name` ("合成社区00001"…), `kind` ("社区") and `score` (0–100, one decimal: a smooth field
//!   over the map plus noise).
//!
//! Coordinates are WGS-84 degrees rounded to 1e-7° (about 1 cm). The same `(units, seed)` gives
//! the same text on every run (another platform's maths library could differ in a last digit,
//! moving a rare coordinate by 1e-7°).
//!
//! With [`DEFAULT_SEED`]:
//!
//! | units | outer-ring vertices | units with a hole | hole vertices |
//! |---|---|---|---|
//! | 1 000 | 26 281 (12–40 per unit) | 100 | 897 |
//! | 10 000 | 260 380 (12–40 per unit) | 1 000 | 8 978 |
//!
//! (The unit test `default_seed_figures` checks these.)

use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::projection::LocalProjection;

/// Seed the `synth-map` and `bench` commands use unless told otherwise.
pub const DEFAULT_SEED: u64 = 20_261_129;

/// Side of one grid cell, metres (one unit per cell).
pub const CELL_M: f64 = 1_000.0;

/// Smallest and largest net unit area (outer minus hole), m².
pub const AREA_RANGE_M2: (f64, f64) = (50_000.0, 500_000.0);

/// Fewest and most outer-ring vertices per unit (distinct positions, not counting the closing
/// repeat).
pub const OUTER_VERTICES: (usize, usize) = (12, 40);

/// Fewest and most hole vertices.
pub const HOLE_VERTICES: (usize, usize) = (6, 12);

/// Centre of the layout, degrees (lon, lat).
const CENTRE_DEG: (f64, f64) = (116.5, 39.95);
/// The city-like box the layout fills at least: lon 116.4–116.6°, lat 39.85–40.05°, in degrees.
const BASE_SPAN_DEG: (f64, f64) = (0.2, 0.2);
/// Gap kept between a unit and its cell's edge, metres.
const MARGIN_M: f64 = 25.0;
/// Smallest outer radius relative to the unit's scale.
const MIN_RADIUS: f64 = 0.65;

/// What one generated map contains.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticStats {
    /// Number of units (features).
    pub units: usize,
    /// Grid columns × rows.
    pub grid: (usize, usize),
    /// Outer-ring vertices over all units (distinct positions, not the closing repeat).
    pub outer_vertices: usize,
    /// Fewest and most outer-ring vertices of one unit.
    pub outer_vertices_range: (usize, usize),
    /// Units with a hole (each has at most one).
    pub holes: usize,
    /// Hole vertices over all units.
    pub hole_vertices: usize,
    /// Smallest and largest net unit area (outer minus hole), m², on the generator's
    /// equal-area plane before rounding to 1e-7°.
    pub area_range_m2: (f64, f64),
    /// Bounding box of all coordinates, degrees: (min lon, min lat, max lon, max lat).
    pub bounds_deg: (f64, f64, f64, f64),
}

/// A generated map: the GeoJSON text and its figures.
#[derive(Clone, Debug)]
pub struct SyntheticMap {
    /// A GeoJSON FeatureCollection of Polygon features.
    pub geojson: String,
    /// What it contains.
    pub stats: SyntheticStats,
}

/// One star-shaped ring at unit scale (radius ≤ `max_radius`), counter-clockwise, open.
fn star_ring(rng: &mut ChaCha8Rng, vertices: usize, min_radius: f64, max_radius: f64) -> Vec<(f64, f64)> {
    let step = TAU / vertices as f64;
    let phase = rng.random_range(0.0..TAU);
    (0..vertices)
        .map(|i| {
            // ±0.35 of a step keeps consecutive angles at least 0.3 step apart, so the ring
            // winds once around the centre and cannot cross itself.
            let angle = phase + (i as f64 + rng.random_range(-0.35..0.35)) * step;
            let r = rng.random_range(min_radius..=max_radius);
            (r * angle.cos(), r * angle.sin())
        })
        .collect()
}

/// Signed shoelace area of an open ring (positive when counter-clockwise).
fn ring_area(ring: &[(f64, f64)]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum::<f64>()
        / 2.0
}

fn round7(deg: f64) -> f64 {
    (deg * 1e7).round() / 1e7
}

/// Generates `units` synthetic units with `seed`; see the module documentation for the layout,
/// shapes and properties. Zero units give an empty FeatureCollection.
pub fn synthetic_map(units: usize, seed: u64) -> SyntheticMap {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let projection = LocalProjection::new(CENTRE_DEG.0, CENTRE_DEG.1);
    // The base box in metres on the projection's plane.
    let base_w = projection.project(CENTRE_DEG.0 + BASE_SPAN_DEG.0 / 2.0, CENTRE_DEG.1).0 * 2.0;
    let base_h = projection.project(CENTRE_DEG.0, CENTRE_DEG.1 + BASE_SPAN_DEG.1 / 2.0).1 * 2.0;
    let cols = ((units as f64 * base_w / base_h).sqrt().ceil() as usize).max(1);
    let rows = units.div_ceil(cols).max(1);
    let cell_w = CELL_M.max(base_w / cols as f64);
    let cell_h = CELL_M.max(base_h / rows as f64);
    let (x0, y0) = (-cell_w * cols as f64 / 2.0, -cell_h * rows as f64 / 2.0);

    let mut with_hole = vec![false; units];
    for k in rand::seq::index::sample(&mut rng, units, (units + 5) / 10) {
        with_hole[k] = true;
    }

    let mut stats = SyntheticStats {
        units,
        grid: (cols, rows),
        outer_vertices: 0,
        outer_vertices_range: (usize::MAX, 0),
        holes: 0,
        hole_vertices: 0,
        area_range_m2: (f64::MAX, 0.0),
        bounds_deg: (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
    };
    let mut features = Vec::with_capacity(units);
    for (k, &has_hole) in with_hole.iter().enumerate() {
        let (row, col) = (k / cols, k % cols);
        let n_outer = rng.random_range(OUTER_VERTICES.0..=OUTER_VERTICES.1);
        let outer = star_ring(&mut rng, n_outer, MIN_RADIUS, 1.0);
        let hole = has_hole.then(|| {
            let n = rng.random_range(HOLE_VERTICES.0..=HOLE_VERTICES.1);
            star_ring(&mut rng, n, 0.15 * MIN_RADIUS, 0.3 * MIN_RADIUS)
        });
        let net_unit_area = ring_area(&outer) - hole.as_deref().map_or(0.0, ring_area);
        let (lo, hi) = AREA_RANGE_M2;
        let target = (rng.random_range(lo.ln()..=hi.ln())).exp();
        let reach = outer.iter().map(|&(x, y)| x.abs().max(y.abs())).fold(0.0, f64::max);
        let room = (cell_w.min(cell_h) / 2.0 - MARGIN_M) / reach;
        let scale = (target / net_unit_area).sqrt().min(room);
        // Jitter the centre within whatever room the unit leaves in its cell.
        let slack_x = (cell_w / 2.0 - MARGIN_M - reach * scale).max(0.0);
        let slack_y = (cell_h / 2.0 - MARGIN_M - reach * scale).max(0.0);
        let cx = x0 + (col as f64 + 0.5) * cell_w + rng.random_range(-1.0..=1.0) * slack_x;
        let cy = y0 + (row as f64 + 0.5) * cell_h + rng.random_range(-1.0..=1.0) * slack_y;
        let area = net_unit_area * scale * scale;

        let mut to_degrees = |ring: &[(f64, f64)], reverse: bool| -> Value {
            let mut pts: Vec<[f64; 2]> = ring
                .iter()
                .map(|&(x, y)| {
                    let (lon, lat) = projection.unproject(cx + x * scale, cy + y * scale);
                    let b = &mut stats.bounds_deg;
                    *b = (b.0.min(lon), b.1.min(lat), b.2.max(lon), b.3.max(lat));
                    [round7(lon), round7(lat)]
                })
                .collect();
            if reverse {
                pts.reverse();
            }
            pts.push(pts[0]);
            json!(pts)
        };
        let mut rings = vec![to_degrees(&outer, false)];
        if let Some(hole) = &hole {
            rings.push(to_degrees(hole, true));
            stats.holes += 1;
            stats.hole_vertices += hole.len();
        }
        stats.outer_vertices += n_outer;
        stats.outer_vertices_range = (stats.outer_vertices_range.0.min(n_outer), stats.outer_vertices_range.1.max(n_outer));
        stats.area_range_m2 = (stats.area_range_m2.0.min(area), stats.area_range_m2.1.max(area));

        // A smooth risk field over the map (hot spots a few cells wide) plus noise.
        let (u, v) = ((col as f64 + 0.5) / cols as f64, (row as f64 + 0.5) / rows as f64);
        let field = 50.0 + 30.0 * (TAU * 1.5 * u).sin() * (TAU * 1.2 * v).cos() + 15.0 * (u - v);
        let score = ((field + rng.random_range(-15.0..=15.0)).clamp(0.0, 100.0) * 10.0).round() / 10.0;
        features.push(json!({
            "type": "Feature",
            "properties": {
                "code": format!("99{:010}", k + 1),
                "name": format!("合成社区{:05}", k + 1),
                "kind": "社区",
                "score": score,
            },
            "geometry": { "type": "Polygon", "coordinates": rings },
        }));
    }
    if units == 0 {
        stats.outer_vertices_range = (0, 0);
        stats.area_range_m2 = (0.0, 0.0);
        stats.bounds_deg = (0.0, 0.0, 0.0, 0.0);
    }
    let collection = json!({
        "type": "FeatureCollection",
        "name": format!("synthetic-{units}"),
        "description": format!("Synthetic benchmark map: {units} community-sized units, seed {seed} (situation-wall synth-map). Not real boundaries."),
        "features": features,
    });
    SyntheticMap { geojson: collection.to_string(), stats }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::{LoadOptions, build_prism, load_geojson_str};

    #[test]
    fn default_seed_figures() {
        let small = synthetic_map(1_000, DEFAULT_SEED).stats;
        assert_eq!((small.units, small.outer_vertices, small.holes, small.hole_vertices), (1_000, 26_281, 100, 897), "{small:?}");
        let large = synthetic_map(10_000, DEFAULT_SEED).stats;
        assert_eq!((large.units, large.outer_vertices, large.holes, large.hole_vertices), (10_000, 260_380, 1_000, 8_978), "{large:?}");
        for s in [&small, &large] {
            assert_eq!(s.outer_vertices_range, OUTER_VERTICES);
            assert!(s.area_range_m2.0 >= AREA_RANGE_M2.0 * 0.999 && s.area_range_m2.1 <= AREA_RANGE_M2.1, "{s:?}");
        }
        // The layout covers at least the city box and grows with N.
        assert!(small.bounds_deg.0 < 116.45 && small.bounds_deg.2 > 116.55 && small.bounds_deg.1 < 39.9 && small.bounds_deg.3 > 40.0, "{small:?}");
        assert!(large.bounds_deg.2 - large.bounds_deg.0 > 3.0 * (small.bounds_deg.2 - small.bounds_deg.0));
    }

    #[test]
    fn same_seed_same_text() {
        assert_eq!(synthetic_map(50, 7).geojson, synthetic_map(50, 7).geojson);
        assert_ne!(synthetic_map(50, 7).geojson, synthetic_map(50, 8).geojson);
        assert_eq!(synthetic_map(0, 7).stats.units, 0);
    }

    #[test]
    fn thousand_units_load_cleanly_without_overlap() {
        let map = synthetic_map(1_000, DEFAULT_SEED);
        let data = load_geojson_str(&map.geojson, &LoadOptions::default()).unwrap();
        assert!(data.report.issues.is_empty(), "{:?}", &data.report.issues[..data.report.issues.len().min(5)]);
        assert_eq!(data.units.len(), 1_000);

        let holes = data.units.iter().filter(|u| u.polygons[0].interiors().len() == 1).count();
        assert!((80..=120).contains(&holes), "{holes} holes");
        let mut codes = std::collections::HashSet::new();
        let mut boxes = Vec::new();
        for u in &data.units {
            assert_eq!(u.polygons.len(), 1);
            assert!(u.polygons[0].interiors().len() <= 1);
            assert!(codes.insert(u.id.clone()) && u.id.len() == 12 && u.id.bytes().all(|b| b.is_ascii_digit()), "{}", u.id);
            assert!(u.name.starts_with("合成社区"));
            let outer = u.polygons[0].exterior().0.len() - 1;
            assert!((12..=40).contains(&outer), "{}: {outer} outer vertices", u.id);
            // 1e-7° rounding and the loader's own projection move areas by far less than 1 %.
            assert!((0.0495e6..=0.505e6).contains(&u.area_m2), "{}: {} m²", u.id, u.area_m2);
            let (mesh, checks) = build_prism(&u.polygons);
            assert!(checks.iter().all(|c| c.passes()), "{}: {checks:?}", u.id);
            assert!(mesh.top_triangles >= outer - 2);
            let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for c in u.polygons[0].exterior().coords() {
                b = (b.0.min(c.x), b.1.min(c.y), b.2.max(c.x), b.3.max(c.y));
            }
            boxes.push(b);
        }
        // No two units' bounding boxes meet, so no two units overlap.
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                assert!(a.2 < b.0 || b.2 < a.0 || a.3 < b.1 || b.3 < a.1, "{a:?} meets {b:?}");
            }
        }
    }

    #[test]
    fn scores_are_in_range() {
        let map = synthetic_map(200, 3);
        let v: Value = serde_json::from_str(&map.geojson).unwrap();
        for f in v["features"].as_array().unwrap() {
            let s = f["properties"]["score"].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&s), "{s}");
        }
    }
}
