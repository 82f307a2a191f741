//! ECharts/DataV compressed maps (`"UTF8Encoding": true`) → ordinary GeoJSON coordinates.
//!
//! ECharts' bundled maps (and maps cut with its tools) shrink a FeatureCollection by writing
//! each ring as a string instead of an array of positions. The collection says so with
//! `"UTF8Encoding": true` and may give the quantisation as `"UTF8Scale"` (units per degree,
//! 1024 when absent). Each geometry carries `encodeOffsets` shaped like its rings: one `[x, y]`
//! per ring of a Polygon, one list of them per part of a MultiPolygon.
//!
//! A ring string is read as UTF-16 code units (what JavaScript's `charCodeAt` sees), two per
//! position, x (longitude) then y (latitude). Each unit minus 64 is a zigzag-coded integer
//! (0, −1, 1, −2, … are written 0, 1, 2, 3, …): `(v >> 1) ^ −(v & 1)` gives it back. These are
//! deltas: the first is added to the ring's `encodeOffsets` pair, each later one to the
//! position before it. A position is the running sum divided by the scale, in degrees.
//!
//! The encoder never writes a unit below 64 (`@`) and always writes whole pairs, so both are
//! treated as damage here rather than decoded the way a browser would silently decode them.
//! Rings that are already arrays are kept as they are. Decoded rings need not repeat their first
//! position at the end: the format does not require it, and the loader closes them silently.

use serde_json::{Map, Value, json};

/// `UTF8Scale` when the collection does not give one: quantisation steps per degree.
pub const DEFAULT_SCALE: f64 = 1024.0;

/// How the format is named in every message about it.
pub const FORMAT_NAME: &str = "ECharts/DataV compressed (UTF8Encoding) map";

/// Whether a FeatureCollection declares the compressed encoding (`"UTF8Encoding": true`).
pub fn is_compressed(collection: &Value) -> bool {
    collection.get("UTF8Encoding") == Some(&Value::Bool(true))
}

/// The collection's `UTF8Scale` (steps per degree), or [`DEFAULT_SCALE`] when absent or null.
///
/// # Errors
/// A description of the value when it is not a positive finite number.
pub fn scale_of(collection: &Value) -> Result<f64, String> {
    match collection.get("UTF8Scale") {
        None | Some(Value::Null) => Ok(DEFAULT_SCALE),
        Some(v) => match v.as_f64() {
            Some(s) if s.is_finite() && s > 0.0 => Ok(s),
            _ => Err(format!("UTF8Scale must be a positive number, not {v}")),
        },
    }
}

/// Why one geometry of a compressed map could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DecodeError {
    /// Zero-based polygon part (0 for a Polygon), when the fault is in one.
    pub part: Option<usize>,
    /// Zero-based ring within the part (0 = outer, 1.. = holes), when the fault is in one.
    pub ring: Option<usize>,
    /// What was wrong, in words (without the format's name; the loader adds it).
    pub reason: String,
}

impl DecodeError {
    fn new(part: Option<usize>, ring: Option<usize>, reason: impl Into<String>) -> Self {
        Self { part, ring, reason: reason.into() }
    }
}

/// One zigzag-coded UTF-16 unit back to its signed integer; `None` below `@` (64).
fn unzigzag(unit: u16) -> Option<i64> {
    let v = i64::from(unit.checked_sub(64)?);
    Some((v >> 1) ^ -(v & 1))
}

/// Decodes one ring string into `[lon, lat]` degrees: delta sums from `offset` (in quantisation
/// steps), divided by `scale` (steps per degree).
///
/// # Errors
/// A description when the string has an odd number of UTF-16 units or a unit below `@` (the
/// position it is in is named, counting from 0).
pub fn decode_ring(encoded: &str, offset: [f64; 2], scale: f64) -> Result<Vec<[f64; 2]>, String> {
    let units: Vec<u16> = encoded.encode_utf16().collect();
    if !units.len().is_multiple_of(2) {
        return Err(format!("the string has {} characters, an odd number (each position takes two)", units.len()));
    }
    let (mut x, mut y) = (offset[0], offset[1]);
    let mut out = Vec::with_capacity(units.len() / 2);
    for (k, pair) in units.chunks_exact(2).enumerate() {
        let (Some(dx), Some(dy)) = (unzigzag(pair[0]), unzigzag(pair[1])) else {
            let bad = if pair[0] < 64 { pair[0] } else { pair[1] };
            return Err(format!("position {k} has the character U+{bad:04X}, below '@' (U+0040) where every code starts"));
        };
        // Exact in f64 up to 2^53 steps, far beyond any map.
        x += dx as f64;
        y += dy as f64;
        out.push([x / scale, y / scale]);
    }
    Ok(out)
}

/// The `[x, y]` offset pair of one ring.
fn offset_pair(v: Option<&Value>) -> Option<[f64; 2]> {
    match v?.as_array()?.as_slice() {
        [x, y, ..] => Some([x.as_f64()?, y.as_f64()?]),
        _ => None,
    }
}

