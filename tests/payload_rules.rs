//! The contract's payload rules (docs/api/openapi.yaml, "Payload rules") kept by the real live
//! client against a loopback mock, and by the reference server re-serving a recording: a
//! numeric string is a number, `"total": null` clears a unit to no data, an unknown severity
//! is kept as `Severity::Unknown` and counted, a unit listed twice keeps its last entry and is
//! reported, and each rejected record comes with its kind and id. Loopback only; every wait
//! is bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use chrono::DateTime;
use crossbeam_channel::Receiver;
use situation_wall::api::{ItemKind, NoteKind, RejectKind, UnitInfo};
use situation_wall::feed::live::{self, ConnState, FeedMsg, LiveOptions};
use situation_wall::feed::{RecordBody, Recording};
use situation_wall::model::{RiskState, Severity};
use situation_wall::server::{self, ServeOptions};
use tokio::io::AsyncWriteExt;

/// The snapshot: a string score, a null score, a unit listed twice, an unknown unit and a
/// score that is the string "NaN".
const SCORES: &str = r#"{"as_of":"2026-11-29T08:00:00+08:00","last_event_id":0,"scores":[
    {"unit":"110105001","total":"72.5","threat":"70","asset":60,"compliance":50},
    {"unit":"110105002","total":null},
    {"unit":"110105003","total":30,"threat":30,"asset":30,"compliance":30},
    {"unit":"110105003","total":35,"threat":35,"asset":35,"compliance":35},
    {"unit":"999001","total":5,"threat":5,"asset":5,"compliance":5},
    {"unit":"110105004","total":"NaN","threat":1,"asset":1,"compliance":1}
]}"#;

/// The alerts: one of a severity this build does not know, one known.
const ALERTS: &str = r#"{"alerts":[
    {"id":"A-1","unit":"110105001","time":"2026-11-29T07:58:00+08:00","severity":"urgent","category":"c","title":"t","status":"new"},
    {"id":"A-2","unit":"110105003","time":"2026-11-29T07:59:00+08:00","severity":"high","category":"c","title":"t","status":"new"}
],"next":2}"#;

/// One event after the snapshot: unit 1 goes to no data, unit 2 comes back with a string score.
const EVENT: &str = "id: 1\nevent: score\ndata: {\"as_of\":\"2026-11-29T08:05:00+08:00\",\"scores\":[{\"unit\":\"110105001\",\"total\":null,\"threat\":null},{\"unit\":\"110105002\",\"total\":\"41\",\"threat\":\"40\",\"asset\":40,\"compliance\":40}]}\n\n";

fn known() -> Arc<live::UnitIds> {
    Arc::new((1..=4).map(|i| format!("11010500{i}")).collect())
}

/// Collects messages until `done` holds for those seen, or `limit` passes.
fn collect_until(rx: &Receiver<FeedMsg>, limit: Duration, done: impl Fn(&[FeedMsg]) -> bool) -> Vec<FeedMsg> {
    let until = Instant::now() + limit;
    let mut seen = Vec::new();
    while !done(&seen) {
        let Some(left) = until.checked_duration_since(Instant::now()) else { break };
        match rx.recv_timeout(left) {
            Ok(m) => seen.push(m),
            Err(_) => break,
        }
    }
    seen
}

