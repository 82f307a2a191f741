//! The live client: snapshot, then Server-Sent Events, on its own tokio thread.
//!
//! It hands decoded updates to the frame loop through a channel, so the frame loop never waits
//! on the network. After a drop it resumes with `Last-Event-ID`; when the server cannot resume
//! (HTTP 409) it takes a fresh snapshot; where SSE is unavailable (404/405/406 or another
//! content type) it polls the snapshot instead. Every request has a connect timeout and a
//! whole-request deadline, bodies are capped, retries back off exponentially with jitter, and
//! `Retry-After` is honoured.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use crossbeam_channel::{Receiver, Sender};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use futures_util::stream;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};

use crate::api::{self, AlertStatusEvent, AlertsPage, PREFIX, RejectKind, ScoreEvent, ScoreItem, ScoresSnapshot};
use crate::model::Alert;

/// How to reach the backend. Its `Debug` output redacts the token.
#[derive(Clone)]
pub struct LiveOptions {
    /// Base URL, e.g. `http://127.0.0.1:8080` (the client appends `/api/v1/...`).
    pub base_url: String,
    /// Bearer token; never logged.
    pub token: Option<String>,
    /// Extra CA certificates (PEM) to trust, e.g. a government internal PKI.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Deadline for a whole request, headers and body.
    pub request_timeout: Duration,
    /// Largest body accepted, bytes.
    pub max_body: usize,
    /// Longest silence on the event stream (no data, no keep-alive) before reconnecting.
    pub idle_timeout: Duration,
    /// Interval of snapshot polling when SSE is unavailable.
    pub poll_interval: Duration,
    /// First retry delay; doubles per failure up to `backoff_max`, with jitter.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

impl std::fmt::Debug for LiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveOptions")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_body", &self.max_body)
            .field("idle_timeout", &self.idle_timeout)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl LiveOptions {
    /// Defaults for `base_url`: 5 s connect, 10 s request, 16 MiB bodies, 45 s idle, 5 s
    /// polling, backoff 1–30 s.
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: None,
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_body: 16 << 20,
            idle_timeout: Duration::from_secs(45),
            poll_interval: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// The connection as the header shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnState {
    /// Taking a snapshot or opening the stream.
    Connecting,
    /// Following the event stream.
    Live,
    /// Polling snapshots (no SSE at this server).
    Polling,
    /// A request failed; the next try is in `retry_in` seconds.
    Retrying {
        /// What failed, for the screen and log (never contains the token).
        reason: String,
        /// Seconds until the next attempt.
        retry_in: f64,
    },
    /// The server refused our credentials (HTTP 401/403).
    Unauthorized(String),
}

/// What the client hands to the app.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedMsg {
    /// A full snapshot: apply every item (newest wins) and the alerts.
    Snapshot {
        /// When the scores were computed.
        as_of: DateTime<FixedOffset>,
        /// Valid items.
        scores: Vec<ScoreItem>,
        /// Alerts, in order.
        alerts: Vec<Alert>,
    },
    /// New scores.
    Scores {
        /// When computed.
        as_of: DateTime<FixedOffset>,
        /// Valid items.
        scores: Vec<ScoreItem>,
    },
    /// A new alert.
    Alert(Alert),
    /// An alert's status changed.
    AlertStatus(AlertStatusEvent),
    /// The server proved alive with usable data: a valid event, a keep-alive comment, or a
    /// parsed snapshot. Raw bytes alone do not count, so a stream of garbage goes stale.
    Contact,
    /// The connection changed state.
    State(ConnState),
    /// Invalid records rejected alone.
    Rejected {
        /// Why.
        kind: RejectKind,
        /// How many in this payload.
        count: usize,
    },
    /// A request or payload failed as a whole, for the log.
    Failed(String),
}

