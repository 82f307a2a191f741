//! Every UI string, in one table: Chinese (the default) and English; `L` switches at run
//! time.

use bevy::prelude::*;

use super::picture::Settings;
use super::schedule::AppSystems;

pub use crate::config::Lang;
use crate::model::{AlertStatus, Level, Severity};

/// Starts in `[ui] lang`; `L` switches.
pub(super) fn plugin(app: &mut App) {
    let lang = app.world().get_resource::<Settings>().map(|s| s.config.ui.lang).unwrap_or_default();
    app.insert_resource(UiLang(lang)).add_systems(Update, switch_language.in_set(AppSystems::Input));
}

fn switch_language(input: Res<ButtonInput<KeyCode>>, mut lang: ResMut<UiLang>) {
    if input.just_pressed(KeyCode::KeyL) {
        lang.0 = match lang.0 {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        };
    }
}

/// `name` cut to at most `max` characters (≥ 1), the last one "…" when cut.
pub fn truncate(name: &str, max: usize) -> String {
    if name.chars().count() <= max { name.to_owned() } else { name.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect() }
}

/// The language on screen now.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UiLang(pub Lang);

/// One UI string. [`T::get`] gives its text in a language.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum T {
    Title,
    Schematic,
    Demo,
    Live,
    Delayed,
    Stale,
    Unauthorised,
    FeedError,
    Loading,
    AsOf,
    Connecting,
    Polling,
    RetryIn,
    /// Why the live feed is retrying, one per [`crate::feed::live::RetryKind`] (the full,
    /// library-worded reason goes to the log only).
    RetryConnect,
    RetryTimeout,
    RetryHttp,
    RetryBadData,
    RetryClosed,
    RetryNetwork,
    RetrySetup,
    NoData,
    RiskScore,
    HeightRule,
    Bureaus,
    SimulatedPositions,
    /// Followed by how many of the bureaus have a score now.
    Scored,
    Total,
    Threat,
    Asset,
    Compliance,
    Level,
    Rank,
    Trend24h,
    Incidents,
    Mttr,
    Overdue,
    TabNow,
    TabDay,
    TabWeek,
    TabMonth,
    TabEfficiency,
    OnTime,
    AssetShort,
    ComplianceShort,
    TotalShort,
    EfficiencyOver,
    Acknowledged,
    MttrShort,
    OpenShort,
    NoPeriodData,
    OverdueLegend,
    OverdueResponse,
    OverdueClosure,
    MoreCritical,
    Acknowledge,
    OpenCritical,
    UnitsByLevel,
    OpenIncidentsList,
    NoOpenIncidents,
    Vulnerabilities,
    CompliancePass,
    Simulated,
    BackHint,
    Ranking,
    Unit,
    District,
    OverallIndex,
    OpenIncidents,
    Alerts24h,
    LatestAlerts,
    More,
    CriticalAlert,
    Pause,
    Play,
    Speed,
    DataInterrupted,
    NotConnected,
    /// The stale watermark's line when the last picture has data: followed by its data time
    /// (which differs from the wall-clock time of the last contact in its title).
    LastDataAt,
    /// The stale watermark's line when nothing was ever received.
    NothingReceived,
    Since,
    Tour,
    Bureau,
    /// The ranking board's tab of the bureaus (beside 街乡 / Townships).
    BureausTab,
    Street,
    Coalesced,
    Areas,
    /// The header's badge when the source says its data is simulated.
    SimulatedData,
    /// "units loaded", after "42/43".
    UnitsLoaded,
    /// "failed", after a count of map features that did not load.
    Failed,
    /// Heads the list of map features that did not load.
    NotLoaded,
}

