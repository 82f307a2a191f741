//! The wall gateway (issue 11), as the platform and the walls see it: tokens and scopes, every
//! kind of bad input refused alone, a damaged store refused at start, acknowledged batches
//! surviving `kill -9`, the wall's own client resuming across a gateway restart, the read API,
//! and the `ingest` command. Some run the real binary (`serve`, `ingest`) as a child process,
//! the others the gateway in-process. Loopback only; every loop is bounded in count and time.
//!
//! The load benchmark is ignored by default: `cargo test --test gateway -- --ignored
//! --nocapture load` (`SW_LOAD_SECS` sets its length, default 20 s; `SW_LOAD_WALLS` the number
//! of walls, default 50; `SW_LOAD_RATE` the score records/s offered, default 20,000, 0 for as
//! fast as the clients can).

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde_json::{Value, json};
use situation_wall::api::UnitInfo;
use situation_wall::feed::live::{self, FeedMsg, LiveOptions};
use situation_wall::gateway::store::Store;
use situation_wall::model::RiskState;
use situation_wall::server::{self, GatewayOptions, ServerHandle};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A plain HTTP answer.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Splits a raw answer into status, headers and body (chunked bodies decoded).
fn parse_response(raw: &[u8]) -> std::io::Result<Resp> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no end of head"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
    let headers: HashMap<String, String> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let (mut out, mut rest) = (Vec::new(), &body[..]);
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).map_err(|_| bad("chunk size"))?;
            if size == 0 || rest.len() < eol + 2 + size {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[(eol + 4 + size).min(rest.len())..];
        }
        body = out;
    }
    Ok(Resp { status, headers, body })
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), with a 20 s deadline.
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(20)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    request(addr, "GET", path, &headers, b"").unwrap()
}

fn post(addr: SocketAddr, body: &[u8], token: Option<&str>) -> std::io::Result<Resp> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(auth.iter().map(|a| ("authorization", a.as_str())));
    request(addr, "POST", "/api/v1/ingest", &headers, body)
}

