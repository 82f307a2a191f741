//! The live client: snapshot, then Server-Sent Events, on its own tokio thread.
//!
//! It hands decoded updates to the frame loop through a channel, so the frame loop never waits
//! on the network. After a drop it resumes with `Last-Event-ID`; when the server cannot resume
//! (HTTP 409) it takes a fresh snapshot; where SSE is unavailable (404/405/406 or another
//! content type) it polls the snapshot instead. Every request has a connect timeout and a
//! whole-request deadline, bodies are capped, retries back off exponentially with jitter, and
//! `Retry-After` is honoured. The event stream is parsed by [`super::sse`].
//!
//! A supervisor on the same thread restarts the client if it ever panics, reporting
//! [`ConnState::FeedError`] and backing off from 1 s to 60 s between restarts.

use std::cell::Cell;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};
use crossbeam_channel::{Receiver, Sender};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};

use super::sse::{SseError, SseEvent, SseItem, SseParser};
use crate::api::{self, AlertStatusEvent, AlertsPage, DecodeReport, ItemKind, NoteKind, PREFIX, RejectKind, ScoreItem, ScoresSnapshot};
use crate::model::Alert;

/// A test hook for [`LiveOptions::fault`].
pub type FaultHook = Arc<dyn Fn() -> bool + Send + Sync>;

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
    /// Largest body accepted, bytes; on the event stream, the longest line and the largest
    /// data of one event.
    pub max_body: usize,
    /// Longest silence on the event stream (no data, no keep-alive) before reconnecting.
    pub idle_timeout: Duration,
    /// Interval of snapshot polling when SSE is unavailable.
    pub poll_interval: Duration,
    /// First retry delay; doubles per failure up to `backoff_max`, with jitter.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// For tests only; `None` (the default) in the app. Called before each event from the
    /// stream is handled: when it returns true the client panics there, so a test can check
    /// that the supervisor in [`spawn`] reports [`ConnState::FeedError`] and restarts it.
    pub fault: Option<FaultHook>,
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
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("fault", &self.fault.as_ref().map(|_| "<test hook>"))
            .finish()
    }
}

impl LiveOptions {
    /// Defaults for `base_url`: 5 s connect, 10 s request, 16 MiB bodies, 45 s idle, 5 s
    /// polling, backoff 1–30 s, no test fault.
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: None,
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs_f64(DEFAULT_CONNECT_TIMEOUT_S),
            request_timeout: Duration::from_secs_f64(DEFAULT_REQUEST_TIMEOUT_S),
            max_body: (DEFAULT_MAX_BODY_MIB * 1_048_576.0) as usize,
            idle_timeout: Duration::from_secs_f64(DEFAULT_IDLE_TIMEOUT_S),
            poll_interval: Duration::from_secs_f64(DEFAULT_POLL_S),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            fault: None,
        }
    }
}

/// Default TCP connect timeout, seconds (`[live] connect_timeout_s`).
pub const DEFAULT_CONNECT_TIMEOUT_S: f64 = 5.0;
/// Default whole-request deadline, seconds (`[live] request_timeout_s`).
pub const DEFAULT_REQUEST_TIMEOUT_S: f64 = 10.0;
/// Default largest response body, MiB (`[live] max_body_mib`).
pub const DEFAULT_MAX_BODY_MIB: f64 = 16.0;
/// Default longest silence on an event stream before it is dropped and reopened, seconds:
/// `[live] stale_s` (30 by default), at least 20.
pub const DEFAULT_IDLE_TIMEOUT_S: f64 = 30.0;
/// Default polling interval where there is no event stream, seconds (`[live] poll_s`).
pub const DEFAULT_POLL_S: f64 = 5.0;

/// The kind of failure a retry follows: what the header says (in the UI's language), where
/// the full reason would be a library's English text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryKind {
    /// No connection could be made (refused, unreachable, DNS, TLS handshake).
    Connect,
    /// No answer, or a silent event stream, within the time allowed.
    Timeout,
    /// The server answered with this HTTP status (5xx, 429, …).
    Http(u16),
    /// The answer could not be used (not JSON, too large, a broken event stream).
    BadData,
    /// The server ended the event stream.
    Closed,
    /// Another network failure (a connection reset mid-answer, …).
    Network,
    /// The HTTP client could not be built (a bad CA bundle): no retry will help.
    Setup,
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
        /// What failed, in full, for the log (never contains the token).
        reason: String,
        /// What kind of failure, for the screen (shown in the UI's language).
        kind: RetryKind,
        /// Seconds until the next attempt (infinite: never, the client cannot be built).
        retry_in: f64,
    },
    /// The server refused our credentials (HTTP 401/403).
    Unauthorized(String),
    /// The client itself failed (it panicked: a bug, not a network problem); the supervisor
    /// restarts it, with a fresh snapshot, in `restart_in` seconds. Restarts back off from
    /// 1 s, doubling per panic, to 60 s.
    FeedError {
        /// The panic's message (or "unknown panic"), for the screen and log.
        message: String,
        /// Seconds until the restart.
        restart_in: f64,
    },
}

