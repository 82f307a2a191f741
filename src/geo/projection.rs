//! Local map projection: WGS-84 lon/lat degrees → metres on a plane around the map's centre.
//!
//! We use the spherical Lambert azimuthal equal-area projection (Snyder 1987, *Map
//! Projections — A Working Manual*, USGS Professional Paper 1395, pp. 182–190, eqs. 24-2, 24-3,
//! 20-14, 24-16, 24-17) on the authalic sphere of WGS-84 (R = 6 371 007.2 m). It is equal-area,
//! so every unit's area in km² is true to the sphere, and over a 30 km district its scale error
//! is below 0.001 %. The plane's x axis points east and y north.

/// Radius of the WGS-84 authalic sphere, metres (same area as the ellipsoid).
pub const AUTHALIC_RADIUS_M: f64 = 6_371_007.2;

/// A Lambert azimuthal equal-area projection centred on one lon/lat (degrees).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalProjection {
    /// Centre longitude, degrees.
    pub lon0: f64,
    /// Centre latitude, degrees.
    pub lat0: f64,
    sin_lat0: f64,
    cos_lat0: f64,
}

impl LocalProjection {
    /// A projection centred on `(lon0, lat0)` degrees.
    pub fn new(lon0: f64, lat0: f64) -> Self {
        let (sin_lat0, cos_lat0) = lat0.to_radians().sin_cos();
        Self { lon0, lat0, sin_lat0, cos_lat0 }
    }

    /// Projects `(lon, lat)` degrees to `(x east, y north)` metres from the centre.
    pub fn project(&self, lon: f64, lat: f64) -> (f64, f64) {
        let (sin_lat, cos_lat) = lat.to_radians().sin_cos();
        let (sin_dlon, cos_dlon) = (lon - self.lon0).to_radians().sin_cos();
        let k = (2.0 / (1.0 + self.sin_lat0 * sin_lat + self.cos_lat0 * cos_lat * cos_dlon)).sqrt();
        let x = AUTHALIC_RADIUS_M * k * cos_lat * sin_dlon;
        let y = AUTHALIC_RADIUS_M * k * (self.cos_lat0 * sin_lat - self.sin_lat0 * cos_lat * cos_dlon);
        (x, y)
    }

    /// Inverse of [`project`](Self::project): `(x, y)` metres → `(lon, lat)` degrees.
    pub fn unproject(&self, x: f64, y: f64) -> (f64, f64) {
        let rho = x.hypot(y);
        if rho < 1e-12 {
            return (self.lon0, self.lat0);
        }
        let c = 2.0 * (rho / (2.0 * AUTHALIC_RADIUS_M)).asin();
        let (sin_c, cos_c) = c.sin_cos();
        let lat = (cos_c * self.sin_lat0 + y * sin_c * self.cos_lat0 / rho).asin();
        let dlon = (x * sin_c).atan2(rho * self.cos_lat0 * cos_c - y * self.sin_lat0 * sin_c);
        (self.lon0 + dlon.to_degrees(), lat.to_degrees())
    }
}

/// The renderer's position of plane point `[x east, y north]` metres at height `height`
/// metres: `[x, height, -y]` (world x east, y up, z south), so the map reads north-up from a
/// camera in the south. The one place the axes are flipped; [`map_from_world`] undoes it.
pub fn world_from_map([x, y]: [f64; 2], height: f32) -> [f32; 3] {
    [x as f32, height, -(y as f32)]
}

/// Plane point `[x east, y north]` metres of a renderer position (its height dropped): the
/// inverse of [`world_from_map`].
pub fn map_from_world([x, _, z]: [f32; 3]) -> [f64; 2] {
    [f64::from(x), -f64::from(z)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_within_a_millimetre() {
        let p = LocalProjection::new(116.49, 39.95);
        for &(lon, lat) in &[(116.49, 39.95), (116.35, 39.80), (116.64, 40.10), (116.60, 40.07), (116.4101, 39.9)] {
            let (x, y) = p.project(lon, lat);
            let (lon2, lat2) = p.unproject(x, y);
            let (x2, y2) = p.project(lon2, lat2);
            assert!((x - x2).hypot(y - y2) < 1e-3, "{lon},{lat}: {x},{y} vs {x2},{y2}");
            // 1e-8° is about a millimetre.
            assert!((lon - lon2).abs() < 1e-8 && (lat - lat2).abs() < 1e-8);
        }
    }

    #[test]
    fn distances_match_the_sphere() {
        // One arc-minute of latitude on the authalic sphere is 1 853.25 m.
        let p = LocalProjection::new(116.5, 39.95);
        let (_, y) = p.project(116.5, 39.95 + 1.0 / 60.0);
        assert!((y - AUTHALIC_RADIUS_M * (1.0f64 / 60.0).to_radians()).abs() < 0.01, "{y}");
        // East is +x, north is +y.
        assert!(p.project(116.6, 39.95).0 > 8_000.0);
        assert!(p.project(116.5, 40.0).1 > 5_000.0);
    }
}
