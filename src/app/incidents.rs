//! The incident close-loop on the map: which units have overdue incidents (超时, past their
//! `[sla]` limits) — a badge with the count over the unit's prism and a slow warning pulse
//! of its own —, and which open 严重 incidents still wait for an operator's acknowledgement
//! (the banner that does not time out, see [`super::alerts`]).

use std::collections::BTreeMap;

use bevy::prelude::*;

use super::picture::{Picture, Settings};
use super::redraw::Redraw;
use super::schedule::AppSystems;
use crate::model::{Alert, Severity, overdue_by_unit};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Overdue>().init_resource::<Acks>().init_resource::<OpenCritical>().add_message::<Acknowledge>().add_systems(
        Update,
        (acknowledge.in_set(AppSystems::Input), (find_overdue, find_open_critical).in_set(AppSystems::Derive), ask_while_overdue.in_set(AppSystems::Animate)),
    );
}

/// An operator acknowledged (确认) alert `id` on this screen (the banner's button).
#[derive(Message, Clone, Debug, PartialEq, Eq)]
pub struct Acknowledge {
    /// The alert's id.
    pub id: String,
}

/// Who acknowledges from this screen, as the demo records it.
pub const LOCAL_OPERATOR: &str = "本机";

/// Live mode's line to the gateway for acknowledgements (see `feed::detail::spawn_acks`).
#[derive(Resource)]
pub struct AckLine {
    /// Alert ids to acknowledge.
    pub send: crossbeam_channel::Sender<String>,
    /// The gateway's answers.
    pub replies: crossbeam_channel::Receiver<crate::feed::detail::AckReply>,
}

/// Applies this screen's acknowledgements: in demo mode here and now; in live mode by asking
/// the gateway, whose `ack` event then reaches every wall (this one too). Ignored where
/// `[alerts] acknowledge` is off (the unattended wall never acknowledges, whatever reaches it).
fn acknowledge(mut acks_in: MessageReader<Acknowledge>, settings: Res<Settings>, picture: Res<Picture>, line: Option<Res<AckLine>>, mut acks: ResMut<Acks>) {
    if acks.epoch != picture.epoch {
        acks.epoch = picture.epoch;
        acks.by_id.clear();
    }
    for a in acks_in.read() {
        if !settings.config.alerts.acknowledge || acks.contains(&a.id) {
            continue;
        }
        match &line {
            Some(line) => {
                info!("acknowledging alert {} at the gateway", a.id);
                let _ = line.send.send(a.id.clone());
            }
            None => {
                info!("alert {} acknowledged on this screen", a.id);
                acks.by_id.insert(a.id.clone(), LOCAL_OPERATOR.to_owned());
            }
        }
    }
    if let Some(line) = &line {
        while let Ok(reply) = line.replies.try_recv() {
            match reply.result {
                Ok(by) => info!("alert {} acknowledged at the gateway by {by}", reply.id),
                Err(e) => warn!("alert {} could not be acknowledged at the gateway: {e} (acknowledging needs a token with the operator scope)", reply.id),
            }
        }
    }
}

/// The overdue badges' bookkeeping (they are drawn with the labels, see `labels`).
pub(super) fn view_plugin(app: &mut App) {
    app.init_resource::<BadgesDrawn>();
}

/// The overdue badges drawn in the last frame: unit id and the pill's rectangle `[left, top,
/// right, bottom]` in egui points (the capture sidecar reports them in pixels).
#[derive(Resource, Default, Debug)]
pub struct BadgesDrawn(pub Vec<(String, [f32; 4])>);

/// Period of the overdue pulse, seconds: slow, so it reads as a standing warning beside the
/// quick ripple of a new alert.
pub const OVERDUE_PULSE_S: f64 = 2.4;

/// Padding left and right of a badge's text, points: plain fill a render check can sample.
pub const BADGE_PAD: f32 = 8.0;

/// Units with overdue open incidents at the picture's "now".
#[derive(Resource, Default, Debug)]
pub struct Overdue {
    /// Overdue incidents per unit id (units without any are absent).
    pub by_unit: BTreeMap<String, usize>,
    /// The picture generation and data-time second it was found for.
    key: Option<(u64, i64)>,
}

/// Alerts acknowledged (确认) on this screen in demo mode: id → who. (In live mode the
/// gateway records acknowledgements and its `ack` events mark the alerts themselves.) A seek
/// or a new pass of the recording rebuilds the state, and forgets these with it.
#[derive(Resource, Default, Debug)]
pub struct Acks {
    /// Acknowledged alert ids, with the operator's name.
    pub by_id: BTreeMap<String, String>,
    /// The picture epoch they belong to.
    epoch: u64,
}