/// What the client hands to the app.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedMsg {
    /// A full snapshot: apply every item (newest wins) and the alerts. A unit the snapshot
    /// does not list keeps what it shows; only a `null` total clears one.
    Snapshot {
        /// When the scores were computed.
        as_of: DateTime<FixedOffset>,
        /// Valid items, at most one per unit (the last one listed).
        scores: Vec<ScoreItem>,
        /// Units whose item had `total: null`: no data from `as_of` on
        /// (`RiskState::clear_score`). Never a unit that is also in `scores`.
        cleared: Vec<String>,
        /// Alerts, in order.
        alerts: Vec<Alert>,
    },
    /// New scores.
    Scores {
        /// When computed.
        as_of: DateTime<FixedOffset>,
        /// Valid items, at most one per unit (the last one listed).
        scores: Vec<ScoreItem>,
        /// Units cleared to no data, as in [`FeedMsg::Snapshot`].
        cleared: Vec<String>,
    },
    /// Whether the backend says its data is simulated (the snapshot's `simulated` flag), sent
    /// with every snapshot taken.
    Provenance {
        /// True for simulated data (a demo recording behind the gateway).
        simulated: bool,
    },
    /// A new alert.
    Alert(Alert),
    /// An alert's status changed.
    AlertStatus(AlertStatusEvent),
    /// An operator acknowledged an alert (the gateway's `ack` event).
    Ack(crate::api::AckEvent),
    /// The server proved alive with usable data: a valid event, a keep-alive comment, or a
    /// parsed snapshot. Raw bytes alone do not count, so a stream of garbage goes stale.
    Contact,
    /// The connection changed state.
    State(ConnState),
    /// Invalid records of one payload rejected alone, for the log and the counts: one message
    /// per kind of record and of rejection.
    Rejected {
        /// What sort of record.
        item: ItemKind,
        /// Why.
        kind: RejectKind,
        /// How many in this payload.
        count: usize,
        /// The first [`api::REPORT_IDS`] of them: unit or alert ids, or `#N` (the position in
        /// the payload's array) where no id could be read; empty for a whole event.
        ids: Vec<String>,
    },
    /// Records of one payload kept with a remark (a unit listed twice, an unknown severity),
    /// for the log: one message per kind.
    Noted {
        /// What was remarked.
        kind: NoteKind,
        /// How many in this payload (units listed twice, alerts with an unknown severity).
        count: usize,
        /// The first [`api::REPORT_IDS`] of them: unit or alert ids.
        ids: Vec<String>,
    },
    /// An event from the stream could not be used, for the log: the first of each kind only
    /// (later ones are only counted, as `Rejected`). A request that fails is reported once,
    /// as `State(ConnState::Retrying { reason, .. })`, not here.
    Failed(String),
}

/// Data stamped more than this many seconds ahead of this machine's clock is reported as
/// clock skew (once per source), and applied all the same.
pub const CLOCK_SKEW_S: i64 = 60;

impl FeedMsg {
    /// The newest data time the message carries: a snapshot's or a score update's `as_of` (or
    /// a snapshot alert raised later), an alert's time, a status change's time; `None` for
    /// connection messages.
    pub fn stamped(&self) -> Option<DateTime<FixedOffset>> {
        match self {
            FeedMsg::Snapshot { as_of, alerts, .. } => alerts.iter().map(|a| a.time).chain([*as_of]).max(),
            FeedMsg::Scores { as_of, .. } => Some(*as_of),
            FeedMsg::Alert(a) => Some(a.time),
            FeedMsg::AlertStatus(e) => Some(e.at),
            _ => None,
        }
    }

    /// Whole seconds by which the message's data is stamped ahead of `now`, when more than
    /// [`CLOCK_SKEW_S`] (the sender's clock, or this machine's, is wrong).
    pub fn ahead_of(&self, now: DateTime<Utc>) -> Option<i64> {
        let ahead = (self.stamped()?.with_timezone(&Utc) - now).num_seconds();
        (ahead > CLOCK_SKEW_S).then_some(ahead)
    }

