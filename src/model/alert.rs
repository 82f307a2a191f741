//! Alerts (告警) and incident status.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// How severe an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// 低
    Low,
    /// 中
    Medium,
    /// 高
    High,
    /// 严重 — raises a banner on the wall.
    Critical,
}

impl Severity {
    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Severity::Low => "低危",
            Severity::Medium => "中危",
            Severity::High => "高危",
            Severity::Critical => "严重",
        }
    }
}

/// Where an alert's incident stands in the report → analyse → dispose → close flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// 新发现 — reported, not yet being handled.
    New,
    /// 处置中 — being analysed or disposed.
    InProgress,
    /// 已闭环 — closed.
    Closed,
}

impl AlertStatus {
    /// The Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            AlertStatus::New => "新发现",
            AlertStatus::InProgress => "处置中",
            AlertStatus::Closed => "已闭环",
        }
    }
}

/// One security alert on one unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique alert id, e.g. `A-20261128-0007`.
    pub id: String,
    /// The unit id (9-digit township code or bureau id).
    pub unit: String,
    /// When it was raised, with its UTC offset (Beijing is +08:00).
    pub time: DateTime<FixedOffset>,
    /// Severity.
    pub severity: Severity,
    /// Category, e.g. 恶意代码, 漏洞利用, 数据泄露.
    pub category: String,
    /// One-line title.
    pub title: String,
    /// Current status.
    pub status: AlertStatus,
}