impl T {
    /// The text in `lang`.
    pub fn get(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            T::Title => ("朝阳区网络安全态势", "Chaoyang Cyber Security Situation"),
            T::Schematic => ("示意图", "schematic boundaries"),
            T::Demo => ("演示数据", "DEMO"),
            T::Live => ("实时", "LIVE"),
            T::Delayed => ("延迟", "DELAYED"),
            T::Stale => ("中断", "STALE"),
            T::Unauthorised => ("未授权", "UNAUTHORISED"),
            T::FeedError => ("数据接收异常 · 正在重连", "feed error · reconnecting"),
            T::Loading => ("加载中", "loading"),
            T::AsOf => ("截至", "as of"),
            T::Connecting => ("连接中", "connecting"),
            T::Polling => ("轮询", "polling"),
            T::RetryIn => ("重试", "retry in"),
            T::RetryConnect => ("无法连接服务器", "cannot reach the server"),
            T::RetryTimeout => ("服务器无响应", "no answer from the server"),
            T::RetryHttp => ("服务器错误", "server error"),
            T::RetryBadData => ("数据无法读取", "unreadable data"),
            T::RetryClosed => ("服务器关闭了数据流", "the server closed the stream"),
            T::RetryNetwork => ("网络中断", "network failure"),
            T::RetrySetup => ("客户端配置错误（见日志）", "client setup failed (see the log)"),
            T::NoData => ("无数据", "no data"),
            T::RiskScore => ("风险指数", "Risk score"),
            T::HeightRule => ("高度", "height"),
            T::Bureaus => ("细柱 = 委办局", "columns = bureaus"),
            T::SimulatedPositions => ("模拟位置", "simulated positions"),
            T::SimulatedData => ("模拟数据", "SIMULATED"),
            T::UnitsLoaded => ("个单元已加载", "units loaded"),
            T::Failed => ("个失败", "failed"),
            T::NotLoaded => ("未能加载的单元", "Units not loaded"),
            T::Scored => ("有评分", "scored"),
            T::Total => ("综合指数", "Risk index"),
            T::Threat => ("威胁", "Threat"),
            T::Asset => ("资产风险", "Asset risk"),
            T::Compliance => ("合规", "Compliance"),
            T::Level => ("等级", "Level"),
            T::Rank => ("排名", "Rank"),
            T::Trend24h => ("24小时趋势", "24 h trend"),
            T::Incidents => ("事件处置", "Incidents"),
            T::Mttr => ("平均处置时长 MTTR", "MTTR (mean time to close)"),
            T::Overdue => ("超时", "overdue"),
            T::TabNow => ("实时", "Now"),
            T::TabDay => ("今日", "Today"),
            T::TabWeek => ("本周", "Week"),
            T::TabMonth => ("本月", "Month"),
            T::TabEfficiency => ("处置效率", "Response"),
            T::OnTime => ("按时率", "On time"),
            T::AssetShort => ("资产", "Asset"),
            T::ComplianceShort => ("合规", "Compl."),
            T::TotalShort => ("综合", "Index"),
            T::EfficiencyOver => ("统计区间", "Over"),
            T::Acknowledged => ("已确认", "acknowledged"),
            T::MttrShort => ("时长", "MTTR"),
            T::OpenShort => ("未闭环", "Open"),
            T::NoPeriodData => ("等待网关排名", "waiting for the gateway's ranking"),
            T::OverdueLegend => ("超时 N = 单位有 N 起事件超过处置时限", "overdue N = N incidents past their time limit"),
            T::OverdueResponse => ("未响应超时", "no response in time"),
            T::OverdueClosure => ("闭环超时", "not closed in time"),
            T::MoreCritical => ("条严重事件待确认", "more critical awaiting acknowledgement"),
            T::Acknowledge => ("确认", "Acknowledge"),
            T::OpenCritical => ("严重", "critical"),
            T::UnitsByLevel => ("单位", "Units"),
            T::OpenIncidentsList => ("未闭环事件", "Open incidents"),
            T::NoOpenIncidents => ("无未闭环事件", "no open incidents"),
            T::Vulnerabilities => ("漏洞", "Vulnerabilities"),
            T::CompliancePass => ("合规检查通过率", "Compliance checks passed"),
            T::Simulated => ("模拟", "simulated"),
            T::BackHint => ("Esc / 点击空白处 返回全区", "Esc / tap outside: district view"),
            T::Ranking => ("量化考核排名", "Risk ranking"),
            T::Unit => ("单位", "Unit"),
            T::District => ("全区态势", "District"),
            T::OverallIndex => ("全区指数", "Overall index"),
            T::OpenIncidents => ("未闭环事件", "Open incidents"),
            T::Alerts24h => ("24小时告警", "Alerts, 24 h"),
            T::LatestAlerts => ("最新告警", "Latest alerts"),
            T::More => ("条未显示", "more"),
            T::CriticalAlert => ("严重告警", "CRITICAL ALERT"),
            T::Pause => ("暂停", "Pause"),
            T::Play => ("播放", "Play"),
            T::Speed => ("速度", "Speed"),
            T::DataInterrupted => ("数据中断", "DATA INTERRUPTED"),
            T::NotConnected => ("未连接 · 无数据", "NOT CONNECTED · NO DATA YET"),
            T::LastDataAt => ("显示最后一次有效数据，非实时 · 数据时间", "last good picture shown, not live · data of"),
            T::NothingReceived => ("尚未收到任何数据", "no data received yet"),
            T::Since => ("自", "since"),
            T::Tour => ("自动巡检", "Auto tour"),
            T::Bureau => ("委办局", "bureau"),
            T::BureausTab => ("委办局", "Bureaus"),
            T::Street => ("街乡", "township"),
            T::Coalesced => ("合并显示的告警动效", "alert effects coalesced"),
            T::Areas => ("街乡", "Townships"),
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// A level's name.
pub fn level(l: Level, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => l.label_zh(),
        Lang::En => match l {
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High => "High",
            Level::Critical => "Critical",
        },
    }
}

/// A severity's name.
pub fn severity(s: Severity, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => match s {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::Unknown => "unknown",
            Severity::High => "high",
            Severity::Critical => "critical",
        },
    }
}

