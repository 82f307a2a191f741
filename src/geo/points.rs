//! Point units (the district's bureaus, 委办局) from a CSV file:
//! `code,name,kind,lon,lat,simulated` with a header line, WGS-84 degrees.

use std::path::Path;

use super::projection::LocalProjection;

/// One point unit, projected.
#[derive(Clone, Debug, PartialEq)]
pub struct PointUnit {
    /// Unit id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind, e.g. 委办局.
    pub kind: String,
    /// Longitude, WGS-84 degrees.
    pub lon: f64,
    /// Latitude, WGS-84 degrees.
    pub lat: f64,
    /// Position in local metres (x east, y north).
    pub xy: (f64, f64),
    /// Whether the position and figures are simulated.
    pub simulated: bool,
}

/// Parses point units; each bad line is reported as `line N: reason` and skipped.
pub fn parse_point_units(text: &str, projection: &LocalProjection) -> (Vec<PointUnit>, Vec<String>) {
    let mut units = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 5 {
            errors.push(format!("line {n}: expected code,name,kind,lon,lat[,simulated], got {} fields", f.len()));
            continue;
        }
        let (Ok(lon), Ok(lat)) = (f[3].parse::<f64>(), f[4].parse::<f64>()) else {
            errors.push(format!("line {n}: lon/lat {:?},{:?} are not numbers", f[3], f[4]));
            continue;
        };
        if !((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)) || f[0].is_empty() {
            errors.push(format!("line {n}: empty code or lon/lat out of range"));
            continue;
        }
        units.push(PointUnit {
            id: f[0].to_owned(),
            name: f[1].to_owned(),
            kind: f[2].to_owned(),
            lon,
            lat,
            xy: projection.project(lon, lat),
            simulated: f.get(5).is_some_and(|s| *s == "true"),
        });
    }
    (units, errors)
}

/// Reads [`parse_point_units`] from a file.
///
/// # Errors
/// When the file cannot be read.
pub fn load_point_units(path: &Path, projection: &LocalProjection) -> std::io::Result<(Vec<PointUnit>, Vec<String>)> {
    Ok(parse_point_units(&std::fs::read_to_string(path)?, projection))
}

/// A group of point units close together, drawn as one column at district zoom.
#[derive(Clone, Debug, PartialEq)]
pub struct PointCluster {
    /// Indices of its members in the points given to [`cluster_points`] (two or more).
    pub members: Vec<usize>,
    /// Where its column stands, local metres (x east, y north): the members' centroid, or the
    /// nearest spot to it whose footprint is clear of every point to avoid.
    pub at: (f64, f64),
}

/// Groups `points` (local metres) so that every member of a group lies within `radius_m` of
/// the group's first point (points taken west to east, each joining the first group it fits);
/// groups of one are not returned. Each group's column stands at its centroid unless a point
/// of `avoid` (the areas' label points) lies within `clearance_m` of it on either axis (the
/// column's square footprint with a margin): then at the nearest free spot on rings around the
/// centroid, out to 1.5 × `radius_m`, else at the centroid. O(n²) in points (n is ~120).
pub fn cluster_points(points: &[(f64, f64)], radius_m: f64, avoid: &[(f64, f64)], clearance_m: f64) -> Vec<PointCluster> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0).then(points[a].1.total_cmp(&points[b].1)));
    let mut taken = vec![false; points.len()];
    let mut out = Vec::new();
    for &seed in &order {
        if taken[seed] {
            continue;
        }
        let (sx, sy) = points[seed];
        let members: Vec<usize> = order.iter().copied().filter(|&j| !taken[j] && (points[j].0 - sx).hypot(points[j].1 - sy) <= radius_m).collect();
        for &m in &members {
            taken[m] = true;
        }
        if members.len() < 2 {
            continue;
        }
        let n = members.len() as f64;
        let centroid = (members.iter().map(|&m| points[m].0).sum::<f64>() / n, members.iter().map(|&m| points[m].1).sum::<f64>() / n);
        let clear = |(x, y): (f64, f64)| avoid.iter().all(|&(ax, ay)| (ax - x).abs() > clearance_m || (ay - y).abs() > clearance_m);
        let step = clearance_m.max(1.0) * 0.5;
        let rings = ((radius_m * 1.5) / step).ceil() as usize;
        let at = std::iter::once(centroid)
            .chain((1..=rings).flat_map(|r| {
                (0..16).map(move |k| {
                    let a = k as f64 * std::f64::consts::TAU / 16.0;
                    (centroid.0 + r as f64 * step * a.cos(), centroid.1 + r as f64 * step * a.sin())
                })
            }))
            .find(|p| clear(*p))
            .unwrap_or(centroid);
        out.push(PointCluster { members, at });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let p = LocalProjection::new(116.45, 39.92);
        let text = "code,name,kind,lon,lat,simulated\nB1,甲,委办局,116.45,39.92,true\nB2,乙\nB3,丙,委办局,x,39.9\nB4,丁,委办局,116.46,39.93\n";
        let (units, errors) = parse_point_units(text, &p);
        assert_eq!(units.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["B1", "B4"]);
        assert!(units[0].simulated && !units[1].simulated);
        assert!(units[0].xy.0.abs() < 1e-6);
        assert_eq!(errors.len(), 2);
        assert!(errors[0].starts_with("line 3:") && errors[1].starts_with("line 4:"));
    }

    #[test]
    fn the_shipped_bureaus_are_120_inside_the_district() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let map = crate::geo::load_geojson_file(&root.join("maps/chaoyang_schematic.geojson"), &Default::default()).unwrap();
        let (units, errors) = load_point_units(&root.join("maps/chaoyang_bureaus.csv"), &map.projection).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(units.len(), 120);
        assert!(units.iter().all(|u| u.simulated && u.kind == "委办局"));
        let inside = |u: &PointUnit| map.units.iter().flat_map(|m| &m.polygons).any(|p| geo::Contains::contains(p, &geo::Point::new(u.xy.0, u.xy.1)));
        // Positions were drawn inside the district's outline; the schematic cells cover it up to
        // their sliver trims, so all but a handful must fall in a cell.
        assert!(units.iter().filter(|u| inside(u)).count() >= 118);
    }

    #[test]
    fn near_points_cluster_and_their_column_keeps_clear_of_label_points() {
        // Five bureaus within 300 m of each other, one 5 km away, one pair 4 km north.
        let points = [(0.0, 0.0), (200.0, 0.0), (100.0, 150.0), (-100.0, 100.0), (50.0, -200.0), (5000.0, 0.0), (0.0, 4000.0), (150.0, 4100.0)];
        // A township's label point right at the first group's centroid.
        let avoid = [(50.0, 10.0)];
        let clusters = cluster_points(&points, 600.0, &avoid, 300.0);
        assert_eq!(clusters.len(), 2, "{clusters:?}");
        let mut sizes: Vec<usize> = clusters.iter().map(|c| c.members.len()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [2, 5]);
        let big = clusters.iter().find(|c| c.members.len() == 5).unwrap();
        let (x, y) = big.at;
        assert!((x - 50.0).abs() > 300.0 || (y - 10.0).abs() > 300.0, "column at {:?} covers the label point", big.at);
        assert!(x.hypot(y) < 900.0, "column at {:?} strays from its members", big.at);
        // The pair's column stands at its centroid: nothing to avoid there.
        let pair = clusters.iter().find(|c| c.members.len() == 2).unwrap();
        assert_eq!(pair.at, (75.0, 4050.0));
        // The lone bureau is in no cluster.
        assert!(clusters.iter().all(|c| !c.members.contains(&5)));
    }
}