fn post_json(addr: SocketAddr, records: &Value, token: Option<&str>) -> Resp {
    post(addr, records.to_string().as_bytes(), token).unwrap()
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("gateway-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Beijing time `s` seconds after `base`, RFC 3339.
fn at(base: DateTime<FixedOffset>, s: i64) -> String {
    (base + TimeDelta::seconds(s)).to_rfc3339()
}

/// A recent whole minute, so the gateway's 30-day retention keeps what the tests send.
fn recent_base() -> DateTime<FixedOffset> {
    let now = Utc::now().with_timezone(&situation_wall::model::BEIJING) - TimeDelta::hours(2);
    now - TimeDelta::seconds(now.timestamp() % 60) - TimeDelta::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
}

fn score(unit: &str, time: &str, total: f64) -> Value {
    json!({"type": "score", "unit": unit, "time": time, "total": total, "threat": total / 2.0, "asset": 10, "compliance": 20})
}

/// A `serve` child process, killed (SIGKILL) when dropped; its stdout and stderr go to files.
struct Serve {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Serve {
    /// Starts `serve` with `args` on `port`, with its output in `log` (appended).
    fn start(args: &[&str], envs: &[(&str, &str)], port: u16, log: &Path) -> Serve {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let err = out.try_clone().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_situation-wall"))
            .arg("serve")
            .args(["--addr", &addr.to_string()])
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        Serve { child, addr, log: log.to_path_buf() }
    }

    /// Waits (up to 20 s) until it answers HTTP; panics with its log when it exits or never does.
    fn wait_up(mut self) -> Serve {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited with {status}: {}", std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            if request(self.addr, "GET", "/api/v1/health", &[], b"").is_ok() {
                return self;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("serve did not answer within 20 s: {}", std::fs::read_to_string(&self.log).unwrap_or_default());
    }

    /// `kill -9`, and waits for the process to be gone.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Units for in-process gateways: four townships and a bureau.
fn test_units() -> Vec<UnitInfo> {
    let mut units: Vec<UnitInfo> =
        (1..=4).map(|i| UnitInfo { id: format!("11010500{i}"), name: format!("街道{i}"), kind: "街道".into(), location: None }).collect();
    units.push(UnitInfo { id: "B00100".into(), name: "发改委".into(), kind: "委办局".into(), location: Some([116.47, 39.83]) });
    units
}

/// An in-memory gateway on a free loopback port, on its own runtime.
fn in_process(options: GatewayOptions) -> (tokio::runtime::Runtime, ServerHandle) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Store::open(None).unwrap();
    let handle = rt.block_on(server::start_gateway(store, options, "127.0.0.1:0".parse().unwrap())).unwrap();
    (rt, handle)
}

fn reasons(report: &Value) -> Vec<(u64, String)> {
    report["rejected"].as_array().unwrap().iter().map(|r| (r["index"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_owned())).collect()
}

/// Reads an event stream until `done` holds for the `id:` values seen, or `limit` passes.
fn sse_ids(addr: SocketAddr, path: &str, headers: &[(&str, &str)], limit: Duration, done: impl Fn(&[u64]) -> bool) -> (u16, Vec<u64>) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut head = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    s.write_all(format!("{head}\r\n").as_bytes()).unwrap();
    let (mut raw, mut buf) = (Vec::new(), [0u8; 8192]);
    let until = Instant::now() + limit;
    let mut ids = Vec::new();
    while Instant::now() < until && !done(&ids) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        let text = String::from_utf8_lossy(&raw);
        ids = text.lines().filter_map(|l| l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:"))).filter_map(|v| v.trim().parse().ok()).collect();
    }
    let status = String::from_utf8_lossy(&raw).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, ids)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

const READ_TOKEN: &str = "wall-read-Qm9vdGxl";
const INGEST_TOKEN: &str = "platform-ingest-c2VjcmV0";
const ENV_READ_TOKEN: &str = "env-read-ZW52LXJlYWQ";
const ENV_INGEST_TOKEN: &str = "env-ingest-ZW52LWluZ2VzdA";

#[test]
fn tokens_are_checked_by_scope_and_never_logged() {
    let dir = scratch("auth");
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("# name scope token\nwall-3 read {READ_TOKEN}\n\nplatform ingest {INGEST_TOKEN}\n")).unwrap();
    let log = dir.join("serve.log");
    let data = dir.join("data");
    let args = ["--data", data.to_str().unwrap(), "--tokens", tokens.to_str().unwrap(), "--token-env", "SW_T_READ", "--ingest-token-env", "SW_T_INGEST"];
    let envs = [("SW_T_READ", ENV_READ_TOKEN), ("SW_T_INGEST", ENV_INGEST_TOKEN)];
    let serve = Serve::start(&args, &envs, free_port(), &log).wait_up();
    let addr = serve.addr;
    let base = recent_base();
    let one = json!([score("110105001", &at(base, 0), 40.0)]);

    // Reads: none 401 (with WWW-Authenticate), wrong 401, a read or an ingest token 200.
    let none = get(addr, "/api/v1/units", None);
    assert_eq!(none.status, 401);
    assert_eq!(none.headers.get("www-authenticate").map(String::as_str), Some("Bearer"));
    assert!(none.json()["error"].as_str().unwrap().contains("missing bearer token"));
    assert_eq!(get(addr, "/api/v1/units", Some("not-a-token")).status, 401);
    assert_eq!(get(addr, "/api/v1/units", Some(&READ_TOKEN[..READ_TOKEN.len() - 1])).status, 401, "a prefix is wrong");
    assert_eq!(get(addr, "/api/v1/units", Some(READ_TOKEN)).status, 200);
    assert_eq!(get(addr, "/api/v1/health", Some(ENV_READ_TOKEN)).status, 200);
    assert_eq!(get(addr, "/api/v1/health", Some(INGEST_TOKEN)).status, 200, "an ingest token may read");
    let lower = request(addr, "GET", "/api/v1/health", &[("authorization", &format!("bearer {READ_TOKEN}"))], b"").unwrap();
    assert_eq!(lower.status, 200, "the scheme is case-insensitive");

    // Ingest: none 401, wrong 401, a read token 403, an ingest token 200.
    assert_eq!(post_json(addr, &one, None).status, 401);
    assert_eq!(post_json(addr, &one, Some("nope")).status, 401);
    let forbidden = post_json(addr, &one, Some(READ_TOKEN));
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.json()["error"].as_str().unwrap().contains("ingest token"));
    assert_eq!(post_json(addr, &one, Some(ENV_READ_TOKEN)).status, 403);
    let ok = post_json(addr, &one, Some(INGEST_TOKEN));
    assert_eq!(ok.status, 200);
    assert_eq!((ok.json()["accepted"].as_u64(), ok.json()["first_event_id"].as_u64()), (Some(1), Some(1)));
    let again = post_json(addr, &one, Some(ENV_INGEST_TOKEN));
    assert_eq!(again.json()["duplicate"], 1);

    // The `ingest` command with the ingest token from its environment.
    let file = dir.join("records.ndjson");
    std::fs::write(&file, format!("{}\n\n{}\n", score("110105002", &at(base, 0), 50.0), score("110105003", &at(base, 0), 60.0))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_situation-wall"))
        .args(["ingest", "--url", &format!("http://{addr}"), "--token-env", "SW_T_CLI"])
        .arg(&file)
        .env("SW_T_CLI", INGEST_TOKEN)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ingest: 2 records in 1 batch: accepted 2, duplicate 0, rejected 0 (events 2–2)"), "{stdout}");
    assert!(!stdout.contains(INGEST_TOKEN) && !stderr.contains(INGEST_TOKEN));
    let scores = get(addr, "/api/v1/scores", Some(READ_TOKEN)).json();
    assert_eq!(scores["scores"].as_array().unwrap().len(), 3);

    drop(serve);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("ingest: client platform accepted 1 duplicate 0 rejected 0 (events 1–1)"), "{log}");
    assert!(log.contains("ingest: client SW_T_INGEST accepted 0 duplicate 1 rejected 0 (no events)"), "{log}");
    assert!(log.contains("4 token(s)"), "{log}");
    for secret in [READ_TOKEN, INGEST_TOKEN, ENV_READ_TOKEN, ENV_INGEST_TOKEN, "not-a-token", "nope"] {
        assert!(!log.contains(secret), "a token in the log: {log}");
    }
}

#[test]
fn each_bad_record_is_refused_alone_with_its_reason() {
    let mut options = GatewayOptions::new(test_units());
    options.max_body_bytes = 1 << 20;
    options.max_batch = 50;
    options.audit = false;
    let (_rt, handle) = in_process(options);
    let addr = handle.addr;
    let t = "2026-11-29T08:00:00+08:00";
    let good = score("110105001", t, 50.0);
    let mut wrong_type = score("110105002", t, 1.0);
    wrong_type["total"] = json!(true);
    let mut nan = score("110105002", t, 1.0);
    nan["threat"] = json!("NaN");
    let mut infinite = score("110105002", t, 1.0);
    infinite["asset"] = json!("inf");
    let mut missing = score("110105003", t, 1.0);
    missing.as_object_mut().unwrap().remove("time");
    let mut numeric_string = score("110105004", t, 1.0);
    numeric_string["total"] = json!("12.5");
    let long_id = json!({"type": "alert", "id": "x".repeat(10_000), "unit": "110105001", "time": t, "severity": "high", "category": "c", "title": "t"});
    let batch = json!([good, score("110105002", t, 150.0), wrong_type, nan, infinite, score("999999999", t, 5.0), missing, good, long_id, numeric_string,]);
    let r = post_json(addr, &batch, None);
    assert_eq!(r.status, 200);
    let report = r.json();
    assert_eq!((report["accepted"].as_u64(), report["duplicate"].as_u64()), (Some(2), Some(1)), "{report}");
    let want = [
        (1, "score `total` = 150 is outside 0–100"),
        (2, "wrong type for `total`: expected a number, got a boolean"),
        (3, "wrong type for `threat`: expected a number, got a string"),
        (4, "wrong type for `asset`: expected a number, got a string"),
        (5, "unknown unit \"999999999\""),
        (6, "missing field `time`"),
        (8, "`id` is longer than 256 characters (10000)"),
    ];
    assert_eq!(reasons(&report), want.map(|(i, s)| (i, s.to_owned())));

    // NDJSON: a line that is not UTF-8, one with a NaN token, one cut short and one with a number
    // beyond f64 (infinite) are refused alone.
    let mut body = Vec::new();
    body.extend_from_slice(format!("{}\n", score("110105001", "2026-11-29T08:05:00+08:00", 51.0)).as_bytes());
    body.extend_from_slice(b"{\"type\":\"score\",\"unit\":\"110105002\",\"time\":\"2026-11-29T08:05:00+08:00\",\"total\":\"\xff\"}\n");
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(b"{\"type\":\"score\",\"unit\":\"110105002\",\"time\":\"2026-11-29T08:05:00+08:00\",\"total\":NaN}\r\n");
    body.extend_from_slice(b"{\"type\":\"score\",\"unit\":\n");
    body.extend_from_slice(
        b"{\"type\":\"score\",\"unit\":\"110105002\",\"time\":\"2026-11-29T08:05:00+08:00\",\"total\":1e999,\"threat\":1,\"asset\":1,\"compliance\":1}\n",
    );
    body.extend_from_slice(format!("{}\n", score("110105003", "2026-11-29T08:05:00+08:00", 53.0)).as_bytes());
    body.extend_from_slice(format!("{}", score("zz", "2026-11-29T08:05:00+08:00", 53.0)).as_bytes());
    let r = request(addr, "POST", "/api/v1/ingest", &[("content-type", "application/x-ndjson")], &body).unwrap();
    assert_eq!(r.status, 200);
    let report = r.json();
    assert_eq!(report["accepted"], 2, "{report}");
    let got = reasons(&report);
    assert_eq!(got.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2, 3, 4, 6]);
    assert!(got[0].1.starts_with("line 2: not valid UTF-8"), "{got:?}");
    assert!(got[1].1.starts_with("line 4: not valid JSON"), "{got:?}");
    assert!(got[2].1.starts_with("line 5: not valid JSON"), "{got:?}");
    assert!(got[3].1.starts_with("line 6: not valid JSON: number out of range"), "{got:?}");
    assert_eq!(got[4].1, "line 8: unknown unit \"zz\"");
    let snap = get(addr, "/api/v1/scores", None).json();
    let totals: HashMap<String, f64> =
        snap["scores"].as_array().unwrap().iter().map(|s| (s["unit"].as_str().unwrap().to_owned(), s["total"].as_f64().unwrap())).collect();
    assert_eq!(totals, HashMap::from([("110105001".into(), 51.0), ("110105003".into(), 53.0), ("110105004".into(), 12.5)]));

    // A whole-body problem fails the body: not JSON, too many records, too many bytes.
    let r = post(addr, b"[{\"type\":\"score\"},", None).unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("not a valid JSON array"));
    let many: Vec<Value> = (0..51).map(|i| score("110105001", &format!("2026-11-29T09:{:02}:00+08:00", i), 1.0)).collect();
    let r = post_json(addr, &Value::Array(many), None);
    assert_eq!((r.status, r.json()["max_records"].as_u64()), (413, Some(50)));
    let ndjson: String = (0..51).map(|i| format!("{}\n", score("110105001", &format!("2026-11-29T10:{:02}:00+08:00", i), 1.0))).collect();
    assert_eq!(post(addr, ndjson.as_bytes(), None).unwrap().status, 413);
    // A declared length over the cap is refused before any of it is read.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("POST /api/v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n[", 64 << 20).as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let r = parse_response(&raw).unwrap();
    assert_eq!((r.status, r.json()["max_bytes"].as_u64()), (413, Some(1 << 20)));
    // An endless chunked body is cut off at the cap, never held whole.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(b"POST /api/v1/ingest HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n");
        let chunk = format!("{:x}\r\n{}\r\n", 65_536, " ".repeat(65_536));
        for _ in 0..40 {
            if w.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
    });
    let (mut raw, mut buf) = (Vec::new(), [0u8; 4096]);
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until && !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(parse_response(&raw).map(|r| r.status).ok(), Some(413), "{}", String::from_utf8_lossy(&raw));
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    handle.abort();
}

