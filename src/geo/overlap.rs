//! Units whose footprints overlap: a map fault (two units claiming the same ground), as opposed
//! to neighbours that share a border.
//!
//! Candidates come from bounding boxes by sort-and-sweep on x: boxes sorted by their west edge,
//! each compared only with the boxes still open at that edge, and kept when the two boxes
//! overlap in an area that could hold a reportable overlap. Only those pairs get an exact
//! polygon intersection (part by part, again filtered by the parts' boxes). Units that merely
//! touch have boxes that share at most a line, or an overlap far smaller than the threshold,
//! so a map of 10 000 separate units costs one sort and a sweep.

use geo::{Area, BooleanOps, BoundingRect, Polygon, Rect};
use serde::Serialize;

/// Overlaps of this area or less (m²) are boundary noise, not a fault.
pub const OVERLAP_MIN_M2: f64 = 1.0;

/// Overlaps of this fraction of the smaller unit's area or less are boundary noise (0.1 %).
pub const OVERLAP_MIN_FRACTION: f64 = 0.001;

/// What [`find_overlaps`] needs of one unit (the loader builds these from its units).
#[derive(Clone, Copy, Debug)]
pub struct Footprint<'a> {
    /// Index of the unit's source feature.
    pub feature_index: usize,
    /// Unit id.
    pub id: &'a str,
    /// Its polygon parts in local metres (holes as interiors).
    pub polygons: &'a [Polygon<f64>],
    /// Its area, m² (parts minus holes).
    pub area_m2: f64,
}

/// Two units whose footprints overlap by more than [`OVERLAP_MIN_M2`] and
/// [`OVERLAP_MIN_FRACTION`] of the smaller one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitOverlap {
    /// Feature index of the unit that comes first in the file.
    pub feature_index_a: usize,
    /// Its unit id.
    pub id_a: String,
    /// Feature index of the other unit.
    pub feature_index_b: usize,
    /// Its unit id.
    pub id_b: String,
    /// Area both units cover, m² (on the projection's equal-area plane).
    pub area_m2: f64,
    /// `area_m2` over the smaller unit's area, 0–1.
    pub fraction_of_smaller: f64,
}

/// An axis-aligned box `(min_x, min_y, max_x, max_y)`, metres.
pub type Bbox = (f64, f64, f64, f64);

fn bbox_of(polygons: &[Polygon<f64>]) -> Option<Bbox> {
    polygons.iter().filter_map(|p| p.bounding_rect()).map(rect_tuple).reduce(|a, b| (a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3)))
}

fn rect_tuple(r: Rect<f64>) -> Bbox {
    (r.min().x, r.min().y, r.max().x, r.max().y)
}

/// Area of the intersection of two boxes, m²; 0 when they are apart or only touch.
fn box_overlap(a: Bbox, b: Bbox) -> f64 {
    let w = a.2.min(b.2) - a.0.max(b.0);
    let h = a.3.min(b.3) - a.1.max(b.1);
    if w > 0.0 && h > 0.0 { w * h } else { 0.0 }
}

/// Pairs `(i, j)`, `i < j`, of boxes that overlap by more than `min_area(i, j)` m², by
/// sort-and-sweep on x. `None` boxes (empty geometry) take part in no pair.
pub fn candidate_pairs(boxes: &[Option<Bbox>], min_area: impl Fn(usize, usize) -> f64) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..boxes.len()).filter(|&i| boxes[i].is_some()).collect();
    let b = |i: usize| boxes[i].expect("filtered to Some");
    order.sort_by(|&i, &j| b(i).0.total_cmp(&b(j).0));
    let mut open: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for &i in &order {
        let bi = b(i);
        // Boxes that end at or before this west edge can overlap nothing from here on.
        open.retain(|&j| b(j).2 > bi.0);
        for &j in &open {
            if box_overlap(bi, b(j)) > min_area(i, j) {
                out.push((i.min(j), i.max(j)));
            }
        }
        open.push(i);
    }
    out.sort_unstable();
    out
}

/// Area both polygon sets cover, m²: the sum of part-by-part intersections (parts of one unit
/// are assumed not to overlap each other), skipping parts whose boxes do not overlap.
pub fn overlap_area(a: &[Polygon<f64>], b: &[Polygon<f64>]) -> f64 {
    let mut total = 0.0;
    for pa in a {
        let Some(ba) = pa.bounding_rect().map(rect_tuple) else {
            continue;
        };
        for pb in b {
            let Some(bb) = pb.bounding_rect().map(rect_tuple) else {
                continue;
            };
            if box_overlap(ba, bb) > 0.0 {
                total += pa.intersection(pb).unsigned_area();
            }
        }
    }
    total
}

