//! `situation-wall serve`: the wall gateway (issue 11). The district's security-operations
//! platform pushes records into `POST /api/v1/ingest`; the gateway keeps them in its store
//! ([`crate::gateway::store`], SQLite) and serves every wall through the `/api/v1` contract
//! (docs/api/openapi.yaml): snapshots, alerts, drill-down, history, rankings, and the event
//! stream with `Last-Event-ID` resumption across restarts.
//!
//! It is also the reference backend for demos and tests: given a recording it plays it, in real
//! time or faster, through the same ingest path a pushed batch takes (each replayed record is
//! turned into ingest-format records and stored by the function `POST /ingest` calls, one
//! batch per record).
//! Looping passes shift their timestamps forward by one pass length and suffix alert ids with
//! `#pass`, so time and event ids only ever increase and a client's newest-wins rule keeps
//! working across passes.
//!
//! It keeps the contract's payload rules on what it serves: a clear (a score whose `total` is
//! `null`) goes out as a `null` item in the `score` event and in every later snapshot, until a
//! newer score; each unit appears at most once per snapshot; an alert of unknown severity is
//! served as `unknown`.
//!
//! # Security
//!
//! Tokens come in two scopes ([`Scope`]): a read token may use every `GET` endpoint, an ingest
//! token may also `POST /ingest`. With no token configured every endpoint is open (the default
//! bind is loopback); with any token configured every endpoint needs one. Tokens are compared in
//! constant time and never logged; the audit line of each ingested batch names the token's
//! client name instead.

use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use futures_util::StreamExt as _;
use futures_util::stream;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Value, json};

use crate::api::{AlertsPage, PREFIX, ScoresSnapshot, UnitInfo, no_data_item};
use crate::feed::replay::LOOP_HOLD_S;
use crate::feed::{RecordBody, Recording, Replay};
use crate::gateway::store::{AckOutcome, CurrentScore, IngestReport, Period, Rejection, Store, StoreError, StoredEvent};
use crate::model::{BEIJING, LevelThresholds};

/// Default body cap of `POST /ingest`, MiB (`--max-body-mib`).
pub const DEFAULT_MAX_BODY_MIB: usize = 32;
/// Default record cap of one ingested batch (`--max-batch`).
pub const DEFAULT_MAX_BATCH: usize = 10_000;
/// Default age after which events are purged and raw scores rolled up, days
/// (`--retention-days`).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// How many alerts `GET /alerts` returns at most per page.
pub const ALERTS_PAGE: usize = 5000;
/// How often retention runs, once at start and then at this interval.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How long `/health` reuses the store's counts (counting walks every table).
const STATS_FOR: Duration = Duration::from_secs(5);
/// Events an event stream reads from the store per query while catching up.
const STREAM_CHUNK: usize = 500;
/// Newest events kept in memory for the event streams: at most this many...
const RECENT_EVENTS: usize = 4096;
/// ...and at most this many bytes of encoded events (their SSE frames).
const RECENT_BYTES: usize = 64 << 20;

/// How the reference server runs: a recording played into an in-memory store. Kept for the
/// tests and demos that start a server in-process; [`start`] turns it into
/// [`GatewayOptions`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The recording to play.
    pub recording: Arc<Recording>,
    /// Units served by `/units`; records for other units are rejected.
    pub units: Vec<UnitInfo>,
    /// Recording seconds per second.
    pub speed: f64,
    /// Start over at the end (timestamps and ids keep increasing); otherwise hold the end.
    pub looping: bool,
    /// Require `Authorization: Bearer <token>` when set (a read token; nothing can ingest).
    pub token: Option<String>,
    /// Most events kept for `Last-Event-ID` resumption (at least 1): the oldest beyond it are
    /// purged after each ingest, and a client resuming from before them gets 409.
    pub retain_events: usize,
    /// Interval of SSE keep-alive comments.
    pub keep_alive: Duration,
    /// Wall-clock time at which the recording's start plays. A server restarted with the same
    /// anchor resumes where the recording stands now instead of from its start. `None`: now.
    pub anchor: Option<SystemTime>,
}

/// A recording to play into the gateway.
#[derive(Clone, Debug)]
pub struct Player {
    /// The recording.
    pub recording: Arc<Recording>,
    /// Recording seconds per second (> 0).
    pub speed: f64,
    /// Start over at the end (timestamps shifted by a pass, alert ids suffixed `#pass`).
    pub looping: bool,
    /// Wall-clock time at which the recording's start plays; `None`: now.
    pub anchor: Option<SystemTime>,
}

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every `GET` endpoint.
    Read,
    /// `POST /ingest`, and every `GET` endpoint too.
    Ingest,
    /// `POST /alerts/{id}/ack` (an operator acknowledging from a kiosk or desktop), and every
    /// `GET` endpoint too; not ingest.
    Operate,
}

impl Scope {
    fn word(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Operate => "operator",
        }
    }
}

/// One configured token.
#[derive(Clone)]
struct TokenEntry {
    name: String,
    scope: Scope,
    secret: Vec<u8>,
}

/// The bearer tokens the gateway accepts, each with a client name (for the audit log) and a
/// [`Scope`]. `Debug` shows names and scopes, never the tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<TokenEntry>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|e| format!("{} ({}): <redacted>", e.name, e.scope.word()))).finish()
    }
}

impl Tokens {
    /// No tokens: every endpoint is open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no token is configured (then every endpoint is open).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds a token for client `name`. Surrounding white space of the token is ignored.
    ///
    /// # Errors
    /// An empty name or one with white space, a name already used, an empty token or one with
    /// white space inside, or a token already configured. The message never quotes the token.
    pub fn add(&mut self, name: &str, scope: Scope, token: &str) -> Result<(), String> {
        let token = token.trim();
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(format!("client name {name:?} must be non-empty and without spaces"));
        }
        if self.entries.iter().any(|e| e.name == name) {
            return Err(format!("client name {name:?} is used twice"));
        }
        if token.is_empty() {
            return Err(format!("the token of {name:?} is empty"));
        }
        if token.chars().any(char::is_whitespace) {
            return Err(format!("the token of {name:?} contains white space"));
        }
        if let Some(other) = self.entries.iter().find(|e| constant_time_eq::constant_time_eq(&e.secret, token.as_bytes())) {
            return Err(format!("the token of {name:?} is the same as that of {:?}; give each client its own", other.name));
        }
        self.entries.push(TokenEntry { name: name.to_owned(), scope, secret: token.as_bytes().to_vec() });
        Ok(())
    }

    /// Adds the tokens of a tokens file: one `name scope token` per line (scope `read` or
    /// `ingest`), separated by white space; blank lines and lines starting with `#` are
    /// skipped. `source` names the file in errors.
    ///
    /// # Errors
    /// `source line N: …` for a line that is not three fields, an unknown scope, or any
    /// reason of [`Tokens::add`]. No message quotes a token.
    pub fn add_file_text(&mut self, text: &str, source: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [name, scope, token] = fields[..] else {
                return Err(format!("{source} line {n}: expected `name scope token` (3 fields), found {}", fields.len()));
            };
            let scope = match scope {
                "read" => Scope::Read,
                "ingest" => Scope::Ingest,
                "operator" => Scope::Operate,
                other => return Err(format!("{source} line {n}: scope must be `read`, `ingest` or `operator`, not {other:?}")),
            };
            self.add(name, scope, token).map_err(|e| format!("{source} line {n}: {e}"))?;
        }
        Ok(())
    }

    /// The client a presented token belongs to, with its scope; `None` when it matches no
    /// configured token. Every configured token is compared, each in constant time, so the
    /// time taken tells nothing about which (if any) matched or how much of it did (only
    /// whether the lengths are equal).
    pub fn identify(&self, presented: &str) -> Option<(&str, Scope)> {
        let mut found = None;
        for e in &self.entries {
            if constant_time_eq::constant_time_eq(&e.secret, presented.as_bytes()) && found.is_none() {
                found = Some((e.name.as_str(), e.scope));
            }
        }
        found
    }
}

