//! `ingest`: sends an NDJSON file of ingest-format records (see [`crate::gateway`]) to a
//! gateway's `POST /api/v1/ingest`, in batches, retrying what fails on the way.
//!
//! Each batch is sent as NDJSON, exactly the input's non-blank lines, so the gateway judges
//! every line alone (bad JSON or invalid UTF-8 included). A request that fails on the way (no
//! connection, a timeout, HTTP 5xx, 408 or 429) is retried with exponential backoff and jitter,
//! honouring `Retry-After`; re-sending is harmless, since the gateway counts records it already
//! has as duplicates. Any other answer (400, 401, 403, 413, …) is final. Batches go one after
//! the other, in file order; after a batch that could not be delivered nothing more is sent, so
//! running the command again later sends the rest (and the delivered part again, harmlessly).

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde::Deserialize;

/// What to send where, and how hard to try.
#[derive(Clone)]
pub struct IngestArgs {
    /// The gateway's base URL (`http://127.0.0.1:8080`), or the full `…/api/v1/ingest` URL.
    pub url: String,
    /// Bearer token (an ingest token); never printed.
    pub token: Option<String>,
    /// NDJSON file; `-` for standard input.
    pub input: PathBuf,
    /// Records (non-blank lines) per batch (1 or more).
    pub batch: usize,
    /// A batch is also sent once its lines reach this many bytes (the gateway's default cap is
    /// 32 MiB).
    pub max_batch_bytes: usize,
    /// Tries per batch, the first included (1 or more).
    pub tries: u32,
    /// Delay before the first retry; it doubles per retry, with jitter, up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest delay between tries (a longer `Retry-After` is honoured, up to 10 minutes).
    pub backoff_max: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Deadline of one request, the answer included.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for IngestArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestArgs")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("input", &self.input)
            .field("batch", &self.batch)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("tries", &self.tries)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl IngestArgs {
    /// Defaults: no token, batches of 500 records or 8 MiB, 5 tries with backoff from 0.5 s to
    /// 30 s, 5 s to connect, 60 s per request.
    pub fn new(url: &str, input: PathBuf) -> Self {
        Self {
            url: url.to_owned(),
            token: None,
            input,
            batch: 500,
            max_batch_bytes: 8 << 20,
            tries: 5,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// A line the gateway refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedLine {
    /// Its number in the input, from 1.
    pub line: usize,
    /// The gateway's reason.
    pub reason: String,
}

/// The batch that could not be delivered (nothing after it was sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undelivered {
    /// Its first line in the input, from 1.
    pub first_line: usize,
    /// Its last line.
    pub last_line: usize,
    /// Records in it.
    pub records: usize,
    /// Why, after how many tries.
    pub reason: String,
}

/// What `ingest` achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Records (non-blank lines) in the batches delivered.
    pub records: usize,
    /// Batches delivered (acknowledged with 2xx).
    pub batches: usize,
    /// Records the gateway stored.
    pub accepted: u64,
    /// Records it had already.
    pub duplicate: u64,
    /// Lines it refused, in input order.
    pub rejected: Vec<RejectedLine>,
    /// The batch that could not be delivered, if any.
    pub undelivered: Option<Undelivered>,
    /// First event id the delivered batches created.
    pub first_event_id: Option<u64>,
    /// Last event id they created.
    pub last_event_id: Option<u64>,
}

impl IngestOutcome {
    /// Whether every line was delivered and none refused.
    pub fn ok(&self) -> bool {
        self.rejected.is_empty() && self.undelivered.is_none()
    }

    /// One line for the operator: "ingest: 1200 records in 3 batches: accepted 1190, duplicate
    /// 8, rejected 2 (events 41–52)", plus a line for an undelivered batch.
    pub fn summary(&self) -> String {
        let events = match (self.first_event_id, self.last_event_id) {
            (Some(a), Some(b)) => format!(" (events {a}–{b})"),
            _ => String::new(),
        };
        let mut s = format!(
            "ingest: {} records in {} {}: accepted {}, duplicate {}, rejected {}{events}",
            self.records,
            self.batches,
            if self.batches == 1 { "batch" } else { "batches" },
            self.accepted,
            self.duplicate,
            self.rejected.len()
        );
        if let Some(u) = &self.undelivered {
            s.push_str(&format!(
                "\ningest: lines {}–{} ({} records) not delivered: {}; nothing after them was sent",
                u.first_line, u.last_line, u.records, u.reason
            ));
        }
        s
    }
}

/// The gateway's answer to a batch (the store's `IngestReport`).
#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    accepted: u64,
    #[serde(default)]
    duplicate: u64,
    #[serde(default)]
    rejected: Vec<ReportRejection>,
    first_event_id: Option<u64>,
    last_event_id: Option<u64>,
}

#[derive(Deserialize)]
struct ReportRejection {
    index: usize,
    reason: String,
}

/// The ingest endpoint of a base URL.
fn endpoint(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    anyhow::ensure!(url.starts_with("http://") || url.starts_with("https://"), "--url {url}: expected http://HOST:PORT or https://…");
    Ok(if url.ends_with("/api/v1/ingest") { url.to_owned() } else { format!("{url}{}/ingest", crate::api::PREFIX) })
}

/// A reason without the gateway's `line N: ` prefix (N is the line in the request body).
fn strip_line_prefix(reason: &str) -> &str {
    reason
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": ").filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
        .map_or(reason, |(_, tail)| tail)
}

/// The delay before try `attempt + 1` (attempt from 1): uniform in [d/2, d], d = min(max,
/// min × 2^(attempt−1)), and at least `retry_after` (capped at 10 minutes).
fn backoff(args: &IngestArgs, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let d = args.backoff_min.saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16)).min(args.backoff_max);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.subsec_nanos());
    let delay = d.mul_f64(0.5 + f64::from(nanos % 1000) / 2000.0);
    retry_after.map_or(delay, |r| r.min(Duration::from_secs(600)).max(delay))
}