/// Every pair of units whose footprints overlap by more than [`OVERLAP_MIN_M2`] and by more
/// than [`OVERLAP_MIN_FRACTION`] of the smaller unit's area, in `(a, b)` feature order.
pub fn find_overlaps(units: &[Footprint]) -> Vec<UnitOverlap> {
    let boxes: Vec<Option<Bbox>> = units.iter().map(|u| bbox_of(u.polygons)).collect();
    // The overlap cannot exceed the boxes' overlap, so a box overlap under the threshold rules
    // the pair out without an exact test.
    let threshold = |i: usize, j: usize| OVERLAP_MIN_M2.max(OVERLAP_MIN_FRACTION * units[i].area_m2.min(units[j].area_m2));
    let mut out = Vec::new();
    for (i, j) in candidate_pairs(&boxes, threshold) {
        let (a, b) = if units[i].feature_index <= units[j].feature_index { (&units[i], &units[j]) } else { (&units[j], &units[i]) };
        let area = overlap_area(a.polygons, b.polygons);
        let smaller = a.area_m2.min(b.area_m2);
        if area > threshold(i, j) {
            out.push(UnitOverlap {
                feature_index_a: a.feature_index,
                id_a: a.id.to_owned(),
                feature_index_b: b.feature_index,
                id_b: b.id.to_owned(),
                area_m2: area,
                fraction_of_smaller: if smaller > 0.0 { area / smaller } else { 1.0 },
            });
        }
    }
    out.sort_by_key(|o| (o.feature_index_a, o.feature_index_b));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::load::MapUnit;
    use geo::{LineString, Polygon};

    fn square(x: f64, y: f64, side: f64) -> Polygon<f64> {
        Polygon::new(LineString::from(vec![(x, y), (x + side, y), (x + side, y + side), (x, y + side), (x, y)]), vec![])
    }

    fn footprints(units: &[MapUnit]) -> Vec<Footprint<'_>> {
        units.iter().map(|u| Footprint { feature_index: u.feature_index, id: &u.id, polygons: &u.polygons, area_m2: u.area_m2 }).collect()
    }

    fn unit(i: usize, polygons: Vec<Polygon<f64>>) -> MapUnit {
        let area_m2 = polygons.iter().map(|p| p.unsigned_area()).sum();
        MapUnit { feature_index: i, id: format!("u{i}"), name: format!("u{i}"), kind: None, polygons, label_point: (0.0, 0.0), area_m2 }
    }

    #[test]
    fn overlapping_squares_warn_with_their_area_and_touching_ones_do_not() {
        let units = vec![
            unit(0, vec![square(0.0, 0.0, 100.0)]),
            // Overlaps unit 0 in a 20 × 100 m strip.
            unit(1, vec![square(80.0, 0.0, 100.0)]),
            // Shares unit 1's east edge only.
            unit(2, vec![square(180.0, 0.0, 100.0)]),
            // Touches unit 0 along its north edge and unit 1 at a corner strip of zero width.
            unit(3, vec![square(0.0, 100.0, 80.0)]),
        ];
        let o = find_overlaps(&footprints(&units));
        assert_eq!(o.len(), 1, "{o:?}");
        assert_eq!((o[0].id_a.as_str(), o[0].id_b.as_str()), ("u0", "u1"));
        assert!((o[0].area_m2 - 2_000.0).abs() < 1e-6, "{}", o[0].area_m2);
        assert!((o[0].fraction_of_smaller - 0.2).abs() < 1e-9);
    }

    #[test]
    fn holes_and_enclaves_are_not_overlaps() {
        // A unit with a hole, and another unit filling that hole exactly (王四营 and 垡头's enclave).
        let outer = LineString::from(vec![(0.0, 0.0), (300.0, 0.0), (300.0, 300.0), (0.0, 300.0), (0.0, 0.0)]);
        let hole = LineString::from(vec![(100.0, 100.0), (100.0, 200.0), (200.0, 200.0), (200.0, 100.0), (100.0, 100.0)]);
        let units = vec![unit(0, vec![Polygon::new(outer, vec![hole])]), unit(1, vec![square(100.0, 100.0, 100.0)])];
        assert!(find_overlaps(&footprints(&units)).is_empty());
        // A smaller unit inside another's solid part is an overlap of its whole area.
        let units = vec![unit(0, vec![square(0.0, 0.0, 300.0)]), unit(1, vec![square(10.0, 10.0, 50.0)])];
        let o = find_overlaps(&footprints(&units));
        assert_eq!(o.len(), 1);
        assert!((o[0].area_m2 - 2_500.0).abs() < 1e-6 && (o[0].fraction_of_smaller - 1.0).abs() < 1e-9);
    }

    #[test]
    fn tiny_overlaps_stay_quiet() {
        // 500 m² of two 1 km² units is 0.05 %: under 0.1 %.
        let units = vec![unit(0, vec![square(0.0, 0.0, 1000.0)]), unit(1, vec![square(999.5, 0.0, 1000.0)])];
        let o = overlap_area(&units[0].polygons, &units[1].polygons);
        assert!((o - 500.0).abs() < 1e-6, "{o}");
        assert!(find_overlaps(&footprints(&units)).is_empty());
        // Half of a 1 m² unit is 50 %, but only 0.5 m²: under 1 m².
        let units = vec![unit(0, vec![square(0.0, 0.0, 1.0)]), unit(1, vec![square(0.5, 0.0, 1.0)])];
        assert!(find_overlaps(&footprints(&units)).is_empty());
        // 1.5 m² of two 1.5 × 1.5 m units is over both thresholds.
        let units = vec![unit(0, vec![square(0.0, 0.0, 1.5)]), unit(1, vec![square(0.5, 0.0, 1.5)])];
        let o = find_overlaps(&footprints(&units));
        assert_eq!(o.len(), 1);
        assert!((o[0].area_m2 - 1.5).abs() < 1e-9, "{}", o[0].area_m2);
    }

    #[test]
    fn sweep_finds_only_boxes_that_overlap_in_area() {
        // A 100 × 100 grid of touching 10 m squares: no pair overlaps in area.
        let boxes: Vec<Option<Bbox>> = (0..10_000)
            .map(|k| {
                let (x, y) = ((k % 100) as f64 * 10.0, (k / 100) as f64 * 10.0);
                Some((x, y, x + 10.0, y + 10.0))
            })
            .collect();
        assert!(candidate_pairs(&boxes, |_, _| 0.0).is_empty());
        // Grow every box by 1 m: each pair of neighbours (edge and corner) now overlaps.
        let grown: Vec<Option<Bbox>> = boxes.iter().map(|b| b.map(|b| (b.0 - 1.0, b.1 - 1.0, b.2 + 1.0, b.3 + 1.0))).collect();
        let pairs = candidate_pairs(&grown, |_, _| 0.0);
        // 2 · 99 · 100 edge neighbours + 2 · 99 · 99 diagonal ones.
        assert_eq!(pairs.len(), 2 * 99 * 100 + 2 * 99 * 99);
        assert!(pairs.iter().all(|&(i, j)| i < j));
        // A threshold above the edge overlaps (2 × 12 m²) keeps none; diagonals are 2 × 2 m².
        assert!(candidate_pairs(&grown, |_, _| 24.0).is_empty());
        assert_eq!(candidate_pairs(&grown, |_, _| 4.0).len(), 2 * 99 * 100);
        assert!(candidate_pairs(&[None, Some((0.0, 0.0, 1.0, 1.0)), None], |_, _| 0.0).is_empty());
    }

    #[test]
    fn ten_thousand_touching_units_cost_little_and_only_the_shifted_ones_warn() {
        // A 100 × 100 grid of 100 m squares sharing their edges; the squares in every tenth row
        // and column are shifted 30 m east, into their east neighbour (3 000 m², 30 %).
        let mut units = Vec::with_capacity(10_000);
        for k in 0..10_000 {
            let (row, col) = (k / 100, k % 100);
            let shift = if row % 10 == 0 && col % 10 == 0 { 30.0 } else { 0.0 };
            units.push(unit(k, vec![square(col as f64 * 100.0 + shift, row as f64 * 100.0, 100.0)]));
        }
        let t = std::time::Instant::now();
        let o = find_overlaps(&footprints(&units));
        let elapsed = t.elapsed();
        assert_eq!(o.len(), 100);
        for w in &o {
            assert_eq!(w.feature_index_b, w.feature_index_a + 1, "{w:?}");
            assert!((w.area_m2 - 3_000.0).abs() < 1e-6 && (w.fraction_of_smaller - 0.3).abs() < 1e-9, "{w:?}");
        }
        // Shared edges give boxes that only touch (an overlap of zero area), so only the 100
        // shifted pairs reach an exact test.
        let boxes: Vec<Option<Bbox>> = units.iter().map(|u| bbox_of(&u.polygons)).collect();
        assert_eq!(candidate_pairs(&boxes, |_, _| OVERLAP_MIN_M2).len(), 100);
        assert!(elapsed.as_secs_f64() < 2.0, "{elapsed:?}");
    }

    #[test]
    fn ten_thousand_synthetic_units_need_no_exact_test() {
        let text = crate::geo::synthetic::synthetic_map(10_000, crate::geo::synthetic::DEFAULT_SEED).geojson;
        let map = crate::geo::load_geojson_str(&text, &crate::geo::LoadOptions::default()).unwrap();
        assert_eq!(map.units.len(), 10_000);
        assert!(map.report.overlaps.is_empty() && map.report.issues.is_empty());
        let boxes: Vec<Option<Bbox>> = map.units.iter().map(|u| bbox_of(&u.polygons)).collect();
        assert!(candidate_pairs(&boxes, |_, _| 0.0).is_empty(), "one unit per 1 km cell: no boxes meet");
        let t = std::time::Instant::now();
        assert!(find_overlaps(&footprints(&map.units)).is_empty());
        assert!(t.elapsed().as_secs_f64() < 2.0, "{:?}", t.elapsed());
    }
}
