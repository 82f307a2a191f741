//! Case 019 (../shared/cases/LOG.md) as a test: a backend that fails in every way HTTP can —
//! 5xx with Retry-After, a stalled body, a body dripped a byte at a time, an endless body —
//! and then recovers. Each failure ends in bounded time, the last good state stays, and the
//! recovery is picked up. The mock speaks raw HTTP/1.1 on loopback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use situation_wall::feed::live::{self, ConnState, FeedMsg, LiveOptions, RetryKind};
use situation_wall::model::RiskState;
use tokio::io::AsyncWriteExt;

fn snapshot(total: u32) -> String {
    format!(
        r#"{{"as_of":"2026-11-29T08:00:{total:02}+08:00","last_event_id":0,"scores":[{{"unit":"1","total":{total},"threat":1,"asset":1,"compliance":1}}]}}"#
    )
}

async fn respond(mut sock: tokio::net::TcpStream, scores_request: usize) {
    let ok = |body: &str| format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    match scores_request {
        1 => {
            let _ = sock.write_all(ok(&snapshot(10)).as_bytes()).await;
        }
        2 => {
            let body = r#"{"error":"maintenance"}"#;
            let _ = sock
                .write_all(format!("HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
                .await;
        }
        3 => {
            // Stalled: promises 636 bytes, sends 16, then holds the socket.
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 636\r\n\r\n{\"generated_at\":").await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        4 => {
            // Slow drip: a valid body, one byte every 300 ms.
            let body = snapshot(15);
            let _ = sock.write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len()).as_bytes()).await;
            for b in body.bytes() {
                if sock.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        5 => {
            // Endless chunked body at full speed.
            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").await;
            let piece = r#"{"unit":"1","score":1},"#.repeat(200);
            let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if sock.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
        _ => {
            let _ = sock.write_all(ok(&snapshot(20)).as_bytes()).await;
        }
    }
}

#[test]
fn every_http_failure_ends_in_bounded_time_and_keeps_the_last_good_state() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    // (scores request number, when it arrived)
    let log: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let log2 = Arc::clone(&log);
    rt.spawn(async move {
        let mut scores = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (path, _) = common::mock::read_head(&mut sock).await;
            if path.starts_with("/api/v1/scores") {
                scores += 1;
                log2.lock().unwrap().push((scores, Instant::now()));
                tokio::spawn(respond(sock, scores));
            } else if path.starts_with("/api/v1/alerts") {
                common::mock::json_ok(&mut sock, r#"{"alerts":[],"next":0}"#).await;
            } else {
                let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            }
        }
    });

    let mut o = LiveOptions::new(&format!("http://{addr}"));
    o.request_timeout = Duration::from_secs(1);
    o.poll_interval = Duration::from_millis(200);
    o.backoff_min = Duration::from_millis(100);
    o.backoff_max = Duration::from_millis(400);
    o.max_body = 64 << 10;
    let rx = live::spawn(o, None);
    let mut state = RiskState::new();
    let mut failures = Vec::new();
    let mut kinds = Vec::new();
    let mut shown = Vec::new();
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) else { continue };
        if live::apply(&mut state, &m) {
            shown.push(state.score("1").unwrap().total);
        }
        // Each failure is reported once, as the retrying state.
        if let FeedMsg::State(ConnState::Retrying { reason, kind, .. }) = &m {
            failures.push(reason.clone());
            kinds.push(*kind);
        }
        assert!(!matches!(m, FeedMsg::Failed(_)), "a failed request is reported once, as a state: {m:?}");
        if state.score("1").is_some_and(|s| s.total == 20.0) {
            break;
        }
    }
    // A is shown, kept through every failure (the drip never completes within the deadline),
    // then B.
    assert_eq!(shown.first(), Some(&10.0), "{shown:?}");
    assert_eq!(shown.last(), Some(&20.0), "{shown:?} failures {failures:?}");
    assert!(!shown.contains(&15.0), "the dripped body must be abandoned at the deadline");
    assert!(failures.iter().any(|f| f == "HTTP 503 Service Unavailable"), "{failures:?}");
    assert!(failures.iter().any(|f| f.contains("no response within")), "{failures:?}");
    assert!(failures.iter().any(|f| f.contains("body larger than")), "{failures:?}");
    assert!(!failures.iter().any(|f| f.contains("invalid JSON")), "{failures:?}");
    // What the header shows for each, in the UI's language (the reasons above go to the log).
    for kind in [RetryKind::Http(503), RetryKind::Timeout, RetryKind::BadData] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }

    let log = log.lock().unwrap().clone();
    let at = |k: usize| log.iter().find(|(n, _)| *n == k).map(|(_, t)| *t).unwrap_or_else(|| panic!("request {k} never came: {log:?}"));
    // Retry-After: 2 honoured.
    assert!(at(3) - at(2) >= Duration::from_secs(2), "{:?}", at(3) - at(2));
    // The stalled and dripped requests end at the 1 s whole-request deadline, not when the
    // server gives up: the next request follows within deadline + backoff + polling slack.
    for k in [3, 4, 5] {
        assert!(at(k + 1) - at(k) < Duration::from_millis(2500), "request {k} held the client {:?}", at(k + 1) - at(k));
    }
    // Never more than one request in flight: arrivals are at least the deadline apart for the
    // hanging ones, and there are few requests overall.
    assert!(log.len() <= 8, "{} requests", log.len());
}

/// Case 017: a Python backend's `NaN` / `Infinity` tokens. Strict JSON: the whole poll fails
/// with a parse error naming the position, and every unit keeps its baseline.
#[test]
fn nan_tokens_fail_the_poll_and_keep_the_baseline() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let mut scores = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (path, _) = common::mock::read_head(&mut sock).await;
            let body = if path.starts_with("/api/v1/scores") {
                scores += 1;
                if scores == 1 {
                    snapshot(50)
                } else {
                    r#"{"as_of":"2026-11-29T08:01:00+08:00","last_event_id":0,"scores":[{"unit":"1","total":NaN,"threat":1,"asset":1,"compliance":Infinity}]}"#
                        .to_owned()
                }
            } else if path.starts_with("/api/v1/alerts") {
                r#"{"alerts":[],"next":0}"#.to_owned()
            } else {
                let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                continue;
            };
            common::mock::json_ok(&mut sock, &body).await;
        }
    });
    let mut o = LiveOptions::new(&format!("http://{addr}"));
    o.poll_interval = Duration::from_millis(100);
    o.backoff_min = Duration::from_millis(100);
    o.backoff_max = Duration::from_millis(200);
    let rx = live::spawn(o, None);
    let mut state = RiskState::new();
    let mut failures = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) else { continue };
        live::apply(&mut state, &m);
        if let FeedMsg::State(ConnState::Retrying { reason, .. }) = m {
            failures.push(reason);
        }
    }
    assert_eq!(state.score("1").map(|s| s.total), Some(50.0), "baseline kept; failures {failures:?}");
    assert!(state.units().all(|(_, u)| u.score.is_some_and(|s| s.validate().is_ok())));
    let parse = failures.iter().find(|f| f.contains("invalid JSON")).unwrap_or_else(|| panic!("{failures:?}"));
    assert!(parse.contains("line 1 column"), "names the position: {parse}");
}