/// How the gateway runs, besides its store.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// Units served by `/units`; records for other units are rejected with "unknown unit". An
    /// empty list accepts any unit id.
    pub units: Vec<UnitInfo>,
    /// Who may call it; empty: everyone.
    pub tokens: Tokens,
    /// A recording to play through the ingest path; `None`: a pure gateway.
    pub player: Option<Player>,
    /// Whether the data is simulated (`/health`, `/units/{id}`): a simulated recording or the
    /// demo is playing.
    pub simulated: bool,
    /// Most events kept for resumption (the oldest beyond it are purged at each ingest);
    /// `None`: no limit by count.
    pub retain_events: Option<u64>,
    /// Retention by age, days: once at start and then hourly, events older than this are
    /// purged and raw scores rolled up into hourly means ([`Store::apply_retention`]). `None`:
    /// no retention by age (what a played recording needs, whose times are not now).
    pub retention_days: Option<u32>,
    /// Interval of SSE keep-alive comments.
    pub keep_alive: Duration,
    /// Largest body `POST /ingest` reads, bytes; a larger one is refused with 413.
    pub max_body_bytes: usize,
    /// Most records in one ingested batch; more are refused with 413.
    pub max_batch: usize,
    /// Longest time to receive one ingest body; a slower one is refused with 408.
    pub body_timeout: Duration,
    /// Print an audit line per ingested batch to stderr.
    pub audit: bool,
    /// Serve HTTPS with this certificate and key ([`tls_config`]); `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// A TLS configuration from a PEM certificate chain (`cert`, leaf first) and its PEM private
