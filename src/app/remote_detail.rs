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

/// Seconds between refreshes of the board's period ranking from the gateway.
pub const RANKINGS_REFRESH_S: f64 = 60.0;

/// Live mode's period rankings (今日 / 本周 / 本月) from the gateway: asked when a period tab
/// is shown, and every [`RANKINGS_REFRESH_S`] while it stays; the board shows the gateway's
/// figures, never its own.
#[derive(Resource)]
pub struct RemoteRankings {
    ask: Sender<crate::model::Period>,
    replies: Receiver<crate::feed::detail::RankingsReply>,
    /// The period the rows are for, and the rows (riskiest first, as the gateway sent them).
    pub rows: Option<(crate::model::Period, Vec<crate::model::PeriodRow>)>,
    asked: Option<(crate::model::Period, f64)>,
}

impl RemoteRankings {
    /// Rankings asked through `ask` and answered on `replies` (see
    /// `feed::detail::spawn_rankings`).
    pub fn new(ask: Sender<crate::model::Period>, replies: Receiver<crate::feed::detail::RankingsReply>) -> Self {
        Self { ask, replies, rows: None, asked: None }
    }
}

/// Takes the gateway's rankings and asks for the shown period's when due.
fn follow_rankings(time: Res<Time>, board: Res<super::board::Board>, mut remote: ResMut<RemoteRankings>, mut redraw: ResMut<Redraw>) {
    while let Ok(reply) = remote.replies.try_recv() {
        match reply.rows {
            Ok(rows) => remote.rows = Some((reply.period, rows)),
            Err(e) => warn!("rankings for {:?} from the gateway: {e}", reply.period),
        }
    }
    let super::board::BoardTab::Period(period) = board.tab else { return };
    let now = time.elapsed_secs_f64();
    let due = remote.asked.is_none_or(|(p, at)| p != period || now - at >= RANKINGS_REFRESH_S);
    if due {
        let _ = remote.ask.send(period);
        remote.asked = Some((period, now));
    }
    // Look for the answer a few times a second until it comes; then wake for the refresh.
    if remote.rows.as_ref().is_none_or(|(p, _)| *p != period) {
        redraw.wake_within(0.25);
    } else if let Some((_, at)) = remote.asked {
        redraw.wake_within(at + RANKINGS_REFRESH_S - now);
    }
}

/// Fetches the board's period rankings through `remote`.
pub(super) fn rankings_plugin(remote: RemoteRankings) -> impl Fn(&mut App) {
    let handoff = Handoff::new(remote);
    move |app: &mut App| {
        let Some(remote) = handoff.take() else { return };
        app.insert_resource(remote).add_systems(Update, follow_rankings.in_set(AppSystems::Feed));
    }
}

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

    /// `GET url` over a plain TCP connection, the body as JSON.
    mod http {
        pub fn get_json(url: &str) -> serde_json::Value {
            use std::io::{Read, Write};
            let rest = url.strip_prefix("http://").unwrap();
            let (host, path) = rest.split_once('/').unwrap();
            let mut s = std::net::TcpStream::connect(host).unwrap();
            write!(s, "GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").unwrap();
            let mut raw = String::new();
            s.read_to_string(&mut raw).unwrap();
            let body = raw.split_once("\r\n\r\n").unwrap().1;
            serde_json::from_str(body).unwrap()
        }
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

    /// Live mode's week tab shows the gateway's own figures: a real gateway on loopback with
    /// an in-memory store, scores ingested, the board's rows compared with `GET /rankings`.
    #[test]
    fn the_live_week_board_shows_the_gateways_rankings() {
        use crate::api::UnitInfo;
        use crate::app::board::{Board, BoardTab};
        use crate::model::Period;
        let map = test_map();
        let ids: Vec<String> = map.data.units.iter().map(|u| u.id.clone()).collect();
        let units: Vec<UnitInfo> = ids.iter().map(|id| UnitInfo { id: id.clone(), name: id.clone(), kind: "街道".into(), location: None }).collect();
        let mut store = crate::gateway::store::Store::open(None).unwrap();
        let now = chrono::Utc::now().with_timezone(&crate::model::BEIJING);
        let records: Vec<serde_json::Value> = [(0, 30.0), (0, 50.0), (1, 70.0), (1, 80.0)]
            .iter()
            .enumerate()
            .map(|(k, &(u, total))| {
                let t = (now - chrono::TimeDelta::seconds(60 * (k as i64 + 1))).to_rfc3339();
                serde_json::json!({"type": "score", "unit": ids[u], "time": t, "total": total, "threat": total, "asset": 10.0, "compliance": 20.0})
            })
            .collect();
        assert!(store.ingest(&records, None).unwrap().rejected.is_empty());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut options = crate::server::GatewayOptions::new(units);
        options.audit = false;
        let handle = rt.block_on(crate::server::start_gateway(store, options, "127.0.0.1:0".parse().unwrap())).unwrap();
        let url = format!("http://{}", handle.addr);
        let (ask, replies) = crate::feed::detail::spawn_rankings(crate::feed::live::LiveOptions::new(&url)).unwrap();
        let mut app = test_app(Config::default(), map, Picture::new(Source::Live { url: url.clone() }).with_state(crate::model::RiskState::new(), Some(now)));
        app.add_plugins(rankings_plugin(RemoteRankings::new(ask, replies)));
        app.world_mut().resource_mut::<Board>().tab = BoardTab::Period(Period::Week);
        let start = Instant::now();
        while app.world().resource::<Board>().period.is_empty() {
            assert!(start.elapsed() < Duration::from_secs(10), "no rankings within 10 s");
            app.update();
            std::thread::sleep(Duration::from_millis(20));
        }
        // The gateway's own answer, read separately.
        let client = http::get_json(&format!("{url}/api/v1/rankings?period=week"));
        let theirs: Vec<(String, f64)> =
            client["rows"].as_array().unwrap().iter().map(|r| (r["unit"].as_str().unwrap().to_owned(), r["total"].as_f64().unwrap())).collect();
        let ours: Vec<(String, f64)> = app.world().resource::<Board>().period.iter().map(|r| (r.unit.clone(), f64::from(r.mean.total))).collect();
        assert_eq!(ours, vec![(ids[1].clone(), 75.0), (ids[0].clone(), 40.0)]);
        assert_eq!(
            ours.iter().map(|(u, v)| (u.clone(), (v * 10.0).round())).collect::<Vec<_>>(),
            theirs.iter().map(|(u, v)| (u.clone(), (v * 10.0).round())).collect::<Vec<_>>()
        );
        handle.abort();
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