    /// Moves every data time of the message that is later than `limit` back to `limit`: data
    /// stamped in the future (a backend whose clock jumped) must not outrank the real updates
    /// that follow it under newest-wins, which would freeze its units until that future came.
    pub fn clamp_times(&mut self, limit: DateTime<FixedOffset>) {
        let clamp = |t: &mut DateTime<FixedOffset>| {
            if *t > limit {
                *t = limit;
            }
        };
        match self {
            FeedMsg::Snapshot { as_of, alerts, .. } => {
                clamp(as_of);
                alerts.iter_mut().for_each(|a| clamp(&mut a.time));
            }
            FeedMsg::Scores { as_of, .. } => clamp(as_of),
            FeedMsg::Alert(a) => clamp(&mut a.time),
            FeedMsg::AlertStatus(e) => clamp(&mut e.at),
            _ => {}
        }
    }

    /// The log line of a `Rejected` or `Noted` message (`None` for the others), e.g. "rejected
    /// 3 score record(s) (unknown unit id): 999001, 999002, 999003; further ones are counted,
    /// not logged".
    pub fn report_line(&self) -> Option<String> {
        let list = |count: usize, ids: &[String]| {
            if ids.is_empty() { String::new() } else { format!(": {}{}", ids.join(", "), if count > ids.len() { ", …" } else { "" }) }
        };
        match self {
            FeedMsg::Rejected { item, kind, count, ids } => {
                Some(format!("rejected {count} {} record(s) ({}){}; further ones are counted, not logged", item.noun(), kind.describe(), list(*count, ids)))
            }
            FeedMsg::Noted { kind, count, ids } => Some(format!("{count} × {}{}; further ones are counted, not logged", kind.describe(), list(*count, ids))),
            _ => None,
        }
    }
}

/// Applies a data message to a state, newest wins (a clear included); returns whether
/// anything changed. Connection messages (`Contact`, `State`, `Rejected`, `Noted`, `Failed`)
/// change nothing here. Data stamped ahead of this machine's clock is applied like any other.
pub fn apply(state: &mut crate::model::RiskState, msg: &FeedMsg) -> bool {
    let mut changed = false;
    match msg {
        FeedMsg::Snapshot { as_of, scores, cleared, alerts } => {
            for s in scores {
                changed |= state.offer_score(&s.unit, *as_of, s.score());
            }
            for unit in cleared {
                changed |= state.clear_score(unit, *as_of).is_ok();
            }
            for a in alerts {
                changed |= state.merge_alert(a.clone());
            }
        }
        FeedMsg::Scores { as_of, scores, cleared } => {
            for s in scores {
                changed |= state.offer_score(&s.unit, *as_of, s.score());
            }
            for unit in cleared {
                changed |= state.clear_score(unit, *as_of).is_ok();
            }
        }
        FeedMsg::Alert(a) => changed |= state.apply_alert(a.clone()).is_ok(),
        FeedMsg::AlertStatus(e) => {
            let applied = state.apply_status(&e.id, e.status, e.at).is_ok();
            if let (true, Some(note)) = (applied, &e.note) {
                state.set_note(&e.id, note);
            }
            changed |= applied;
        }
        FeedMsg::Ack(e) => changed |= state.apply_ack(&e.id, &crate::model::Ack { by: e.by.clone(), at: e.at }).unwrap_or(false),
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
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the server closed the event stream")]
    Closed,
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
    #[error("{0}")]
    Stream(SseError),
}

fn transport(e: reqwest::Error) -> FeedError {
    // Debug formatting of reqwest errors includes the URL but never request headers, so the
    // token cannot leak into messages.
    if e.is_connect() { FeedError::Connect(e.to_string()) } else { FeedError::Transport(e.to_string()) }
}

impl FeedError {
    /// What the header shows for this failure.
    fn kind(&self) -> RetryKind {
        match self {
            FeedError::Http { status, .. } | FeedError::Unauthorized(status) => RetryKind::Http(status.as_u16()),
            FeedError::Timeout(_) | FeedError::Idle(_) => RetryKind::Timeout,
            FeedError::TooLarge(_) | FeedError::Parse(_) | FeedError::Stream(_) | FeedError::NoSse | FeedError::CannotResume => RetryKind::BadData,
            FeedError::Connect(_) => RetryKind::Connect,
            FeedError::Closed => RetryKind::Closed,
            FeedError::Transport(_) => RetryKind::Network,
        }
    }
}

/// The first delay before restarting a client that panicked; it doubles per panic.
const RESTART_MIN: Duration = Duration::from_secs(1);
/// The longest delay before a restart; a client that ran this long before it panicked is
/// restarted after [`RESTART_MIN`] again.
const RESTART_MAX: Duration = Duration::from_secs(60);

/// The map's unit ids, as the client checks every score of every event against them: hashed
/// with foldhash (collect one with `.collect()`; the standard hasher costs more than the check).
pub type UnitIds = HashSet<String, foldhash::fast::RandomState>;

/// Starts the client on its own thread. Updates arrive on the returned channel; the thread
/// ends when the receiver is dropped (noticed at its next message, so up to 60 s later while
/// waiting to restart), or when the HTTP client cannot be built (a bad CA
/// bundle: the last message is then `State(Retrying)` with an infinite `retry_in`).
///
/// `known_units` (the map's ids) lets it refuse scores and alerts of units not on the map.
///
/// The client runs under a supervisor: should it panic, the supervisor sends
/// `State(ConnState::FeedError { message, restart_in })`, waits `restart_in` seconds (1 s,
/// doubling per panic to 60 s) and starts it afresh, from a new snapshot.
///
/// # Panics
/// When the operating system cannot start a thread.
pub fn spawn(options: LiveOptions, known_units: Option<Arc<UnitIds>>) -> Receiver<FeedMsg> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new().name("live-feed".into()).spawn(move || supervise(&options, known_units.as_ref(), &tx)).expect("spawn live-feed thread");
    rx
}