#[test]
fn the_client_keeps_the_payload_rules_on_a_snapshot_and_an_event() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let (path, _) = common::mock::read_head(&mut sock).await;
                if path.starts_with("/api/v1/scores") {
                    common::mock::json_ok(&mut sock, SCORES).await;
                } else if path.starts_with("/api/v1/alerts") {
                    common::mock::json_ok(&mut sock, ALERTS).await;
                } else if path.starts_with("/api/v1/events") {
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";
                    let _ = sock.write_all(format!("{head}{EVENT}").as_bytes()).await;
                    // Hold the stream open (bounded), as a live server would.
                    tokio::time::sleep(Duration::from_secs(10)).await;
                } else {
                    let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                }
            });
        }
    });

    let mut o = LiveOptions::new(&format!("http://{addr}"));
    o.request_timeout = Duration::from_secs(2);
    o.idle_timeout = Duration::from_secs(5);
    o.backoff_min = Duration::from_millis(100);
    o.backoff_max = Duration::from_millis(400);
    let rx = live::spawn(o, Some(known()));
    let seen = collect_until(&rx, Duration::from_secs(10), |s| s.iter().any(|m| matches!(m, FeedMsg::Scores { .. })));
    // A snapshot without the `simulated` flag reads as real data.
    assert!(seen.contains(&FeedMsg::Provenance { simulated: false }), "{seen:#?}");
    let data: Vec<&FeedMsg> = seen.iter().filter(|m| !matches!(m, FeedMsg::Contact | FeedMsg::State(_) | FeedMsg::Provenance { .. })).collect();
    let as_of = DateTime::parse_from_rfc3339("2026-11-29T08:00:00+08:00").unwrap();

    // The snapshot's reports come before it: each rejection with its kind and id, each remark.
    assert_eq!(data.len(), 6, "{data:#?}");
    assert_eq!(data[0], &FeedMsg::Rejected { item: ItemKind::Score, kind: RejectKind::WrongType, count: 1, ids: vec!["110105004".into()] });
    assert_eq!(data[1], &FeedMsg::Rejected { item: ItemKind::Score, kind: RejectKind::UnknownUnit, count: 1, ids: vec!["999001".into()] });
    assert_eq!(data[2], &FeedMsg::Noted { kind: NoteKind::DuplicateUnit, count: 1, ids: vec!["110105003".into()] });
    assert_eq!(data[3], &FeedMsg::Noted { kind: NoteKind::UnknownSeverity, count: 1, ids: vec!["A-1".into()] });
    assert_eq!(
        data[2].report_line().unwrap(),
        "1 × unit listed more than once in one payload, the last entry kept: 110105003; further ones are counted, not logged"
    );
    let FeedMsg::Snapshot { as_of: snap_at, scores, cleared, alerts } = data[4] else { panic!("{data:#?}") };
    assert_eq!(*snap_at, as_of);
    let got: Vec<(&str, f32, f32)> = scores.iter().map(|s| (s.unit.as_str(), s.total, s.threat)).collect();
    assert_eq!(got, [("110105001", 72.5, 70.0), ("110105003", 35.0, 35.0)], "the string score is 72.5; the last 110105003 wins");
    assert_eq!(cleared, &["110105002"]);
    let severities: Vec<(&str, Severity)> = alerts.iter().map(|a| (a.id.as_str(), a.severity)).collect();
    assert_eq!(severities, [("A-1", Severity::Unknown), ("A-2", Severity::High)], "the unknown severity is kept");
    let FeedMsg::Scores { scores, cleared, .. } = data[5] else { panic!("{data:#?}") };
    assert_eq!(scores.iter().map(|s| (s.unit.as_str(), s.total)).collect::<Vec<_>>(), [("110105002", 41.0)]);
    assert_eq!(cleared, &["110105001"]);
    assert!(seen.iter().any(|m| matches!(m, FeedMsg::State(ConnState::Live))), "{seen:?}");

    // Applied in order: no data for 110105001 since 08:05, 110105002 back with 41.
    let mut state = RiskState::new();
    for m in &seen {
        live::apply(&mut state, m);
    }
    assert_eq!(state.score("110105001"), None);
    assert_eq!(state.unit("110105001").unwrap().history.iter().map(|(_, v)| v).collect::<Vec<_>>(), [Some(72.5), None]);
    assert_eq!(state.score("110105002").unwrap().total, 41.0);
    assert_eq!(state.score("110105003").unwrap().total, 35.0);
    assert_eq!(state.score("110105004"), None);
    assert_eq!(state.alert("A-1").unwrap().severity, Severity::Unknown);
    // A clear older than the unit's newest update is refused.
    let stale = FeedMsg::Scores { as_of, scores: vec![], cleared: vec!["110105002".into()] };
    assert!(!live::apply(&mut state, &stale));
    assert_eq!(state.score("110105002").unwrap().total, 41.0);
    drop(rx);
    rt.shutdown_timeout(Duration::from_secs(1));
}

