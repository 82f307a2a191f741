//! Live mode's drill-down figures from the backend: when a unit is selected the wall asks the
//! backend for its detail (incidents and MTTR, vulnerabilities, compliance, each as the
//! platform sent them) and its last 24 h of scores, and asks again every
//! [`REFRESH_S`] while it stays selected. Nothing is derived: what the backend does not send is
//! shown as 无数据 / no data.

use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender};

use super::handoff::Handoff;
use super::redraw::Redraw;
use super::schedule::AppSystems;
use super::selection::Selection;
use crate::feed::detail::{DetailReply, HistoryPoint, UnitDetailDoc};

/// Seconds between refreshes of the selected unit's detail.
pub const REFRESH_S: f64 = 30.0;

/// The selected unit's figures from the backend.
#[derive(Resource)]
pub struct RemoteDetail {
    ask: Sender<String>,
    replies: Receiver<DetailReply>,
    /// The unit the figures below are for (the selection).
    pub unit: Option<String>,
    /// Its detail as the backend last sent it; `None` before the first reply or when the
    /// backend could not give it.
    pub detail: Option<UnitDetailDoc>,
    /// Its last 24 h of scores from the backend, oldest first.
    pub history: Vec<HistoryPoint>,
    /// Whether an answer is awaited.
    pub pending: bool,
    /// Why the last request failed (logged, not shown).
    pub error: Option<String>,
    next_refresh_s: f64,
}

impl RemoteDetail {
    /// Figures asked through `ask` and answered on `replies` (see `feed::detail::spawn`).
    pub fn new(ask: Sender<String>, replies: Receiver<DetailReply>) -> Self {
        Self { ask, replies, unit: None, detail: None, history: Vec::new(), pending: false, error: None, next_refresh_s: 0.0 }
    }

    /// The detail of `unit`, if that is the unit the figures are for.
    pub fn detail_of(&self, unit: &str) -> Option<&UnitDetailDoc> {
        self.detail.as_ref().filter(|d| self.unit.as_deref() == Some(unit) && d.unit == unit)
    }
}

/// Fetches the selected unit's figures through `remote`.
pub(super) fn plugin(remote: RemoteDetail) -> impl Fn(&mut App) {
    let handoff = Handoff::new(remote);
    move |app: &mut App| {
        let Some(remote) = handoff.take() else { return };
        app.insert_resource(remote).add_systems(
            Update,
            (take_replies.in_set(AppSystems::Feed), ask_for_selection.in_set(AppSystems::Derive), wake_for_answers.in_set(AppSystems::Animate)),
        );
    }
}

fn take_replies(mut remote: ResMut<RemoteDetail>) {
    while let Ok(reply) = remote.replies.try_recv() {
        if remote.unit.as_deref() != Some(reply.unit.as_str()) {
            continue; // an answer about a unit no longer selected
        }
        remote.pending = false;
        match reply.detail {
            Ok(detail) => {
                remote.detail = Some(detail);
                remote.error = None;
            }
            Err(e) => {
                if remote.error.as_ref() != Some(&e) {
                    warn!("unit detail of {}: {e}; showing no data", reply.unit);
                }
                remote.detail = None;
                remote.error = Some(e);
            }
        }
        if !reply.history.is_empty() {
            remote.history = reply.history;
        }
    }
}

fn ask_for_selection(time: Res<Time>, selection: Res<Selection>, mut remote: ResMut<RemoteDetail>) {
    let now = time.elapsed_secs_f64();
    if remote.unit != selection.unit {
        remote.unit = selection.unit.clone();
        remote.detail = None;
        remote.history.clear();
        remote.error = None;
        remote.next_refresh_s = now;
    }
    let Some(unit) = remote.unit.clone() else {
        remote.pending = false;
        return;
    };
    if now >= remote.next_refresh_s {
        remote.pending = remote.ask.send(unit).is_ok();
        remote.next_refresh_s = now + REFRESH_S;
    }
}

