//! The live client against a tiny std-only HTTP/1.1 server on loopback: an event stream that
//! starts with a UTF-8 BOM is followed (the old SSE crate panicked on it), a client that panics
//! is reported as `FeedError` and restarted by its supervisor, and a failed request is
//! reported once, as the retrying state. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use situation_wall::feed::live::{ConnState, FeedMsg, LiveOptions, spawn};

const SNAPSHOT: &str = r#"{"as_of":"2026-11-29T07:59:00+08:00","last_event_id":0,"scores":[]}"#;
const ALERTS: &str = r#"{"alerts":[],"next":0}"#;

/// A `score` event with id `id` setting unit 1 to `total`.
fn event(id: u64, total: u32) -> String {
    format!(
        "id: {id}\nevent: score\ndata: {{\"as_of\":\"2026-11-29T08:00:{id:02}+08:00\",\"scores\":[{{\"unit\":\"1\",\"total\":{total},\"threat\":1,\"asset\":1,\"compliance\":1}}]}}\n\n"
    )
}

/// Reads a request head; returns its path.
fn read_path(sock: &mut TcpStream) -> String {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).split_whitespace().nth(1).unwrap_or("").to_owned()
}

fn json(sock: &mut TcpStream, status: &str, body: &str) {
    let _ = sock.write_all(
        format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes(),
    );
}

/// Writes one HTTP/1.1 chunk; false when the client has gone.
fn send_chunk(sock: &mut TcpStream, bytes: &[u8]) -> bool {
    let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
    framed.extend_from_slice(bytes);
    framed.extend_from_slice(b"\r\n");
    sock.write_all(&framed).and_then(|()| sock.flush()).is_ok()
}

/// Sends `chunks` as an event stream (HTTP chunks 20 ms apart), then a keep-alive comment
/// every 200 ms for up to `hold`, then ends it.
fn event_stream(sock: &mut TcpStream, chunks: &[Vec<u8>], hold: Duration) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    if sock.write_all(head.as_bytes()).is_err() {
        return;
    }
    for c in chunks {
        if !send_chunk(sock, c) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let until = Instant::now() + hold;
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
        if !send_chunk(sock, b": keep-alive\n\n") {
            return;
        }
    }
    let _ = sock.write_all(b"0\r\n\r\n");
}

/// Serves `handler(path, socket)` for each connection, one thread each, on an ephemeral
/// loopback port. The threads end with the test process.
fn serve(handler: impl Fn(&str, &mut TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { continue };
            let handler = Arc::clone(&handler);
            std::thread::spawn(move || {
                let path = read_path(&mut sock);
                handler(&path, &mut sock);
            });
        }
    });
    addr
}

/// A server with an empty snapshot whose event stream sends `chunks`, then keep-alives.
fn stream_server(chunks: Vec<Vec<u8>>) -> SocketAddr {
    serve(move |path, sock| {
        if path.starts_with("/api/v1/scores") {
            json(sock, "200 OK", SNAPSHOT);
        } else if path.starts_with("/api/v1/alerts") {
            json(sock, "200 OK", ALERTS);
        } else if path.starts_with("/api/v1/events") {
            event_stream(sock, &chunks, Duration::from_secs(8));
        } else {
            json(sock, "404 Not Found", "{}");
        }
    })
}

fn options(addr: SocketAddr) -> LiveOptions {
    let mut o = LiveOptions::new(&format!("http://{addr}"));
    o.request_timeout = Duration::from_secs(2);
    o.backoff_min = Duration::from_millis(100);
    o.backoff_max = Duration::from_millis(400);
    o
}

/// Unit 1's total in a `Scores` message.
fn total(m: &FeedMsg) -> Option<f32> {
    match m {
        FeedMsg::Scores { scores, .. } => scores.iter().find(|s| s.unit == "1").map(|s| s.total),
        _ => None,
    }
}

