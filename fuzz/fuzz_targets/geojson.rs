//! GeoJSON maps: loading never panics; every loaded unit has a finite, positive area.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(map) = situation_wall::geo::load_geojson_str(text, &Default::default())
    {
        assert!(map.units.iter().all(|u| u.area_m2.is_finite() && u.area_m2 > 0.0));
    }
});