/// key (`key`: PKCS#8, PKCS#1 or SEC1), TLS 1.2 and 1.3 with rustls' safe defaults.
///
/// # Errors
/// Naming the file that cannot be read, holds no certificate or key, or does not match.
pub fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow::anyhow!("--tls-cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("--tls-cert {}: {e}", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "--tls-cert {}: no PEM certificate in it", cert.display());
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| anyhow::anyhow!("--tls-key {}: {e}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("--tls-cert {} with its key: {e}", cert.display()))?;
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener`: each connection's handshake and requests run on a task
/// of their own, so a slow or failed handshake never holds up another client.
async fn serve_tls(listener: tokio::net::TcpListener, app: Router, tls: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else { return };
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).with_upgrades().await;
        });
    }
}

impl GatewayOptions {
    /// Defaults for `units`: no tokens, no player, not simulated, 100,000 events and 30 days
    /// kept, keep-alives every 15 s, 32 MiB and 10,000 records per batch, 120 s per body,
    /// audit lines on.
    pub fn new(units: Vec<UnitInfo>) -> Self {
        Self {
            units,
            tokens: Tokens::new(),
            player: None,
            simulated: false,
            retain_events: Some(100_000),
            retention_days: Some(DEFAULT_RETENTION_DAYS),
            keep_alive: Duration::from_secs(15),
            max_body_bytes: DEFAULT_MAX_BODY_MIB << 20,
            max_batch: DEFAULT_MAX_BATCH,
            body_timeout: Duration::from_secs(120),
            audit: true,
            tls: None,
        }
    }

    /// The gateway that [`ServeOptions`] describe: the recording played into the store, no
    /// retention by age, the token (if any) as a read token named `token`.
    ///
    /// # Errors
    /// When the token is empty or holds white space.
    pub fn from_serve_options(o: ServeOptions) -> Result<Self, String> {
        let mut tokens = Tokens::new();
        if let Some(t) = &o.token {
            tokens.add("token", Scope::Read, t)?;
        }
        let simulated = o.recording.header.is_simulated();
        Ok(Self {
            tokens,
            simulated,
            player: Some(Player { recording: o.recording, speed: o.speed, looping: o.looping, anchor: o.anchor }),
            retain_events: Some(o.retain_events.max(1) as u64),
            retention_days: None,
            keep_alive: o.keep_alive,
            ..Self::new(o.units)
        })
    }
}

/// Handle of a running server: its address, and a way to stop it.
pub struct ServerHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    helpers: Vec<tokio::task::JoinHandle<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl ServerHandle {
    /// Stops accepting connections, ends the open event streams and drops the connections, and
    /// stops the player and the retention task. What was acknowledged is in the store.
    pub fn abort(&self) {
        self.shutdown.send_replace(true);
        self.task.abort();
        for h in &self.helpers {
            h.abort();
        }
    }

    /// Waits until the server ends (it does not, unless aborted).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `addr` and starts the reference server of `options` on the current tokio runtime:
/// an in-memory store, with the recording played into it.
///
/// # Errors
/// When the in-memory store cannot be created, the token is unusable, or the address cannot
/// be bound.
pub async fn start(options: ServeOptions, addr: SocketAddr) -> std::io::Result<ServerHandle> {
    let store = Store::open(None).map_err(std::io::Error::other)?;
    let options = GatewayOptions::from_serve_options(options).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    start_gateway(store, options, addr).await
}

/// Binds `addr` and starts the gateway on the current tokio runtime, serving `store`: the HTTP
/// server, the player (when `options.player` is set) and the retention task (when
/// `options.retention_days` is set).
///
/// # Errors
/// When the address cannot be bound.
pub async fn start_gateway(mut store: Store, mut options: GatewayOptions, addr: SocketAddr) -> std::io::Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    store.set_event_limit(options.retain_events);
    let last = store.last_event_id().map_err(std::io::Error::other)?;
    let persistent = store.path().is_some();
    let (newest, _) = tokio::sync::watch::channel(last);
    let (shutdown, _) = tokio::sync::watch::channel(false);
    let player = options.player.take();
    let shared = Arc::new(Shared {
        store: Mutex::new(store),
        waiting: Mutex::new(Vec::new()),
        recent: RwLock::new(Recent::default()),
        newest,
        shutdown: shutdown.clone(),
        known: options.units.iter().map(|u| u.id.clone()).collect(),
        kinds: options.units.iter().map(|u| (u.id.clone(), u.kind.clone())).collect(),
        thresholds: LevelThresholds::default(),
        stats: Mutex::new(None),
        persistent,
        options,
    });
    let mut helpers = Vec::new();
    if let Some(player) = player {
        helpers.push(tokio::spawn(play(Arc::clone(&shared), player)));
    }
    if let Some(days) = shared.options.retention_days {
        helpers.push(tokio::spawn(retain(Arc::clone(&shared), days)));
    }
    let app = router(Arc::clone(&shared));
    let tls = shared.options.tls.clone();
    let task = tokio::spawn(async move {
        match tls {
            Some(tls) => serve_tls(listener, app, tls).await,
            None => {
                let _ = axum::serve(listener, app).await;
            }
        }
    });
    Ok(ServerHandle { addr, task, helpers, shutdown })
}

/// One stored event as the event stream sends it: its `id:`, `event:` and `data:` lines and the
/// blank line that ends it, encoded once and shared (a reference count, no copy) by every
/// subscriber.
#[derive(Clone, Debug)]
struct Frame {
    id: u64,
    bytes: Bytes,
}

impl Frame {
    /// Encodes `e` per the SSE format: one `data:` line per line of its data. The store's data
    /// is one line of JSON; a line break in it (CR, LF or CRLF) starts another `data:` line, so
    /// a client reads back the same text with every line break as LF.
    fn encode(e: &StoredEvent) -> Frame {
        let mut out = String::with_capacity(e.data.len() + e.kind.len() + 48);
        out.push_str("id: ");
        out.push_str(&e.id.to_string());
        out.push_str("\nevent: ");
        out.push_str(e.kind.lines().next().unwrap_or(""));
        out.push('\n');
        // Every line break (CRLF, CR or LF) as LF, then one `data:` line per line.
        let data = if e.data.contains('\r') {
            std::borrow::Cow::Owned(e.data.replace("\r\n", "\n").replace('\r', "\n"))
        } else {
            std::borrow::Cow::Borrowed(e.data.as_str())
        };
        for line in data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Frame { id: e.id, bytes: Bytes::from(out) }
    }
}

/// The keep-alive an idle event stream sends: a comment line.
const KEEP_ALIVE_FRAME: &[u8] = b":\n\n";

/// The newest events, contiguous by id and encoded for the stream, shared by every event stream
/// so that a batch read once from the store reaches every subscriber without a query or an
/// encoding each.
#[derive(Default)]
struct Recent {
    events: VecDeque<Frame>,
    bytes: usize,
}

impl Recent {
    /// Appends events newer than those held; a gap (events missed) starts the cache over.
    fn extend(&mut self, events: Vec<StoredEvent>) {
        for e in events {
            match self.events.back() {
                Some(b) if e.id <= b.id => continue,
                Some(b) if e.id != b.id + 1 => self.clear(),
                _ => {}
            }
            let frame = Frame::encode(&e);
            self.bytes += frame.bytes.len();
            self.events.push_back(frame);
            while self.events.len() > RECENT_EVENTS || self.bytes > RECENT_BYTES {
                self.pop();
            }
        }
    }

    fn pop(&mut self) {
        if let Some(e) = self.events.pop_front() {
            self.bytes -= e.bytes.len();
        }
    }

    fn clear(&mut self) {
        self.events.clear();
        self.bytes = 0;
    }

    /// Drops events below `oldest` (purged from the store); `None` (the log is empty) drops
    /// all.
    fn drop_before(&mut self, oldest: Option<u64>) {
        while self.events.front().is_some_and(|e| oldest.is_none_or(|o| e.id < o)) {
            self.pop();
        }
    }

    /// Up to `limit` events after `after` when the cache holds the one right after it; `None`
    /// when it does not (the store must answer).
    fn after(&self, after: u64, limit: usize) -> Option<Vec<Frame>> {
        let front = self.events.front()?.id;
        let skip = after.checked_add(1)?.checked_sub(front)?;
        let skip = usize::try_from(skip).ok()?;
        (skip < self.events.len()).then(|| self.events.iter().skip(skip).take(limit).cloned().collect())
    }
}

struct Shared {
    store: Mutex<Store>,
    /// Ingest batches waiting for the store, stored together by the next request to take it.
    waiting: Mutex<Vec<Waiting>>,
    recent: RwLock<Recent>,
    /// The newest event id; subscribers wait on it.
    newest: tokio::sync::watch::Sender<u64>,
    /// Set on abort: open event streams end, as they would when the process dies.
    shutdown: tokio::sync::watch::Sender<bool>,
    options: GatewayOptions,
    known: HashSet<String>,
    /// Unit id → kind, for rankings.
    kinds: HashMap<String, String>,
    thresholds: LevelThresholds,
    /// The store's counts for `/health`, with when they were taken.
    stats: Mutex<Option<(Instant, Value)>>,
    /// Whether the store is a file.
    persistent: bool,
}

impl Shared {
    fn store(&self) -> Result<MutexGuard<'_, Store>, ApiError> {
        self.store.lock().map_err(|_| ApiError::internal("the store's lock is poisoned (a request failed while holding it); restart the gateway"))
    }

    /// Adds freshly stored events to the cache and wakes the event streams. Called with the
    /// store locked, so events go in in id order.
    fn publish(&self, store: &Store, fresh: Vec<StoredEvent>) -> Result<(), ApiError> {
        let oldest = store.oldest_event_id()?;
        let last = fresh.last().map(|e| e.id);
        {
            let mut recent = self.recent.write().map_err(|_| ApiError::internal("the event cache's lock is poisoned; restart the gateway"))?;
            recent.extend(fresh);
            recent.drop_before(oldest);
        }
        if let Some(last) = last {
            self.newest.send_if_modified(|v| {
                let newer = last > *v;
                if newer {
                    *v = last;
                }
                newer
            });
        }
        Ok(())
    }

    fn has_unit(&self, id: &str) -> bool {
        self.known.contains(id)
    }

    /// A store item as the contract serves it: `unit, total, threat, asset, compliance,
    /// level`.
    fn score_item(&self, s: &CurrentScore) -> Value {
        json!({
            "unit": s.unit, "total": s.total, "threat": s.threat, "asset": s.asset, "compliance": s.compliance,
            "level": self.thresholds.level(s.total as f32),
        })
    }
}

/// The one ingest path, for a pushed batch and a replayed record alike: validates and stores
/// `records` in one transaction (see [`Store::ingest`]; units not in the gateway's list are
/// rejected), purges events beyond the count kept, and hands the new events to the event
/// streams. Blocking: call it off the async workers.
///
/// # Errors
/// A 500 [`ApiError`] when the store fails (the batch is then not stored) or a lock is
/// poisoned.
fn ingest_batch(shared: &Shared, records: Vec<Value>) -> Result<IngestReport, ApiError> {
    // A group commit: the batch waits in the queue; whichever request takes the store next
    // (this one, or one already waiting for it) stores every waiting batch in one transaction
    // with one fsync, and answers each. Under load, batches that arrive while one is being
    // stored share the next commit instead of queueing for a commit each.
    let queue_poisoned = || ApiError::internal("the ingest queue's lock is poisoned; restart the gateway");
    let (reply, answer) = std::sync::mpsc::channel();
    shared.waiting.lock().map_err(|_| queue_poisoned())?.push(Waiting { records, reply });
    let store = shared.store();
    // Stored by another request's commit while this one waited for the store: done.
    if let Ok(done) = answer.try_recv() {
        return done;
    }
    let group = std::mem::take(&mut *shared.waiting.lock().map_err(|_| queue_poisoned())?);
    let mut store = match store {
        Ok(store) => store,
        Err(e) => {
            // Nobody can store them: answer every waiting batch (its memory goes with it).
            for w in group {
                let _ = w.reply.send(Err(e.clone()));
            }
            return answer.try_recv().unwrap_or(Err(e));
        }
    };
    if !group.is_empty() {
        let known = |id: &str| shared.has_unit(id);
        let known: Option<&dyn Fn(&str) -> bool> = if shared.known.is_empty() { None } else { Some(&known) };
        let batches: Vec<&[Value]> = group.iter().map(|w| w.records.as_slice()).collect();
        let outcome = store.ingest_group(&batches, known, Utc::now()).map_err(ApiError::from).and_then(|mut done| {
            let fresh: Vec<StoredEvent> = done.iter_mut().flatten().flat_map(|(_, events)| std::mem::take(events)).collect();
            if !fresh.is_empty() {
                shared.publish(&store, fresh)?;
            }
            Ok(done)
        });
        match outcome {
            Ok(done) => {
                for (w, batch) in group.into_iter().zip(done) {
                    let _ = w.reply.send(batch.map(|(report, _)| report).map_err(ApiError::from));
                }
            }
            Err(e) => {
                for w in group {
                    let _ = w.reply.send(Err(e.clone()));
                }
            }
        }
    }
    drop(store);
    answer.recv().map_err(|_| ApiError::internal("the batch was taken for storing but never answered"))?
}

/// An ingest batch waiting for the store (see `ingest_batch`), with where its answer goes.
struct Waiting {
    records: Vec<Value>,
    reply: std::sync::mpsc::Sender<Result<IngestReport, ApiError>>,
}

/// An error answer: a status and `{"error": message}`.
#[derive(Clone, Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    /// More fields for the body.
    extra: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), extra: None }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn internal(message: impl Into<String>) -> Self {
        let e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, message);
        eprintln!("serve: error: {}", e.message);
        e
    }

    fn with(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(format!("store: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.message});
        if let (Value::Object(map), Some(Value::Object(extra))) = (&mut body, self.extra) {
            map.extend(extra);
        }
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE || self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body is not read: the connection cannot be reused.
            headers.insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

/// Runs `f` with the shared state on the blocking pool (store calls block: SQLite, fsync).
async fn blocking<T: Send + 'static>(shared: &Arc<Shared>, f: impl FnOnce(&Shared) -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || f(&shared)).await.map_err(|e| ApiError::internal(format!("a request's worker failed: {e}")))?
}

/// Query parameters as `T`, or a 400 naming what is wrong.
fn query<T: serde::de::DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri).map(|q| q.0).map_err(|e| ApiError::bad_request(format!("query: {e}")))
}

