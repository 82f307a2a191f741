//! The demo simulator: a plausible day (or more) of risk scores and incidents for a map's units.
//!
//! Everything is drawn from one ChaCha8 stream seeded by `--seed`, so a seed always gives the
//! same recording. Every `STEP_MIN` minutes each unit gets a score:
//!
//! * business-hours activity `d(h)` (h = local hour) is the larger of two Gaussian bumps,
//!   `0.9·exp(−((h−10)/2)²)` and `exp(−((h−15.5)/2)²)`: near 0 at night, 1 mid-afternoon;
//! * threat (威胁) `= b_u + 30·e_u·d(h) + Σ incident boosts + N(0, 2²)`, where `b_u` ∈ [8, 40] is
//!   the unit's baseline and `e_u` ∈ [0.5, 1.5] its exposure (街道 with offices ×1.2);
//! * asset risk (资产风险) `= a_u + 6·sin(2π·h/24 + φ_u) + Σ incident asset boosts`, `a_u` ∈ [15, 50];
//! * compliance gap (合规) `= c_u` ∈ [10, 45] plus a slow random walk (σ 0.3 per step);
//! * total `= 0.5·threat + 0.3·asset + 0.2·compliance`, each part clamped to 0–100.
//!
//! These weights are the simulator's own, chosen so that totals span the four levels; they are
//! not the district's official model, which the backend computes.
//!
//! Incidents arrive per unit and step with probability `0.006·e_u·(0.25 + d(h))` (about 45 a day
//! over 43 units), with severity low/medium/high/critical at 45/35/17/3 %. Each adds a threat
//! boost (4/8/14/22) that lasts until it is closed. It goes through the close-loop: `new` →
//! `disposing` after 10–40 min (halved for a critical one), with `analysing` halfway there, →
//! `closed` after 1–5 h more. A quarter of the units are slow (drawn from a second stream
//! seeded from the same seed): every step takes them 4 times as long, so their incidents run
//! past the `[sla]` limits (超时). On top, one scripted incident every 8 hours escalates: a
//! medium alert, then high 40 min later, then critical 40 min after that, pushing the unit into
//! 严重 (threat +75, asset +60), and it is closed 2–3 h after it became critical; and at 01:00 a
//! high alert goes unanswered for 90 min (past its 60 min limit to respond), so the first
//! hours of a demo show an overdue incident.

use std::collections::VecDeque;
use std::f64::consts::PI;

use chrono::{DateTime, FixedOffset, TimeDelta, Timelike};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::recording::{FORMAT_NAME, FORMAT_VERSION, Record, RecordBody, Recording, RecordingHeader, ScoreEntry};
use crate::model::{AlertStatus, Severity};

/// Minutes between score updates.
pub const STEP_MIN: i64 = 5;

/// A unit to simulate: id, display name and kind (街道, 地区, 委办局…).
#[derive(Clone, Debug, PartialEq)]
pub struct SimUnit {
    /// Unit id.
    pub id: String,
    /// Display name, used in alert titles.
    pub name: String,
    /// Kind, e.g. 街道.
    pub kind: String,
}

struct UnitModel {
    base_threat: f64,
    exposure: f64,
    asset: f64,
    phase: f64,
    compliance: f64,
}

struct Incident {
    unit: usize,
    alert_id: String,
    threat_boost: f64,
    asset_boost: f64,
    /// Minutes (since start) at which it goes to analysing, to disposing, and closes.
    analyse_at: i64,
    progress_at: i64,
    close_at: i64,
    /// The stages it has entered: 0 new, 1 analysing, 2 disposing.
    stage: u8,
    /// The disposal note its disposing step carries.
    note: Option<String>,
}

impl Incident {
    /// An incident reported at minute `at` that starts disposing `respond` minutes later and
    /// closes `close` minutes after that; it is analysed halfway to disposing.
    fn new(unit: usize, alert_id: String, (threat_boost, asset_boost): (f64, f64), at: i64, respond: i64, close: i64) -> Self {
        Self {
            unit,
            alert_id,
            threat_boost,
            asset_boost,
            analyse_at: at + respond / 2,
            progress_at: at + respond,
            close_at: at + respond + close,
            stage: 0,
            note: None,
        }
    }

    /// This incident, its disposing step noted with the playbook's note for `category`.
    fn noting(mut self, category: &str) -> Self {
        self.note = playbook(category).1;
        self
    }
}