#[test]
fn a_damaged_or_newer_store_stops_serve_naming_the_file() {
    for case in ["garbage", "newer"] {
        let dir = scratch(&format!("corrupt-{case}"));
        let file = dir.join("gateway.sqlite3");
        match case {
            "garbage" => std::fs::write(&file, (0..16_384u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<u8>>()).unwrap(),
            _ => {
                let conn = rusqlite::Connection::open(&file).unwrap();
                conn.execute_batch(&format!(
                    "CREATE TABLE t (x); PRAGMA application_id = {}; PRAGMA user_version = 99;",
                    situation_wall::gateway::store::APPLICATION_ID
                ))
                .unwrap();
            }
        }
        let before = std::fs::read(&file).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_situation-wall"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > until {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let status = status.unwrap_or_else(|| panic!("{case}: serve kept running on a bad store: {stderr}"));
        assert!(!status.success(), "{case}: {stderr}");
        assert!(stderr.contains(&file.display().to_string()), "{case}: the message names the file: {stderr}");
        let words = if case == "garbage" { "not an SQLite database" } else { "written by a newer version (schema 99" };
        assert!(stderr.contains(words), "{case}: {stderr}");
        assert_eq!(std::fs::read(&file).unwrap(), before, "{case}: the file is left as it was");
    }
}

#[test]
fn every_acknowledged_batch_survives_kill_9_exactly_once() {
    const BATCHES: usize = 60;
    const PER_BATCH: usize = 200;
    const UNITS: usize = 10;
    let dir = scratch("durability");
    let data = dir.join("data");
    let log = dir.join("serve.log");
    let port = free_port();
    let args = ["--data", data.to_str().unwrap()];
    let mut serve = Serve::start(&args, &[], port, &log).wait_up();
    let addr = serve.addr;
    let base = recent_base();
    let unit = |n: usize| format!("1101050{:02}", n % UNITS + 1);
    // Record i of batch b: unit i % 10, at base + (b·200 + i) s: every (unit, time) once.
    let batch = move |b: usize| -> Vec<u8> {
        let records: Vec<Value> = (0..PER_BATCH).map(|i| score(&unit(i), &at(base, (b * PER_BATCH + i) as i64), ((b + i) % 100) as f64)).collect();
        Value::Array(records).to_string().into_bytes()
    };
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let client = {
        let acked = Arc::clone(&acked);
        std::thread::spawn(move || {
            let mut failures = 0usize;
            for b in 0..BATCHES {
                // Until acknowledged: at most 600 tries, 50 ms apart.
                for _ in 0..600 {
                    match post(addr, &batch(b), None) {
                        Ok(r) if r.status == 200 => {
                            acked.lock().unwrap().push(b);
                            break;
                        }
                        _ => {
                            failures += 1;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            }
            failures
        })
    };
    // Kill -9 at a few moments, restarting on the same port and data each time.
    for after in [5, 20, 38] {
        let until = Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < after && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        serve.kill();
        drop(serve);
        serve = Serve::start(&args, &[], port, &log).wait_up();
    }
    let failures = client.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked, (0..BATCHES).collect::<Vec<_>>(), "every batch acknowledged in the end ({failures} failed tries)");
    assert!(failures > 0, "the kills interrupted the client");
    // After all, once more: kill -9 and restart, then count.
    serve.kill();
    drop(serve);
    let serve = Serve::start(&args, &[], port, &log).wait_up();
    for n in 0..UNITS {
        let u = unit(n);
        let path = format!("/api/v1/units/{u}/history?from={}&to={}", urlencode(&at(base, -1)), urlencode(&at(base, (BATCHES * PER_BATCH) as i64)));
        let h = get(serve.addr, &path, None);
        assert_eq!(h.status, 200, "{}", String::from_utf8_lossy(&h.body));
        let times: Vec<String> = h.json()["points"].as_array().unwrap().iter().map(|p| p["t"].as_str().unwrap().to_owned()).collect();
        let distinct: BTreeSet<&String> = times.iter().collect();
        assert_eq!(distinct.len(), times.len(), "{u}: a record stored twice");
        let want: BTreeSet<String> =
            acked.iter().flat_map(|b| (0..PER_BATCH).filter(|i| i % UNITS == n).map(move |i| at(base, (b * PER_BATCH + i) as i64))).collect();
        let got: BTreeSet<String> = times.into_iter().collect();
        assert_eq!(got, want, "{u}: acknowledged records lost, or records that were never sent");
    }
    let health = get(serve.addr, "/api/v1/health", None).json();
    assert_eq!(health["store"]["counts"]["scores"].as_u64(), Some((BATCHES * PER_BATCH) as u64), "{health}");
    assert_eq!(health["store"]["persistent"], true);
}

/// Percent-encodes a query value (RFC 3339 times carry `+` and `:`).
fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn the_wall_client_resumes_across_a_gateway_restart_without_a_new_snapshot() {
    let dir = scratch("resume");
    let data = dir.join("data");
    let log = dir.join("serve.log");
    let port = free_port();
    let args = ["--data", data.to_str().unwrap()];
    let mut serve = Serve::start(&args, &[], port, &log).wait_up();
    let addr = serve.addr;
    let base = recent_base();
    let units: Vec<String> = (1..=5).map(|i| format!("11010500{i}")).collect();
    let batch = |k: i64| Value::Array(units.iter().enumerate().map(|(i, u)| score(u, &at(base, 60 * k), (10 * k + i as i64) as f64)).collect());
    assert_eq!(post_json(addr, &batch(1), None).status, 200);

    let mut o = LiveOptions::new(&format!("http://{addr}"));
    o.backoff_min = Duration::from_millis(100);
    o.backoff_max = Duration::from_millis(500);
    o.request_timeout = Duration::from_secs(3);
    o.idle_timeout = Duration::from_secs(30);
    let rx = live::spawn(o, Some(Arc::new(units.iter().cloned().collect::<live::UnitIds>())));
    let mut seen: Vec<FeedMsg> = Vec::new();
    let mut state = RiskState::new();
    // Folds messages in until `done` holds, for at most `limit`.
    let mut pump = |seen: &mut Vec<FeedMsg>, limit: Duration, done: &dyn Fn(&[FeedMsg]) -> bool| {
        let until = Instant::now() + limit;
        while !done(seen) {
            let Some(left) = until.checked_duration_since(Instant::now()) else { break };
            if let Ok(m) = rx.recv_timeout(left.min(Duration::from_millis(100))) {
                live::apply(&mut state, &m);
                seen.push(m);
            }
        }
    };
    let live_now = |s: &[FeedMsg]| s.iter().any(|m| matches!(m, FeedMsg::State(live::ConnState::Live)));
    pump(&mut seen, Duration::from_secs(10), &|s| live_now(s) && s.iter().any(|m| matches!(m, FeedMsg::Snapshot { .. })));
    let has_scores_at = |k: i64| {
        let t = base + TimeDelta::seconds(60 * k);
        move |s: &[FeedMsg]| s.iter().any(|m| matches!(m, FeedMsg::Scores { as_of, .. } if *as_of == t))
    };
    assert_eq!(post_json(addr, &batch(2), None).status, 200);
    pump(&mut seen, Duration::from_secs(10), &has_scores_at(2));
    assert!(has_scores_at(2)(&seen), "event 2 arrived: {seen:?}");

    // kill -9; restart on the same port and data; more data; the client follows on.
    serve.kill();
    drop(serve);
    let serve = Serve::start(&args, &[], port, &log).wait_up();
    assert_eq!(post_json(addr, &batch(3), None).status, 200);
    let mut clear = batch(4);
    clear.as_array_mut().unwrap().push(json!({"type": "score", "unit": units[0], "time": at(base, 250), "total": null}));
    let r = post_json(serve.addr, &clear, None);
    assert_eq!((r.status, r.json()["first_event_id"].as_u64()), (200, Some(4)), "ids go on after the restart");
    pump(&mut seen, Duration::from_secs(20), &|s| has_scores_at(3)(s) && s.iter().any(|m| matches!(m, FeedMsg::Scores { cleared, .. } if !cleared.is_empty())));

    let snapshots = seen.iter().filter(|m| matches!(m, FeedMsg::Snapshot { .. })).count();
    assert_eq!(snapshots, 1, "no fresh snapshot after the restart: {seen:?}");
    let score_times: Vec<DateTime<FixedOffset>> = seen.iter().filter_map(|m| if let FeedMsg::Scores { as_of, .. } = m { Some(*as_of) } else { None }).collect();
    let want: Vec<DateTime<FixedOffset>> = [2, 3, 4].iter().map(|k| base + TimeDelta::seconds(60 * k)).chain([base + TimeDelta::seconds(250)]).collect();
    assert_eq!(score_times, want, "each event once, in order");
    // The client's picture is the gateway's.
    let snap = get(serve.addr, "/api/v1/scores", None).json();
    let theirs: HashMap<String, Option<f64>> =
        snap["scores"].as_array().unwrap().iter().map(|s| (s["unit"].as_str().unwrap().to_owned(), s["total"].as_f64())).collect();
    let ours: HashMap<String, Option<f64>> = state.units().map(|(id, u)| (id.to_owned(), u.score.map(|s| f64::from(s.total)))).collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours[&units[0]], None, "the clear reached the wall");
}

#[test]
fn the_read_api_serves_what_was_ingested() {
    let mut options = GatewayOptions::new(test_units());
    options.retain_events = Some(4);
    options.audit = false;
    let (_rt, handle) = in_process(options);
    let addr = handle.addr;
    assert_eq!(get(addr, "/api/v1/scores", None).status, 503, "nothing yet");
    let health = get(addr, "/api/v1/health", None).json();
    assert_eq!((health["status"].as_str(), health["last_event_id"].as_u64(), health["simulated"].as_bool()), (Some("ok"), Some(0), Some(false)));
    assert!(health["as_of"].is_null() && health["store"]["persistent"] == false);

    let batch = json!([
        score("110105001", "2026-11-29T08:00:00+08:00", 85.0),
        score("110105002", "2026-11-29T08:00:00+08:00", 30.0),
        score("B00100", "2026-11-29T08:00:00+08:00", 45.0),
        {"type": "alert", "id": "A-1", "unit": "110105001", "time": "2026-11-29T08:01:00+08:00", "severity": "critical", "category": "恶意代码", "title": "木马回连"},
        {"type": "status", "id": "A-1", "status": "closed", "time": "2026-11-29T08:31:00+08:00", "note": "已隔离"},
        score("110105001", "2026-11-29T08:10:00+08:00", 75.0),
        {"type": "score", "unit": "110105002", "time": "2026-11-29T08:10:00+08:00", "total": null},
    ]);
    let report = post_json(addr, &batch, None).json();
    assert_eq!((report["accepted"].as_u64(), report["first_event_id"].as_u64(), report["last_event_id"].as_u64()), (Some(7), Some(1), Some(4)), "{report}");

    // /scores: levels from the default thresholds, the cleared unit with a null total.
    let snap = get(addr, "/api/v1/scores", None).json();
    assert_eq!(snap["as_of"], "2026-11-29T08:10:00+08:00");
    assert_eq!(snap["last_event_id"], 4);
    let items: HashMap<&str, &Value> = snap["scores"].as_array().unwrap().iter().map(|s| (s["unit"].as_str().unwrap(), s)).collect();
    assert_eq!((items["110105001"]["total"].as_f64(), items["110105001"]["level"].as_str()), (Some(75.0), Some("high")));
    assert_eq!(items["B00100"]["level"], "medium");
    assert_eq!(*items["110105002"], json!({"unit": "110105002", "total": null}));

    // /alerts: the snapshot page with the current status, then paging from its cursor.
    let page = get(addr, "/api/v1/alerts?since=0", None).json();
    assert_eq!((page["alerts"][0]["id"].as_str(), page["alerts"][0]["status"].as_str(), page["next"].as_u64()), (Some("A-1"), Some("closed"), Some(1)));
    assert_eq!(get(addr, "/api/v1/alerts?since=1", None).json()["alerts"], json!([]));
    assert_eq!(get(addr, "/api/v1/alerts?since=x", None).status, 400);

    // /units/{id}: figures from what was sent; null for what never was; 404 for strangers.
    assert_eq!(get(addr, "/api/v1/units/999", None).status, 404);
    let d = get(addr, "/api/v1/units/110105001", None).json();
    assert_eq!(d["incidents"], json!({"new": 0, "analysing": 0, "disposing": 0, "in_progress": 0, "closed": 1, "mttr_s": 1800.0, "mttr_samples": 1}));
    assert!(d["vulnerabilities"].is_null() && d["compliance"].is_null(), "{d}");
    assert_eq!((d["score"]["total"].as_f64(), d["name"].as_str(), d["simulated"].as_bool()), (Some(75.0), Some("街道1"), Some(false)));
    assert_eq!(d["history"], json!([{"t": "2026-11-29T08:00:00+08:00", "total": 85.0}, {"t": "2026-11-29T08:10:00+08:00", "total": 75.0}]));
    let detail = json!([{"type": "detail", "unit": 110105001, "as_of": "2026-11-29T07:00:00+08:00",
        "vulnerabilities": {"critical": 1, "high": 2, "medium": 3, "low": 4},
        "compliance": [{"check": "弱口令", "passed": false}, {"check": "补丁", "passed": true}]}]);
    assert_eq!(post_json(addr, &detail, None).json()["accepted"], 1);
    let d = get(addr, "/api/v1/units/110105001", None).json();
    assert_eq!(d["vulnerabilities"], json!({"as_of": "2026-11-29T07:00:00+08:00", "value": {"critical": 1, "high": 2, "medium": 3, "low": 4}}));
    assert_eq!(d["compliance"], json!({"as_of": "2026-11-29T07:00:00+08:00", "value": {"passed": 1, "total": 2, "failed": ["弱口令"]}}));
    // What the wall's drill-down reads of it.
    let doc: situation_wall::feed::detail::UnitDetailDoc = serde_json::from_value(d.clone()).unwrap();
    assert_eq!((doc.incidents.closed, doc.incidents.mttr_s), (1, Some(1800.0)));
    assert_eq!(doc.vulnerabilities.map(|v| v.value.critical), Some(1));
    assert_eq!(doc.compliance.map(|c| (c.value.passed, c.value.total)), Some((1, 2)));
    assert!(get(addr, "/api/v1/units/110105002", None).json()["score"].is_null(), "cleared");

    // History: the gap of a clear, explicit bounds, buckets, bad parameters.
    let h = get(addr, "/api/v1/units/110105002/history", None).json();
    let totals: Vec<Value> = h["points"].as_array().unwrap().iter().map(|p| p["total"].clone()).collect();
    assert_eq!(totals, [json!(30.0), Value::Null]);
    let points = situation_wall::feed::detail::parse_history(&h);
    assert_eq!(points.iter().map(|p| p.total).collect::<Vec<_>>(), [Some(30.0), None], "as the wall's drill-down reads it");
    let q = format!("from={}&to={}&step=3600", urlencode("2026-11-29T08:00:00+08:00"), urlencode("2026-11-29T09:00:00+08:00"));
    let h = get(addr, &format!("/api/v1/units/110105001/history?{q}"), None).json();
    assert_eq!(h["points"].as_array().map(|p| (p.len(), p[0]["total"].as_f64(), p[0]["samples"].as_u64())), Some((1, Some(80.0), Some(2))));
    assert_eq!(get(addr, "/api/v1/units/110105001/history?from=yesterday", None).status, 400);
    assert_eq!(get(addr, "/api/v1/units/110105001/history?step=0", None).status, 400);
    assert_eq!(get(addr, "/api/v1/units/999/history", None).status, 404);

    // Rankings by kind.
    let r = get(addr, "/api/v1/rankings?period=day", None).json();
    let rows: Vec<(&str, &str, u64)> =
        r["rows"].as_array().unwrap().iter().map(|r| (r["kind"].as_str().unwrap(), r["unit"].as_str().unwrap(), r["rank"].as_u64().unwrap())).collect();
    assert_eq!(rows, [("委办局", "B00100", 1), ("街道", "110105001", 1), ("街道", "110105002", 2)]);
    assert_eq!(r["from"], "2026-11-29T00:00:00+08:00");
    assert_eq!(get(addr, "/api/v1/rankings?period=year", None).status, 400);

    // /events: only 4 events are kept (5 were made): resuming from 0 is 409, from 1 works.
    let health = get(addr, "/api/v1/health", None).json();
    assert_eq!((health["last_event_id"].as_u64(), health["store"]["oldest_event_id"].as_u64()), (Some(5), Some(2)), "{health}");
    let ahead = request(addr, "GET", "/api/v1/events", &[("last-event-id", "6")], b"").unwrap();
    assert_eq!(ahead.status, 409);
    assert_eq!(request(addr, "GET", "/api/v1/events?last_event_id=0", &[], b"").unwrap().status, 409, "event 1 was purged");
    assert_eq!(request(addr, "GET", "/api/v1/events", &[("last-event-id", "five")], b"").unwrap().status, 400);
    assert_eq!(request(addr, "GET", "/api/v1/events?last_event_id=-1", &[], b"").unwrap().status, 400);
    let (status, ids) = sse_ids(addr, "/api/v1/events", &[("last-event-id", "1")], Duration::from_secs(5), |ids| ids.len() >= 4);
    assert_eq!((status, ids), (200, vec![2, 3, 4, 5]));
    // A live subscriber gets a new batch's events with the store's ids.
    let follower = std::thread::spawn(move || sse_ids(addr, "/api/v1/events", &[("last-event-id", "5")], Duration::from_secs(10), |ids| !ids.is_empty()));
    std::thread::sleep(Duration::from_millis(200));
    let r = post_json(addr, &json!([score("110105003", "2026-11-29T08:20:00+08:00", 20.0)]), None).json();
    assert_eq!(r["first_event_id"], 6);
    assert_eq!(follower.join().unwrap(), (200, vec![6]));
    handle.abort();
}

#[test]
fn the_ingest_command_retries_reports_refused_lines_and_fails_clearly() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    /// Arrival time and body of each request.
    type Seen = Vec<(Instant, Vec<u8>)>;
    let log: Arc<Mutex<Seen>> = Arc::default();
    let log2 = Arc::clone(&log);
    let mock = std::thread::spawn(move || {
        let report = r#"{"accepted":2,"duplicate":0,"rejected":[{"index":1,"reason":"line 2: unknown unit \"zz\""}],"first_event_id":7,"last_event_id":8}"#;
        let answers = [
            ("503 Service Unavailable", "retry-after: 1\r\n", r#"{"error":"busy"}"#),
            ("200 OK", "", report),
            ("400 Bad Request", "", r#"{"error":"the body is not a valid JSON array of records"}"#),
        ];
        for (status, extra, body) in answers {
            let Ok((mut s, _)) = listener.accept() else { return };
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as much body as it announces.
            loop {
                if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                    if raw.len() >= end + 4 + len {
                        log2.lock().unwrap().push((Instant::now(), raw[end + 4..end + 4 + len].to_vec()));
                        break;
                    }
                }
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => raw.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                    .as_bytes(),
            );
        }
    });
    let dir = scratch("ingest-cli");
    let file = dir.join("in.ndjson");
    std::fs::write(&file, "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}").unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_situation-wall")).args(["ingest", "--url", &format!("http://{addr}"), "--batch", "10"]).arg(&file).output().unwrap()
    };
    let out = run();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "a refused line fails the command: {stdout}{stderr}");
    assert!(stderr.contains("line 3: unknown unit \"zz\""), "the input's line number: {stderr}");
    assert!(stdout.contains("ingest: 3 records in 1 batch: accepted 2, duplicate 0, rejected 1 (events 7–8)"), "{stdout}");
    {
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2, "the 503 was retried once");
        assert_eq!(log[0].1, b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n", "exactly the non-blank lines");
        assert_eq!(log[0].1, log[1].1);
        assert!(log[1].0 - log[0].0 >= Duration::from_millis(950), "Retry-After: 1 honoured: {:?}", log[1].0 - log[0].0);
    }
    // A final refusal (400) is not retried, and says which lines were not delivered.
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("ingest: lines 1–4 (3 records) not delivered: HTTP 400 Bad Request: the body is not a valid JSON array of records"), "{stdout}");
    assert_eq!(log.lock().unwrap().len(), 3);
    mock.join().unwrap();
}