impl Acks {
    /// Whether alert `id` was acknowledged.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }
}

/// The open 严重 incidents not yet acknowledged, newest first: what the critical banner
/// shows until each is acknowledged or closed — including those already open when the wall
/// started, reconnected or seeked.
#[derive(Resource, Default, Debug)]
pub struct OpenCritical {
    /// The incidents.
    pub alerts: Vec<Alert>,
    key: Option<(u64, u64, usize)>,
}

fn find_overdue(picture: Res<Picture>, settings: Res<Settings>, mut overdue: ResMut<Overdue>) {
    let Some(now) = picture.now() else {
        if !overdue.by_unit.is_empty() {
            overdue.by_unit.clear();
        }
        return;
    };
    let key = (picture.generation, now.timestamp());
    if overdue.key == Some(key) {
        return;
    }
    overdue.key = Some(key);
    let found = overdue_by_unit(&picture.state, &settings.config.sla, now);
    if found != overdue.by_unit {
        overdue.by_unit = found;
    }
}

fn find_open_critical(picture: Res<Picture>, acks: Res<Acks>, mut open: ResMut<OpenCritical>) {
    // Acks only grow, so their count tells a change.
    let key = (picture.epoch, picture.generation, acks.by_id.len());
    if open.key == Some(key) {
        return;
    }
    open.key = Some(key);
    let found: Vec<Alert> = picture
        .state
        .alerts_newest_first()
        .filter(|a| a.severity == Severity::Critical && a.status.is_open() && a.acknowledged.is_none() && !acks.contains(&a.id))
        .cloned()
        .collect();
    if found != open.alerts {
        open.alerts = found;
    }
}

