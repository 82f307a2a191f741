//! What the wall shows, as data: the [`Picture`] (scores, alerts, data clock, freshness) that
//! the feeds write and every view reads, and the display [`Settings`].
//!
//! Data flows one way: a feed (demo replay, live channel, churn) writes the picture; the scene
//! and the UI read it. Rendering code never parses data and a feed never touches entities.

use std::sync::Arc;
use std::time::Instant;

use bevy::prelude::*;
use chrono::{DateTime, FixedOffset};

use crate::config::Config;
use crate::model::{ColourRamp, RiskState};

/// Where the picture comes from, for the header.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Replaying a recording at a speed factor.
    Demo {
        /// Recording seconds per second.
        speed: f64,
    },
    /// Following a backend.
    Live {
        /// Its base URL.
        url: String,
    },
}

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

/// The current picture of the district: what the wall shows.
#[derive(Resource)]
pub struct Picture {
    /// Scores and alerts, shared with the demo replay (see `Replay::shared_state`).
    pub state: Arc<RiskState>,
    /// Where it comes from.
    pub source: Source,
    /// The data clock: the recording's time in demo mode, the newest update's in live mode.
    pub clock: Option<DateTime<FixedOffset>>,
    /// Bumped whenever `state` changes, so views redo work only then.
    pub generation: u64,
    /// Bumped when `state` is rebuilt rather than moved forward (a seek, a restarted loop):
    /// the alerts it then holds are history, not news.
    pub epoch: u64,
    /// How current the data is (always live in demo mode).
    pub freshness: Freshness,
    /// Whether the data is simulated: the demo recording's header says so, or the live
    /// backend's snapshot does. The header then shows the 模拟 / SIMULATED badge.
    pub simulated: bool,
}

impl Picture {
    /// An empty picture from `source`: no data, no clock, generation 0, live, not simulated.
    pub fn new(source: Source) -> Self {
        Self { state: Arc::default(), source, clock: None, generation: 0, epoch: 0, freshness: Freshness::Live, simulated: false }
    }

    /// "Now" for the rolling windows (alerts in the last 24 h, the 24 h trend) and the SLA
    /// deadlines: the data clock when replaying, the wall clock (UTC+8) when following a
    /// backend, so a live wall's windows roll on at midnight even when no data arrives — but
    /// the data clock again when that backend says its data is simulated (a gateway playing a
    /// recording, whose records carry the recording's own dates and run at its speed: against
    /// the wall clock every one of its incidents would be days overdue).
    pub fn now(&self) -> Option<DateTime<FixedOffset>> {
        match self.source {
            Source::Demo { .. } => self.clock,
            Source::Live { .. } if self.simulated && self.clock.is_some() => self.clock,
            Source::Live { .. } => Some(chrono::Utc::now().with_timezone(&crate::model::beijing())),
        }
    }

    /// This picture holding `state` at data time `clock`, one generation on.
    pub fn with_state(mut self, state: RiskState, clock: Option<DateTime<FixedOffset>>) -> Self {
        self.state = Arc::new(state);
        self.clock = clock;
        self.generation += 1;
        self
    }
}

/// Display settings from the config.
#[derive(Resource, Clone)]
pub struct Settings {
    /// The choropleth ramp.
    pub ramp: ColourRamp,
    /// The full configuration.
    pub config: Config,
}

impl Settings {
    /// The settings of `config`.
    ///
    /// # Errors
    /// When its colour ramp is unusable.
    pub fn new(config: Config) -> Result<Self, crate::model::RampError> {
        Ok(Self { ramp: config.ramp()?, config })
    }

    /// The sRGB colour (0–1) of a level: the ramp in the middle of the level's score range —
    /// the level's own colour with the default stepped ramp (蓝 黄 橙 红). Legend, summary,
    /// ticker and ranking take level colours from here, as the map does.
    pub fn level_colour(&self, level: crate::model::Level) -> [f32; 3] {
        let (lo, hi) = self.config.levels.range(level);
        self.ramp.sample((lo + hi.min(100.0)) / 2.0)
    }

    /// The sRGB colour (0–1) of an alert severity: its level's colour (低危 → 低, …, 严重 →
    /// 严重); an unknown severity has the theme's neutral fallback.
    pub fn severity_colour(&self, severity: crate::model::Severity) -> [f32; 3] {
        use crate::model::{Level, Severity};
        let level = match severity {
            Severity::Low => Level::Low,
            Severity::Medium => Level::Medium,
            Severity::High => Level::High,
            Severity::Critical => Level::Critical,
            Severity::Unknown => return super::theme::severity(severity).map(|v| f32::from(v) / 255.0),
        };
        self.level_colour(level)
    }
}

/// When the process started (set by `app::run` before the map loads): the origin of the
/// first-frame figures.
pub static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_backend_runs_on_its_data_clock_a_real_one_on_the_wall_clock() {
        let data = chrono::DateTime::parse_from_rfc3339("2026-11-28T02:10:00+08:00").unwrap();
        let mut live = Picture::new(Source::Live { url: "http://127.0.0.1:8080".into() });
        live.clock = Some(data);
        let wall = live.now().unwrap();
        assert!(wall > data + chrono::TimeDelta::days(1), "a real backend: the wall clock ({wall})");
        live.simulated = true;
        assert_eq!(live.now(), Some(data), "a replayed recording: its own clock");
        live.clock = None;
        assert!(live.now().is_some_and(|t| t > data), "nothing received yet: the wall clock");
        let mut demo = Picture::new(Source::Demo { speed: 60.0 });
        demo.clock = Some(data);
        assert_eq!(demo.now(), Some(data));
    }
}