/// `cargo test --test gateway -- --ignored --nocapture load`: 4 clients ingest batches of 500
/// scores into a file store while 50 walls (the real client) follow the event stream; prints
/// records/s acknowledged and the p50/p99 delay from sending a batch to a wall receiving it
/// (each batch's score time is its send time), then checks every wall ends with the store's
/// snapshot.
///
/// The clients offer a fixed rate (`SW_LOAD_RATE`, default 20,000 records/s), each on its own
/// schedule whatever the answers take (open loop, as a platform's exporters would push): a
/// gateway that cannot keep up acknowledges less than was offered and its delays grow without
/// bound, so both figures are checked at the same offered load. `SW_LOAD_RATE=0` sends as fast
/// as the answers come (closed loop) for the most the gateway acknowledges; delays then measure
/// the queue the clients keep full, not the gateway.
#[test]
#[ignore = "load benchmark: prints figures"]
fn load() {
    const UNITS: usize = 500;
    const CLIENTS: u64 = 4;
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let secs = env("SW_LOAD_SECS", 20);
    let walls_n = env("SW_LOAD_WALLS", 50) as usize;
    let rate = env("SW_LOAD_RATE", 20_000);
    let units: Vec<UnitInfo> = (0..UNITS).map(|i| UnitInfo { id: format!("L{i:03}"), name: format!("负载{i}"), kind: "街道".into(), location: None }).collect();
    let ids: Arc<live::UnitIds> = Arc::new(units.iter().map(|u| u.id.clone()).collect());
    let dir = scratch("load");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Store::open(Some(&dir.join("gateway.sqlite3"))).unwrap();
    let mut options = GatewayOptions::new(units);
    options.audit = false;
    let handle = rt.block_on(server::start_gateway(store, options, "127.0.0.1:0".parse().unwrap())).unwrap();
    let addr = handle.addr;
    let now_us = || Utc::now().timestamp_micros();
    // One batch as an exporter would write it (text, not a JSON tree built first: the
    // platform's CPU is not this machine's in production, so the clients here cost little).
    let make = move |k: u64, n: u64| -> (i64, Vec<u8>) {
        // Distinct times across clients: the send time in µs, rounded down to a multiple of
        // CLIENTS, plus the client's number.
        let t_us = now_us() / CLIENTS as i64 * CLIENTS as i64 + k as i64;
        let time = DateTime::from_timestamp_micros(t_us).unwrap().with_timezone(&situation_wall::model::BEIJING).to_rfc3339();
        let mut body = String::with_capacity(UNITS * 120);
        body.push('[');
        for u in 0..UNITS {
            use std::fmt::Write as _;
            let total = (n as usize * 7 + u) % 100;
            let sep = if u == 0 { "" } else { "," };
            let _ = write!(
                body,
                r#"{sep}{{"type":"score","unit":"L{u:03}","time":"{time}","total":{total},"threat":{},"asset":10,"compliance":20}}"#,
                total as f64 / 2.0
            );
        }
        body.push(']');
        (t_us, body.into_bytes())
    };
    // A first batch, so the walls start from a snapshot.
    assert_eq!(post(addr, &make(0, 0).1, None).unwrap().status, 200);
    // The score time (µs) of the last batch, once sent: each wall stops when it has it.
    let last_time: Arc<Mutex<Option<i64>>> = Arc::default();
    let walls: Vec<_> = (0..walls_n)
        .map(|_| {
            let ids = Arc::clone(&ids);
            let last_time = Arc::clone(&last_time);
            std::thread::spawn(move || {
                let mut o = LiveOptions::new(&format!("http://{addr}"));
                o.idle_timeout = Duration::from_secs(60);
                o.request_timeout = Duration::from_secs(30);
                let rx = live::spawn(o, Some(ids));
                let mut state = RiskState::new();
                let (mut delays, mut snapshots, mut newest) = (Vec::new(), 0, i64::MIN);
                let until = Instant::now() + Duration::from_secs(secs + 120);
                while Instant::now() < until && last_time.lock().unwrap().is_none_or(|t| newest < t) {
                    if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
                        if let FeedMsg::Scores { as_of, .. } = &m {
                            delays.push((now_us() - as_of.timestamp_micros()) as f64 / 1000.0);
                            newest = newest.max(as_of.timestamp_micros());
                        }
                        snapshots += usize::from(matches!(m, FeedMsg::Snapshot { .. }));
                        live::apply(&mut state, &m);
                    }
                }
                (state, delays, snapshots)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let began = Instant::now();
    let cpu_began = cpu_seconds();
    let deadline = began + Duration::from_secs(secs);
    // Each client's interval between batches at the offered rate (zero: none).
    let interval = if rate == 0 { Duration::ZERO } else { Duration::from_secs_f64((UNITS as u64 * CLIENTS) as f64 / rate as f64) };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| {
            std::thread::spawn(move || {
                let (mut acked, mut sent, mut answer_ms) = (0u64, 0u64, Vec::new());
                // Clients start spread over one interval, so the batches arrive evenly.
                let mut next = began + interval.mul_f64(k as f64 / CLIENTS as f64);
                let mut n = 1;
                while next < deadline {
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    sent += UNITS as u64;
                    let body = make(k, n).1;
                    let asked = Instant::now();
                    if post(addr, &body, None).is_ok_and(|r| r.status == 200) {
                        acked += UNITS as u64;
                        answer_ms.push(asked.elapsed().as_secs_f64() * 1000.0);
                    }
                    n += 1;
                    next = if rate == 0 { Instant::now() } else { next + interval };
                }
                (sent, acked, answer_ms)
            })
        })
        .collect();
    let (mut sent, mut acked, mut answers) = (0, 0, Vec::new());
    for c in clients {
        let (s, a, ms) = c.join().unwrap();
        (sent, acked) = (sent + s, acked + a);
        answers.extend(ms);
    }
    answers.sort_by(f64::total_cmp);
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_began;
    // A last batch, newer than all: the walls are done when they have it.
    let (last_us, last) = make(0, u64::from(u32::MAX));
    assert_eq!(post(addr, &last, None).unwrap().status, 200);
    *last_time.lock().unwrap() = Some(last_us);
    let snap = get(addr, "/api/v1/scores", None).json();
    let want: HashMap<String, f32> =
        snap["scores"].as_array().unwrap().iter().map(|s| (s["unit"].as_str().unwrap().to_owned(), s["total"].as_f64().unwrap() as f32)).collect();
    let mut all = Vec::new();
    for (i, w) in walls.into_iter().enumerate() {
        let (state, delays, snapshots) = w.join().unwrap();
        let got: HashMap<String, f32> = state.units().filter_map(|(id, u)| u.score.map(|s| (id.to_owned(), s.total))).collect();
        assert_eq!(got, want, "wall {i} ended with the store's snapshot");
        assert_eq!(snapshots, 1, "wall {i} never needed a second snapshot");
        all.extend(delays);
    }
    all.sort_by(f64::total_cmp);
    let pct_of = |v: &[f64], p: f64| v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or(f64::NAN);
    let pct = |p: f64| pct_of(&all, p);
    let offered = if rate == 0 { "as fast as answered".to_owned() } else { format!("{rate} records/s offered") };
    println!(
        "load: {offered}; {acked} of {sent} records acknowledged in {elapsed:.1} s = {:.0} records/s ({CLIENTS} clients, batches of {UNITS}); answered (stored, fsync'd) in p50 {:.1} ms, p99 {:.1} ms; CPU {cpu:.1} s = {:.0} % of one core, {:.1} µs per record; {} deliveries to {walls_n} walls, ingest-to-delivery p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        acked as f64 / elapsed,
        pct_of(&answers, 0.5),
        pct_of(&answers, 0.99),
        cpu / elapsed * 100.0,
        cpu * 1e6 / acked.max(1) as f64,
        all.len(),
        pct(0.5),
        pct(0.99),
        all.last().copied().unwrap_or(f64::NAN)
    );
    handle.abort();
}

/// CPU time this process has used (user and system, all threads), seconds; 0 where
/// `/proc/self/stat` cannot be read.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: Vec<f64> = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
    ticks.iter().sum::<f64>() / 100.0
}

/// `serve --tls-cert/--tls-key` serves HTTPS with the given certificate: the wall's own client,
/// trusting it as `[live] ca_file` would, takes its snapshot over TLS; plain HTTP to the same
/// port gets no answer; a key that does not match the certificate is refused naming the file.
#[test]
fn tls_serves_https_with_the_given_certificate() {
    let dir = scratch("tls");
    let (ca, ca_key, cert, key) = (dir.join("ca.pem"), dir.join("ca.key"), dir.join("cert.pem"), dir.join("key.pem"));
    // A test CA and a server certificate it signs (rustls, like browsers, refuses a CA
    // certificate presented as the server's own).
    let ext = dir.join("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let openssl =
        |args: &[&std::ffi::OsStr]| Command::new("openssl").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    let os = |s: &str| std::ffi::OsStr::new(s).to_owned();
    let made = openssl(&[
        &os("req"),
        &os("-x509"),
        &os("-newkey"),
        &os("rsa:2048"),
        &os("-nodes"),
        &os("-days"),
        &os("1"),
        &os("-subj"),
        &os("/CN=test-ca"),
        &os("-keyout"),
        ca_key.as_os_str(),
        &os("-out"),
        ca.as_os_str(),
    ]) && openssl(&[
        &os("req"),
        &os("-newkey"),
        &os("rsa:2048"),
        &os("-nodes"),
        &os("-subj"),
        &os("/CN=localhost"),
        &os("-keyout"),
        key.as_os_str(),
        &os("-out"),
        dir.join("leaf.csr").as_os_str(),
    ]) && openssl(&[
        &os("x509"),
        &os("-req"),
        &os("-in"),
        dir.join("leaf.csr").as_os_str(),
        &os("-CA"),
        ca.as_os_str(),
        &os("-CAkey"),
        ca_key.as_os_str(),
        &os("-CAcreateserial"),
        &os("-days"),
        &os("1"),
        &os("-out"),
        cert.as_os_str(),
        &os("-extfile"),
        ext.as_os_str(),
    ]);
    if !made {
        eprintln!("SKIPPED: openssl could not make a test certificate");
        return;
    }
    let mut options = GatewayOptions::new(test_units());
    options.tls = Some(server::tls_config(&cert, &key).unwrap());
    options.audit = false;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut store = Store::open(None).unwrap();
    store.ingest(&[score("110105001", &at(recent_base(), 0), 42.0)], None).unwrap();
    let handle = rt.block_on(server::start_gateway(store, options, "127.0.0.1:0".parse().unwrap())).unwrap();
    let mut client = LiveOptions::new(&format!("https://127.0.0.1:{}", handle.addr.port()));
    client.extra_ca_pem = Some(std::fs::read(&ca).unwrap());
    let rx = live::spawn(client, None);
    let until = Instant::now() + Duration::from_secs(20);
    let (mut total, mut seen) = (None, Vec::new());
    while Instant::now() < until && total.is_none() {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(FeedMsg::Snapshot { scores, .. }) => total = scores.iter().find(|s| s.unit == "110105001").map(|s| s.total),
            Ok(other) => seen.push(format!("{other:?}")),
            Err(_) => {}
        }
    }
    assert_eq!(total, Some(42.0), "the snapshot came over TLS; instead: {seen:?}");
    let plain = request(handle.addr, "GET", "/api/v1/health", &[], b"");
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status != 200), "plain HTTP to the TLS port is not served");
    handle.abort();
    // The CA's key with the server's certificate: refused, naming the certificate file.
    let err = server::tls_config(&cert, &ca_key).unwrap_err().to_string();
    assert!(err.contains("cert.pem"), "{err}");
    assert!(server::tls_config(&dir.join("missing.pem"), &key).unwrap_err().to_string().contains("missing.pem"));
}

