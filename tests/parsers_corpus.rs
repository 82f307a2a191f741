//! A corpus run of the parsers that take outside data: recordings, GeoJSON maps and live
//! payloads. Every file of ../shared/cases plus our own test data, and deterministic
//! mutations of each (truncations, byte flips, inserted NaN tokens), must parse or be
//! rejected with an error — never panic, never yield a non-finite or out-of-range score.
//! (The same inputs seed `fuzz/`, the cargo-fuzz targets for longer runs.)

mod common;

use std::path::PathBuf;

use situation_wall::api::{self, ScoreEvent};
use situation_wall::feed::{RecordBody, Recording};
use situation_wall::geo::{LoadOptions, load_geojson_str};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    // tests/data/geo: the geometry kinds (degenerate rings, overlaps, ECharts compressed maps).
    // tests/data/sse: event streams (a BOM, CR / LF / CRLF, fields without colons, a tail
    // without its blank line).
    let mut dirs = vec![data.join("geo"), data.join("sse"), data];
    if let Some(shared) = common::shared_dir() {
        dirs.push(shared.join("cases"));
    }
    let mut out = Vec::new();
    for dir in dirs {
        let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_file() && std::fs::metadata(&p).unwrap().len() < 1 << 20 {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// Deterministic variants of one input.
fn mutations(input: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![input.to_vec()];
    let n = input.len();
    for cut in [n / 3, n / 2, n.saturating_sub(1)] {
        out.push(input[..cut].to_vec());
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..24 {
        let mut v = input.to_vec();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if !v.is_empty() {
                let i = (x as usize) % v.len();
                v[i] ^= 1 << (x % 8);
            }
        }
        out.push(v);
    }
    let text = String::from_utf8_lossy(input);
    out.push(text.replace("1", "NaN").into_bytes());
    out.push(text.replace(',', ",,").into_bytes());
    out.push(text.replace('"', "").into_bytes());
    out
}

#[test]
fn parsers_never_panic_and_never_pass_bad_scores() {
    let corpus = corpus();
    assert!(corpus.len() >= 4, "corpus too small: {}", corpus.len());
    let mut inputs = 0;
    for (name, bytes) in &corpus {
        for m in mutations(bytes) {
            inputs += 1;
            let rec = Recording::parse_bytes(&m);
            for (_, r) in &rec.records {
                if let RecordBody::Scores { scores, .. } = &r.body {
                    for s in scores {
                        assert!(s.score().validate().is_ok(), "{name}: recording let {s:?} through");
                    }
                }
            }
            // The event-stream parser, whole and split into 7-byte chunks: never a panic, the
            // same items either way.
            let whole = situation_wall::feed::sse::SseParser::new(1 << 20).feed(&m);
            let mut split = situation_wall::feed::sse::SseParser::new(1 << 20);
            let mut items = Vec::new();
            for chunk in m.chunks(7) {
                match split.feed(chunk) {
                    Ok(mut got) => items.append(&mut got),
                    Err(_) => break,
                }
            }
            if let Ok(whole) = whole {
                assert_eq!(whole, items, "{name}: the event stream parses the same split or whole");
            }
            if let Ok(text) = std::str::from_utf8(&m) {
                if let Ok(map) = load_geojson_str(text, &LoadOptions::default()) {
                    for u in &map.units {
                        assert!(u.area_m2.is_finite() && u.area_m2 > 0.0, "{name}: unit {} area {}", u.id, u.area_m2);
                    }
                }
                if let Ok(e) = serde_json::from_str::<ScoreEvent>(text) {
                    let decoded = api::decode_scores(&e.scores, None);
                    assert!(decoded.scores.iter().all(|s| s.score().validate().is_ok()), "{name}");
                }
            }
        }
    }
    assert!(inputs > 100, "{inputs} inputs");
}