/// Sends one batch, retrying failures on the way; its report, or why not after how many tries.
async fn send(client: &reqwest::Client, url: &str, args: &IngestArgs, body: Vec<u8>) -> Result<Report, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut request = client.post(url).header(CONTENT_TYPE, "application/x-ndjson").timeout(args.request_timeout).body(body.clone());
        if let Some(t) = &args.token {
            request = request.bearer_auth(t);
        }
        let (reason, retry_after) = match request.send().await {
            Err(e) => (if e.is_connect() { format!("cannot connect: {e}") } else { e.to_string() }, None),
            Ok(resp) => {
                let status = resp.status();
                let retry_after =
                    resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
                let text = resp.bytes().await.map(|b| String::from_utf8_lossy(&b).into_owned());
                if status.is_success() {
                    match text.as_deref().map(serde_json::from_str::<Report>) {
                        Ok(Ok(report)) => return Ok(report),
                        // Stored or not, sending again is harmless.
                        Ok(Err(e)) => (format!("HTTP {status} with an answer that is not a report: {e}"), None),
                        Err(e) => (format!("HTTP {status}, then the answer broke off: {e}"), None),
                    }
                } else {
                    let message = text
                        .ok()
                        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                        .map_or_else(String::new, |m| format!(": {m}"));
                    let reason = format!("HTTP {status}{message}");
                    let retriable = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT;
                    if !retriable {
                        return Err(reason);
                    }
                    (reason, retry_after)
                }
            }
        };
        if attempt >= args.tries.max(1) {
            return Err(format!("{reason} (after {attempt} tries)"));
        }
        tokio::time::sleep(backoff(args, attempt, retry_after)).await;
    }
}

/// Sends the input's records in batches and reports what the gateway did with them.
///
/// # Errors
/// When the input cannot be read, the URL is not http(s), or no HTTP client can be built. A
/// batch that cannot be delivered is not an error here: it is in
/// [`IngestOutcome::undelivered`].
pub fn ingest(args: &IngestArgs) -> anyhow::Result<IngestOutcome> {
    anyhow::ensure!(args.batch >= 1, "--batch must be at least 1");
    let url = endpoint(&args.url)?;
    let mut input: Box<dyn BufRead> = if args.input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .connect_timeout(args.connect_timeout)
        .user_agent(concat!("situation-wall-ingest/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut outcome = IngestOutcome::default();
    // The batch being filled: its body and the input line of each record.
    let (mut body, mut lines): (Vec<u8>, Vec<usize>) = (Vec::new(), Vec::new());
    let mut raw = Vec::new();
    let mut line_no = 0usize;
    loop {
        raw.clear();
        let n = input.read_until(b'\n', &mut raw).with_context(|| format!("reading {}", args.input.display()))?;
        let at_end = n == 0;
        if !at_end {
            line_no += 1;
            let line = raw.strip_suffix(b"\n").unwrap_or(&raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.iter().all(u8::is_ascii_whitespace) {
                body.extend_from_slice(line);
                body.push(b'\n');
                lines.push(line_no);
            }
        }
        let full = lines.len() >= args.batch || body.len() >= args.max_batch_bytes;
        if !lines.is_empty() && (full || at_end) {
            let batch_lines = std::mem::take(&mut lines);
            let sent = runtime.block_on(send(&client, &url, args, std::mem::take(&mut body)));
            match sent {
                Ok(report) => {
                    outcome.records += batch_lines.len();
                    outcome.batches += 1;
                    outcome.accepted += report.accepted;
                    outcome.duplicate += report.duplicate;
                    for r in report.rejected {
                        let line = batch_lines.get(r.index).or(batch_lines.first()).copied().unwrap_or(0);
                        outcome.rejected.push(RejectedLine { line, reason: strip_line_prefix(&r.reason).to_owned() });
                    }
                    if outcome.first_event_id.is_none() {
                        outcome.first_event_id = report.first_event_id;
                    }
                    outcome.last_event_id = report.last_event_id.or(outcome.last_event_id);
                }
                Err(reason) => {
                    let (first_line, last_line) = (batch_lines.first().copied().unwrap_or(0), batch_lines.last().copied().unwrap_or(0));
                    outcome.undelivered = Some(Undelivered { first_line, last_line, records: batch_lines.len(), reason });
                    return Ok(outcome);
                }
            }
        }
        if at_end {
            return Ok(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_reasons_are_read_as_meant() {
        assert_eq!(endpoint("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080/api/v1/ingest");
        assert_eq!(endpoint("https://gw.example/api/v1/ingest").unwrap(), "https://gw.example/api/v1/ingest");
        assert!(endpoint("127.0.0.1:8080").is_err());
        assert_eq!(strip_line_prefix("line 12: unknown unit \"zz\""), "unknown unit \"zz\"");
        assert_eq!(strip_line_prefix("line x: y"), "line x: y");
        assert_eq!(strip_line_prefix("missing field `unit`"), "missing field `unit`");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let args = IngestArgs::new("http://x", PathBuf::from("-"));
        for attempt in 1..=8 {
            let d = backoff(&args, attempt, None);
            let full = args.backoff_min.saturating_mul(1 << (attempt - 1)).min(args.backoff_max);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert!(backoff(&args, 1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        assert_eq!(backoff(&args, 1, Some(Duration::from_secs(86_400))), Duration::from_secs(600));
        assert!(!format!("{:?}", IngestArgs { token: Some("s3cret".into()), ..args }).contains("s3cret"));
    }
}
