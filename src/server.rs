//! `situation-wall serve`: a reference backend that plays a recording through the `/api/v1`
//! contract (see [`crate::api`] and docs/api/openapi.yaml), in real time or faster.
//!
//! Looping passes shift their timestamps forward by one pass length, so time and event ids
//! only ever increase and a client's newest-wins rule keeps working across passes.
//!
//! It keeps the contract's payload rules on what it re-serves: a recording's clear (an entry
//! with `"total": null`) goes out as a `null` item in the `score` event and in every later
//! snapshot, until a newer score; each unit appears at most once per payload (the recording
//! parser keeps a unit's last entry); an alert of unknown severity is served as `unknown`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, TimeDelta};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{AlertStatusEvent, AlertsPage, Health, PREFIX, ScoreEvent, ScoreItem, ScoresSnapshot, UnitInfo, no_data_item};
use crate::feed::replay::LOOP_HOLD_S;
use crate::feed::{RecordBody, Recording, Replay};
use crate::model::{Alert, AlertStatus, LevelThresholds, RiskState};

/// How the reference server runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The recording to play.
    pub recording: Arc<Recording>,
    /// Units served by `/units` (ids must match the recording's).
    pub units: Vec<UnitInfo>,
    /// Recording seconds per second.
    pub speed: f64,
    /// Start over at the end (timestamps and ids keep increasing); otherwise hold the end.
    pub looping: bool,
    /// Require `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    /// How many past events the server keeps for `Last-Event-ID` resumption.
    pub retain_events: usize,
    /// Interval of SSE keep-alive comments.
    pub keep_alive: Duration,
    /// Wall-clock time at which the recording's start plays. A server restarted with the same
    /// anchor resumes where the recording stands now instead of from its start. `None`: now.
    pub anchor: Option<std::time::SystemTime>,
}

/// One event in the server's log.
#[derive(Clone, Debug)]
struct StoredEvent {
    id: u64,
    name: &'static str,
    data: String,
}

#[derive(Default)]
struct Inner {
    state: RiskState,
    /// Alerts in arrival order (cursor = index + 1).
    alerts: Vec<String>,
    events: VecDeque<StoredEvent>,
    last_id: u64,
}

struct Shared {
    inner: RwLock<Inner>,
    newest: tokio::sync::watch::Sender<u64>,
    /// Set on abort: open event streams end, as they would when the process dies.
    shutdown: tokio::sync::watch::Sender<bool>,
    options: ServeOptions,
    thresholds: LevelThresholds,
}

/// Handle of a running server: its address, and a way to stop it.
pub struct ServerHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    player: tokio::task::JoinHandle<()>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl ServerHandle {
    /// Stops accepting connections and drops the open ones.
    pub fn abort(&self) {
        self.shutdown.send_replace(true);
        self.task.abort();
        self.player.abort();
    }

    /// Waits until the server ends (it does not, unless aborted).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `addr` and starts serving on the current tokio runtime.
///
/// # Errors
/// When the address cannot be bound.
pub async fn start(options: ServeOptions, addr: SocketAddr) -> std::io::Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (newest, _) = tokio::sync::watch::channel(0u64);
    let (shutdown, _) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Shared { inner: RwLock::new(Inner::default()), newest, shutdown: shutdown.clone(), options, thresholds: LevelThresholds::default() });
    let player = tokio::spawn(play(Arc::clone(&shared)));
    let app = router(Arc::clone(&shared));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(ServerHandle { addr, task, player, shutdown })
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/units", get(units))
        .route("/units/{id}", get(unit_detail))
        .route("/scores", get(scores))
        .route("/alerts", get(alerts))
        .route("/events", get(events))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), auth));
    Router::new().nest(PREFIX, api).with_state(shared)
}

async fn auth(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(token) = &shared.options.token {
        // The scheme name is case-insensitive (RFC 7235); the token is compared exactly.
        let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let ok = given.and_then(|v| v.split_once(' ')).is_some_and(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer") && t.trim() == token);
        if !ok {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], Json(json!({"error": "missing or wrong bearer token"}))).into_response();
        }
    }
    next.run(request).await
}

/// Plays the recording into the shared state, one 100 ms tick at a time.
async fn play(shared: Arc<Shared>) {
    let recording = Arc::clone(&shared.options.recording);
    let mut replay = Replay::new(Arc::clone(&recording), shared.options.speed, shared.options.looping, 3600.0);
    let pass_len = TimeDelta::milliseconds(((replay.duration_s() + LOOP_HOLD_S) * 1000.0) as i64);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tokio::time::Instant::now();
    let mut pass = 0u32;
    let mut first = true;
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        let dt = if first { shared.options.anchor.and_then(|a| a.elapsed().ok()).map_or(0.0, |d| d.as_secs_f64()) } else { (now - last).as_secs_f64() };
        first = false;
        last = now;
        let step = replay.advance(dt);
        if step.records.is_empty() {
            continue;
        }
        let mut inner = shared.inner.write().expect("server state lock");
        for index in step.records {
            // A restart shows up as an index going back to the start.
            if index == 0 && inner.last_id > 0 {
                pass += 1;
            }
            let shift = pass_len * pass as i32;
            let record = &recording.records[index].1;
            apply_record(&mut inner, &shared, &record.body, record.t + shift, pass);
        }
        let last_id = inner.last_id;
        drop(inner);
        shared.newest.send_replace(last_id);
    }
}