/// An RFC 3339 query parameter, or a 400.
fn time_param(name: &str, value: Option<&str>) -> Result<Option<DateTime<FixedOffset>>, ApiError> {
    value
        .map(|v| DateTime::parse_from_rfc3339(v.trim()).map_err(|e| ApiError::bad_request(format!("`{name}` must be an RFC 3339 time with offset ({e})"))))
        .transpose()
}

fn now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&BEIJING)
}

fn router(shared: Arc<Shared>) -> Router {
    let read = Router::new()
        .route("/health", get(health))
        .route("/units", get(units))
        .route("/units/{id}", get(unit_detail))
        .route("/units/{id}/history", get(history))
        .route("/rankings", get(rankings))
        .route("/scores", get(scores))
        .route("/alerts", get(alerts))
        .route("/events", get(events))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), auth_read));
    let ingest = Router::new().route("/ingest", post(ingest)).layer(middleware::from_fn_with_state(Arc::clone(&shared), auth_ingest));
    let operate = Router::new().route("/alerts/{id}/ack", post(acknowledge)).layer(middleware::from_fn_with_state(Arc::clone(&shared), auth_operate));
    Router::new().nest(PREFIX, read.merge(ingest).merge(operate)).with_state(shared)
}

/// The client a request was authorised as: its token's name, or `anonymous` when no token is
/// configured.
#[derive(Clone, Debug)]
struct Caller(String);

async fn auth_read(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    authorize(&shared, Scope::Read, request, next).await
}

async fn auth_ingest(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    authorize(&shared, Scope::Ingest, request, next).await
}

async fn auth_operate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    authorize(&shared, Scope::Operate, request, next).await
}

/// The bearer token of a request: `Authorization: Bearer <token>`, the scheme in any case
/// (RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn authorize(shared: &Shared, needed: Scope, mut request: Request, next: Next) -> Response {
    let caller = if shared.options.tokens.is_empty() {
        "anonymous".to_owned()
    } else {
        let Some(presented) = bearer(request.headers()) else {
            return ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token (Authorization: Bearer <token>)").into_response();
        };
        match shared.options.tokens.identify(presented) {
            None => return ApiError::new(StatusCode::UNAUTHORIZED, "wrong bearer token").into_response(),
            Some((_, scope)) if needed != Scope::Read && scope != needed => {
                let message = match needed {
                    Scope::Ingest => "this token may not ingest; ingesting needs an ingest token",
                    _ => "this token may not acknowledge; acknowledging needs an operator token",
                };
                return ApiError::new(StatusCode::FORBIDDEN, message).into_response();
            }
            Some((name, _)) => name.to_owned(),
        }
    };
    request.extensions_mut().insert(Caller(caller));
    next.run(request).await
}

/// Plays the recording through [`ingest_batch`], one 100 ms tick at a time, each replayed
/// record as its own batch (so its events get the same ids on every run with the same anchor).
async fn play(shared: Arc<Shared>, player: Player) {
    let recording = Arc::clone(&player.recording);
    let mut replay = Replay::new(Arc::clone(&recording), player.speed, player.looping, 3600.0);
    let pass_len = TimeDelta::milliseconds(((replay.duration_s() + LOOP_HOLD_S) * 1000.0) as i64);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tokio::time::Instant::now();
    let (mut pass, mut played, mut first) = (0u32, false, true);
    let mut complaints = 0usize;
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        let dt = if first { player.anchor.and_then(|a| a.elapsed().ok()).map_or(0.0, |d| d.as_secs_f64()) } else { (now - last).as_secs_f64() };
        first = false;
        last = now;
        let step = replay.advance(dt);
        if step.records.is_empty() {
            continue;
        }
        let mut batches = Vec::with_capacity(step.records.len());
        for index in step.records {
            // A restart shows up as an index going back to the start.
            if index == 0 && played {
                pass += 1;
            }
            played = true;
            let (line, record) = &recording.records[index];
            batches.push((*line, ingest_records(record, pass_len * pass as i32, pass)));
        }
        let result = blocking(&shared, move |shared| {
            let mut refused = Vec::new();
            for (line, records) in batches {
                let report = ingest_batch(shared, records)?;
                refused.extend(report.rejected.into_iter().map(|r| (line, r.reason)));
            }
            Ok(refused)
        })
        .await;
        // A few complaints for the operator, not one per tick.
        let complaints_left = 5usize.saturating_sub(complaints);
        match result {
            Ok(refused) => {
                for (line, reason) in refused.into_iter().take(complaints_left) {
                    eprintln!("serve: recording line {line} refused: {reason}");
                    complaints += 1;
                }
            }
            Err(e) if complaints_left > 0 => {
                eprintln!("serve: playing the recording: {}", e.message);
                complaints += 1;
            }
            Err(_) => {}
        }
    }
}

/// A score as the ingest format wants it: the shortest decimal of the f32, so 28.8 stays 28.8
/// and not 28.799999237060547.
fn decimal(x: f32) -> Value {
    // A non-finite value (never in a parsed recording) stays a string the store refuses, not a
    // null that would clear the unit.
    x.to_string().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or_else(|| Value::String(x.to_string()), Value::Number)
}