/// Applies a data message to a state, newest wins; returns whether anything changed.
/// Connection messages (`Contact`, `State`, `Rejected`, `Failed`) change nothing here.
pub fn apply(state: &mut crate::model::RiskState, msg: &FeedMsg) -> bool {
    let mut changed = false;
    match msg {
        FeedMsg::Snapshot { as_of, scores, alerts } => {
            for s in scores {
                changed |= state.apply_score(&s.unit, *as_of, s.score()).is_ok();
            }
            for a in alerts {
                changed |= state.apply_alert(a.clone()).is_ok();
            }
        }
        FeedMsg::Scores { as_of, scores } => {
            for s in scores {
                changed |= state.apply_score(&s.unit, *as_of, s.score()).is_ok();
            }
        }
        FeedMsg::Alert(a) => changed |= state.apply_alert(a.clone()).is_ok(),
        FeedMsg::AlertStatus(e) => changed |= state.apply_status(&e.id, e.status, e.at).is_ok(),
        _ => {}
    }
    changed
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("HTTP {status}")]
    Http { status: StatusCode, retry_after: Option<Duration> },
    #[error("HTTP {0}: not authorised (check the token)")]
    Unauthorized(StatusCode),
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Transport(String),
    #[error("invalid JSON: {0}")]
    Parse(String),
    #[error("the server cannot resume from our Last-Event-ID")]
    CannotResume,
    #[error("the server offers no event stream")]
    NoSse,
    #[error("the event stream was silent for {0:?}")]
    Idle(Duration),
}

fn transport(e: reqwest::Error) -> FeedError {
    // Debug formatting of reqwest errors includes the URL but never request headers, so the
    // token cannot leak into messages.
    FeedError::Transport(if e.is_connect() { format!("cannot connect: {e}") } else { e.to_string() })
}

/// Starts the client on its own thread. Updates arrive on the returned channel; the thread
/// ends when the receiver is dropped.
pub fn spawn(options: LiveOptions, known_units: Option<Arc<HashSet<String>>>) -> Receiver<FeedMsg> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("live-feed".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(run(options, known_units, tx));
        })
        .expect("spawn live-feed thread");
    rx
}