fn push_event(inner: &mut Inner, shared: &Shared, name: &'static str, data: String) {
    inner.last_id += 1;
    let id = inner.last_id;
    inner.events.push_back(StoredEvent { id, name, data });
    while inner.events.len() > shared.options.retain_events.max(1) {
        inner.events.pop_front();
    }
}

fn apply_record(inner: &mut Inner, shared: &Shared, body: &RecordBody, at: DateTime<FixedOffset>, pass: u32) {
    let alert_id = |id: &str| if pass == 0 { id.to_owned() } else { format!("{id}#{pass}") };
    match body {
        RecordBody::Scores { scores, cleared } => {
            let mut items = Vec::with_capacity(scores.len() + cleared.len());
            for s in scores {
                if inner.state.apply_score(&s.unit, at, s.score()).is_ok() {
                    items.push(score_json(&s.unit, s.score(), &shared.thresholds));
                }
            }
            for unit in cleared {
                if inner.state.clear_score(unit, at).is_ok() {
                    items.push(no_data_item(unit));
                }
            }
            let data = serde_json::to_string(&ScoreEvent { as_of: at, scores: items }).expect("serialises");
            push_event(inner, shared, "score", data);
        }
        RecordBody::Alert { id, unit, severity, category, title, status } => {
            let alert = Alert {
                id: alert_id(id),
                unit: unit.clone(),
                time: at,
                severity: *severity,
                category: category.clone(),
                title: title.clone(),
                status: *status,
            };
            if inner.state.apply_alert(alert.clone()).is_ok() {
                inner.alerts.push(alert.id.clone());
                push_event(inner, shared, "alert", serde_json::to_string(&alert).expect("serialises"));
            }
        }
        RecordBody::AlertStatus { id, status } => {
            let id = alert_id(id);
            if inner.state.apply_status(&id, *status, at).is_ok() {
                let data = serde_json::to_string(&AlertStatusEvent { id, status: *status, at }).expect("serialises");
                push_event(inner, shared, "alert_status", data);
            }
        }
    }
}

fn score_json(unit: &str, s: crate::model::RiskScore, thresholds: &LevelThresholds) -> Value {
    serde_json::to_value(ScoreItem {
        unit: unit.to_owned(),
        total: s.total,
        threat: s.threat,
        asset: s.asset,
        compliance: s.compliance,
        level: Some(thresholds.level(s.total)),
    })
    .expect("serialises")
}

async fn health(State(shared): State<Arc<Shared>>) -> Json<Health> {
    let inner = shared.inner.read().expect("lock");
    Json(Health { status: "ok".into(), as_of: inner.state.last_update, last_event_id: inner.last_id })
}

async fn units(State(shared): State<Arc<Shared>>) -> Json<Vec<UnitInfo>> {
    Json(shared.options.units.clone())
}

async fn scores(State(shared): State<Arc<Shared>>) -> Response {
    let inner = shared.inner.read().expect("lock");
    let Some(as_of) = inner.state.last_update else {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], Json(json!({"error": "no data yet"}))).into_response();
    };
    // A unit cleared to no data is listed with a null total, so that a client taking this
    // snapshot (after a 409, say) clears it too.
    let scores = inner.state.units().map(|(id, u)| u.score.map_or_else(|| no_data_item(id), |s| score_json(id, s, &shared.thresholds))).collect();
    Json(ScoresSnapshot { as_of, last_event_id: inner.last_id, scores }).into_response()
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn alerts(State(shared): State<Arc<Shared>>, Query(q): Query<Since>) -> Json<AlertsPage> {
    let inner = shared.inner.read().expect("lock");
    let from = (q.since as usize).min(inner.alerts.len());
    let alerts = inner.alerts[from..].iter().filter_map(|id| inner.state.alert(id)).map(|a| serde_json::to_value(a).expect("serialises")).collect();
    Json(AlertsPage { alerts, next: inner.alerts.len() as u64 })
}

