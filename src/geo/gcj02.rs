//! GCJ-02 ("Mars coordinates", 火星坐标) ⇄ WGS-84 conversion.
//!
//! Chinese web maps (Amap/高德, Tencent, DataV) publish coordinates in GCJ-02, which shifts
//! WGS-84 by roughly 500 m around Beijing. The forward transform used here is the published
//! one that circulates as the reference implementation of GCJ-02 (Krasovsky 1940 ellipsoid,
//! a = 6 378 245 m, e² = 0.006 693 421 622 965 943 23, with the trigonometric offset polynomials
//! first published in the open-source `eviltransform` / `coordtransform` projects). The inverse
//! has no closed form; [`gcj02_to_wgs84`] inverts the forward transform by fixed-point iteration
//! to better than 1e-9° (about 0.1 mm), much tighter than the usual single-step approximation.
//!
//! Outside mainland China GCJ-02 equals WGS-84; this module applies the transform everywhere,
//! since our maps are all inside China.

use std::f64::consts::PI;

/// Semi-major axis of the Krasovsky 1940 ellipsoid, metres.
const A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid.
const EE: f64 = 0.006_693_421_622_965_943;

fn offset_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn offset_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// Converts WGS-84 `(lon, lat)` in degrees to GCJ-02 `(lon, lat)` in degrees (the forward,
/// published transform).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let dlat = offset_lat(lon - 105.0, lat - 35.0);
    let dlon = offset_lon(lon - 105.0, lat - 35.0);
    let rad = lat.to_radians();
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * rad.cos() * PI);
    (lon + dlon, lat + dlat)
}

/// Converts GCJ-02 `(lon, lat)` in degrees to WGS-84 `(lon, lat)` in degrees, by iterating the
/// forward transform until it reproduces the input to within 1e-10° (at most 30 steps; it
/// converges in 3–5 around Beijing).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..30 {
        let (glon, glat) = wgs84_to_gcj02(wlon, wlat);
        let (dlon, dlat) = (glon - lon, glat - lat);
        wlon -= dlon;
        wlat -= dlat;
        if dlon.abs() < 1e-10 && dlat.abs() < 1e-10 {
            break;
        }
    }
    (wlon, wlat)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference pairs (WGS-84 → GCJ-02) published with the `eviltransform` test suite, and the
    /// offset at Tiananmen given in ../shared/cases/LOG.md case 011.
    const REFERENCE: [(f64, f64, f64, f64); 3] = [
        // (wgs lon, wgs lat, gcj lon, gcj lat)
        (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
        (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
        (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    ];

    #[test]
    fn forward_matches_published_reference_points() {
        for (wlon, wlat, glon, glat) in REFERENCE {
            let (lon, lat) = wgs84_to_gcj02(wlon, wlat);
            assert!((lon - glon).abs() < 1e-9, "lon {lon} vs {glon}");
            assert!((lat - glat).abs() < 1e-9, "lat {lat} vs {glat}");
        }
    }

    #[test]
    fn forward_offset_near_tiananmen_matches_case_011() {
        // LOG.md case 011: Δlon +0.006241°, Δlat +0.001401° at the square's corner 116.392E 39.904N.
        let (lon, lat) = wgs84_to_gcj02(116.392, 39.904);
        assert!((lon - 116.392 - 0.006241).abs() < 5e-7, "Δlon {}", lon - 116.392);
        assert!((lat - 39.904 - 0.001401).abs() < 5e-7, "Δlat {}", lat - 39.904);
    }

    #[test]
    fn inverse_recovers_wgs84_to_a_tenth_of_a_millimetre() {
        for (wlon, wlat, glon, glat) in REFERENCE {
            let (lon, lat) = gcj02_to_wgs84(glon, glat);
            // 1e-9° is 0.11 mm of latitude.
            assert!((lon - wlon).abs() < 1e-9 && (lat - wlat).abs() < 1e-9, "{lon},{lat}");
        }
    }
}
