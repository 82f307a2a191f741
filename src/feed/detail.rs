//! The drill-down's own requests in live mode: `GET /api/v1/units/{id}` (incidents with MTTR,
//! vulnerabilities and compliance as the backend has them) and `GET /api/v1/units/{id}/history`
//! (the last 24 h of scores), on a thread of their own so a slow backend never stalls a frame.
//! Nothing here is derived: what the backend does not send stays `None`.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta};
use crossbeam_channel::{Receiver, Sender};
use serde::Deserialize;

use super::live::LiveOptions;
use crate::api::PREFIX;

/// A value with the time it was true.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Dated<T> {
    /// When the backend's figures were taken.
    pub as_of: DateTime<FixedOffset>,
    /// The figures.
    pub value: T,
}

/// Incidents of one unit by status, with MTTR.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Incidents {
    /// 新发现.
    #[serde(default)]
    pub new: u64,
    /// 研判中 (absent from a version 1 gateway).
    #[serde(default)]
    pub analysing: u64,
    /// 处置中 (absent from a version 1 gateway).
    #[serde(default)]
    pub disposing: u64,
    /// 研判中 + 处置中, as version 1 gateways send it alone.
    #[serde(default)]
    pub in_progress: u64,
    /// 已闭环.
    #[serde(default)]
    pub closed: u64,
    /// Mean time from report to close over the closed ones, seconds; `None` when none closed.
    #[serde(default)]
    pub mttr_s: Option<f64>,
}

impl Incidents {
    /// Counts indexed by `AlertStatus as usize` (新发现, 研判中, 处置中, 已闭环); a version 1
    /// gateway's `in_progress` alone counts as 处置中.
    pub fn by_status(&self) -> [usize; 4] {
        let disposing = if self.analysing == 0 && self.disposing == 0 { self.in_progress } else { self.disposing };
        [self.new, self.analysing, disposing, self.closed].map(|n| n as usize)
    }
}

/// Open vulnerabilities by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Vulnerabilities {
    /// 严重.
    pub critical: u32,
    /// 高.
    pub high: u32,
    /// 中.
    pub medium: u32,
    /// 低.
    pub low: u32,
}

/// Compliance checks passed of those run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Compliance {
    /// Checks passed.
    pub passed: u32,
    /// Checks run.
    pub total: u32,
}

/// `GET /api/v1/units/{id}` as the wall reads it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct UnitDetailDoc {
    /// The unit.
    pub unit: String,
    /// Its incidents.
    #[serde(default)]
    pub incidents: Incidents,
    /// The last vulnerability snapshot, if the platform ever sent one.
    #[serde(default)]
    pub vulnerabilities: Option<Dated<Vulnerabilities>>,
    /// The last compliance snapshot, if the platform ever sent one.
    #[serde(default)]
    pub compliance: Option<Dated<Compliance>>,
}

/// One point of `GET /api/v1/units/{id}/history`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct HistoryPoint {
    /// Its time.
    pub t: DateTime<FixedOffset>,
    /// The total score then, 0–100 (`None`: no data then).
    pub total: Option<f32>,
}

/// What the fetcher hands back for one unit.
#[derive(Clone, Debug, PartialEq)]
pub struct DetailReply {
    /// The unit asked for.
    pub unit: String,
    /// Its detail, or why it could not be had.
    pub detail: Result<UnitDetailDoc, String>,
    /// Its last 24 h of scores (empty when the backend has no history endpoint).
    pub history: Vec<HistoryPoint>,
}

/// Starts the fetcher thread for the backend in `options`: send it unit ids, read replies.
/// It ends when the sender is dropped.
///
/// # Errors
/// When the thread cannot be started.
pub fn spawn(options: LiveOptions) -> std::io::Result<(Sender<String>, Receiver<DetailReply>)> {
    // Only the newest ask matters: skip those a quick operator left behind.
    worker("unit-detail", options, true, |runtime, client, options, unit: String| match client {
        Some(c) => runtime.block_on(fetch(c, options, &unit)),
        None => DetailReply { unit, detail: Err("no HTTP client".into()), history: Vec::new() },
    })
}