/// Collects messages until `done` holds for those seen, or `limit` passes.
fn collect_until(rx: &crossbeam_channel::Receiver<FeedMsg>, limit: Duration, done: impl Fn(&[FeedMsg]) -> bool) -> Vec<FeedMsg> {
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

fn totals(msgs: &[FeedMsg]) -> Vec<f32> {
    msgs.iter().filter_map(total).collect()
}

#[test]
fn an_event_stream_starting_with_a_utf8_bom_is_followed() {
    // The BOM split across chunks (EF | BB BF), then two events.
    let chunks = vec![b"\xEF".to_vec(), [b"\xBB\xBF".as_slice(), event(1, 11).as_bytes()].concat(), event(2, 22).into_bytes()];
    let rx = spawn(options(stream_server(chunks)), None);
    let seen = collect_until(&rx, Duration::from_secs(10), |s| totals(s).len() >= 2);
    assert_eq!(totals(&seen), [11.0, 22.0], "{seen:?}");
    assert!(seen.iter().any(|m| matches!(m, FeedMsg::State(ConnState::Live))), "{seen:?}");
    // Keep-alives follow: contact, and no error, no retry, no restart.
    let later = collect_until(&rx, Duration::from_millis(700), |_| false);
    assert!(later.iter().any(|m| matches!(m, FeedMsg::Contact)), "keep-alives are contact: {later:?}");
    let bad = |m: &FeedMsg| matches!(m, FeedMsg::State(ConnState::FeedError { .. } | ConnState::Retrying { .. }) | FeedMsg::Failed(_));
    assert!(!seen.iter().chain(&later).any(bad), "{seen:?} {later:?}");
}

#[test]
fn a_client_that_panics_is_reported_and_restarted_by_its_supervisor() {
    let chunks = vec![event(1, 11).into_bytes(), event(2, 22).into_bytes(), event(3, 33).into_bytes()];
    let mut o = options(stream_server(chunks));
    // Panic at the second event the client handles (event 2 of the first connection), once.
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    o.fault = Some(Arc::new(move || counter.fetch_add(1, Ordering::SeqCst) == 1));
    let rx = spawn(o, None);
    let restarted =
        |s: &[FeedMsg]| s.iter().position(|m| matches!(m, FeedMsg::State(ConnState::FeedError { .. }))).is_some_and(|i| totals(&s[i..]).contains(&33.0));
    let seen = collect_until(&rx, Duration::from_secs(15), restarted);
    let at = seen.iter().position(|m| matches!(m, FeedMsg::State(ConnState::FeedError { .. }))).unwrap_or_else(|| panic!("no FeedError state: {seen:?}"));
    let FeedMsg::State(ConnState::FeedError { message, restart_in }) = &seen[at] else { unreachable!() };
    assert_eq!(message, "injected fault (LiveOptions::fault)");
    assert_eq!(*restart_in, 1.0, "the first restart waits 1 s");
    let (before, after) = seen.split_at(at + 1);
    assert_eq!(totals(before), [11.0], "event 1 applied, event 2 panicked: {before:?}");
    // After the restart: a fresh snapshot, live again, and every event of the new stream.
    assert!(matches!(after.first(), Some(FeedMsg::State(ConnState::Connecting))), "{after:?}");
    assert!(after.iter().any(|m| matches!(m, FeedMsg::Snapshot { .. })), "{after:?}");
    assert!(after.iter().any(|m| matches!(m, FeedMsg::State(ConnState::Live))), "live again: {after:?}");
    assert_eq!(totals(after), [11.0, 22.0, 33.0], "{after:?}");
    assert_eq!(seen.iter().filter(|m| matches!(m, FeedMsg::State(ConnState::FeedError { .. }))).count(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 5, "the hook ran before each event handled: 2 then 3");
}

#[test]
fn a_failed_request_is_reported_once_as_the_retrying_state() {
    let addr = serve(|_, sock| json(sock, "503 Service Unavailable", r#"{"error":"maintenance"}"#));
    let rx = spawn(options(addr), None);
    let retrying = |m: &FeedMsg| matches!(m, FeedMsg::State(ConnState::Retrying { .. }));
    let seen = collect_until(&rx, Duration::from_secs(5), |s| s.iter().filter(|m| retrying(m)).count() >= 3);
    let reasons: Vec<&str> = seen
        .iter()
        .filter_map(|m| match m {
            FeedMsg::State(ConnState::Retrying { reason, retry_in, .. }) => {
                assert!(*retry_in > 0.0 && *retry_in <= 0.4, "{retry_in}");
                Some(reason.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(reasons, ["HTTP 503 Service Unavailable"; 3], "{seen:?}");
    assert!(!seen.iter().any(|m| matches!(m, FeedMsg::Failed(_))), "not also as Failed: {seen:?}");
}
