//! Case 015 (../shared/cases/LOG.md): SSE reconnection with Last-Event-ID against a scripted
//! mock. The case's payloads use a placeholder schema; here each event carries our contract's
//! `score` data with the case's numbers, except that the two values that must never be
//! applied are 99 (the event cut off without its blank line) and 55 (the duplicate id 5),
//! both valid scores, so only the resume logic can keep them out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use situation_wall::feed::live::{self, FeedMsg, LiveOptions};
use situation_wall::model::RiskState;
use tokio::io::AsyncWriteExt;

/// A score event; event `id` is stamped `id` × 5 minutes after 08:00, so each one is a point
/// of its own in the unit's history (one per 5-minute step).
fn event(id: u64, unit: &str, score: u32) -> String {
    let (h, m) = (8 + id * 5 / 60, id * 5 % 60);
    let data = format!(
        r#"{{"as_of":"2026-11-29T{h:02}:{m:02}:00+08:00","scores":[{{"unit":"{unit}","total":{score},"threat":{score},"asset":{score},"compliance":{score}}}]}}"#
    );
    format!("id: {id}\nevent: score\ndata: {data}\n\n")
}

#[derive(Default)]
struct Log {
    /// (events connection number, Last-Event-ID sent, when)
    requests: Vec<(usize, Option<String>, Instant)>,
    closed_first_at: Option<Instant>,
    open: usize,
    max_open: usize,
}

async fn chunk(sock: &mut tokio::net::TcpStream, s: &str) -> bool {
    sock.write_all(format!("{:x}\r\n{s}\r\n", s.len()).as_bytes()).await.is_ok()
}

async fn serve_events(mut sock: tokio::net::TcpStream, n: usize, log: Arc<Mutex<Log>>) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n";
    let gap = Duration::from_millis(200);
    match n {
        1 => {
            let _ = sock.write_all(head.as_bytes()).await;
            let mut sends = vec!["retry: 1500\n\n".to_owned()];
            sends.extend((1..=5).map(|i| event(i, "330101", 10 * i as u32)));
            // Event 6 without its final blank line, then FIN.
            sends.push(event(6, "330101", 99).trim_end_matches('\n').to_owned() + "\n");
            for s in sends {
                if !chunk(&mut sock, &s).await {
                    break;
                }
                tokio::time::sleep(gap).await;
            }
            log.lock().unwrap().closed_first_at = Some(Instant::now());
        }
        2 => {
            let _ = sock.write_all(head.as_bytes()).await;
            for s in [event(5, "330101", 55), event(6, "330101", 60), event(7, "330102", 70), event(8, "330101", 80)] {
                chunk(&mut sock, &s).await;
                tokio::time::sleep(gap).await;
            }
            let _ = sock.write_all(b"0\r\n\r\n").await;
        }
        3 => {
            let body = "<html><h1>503</h1></html>";
            let _ = sock
                .write_all(format!("HTTP/1.1 503 Service Unavailable\r\nretry-after: 3\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
                .await;
        }
        _ => {
            let _ = sock.write_all(head.as_bytes()).await;
            chunk(&mut sock, &event(9, "330101", 90)).await;
            chunk(&mut sock, &event(10, "330103", 33)).await;
            // Keep-alive comments only, 1 s apart (the client's idle limit is 3 s): they must
            // keep the connection, with no reconnect.
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if !chunk(&mut sock, ": keepalive\n\n").await {
                    break;
                }
            }
        }
    }
}

