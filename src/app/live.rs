//! Live mode: drains the live client's channel into the picture each frame, tracks the
//! connection and the data's freshness (live / delayed / stale), and logs rejected records
//! once per kind.

use std::collections::BTreeMap;
use std::time::Instant;

use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};

/// UTC+08:00, the zone of every time the wall shows.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}
use crossbeam_channel::Receiver;

use super::Picture;
use crate::api::RejectKind;
use crate::feed::live::{ConnState, FeedMsg};

/// How current the picture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Freshness {
    /// Data arrived within `delayed_s`.
    #[default]
    Live,
    /// Nothing for longer than `delayed_s`.
    Delayed,
    /// Nothing for longer than `stale_s`: the wall desaturates and says since when.
    Stale,
}

/// Freshness thresholds, seconds since the last contact with the backend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FreshnessThresholds {
    /// Delayed after this many seconds.
    pub delayed_s: f64,
    /// Stale after this many seconds.
    pub stale_s: f64,
}

impl FreshnessThresholds {
    /// Freshness after `age_s` seconds without contact (`None`: never had contact).
    pub fn classify(&self, age_s: Option<f64>) -> Freshness {
        match age_s {
            None => Freshness::Stale,
            Some(a) if a > self.stale_s => Freshness::Stale,
            Some(a) if a > self.delayed_s => Freshness::Delayed,
            Some(_) => Freshness::Live,
        }
    }
}

/// The live feed as the app sees it.
#[derive(Resource)]
pub struct LiveFeed {
    /// Updates from the client thread.
    pub rx: Receiver<FeedMsg>,
    /// Where it connects (for the header).
    pub url: String,
    /// Connection state.
    pub conn: ConnState,
    /// When bytes last arrived.
    pub last_contact: Option<Instant>,
    /// Wall-clock time of the last contact (UTC+08:00), for "since when".
    pub last_contact_at: Option<DateTime<FixedOffset>>,
    /// Records rejected so far, per kind.
    pub rejected: BTreeMap<RejectKind, usize>,
    /// The last failure logged, to log each distinct failure once in a row.
    last_failure: Option<String>,
    /// Thresholds.
    pub thresholds: FreshnessThresholds,
}

impl LiveFeed {
    /// A feed reading `rx`.
    pub fn new(rx: Receiver<FeedMsg>, url: String, thresholds: FreshnessThresholds) -> Self {
        Self { rx, url, conn: ConnState::Connecting, last_contact: None, last_contact_at: None, rejected: BTreeMap::new(), last_failure: None, thresholds }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(PreUpdate, drain_live.run_if(resource_exists::<LiveFeed>));
}

/// `--record FILE`: the live feed written as a recording while it is shown.
#[derive(Resource)]
pub struct LiveRecorder(pub crate::feed::record::Recorder<std::io::BufWriter<std::fs::File>>);

/// Applies every pending update (newest wins), records it when asked, and recomputes
/// freshness.
pub fn drain_live(mut feed: ResMut<LiveFeed>, mut picture: ResMut<Picture>, mut recorder: Option<ResMut<LiveRecorder>>) {
    let mut changed = false;
    while let Ok(msg) = feed.rx.try_recv() {
        changed |= crate::feed::live::apply(std::sync::Arc::make_mut(&mut picture.state), &msg);
        if let Some(r) = recorder.as_mut()
            && let Err(e) = r.0.record(&msg)
        {
            error!("--record: cannot write: {e}; recording stopped");
            recorder = None;
        }
        match msg {
            FeedMsg::Contact => {
                feed.last_contact = Some(Instant::now());
                // Beijing time, like the data on screen, whatever the machine's zone.
                feed.last_contact_at = Some(chrono::Utc::now().with_timezone(&beijing()));
            }
            FeedMsg::State(s) => {
                if s != feed.conn {
                    match &s {
                        ConnState::Unauthorized(m) => error!("live feed {}: {m}", feed.url),
                        ConnState::Live => info!("live feed {}: following the event stream", feed.url),
                        ConnState::Polling => warn!("live feed {}: no event stream; polling", feed.url),
                        _ => {}
                    }
                    feed.conn = s;
                }
            }
            FeedMsg::Rejected { kind, count } => {
                let total = feed.rejected.entry(kind).or_insert(0);
                if *total == 0 {
                    warn!("live feed: rejected a record ({}); further ones are counted, not logged", kind.describe());
                }
                *total += count;
            }
            FeedMsg::Failed(m) => {
                if feed.last_failure.as_ref() != Some(&m) {
                    warn!("live feed {}: {m}", feed.url);
                    feed.last_failure = Some(m);
                }
            }
            _ => {}
        }
    }
    if changed {
        picture.generation += 1;
    }
    let age = feed.last_contact.map(|t| t.elapsed().as_secs_f64());
    let freshness = feed.thresholds.classify(age);
    if picture.freshness != freshness {
        picture.freshness = freshness;
    }
    picture.clock = picture.state.last_update;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ScoreItem;
    use crate::app::Source;
    use std::time::Duration;

    /// The app's side of an outage: with contact the picture is live; without it, it turns
    /// delayed, then stale, keeping the last good scores; contact again makes it live.
    #[test]
    fn the_picture_goes_stale_keeps_its_state_and_recovers() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(Picture { state: Default::default(), source: Source::Live { url: "t".into() }, clock: None, generation: 0, epoch: 0, freshness: Freshness::Live })
            .insert_resource(LiveFeed::new(rx, "t".into(), FreshnessThresholds { delayed_s: 0.15, stale_s: 0.3 }))
            .add_systems(Update, drain_live);
        let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-29T08:00:00+08:00").unwrap();
        tx.send(FeedMsg::Contact).unwrap();
        let item = ScoreItem { unit: "1".into(), total: 40.0, threat: 1.0, asset: 1.0, compliance: 1.0, level: None };
        tx.send(FeedMsg::Scores { as_of, scores: vec![item] }).unwrap();
        app.update();
        let freshness = |app: &App| app.world().resource::<Picture>().freshness;
        assert_eq!(freshness(&app), Freshness::Live);
        std::thread::sleep(Duration::from_millis(200));
        app.update();
        assert_eq!(freshness(&app), Freshness::Delayed);
        std::thread::sleep(Duration::from_millis(200));
        app.update();
        assert_eq!(freshness(&app), Freshness::Stale);
        assert_eq!(app.world().resource::<Picture>().state.score("1").unwrap().total, 40.0, "last good state kept");
        tx.send(FeedMsg::Contact).unwrap();
        app.update();
        assert_eq!(freshness(&app), Freshness::Live);
    }

    #[test]
    fn freshness_follows_the_thresholds() {
        let t = FreshnessThresholds { delayed_s: 10.0, stale_s: 30.0 };
        assert_eq!(t.classify(None), Freshness::Stale);
        assert_eq!(t.classify(Some(0.5)), Freshness::Live);
        assert_eq!(t.classify(Some(10.5)), Freshness::Delayed);
        assert_eq!(t.classify(Some(30.5)), Freshness::Stale);
    }
}
