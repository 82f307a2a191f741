//! The live client against the reference server on loopback, in-process: the model follows
//! the server, a dead server leaves the last good state, a restarted one is followed again,
//! and a wrong token is refused clearly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::DateTime;
use crossbeam_channel::Receiver;
use situation_wall::api::UnitInfo;
use situation_wall::feed::live::{self, ConnState, FeedMsg, LiveOptions};
use situation_wall::feed::simulate::{SimUnit, simulate};
use situation_wall::model::RiskState;
use situation_wall::server::{self, ServeOptions, ServerHandle};

const UNITS: usize = 6;

fn units() -> Vec<SimUnit> {
    (0..UNITS).map(|i| SimUnit { id: format!("11010500{i}"), name: format!("单元{i}"), kind: "街道".into() }).collect()
}

fn options(speed: f64, token: Option<&str>, anchor: Option<SystemTime>) -> ServeOptions {
    let start = DateTime::parse_from_rfc3339("2026-11-28T00:00:00+08:00").unwrap();
    let rec = simulate(&units(), 3, 6, start, "test");
    ServeOptions {
        recording: Arc::new(rec),
        units: units().into_iter().map(|u| UnitInfo { id: u.id, name: u.name, kind: u.kind, location: None }).collect(),
        speed,
        looping: false,
        token: token.map(str::to_owned),
        retain_events: 10_000,
        keep_alive: Duration::from_millis(300),
        anchor,
    }
}

fn client(addr: SocketAddr, token: Option<&str>) -> Receiver<FeedMsg> {
    let mut o = LiveOptions::new(&format!("http://{addr}"));
    o.token = token.map(str::to_owned);
    o.backoff_min = Duration::from_millis(100);
    o.backoff_max = Duration::from_millis(400);
    o.request_timeout = Duration::from_secs(2);
    o.idle_timeout = Duration::from_secs(2);
    let known: live::UnitIds = units().into_iter().map(|u| u.id).collect();
    live::spawn(o, Some(Arc::new(known)))
}

/// Folds messages into `state` for up to `wait`, returning the messages seen.
fn pump(rx: &Receiver<FeedMsg>, state: &mut RiskState, wait: Duration) -> Vec<FeedMsg> {
    let until = Instant::now() + wait;
    let mut seen = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(m) => {
                live::apply(state, &m);
                seen.push(m);
            }
            Err(_) => break,
        }
    }
    seen
}

/// Each unit's total, by id.
fn totals(state: &RiskState) -> Vec<(String, f32)> {
    let mut totals: Vec<(String, f32)> = state.units().filter_map(|(id, u)| u.score.map(|s| (id.to_owned(), s.total))).collect();
    totals.sort_by(|a, b| a.0.cmp(&b.0));
    totals
}

