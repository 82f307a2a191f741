//! Live mode: the live client's thread and its channel drained into the picture each frame,
//! the connection state and the data's freshness (live / delayed / stale), the `--record`
//! recorder, rejected and remarked records logged once per kind (with the first few ids),
//! and one clock-skew warning per source when data is stamped ahead of this machine's clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};
use crossbeam_channel::Receiver;

use super::handoff::Handoff;
use super::map::MapResource;
use super::picture::{FreshnessThresholds, Picture, Settings};
use super::redraw::{Redraw, Waker};
use super::schedule::AppSystems;
use crate::api::{ItemKind, NoteKind, RejectKind};
use crate::config::LiveConfig;
use crate::feed::live::{ConnState, FeedMsg, LiveOptions};

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
    /// Records rejected so far, per kind of record and of rejection (the first of each is
    /// logged with its ids).
    pub rejected: BTreeMap<(ItemKind, RejectKind), usize>,
    /// Records kept with a remark so far (a unit listed twice in one payload, an unknown
    /// severity), per kind (the first of each is logged with its ids).
    pub noted: BTreeMap<NoteKind, usize>,
    /// Whether the clock-skew warning was given for this source (once).
    skew_warned: bool,
    /// The last retry reason logged, to log each distinct reason once in a row.
    last_failure: Option<String>,
    /// Thresholds.
    pub thresholds: FreshnessThresholds,
}

impl LiveFeed {
    /// A feed reading `rx`.
    pub fn new(rx: Receiver<FeedMsg>, url: String, thresholds: FreshnessThresholds) -> Self {
        Self {
            rx,
            url,
            conn: ConnState::Connecting,
            last_contact: None,
            last_contact_at: None,
            rejected: BTreeMap::new(),
            noted: BTreeMap::new(),
            skew_warned: false,
            last_failure: None,
            thresholds,
        }
    }
}

impl LiveFeed {
    /// Starts the live client for `options` on its own thread, knowing `map`'s unit ids, and
    /// a forwarding thread that wakes the reactive event loop (through `waker`) for each
    /// message, so an idle wall sleeps until data arrives.
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn open(options: &LiveOptions, cfg: &LiveConfig, map: &MapResource, waker: &Waker) -> anyhow::Result<Self> {
        let known: crate::feed::live::UnitIds = map.ids().map(str::to_owned).collect();
        let feed_rx = crate::feed::live::spawn(options.clone(), Some(Arc::new(known)));
        let (tx, rx) = crossbeam_channel::unbounded();
        let wake = waker.clone();
        std::thread::Builder::new()
            .name("live-wake".into())
            .spawn(move || {
                for msg in feed_rx {
                    if tx.send(msg).is_err() {
                        break;
                    }
                    wake.wake();
                }
            })
            .context("starting the live feed's wake thread")?;
        let thresholds = FreshnessThresholds { delayed_s: cfg.delayed_s, stale_s: cfg.stale_s };
        Ok(Self::new(rx, options.base_url.clone(), thresholds))
    }
}

/// Follows `feed`: drains it into the picture each frame (recording it with `recorder`), and
/// wakes the app with `waker`.
pub(super) fn plugin(feed: LiveFeed, waker: Waker, recorder: Option<LiveRecorder>) -> impl Fn(&mut App) {
    let handoff = Handoff::new((feed, waker, recorder));
    move |app: &mut App| {
        let Some((feed, waker, recorder)) = handoff.take() else { return };
        app.insert_resource(feed)
            .insert_resource(waker)
            .add_systems(Update, (drain_live.in_set(AppSystems::Feed), wake_for_changes.in_set(AppSystems::Animate)));
        if let Some(r) = recorder {
            app.insert_resource(r);
        }
    }
}