/// Runs the client, each time on a fresh tokio runtime, until it returns; restarts it with
/// backoff after a panic.
fn supervise(options: &LiveOptions, known: Option<&Arc<UnitIds>>, tx: &Sender<FeedMsg>) {
    let mut delay = RESTART_MIN;
    loop {
        let started = Instant::now();
        // The runtime is built inside, so that a runtime a panic went through is dropped with
        // all it held, and a failure to build one is restarted like any panic.
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(run(options.clone(), known.cloned(), tx.clone()));
        }));
        let Err(payload) = outcome else {
            return; // `run` returns only when the receiver is gone or no client can be built
        };
        if started.elapsed() >= RESTART_MAX {
            delay = RESTART_MIN;
        }
        let message = panic_message(&*payload);
        if tx.send(FeedMsg::State(ConnState::FeedError { message, restart_in: delay.as_secs_f64() })).is_err() {
            return;
        }
        std::thread::sleep(delay);
        delay = delay.saturating_mul(2).min(RESTART_MAX);
    }
}

/// The text of a panic: its `&str` or `String` payload, else "unknown panic".
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

pub(crate) fn build_client(options: &LiveOptions) -> Result<reqwest::Client, String> {
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
    known: Option<Arc<UnitIds>>,
    tx: Sender<FeedMsg>,
    /// The newest `retry:` field the event stream sent, milliseconds (servers usually send it
    /// in a block without data; the parser reports it all the same).
    retry_hint_ms: Cell<u64>,
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

    /// Hands on what decoding one payload of `item` records reported: one `Rejected` per
    /// kind of rejection and one `Noted` per kind of remark, each with the first few ids.
    fn report(&self, item: ItemKind, report: &DecodeReport) {
        for (kind, count, ids) in report.rejected_by_kind() {
            self.send(FeedMsg::Rejected { item, kind, count, ids });
        }
        for (kind, count, ids) in report.notes() {
            self.send(FeedMsg::Noted { kind, count, ids });
        }
    }

    /// Validates a snapshot's scores and a page of alerts item by item, reporting the rejects
    /// and remarks: the valid scores, the cleared units, the valid alerts.
    fn decode(&self, snap: &ScoresSnapshot, page: &AlertsPage) -> (Vec<ScoreItem>, Vec<String>, Vec<Alert>) {
        let known = self.known_fn();
        let known_dyn = known.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
        let scores = api::decode_scores(&snap.scores, known_dyn);
        let alerts = api::decode_alerts(&page.alerts, known_dyn);
        self.report(ItemKind::Score, &scores.report);
        self.report(ItemKind::Alert, &alerts.report);
        (scores.scores, scores.cleared, alerts.alerts)
    }

    /// Takes a snapshot of scores and all alerts; returns the event id to resume after.
    async fn snapshot(&self) -> Result<u64, FeedError> {
        let snap: ScoresSnapshot = self.get_json("/scores").await?;
        let page: AlertsPage = self.get_json("/alerts?since=0").await?;
        let (scores, cleared, alerts) = self.decode(&snap, &page);
        self.send(FeedMsg::Provenance { simulated: snap.simulated });
        self.send(FeedMsg::Snapshot { as_of: snap.as_of, scores, cleared, alerts });
        Ok(snap.last_event_id)
    }

    /// Follows the event stream from `last_id` until it ends or fails; `last_id` advances as
    /// events arrive.
    async fn follow(&self, last_id: &mut u64, backoff: &mut Backoff) -> Result<(), FeedError> {
        let connect = tokio::time::timeout(
            self.options.connect_timeout + self.options.request_timeout,
            self.request("/events").header(ACCEPT, "text/event-stream").header("Last-Event-ID", last_id.to_string()).send(),
        );
        let mut resp = connect.await.map_err(|_| FeedError::Timeout(self.options.request_timeout))?.map_err(transport)?;
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
        let mut parser = SseParser::new(self.options.max_body);
        loop {
            match tokio::time::timeout(idle, resp.chunk()).await {
                Err(_) => return Err(FeedError::Idle(idle)),
                Ok(Err(e)) => return Err(transport(e)),
                // The server ended the stream; an event without its final blank line is
                // discarded, as the SSE spec says.
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(chunk))) => self.on_chunk(&mut parser, &chunk, last_id, backoff, &mut healthy)?,
            }
        }
    }

    /// Parses one chunk of the event stream and acts on what it completes: a comment (a
    /// keep-alive) is contact, `retry:` sets the reconnection floor, and each event is handled
    /// by [`Client::on_event`]. Fails when a line or an event exceeds `max_body`.
    fn on_chunk(&self, parser: &mut SseParser, chunk: &[u8], last_id: &mut u64, backoff: &mut Backoff, healthy: &mut bool) -> Result<(), FeedError> {
        for item in parser.feed(chunk).map_err(FeedError::Stream)? {
            match item {
                SseItem::Comment(_) => {
                    self.send(FeedMsg::Contact);
                }
                SseItem::Retry(ms) => self.retry_hint_ms.set(ms),
                SseItem::Event(event) => self.on_event(&event, last_id, backoff, healthy),
            }
        }
        Ok(())
    }

    /// Handles one event: skips a duplicate, and advances `last_id` when it decodes.
    fn on_event(&self, event: &SseEvent, last_id: &mut u64, backoff: &mut Backoff, healthy: &mut bool) {
        if self.options.fault.as_ref().is_some_and(|fault| fault()) {
            panic!("injected fault (LiveOptions::fault)");
        }
        let Ok(id) = event.id.trim().parse::<u64>() else {
            self.send_bad("event id", format!("event without a numeric id ({:?}) ignored", event.event));
            return;
        };
        if id <= *last_id {
            return; // a duplicate or a replay of what we have
        }
        // Only an event that decodes moves the resume point: a bad one is skipped, and a
        // bad id cannot make every later event look like a duplicate.
        if self.dispatch(&event.event, &event.data) {
            *last_id = id;
            self.send(FeedMsg::Contact);
            if !*healthy {
                // Backoff resets only once the stream delivers, so a server that accepts
                // and drops every connection is retried ever more slowly.
                backoff.reset();
                *healthy = true;
            }
        }
    }

    /// Decodes and hands on one event; false when it could not be used.
    fn dispatch(&self, name: &str, data: &str) -> bool {
        let known = self.known_fn();
        let known_dyn = known.as_ref().map(|f| f as &dyn Fn(&str) -> bool);
        match name {
            "score" => match serde_json::from_str::<api::ScoreEventWire>(data) {
                Ok(e) => {
                    let decoded = api::decode_score_wires(e.scores, known_dyn);
                    self.report(ItemKind::Score, &decoded.report);
                    self.send(FeedMsg::Scores { as_of: e.as_of, scores: decoded.scores, cleared: decoded.cleared })
                }
                Err(e) => self.send_bad("score event", e.to_string()),
            },
            "alert" => match serde_json::from_str::<serde_json::Value>(data) {
                Ok(v) => {
                    let mut decoded = api::decode_alerts(std::slice::from_ref(&v), known_dyn);
                    let ok = decoded.report.rejected.is_empty();
                    self.report(ItemKind::Alert, &decoded.report);
                    if let Some(a) = decoded.alerts.pop() {
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
            "ack" => match serde_json::from_str::<crate::api::AckEvent>(data) {
                Ok(e) => self.send(FeedMsg::Ack(e)),
                Err(e) => self.send_bad("ack event", e.to_string()),
            },
            // A unit's detail snapshot: the drill-down asks for it when it is shown
            // (`feed::detail`), so the stream's copy is contact, not news.
            "detail" => true,
            _ => self.send_bad("event type", format!("unknown event type {name:?} ignored")),
        }
    }

    /// Counts a bad event as a rejected record, and logs the first of each kind only.
    fn send_bad(&self, kind: &'static str, msg: String) -> bool {
        self.send(FeedMsg::Rejected { item: ItemKind::Event, kind: RejectKind::WrongType, count: 1, ids: Vec::new() });
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
            let (scores, cleared, alerts) = self.decode(&snap, &page);
            self.send(FeedMsg::Provenance { simulated: snap.simulated });
            // An unchanged snapshot proves the server alive (Contact) but is not new data.
            if last_as_of != Some(snap.as_of) {
                self.send(FeedMsg::Scores { as_of: snap.as_of, scores, cleared });
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

async fn run(options: LiveOptions, known: Option<Arc<UnitIds>>, tx: Sender<FeedMsg>) {
    let http = match build_client(&options) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(FeedMsg::State(ConnState::Retrying { reason: e, kind: RetryKind::Setup, retry_in: f64::INFINITY }));
            return;
        }
    };
    let mut backoff = Backoff { attempt: 0, min: options.backoff_min, max: options.backoff_max };
    let client = Client { http, options, known, tx, retry_hint_ms: Cell::new(0), logged: Default::default() };
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
                Ok(()) => FeedError::Closed,
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
        let kind = error.kind();
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
        let wait = wait.max(Duration::from_millis(client.retry_hint_ms.get()));
        // Reported once, as a state: the app logs it and shows it in the header.
        if !client.send(FeedMsg::State(ConnState::Retrying { reason, kind, retry_in: wait.as_secs_f64() })) {
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCORE: &str = r#"{"as_of":"2026-11-29T08:00:00+08:00","scores":[{"unit":"1","total":10,"threat":1,"asset":1,"compliance":1}]}"#;

    /// The event stream handling of `follow`, without a server: chunks in, messages out.
    struct Stream {
        client: Client,
        rx: Receiver<FeedMsg>,
        parser: SseParser,
        last_id: u64,
        backoff: Backoff,
        healthy: bool,
    }

    impl Stream {
        fn new(options: LiveOptions) -> Self {
            let (tx, rx) = crossbeam_channel::unbounded();
            let http = build_client(&options).expect("HTTP client");
            let parser = SseParser::new(options.max_body);
            let backoff = Backoff { attempt: 3, min: options.backoff_min, max: options.backoff_max };
            let client = Client { http, options, known: None, tx, retry_hint_ms: Cell::new(0), logged: Default::default() };
            Self { client, rx, parser, last_id: 0, backoff, healthy: false }
        }

        fn with_max_body(max_body: usize) -> Self {
            let mut options = LiveOptions::new("http://127.0.0.1:1");
            options.max_body = max_body;
            Self::new(options)
        }

        /// Handles one chunk; returns the messages it sent.
        fn feed(&mut self, chunk: &[u8]) -> Result<Vec<FeedMsg>, FeedError> {
            self.client.on_chunk(&mut self.parser, chunk, &mut self.last_id, &mut self.backoff, &mut self.healthy)?;
            Ok(self.rx.try_iter().collect())
        }
    }

    fn score_event(id: u64) -> String {
        format!("id: {id}\nevent: score\ndata: {SCORE}\n\n")
    }

    fn is_score_10(m: &FeedMsg) -> bool {
        matches!(m, FeedMsg::Scores { scores, .. } if scores.len() == 1 && scores[0].unit == "1" && scores[0].total == 10.0)
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let mut o = LiveOptions::new("http://127.0.0.1:1/");
        o.token = Some("s3cret-token".into());
        let text = format!("{o:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("<redacted>") && text.contains("http://127.0.0.1:1"));
        assert!(text.contains("fault: None"), "{text}");
        o.fault = Some(Arc::new(|| false));
        assert!(format!("{o:?}").contains(r#"fault: Some("<test hook>")"#), "{o:?}");
        assert!(LiveOptions::new("http://x").fault.is_none(), "no fault by default");
    }

    #[test]
    fn retry_and_keep_alive_lines_are_found_across_chunks() {
        let mut s = Stream::with_max_body(1 << 20);
        assert_eq!(s.feed(b"retry: 15").unwrap(), []);
        assert_eq!(s.client.retry_hint_ms.get(), 0, "incomplete line");
        // The retry comes in a block without data, then an event follows.
        let msgs = s.feed(format!("00\r\n\n{}", score_event(1)).as_bytes()).unwrap();
        assert_eq!(s.client.retry_hint_ms.get(), 1500);
        assert!(msgs.len() == 2 && is_score_10(&msgs[0]) && msgs[1] == FeedMsg::Contact, "{msgs:?}");
        assert_eq!(s.last_id, 1);
        assert!(s.healthy && s.backoff.attempt == 0, "a delivering stream resets the backoff");
        // A keep-alive comment is contact; so is each one.
        assert_eq!(s.feed(b": keepalive\n\n:\n").unwrap(), [FeedMsg::Contact, FeedMsg::Contact]);
        // Garbage is not.
        assert_eq!(s.feed(b"foo: bar\n\n\n").unwrap(), []);
    }

    #[test]
    fn an_unfinished_line_longer_than_max_body_fails_the_stream() {
        let mut s = Stream::with_max_body(25);
        assert_eq!(s.feed(b"data: aaaaaaaaaa").unwrap(), []);
        // 26 bytes and no line end yet.
        let err = s.feed(b"aaaaaaaaaa").unwrap_err();
        assert!(matches!(err, FeedError::Stream(SseError::LineTooLong { limit: 25 })), "{err:?}");
        assert_eq!(err.to_string(), "event stream line longer than 25 bytes");
        let mut s = Stream::with_max_body(26);
        assert_eq!(s.feed(b"data: aaaaaaaaaa").unwrap(), []);
        assert_eq!(s.feed(b"aaaaaaaaaa").unwrap(), []);
    }

    #[test]
    fn a_bom_split_across_chunks_is_stripped_before_the_first_event() {
        let mut s = Stream::with_max_body(1 << 20);
        assert_eq!(s.feed(b"\xEF").unwrap(), []);
        let mut rest = b"\xBB\xBF".to_vec();
        rest.extend_from_slice(score_event(4).as_bytes());
        let msgs = s.feed(&rest).unwrap();
        assert!(msgs.len() == 2 && is_score_10(&msgs[0]) && msgs[1] == FeedMsg::Contact, "{msgs:?}");
        assert_eq!(s.last_id, 4);
    }

    #[test]
    fn an_event_without_a_numeric_id_is_logged_once_and_duplicates_are_skipped() {
        let mut s = Stream::with_max_body(1 << 20);
        let no_id = format!("event: score\ndata: {SCORE}\n\n");
        let msgs = s.feed(format!("{no_id}{no_id}").as_bytes()).unwrap();
        let rejected = FeedMsg::Rejected { item: ItemKind::Event, kind: RejectKind::WrongType, count: 1, ids: Vec::new() };
        let logged = FeedMsg::Failed(r#"event id: event without a numeric id ("score") ignored (further ones are counted, not logged)"#.into());
        assert_eq!(msgs, [rejected.clone(), logged, rejected]);
        assert_eq!(s.last_id, 0);
        let msgs = s.feed(score_event(5).as_bytes()).unwrap();
        assert!(msgs.len() == 2 && is_score_10(&msgs[0]), "{msgs:?}");
        assert_eq!(s.last_id, 5);
        assert_eq!(s.feed(score_event(5).as_bytes()).unwrap(), [], "id 5 again is a duplicate");
        assert_eq!(s.feed(score_event(3).as_bytes()).unwrap(), [], "an older id is a replay");
        // The last event ID persists across events (SSE rules): an event after id 3 without
        // an id field of its own has id 3, a replay too.
        assert_eq!(s.feed(no_id.as_bytes()).unwrap(), []);
        let msgs = s.feed(score_event(6).as_bytes()).unwrap();
        assert!(msgs.len() == 2 && is_score_10(&msgs[0]), "{msgs:?}");
        assert_eq!(s.last_id, 6);
    }

    #[test]
    fn the_fault_hook_panics_the_client_at_an_event() {
        let mut options = LiveOptions::new("http://127.0.0.1:1");
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = Arc::clone(&calls);
        options.fault = Some(Arc::new(move || seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1));
        let mut s = Stream::new(options);
        assert_eq!(s.feed(b": no event, no call\n").unwrap(), [FeedMsg::Contact]);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(s.feed(score_event(1).as_bytes()).unwrap().len(), 2, "first call: no fault");
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| s.feed(score_event(2).as_bytes()))).unwrap_err();
        assert_eq!(panic_message(&*caught), "injected fault (LiveOptions::fault)");
        assert_eq!(s.last_id, 1, "the event that panicked was not taken");
    }

    #[test]
    fn a_score_event_keeps_the_payload_rules() {
        let mut s = Stream::with_max_body(1 << 20);
        let data = r#"{"as_of":"2026-11-29T08:00:00+08:00","scores":[{"unit":"1","total":"72.5","threat":"1","asset":1,"compliance":1},{"unit":"2","total":null},{"unit":"3","total":"NaN","threat":1,"asset":1,"compliance":1},{"unit":"1","total":"73","threat":1,"asset":1,"compliance":1}]}"#;
        let msgs = s.feed(format!("id: 1\nevent: score\ndata: {data}\n\n").as_bytes()).unwrap();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert_eq!(msgs[0], FeedMsg::Rejected { item: ItemKind::Score, kind: RejectKind::WrongType, count: 1, ids: vec!["3".into()] });
        assert_eq!(msgs[1], FeedMsg::Noted { kind: NoteKind::DuplicateUnit, count: 1, ids: vec!["1".into()] });
        let FeedMsg::Scores { scores, cleared, .. } = &msgs[2] else { panic!("{msgs:?}") };
        assert_eq!(scores.iter().map(|s| (s.unit.as_str(), s.total)).collect::<Vec<_>>(), [("1", 73.0)]);
        assert_eq!(cleared, &["2"]);
        assert_eq!(msgs[3], FeedMsg::Contact);
        // Applied: unit 1 scored, unit 2 cleared after an earlier score, newest wins.
        let mut state = crate::model::RiskState::new();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        let earlier = crate::model::RiskScore { total: 10.0, threat: 1.0, asset: 1.0, compliance: 1.0 };
        state.apply_score("2", t("2026-11-29T07:55:00+08:00"), earlier).unwrap();
        assert!(apply(&mut state, &msgs[2]));
        assert_eq!(state.score("1").unwrap().total, 73.0);
        assert_eq!(state.score("2"), None);
        // An older clear changes nothing.
        let old = FeedMsg::Scores { as_of: t("2026-11-29T07:00:00+08:00"), scores: vec![], cleared: vec!["1".into()] };
        assert!(!apply(&mut state, &old));
        assert_eq!(state.score("1").unwrap().total, 73.0);
    }

    #[test]
    fn report_lines_name_the_first_ids_and_say_the_rest_are_counted() {
        let ids = |n: usize| (1..=n).map(|i| format!("99900{i}")).collect::<Vec<_>>();
        let m = FeedMsg::Rejected { item: ItemKind::Score, kind: RejectKind::UnknownUnit, count: 3, ids: ids(3) };
        assert_eq!(m.report_line().unwrap(), "rejected 3 score record(s) (unknown unit id): 999001, 999002, 999003; further ones are counted, not logged");
        let m = FeedMsg::Rejected { item: ItemKind::Alert, kind: RejectKind::WrongType, count: 7, ids: ids(5) };
        assert!(m.report_line().unwrap().contains("999005, …; further"), "{m:?}");
        let m = FeedMsg::Rejected { item: ItemKind::Event, kind: RejectKind::WrongType, count: 1, ids: vec![] };
        assert_eq!(m.report_line().unwrap(), "rejected 1 event record(s) (wrong type or missing field); further ones are counted, not logged");
        let m = FeedMsg::Noted { kind: NoteKind::UnknownSeverity, count: 1, ids: vec!["A-1".into()] };
        assert!(m.report_line().unwrap().starts_with("1 × alert with an unknown severity"), "{:?}", m.report_line());
        assert_eq!(FeedMsg::Contact.report_line(), None);
    }

    #[test]
    fn data_stamped_over_a_minute_ahead_is_clock_skew() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T00:00:00Z").unwrap().with_timezone(&Utc);
        let at = |s: &str| FeedMsg::Scores { as_of: DateTime::parse_from_rfc3339(s).unwrap(), scores: vec![], cleared: vec![] };
        assert_eq!(at("2026-11-29T08:01:00+08:00").ahead_of(now), None, "60 s ahead is within tolerance");
        assert_eq!(at("2026-11-29T08:01:01+08:00").ahead_of(now), Some(61));
        assert_eq!(at("2026-11-29T09:00:00+08:00").ahead_of(now), Some(3600));
        assert_eq!(at("2026-11-28T09:00:00+08:00").ahead_of(now), None, "the past is no skew");
        assert_eq!(FeedMsg::Contact.ahead_of(now), None);
        let alert = Alert {
            id: "a".into(),
            unit: "1".into(),
            time: DateTime::parse_from_rfc3339("2026-11-29T02:00:00Z").unwrap(),
            severity: crate::model::Severity::High,
            category: "c".into(),
            title: "t".into(),
            status: crate::model::AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        };
        let snap =
            FeedMsg::Snapshot { as_of: DateTime::parse_from_rfc3339("2026-11-29T00:00:00Z").unwrap(), scores: vec![], cleared: vec![], alerts: vec![alert] };
        assert_eq!(snap.ahead_of(now), Some(7200), "a snapshot's newest alert counts");
    }

    #[test]
    fn a_panic_message_comes_from_a_str_or_string_payload() {
        assert_eq!(panic_message(&"static text"), "static text");
        assert_eq!(panic_message(&String::from("formatted 3")), "formatted 3");
        assert_eq!(panic_message(&42_u32), "unknown panic");
        let caught = std::panic::catch_unwind(|| -> u8 { panic!("at {}", 7) }).unwrap_err();
        assert_eq!(panic_message(&*caught), "at 7");
    }
}