/// The pulse wants a few frames a second, not every frame: it is slow.
fn ask_while_overdue(overdue: Res<Overdue>, mut redraw: ResMut<Redraw>) {
    if !overdue.by_unit.is_empty() {
        redraw.wake_within(OVERDUE_PULSE_S / 16.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::picture::Source;
    use crate::app::testing::{test_app, test_map};
    use crate::config::Config;
    use crate::model::{AlertStatus, RiskState};
    use chrono::DateTime;

    fn t(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn alert(id: &str, unit: &str, severity: Severity) -> Alert {
        Alert {
            id: id.into(),
            unit: unit.into(),
            time: t("2026-11-29T08:00:00+08:00"),
            severity,
            category: "c".into(),
            title: "t".into(),
            status: AlertStatus::New,
            acknowledged: None,
            analysis: None,
            note: None,
            stages: None,
        }
    }

    fn set_clock(app: &mut App, at: &str) {
        app.world_mut().resource_mut::<Picture>().clock = Some(t(at));
        app.update();
    }

    #[test]
    fn an_overdue_incident_raises_one_badge_that_goes_when_it_closes() {
        let map = test_map();
        let (a, b) = (map.data.units[0].id.clone(), map.data.units[1].id.clone());
        let mut state = RiskState::new();
        state.apply_alert(alert("c1", &a, Severity::Critical)).unwrap();
        state.apply_alert(alert("m1", &b, Severity::Medium)).unwrap();
        let picture = Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(t("2026-11-29T08:15:00+08:00")));
        let mut app = test_app(Config::default(), map, picture);
        app.update();
        assert!(app.world().resource::<Overdue>().by_unit.is_empty(), "at its 15 min limit the 严重 incident is on time");
        set_clock(&mut app, "2026-11-29T08:15:01+08:00");
        let by_unit = app.world().resource::<Overdue>().by_unit.clone();
        assert_eq!(by_unit, [(a.clone(), 1)].into_iter().collect(), "exactly one badge, on the 严重 incident's unit");
        // Closed: the badge goes with the next picture.
        {
            let mut picture = app.world_mut().resource_mut::<Picture>();
            std::sync::Arc::make_mut(&mut picture.state).apply_status("c1", AlertStatus::Closed, t("2026-11-29T08:30:00+08:00")).unwrap();
            picture.generation += 1;
        }
        set_clock(&mut app, "2026-11-29T08:30:00+08:00");
        assert!(app.world().resource::<Overdue>().by_unit.is_empty());
        // The medium one passes its 4 h respond limit.
        set_clock(&mut app, "2026-11-29T12:00:01+08:00");
        assert_eq!(app.world().resource::<Overdue>().by_unit, [(b, 1)].into_iter().collect());
    }

    #[test]
    fn an_acknowledgement_from_the_gateway_takes_it_off_the_banner() {
        let map = test_map();
        let a = map.data.units[0].id.clone();
        let mut state = RiskState::new();
        state.apply_alert(alert("c1", &a, Severity::Critical)).unwrap();
        let mut app = test_app(Config::default(), map, Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(t("2026-11-29T08:01:00+08:00"))));
        app.update();
        assert_eq!(app.world().resource::<OpenCritical>().alerts.len(), 1);
        {
            // What `live::apply` does with the gateway's `ack` event.
            let mut picture = app.world_mut().resource_mut::<Picture>();
            let ack = crate::model::Ack { by: "kiosk-1".into(), at: t("2026-11-29T08:02:00+08:00") };
            assert_eq!(std::sync::Arc::make_mut(&mut picture.state).apply_ack("c1", &ack), Ok(true));
            picture.generation += 1;
        }
        app.update();
        assert!(app.world().resource::<OpenCritical>().alerts.is_empty());
        assert!(app.world().resource::<Acks>().by_id.is_empty(), "nothing local: the gateway's word");
    }

    #[test]
    fn a_seek_forgets_the_demos_acknowledgements() {
        let map = test_map();
        let a = map.data.units[0].id.clone();
        let mut state = RiskState::new();
        state.apply_alert(alert("c1", &a, Severity::Critical)).unwrap();
        let mut app = test_app(Config::default(), map, Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(t("2026-11-29T08:01:00+08:00"))));
        app.world_mut().write_message(Acknowledge { id: "c1".into() });
        app.update();
        app.update();
        assert!(app.world().resource::<OpenCritical>().alerts.is_empty());
        // A seek rebuilds the state (a new epoch): the alert is back, unacknowledged.
        app.world_mut().resource_mut::<Picture>().epoch += 1;
        app.update();
        app.update();
        assert_eq!(app.world().resource::<OpenCritical>().alerts.len(), 1);
        assert!(app.world().resource::<Acks>().by_id.is_empty());
    }

    #[test]
    fn the_unattended_wall_never_acknowledges() {
        let map = test_map();
        let a = map.data.units[0].id.clone();
        let mut state = RiskState::new();
        state.apply_alert(alert("c1", &a, Severity::Critical)).unwrap();
        let mut config = Config::load_with_profile(None, "wall").unwrap();
        assert!(!config.alerts.acknowledge, "the wall profile turns it off");
        config.window = Config::default().window;
        let mut app = test_app(config, map, Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(t("2026-11-29T08:01:00+08:00"))));
        app.world_mut().write_message(Acknowledge { id: "c1".into() });
        app.update();
        app.update();
        assert_eq!(app.world().resource::<OpenCritical>().alerts.len(), 1);
        assert!(app.world().resource::<Acks>().by_id.is_empty());
    }

    #[test]
    fn an_open_critical_incident_at_start_stays_until_acknowledged_or_closed() {
        let map = test_map();
        let a = map.data.units[0].id.clone();
        let mut state = RiskState::new();
        state.apply_alert(alert("c1", &a, Severity::Critical)).unwrap();
        state.apply_alert(alert("c2", &a, Severity::Critical)).unwrap();
        state.apply_alert(alert("h1", &a, Severity::High)).unwrap();
        // Already open when the wall starts: history, but still open, so it is shown.
        let picture = Picture::new(Source::Demo { speed: 1.0 }).with_state(state, Some(t("2026-11-29T08:01:00+08:00")));
        let mut app = test_app(Config::default(), map, picture);
        let ids = |app: &App| app.world().resource::<OpenCritical>().alerts.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
        app.update();
        assert_eq!(ids(&app), ["c2", "c1"]);
        // Hours later it is still there: it does not time out.
        for _ in 0..3 {
            set_clock(&mut app, "2026-11-29T20:00:00+08:00");
        }
        assert_eq!(ids(&app), ["c2", "c1"]);
        app.world_mut().write_message(Acknowledge { id: "c2".into() });
        app.update();
        app.update();
        assert_eq!(ids(&app), ["c1"], "acknowledged: off the banner");
        assert_eq!(app.world().resource::<Acks>().by_id["c2"], LOCAL_OPERATOR);
        {
            let mut picture = app.world_mut().resource_mut::<Picture>();
            std::sync::Arc::make_mut(&mut picture.state).apply_status("c1", AlertStatus::Closed, t("2026-11-29T20:00:00+08:00")).unwrap();
            picture.generation += 1;
        }
        app.update();
        assert!(ids(&app).is_empty(), "closed: off the banner");
    }
}
