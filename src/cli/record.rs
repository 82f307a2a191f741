//! `record --from URL --out FILE`: a live backend's feed written as a recording that demo mode
//! and `serve` replay.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::config::Config;
use crate::feed::live::{ConnState, FeedMsg};
use crate::feed::record::Recorder;

/// What a `record` run wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordOutcome {
    /// Messages written (snapshots, score updates, alerts, status changes).
    pub written: usize,
    /// Whether the server refused our credentials at some point.
    pub refused: bool,
    /// Times the feed client failed (panicked) and was restarted: the recording may have a
    /// gap there.
    pub feed_errors: usize,
}

/// Follows `from` with the `[live]` settings of `config` and writes every data message to
/// `out`, flushing each line, for `seconds` (or until the feed ends); connection states are
/// printed to standard error as they change.
///
/// # Errors
/// When `out` cannot be created or written, or the token or CA file cannot be read.
pub fn record(config: &Config, from: &str, out: &Path, seconds: Option<f64>) -> anyhow::Result<RecordOutcome> {
    let options = config.live.options(from)?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let description = format!("recorded from {from} by situation-wall record");
    let mut recorder = Recorder::new(std::io::BufWriter::new(file), crate::feed::recording::DISTRICT_MAP_ID, &description);
    let rx = crate::feed::live::spawn(options, None);
    let until = seconds.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut outcome = RecordOutcome { written: 0, refused: false, feed_errors: 0 };
    loop {
        if until.is_some_and(|u| Instant::now() >= u) {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(FeedMsg::State(s)) => {
                outcome.refused |= matches!(s, ConnState::Unauthorized(_));
                outcome.feed_errors += usize::from(matches!(s, ConnState::FeedError { .. }));
                eprintln!("record: {s:?}");
            }
            Ok(FeedMsg::Failed(f)) => eprintln!("record: {f}"),
            Ok(FeedMsg::Contact | FeedMsg::Rejected { .. } | FeedMsg::Noted { .. }) => {}
            Ok(m) => {
                recorder.record(&m).with_context(|| format!("writing {}", out.display()))?;
                outcome.written += 1;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(outcome)
}