const OPERATOR_TOKEN: &str = "kiosk-operator-b3BlcmF0b3I";

/// `POST /api/v1/alerts/{id}/ack`: only an operator token may (read and ingest tokens get
/// 403); the gateway records who and when once, broadcasts an `ack` event that a wall's client
/// applies, serves the acknowledgement in the alerts snapshot, and writes an audit line
/// without the token.
#[test]
fn an_operator_acknowledges_an_alert_and_every_wall_hears_it() {
    let dir = scratch("ack");
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("wall-1 read {READ_TOKEN}\nplatform ingest {INGEST_TOKEN}\nkiosk-1 operator {OPERATOR_TOKEN}\n")).unwrap();
    let log = dir.join("serve.log");
    let data = dir.join("data");
    let serve = Serve::start(&["--data", data.to_str().unwrap(), "--tokens", tokens.to_str().unwrap()], &[], free_port(), &log).wait_up();
    let addr = serve.addr;
    let base = recent_base();
    let alert =
        json!([{"type": "alert", "id": "A-9", "unit": "110105001", "time": at(base, 0), "severity": "critical", "category": "勒索软件", "title": "加密行为"}]);
    assert_eq!(post_json(addr, &alert, Some(INGEST_TOKEN)).status, 200);
    // It went to 研判中 a minute later (a version 1 `in_progress` would read as 处置中).
    let analysing = json!([{"type": "status", "id": "A-9", "status": "analysing", "time": at(base, 60)}]);
    assert_eq!(post_json(addr, &analysing, Some(INGEST_TOKEN)).status, 200);

    // A wall follows the gateway with its read token.
    let mut o = LiveOptions::new(&format!("http://{addr}"));
    o.token = Some(READ_TOKEN.into());
    o.request_timeout = Duration::from_secs(3);
    o.idle_timeout = Duration::from_secs(30);
    let rx = live::spawn(o, None);
    let mut state = RiskState::new();
    let until = Instant::now() + Duration::from_secs(10);
    while state.alert("A-9").is_none() && Instant::now() < until {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
            live::apply(&mut state, &m);
        }
    }
    assert!(state.alert("A-9").is_some_and(|a| a.acknowledged.is_none()), "the wall has the alert, unacknowledged");
    // The snapshot brought the time it entered 研判中: the wall judges its limits from it.
    let stages = state.stages("A-9").unwrap();
    assert_eq!(stages.analysing.map(|t| t.to_rfc3339()), Some(DateTime::parse_from_rfc3339(&at(base, 60)).unwrap().to_rfc3339()));
    assert_eq!((stages.disposing, stages.closed), (None, None));
    assert_eq!(state.alert("A-9").unwrap().status, situation_wall::model::AlertStatus::Analysing);

    let ack = |token: Option<&str>, id: &str| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        request(addr, "POST", &format!("/api/v1/alerts/{id}/ack"), &headers, b"").unwrap()
    };
    assert_eq!(ack(None, "A-9").status, 401);
    let read = ack(Some(READ_TOKEN), "A-9");
    assert_eq!(read.status, 403);
    assert!(read.json()["error"].as_str().unwrap().contains("operator token"), "{:?}", read.json());
    assert_eq!(ack(Some(INGEST_TOKEN), "A-9").status, 403, "the platform's ingest token does not acknowledge");
    assert_eq!(post_json(addr, &alert, Some(OPERATOR_TOKEN)).status, 403, "an operator token does not ingest");
    assert_eq!(get(addr, "/api/v1/health", Some(OPERATOR_TOKEN)).status, 200, "an operator token reads");
    let ok = ack(Some(OPERATOR_TOKEN), "A-9");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["by"], "kiosk-1");
    assert!(ok.json()["event_id"].as_u64().is_some());
    let again = ack(Some(OPERATOR_TOKEN), "A-9");
    assert_eq!((again.status, again.json()["already"].as_bool(), again.json()["at"].clone()), (200, Some(true), ok.json()["at"].clone()), "the first stands");
    assert_eq!(ack(Some(OPERATOR_TOKEN), "A-404").status, 404);

    // The wall hears the `ack` event; a new snapshot carries it too.
    let until = Instant::now() + Duration::from_secs(10);
    while state.alert("A-9").is_some_and(|a| a.acknowledged.is_none()) && Instant::now() < until {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
            live::apply(&mut state, &m);
        }
    }
    assert_eq!(state.alert("A-9").and_then(|a| a.acknowledged.as_ref()).map(|a| a.by.as_str()), Some("kiosk-1"), "the wall applied the ack event");
    let page = get(addr, "/api/v1/alerts", Some(READ_TOKEN)).json();
    assert_eq!(page["alerts"][0]["acknowledged"]["by"], "kiosk-1");

    drop(serve);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("ack: client kiosk-1 acknowledged alert A-9\n"), "{log}");
    assert!(log.contains("ack: client kiosk-1 acknowledged alert A-9 (already acknowledged)"), "{log}");
    for secret in [READ_TOKEN, INGEST_TOKEN, OPERATOR_TOKEN] {
        assert!(!log.contains(secret), "a token in the log: {log}");
    }
}

