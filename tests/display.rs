//! Display fallbacks, run as a wall would start: the real binary, a real X server (Xvfb in CI),
//! asserting exit codes and log lines. The no-display case needs no X server; the others are
//! ignored by plain `cargo test` and run by `.ci/run` under `xvfb-run`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

/// A config for a short unattended run in `mode` on monitor `monitor`.
fn config(name: &str, mode: &str, monitor: usize) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.toml"));
    let text = format!("[map]\ncontext = \"\"\nbureaus = \"\"\n\n[window]\nwidth = 960\nheight = 640\nmode = \"{mode}\"\nmonitor = {monitor}\n");
    std::fs::write(&path, text).expect("write the test config");
    path
}

fn run_wall(config: &PathBuf, seconds: f64, display: Option<&str>) -> (Output, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_situation-wall"));
    cmd.arg("--config")
        .arg(config)
        .arg("--map")
        .arg(data("two_units.geojson"))
        .arg("--recording")
        .arg(data("two_units.jsonl"))
        .args(["--exit-after-s", &seconds.to_string()]);
    match display {
        Some(d) => cmd.env("DISPLAY", d),
        None => cmd.env_remove("DISPLAY"),
    };
    let out = cmd.env_remove("WAYLAND_DISPLAY").output().expect("run situation-wall");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, log)
}

#[test]
fn no_display_is_a_clear_error_with_exit_code_1() {
    let (out, log) = run_wall(&config("no-display", "borderless", 0), 2.0, None);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("no display: DISPLAY is not set"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn an_unreachable_display_is_a_clear_error_not_a_panic_exit() {
    // A display number no X server listens on.
    let (out, log) = run_wall(&config("dead-display", "windowed", 0), 2.0, Some(":987"));
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("situation-wall: cannot open the display or the GPU"), "{log}");
}

fn display() -> String {
    std::env::var("DISPLAY").expect("run under xvfb-run (see .ci/run)")
}

#[test]
#[ignore = "needs a display: run under xvfb-run (see .ci/run)"]
fn a_missing_monitor_falls_back_to_the_primary_and_says_so() {
    for mode in ["borderless", "fullscreen"] {
        let (out, log) = run_wall(&config(&format!("missing-monitor-{mode}"), mode, 7), 4.0, Some(&display()));
        assert!(out.status.success(), "{mode}: exit {:?}\n{log}", out.status.code());
        assert!(log.contains("on monitor 7: monitor 7 does not exist; using the"), "{mode}: {log}");
        assert!(log.contains("monitors: 0: "), "{mode}: the log lists what exists: {log}");
    }
}

#[test]
#[ignore = "needs a display: run under xvfb-run (see .ci/run)"]
fn fullscreen_on_the_first_monitor_runs_without_a_panic() {
    let (out, log) = run_wall(&config("fullscreen-0", "fullscreen", 0), 4.0, Some(&display()));
    assert!(out.status.success(), "exit {:?}\n{log}", out.status.code());
    assert!(log.contains("window: Fullscreen on monitor 0"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}