fn build_client(options: &LiveOptions) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().connect_timeout(options.connect_timeout).user_agent(concat!("situation-wall/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &options.extra_ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("CA bundle: {e}"))? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| format!("HTTP client: {e}"))
}

/// Exponential backoff with jitter: the n-th delay is uniform in [d/2, d] with
/// d = min(max, min × 2ⁿ).
struct Backoff {
    attempt: u32,
    min: Duration,
    max: Duration,
}

impl Backoff {
    fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        let d = self.min.saturating_mul(1u32 << self.attempt.min(16)).min(self.max);
        self.attempt += 1;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let jitter = 0.5 + f64::from(nanos % 1000) / 2000.0;
        let delay = d.mul_f64(jitter);
        retry_after.map_or(delay, |r| r.max(delay))
    }
    fn reset(&mut self) {
        self.attempt = 0;
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

struct Client {
    http: reqwest::Client,
    options: LiveOptions,
    known: Option<Arc<HashSet<String>>>,
    tx: Sender<FeedMsg>,
    /// The newest `retry:` field the event stream sent, milliseconds. Read from the raw bytes:
    /// eventsource-stream drops a `retry:` that comes in a block without data, which is how
    /// servers usually send it.
    retry_hint_ms: Arc<std::sync::atomic::AtomicU64>,
    /// Kinds of bad event already logged.
    logged: std::cell::RefCell<HashSet<&'static str>>,
}

impl Client {
    fn send(&self, msg: FeedMsg) -> bool {
        self.tx.send(msg).is_ok()
    }

    fn request(&self, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.get(format!("{}{PREFIX}{path}", self.options.base_url));
        if let Some(t) = &self.options.token {
            r = r.bearer_auth(t);
        }
        r
    }

    /// GET a JSON body with the whole-request deadline and the size cap.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, FeedError> {
        let deadline = self.options.request_timeout;
        let body = tokio::time::timeout(deadline, async {
            let mut resp = self.request(path).send().await.map_err(transport)?;
            check_status(&resp)?;
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(transport)? {
                if body.len() + chunk.len() > self.options.max_body {
                    return Err(FeedError::TooLarge(self.options.max_body));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        })
        .await
        .map_err(|_| FeedError::Timeout(deadline))??;
        let value = serde_json::from_slice(&body).map_err(|e| FeedError::Parse(e.to_string()))?;
        let _ = self.tx.send(FeedMsg::Contact);
        Ok(value)
    }

    fn known_fn(&self) -> Option<impl Fn(&str) -> bool + '_> {
        self.known.as_ref().map(|k| move |id: &str| k.contains(id))
    }

    fn report(&self, rejected: Vec<RejectKind>) {
        let mut kinds = rejected;
        kinds.sort();
        for chunk in kinds.chunk_by(|a, b| a == b) {
            self.send(FeedMsg::Rejected { kind: chunk[0], count: chunk.len() });
        }
    }

    /// Validates a snapshot's scores and a page of alerts item by item, reporting the rejects.
    fn decode(&self, snap: &ScoresSnapshot, page: &AlertsPage) -> (Vec<ScoreItem>, Vec<Alert>) {
        let known = self.known_fn();
        let known_dyn = known.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
        let (scores, mut rejected) = api::decode_scores(&snap.scores, known_dyn);
        let (alerts, bad) = api::decode_alerts(&page.alerts, known_dyn);
        rejected.extend(bad);
        self.report(rejected);
        (scores, alerts)
    }

    /// Takes a snapshot of scores and all alerts; returns the event id to resume after.
    async fn snapshot(&self) -> Result<u64, FeedError> {
        let snap: ScoresSnapshot = self.get_json("/scores").await?;
        let page: AlertsPage = self.get_json("/alerts?since=0").await?;
        let (scores, alerts) = self.decode(&snap, &page);
        self.send(FeedMsg::Snapshot { as_of: snap.as_of, scores, alerts });
        Ok(snap.last_event_id)
    }

    /// Follows the event stream from `last_id` until it ends or fails; `last_id` advances as
    /// events arrive.
    async fn follow(&self, last_id: &mut u64, backoff: &mut Backoff) -> Result<(), FeedError> {
        let connect = tokio::time::timeout(
            self.options.connect_timeout + self.options.request_timeout,
            self.request("/events").header(ACCEPT, "text/event-stream").header("Last-Event-ID", last_id.to_string()).send(),
        );
        let resp = connect.await.map_err(|_| FeedError::Timeout(self.options.request_timeout))?.map_err(transport)?;
        match resp.status() {
            StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => return Err(FeedError::CannotResume),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_ACCEPTABLE => return Err(FeedError::NoSse),
            _ => check_status(&resp)?,
        }
        let is_sse = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            return Err(FeedError::NoSse);
        }
        self.send(FeedMsg::State(ConnState::Live));
        let mut healthy = false;
        let idle = self.options.idle_timeout;
        let tx = self.tx.clone();
        let retry = Arc::clone(&self.retry_hint_ms);
        let max_line = self.options.max_body;
        let bytes = stream::unfold((Some(resp), LineScan::default()), move |(resp, mut scan)| {
            let tx = tx.clone();
            let retry = Arc::clone(&retry);
            async move {
                let mut resp = resp?;
                match tokio::time::timeout(idle, resp.chunk()).await {
                    Err(_) => Some((Err(FeedError::Idle(idle)), (None, scan))),
                    Ok(Err(e)) => Some((Err(transport(e)), (None, scan))),
                    Ok(Ok(None)) => None,
                    Ok(Ok(Some(chunk))) => {
                        let seen = scan.feed(&chunk, &retry);
                        if seen.keep_alive {
                            let _ = tx.send(FeedMsg::Contact);
                        }
                        if scan.partial_len > max_line {
                            return Some((Err(FeedError::TooLarge(max_line)), (None, scan)));
                        }
                        Some((Ok::<Bytes, FeedError>(chunk), (Some(resp), scan)))
                    }
                }
            }
        });
        let mut events = Box::pin(bytes.eventsource());
        while let Some(item) = events.next().await {
            let event = match item {
                Ok(e) => e,
                Err(eventsource_stream::EventStreamError::Transport(e)) => return Err(e),
                Err(e) => return Err(FeedError::Parse(e.to_string())),
            };
            let Ok(id) = event.id.trim().parse::<u64>() else {
                self.send_bad("event id", format!("event without a numeric id ({:?}) ignored", event.event));
                continue;
            };
            if id <= *last_id {
                continue; // a duplicate or a replay of what we have
            }
            // Only an event that decodes moves the resume point: a bad one is skipped, and a
            // bad id cannot make every later event look like a duplicate.
            if self.dispatch(&event.event, &event.data) {
                *last_id = id;
                self.send(FeedMsg::Contact);
                if !healthy {
                    // Backoff resets only once the stream delivers, so a server that accepts
                    // and drops every connection is retried ever more slowly.
                    backoff.reset();
                    healthy = true;
                }
            }
        }
        Ok(())
    }

    /// Decodes and hands on one event; false when it could not be used.
    fn dispatch(&self, name: &str, data: &str) -> bool {
        let known = self.known_fn();
        let known_dyn = known.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
        match name {
            "score" => match serde_json::from_str::<ScoreEvent>(data) {
                Ok(e) => {
                    let (scores, rejected) = api::decode_scores(&e.scores, known_dyn);
                    self.report(rejected);
                    self.send(FeedMsg::Scores { as_of: e.as_of, scores })
                }
                Err(e) => self.send_bad("score event", e.to_string()),
            },
            "alert" => match serde_json::from_str::<serde_json::Value>(data) {
                Ok(v) => {
                    let (mut alerts, rejected) = api::decode_alerts(std::slice::from_ref(&v), known_dyn);
                    let ok = rejected.is_empty();
                    self.report(rejected);
                    if let Some(a) = alerts.pop() {
                        self.send(FeedMsg::Alert(a));
                    }
                    ok
                }
                Err(e) => self.send_bad("alert event", e.to_string()),
            },
            "alert_status" => match serde_json::from_str::<AlertStatusEvent>(data) {
                Ok(e) => self.send(FeedMsg::AlertStatus(e)),
                Err(e) => self.send_bad("alert_status event", e.to_string()),
            },
            _ => self.send_bad("event type", format!("unknown event type {name:?} ignored")),
        }
    }

    /// Counts a bad event as a rejected record, and logs the first of each kind only.
    fn send_bad(&self, kind: &'static str, msg: String) -> bool {
        self.send(FeedMsg::Rejected { kind: RejectKind::WrongType, count: 1 });
        if self.logged.borrow_mut().insert(kind) {
            self.send(FeedMsg::Failed(format!("{kind}: {msg} (further ones are counted, not logged)")));
        }
        false
    }

    /// Polls `/scores` (and new alerts) until SSE should be tried again.
    async fn poll(&self, backoff: &mut Backoff) -> Result<(), FeedError> {
        self.send(FeedMsg::State(ConnState::Polling));
        let mut cursor = 0u64;
        let mut last_as_of = None;
        for _ in 0..60 {
            let snap: ScoresSnapshot = self.get_json("/scores").await?;
            let page: AlertsPage = self.get_json(&format!("/alerts?since={cursor}")).await?;
            backoff.reset();
            let (scores, alerts) = self.decode(&snap, &page);
            // An unchanged snapshot proves the server alive (Contact) but is not new data.
            if last_as_of != Some(snap.as_of) {
                self.send(FeedMsg::Scores { as_of: snap.as_of, scores });
                last_as_of = Some(snap.as_of);
            }
            for a in alerts {
                self.send(FeedMsg::Alert(a));
            }
            cursor = page.next;
            tokio::time::sleep(self.options.poll_interval).await;
        }
        Ok(())
    }
}

/// What [`LineScan::feed`] saw in complete lines.
#[derive(Default)]
struct Seen {
    keep_alive: bool,
}

/// Scans the event stream's raw lines (eventsource-stream hides two things we need): `retry:`
/// fields sent in a block without data, which it drops, and keep-alive comments (`:`), which
/// prove the server alive. Also measures the unfinished last line, to cap it.
#[derive(Default)]
struct LineScan {
    tail: String,
    partial_len: usize,
}

impl LineScan {
    fn feed(&mut self, chunk: &[u8], retry_ms: &std::sync::atomic::AtomicU64) -> Seen {
        let mut seen = Seen::default();
        let text = String::from_utf8_lossy(chunk);
        let mut rest: &str = &text;
        while let Some(i) = rest.find('\n') {
            let piece = &rest[..i];
            let line = if self.tail.is_empty() { piece.to_owned() } else { std::mem::take(&mut self.tail) + piece };
            let line = line.trim_end_matches('\r');
            if let Some(v) = line.strip_prefix("retry:")
                && let Ok(ms) = v.trim().parse::<u64>()
            {
                retry_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
            }
            seen.keep_alive |= line.starts_with(':');
            self.partial_len = 0;
            rest = &rest[i + 1..];
        }
        self.partial_len += rest.len();
        // Only short partial lines matter (a field name); keep 64 bytes at most.
        if self.tail.len() < 64 {
            self.tail.push_str(&rest[..rest.len().min(64)]);
        }
        seen
    }
}

fn check_status(resp: &reqwest::Response) -> Result<(), FeedError> {
    let status = resp.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(FeedError::Unauthorized(status));
    }
    if !status.is_success() {
        return Err(FeedError::Http { status, retry_after: retry_after(resp.headers()) });
    }
    Ok(())
}

