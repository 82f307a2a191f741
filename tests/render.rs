//! Render checks: run the real binary under a display (xvfb-run + Mesa lavapipe in CI) on a
//! two-unit map with known scores, and inspect the saved PNG.
//!
//! Ignored by plain `cargo test` (no display there); `.ci/run` runs them with
//! `xvfb-run cargo test --test render -- --ignored`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use situation_wall::model::ColourRamp;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

struct Shot {
    rgb: image::RgbImage,
    meta: Value,
}

fn screenshot(name: &str, extra: &[&str]) -> Shot {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let status = Command::new(env!("CARGO_BIN_EXE_situation-wall"))
        .args(["--config", data("render.toml").to_str().unwrap()])
        .args(["--map", data("two_units.geojson").to_str().unwrap()])
        .args(["--recording", data("two_units.jsonl").to_str().unwrap()])
        .args(["--screenshot", png.to_str().unwrap(), "--frames", "40", "--glyph-probe"])
        .args(extra)
        .status()
        .expect("run situation-wall");
    assert!(status.success(), "situation-wall exited with {status}");
    let rgb = image::open(&png).expect("screenshot PNG").to_rgb8();
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(format!("{}.json", png.display())).unwrap()).unwrap();
    println!("screenshot: {}", png.display());
    Shot { rgb, meta }
}

/// Median of each channel over a 5×5 patch centred on (x, y).
fn patch_median(img: &image::RgbImage, x: f64, y: f64) -> [u8; 3] {
    let mut chans = [Vec::new(), Vec::new(), Vec::new()];
    for dy in -2i64..=2 {
        for dx in -2i64..=2 {
            let px = img.get_pixel((x.round() as i64 + dx) as u32, (y.round() as i64 + dy) as u32);
            for c in 0..3 {
                chans[c].push(px[c]);
            }
        }
    }
    chans.map(|mut v| {
        v.sort_unstable();
        v[v.len() / 2]
    })
}

/// Binary ink mask of a square cell (luma > 128), with its size.
fn ink(img: &image::RgbImage, cell: &Value) -> Vec<bool> {
    let (x0, y0, s) = (cell["x"].as_f64().unwrap() as u32, cell["y"].as_f64().unwrap() as u32, cell["size"].as_f64().unwrap() as u32);
    let mut out = Vec::new();
    for y in y0 + 2..y0 + s - 2 {
        for x in x0 + 2..x0 + s - 2 {
            let p = img.get_pixel(x, y);
            out.push(u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2]) > 128 * 10);
        }
    }
    out
}

fn probe_cells(shot: &Shot) -> (Vec<bool>, Vec<bool>) {
    let cells = shot.meta["glyph_probe"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    assert_eq!(cells[0]["ch"], "朝");
    (ink(&shot.rgb, &cells[0]), ink(&shot.rgb, &cells[1]))
}

fn differing(a: &[bool], b: &[bool]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
#[ignore = "needs a display: run under xvfb-run (see .ci/run)"]
fn units_show_their_ramp_colour_and_chinese_renders_as_glyphs() {
    let shot = screenshot("render-two-units", &[]);
    let ramp = ColourRamp::default();
    let units = shot.meta["units"].as_array().unwrap();
    assert_eq!(units.len(), 2);
    for (id, score) in [("900001", 20.0f32), ("900002", 85.0)] {
        let u = units.iter().find(|u| u["id"] == id).unwrap();
        assert_eq!(u["score"].as_f64().unwrap() as f32, score, "{id} eased to its score");
        let expected = ramp.sample(score).map(|c| (c * 255.0).round() as u8);
        let (x, y) = (u["x"].as_f64().unwrap(), u["y"].as_f64().unwrap());
        assert!(x >= 3.0 && y >= 3.0 && x + 3.0 < f64::from(shot.rgb.width()) && y + 3.0 < f64::from(shot.rgb.height()), "{id}: label point ({x}, {y}) is off screen");
        let got = patch_median(&shot.rgb, x, y);
        // Tolerance 3 per channel: the unlit top cap is the material's sRGB colour, converted to
        // linear for shading and back to 8-bit sRGB on output, with tonemapping and dithering
        // off; that round trip is within ±1, and MSAA cannot reach the patch centre, which is
        // well inside the cap. Neighbouring ramp colours 1 score point apart differ by ≥ 2.
        for c in 0..3 {
            assert!((i16::from(got[c]) - i16::from(expected[c])).abs() <= 3, "{id}: pixel {got:?} vs ramp {expected:?}");
        }
    }
    // Chinese renders as glyphs: 朝 looks nothing like the missing-glyph box of U+0378.
    let (zhao, tofu) = probe_cells(&shot);
    let ink_zhao = zhao.iter().filter(|b| **b).count();
    assert!(ink_zhao > 150, "朝 has {ink_zhao} ink pixels");
    let diff = differing(&zhao, &tofu);
    assert!(diff > ink_zhao / 3, "朝 differs from tofu in only {diff} pixels");
}

#[test]
#[ignore = "needs a display: run under xvfb-run (see .ci/run)"]
fn without_the_cjk_font_chinese_is_tofu() {
    // Negative control for the glyph check above: with egui's default fonts only, 朝 renders as
    // the same box as an unassigned code point.
    let shot = screenshot("render-no-cjk", &["--no-cjk-font"]);
    let (zhao, tofu) = probe_cells(&shot);
    assert!(tofu.iter().any(|b| *b), "the tofu box is drawn");
    assert!(differing(&zhao, &tofu) < 20, "朝 without a CJK font should be tofu");
}