/// An incident status's name.
pub fn status(s: AlertStatus, lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => s.label_zh(),
        Lang::En => match s {
            AlertStatus::New => "new",
            AlertStatus::Analysing => "analysing",
            AlertStatus::Disposing => "disposing",
            AlertStatus::Closed => "closed",
        },
    }
}

/// The header's text for a retry of `kind` (an HTTP status keeps its number).
pub fn retry_text(kind: crate::feed::live::RetryKind, lang: Lang) -> String {
    use crate::feed::live::RetryKind as K;
    match kind {
        K::Connect => T::RetryConnect.get(lang).to_owned(),
        K::Timeout => T::RetryTimeout.get(lang).to_owned(),
        K::Http(status) => format!("{} HTTP {status}", T::RetryHttp.get(lang)),
        K::BadData => T::RetryBadData.get(lang).to_owned(),
        K::Closed => T::RetryClosed.get(lang).to_owned(),
        K::Network => T::RetryNetwork.get(lang).to_owned(),
        K::Setup => T::RetrySetup.get(lang).to_owned(),
    }
}

/// The on-screen load count when some map features failed: "42/43 个单元已加载 · 1 个失败"
/// or "42/43 units loaded · 1 failed"; `None` when every feature loaded.
pub fn units_loaded_text(loaded: usize, features: usize, lang: Lang) -> Option<String> {
    let failed = features.saturating_sub(loaded);
    (failed > 0).then(|| format!("{loaded}/{features} {} · {failed} {}", T::UnitsLoaded.get(lang), T::Failed.get(lang)))
}

/// A neighbouring district's name as the context layer labels it: as in the file in Chinese;
/// in English the romanised name of Beijing's 16 districts ("海淀区" → "Haidian"), any other
/// name as it is.
pub fn district_name(name: &str, lang: Lang) -> &str {
    const BEIJING: [(&str, &str); 16] = [
        ("东城区", "Dongcheng"),
        ("西城区", "Xicheng"),
        ("朝阳区", "Chaoyang"),
        ("丰台区", "Fengtai"),
        ("石景山区", "Shijingshan"),
        ("海淀区", "Haidian"),
        ("门头沟区", "Mentougou"),
        ("房山区", "Fangshan"),
        ("通州区", "Tongzhou"),
        ("顺义区", "Shunyi"),
        ("昌平区", "Changping"),
        ("大兴区", "Daxing"),
        ("怀柔区", "Huairou"),
        ("平谷区", "Pinggu"),
        ("密云区", "Miyun"),
        ("延庆区", "Yanqing"),
    ];
    match lang {
        Lang::Zh => name,
        Lang::En => BEIJING.iter().find(|(zh, _)| *zh == name).map_or(name, |(_, en)| en),
    }
}