/// A replayed record as ingest-format records, at its time shifted by `shift`; in pass `pass`
/// > 0, alert ids are suffixed `#pass`.
fn ingest_records(record: &crate::feed::Record, shift: TimeDelta, pass: u32) -> Vec<Value> {
    let time = (record.t + shift).to_rfc3339();
    let alert_id = |id: &str| if pass == 0 { id.to_owned() } else { format!("{id}#{pass}") };
    match &record.body {
        RecordBody::Scores { scores, cleared } => scores
            .iter()
            .map(|s| {
                json!({"type": "score", "unit": s.unit, "time": time, "total": decimal(s.total), "threat": decimal(s.threat),
                       "asset": decimal(s.asset), "compliance": decimal(s.compliance)})
            })
            .chain(cleared.iter().map(|unit| json!({"type": "score", "unit": unit, "time": time, "total": null})))
            .collect(),
        RecordBody::Alert { id, unit, severity, category, title, status, analysis } => {
            let mut v = json!({
                "type": "alert", "id": alert_id(id), "unit": unit, "time": time, "severity": severity,
                "category": category, "title": title, "status": status,
            });
            if let Some(text) = analysis {
                v["analysis"] = json!(text);
            }
            vec![v]
        }
        RecordBody::AlertStatus { id, status, note } => {
            let mut v = json!({"type": "status", "id": alert_id(id), "status": status, "time": time});
            if let Some(text) = note {
                v["note"] = json!(text);
            }
            vec![v]
        }
    }
}

/// Applies retention once at start and then every hour.
async fn retain(shared: Arc<Shared>, days: u32) {
    let mut tick = tokio::time::interval(RETENTION_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = blocking(&shared, move |shared| {
            let mut store = shared.store()?;
            let report = store.apply_retention(now(), days)?;
            shared.publish(&store, Vec::new())?;
            Ok(report)
        })
        .await;
        match result {
            Ok(r) if r.events_purged > 0 || r.raw_scores_rolled_up > 0 => eprintln!(
                "retention ({days} days): {} raw scores rolled up into hourly means before {}, {} events purged",
                r.raw_scores_rolled_up,
                r.horizon.to_rfc3339(),
                r.events_purged
            ),
            Ok(_) => {}
            Err(e) => eprintln!("retention: {}", e.message),
        }
    }
}

/// `GET /health`: status, the newest data's time, the newest event id, whether the data is
/// simulated, and the store's size, counts and oldest record (recounted at most every 5 s; the
/// event ids in it are always current).
async fn health(State(shared): State<Arc<Shared>>) -> Result<Json<Value>, ApiError> {
    blocking(&shared, |shared| {
        let store = shared.store()?;
        let as_of = store.newest_sample_time()?;
        let last_event_id = store.last_event_id()?;
        let oldest_event_id = store.oldest_event_id()?;
        let mut cached = shared.stats.lock().map_err(|_| ApiError::internal("the stats lock is poisoned"))?;
        let mut stats = match &*cached {
            Some((at, stats)) if at.elapsed() < STATS_FOR => stats.clone(),
            _ => {
                let stats = serde_json::to_value(store.stats()?).unwrap_or(Value::Null);
                *cached = Some((Instant::now(), stats.clone()));
                stats
            }
        };
        if let Value::Object(map) = &mut stats {
            map.insert("persistent".into(), Value::Bool(shared.persistent));
            map.insert("last_event_id".into(), json!(last_event_id));
            map.insert("oldest_event_id".into(), json!(oldest_event_id));
        }
        Ok(Json(json!({"status": "ok", "as_of": as_of, "last_event_id": last_event_id, "simulated": shared.options.simulated, "store": stats})))
    })
    .await
}

async fn units(State(shared): State<Arc<Shared>>) -> Json<Vec<UnitInfo>> {
    Json(shared.options.units.clone())
}

/// The time the data stands at: the newest sample's, or the clock's before any.
fn data_now(store: &Store) -> Result<DateTime<FixedOffset>, ApiError> {
    Ok(store.newest_sample_time()?.unwrap_or_else(now))
}

/// `GET /units/{id}`: the store's [`crate::gateway::store::UnitDetail`] as it serialises
/// (`incidents {new, in_progress, closed, mttr_s, mttr_samples}`, `vulnerabilities {as_of,
/// value}` and `compliance {as_of, value {passed, total, failed}}` from the newest detail
/// records that had them, `null` when never sent, never derived from scores), what the wall's
/// drill-down (`feed::detail`) reads, plus the unit's name, kind, current score, its last 24 h
/// of totals and whether the data is simulated.
async fn unit_detail(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let Some(info) = shared.options.units.iter().find(|u| u.id == id).cloned() else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("unknown unit {id:?}")));
    };
    blocking(&shared, move |shared| {
        let store = shared.store()?;
        let data_now = data_now(&store)?;
        // Counted as of the later of the clock and the data: data stamped ahead is applied.
        let detail = store.unit_detail(&id, data_now.max(now()))?;
        let score = store.current_score(&id)?;
        let history = store.history(&id, data_now - TimeDelta::hours(24), data_now, None)?;
        let mut doc = serde_json::to_value(&detail).map_err(|e| ApiError::internal(format!("unit detail: {e}")))?;
        if let Value::Object(map) = &mut doc {
            map.insert("name".into(), json!(info.name));
            map.insert("kind".into(), json!(info.kind));
            map.insert("score".into(), score.as_ref().map_or(Value::Null, |s| shared.score_item(s)));
            map.insert("as_of".into(), json!(score.as_ref().map(|s| s.time)));
            map.insert("history".into(), history.iter().map(|p| json!({"t": p.t, "total": p.total})).collect());
            map.insert("simulated".into(), json!(shared.options.simulated));
        }
        Ok(Json(doc))
    })
    .await
}

#[derive(Deserialize)]
struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
}

/// `GET /units/{id}/history?from=&to=&step=`: the unit's stored points with `from <= t <= to`
/// (RFC 3339; default the 24 h up to the newest data), each point's `total, threat, asset,
/// compliance` (null for a gap) and `samples`; `step` (seconds) averages into buckets, none by
/// default.
async fn history(State(shared): State<Arc<Shared>>, Path(id): Path<String>, uri: Uri) -> Result<Json<Value>, ApiError> {
    if !shared.has_unit(&id) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("unknown unit {id:?}")));
    }
    let q: HistoryQuery = query(&uri)?;
    let from = time_param("from", q.from.as_deref())?;
    let to = time_param("to", q.to.as_deref())?;
    let step = match q.step.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| ApiError::bad_request("`step` must be a whole number of seconds, 1 or more"))?),
    };
    blocking(&shared, move |shared| {
        let store = shared.store()?;
        let to = match to {
            Some(t) => t,
            None => data_now(&store)?,
        };
        let from = from.unwrap_or(to - TimeDelta::hours(24));
        if from > to {
            return Err(ApiError::bad_request("`from` is after `to`"));
        }
        let points = store.history(&id, from, to, step)?;
        Ok(Json(json!({"unit": id, "from": from, "to": to, "step_s": step, "points": points})))
    })
    .await
}

#[derive(Deserialize)]
struct RankingsQuery {
    period: Option<String>,
    at: Option<String>,
}