#[test]
fn resumes_with_last_event_id_and_never_applies_cut_or_duplicate_events() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Arc<Mutex<Log>> = Arc::default();
    let log2 = Arc::clone(&log);
    rt.spawn(async move {
        let mut events = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (path, head) = common::mock::read_head(&mut sock).await;
            if path.starts_with("/api/v1/events") {
                events += 1;
                let last = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("last-event-id:").map(|v| v.trim().to_owned()));
                let log3 = Arc::clone(&log2);
                {
                    let mut l = log2.lock().unwrap();
                    l.requests.push((events, last, Instant::now()));
                    l.open += 1;
                    l.max_open = l.max_open.max(l.open);
                }
                let n = events;
                tokio::spawn(async move {
                    serve_events(sock, n, Arc::clone(&log3)).await;
                    log3.lock().unwrap().open -= 1;
                });
            } else {
                common::mock::empty_snapshot_or_alerts(&mut sock, &path).await;
            }
        }
    });

    let mut o = LiveOptions::new(&format!("http://{addr}"));
    o.idle_timeout = Duration::from_secs(3);
    let rx = live::spawn(o, None);
    let mut state = RiskState::new();
    let mut applied = Vec::new();
    let until = Instant::now() + Duration::from_secs(16);
    while Instant::now() < until {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(100))
            && let FeedMsg::Scores { scores, .. } = &m
        {
            applied.extend(scores.iter().map(|s| s.total as u32));
            live::apply(&mut state, &m);
        }
    }
    let l = log.lock().unwrap();
    let reqs: Vec<(usize, Option<String>)> = l.requests.iter().map(|(n, id, _)| (*n, id.clone())).collect();
    assert_eq!(reqs.len(), 4, "no reconnect during keep-alives: {reqs:?}");
    assert!(matches!(reqs[0].1.as_deref(), None | Some("0")), "connection 1 resumes from the snapshot: {reqs:?}");
    assert_eq!(reqs[1].1.as_deref(), Some("5"), "the cut-off event 6 was not taken");
    assert_eq!(reqs[2].1.as_deref(), Some("8"));
    assert_eq!(reqs[3].1.as_deref(), Some("8"), "the 503 body was not parsed as events");
    let closed = l.closed_first_at.unwrap();
    assert!(l.requests[1].2 - closed >= Duration::from_millis(1350), "retry: 1500 honoured: {:?}", l.requests[1].2 - closed);
    assert!(l.requests[3].2 - l.requests[2].2 >= Duration::from_millis(2700), "Retry-After: 3 honoured");
    assert_eq!(l.max_open, 1, "never more than one open connection");
    assert!(!applied.contains(&99) && !applied.contains(&55), "{applied:?}");
    assert_eq!(applied, [10, 20, 30, 40, 50, 60, 70, 80, 90, 33]);
    let history: Vec<f32> = state.unit("330101").unwrap().history.iter().map(|(_, v)| v.expect("no gap")).collect();
    assert_eq!(history, [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 90.0]);
    let mut totals: Vec<(String, f32)> = state.units().map(|(id, u)| (id.to_owned(), u.score.unwrap().total)).collect();
    totals.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(totals, [("330101".to_owned(), 90.0), ("330102".to_owned(), 70.0), ("330103".to_owned(), 33.0)]);
}

/// A stream whose events cannot be used must not keep the wall "live" (no Contact), and one
/// bad event (a huge id with unusable data) must not block the valid events after it.
#[test]
fn unusable_events_neither_keep_the_wall_live_nor_block_later_ones() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let mut events = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (path, _) = common::mock::read_head(&mut sock).await;
            if path.starts_with("/api/v1/events") {
                events += 1;
                let n = events;
                tokio::spawn(async move {
                    let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n").await;
                    if n == 1 {
                        chunk(&mut sock, "id: 18446744073709551615\nevent: score\ndata: {}\n\n").await;
                        chunk(&mut sock, &event(2, "330101", 20)).await;
                        chunk(&mut sock, &event(3, "330101", 30)).await;
                    }
                    // Then nothing usable: garbage fields, never a valid event.
                    for _ in 0..40 {
                        if !chunk(&mut sock, "id: 9\nevent: score\ndata: not json\n\n").await {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                });
            } else {
                common::mock::empty_snapshot_or_alerts(&mut sock, &path).await;
            }
        }
    });
    let rx = live::spawn(LiveOptions::new(&format!("http://{addr}")), None);
    let mut state = RiskState::new();
    let mut last_contact = None;
    let mut failures = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(50)) {
            live::apply(&mut state, &m);
            match m {
                FeedMsg::Contact => last_contact = Some(start.elapsed()),
                FeedMsg::Failed(f) => failures.push(f),
                _ => {}
            }
        }
    }
    assert_eq!(state.score("330101").map(|s| s.total), Some(30.0), "valid events after a bad id apply");
    // Garbage flowed for ~4 s after event 3, yet no contact came after the first second.
    let last = last_contact.expect("contact from the valid events");
    assert!(last < Duration::from_secs(1), "garbage kept the wall live until {last:?}");
    assert_eq!(failures.iter().filter(|f| f.starts_with("score event")).count(), 1, "logged once per kind: {failures:?}");
}