/// The live picture changes by itself when freshness crosses a threshold, and a retry
/// countdown ticks every second: wake for those (data itself wakes the loop).
fn wake_for_changes(live: Res<LiveFeed>, settings: Res<Settings>, mut redraw: ResMut<Redraw>) {
    if !matches!(live.conn, ConnState::Live | ConnState::Polling) {
        redraw.wake_within(settings.config.render.idle_redraw_s);
    }
    if let Some(age) = live.last_contact.map(|t| t.elapsed().as_secs_f64()) {
        for threshold in [live.thresholds.delayed_s, live.thresholds.stale_s] {
            if age < threshold {
                redraw.wake_within(threshold - age + 0.05);
            }
        }
    }
}

/// `--record FILE`: the live feed written as a recording while it is shown.
#[derive(Resource)]
pub struct LiveRecorder(pub crate::feed::record::Recorder<std::io::BufWriter<std::fs::File>>);

impl LiveRecorder {
    /// A recorder writing to a new file at `path`.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(path: &std::path::Path) -> anyhow::Result<Self> {
        let file = std::fs::File::create(path).with_context(|| format!("--record: creating {}", path.display()))?;
        Ok(Self(crate::feed::record::Recorder::new(
            std::io::BufWriter::new(file),
            crate::feed::recording::DISTRICT_MAP_ID,
            "recorded live by situation-wall --record",
        )))
    }
}