async fn run(options: LiveOptions, known: Option<Arc<HashSet<String>>>, tx: Sender<FeedMsg>) {
    let http = match build_client(&options) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(FeedMsg::State(ConnState::Retrying { reason: e.clone(), retry_in: f64::INFINITY }));
            let _ = tx.send(FeedMsg::Failed(e));
            return;
        }
    };
    let mut backoff = Backoff { attempt: 0, min: options.backoff_min, max: options.backoff_max };
    let client = Client { http, options, known, tx, retry_hint_ms: Arc::default(), logged: Default::default() };
    let mut last_id: Option<u64> = None;
    loop {
        let error = match last_id {
            None => {
                if !client.send(FeedMsg::State(ConnState::Connecting)) {
                    return;
                }
                match client.snapshot().await {
                    Ok(id) => {
                        last_id = Some(id);
                        continue;
                    }
                    Err(e) => e,
                }
            }
            Some(ref mut id) => match client.follow(id, &mut backoff).await {
                Ok(()) => FeedError::Transport("the server closed the event stream".into()),
                Err(FeedError::CannotResume) => {
                    last_id = None;
                    continue;
                }
                Err(FeedError::NoSse) => match client.poll(&mut backoff).await {
                    Ok(()) => continue,
                    Err(e) => e,
                },
                Err(e) => e,
            },
        };
        let (reason, wait) = match error {
            FeedError::Unauthorized(status) => {
                let msg = if client.options.token.is_some() {
                    format!("HTTP {status}: the server refused our token")
                } else {
                    format!("HTTP {status}: the server wants a token and none is set ([live] token_env / token_file)")
                };
                if !client.send(FeedMsg::State(ConnState::Unauthorized(msg.clone()))) {
                    return;
                }
                tokio::time::sleep(client.options.backoff_max).await;
                continue;
            }
            FeedError::Http { status, retry_after } => (format!("HTTP {status}"), backoff.next(retry_after)),
            e => (e.to_string(), backoff.next(None)),
        };
        // The stream's own `retry:` advice is a floor for the reconnection delay.
        let wait = wait.max(Duration::from_millis(client.retry_hint_ms.load(std::sync::atomic::Ordering::Relaxed)));
        let ok = client.send(FeedMsg::State(ConnState::Retrying { reason: reason.clone(), retry_in: wait.as_secs_f64() }))
            && client.send(FeedMsg::Failed(reason));
        if !ok {
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let mut o = LiveOptions::new("http://127.0.0.1:1/");
        o.token = Some("s3cret-token".into());
        let text = format!("{o:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("<redacted>") && text.contains("http://127.0.0.1:1"));
    }

    #[test]
    fn retry_and_keep_alive_lines_are_found_across_chunks() {
        let ms = std::sync::atomic::AtomicU64::new(0);
        let mut scan = LineScan::default();
        assert!(!scan.feed(b"retry: 15", &ms).keep_alive);
        assert_eq!(ms.load(std::sync::atomic::Ordering::Relaxed), 0, "incomplete line");
        assert!(!scan.feed(b"00\r\n\nid: 1\ndata: x\n\n", &ms).keep_alive);
        assert_eq!(ms.load(std::sync::atomic::Ordering::Relaxed), 1500);
        assert!(scan.feed(b": keepalive\n\n", &ms).keep_alive);
        scan.feed(b"data: aaaaaaaaaa", &ms);
        scan.feed(b"aaaaaaaaaa", &ms);
        assert_eq!(scan.partial_len, 26);
    }
}