/// A failed feature's line on screen: "要素 7（编号 110105007）：几何坐标为空" or "feature 7 (id
/// 110105007): geometry has empty coordinates"; `reason` is the loader's own (English) words.
pub fn failed_feature_line(feature_index: usize, id: Option<&str>, reason: &str, lang: Lang) -> String {
    match lang {
        Lang::Zh => {
            let id = id.map(|id| format!("（编号 {id}）")).unwrap_or_default();
            format!("要素 {feature_index}{id}：{}", feature_reason(reason))
        }
        Lang::En => {
            let id = id.map(|id| format!(" (id {id})")).unwrap_or_default();
            format!("feature {feature_index}{id}: {reason}")
        }
    }
}

/// The Chinese for one of the map loader's feature errors (`geo::load`), by the words it
/// begins with; a reason not in the table reads 几何数据无法使用（详见日志） — the log has
/// every reason in full.
pub fn feature_reason(reason: &str) -> &'static str {
    const TABLE: [(&str, &str); 12] = [
        ("duplicate unit id", "单元编号重复"),
        ("not a JSON object", "不是 JSON 对象"),
        ("no geometry member", "缺少几何（无位置）"),
        ("geometry is null", "几何为空值（无位置）"),
        ("geometry is not valid GeoJSON", "几何不是有效的 GeoJSON"),
        ("unsupported geometry type", "几何类型不支持（仅支持面 Polygon / MultiPolygon）"),
        ("no unit id", "缺少单元编号"),
        ("geometry has empty coordinates", "几何坐标为空"),
        ("position", "坐标非有限值或超出范围"),
        ("not loaded: no usable polygon part", "没有可用的面（各部分均被舍弃）"),
        ("its rings are strings", "环为压缩编码，但文件未声明 UTF8Encoding"),
        (crate::geo::echarts::FORMAT_NAME, "压缩编码（UTF8Encoding）无法解码"),
    ];
    TABLE.iter().find(|(en, _)| reason.starts_with(en)).map_or("几何数据无法使用（详见日志）", |(_, zh)| zh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijings_districts_are_romanised_in_english() {
        assert_eq!(district_name("海淀区", Lang::En), "Haidian");
        assert_eq!(district_name("海淀区", Lang::Zh), "海淀区");
        assert_eq!(district_name("雄安新区", Lang::En), "雄安新区", "not one of Beijing's: as it is");
    }

    #[test]
    fn both_languages_have_text() {
        for t in [T::Title, T::Ranking, T::CriticalAlert, T::BackHint] {
            assert!(!t.get(Lang::Zh).is_empty() && t.get(Lang::Zh).chars().any(|c| c as u32 > 0x2E80), "{t:?}");
            assert!(t.get(Lang::En).is_ascii(), "{t:?}");
        }
        assert_eq!(level(Level::Critical, Lang::Zh), "严重");
        assert_eq!(status(AlertStatus::Disposing, Lang::En), "disposing");
        assert_eq!(severity(Severity::Unknown, Lang::Zh), "未知");
        assert_eq!(severity(Severity::Unknown, Lang::En), "unknown");
        // A retry's reason in the UI's language, never the library's English.
        assert_eq!(retry_text(crate::feed::live::RetryKind::Connect, Lang::Zh), "无法连接服务器");
        assert_eq!(retry_text(crate::feed::live::RetryKind::Http(503), Lang::En), "server error HTTP 503");
        assert_eq!(units_loaded_text(42, 43, Lang::En).as_deref(), Some("42/43 units loaded · 1 failed"));
        assert_eq!(units_loaded_text(42, 43, Lang::Zh).as_deref(), Some("42/43 个单元已加载 · 1 个失败"));
        assert_eq!(units_loaded_text(43, 43, Lang::Zh), None);
    }
}