/// `GET /units/{id}`: score history, incidents by status with MTTR, vulnerabilities by
/// severity and compliance checks. The reference server derives the last two from the scores
/// (marked `simulated`): asset risk drives vulnerability counts, the compliance gap the share
/// of failed checks out of 40.
async fn unit_detail(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let inner = shared.inner.read().expect("lock");
    if !shared.options.units.iter().any(|u| u.id == id) {
        return (StatusCode::NOT_FOUND, Json(json!({"error": format!("unknown unit {id}")}))).into_response();
    }
    let unit = inner.state.unit(&id);
    // A gap (the unit went to no data) is a point with a null total.
    let history: Vec<Value> = unit.map(|u| u.history.iter().map(|(t, v)| json!({"t": t, "total": v})).collect()).unwrap_or_default();
    let score = unit.and_then(|u| u.score);
    let mut by_status = json!({"new": 0, "in_progress": 0, "closed": 0});
    for a in inner.state.alerts_newest_first().filter(|a| a.unit == id) {
        let key = match a.status {
            AlertStatus::New => "new",
            AlertStatus::InProgress => "in_progress",
            AlertStatus::Closed => "closed",
        };
        by_status[key] = json!(by_status[key].as_u64().unwrap_or(0) + 1);
    }
    let [critical, high, medium, low] = crate::model::derived_vulnerabilities(score.map_or(0.0, |s| s.asset));
    let (passed, checks) = crate::model::derived_compliance(score.map_or(0.0, |s| s.compliance));
    let closed: Vec<f64> = inner
        .state
        .alerts_newest_first()
        .filter(|a| a.unit == id && a.status == AlertStatus::Closed)
        .filter_map(|a| Some((inner.state.status_time(&a.id)? - a.time).as_seconds_f64() / 60.0))
        .collect();
    let mttr_minutes = (!closed.is_empty()).then(|| closed.iter().sum::<f64>() / closed.len() as f64);
    Json(json!({
        "unit": id,
        "score": score.map(|s| score_json(&id, s, &shared.thresholds)),
        "history": history,
        "incidents": {"by_status": by_status, "mttr_minutes": mttr_minutes},
        "vulnerabilities": {"critical": critical, "high": high, "medium": medium, "low": low},
        "compliance": {"checks": checks, "passed": passed},
        "simulated": true,
    }))
    .into_response()
}

/// `GET /events`: Server-Sent Events after `Last-Event-ID` (header, or `?last_event_id=`).
/// Answers 409 when that id is older than the events kept: the client must take a snapshot.
async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<ResumeQuery>) -> Response {
    let last = match headers.get("last-event-id").map(|v| v.to_str().map(|s| s.trim().parse::<u64>())) {
        None => q.last_event_id,
        Some(Ok(Ok(id))) => Some(id),
        Some(_) => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "Last-Event-ID must be a non-negative integer that fits 64 bits"}))).into_response();
        }
    };
    let start = {
        let inner = shared.inner.read().expect("lock");
        let oldest = inner.events.front().map_or(inner.last_id + 1, |e| e.id);
        match last {
            Some(id) if id > inner.last_id => {
                return (
                    StatusCode::CONFLICT,
                    Json(json!({"error": "Last-Event-ID is ahead of this server; take a snapshot", "last_event_id": inner.last_id})),
                )
                    .into_response();
            }
            Some(id) if id + 1 < oldest => {
                return (
                    StatusCode::CONFLICT,
                    Json(json!({"error": "events after Last-Event-ID are no longer kept; take a snapshot", "oldest_event_id": oldest})),
                )
                    .into_response();
            }
            Some(id) => id,
            None => inner.last_id,
        }
    };
    let rx = shared.newest.subscribe();
    let stop = shared.shutdown.subscribe();
    let state = (shared.clone(), start, rx, stop, VecDeque::<StoredEvent>::new());
    let stream = stream::unfold(state, |(shared, mut after, mut rx, mut stop, mut buf)| async move {
        loop {
            if *stop.borrow() {
                return None;
            }
            if let Some(e) = buf.pop_front() {
                after = e.id;
                let event = Event::default().id(e.id.to_string()).event(e.name).data(e.data);
                return Some((Ok::<_, std::convert::Infallible>(event), (shared, after, rx, stop, buf)));
            }
            {
                let inner = shared.inner.read().expect("lock");
                buf.extend(inner.events.iter().filter(|e| e.id > after).cloned());
            }
            if buf.is_empty() {
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { return None; },
                    _ = stop.changed() => return None,
                }
            }
        }
    });
    sse_response(stream, shared.options.keep_alive)
}

fn sse_response<S>(stream: S, keep_alive: Duration) -> Response
where
    S: Stream<Item = Result<Event, std::convert::Infallible>> + Send + 'static,
{
    Sse::new(stream).keep_alive(KeepAlive::new().interval(keep_alive)).into_response()
}

#[derive(Deserialize)]
struct ResumeQuery {
    last_event_id: Option<u64>,
}