/// The wall's own acknowledgement line (`feed::detail::spawn_acks`, what the banner's 确认
/// button sends in live mode) against a real gateway: with an operator token the gateway
/// records the token's name; with a read token the answer is the 403, reported, not hidden.
#[test]
fn the_walls_acknowledge_button_reaches_the_gateway_with_an_operator_token() {
    use situation_wall::server::{Scope, Tokens};
    let mut options = GatewayOptions::new(test_units());
    options.audit = false;
    let mut tokens = Tokens::new();
    tokens.add("platform", Scope::Ingest, INGEST_TOKEN).unwrap();
    tokens.add("wall-1", Scope::Read, READ_TOKEN).unwrap();
    tokens.add("kiosk-1", Scope::Operate, OPERATOR_TOKEN).unwrap();
    options.tokens = tokens;
    let (_rt, handle) = in_process(options);
    let addr = handle.addr;
    let alert =
        json!([{"type": "alert", "id": "A-1", "unit": "110105001", "time": at(recent_base(), 0), "severity": "critical", "category": "c", "title": "t"}]);
    assert_eq!(post_json(addr, &alert, Some(INGEST_TOKEN)).status, 200);
    let line = |token: &str| {
        let mut o = LiveOptions::new(&format!("http://{addr}"));
        o.token = Some(token.into());
        situation_wall::feed::detail::spawn_acks(o).unwrap()
    };
    let (send, replies) = line(READ_TOKEN);
    send.send("A-1".into()).unwrap();
    let refused = replies.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!((refused.id.as_str(), refused.result.clone()), ("A-1", Err("HTTP 403 Forbidden".into())), "a read token cannot acknowledge");
    let (send, replies) = line(OPERATOR_TOKEN);
    send.send("A-1".into()).unwrap();
    assert_eq!(replies.recv_timeout(Duration::from_secs(10)).unwrap().result, Ok("kiosk-1".into()));
    let page = get(addr, "/api/v1/alerts", Some(READ_TOKEN)).json();
    assert_eq!(page["alerts"][0]["acknowledged"]["by"], "kiosk-1");
    handle.abort();
}