/// While an answer is awaited, look for it a few times a second; wake for the next refresh.
fn wake_for_answers(time: Res<Time>, remote: Res<RemoteDetail>, mut redraw: ResMut<Redraw>) {
    if remote.pending {
        redraw.wake_within(0.25);
    }
    if remote.unit.is_some() {
        redraw.wake_within(remote.next_refresh_s - time.elapsed_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::picture::{Picture, Source};
    use crate::app::selection::Select;
    use crate::app::testing::{test_app, test_map};
    use crate::config::Config;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    /// A loopback backend that answers `/api/v1/units/A` with a detail snapshot,
    /// `/api/v1/units/B` with none, and every history with two points.
    fn backend() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(16) {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let body = if path.contains("/history") {
                    r#"[{"t":"2026-11-29T08:00:00+08:00","total":41.0},{"t":"2026-11-29T09:00:00+08:00","total":44.5}]"#.to_owned()
                } else if path.ends_with("/units/A") {
                    r#"{"unit":"A","incidents":{"new":2,"in_progress":1,"closed":4,"mttr_s":3600.0},"vulnerabilities":{"as_of":"2026-11-29T07:00:00+08:00","value":{"critical":3,"high":7,"medium":11,"low":20}},"compliance":{"as_of":"2026-11-29T07:00:00+08:00","value":{"passed":37,"total":40,"failed":["弱口令"]}}}"#.to_owned()
                } else {
                    r#"{"unit":"B","incidents":{"new":0,"in_progress":0,"closed":0,"mttr_s":null},"vulnerabilities":null,"compliance":null}"#.to_owned()
                };
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            }
        });
        format!("http://{addr}")
    }

    fn wait_for(app: &mut App, unit: &str) -> UnitDetailDoc {
        let start = Instant::now();
        loop {
            app.update();
            if let Some(d) = app.world().resource::<RemoteDetail>().detail_of(unit) {
                return d.clone();
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no detail of {unit} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_drill_down_shows_the_backends_figures_and_none_where_it_sent_none() {
        let url = backend();
        let (ask, replies) = crate::feed::detail::spawn(crate::feed::live::LiveOptions::new(&url)).unwrap();
        let mut app = test_app(Config::default(), test_map(), Picture::new(Source::Live { url }));
        app.add_plugins(plugin(RemoteDetail::new(ask, replies)));
        app.world_mut().write_message(Select(Some("A".into())));
        let a = wait_for(&mut app, "A");
        let v = a.vulnerabilities.expect("A has a vulnerability snapshot").value;
        assert_eq!((v.critical, v.high, v.medium, v.low), (3, 7, 11, 20));
        let c = a.compliance.expect("A has a compliance snapshot").value;
        assert_eq!((c.passed, c.total), (37, 40));
        assert_eq!((a.incidents.new, a.incidents.in_progress, a.incidents.closed, a.incidents.mttr_s), (2, 1, 4, Some(3600.0)));
        let history = &app.world().resource::<RemoteDetail>().history;
        assert_eq!(history.iter().map(|p| p.total).collect::<Vec<_>>(), [Some(41.0), Some(44.5)], "the 24 h trend is backfilled");
        // Another unit: what the backend never sent stays none (shown as 无数据), not derived.
        app.world_mut().write_message(Select(Some("B".into())));
        let b = wait_for(&mut app, "B");
        assert_eq!((b.vulnerabilities, b.compliance, b.incidents.mttr_s), (None, None, None));
        assert!(app.world().resource::<RemoteDetail>().detail_of("A").is_none(), "A's figures are not shown for B");
        // Back to the district view: nothing is asked or shown.
        app.world_mut().write_message(Select(None));
        app.update();
        let remote = app.world().resource::<RemoteDetail>();
        assert!(remote.unit.is_none() && remote.detail.is_none() && !remote.pending);
    }
}