async fn server_totals(addr: SocketAddr) -> Vec<(String, f32)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bytes = reqwest::get(format!("http://{addr}/api/v1/scores")).await.unwrap().bytes().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut v: Vec<(String, f32)> =
        body["scores"].as_array().unwrap().iter().map(|s| (s["unit"].as_str().unwrap().to_owned(), s["total"].as_f64().unwrap() as f32)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn follows_the_server_survives_its_death_and_resumes_without_loss() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let anchor = SystemTime::now();
    // 6 simulated hours at 3 600×: the recording plays in 6 s, a record every 1/12 s.
    let handle: ServerHandle = rt.block_on(server::start(options(3600.0, None, Some(anchor)), "127.0.0.1:0".parse().unwrap())).unwrap();
    let addr = handle.addr;
    let rx = client(addr, None);
    let mut state = RiskState::new();

    let seen = pump(&rx, &mut state, Duration::from_secs(2));
    assert!(seen.iter().any(|m| matches!(m, FeedMsg::State(ConnState::Live))), "went live");
    let scores = seen.iter().filter(|m| matches!(m, FeedMsg::Scores { .. })).count();
    assert!(scores >= 5, "{scores} score events in 2 s");
    assert_eq!(totals(&state).len(), UNITS);

    // Kill the server mid-recording: the client says so, and from then on nothing changes the
    // last good state and no contact keeps the wall's freshness timer from running.
    handle.abort();
    let until = Instant::now() + Duration::from_secs(3);
    let mut retrying = false;
    while !retrying && Instant::now() < until {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
            live::apply(&mut state, &m);
            retrying = matches!(m, FeedMsg::State(ConnState::Retrying { .. }));
        }
    }
    assert!(retrying, "reports retrying within 3 s");
    let before = state.clone();
    let seen = pump(&rx, &mut state, Duration::from_millis(1500));
    assert!(!seen.iter().any(|m| matches!(m, FeedMsg::Contact)), "no contact once down");
    assert_eq!(state, before, "last good state kept while the server is down");

    // Restart on the same port and anchor: it catches up to where the recording stands, with
    // the same event ids, and the client resumes with Last-Event-ID.
    let handle = rt.block_on(async {
        for _ in 0..50 {
            if let Ok(h) = server::start(options(3600.0, None, Some(anchor)), addr).await {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not rebind {addr}");
    });
    let seen = pump(&rx, &mut state, Duration::from_secs(6));
    assert!(seen.iter().any(|m| matches!(m, FeedMsg::State(ConnState::Live))), "live again");

    // The recording has ended: our state is exactly the recording's final state (nothing lost),
    // with every alert once (nothing applied twice), and the server's.
    let opts = options(1.0, None, None);
    let mut replay = situation_wall::feed::Replay::new(Arc::clone(&opts.recording), 1.0, false, 3600.0);
    replay.seek(f64::MAX);
    assert!(replay.finished());
    let expected = replay.state();
    assert_eq!(totals(&state), totals(expected));
    assert_eq!(totals(&state), rt.block_on(server_totals(addr)));
    let ours: Vec<(String, String)> = state.alerts_newest_first().map(|a| (a.id.clone(), format!("{:?}", a.status))).collect();
    let theirs: Vec<(String, String)> = expected.alerts_newest_first().map(|a| (a.id.clone(), format!("{:?}", a.status))).collect();
    assert!(!theirs.is_empty());
    let mut ours_sorted = ours.clone();
    ours_sorted.sort();
    let mut theirs_sorted = theirs.clone();
    theirs_sorted.sort();
    assert_eq!(ours_sorted, theirs_sorted);
    handle.abort();
}

#[test]
fn a_wrong_token_is_refused_clearly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let handle = rt.block_on(server::start(options(60.0, Some("s3cret"), None), "127.0.0.1:0".parse().unwrap())).unwrap();
    let rx = client(handle.addr, Some("wrong"));
    let mut state = RiskState::new();
    let seen = pump(&rx, &mut state, Duration::from_secs(2));
    let refused = seen.iter().find_map(|m| match m {
        FeedMsg::State(ConnState::Unauthorized(msg)) => Some(msg.clone()),
        _ => None,
    });
    let msg = refused.expect("an Unauthorized state");
    assert!(msg.contains("401"), "{msg}");
    assert!(!seen.iter().any(|m| format!("{m:?}").contains("wrong")), "the token never appears in messages");
    assert!(totals(&state).is_empty());

    let rx = client(handle.addr, Some("s3cret"));
    let seen = pump(&rx, &mut state, Duration::from_secs(2));
    assert!(seen.iter().any(|m| matches!(m, FeedMsg::State(ConnState::Live))));
    assert_eq!(totals(&state).len(), UNITS);
    handle.abort();
}

#[test]
fn a_recorded_live_feed_replays_to_the_same_state() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // 6 simulated hours at 7 200×: 3 s.
    let opts = options(7200.0, None, None);
    let recording = Arc::clone(&opts.recording);
    let handle = rt.block_on(server::start(opts, "127.0.0.1:0".parse().unwrap())).unwrap();
    let rx = client(handle.addr, None);
    let mut recorder = situation_wall::feed::record::Recorder::new(Vec::new(), "test", "recorded in a test");
    let mut state = RiskState::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
            live::apply(&mut state, &m);
            recorder.record(&m).unwrap();
        }
    }
    handle.abort();
    let text = String::from_utf8(recorder.into_inner()).unwrap();
    let recorded = situation_wall::feed::Recording::parse(&text);
    assert!(recorded.errors.is_empty(), "{:?}", recorded.errors);
    let replay_end = |rec: Arc<situation_wall::feed::Recording>| {
        let mut r = situation_wall::feed::Replay::new(rec, 1.0, false, 1e9);
        r.seek(f64::MAX);
        r.state().clone()
    };
    let from_recording = replay_end(Arc::new(recorded));
    let original = replay_end(recording);
    assert_eq!(totals(&from_recording), totals(&original));
    assert_eq!(totals(&from_recording), totals(&state));
    let ids = |s: &RiskState| {
        let mut v: Vec<(String, String)> = s.alerts_newest_first().map(|a| (a.id.clone(), format!("{:?}", a.status))).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&from_recording), ids(&original));
}