/// Business-hours activity 0–1 at local hour `h` (0–24).
pub fn activity(h: f64) -> f64 {
    let bump = |mid: f64| (-((h - mid) / 2.0).powi(2)).exp();
    (0.9 * bump(10.0)).max(bump(15.5))
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

const CATEGORIES: [(&str, &str); 8] = [
    ("恶意代码", "终端检出木马程序"),
    ("漏洞利用", "Web 应用漏洞利用尝试"),
    ("钓鱼邮件", "钓鱼邮件投递"),
    ("暴力破解", "VPN 账号暴力破解"),
    ("数据泄露", "敏感数据外发异常"),
    ("勒索软件", "勒索软件加密行为"),
    ("弱口令", "弱口令资产暴露"),
    ("拒绝服务", "对外服务流量异常"),
];

/// The analysis (研判) engine's text and the disposal note (处置说明) of each category, as
/// the platform would send them: (category, analysis, note at closing).
const PLAYBOOK: [(&str, &str, &str); 8] = [
    ("恶意代码", "研判：终端回连境外控制地址，疑似远控木马；建议隔离终端、全盘查杀", "已隔离终端并清除木马，复查无回连"),
    ("漏洞利用", "研判：针对已知漏洞的利用载荷，未见成功迹象；建议加固并打补丁", "已升级补丁并加固访问策略"),
    ("钓鱼邮件", "研判：仿冒办公系统的钓鱼邮件，已有人员点击；建议重置口令", "已拦截发件源，涉事账号已重置口令"),
    ("暴力破解", "研判：同一来源高频尝试登录；建议封禁来源并启用双因素认证", "已封禁来源地址，启用双因素认证"),
    ("数据泄露", "研判：非工作时段大量敏感数据外发；建议阻断并溯源", "已阻断外发通道，完成溯源取证"),
    ("勒索软件", "研判：文件批量加密特征，存在横向扩散风险；建议立即断网隔离", "已断网隔离受感染主机，从备份恢复"),
    ("弱口令", "研判：互联网暴露资产使用弱口令；建议立即修改并限制访问", "已修改口令并限制来源访问"),
    ("拒绝服务", "研判：对外服务遭流量攻击，可用性下降；建议启用流量清洗", "已启用流量清洗，服务恢复"),
];

/// The playbook's analysis and closing note for `category`.
fn playbook(category: &str) -> (Option<String>, Option<String>) {
    PLAYBOOK.iter().find(|(c, _, _)| *c == category).map_or((None, None), |(_, a, n)| (Some((*a).to_owned()), Some((*n).to_owned())))
}

/// The record of a new alert on `unit`, titled "<unit name> <what>"; a high or critical one
/// carries the analysis engine's text.
fn new_alert(t: DateTime<FixedOffset>, id: &str, unit: &SimUnit, severity: Severity, category: &str, what: &str) -> Record {
    Record {
        t,
        body: RecordBody::Alert {
            id: id.to_owned(),
            unit: unit.id.clone(),
            severity,
            category: category.to_owned(),
            title: format!("{} {what}", unit.name),
            status: AlertStatus::New,
            analysis: if severity >= Severity::High { playbook(category).0 } else { None },
        },
    }
}

fn r1(v: f64) -> f32 {
    ((v.clamp(0.0, 100.0) * 10.0).round() / 10.0) as f32
}

/// Simulates `hours` hours from `start` for `units`, deterministically from `seed`.
pub fn simulate(units: &[SimUnit], seed: u64, hours: u32, start: DateTime<FixedOffset>, map_id: &str) -> Recording {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let models: Vec<UnitModel> = units
        .iter()
        .map(|u| {
            let office = if u.kind.contains("街道") { 1.2 } else { 1.0 };
            UnitModel {
                base_threat: rng.random_range(8.0..40.0),
                exposure: rng.random_range(0.5..1.5) * office,
                asset: rng.random_range(15.0..50.0),
                phase: rng.random_range(0.0..2.0 * PI),
                compliance: rng.random_range(10.0..45.0),
            }
        })
        .collect();
    // Slow units, from their own stream so the main one (and every score) draws as before.
    let mut slow_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x736c_6f77);
    let slowness: Vec<i64> = units.iter().map(|_| if slow_rng.random::<f64>() < 0.25 { 4 } else { 1 }).collect();
    let mut compliance: Vec<f64> = models.iter().map(|m| m.compliance).collect();
    let mut incidents: VecDeque<Incident> = VecDeque::new();
    let mut records = Vec::new();
    let mut next_alert = 1u32;
    let mut new_id = |t: DateTime<FixedOffset>| {
        let id = format!("A-{}-{:04}", t.format("%Y%m%d"), next_alert);
        next_alert += 1;
        id
    };
    let total_min = i64::from(hours) * 60;
    let mut minute = 0;
    // (start minute, unit) of scripted escalations: one per 8 hours, at 09:30 + 8k h.
    let mut escalations: Vec<(i64, usize)> =
        (0..).map(|k| 9 * 60 + 30 + k * 480).take_while(|&m| m + 120 < total_min).map(|m| (m, rng.random_range(0..units.len().max(1)))).collect();
    escalations.reverse();

    while minute <= total_min && !units.is_empty() {
        let t = start + TimeDelta::minutes(minute);
        let local = t.time();
        let h = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
        let d = activity(h);

        // Status changes of open incidents.
        for inc in incidents.iter_mut() {
            for (stage, at, status) in [(0, inc.analyse_at, AlertStatus::Analysing), (1, inc.progress_at, AlertStatus::Disposing)] {
                if inc.stage == stage && minute >= at && minute < inc.close_at {
                    inc.stage += 1;
                    let note = if status == AlertStatus::Disposing { inc.note.clone() } else { None };
                    records.push(Record { t, body: RecordBody::AlertStatus { id: inc.alert_id.clone(), status, note } });
                }
            }
        }
        incidents.retain(|inc| {
            if minute >= inc.close_at {
                records.push(Record { t, body: RecordBody::AlertStatus { id: inc.alert_id.clone(), status: AlertStatus::Closed, note: None } });
                false
            } else {
                true
            }
        });

        // Scripted escalation: medium now, high +40 min, critical +80 min.
        if escalations.last().is_some_and(|&(m, _)| m == minute) {
            let (_, u) = escalations.pop().expect("checked");
            let (category, what) = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
            let close = minute + 80 + rng.random_range(120..180);
            for (k, (sev, boost, asset, tag)) in
                [(Severity::Medium, 15.0, 10.0, ""), (Severity::High, 25.0, 20.0, "（升级）"), (Severity::Critical, 35.0, 30.0, "（升级为严重）")]
                    .into_iter()
                    .enumerate()
            {
                let at = minute + 40 * k as i64;
                let ta = start + TimeDelta::minutes(at);
                let id = new_id(ta);
                records.push(new_alert(ta, &id, &units[u], sev, category, &format!("{what}{tag}")));
                incidents.push_back(Incident::new(u, id, (boost, asset), at, 10, close - at - 10).noting(category));
            }
        }

        // The unanswered one: a high alert at 01:00, disposed only after 90 min.
        if minute == 60 && !units.is_empty() {
            // On an area unit (街乡), so its badge stands on a prism of the map.
            let areas: Vec<usize> = (0..units.len()).filter(|&i| !units[i].kind.contains("委办局")).collect();
            let u = if areas.is_empty() { slow_rng.random_range(0..units.len()) } else { areas[slow_rng.random_range(0..areas.len())] };
            let id = new_id(t);
            records.push(new_alert(t, &id, &units[u], Severity::High, "暴力破解", "VPN 账号暴力破解（未响应）"));
            incidents.push_back(Incident::new(u, id, (14.0, 4.0), minute, 90, 240).noting("暴力破解"));
        }

        // Random incidents.
        for (u, m) in models.iter().enumerate() {
            if rng.random::<f64>() < 0.006 * m.exposure * (0.25 + d) {
                let roll: f64 = rng.random();
                let (sev, boost) = match roll {
                    r if r < 0.45 => (Severity::Low, 4.0),
                    r if r < 0.80 => (Severity::Medium, 8.0),
                    r if r < 0.97 => (Severity::High, 14.0),
                    _ => (Severity::Critical, 22.0),
                };
                let (category, what) = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
                let id = new_id(t);
                let respond = rng.random_range(10..40) / if sev == Severity::Critical { 2 } else { 1 };
                let close = rng.random_range(60..300);
                records.push(new_alert(t, &id, &units[u], sev, category, what));
                incidents.push_back(Incident::new(u, id, (boost, boost * 0.3), minute, respond * slowness[u], close * slowness[u]).noting(category));
            }
        }

        // Scores for every unit.
        let mut scores = Vec::with_capacity(units.len());
        for (u, m) in models.iter().enumerate() {
            let (tb, ab) = incidents.iter().filter(|i| i.unit == u).fold((0.0, 0.0), |acc, i| (acc.0 + i.threat_boost, acc.1 + i.asset_boost));
            compliance[u] = (compliance[u] + 0.3 * normal(&mut rng)).clamp(m.compliance - 10.0, m.compliance + 10.0);
            let threat = m.base_threat + 30.0 * m.exposure * d + tb + 2.0 * normal(&mut rng);
            let asset = m.asset + 6.0 * (2.0 * PI * h / 24.0 + m.phase).sin() + ab;
            let (threat, asset, comp) = (threat.clamp(0.0, 100.0), asset.clamp(0.0, 100.0), compliance[u].clamp(0.0, 100.0));
            let total = 0.5 * threat + 0.3 * asset + 0.2 * comp;
            scores.push(ScoreEntry { unit: units[u].id.clone(), total: r1(total), threat: r1(threat), asset: r1(asset), compliance: r1(comp) });
        }
        records.push(Record { t, body: RecordBody::Scores { scores, cleared: Vec::new() } });
        minute += STEP_MIN;
    }
    records.sort_by_key(|r| r.t);
    let header = RecordingHeader {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        map: map_id.into(),
        start,
        description: format!("模拟数据 SIMULATED: {hours} h for {} units, situation-wall simulate --seed {seed} --hours {hours}", units.len()),
    };
    Recording { header, records: records.into_iter().map(|r| (0, r)).collect(), errors: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Replay;
    use crate::model::LevelThresholds;
    use std::sync::Arc;

    fn units(n: usize) -> Vec<SimUnit> {
        (0..n).map(|i| SimUnit { id: format!("{i}"), name: format!("U{i}"), kind: "街道".into() }).collect()
    }

    #[test]
    fn same_seed_same_recording_and_a_plausible_day() {
        let start = DateTime::parse_from_rfc3339("2026-11-28T00:00:00+08:00").unwrap();
        let a = simulate(&units(43), 7, 24, start, "m");
        let b = simulate(&units(43), 7, 24, start, "m");
        assert_eq!(a, b);
        let scores = a.records.iter().filter(|(_, r)| matches!(r.body, RecordBody::Scores { .. })).count();
        assert_eq!(scores, 24 * 12 + 1);

        // Business hours are riskier than the night: district mean at 15:30 vs 03:30.
        let mut replay = Replay::new(Arc::new(a.clone()), 1.0, false, 3600.0);
        let mean = |r: &Replay| r.state().units().filter_map(|(_, u)| u.score).map(|s| s.total).sum::<f32>() / 43.0;
        replay.seek(3.5 * 3600.0);
        let night = mean(&replay);
        replay.seek(15.5 * 3600.0);
        let day = mean(&replay);
        assert!(day > night + 5.0, "day {day} night {night}");

        // Some unit reaches 严重 at some point and every scripted critical alert gets closed.
        let t = LevelThresholds::default();
        replay.seek(0.0);
        let mut saw_critical = false;
        while !replay.finished() {
            replay.advance(300.0);
            saw_critical |= replay.state().units().any(|(_, u)| u.score.is_some_and(|s| t.level(s.total) == crate::model::Level::Critical));
        }
        assert!(saw_critical);
        let crit: Vec<_> = replay.state().alerts_newest_first().filter(|a| a.severity == Severity::Critical).collect();
        assert!(!crit.is_empty());
        assert!(crit.iter().any(|a| a.status == AlertStatus::Closed));
        let n = replay.state().alerts_newest_first().count();
        assert!((15..=120).contains(&n), "{n} alerts in a day");

        // The close-loop: stages in order, some incidents overdue, the first within 2 h 15 min.
        let sla = crate::model::Sla::default();
        let mut early = Replay::new(Arc::new(a), 1.0, false, 3600.0);
        early.seek(2.25 * 3600.0);
        let at = start + TimeDelta::minutes(135);
        let late = crate::model::overdue_by_unit(early.state(), &sla, at);
        assert_eq!(late.values().sum::<usize>(), 1, "the unanswered 01:00 alert: {late:?}");
        let stages = replay
            .state()
            .alerts_newest_first()
            .filter_map(|a| replay.state().stages(&a.id))
            .filter(|s| s.analysing.is_some() && s.disposing.is_some())
            .count();
        assert!(stages > n / 2, "{stages} of {n} went through analysing and disposing");
        // High and critical alerts carry the analysis engine's text; disposing ones a note.
        let all: Vec<_> = replay.state().alerts_newest_first().collect();
        assert!(all.iter().filter(|a| a.severity >= Severity::High).all(|a| a.analysis.as_deref().is_some_and(|t| t.starts_with("研判："))));
        assert!(all.iter().filter(|a| a.severity < Severity::High).all(|a| a.analysis.is_none()));
        assert!(all.iter().filter(|a| a.note.is_some()).count() > n / 2, "disposal notes");
        for a in replay.state().alerts_newest_first() {
            let s = replay.state().stages(&a.id).unwrap();
            let order = [Some(s.reported), s.analysing, s.disposing, s.closed];
            let times: Vec<_> = order.iter().flatten().collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "{}: stages out of order {order:?}", a.id);
        }
    }
}