/// `GET /rankings?period=day|week|month&at=`: units ranked within their kind by mean total over
/// the Beijing-time period containing `at` (default the newest data's time), with the change
/// from the previous period.
async fn rankings(State(shared): State<Arc<Shared>>, uri: Uri) -> Result<Json<Value>, ApiError> {
    let q: RankingsQuery = query(&uri)?;
    let period = match q.period.as_deref().map(str::trim) {
        None | Some("") | Some("day") => Period::Day,
        Some("week") => Period::Week,
        Some("month") => Period::Month,
        Some(other) => return Err(ApiError::bad_request(format!("`period` must be day, week or month, not {other:?}"))),
    };
    let at = time_param("at", q.at.as_deref())?;
    blocking(&shared, move |shared| {
        let store = shared.store()?;
        let at = match at {
            Some(t) => t,
            None => data_now(&store)?,
        };
        let rankings = store.rankings(period, at, &shared.kinds).map_err(|e| match e {
            StoreError::InvalidArgument(m) => ApiError::bad_request(m),
            e => e.into(),
        })?;
        Ok(Json(serde_json::to_value(rankings).unwrap_or(Value::Null)))
    })
    .await
}

/// `GET /scores`: every unit's current score with its level, a cleared unit with a null
/// total, and the event id to resume after. 503 while the store holds nothing at all.
async fn scores(State(shared): State<Arc<Shared>>) -> Result<Json<ScoresSnapshot>, ApiError> {
    blocking(&shared, |shared| {
        let snap = shared.store()?.snapshot()?;
        let as_of = match snap.as_of {
            Some(t) => t,
            None if snap.last_event_id == 0 => return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no data yet")),
            // Alerts but no scores yet: an empty snapshot as of now.
            None => now(),
        };
        let mut scores: Vec<Value> = snap.scores.iter().map(|s| shared.score_item(s)).collect();
        scores.extend(snap.cleared.iter().map(|c| no_data_item(&c.unit)));
        Ok(Json(ScoresSnapshot { as_of, last_event_id: snap.last_event_id, scores, simulated: shared.options.simulated }))
    })
    .await
}

#[derive(Deserialize)]
struct AlertsQuery {
    since: Option<String>,
}

/// `GET /alerts?since=N`: with `since=0` (or none), the newest 5,000 alerts, the wall's
/// snapshot; otherwise up to 5,000 alerts after cursor `N`. Each with its current status.
async fn alerts(State(shared): State<Arc<Shared>>, uri: Uri) -> Result<Json<AlertsPage>, ApiError> {
    let q: AlertsQuery = query(&uri)?;
    let since = match q.since.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(s) => s.parse::<u64>().map_err(|_| ApiError::bad_request("`since` must be a non-negative integer"))?,
    };
    blocking(&shared, move |shared| {
        let store = shared.store()?;
        let page = if since == 0 { store.recent_alerts(ALERTS_PAGE)? } else { store.alerts_since(since, ALERTS_PAGE)? };
        Ok(Json(page))
    })
    .await
}

#[derive(Deserialize)]
struct ResumeQuery {
    last_event_id: Option<String>,
}

/// `GET /events`: Server-Sent Events after `Last-Event-ID` (header, or `?last_event_id=`),
/// with the store's event ids; only new events without one. 400 for an id that is not a
/// non-negative integer; 409 when the id is ahead of the store or its next event was purged:
/// the client must take a snapshot. A subscriber that falls so far behind that its next event
/// is purged meanwhile sees its stream end, and gets 409 when it resumes.
async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    let bad = || ApiError::bad_request("Last-Event-ID must be a non-negative integer that fits 64 bits");
    let given = match headers.get("last-event-id") {
        Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or_else(bad)?),
        None => match query::<ResumeQuery>(&uri)?.last_event_id {
            Some(s) => Some(s.trim().parse::<u64>().map_err(|_| bad())?),
            None => None,
        },
    };
    let start = blocking(&shared, move |shared| {
        let store = shared.store()?;
        let last = store.last_event_id()?;
        let oldest = store.oldest_event_id()?.unwrap_or(last.saturating_add(1));
        match given {
            Some(id) if id > last => {
                Err(ApiError::new(StatusCode::CONFLICT, "Last-Event-ID is ahead of this server; take a snapshot").with(json!({"last_event_id": last})))
            }
            Some(id) if id.saturating_add(1) < oldest => {
                Err(ApiError::new(StatusCode::CONFLICT, "events after Last-Event-ID are no longer kept; take a snapshot")
                    .with(json!({"oldest_event_id": oldest})))
            }
            Some(id) => Ok(id),
            None => Ok(last),
        }
    })
    .await?;
    let rx = shared.newest.subscribe();
    let stop = shared.shutdown.subscribe();
    let keep_alive = shared.options.keep_alive;
    let mut follow = Follow { shared: Arc::clone(&shared), after: start, rx, stop, buf: VecDeque::new() };
    // The follower runs on its own task and hands events over (two at most in flight); the
    // response sends a keep-alive whenever none came for `keep_alive`, whatever the follower
    // is waiting for (new events, or the store while catching up). A closed connection ends
    // the follower.
    let (tx, events) = tokio::sync::mpsc::channel::<Bytes>(2);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                next = follow.next() => {
                    let Some(bytes) = next else { break };
                    if tx.send(bytes).await.is_err() {
                        break;
                    }
                }
                () = tx.closed() => break,
            }
        }
    });
    let stream = stream::unfold(events, move |mut events| async move {
        match tokio::time::timeout(keep_alive, events.recv()).await {
            Ok(Some(bytes)) => Some((Ok::<_, std::convert::Infallible>(bytes), events)),
            Ok(None) => None,
            Err(_) => Some((Ok(Bytes::from_static(KEEP_ALIVE_FRAME)), events)),
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    // A reverse proxy (nginx) in front must pass events on as they come.
    headers.insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    Ok(response)
}

/// One subscriber's place in the event log.
struct Follow {
    shared: Arc<Shared>,
    /// The last event sent.
    after: u64,
    rx: tokio::sync::watch::Receiver<u64>,
    stop: tokio::sync::watch::Receiver<bool>,
    buf: VecDeque<Frame>,
}

impl Follow {
    /// The next event to send, from the shared cache or the store; `None` ends the stream
    /// (shutdown, a gap, or a store failure).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if *self.stop.borrow() {
                return None;
            }
            if let Some(e) = self.buf.pop_front() {
                self.after = e.id;
                return Some(e.bytes);
            }
            let newest = *self.rx.borrow_and_update();
            if self.after < newest {
                let cached = self.shared.recent.read().ok().and_then(|r| r.after(self.after, STREAM_CHUNK));
                let events = match cached {
                    Some(events) => events,
                    None => {
                        let after = self.after;
                        let fetched = blocking(&self.shared, move |shared| {
                            let store = shared.store()?;
                            Ok((store.oldest_event_id()?, store.events_after(after, STREAM_CHUNK)?))
                        })
                        .await;
                        let Ok((oldest, events)) = fetched else { return None };
                        // Events right after ours were purged: end, so the client resumes and
                        // is told (409) to take a snapshot, rather than skip them unaware.
                        if oldest.is_none_or(|o| after.saturating_add(1) < o) {
                            return None;
                        }
                        events.iter().map(Frame::encode).collect()
                    }
                };
                if events.is_empty() {
                    return None;
                }
                self.buf.extend(events);
                continue;
            }
            tokio::select! {
                changed = self.rx.changed() => if changed.is_err() { return None; },
                _ = self.stop.changed() => return None,
            }
        }
    }
}

/// A record cap for a JSON array body: deserialises its elements one by one and stops past
/// `max`, so a huge array is refused before it is all in memory.
#[derive(Clone, Copy)]
struct Bounded<'a> {
    max: usize,
    over: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            if out.len() == self.max {
                self.over.set(true);
                return Err(de::Error::custom("too many records"));
            }
            out.push(v);
        }
        Ok(out)
    }
}