/// Applies every pending update (newest wins), records it when asked, and recomputes
/// freshness. Data stamped more than `feed::live::CLOCK_SKEW_S` ahead of this machine's clock
/// is applied at its arrival time instead, with one warning per source: a stamp from the future
/// would otherwise outrank every real update after it and freeze its unit.
pub fn drain_live(mut feed: ResMut<LiveFeed>, mut picture: ResMut<Picture>, mut recorder: Option<ResMut<LiveRecorder>>) {
    let mut changed = false;
    while let Ok(mut msg) = feed.rx.try_recv() {
        let now = chrono::Utc::now();
        if let Some(ahead) = msg.ahead_of(now) {
            if !feed.skew_warned {
                warn!("clock skew: data from {} is stamped {ahead} s ahead of this machine's clock; such data is shown at its arrival time", feed.url);
                feed.skew_warned = true;
            }
            msg.clamp_times(now.with_timezone(&crate::model::BEIJING));
        }
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
                feed.last_contact_at = Some(chrono::Utc::now().with_timezone(&crate::model::beijing()));
            }
            FeedMsg::State(s) if s != feed.conn => {
                match &s {
                    ConnState::Unauthorized(m) => error!("live feed {}: {m}", feed.url),
                    ConnState::Live => {
                        info!("live feed {}: following the event stream", feed.url);
                        feed.last_failure = None;
                    }
                    ConnState::Polling => warn!("live feed {}: no event stream; polling", feed.url),
                    // Each distinct reason once in a row: the countdown changes every try.
                    ConnState::Retrying { reason, retry_in, .. } if feed.last_failure.as_ref() != Some(reason) => {
                        warn!("live feed {}: {reason}; retrying in {retry_in:.1} s", feed.url);
                        feed.last_failure = Some(reason.clone());
                    }
                    ConnState::Retrying { .. } => {}
                    ConnState::FeedError { message, restart_in } => {
                        error!("live feed {}: the client failed ({message}); restarting in {restart_in:.0} s", feed.url)
                    }
                    ConnState::Connecting => {}
                }
                feed.conn = s;
            }
            FeedMsg::State(_) => {}
            FeedMsg::Provenance { simulated } if picture.simulated != simulated => {
                info!("live feed {}: the backend says its data is {}", feed.url, if simulated { "simulated" } else { "real" });
                picture.simulated = simulated;
                changed = true;
            }
            // The first of each kind is logged with its first ids; later ones are counted.
            FeedMsg::Rejected { item, kind, count, .. } => {
                let total = feed.rejected.entry((item, kind)).or_insert(0);
                if *total == 0
                    && let Some(line) = msg.report_line()
                {
                    warn!("live feed: {line}");
                }
                *total += count;
            }
            FeedMsg::Noted { kind, count, .. } => {
                let total = feed.noted.entry(kind).or_insert(0);
                if *total == 0
                    && let Some(line) = msg.report_line()
                {
                    warn!("live feed: {line}");
                }
                *total += count;
            }
            // Bad events, once per kind (the client sends each kind once).
            FeedMsg::Failed(m) => warn!("live feed {}: {m}", feed.url),
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
    use crate::app::picture::{Freshness, Source};
    use std::time::Duration;

    /// A headless app following a feed the test writes into, with `thresholds`.
    fn live_app(thresholds: FreshnessThresholds) -> (crossbeam_channel::Sender<FeedMsg>, App) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(Picture::new(Source::Live { url: "t".into() }))
            .insert_resource(Settings::new(crate::config::Config::default()).unwrap())
            .add_plugins((crate::app::schedule::plugin, crate::app::redraw::plugin(false)))
            .add_plugins(plugin(LiveFeed::new(rx, "t".into(), thresholds), Waker::default(), None));
        (tx, app)
    }

    /// The app's side of an outage: with contact the picture is live; without it, it turns
    /// delayed, then stale, keeping the last good scores; contact again makes it live.
    #[test]
    fn the_picture_goes_stale_keeps_its_state_and_recovers() {
        let (tx, mut app) = live_app(FreshnessThresholds { delayed_s: 0.15, stale_s: 0.3 });
        let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-29T08:00:00+08:00").unwrap();
        tx.send(FeedMsg::Contact).unwrap();
        let item = ScoreItem { unit: "1".into(), total: 40.0, threat: 1.0, asset: 1.0, compliance: 1.0, level: None };
        tx.send(FeedMsg::Scores { as_of, scores: vec![item], cleared: vec![] }).unwrap();
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

    /// Data stamped ahead of this machine's clock is applied (with one warning per source),
    /// and rejections and remarks are counted per kind.
    #[test]
    fn future_data_is_applied_and_reports_are_counted() {
        let (tx, mut app) = live_app(FreshnessThresholds { delayed_s: 10.0, stale_s: 30.0 });
        let ahead = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).with_timezone(&crate::model::beijing());
        let item = ScoreItem { unit: "1".into(), total: 40.0, threat: 1.0, asset: 1.0, compliance: 1.0, level: None };
        tx.send(FeedMsg::Scores { as_of: ahead, scores: vec![item], cleared: vec![] }).unwrap();
        let ids = vec!["999001".to_owned()];
        tx.send(FeedMsg::Rejected { item: ItemKind::Score, kind: RejectKind::UnknownUnit, count: 3, ids: ids.clone() }).unwrap();
        tx.send(FeedMsg::Rejected { item: ItemKind::Score, kind: RejectKind::UnknownUnit, count: 2, ids }).unwrap();
        tx.send(FeedMsg::Noted { kind: NoteKind::DuplicateUnit, count: 1, ids: vec!["1".into()] }).unwrap();
        app.update();
        assert_eq!(app.world().resource::<Picture>().state.score("1").unwrap().total, 40.0, "applied, though an hour ahead");
        // ... at its arrival time, so the next real update (stamped now) still wins.
        let shown_at = app.world().resource::<Picture>().state.unit("1").unwrap().history.back().unwrap().0;
        assert!(shown_at < ahead - chrono::TimeDelta::minutes(59), "a future stamp is moved back to the arrival time");
        let now = chrono::Utc::now().with_timezone(&crate::model::beijing());
        let item = ScoreItem { unit: "1".into(), total: 20.0, threat: 1.0, asset: 1.0, compliance: 1.0, level: None };
        tx.send(FeedMsg::Scores { as_of: now, scores: vec![item], cleared: vec![] }).unwrap();
        app.update();
        assert_eq!(app.world().resource::<Picture>().state.score("1").unwrap().total, 20.0, "the unit is not frozen by the future stamp");
        let feed = app.world().resource::<LiveFeed>();
        assert!(feed.skew_warned);
        assert_eq!(feed.rejected.get(&(ItemKind::Score, RejectKind::UnknownUnit)), Some(&5));
        assert_eq!(feed.noted.get(&NoteKind::DuplicateUnit), Some(&1));
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