/// Decodes the rings of one part (a list of ring strings or arrays) with their offsets.
/// Returns the rings as JSON arrays and whether any was a string.
fn decode_part(rings: &Value, offsets: Option<&Value>, part: usize, scale: f64) -> Result<(Vec<Value>, bool), DecodeError> {
    let Some(rings) = rings.as_array() else {
        return Err(DecodeError::new(Some(part), None, format!("part {part} is not a list of rings")));
    };
    let mut out = Vec::with_capacity(rings.len());
    let mut any = false;
    for (r, ring) in rings.iter().enumerate() {
        match ring {
            Value::String(s) => {
                let offset = offset_pair(offsets.and_then(|o| o.get(r)))
                    .ok_or_else(|| DecodeError::new(Some(part), Some(r), format!("part {part} ring {r} has no encodeOffsets pair [x, y]")))?;
                let points =
                    decode_ring(s, offset, scale).map_err(|e| DecodeError::new(Some(part), Some(r), format!("cannot decode part {part} ring {r}: {e}")))?;
                out.push(Value::Array(points.into_iter().map(|[lon, lat]| json!([lon, lat])).collect()));
                any = true;
            }
            Value::Array(_) => out.push(ring.clone()),
            other => {
                return Err(DecodeError::new(
                    Some(part),
                    Some(r),
                    format!("part {part} ring {r} is neither a string nor a list of positions: {}", kind_of(other)),
                ));
            }
        }
    }
    Ok((out, any))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Decodes one geometry of a compressed map. Polygon and MultiPolygon rings that are strings
/// become arrays of `[lon, lat]` degrees and `encodeOffsets` is dropped; other members are kept.
/// Returns `None` when nothing in the geometry is encoded (another type, or rings that are
/// already arrays), so the caller reads it as it is.
///
/// # Errors
/// [`DecodeError`] naming the part and ring: coordinates that are not lists, a ring with no
/// offset pair, a string that does not decode (see [`decode_ring`]).
pub fn decode_geometry(geometry: &Value, scale: f64) -> Result<Option<Value>, DecodeError> {
    let Some(obj) = geometry.as_object() else {
        return Ok(None);
    };
    let kind = obj.get("type").and_then(Value::as_str);
    if !matches!(kind, Some("Polygon" | "MultiPolygon")) {
        return Ok(None);
    }
    let Some(coordinates) = obj.get("coordinates") else {
        return Ok(None);
    };
    let offsets = obj.get("encodeOffsets");
    let (decoded, any) = if kind == Some("Polygon") {
        let (rings, any) = decode_part(coordinates, offsets, 0, scale)?;
        (Value::Array(rings), any)
    } else {
        let Some(parts) = coordinates.as_array() else {
            return Err(DecodeError::new(None, None, "MultiPolygon coordinates are not a list of parts"));
        };
        let mut out = Vec::with_capacity(parts.len());
        let mut any = false;
        for (p, part) in parts.iter().enumerate() {
            let (rings, a) = decode_part(part, offsets.and_then(|o| o.get(p)), p, scale)?;
            any |= a;
            out.push(Value::Array(rings));
        }
        (Value::Array(out), any)
    };
    if !any {
        return Ok(None);
    }
    let mut g: Map<String, Value> = obj.iter().filter(|(k, _)| *k != "encodeOffsets" && *k != "coordinates").map(|(k, v)| (k.clone(), v.clone())).collect();
    g.insert("coordinates".into(), decoded);
    Ok(Some(Value::Object(g)))
}

/// Whether a Polygon/MultiPolygon geometry has a ring written as a string: a compressed
/// geometry in a collection that did not declare `"UTF8Encoding": true`.
pub fn has_encoded_rings(geometry: &Value) -> bool {
    let c = geometry.get("coordinates");
    match geometry.get("type").and_then(Value::as_str) {
        Some("Polygon") => c.and_then(Value::as_array).is_some_and(|rings| rings.iter().any(Value::is_string)),
        Some("MultiPolygon") => c.and_then(Value::as_array).is_some_and(|parts| parts.iter().filter_map(Value::as_array).flatten().any(Value::is_string)),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Our own encoder for tests: quantise to `scale` steps per degree (rounding), then zigzag
    /// deltas from the first position, which is also the offset. Returns the string and offset.
    pub(crate) fn encode_ring(points: &[(f64, f64)], scale: f64) -> (String, [i64; 2]) {
        let q: Vec<(i64, i64)> = points.iter().map(|&(x, y)| ((x * scale).round() as i64, (y * scale).round() as i64)).collect();
        let offset = [q[0].0, q[0].1];
        let mut prev = q[0];
        let mut s = String::new();
        for &(x, y) in &q {
            for d in [x - prev.0, y - prev.1] {
                let z = (d << 1) ^ (d >> 63);
                let c = char::from_u32(u32::try_from(z + 64).unwrap()).expect("delta too large for one character in this test encoder");
                s.push(c);
            }
            prev = (x, y);
        }
        (s, offset)
    }

    #[test]
    fn zigzag_codes_run_0_minus1_1_minus2() {
        let got: Vec<i64> = (64u16..70).map(|u| unzigzag(u).unwrap()).collect();
        assert_eq!(got, [0, -1, 1, -2, 2, -3]);
        assert_eq!(unzigzag(63), None);
    }

    #[test]
    fn a_ring_decodes_to_the_coordinates_it_was_encoded_from() {
        // Multiples of 1/1024° come back exactly at the default scale.
        let ring = [(116.5, 39.9), (116.5 + 3.0 / 1024.0, 39.9), (116.5 + 3.0 / 1024.0, 39.9 + 2.0 / 1024.0), (116.5 - 40.0 / 1024.0, 39.9 + 700.0 / 1024.0)]
            .map(|(x, y): (f64, f64)| ((x * 1024.0).round() / 1024.0, (y * 1024.0).round() / 1024.0));
        let (s, off) = encode_ring(&ring, DEFAULT_SCALE);
        assert_eq!(s.encode_utf16().count(), 8);
        let back = decode_ring(&s, [off[0] as f64, off[1] as f64], DEFAULT_SCALE).unwrap();
        assert_eq!(back.len(), 4);
        for (a, b) in ring.iter().zip(&back) {
            assert_eq!([a.0, a.1], *b);
        }
        // A finer scale keeps 1e-5° (about a metre).
        let fine = [(116.48123, 39.93456), (116.49001, 39.93456), (116.49001, 39.94), (116.48123, 39.93456)];
        let (s, off) = encode_ring(&fine, 1e5);
        let back = decode_ring(&s, [off[0] as f64, off[1] as f64], 1e5).unwrap();
        for (a, b) in fine.iter().zip(&back) {
            assert!((a.0 - b[0]).abs() < 1e-9 && (a.1 - b[1]).abs() < 1e-9, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn damaged_strings_are_named() {
        let e = decode_ring("@@A", [0.0, 0.0], DEFAULT_SCALE).unwrap_err();
        assert!(e.contains("3 characters, an odd number"), "{e}");
        let e = decode_ring("@@A!", [0.0, 0.0], DEFAULT_SCALE).unwrap_err();
        assert!(e.contains("position 1") && e.contains("U+0021"), "{e}");
    }

    #[test]
    fn geometries_decode_by_part_and_ring() {
        let sq = [(116.0, 40.0), (116.25, 40.0), (116.25, 40.25), (116.0, 40.25), (116.0, 40.0)];
        let hole = [(116.0625, 40.0625), (116.0625, 40.125), (116.125, 40.125), (116.0625, 40.0625)];
        let (s0, o0) = encode_ring(&sq, DEFAULT_SCALE);
        let (s1, o1) = encode_ring(&hole, DEFAULT_SCALE);
        let g = json!({"type": "MultiPolygon", "coordinates": [[s0.clone()], [s0.clone(), s1.clone()]], "encodeOffsets": [[o0], [o0, o1]]});
        let d = decode_geometry(&g, DEFAULT_SCALE).unwrap().unwrap();
        assert!(d.get("encodeOffsets").is_none());
        let rings = d["coordinates"][1].as_array().unwrap();
        assert_eq!(rings.len(), 2);
        assert_eq!(rings[1][2], json!([116.125, 40.125]));
        assert_eq!(d["coordinates"][0][0][1], json!([116.25, 40.0]));

        // A missing offset and a bad string name their part and ring.
        let g = json!({"type": "MultiPolygon", "coordinates": [[s0.clone()], [s0.clone(), s1.clone()]], "encodeOffsets": [[o0], [o0]]});
        let e = decode_geometry(&g, DEFAULT_SCALE).unwrap_err();
        assert_eq!((e.part, e.ring), (Some(1), Some(1)));
        assert!(e.reason.contains("no encodeOffsets"), "{e}");
        let g = json!({"type": "Polygon", "coordinates": [s0, "@@@"], "encodeOffsets": [o0, o1]});
        let e = decode_geometry(&g, DEFAULT_SCALE).unwrap_err();
        assert_eq!((e.part, e.ring), (Some(0), Some(1)));

        // Nothing encoded: nothing to do.
        let plain = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 1], [0, 0]]]});
        assert_eq!(decode_geometry(&plain, DEFAULT_SCALE).unwrap(), None);
        assert!(!has_encoded_rings(&plain));
        assert!(has_encoded_rings(&json!({"type": "MultiPolygon", "coordinates": [["@@"]]})));
    }

    #[test]
    fn scale_defaults_to_1024_and_must_be_positive() {
        assert_eq!(scale_of(&json!({"UTF8Encoding": true})), Ok(1024.0));
        assert_eq!(scale_of(&json!({"UTF8Scale": 100000})), Ok(1e5));
        assert!(scale_of(&json!({"UTF8Scale": 0})).unwrap_err().contains("positive"));
        assert!(scale_of(&json!({"UTF8Scale": "big"})).is_err());
        assert!(is_compressed(&json!({"UTF8Encoding": true})));
        assert!(!is_compressed(&json!({"UTF8Encoding": false})));
    }
}