/// A batch as read from an ingest body, before the store judged it.
#[derive(Default)]
struct ParsedBatch {
    /// Records that parsed as JSON, for the store.
    values: Vec<Value>,
    /// The batch index of each of `values`.
    index: Vec<usize>,
    /// NDJSON: the 1-based body line of each record, by batch index.
    lines: Option<Vec<usize>>,
    /// Records refused before the store saw them (NDJSON lines that are not JSON).
    rejected: Vec<Rejection>,
}

impl ParsedBatch {
    /// The store's report in batch terms: its indices mapped back, this batch's own
    /// rejections added, NDJSON reasons prefixed with `line N: `, in index order.
    fn merge(self, mut report: IngestReport) -> IngestReport {
        let mut rejected = self.rejected;
        for r in report.rejected.drain(..) {
            let index = self.index.get(r.index).copied().unwrap_or(r.index);
            let reason = match self.lines.as_ref().and_then(|l| l.get(index)) {
                Some(line) => format!("line {line}: {}", r.reason),
                None => r.reason,
            };
            rejected.push(Rejection { index, reason });
        }
        rejected.sort_by_key(|r| r.index);
        report.rejected = rejected;
        report
    }
}

fn too_many(max: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("more than {max} records in one batch; send smaller batches")).with(json!({"max_records": max}))
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {max} bytes; send smaller batches")).with(json!({"max_bytes": max}))
}

/// Reads an ingest body: a JSON array of records, or NDJSON (one record per line, blank lines
/// skipped, a line that is not UTF-8 or not JSON refused alone as `line N: reason`).
///
/// # Errors
/// 413 past `max_batch` records; 400 for an array body that is not valid JSON.
fn parse_batch(body: &[u8], max_batch: usize) -> Result<ParsedBatch, ApiError> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(ParsedBatch::default()),
        Some(b'[') => {
            let over = Cell::new(false);
            let mut de = serde_json::Deserializer::from_slice(body);
            let values = match (Bounded { max: max_batch, over: &over }).deserialize(&mut de) {
                Ok(v) => v,
                Err(_) if over.get() => return Err(too_many(max_batch)),
                Err(e) => return Err(ApiError::bad_request(format!("the body is not a valid JSON array of records: {e}"))),
            };
            de.end().map_err(|e| ApiError::bad_request(format!("the body has more after its JSON array: {e}")))?;
            let index = (0..values.len()).collect();
            Ok(ParsedBatch { values, index, lines: None, rejected: Vec::new() })
        }
        Some(_) => {
            let mut batch = ParsedBatch { lines: Some(Vec::new()), ..ParsedBatch::default() };
            let mut lines = Vec::new();
            for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                if raw.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let (index, line) = (lines.len(), i + 1);
                if index == max_batch {
                    return Err(too_many(max_batch));
                }
                lines.push(line);
                let reason = match std::str::from_utf8(raw) {
                    Err(e) => format!("line {line}: not valid UTF-8 (at byte {} of the line)", e.valid_up_to() + 1),
                    Ok(text) => match serde_json::from_str::<Value>(text) {
                        Ok(v) => {
                            batch.values.push(v);
                            batch.index.push(index);
                            continue;
                        }
                        Err(e) => format!("line {line}: not valid JSON: {e}"),
                    },
                };
                batch.rejected.push(Rejection { index, reason });
            }
            batch.lines = Some(lines);
            Ok(batch)
        }
    }
}

/// Reads a body up to `cap` bytes within `timeout`, never holding more than `cap`.
async fn read_body(body: Body, cap: usize, timeout: Duration) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let read = async {
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
            if buf.len() + chunk.len() > cap {
                return Err(too_large(cap));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ApiError::new(StatusCode::REQUEST_TIMEOUT, format!("the body did not arrive within {} s", timeout.as_secs())))?
}

/// `POST /ingest`: a batch of ingest-format records (docs: [`crate::gateway`]) as a JSON array
/// or NDJSON; answers the store's report (accepted, duplicate, rejected with index and reason,
/// first and last event id) once the batch is durable, and prints an audit line.
async fn ingest(State(shared): State<Arc<Shared>>, Extension(caller): Extension<Caller>, request: Request) -> Result<Json<IngestReport>, ApiError> {
    let cap = shared.options.max_body_bytes;
    let length = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if length.is_some_and(|n| n > cap as u64) {
        if shared.options.audit {
            eprintln!("ingest: client {} refused (413): declared body of {} bytes", caller.0, length.unwrap_or(0));
        }
        return Err(too_large(cap));
    }
    let max_batch = shared.options.max_batch;
    let result = match read_body(request.into_body(), cap, shared.options.body_timeout).await {
        Ok(body) => {
            blocking(&shared, move |shared| {
                let mut parsed = parse_batch(&body, max_batch)?;
                let stored = ingest_batch(shared, std::mem::take(&mut parsed.values))?;
                Ok(parsed.merge(stored))
            })
            .await
        }
        Err(e) => Err(e),
    };
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            if shared.options.audit {
                eprintln!("ingest: client {} refused ({}): {}", caller.0, e.status.as_u16(), e.message);
            }
            return Err(e);
        }
    };
    if shared.options.audit {
        let events = match (report.first_event_id, report.last_event_id) {
            (Some(a), Some(b)) => format!("events {a}–{b}"),
            _ => "no events".to_owned(),
        };
        eprintln!("ingest: client {} accepted {} duplicate {} rejected {} ({events})", caller.0, report.accepted, report.duplicate, report.rejected.len());
    }
    Ok(Json(report))
}