/// A thread that answers each ask sent to it with `work`, on its own single-threaded runtime
/// with one HTTP client for the backend (`None` when none could be built); with
/// `newest_only`, asks that queued up meanwhile are skipped for the newest. It ends when the
/// sender is dropped or the replies are no longer read.
fn worker<A: Send + 'static, R: Send + 'static>(
    name: &str,
    options: LiveOptions,
    newest_only: bool,
    mut work: impl FnMut(&tokio::runtime::Runtime, Option<&reqwest::Client>, &LiveOptions, A) -> R + Send + 'static,
) -> std::io::Result<(Sender<A>, Receiver<R>)> {
    let (ask_tx, ask_rx) = crossbeam_channel::unbounded::<A>();
    let (reply_tx, reply_rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new().name(name.into()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        let client = super::live::build_client(&options).ok();
        while let Ok(ask) = ask_rx.recv() {
            let ask = if newest_only { ask_rx.try_iter().last().unwrap_or(ask) } else { ask };
            if reply_tx.send(work(&runtime, client.as_ref(), &options, ask)).is_err() {
                break;
            }
        }
    })?;
    Ok((ask_tx, reply_rx))
}

/// The gateway's ranking over one period (`GET /api/v1/rankings?period=`).
#[derive(Clone, Debug, PartialEq)]
pub struct RankingsReply {
    /// The period asked for.
    pub period: crate::model::Period,
    /// Its rows (rank and rank change within the unit's kind, as the gateway ranks), or why
    /// they could not be had.
    pub rows: Result<Vec<crate::model::PeriodRow>, String>,
}

/// One row of `GET /api/v1/rankings` as the gateway sends it.
#[derive(Deserialize)]
struct RankingWire {
    unit: String,
    samples: u64,
    total: f32,
    threat: f32,
    asset: f32,
    compliance: f32,
    rank: u32,
    rank_change: Option<i64>,
}

/// Reads a rankings body: `{"rows": [...]}`; rows that do not read are skipped.
pub fn parse_rankings(v: &serde_json::Value) -> Vec<crate::model::PeriodRow> {
    let rows = v.get("rows").and_then(|r| r.as_array()).map(Vec::as_slice).unwrap_or(&[]);
    rows.iter()
        .filter_map(|r| RankingWire::deserialize(r).ok())
        .filter(|r| [r.total, r.threat, r.asset, r.compliance].iter().all(|v| v.is_finite()))
        .map(|r| crate::model::PeriodRow {
            unit: r.unit,
            samples: r.samples,
            mean: crate::model::RiskScore { total: r.total, threat: r.threat, asset: r.asset, compliance: r.compliance },
            rank: r.rank,
            rank_change: r.rank_change,
        })
        .collect()
}

/// Starts the thread that asks the gateway for period rankings: send it a period, read one
/// reply per ask (only the newest waiting ask is answered). It ends when the sender is dropped.
///
/// # Errors
/// When the thread cannot be started.
pub fn spawn_rankings(options: LiveOptions) -> std::io::Result<(Sender<crate::model::Period>, Receiver<RankingsReply>)> {
    worker("rankings", options, true, |runtime, client, options, period: crate::model::Period| {
        let rows = match client {
            Some(c) => runtime.block_on(get(c, options, &format!("/rankings?period={}", period.name()))).map(|v| parse_rankings(&v)),
            None => Err("no HTTP client".into()),
        };
        RankingsReply { period, rows }
    })
}

/// What the gateway answered to one acknowledgement.
#[derive(Clone, Debug, PartialEq)]
pub struct AckReply {
    /// The alert.
    pub id: String,
    /// Who the gateway recorded (the token's name; the first one, when it was acknowledged
    /// before), or why it refused (`HTTP 403` for a token without the operator scope).
    pub result: Result<String, String>,
}

/// Starts the thread that sends this screen's acknowledgements: `POST
/// /api/v1/alerts/{id}/ack` with the wall's token (which must have the operator scope) for
/// every id sent; one reply per id. The gateway broadcasts each as an `ack` event, which is
/// what takes the alert off every wall's banner, this one's too. It ends when the sender is
/// dropped.
///
/// # Errors
/// When the thread cannot be started.
pub fn spawn_acks(options: LiveOptions) -> std::io::Result<(Sender<String>, Receiver<AckReply>)> {
    // Every acknowledgement is sent, none skipped.
    worker("acknowledge", options, false, |runtime, client, options, id: String| {
        let result = match client {
            Some(c) => runtime.block_on(post_ack(c, options, &id)),
            None => Err("no HTTP client".into()),
        };
        AckReply { id, result }
    })
}

