//! Risk scores and levels.

use serde::{Deserialize, Serialize};

/// A unit's risk score. Every field is 0–100, higher meaning more risk.
///
/// The total is computed by the backend (or by the simulator, see `feed::simulate`) from three
/// parts of the district's quantified risk model: threat operations (威胁), asset risk
/// (资产风险) and compliance (合规; a high score means poor compliance).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskScore {
    /// Overall risk, 0–100.
    pub total: f32,
    /// Threat operations (威胁), 0–100.
    pub threat: f32,
    /// Asset risk (资产风险), 0–100.
    pub asset: f32,
    /// Compliance gap (合规), 0–100.
    pub compliance: f32,
}

/// A score field that is not a finite number in 0–100.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field} = {value} is not a finite score in 0–100")]
pub struct ScoreError {
    /// Which field: total, threat, asset or compliance.
    pub field: &'static str,
    /// The offending value.
    pub value: f32,
}

impl RiskScore {
    /// Checks every field is finite and within 0–100.
    ///
    /// # Errors
    /// The first field that is not.
    pub fn validate(&self) -> Result<(), ScoreError> {
        for (field, value) in [("total", self.total), ("threat", self.threat), ("asset", self.asset), ("compliance", self.compliance)] {
            if !value.is_finite() || !(0.0..=100.0).contains(&value) {
                return Err(ScoreError { field, value });
            }
        }
        Ok(())
    }
}

/// Risk level: 低 / 中 / 高 / 严重.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 低 — below the medium threshold.
    Low,
    /// 中
    Medium,
    /// 高
    High,
    /// 严重
    Critical,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 4] = [Level::Low, Level::Medium, Level::High, Level::Critical];

    /// The Chinese label shown on screen.
    pub fn label_zh(self) -> &'static str {
        match self {
            Level::Low => "低",
            Level::Medium => "中",
            Level::High => "高",
            Level::Critical => "严重",
        }
    }

    /// The English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// Lower bounds (0–100 scores) of the medium, high and critical levels. A score at a bound
/// belongs to the higher level.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LevelThresholds {
    /// 中 from this score (default 40).
    pub medium: f32,
    /// 高 from this score (default 60).
    pub high: f32,
    /// 严重 from this score (default 80).
    pub critical: f32,
}

impl Default for LevelThresholds {
    fn default() -> Self {
        Self { medium: 40.0, high: 60.0, critical: 80.0 }
    }
}

impl LevelThresholds {
    /// The level of a 0–100 total score.
    pub fn level(&self, score: f32) -> Level {
        if score >= self.critical {
            Level::Critical
        } else if score >= self.high {
            Level::High
        } else if score >= self.medium {
            Level::Medium
        } else {
            Level::Low
        }
    }

    /// The score range `[lo, hi)` of a level.
    pub fn range(&self, level: Level) -> (f32, f32) {
        match level {
            Level::Low => (0.0, self.medium),
            Level::Medium => (self.medium, self.high),
            Level::High => (self.high, self.critical),
            Level::Critical => (self.critical, 100.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_thresholds_at_their_bounds() {
        let t = LevelThresholds::default();
        assert_eq!(t.level(0.0), Level::Low);
        assert_eq!(t.level(39.99), Level::Low);
        assert_eq!(t.level(40.0), Level::Medium);
        assert_eq!(t.level(60.0), Level::High);
        assert_eq!(t.level(79.9), Level::High);
        assert_eq!(t.level(80.0), Level::Critical);
        assert_eq!(t.level(100.0), Level::Critical);
    }

    #[test]
    fn validate_rejects_nan_and_out_of_range() {
        let ok = RiskScore { total: 50.0, threat: 0.0, asset: 100.0, compliance: 20.0 };
        assert!(ok.validate().is_ok());
        assert_eq!(RiskScore { threat: f32::NAN, ..ok }.validate().unwrap_err().field, "threat");
        assert_eq!(RiskScore { total: 100.5, ..ok }.validate().unwrap_err().field, "total");
        assert_eq!(RiskScore { compliance: -1.0, ..ok }.validate().unwrap_err().field, "compliance");
    }
}