const RECORDING: &str = r#"{"format":"situation-wall-recording","version":1,"map":"m","start":"2026-11-29T08:00:00+08:00"}
{"t":"2026-11-29T08:00:00+08:00","type":"scores","scores":[{"unit":"a","total":"40","threat":40,"asset":40,"compliance":40},{"unit":"b","total":50,"threat":50,"asset":50,"compliance":50}]}
{"t":"2026-11-29T08:00:10+08:00","type":"scores","scores":[{"unit":"a","total":null},{"unit":"b","total":55,"threat":55,"asset":55,"compliance":55},{"unit":"b","total":56,"threat":56,"asset":56,"compliance":56}]}
{"t":"2026-11-29T08:00:20+08:00","type":"alert","id":"A1","unit":"b","severity":"p1","category":"c","title":"t"}"#;

#[test]
fn the_reference_server_re_serves_a_recordings_clears_and_the_client_follows() {
    let rec = Recording::parse(RECORDING);
    // The recording parser keeps the rules too: b's first entry at 08:00:10 is overridden, the
    // unknown severity is noted, and a's null total is a clear.
    assert_eq!(rec.errors.len(), 2, "{:?}", rec.errors);
    assert!(rec.errors[0].message.contains("overridden: unit b"), "{:?}", rec.errors);
    assert!(rec.errors[1].message.contains("unknown severity"), "{:?}", rec.errors);
    assert!(matches!(&rec.records[1].1.body, RecordBody::Scores { scores, cleared } if scores.len() == 1 && cleared == &["a"]));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let units = ["a", "b"].map(|id| UnitInfo { id: id.into(), name: id.into(), kind: "街道".into(), location: None }).to_vec();
    let options = ServeOptions {
        recording: Arc::new(rec),
        units,
        speed: 60.0,
        looping: false,
        token: None,
        retain_events: 1000,
        keep_alive: Duration::from_millis(300),
        anchor: None,
    };
    let handle = rt.block_on(server::start(options, "127.0.0.1:0".parse().unwrap())).unwrap();
    let mut o = LiveOptions::new(&format!("http://{}", handle.addr));
    o.request_timeout = Duration::from_secs(2);
    o.backoff_min = Duration::from_millis(100);
    o.backoff_max = Duration::from_millis(400);
    let rx = live::spawn(o, Some(Arc::new(["a", "b"].map(str::to_owned).into_iter().collect())));
    // Whether the client sees the clear as an event or in a snapshot taken after it, it ends
    // in the recording's final state.
    let mut state = RiskState::new();
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until && !(state.alert("A1").is_some() && state.score("a").is_none() && state.unit("a").is_some()) {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
            live::apply(&mut state, &m);
        }
    }
    assert_eq!(state.score("a"), None, "a was cleared");
    // Stamped 08:00:10 by the event, or later by a snapshot (its `as_of` is the newest data).
    assert!(state.unit("a").unwrap().as_of >= Some(DateTime::parse_from_rfc3339("2026-11-29T08:00:10+08:00").unwrap()));
    assert_eq!(state.score("b").unwrap().total, 56.0, "the last entry for b");
    assert_eq!(state.alert("A1").unwrap().severity, Severity::Unknown);

    // The snapshot lists the cleared unit with a null total, so a client that starts now
    // clears it too; the unknown severity is served as "unknown".
    let (scores, alerts) = rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let get = |path: &'static str| {
            let url = format!("http://{}/api/v1/{path}", handle.addr);
            async move {
                let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
            }
        };
        (get("scores").await, get("alerts").await)
    });
    let a = scores["scores"].as_array().unwrap().iter().find(|s| s["unit"] == "a").expect("a listed");
    assert!(a["total"].is_null(), "{a}");
    assert_eq!(alerts["alerts"][0]["severity"], "unknown");
    handle.abort();
    drop(rx);
    rt.shutdown_timeout(Duration::from_secs(1));
}