/// `POST /api/v1/alerts/{id}/ack` (operator scope): records that the caller (its token's
/// name; `anonymous` with no tokens configured) acknowledged alert `id` now, and broadcasts an
/// `ack` event. 200 with `{"id", "by", "at", "event_id"}` when recorded; 200 with the first
/// acknowledgement's `by` and `at` and `"already": true` when it was acknowledged before; 404
/// for an unknown alert. An audit line either way.
async fn acknowledge(State(shared): State<Arc<Shared>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if id.chars().count() > crate::gateway::store::MAX_ID_CHARS {
        return Err(ApiError::bad_request("alert id too long"));
    }
    let by = caller.0.clone();
    // Whole microseconds: what the store keeps, so the answer and a later read agree.
    let at = chrono::SubsecRound::trunc_subsecs(now(), 6);
    let (id2, by2) = (id.clone(), by.clone());
    let outcome = blocking(&shared, move |shared| {
        let mut store = shared.store()?;
        let outcome = store.acknowledge(&id2, &by2, at)?;
        if let AckOutcome::Recorded(event) = outcome {
            let fresh = store.events_after(event.saturating_sub(1), usize::MAX)?;
            shared.publish(&store, fresh)?;
        }
        Ok(outcome)
    })
    .await?;
    let answer = match outcome {
        AckOutcome::Recorded(event) => json!({"id": id, "by": by, "at": at, "event_id": event}),
        AckOutcome::Already(first) => json!({"id": id, "by": first.by, "at": first.at, "already": true}),
        AckOutcome::UnknownAlert => {
            if shared.options.audit {
                eprintln!("ack: client {by} refused (404): no alert {id:?}");
            }
            return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no alert with id {id:?}")));
        }
    };
    if shared.options.audit {
        eprintln!("ack: client {by} acknowledged alert {id}{}", if answer.get("already").is_some() { " (already acknowledged)" } else { "" });
    }
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokens_file_names_clients_and_never_quotes_a_token() {
        let mut tokens = Tokens::new();
        tokens.add_file_text("# walls\nwall-1 read r3ad-s3cret\n\n  platform   ingest   1ngest-s3cret  \n", "tokens.txt").unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.identify("r3ad-s3cret"), Some(("wall-1", Scope::Read)));
        assert_eq!(tokens.identify("1ngest-s3cret"), Some(("platform", Scope::Ingest)));
        assert_eq!(tokens.identify("r3ad-s3cre"), None);
        assert_eq!(tokens.identify(""), None);
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("s3cret") && shown.contains("wall-1 (read)"), "{shown}");
        let bad = [
            ("a read\n", "tokens.txt line 1: expected `name scope token` (3 fields), found 2"),
            ("a write s3cret-x\n", "tokens.txt line 1: scope must be `read`, `ingest` or `operator`, not \"write\""),
            ("# x\nb read s3cret-y\nc ingest s3cret-y\n", "tokens.txt line 3: the token of \"c\" is the same as that of \"b\"; give each client its own"),
            ("b read s3cret-y\nb read s3cret-z\n", "tokens.txt line 2: client name \"b\" is used twice"),
        ];
        for (text, want) in bad {
            let err = Tokens::new().add_file_text(text, "tokens.txt").unwrap_err();
            assert_eq!(err, want);
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let mut h = HeaderMap::new();
        for (value, want) in
            [("Bearer abc", Some("abc")), ("bearer  abc ", Some("abc")), ("BEARER abc", Some("abc")), ("Basic abc", None), ("Bearer", None), ("Bearer  ", None)]
        {
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(bearer(&h), want, "{value:?}");
        }
    }

    #[test]
    fn ndjson_lines_are_judged_alone_and_caps_hold() {
        let body = b"{\"type\":\"score\"}\n\n\xff\xfe\r\n{\"total\": NaN}\r\n[1]\n";
        let b = parse_batch(body, 10).unwrap();
        assert_eq!(b.values.len(), 2);
        assert_eq!(b.index, [0, 3]);
        assert_eq!(b.lines.as_deref(), Some(&[1, 3, 4, 5][..]));
        let reasons: Vec<(usize, &str)> = b.rejected.iter().map(|r| (r.index, r.reason.as_str())).collect();
        assert_eq!(reasons[0], (1, "line 3: not valid UTF-8 (at byte 1 of the line)"));
        assert_eq!(reasons[1].0, 2);
        assert!(reasons[1].1.starts_with("line 4: not valid JSON: "), "{reasons:?}");
        // The store's rejections come back in batch terms, with their lines.
        let report =
            IngestReport { rejected: vec![Rejection { index: 1, reason: "a record must be a JSON object, got an array".into() }], ..IngestReport::default() };
        let merged = b.merge(report);
        assert_eq!(merged.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(merged.rejected[2].reason, "line 5: a record must be a JSON object, got an array");
        // Arrays: whole-body errors and the record cap.
        assert_eq!(parse_batch(b" [{\"a\":1}, 2] ", 10).unwrap().values.len(), 2);
        assert_eq!(parse_batch(b"[1,2,3]", 2).err().map(|e| e.status), Some(StatusCode::PAYLOAD_TOO_LARGE));
        assert_eq!(parse_batch(b"1\n2\n3\n", 2).err().map(|e| e.status), Some(StatusCode::PAYLOAD_TOO_LARGE));
        assert_eq!(parse_batch(b"[1,", 10).err().map(|e| e.status), Some(StatusCode::BAD_REQUEST));
        assert_eq!(parse_batch(b"[1] x", 10).err().map(|e| e.status), Some(StatusCode::BAD_REQUEST));
        assert!(parse_batch(b"  \n ", 10).unwrap().values.is_empty());
    }

    #[test]
    fn an_event_frame_reads_back_as_the_stored_event() {
        let e = StoredEvent { id: 42, kind: "score".into(), data: "{\"a\":1}".into() };
        assert_eq!(&Frame::encode(&e).bytes[..], b"id: 42\nevent: score\ndata: {\"a\":1}\n\n");
        // Line breaks of every kind in the data come back as LF, through our own parser.
        let odd = StoredEvent { id: 7, kind: "alert".into(), data: "one\r\ntwo\rthree\nfour\r".into() };
        let mut parser = crate::feed::sse::SseParser::new(1 << 20);
        let items = parser.feed(&Frame::encode(&odd).bytes).unwrap();
        let [crate::feed::sse::SseItem::Event(got)] = &items[..] else { panic!("{items:?}") };
        assert_eq!((got.id.as_str(), got.event.as_str(), got.data.as_str()), ("7", "alert", "one\ntwo\nthree\nfour\n"));
    }

    #[test]
    fn the_event_cache_stays_contiguous() {
        let ev = |id: u64| StoredEvent { id, kind: "score".into(), data: "{}".into() };
        let mut r = Recent::default();
        assert!(r.after(0, 10).is_none(), "an empty cache cannot answer");
        r.extend((1..=5).map(ev).collect());
        assert_eq!(r.after(0, 10).map(|v| v.iter().map(|e| e.id).collect::<Vec<_>>()), Some(vec![1, 2, 3, 4, 5]));
        assert_eq!(r.after(3, 1).map(|v| v.iter().map(|e| e.id).collect::<Vec<_>>()), Some(vec![4]));
        assert!(r.after(5, 10).is_none(), "nothing after the newest");
        // A gap (events missed) starts over rather than skip them.
        r.extend(vec![ev(8)]);
        assert!(r.after(4, 10).is_none());
        assert_eq!(r.after(7, 10).map(|v| v.len()), Some(1));
        r.drop_before(Some(9));
        assert!(r.events.is_empty() && r.bytes == 0);
        r.extend(vec![ev(9)]);
        assert_eq!(r.bytes, "id: 9\nevent: score\ndata: {}\n\n".len(), "the cache counts the encoded bytes");
    }

    #[test]
    fn a_replayed_record_becomes_ingest_records() {
        let rec = Recording::parse(
            r#"{"format":"situation-wall-recording","version":1,"map":"m","start":"2026-11-29T08:00:00+08:00","description":"模拟数据 SIMULATED"}
{"t":"2026-11-29T08:00:00+08:00","type":"scores","scores":[{"unit":"a","total":28.8,"threat":1,"asset":2,"compliance":3},{"unit":"b","total":null}]}
{"t":"2026-11-29T08:00:10+08:00","type":"alert","id":"A1","unit":"a","severity":"p1","category":"c","title":"t"}"#,
        );
        assert!(rec.header.is_simulated());
        let scores = ingest_records(&rec.records[0].1, TimeDelta::zero(), 0);
        assert_eq!(scores[0]["total"], json!(28.8));
        assert_eq!(scores[1], json!({"type": "score", "unit": "b", "time": "2026-11-29T08:00:00+08:00", "total": null}));
        let alert = ingest_records(&rec.records[1].1, TimeDelta::hours(1), 2);
        assert_eq!(
            (alert[0]["id"].as_str(), alert[0]["severity"].as_str(), alert[0]["time"].as_str()),
            (Some("A1#2"), Some("unknown"), Some("2026-11-29T09:00:10+08:00"))
        );
        let mut store = Store::open(None).unwrap();
        let report = store.ingest(&[scores, alert].concat(), None).unwrap();
        assert_eq!((report.accepted, report.rejected.len()), (3, 0), "{report:?}");
    }
}
