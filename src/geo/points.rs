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
}
