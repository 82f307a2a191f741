//! The window-less commands, run as a user would: `check-map` and `simulate`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{project_file, shared_dir};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_situation-wall"))
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn check_map_reports_units_areas_and_errors() {
    let out = bin().args(["check-map"]).arg(project_file("maps/chaoyang_schematic.geojson")).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("units loaded: 43 of 43 features (0 errors, 0 warnings)"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("110105020") && l.contains("首都机场街道")), "{text}");

    if let Some(shared) = shared_dir() {
        let out = bin().args(["check-map"]).arg(shared.join("cases/009-unclosed-short-rings.geojson")).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("units loaded: 5 of 7 features (2 errors"), "{text}");
        assert!(text.contains("error: feature 4 (id 330095)"), "{text}");
        assert!(text.contains("error: feature 5 (id 330096)"), "{text}");
        let real = bin().args(["check-map"]).arg(shared.join("maps/chaoyang_townships.geojson")).output().unwrap();
        let text = String::from_utf8(real.stdout).unwrap();
        assert!(text.contains("units loaded: 43 of 43 features (0 errors, 0 warnings)"), "{text}");
        assert!(!text.contains("triangulation:"), "every unit passes the area check");
    }
}

#[test]
fn check_map_fails_when_nothing_loads() {
    let empty = tmp("empty.geojson");
    std::fs::write(&empty, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"1"},"geometry":null}]}"#).unwrap();
    let out = bin().args(["check-map"]).arg(&empty).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("error: feature 0 (id 1): geometry is null"));
    let out = bin().args(["check-map"]).arg(tmp("does-not-exist.geojson")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().contains("cannot read map"));
}

#[test]
fn the_committed_demo_is_what_the_simulator_makes() {
    let out = tmp("demo.jsonl");
    let status = bin().args(["simulate", "--seed", "20261128", "--hours", "24", "--out"]).arg(&out).status().unwrap();
    assert!(status.success());
    let made = std::fs::read(&out).unwrap();
    let committed = std::fs::read(project_file("assets/recordings/demo-chaoyang-24h.jsonl")).unwrap();
    assert!(made == committed, "assets/recordings/demo-chaoyang-24h.jsonl is stale: regenerate it with the command in README.md");
}

#[test]
fn check_map_writes_the_mesh_json_when_asked() {
    let out_path = tmp("mesh-two-units.json");
    let _ = std::fs::remove_file(&out_path);
    let out = bin().args(["check-map"]).arg(project_file("tests/data/two_units.geojson")).arg("--mesh-json").arg(&out_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    let units = json["units"].as_array().unwrap();
    assert_eq!(units.len(), 2);
    for u in units {
        assert!(!u["top"].as_array().unwrap().is_empty(), "{}: top triangles", u["id"]);
        assert!(!u["walls"].as_array().unwrap().is_empty(), "{}: wall triangles", u["id"]);
    }
}