async fn post_ack(client: &reqwest::Client, options: &LiveOptions, id: &str) -> Result<String, String> {
    let request = client.post(format!("{}{PREFIX}/alerts/{}/ack", options.base_url, urlencode(id)));
    let body = send(request, options).await?;
    Ok(body.get("by").and_then(|b| b.as_str()).unwrap_or("?").to_owned())
}

async fn get(client: &reqwest::Client, options: &LiveOptions, path: &str) -> Result<serde_json::Value, String> {
    send(client.get(format!("{}{PREFIX}{path}", options.base_url)), options).await
}

/// Sends `request` with the backend's token and reads its JSON answer, within the request
/// timeout and the body cap.
async fn send(mut request: reqwest::RequestBuilder, options: &LiveOptions) -> Result<serde_json::Value, String> {
    if let Some(t) = &options.token {
        request = request.bearer_auth(t);
    }
    let work = async {
        let resp = request.send().await.map_err(|e| format!("request: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let body = resp.bytes().await.map_err(|e| format!("body: {e}"))?;
        if body.len() > options.max_body {
            return Err(format!("body larger than {} bytes", options.max_body));
        }
        serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
    };
    tokio::time::timeout(options.request_timeout.max(Duration::from_secs(1)), work).await.map_err(|_| "timed out".to_owned())?
}

async fn fetch(client: &reqwest::Client, options: &LiveOptions, unit: &str) -> DetailReply {
    let id = urlencode(unit);
    let detail = match get(client, options, &format!("/units/{id}")).await {
        Ok(v) => serde_json::from_value::<UnitDetailDoc>(v).map_err(|e| format!("unit detail: {e}")),
        Err(e) => Err(e),
    };
    let now = chrono::Utc::now().with_timezone(&crate::model::BEIJING);
    let from = now - TimeDelta::hours(24);
    let query = format!("/units/{id}/history?from={}&to={}", urlencode(&from.to_rfc3339()), urlencode(&now.to_rfc3339()));
    let history = match get(client, options, &query).await {
        Ok(v) => parse_history(&v),
        Err(_) => Vec::new(),
    };
    DetailReply { unit: unit.to_owned(), detail, history }
}

/// The points of a history body: a JSON array of points, or an object with a `points` array;
/// points that do not read are skipped.
pub fn parse_history(v: &serde_json::Value) -> Vec<HistoryPoint> {
    let items = v.as_array().or_else(|| v.get("points").and_then(|p| p.as_array()));
    items.map(|a| a.iter().filter_map(|p| serde_json::from_value(p.clone()).ok()).collect()).unwrap_or_default()
}

/// Percent-encodes every byte of `text` but the unreserved characters of RFC 3986
/// (`A–Z a–z 0–9 - . _ ~`), for a path segment or a query value.
fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detail_without_snapshots_reads_as_none_and_history_reads_both_shapes() {
        let doc: UnitDetailDoc = serde_json::from_value(serde_json::json!({
            "unit": "110105014",
            "incidents": {"new": 2, "in_progress": 1, "closed": 3, "mttr_s": 5400.0, "mttr_samples": 3},
            "vulnerabilities": null,
        }))
        .unwrap();
        assert_eq!(doc.incidents.closed, 3);
        assert_eq!(doc.incidents.mttr_s, Some(5400.0));
        assert_eq!(doc.vulnerabilities, None);
        assert_eq!(doc.compliance, None);
        let points = serde_json::json!([{"t": "2026-11-29T08:00:00+08:00", "total": 42.5}, {"t": "bad"}, {"t": "2026-11-29T09:00:00+08:00", "total": null}]);
        let h = parse_history(&points);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].total, Some(42.5));
        assert_eq!(h[1].total, None);
        assert_eq!(parse_history(&serde_json::json!({"points": points})).len(), 2);
        assert_eq!(urlencode("2026-11-29T08:00:00+08:00"), "2026-11-29T08%3A00%3A00%2B08%3A00");
        assert_eq!(urlencode("B01-1 朝"), "B01-1%20%E6%9C%9D");
    }
}
