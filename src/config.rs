//! The configuration file (`config/default.toml`): every key is optional and falls back to the
//! defaults below; unknown keys are an error so typos do not pass silently.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::geo::{Crs, LoadOptions};
use crate::model::{ColourRamp, LEVEL_COLOURS, LevelThresholds, RampError, RampStop, Severity, Sla};

/// The built-in schematic map, relative to the data root.
pub const DEFAULT_MAP: &str = "maps/chaoyang_schematic.geojson";
/// The built-in context layer (neighbouring districts), relative to the data root.
pub const DEFAULT_CONTEXT: &str = "maps/beijing_neighbours.geojson";
/// The simulated bureaus (委办局), relative to the data root.
pub const DEFAULT_BUREAUS: &str = "maps/chaoyang_bureaus.csv";
/// The built-in demo recording, relative to the data root.
pub const DEFAULT_RECORDING: &str = "assets/recordings/demo-chaoyang-24h.jsonl";

/// Largest window side, pixels: the largest texture a GPU (or lavapipe) will present; an 8K
/// wall is 7680 × 4320.
pub const MAX_WINDOW_SIDE: u32 = 16_384;

/// Fastest replay, recording seconds per second (a year of recording in about half a minute).
pub const MAX_SPEED: f64 = 1_000_000.0;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which map to show and how to read it.
    pub map: MapConfig,
    /// Demo mode: the recording and how to replay it.
    pub demo: DemoConfig,
    /// Level thresholds (0–100 scores).
    pub levels: LevelThresholds,
    /// The colour ramp.
    pub ramp: RampConfig,
    /// Heights and transitions.
    pub extrusion: ExtrusionConfig,
    /// The window.
    pub window: WindowConfig,
    /// Live mode: the backend and its timeouts.
    pub live: LiveConfig,
    /// How units are drawn.
    pub render: RenderConfig,
    /// Language, UI scale and panels.
    pub ui: UiConfig,
    /// The auto-tour of the riskiest units.
    pub tour: TourConfig,
    /// Alert effects: ripples, pulses, banner, ticker.
    pub alerts: AlertsConfig,
    /// Kiosk lock-down.
    pub kiosk: KioskConfig,
    /// Incident time limits per severity (超时 past them).
    pub sla: Sla,
}

/// How unit prisms are drawn (see `app::scene`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderMode {
    /// One merged mesh with a per-vertex unit index and a storage buffer of per-unit values,
    /// drawn by the unit material (`shaders/unit.wgsl`): one draw call for the whole map.
    #[default]
    Merged,
    /// One entity per unit sharing 101 palette materials (kept for comparison).
    Palette,
}

/// `[render]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderConfig {
    /// `"merged"` or `"palette"`.
    pub mode: RenderMode,
    /// Redraw only on change (input, new data, running animations); otherwise at most once
    /// per `idle_redraw_s`. Off: redraw every frame.
    pub reactive: bool,
    /// Longest time between redraws when idle, seconds (the clock still ticks).
    pub idle_redraw_s: f64,
    /// Multisample anti-aliasing: 1 (off), 2, 4 or 8 samples per pixel; 0 (auto) is 4 on a
    /// GPU and off on a CPU rasteriser.
    pub msaa: u32,
    /// Draw unit borders only on maps of at most this many units: on a city of communities
    /// the borders are thinner than a pixel and cost as much as the walls.
    pub borders_max_units: usize,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self { mode: RenderMode::Merged, reactive: true, idle_redraw_s: 1.0, msaa: 0, borders_max_units: 2000 }
    }
}

/// Display language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 中文 (default).
    #[default]
    Zh,
    /// English.
    En,
}

/// `[ui]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Language at start; `L` switches it.
    pub lang: Lang,
    /// UI scale factor; 0 scales with the window: height / 1080, at least 1 (2 on a
    /// 3840×2160 wall, 4 at 8K).
    pub scale: f32,
    /// Touch-first: larger rows and buttons.
    pub touch: bool,
    /// Show the ranking board (量化考核).
    pub ranking: bool,
    /// Rows the ranking board shows before it scrolls.
    pub ranking_rows: usize,
    /// The board's tab at start: `now` (实时), `day`, `week`, `month` (今日 / 本周 / 本月) or
    /// `efficiency` (处置效率).
    pub board: BoardStart,
}

/// `[ui] board`: the ranking board's first tab.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoardStart {
    /// The current scores.
    #[default]
    Now,
    /// Today's means.
    Day,
    /// This week's means.
    Week,
    /// This month's means.
    Month,
    /// Disposal efficiency.
    Efficiency,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { lang: Lang::Zh, scale: 0.0, touch: false, ranking: true, ranking_rows: 12, board: BoardStart::Now }
    }
}

/// `[tour]`: after `idle_s` without input the camera visits the `units` riskiest units in turn,
/// `dwell_s` each, with their drill-down; any input stops it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TourConfig {
    /// Run the tour at all.
    pub enabled: bool,
    /// Seconds without input before it starts.
    pub idle_s: f64,
    /// Seconds at each unit.
    pub dwell_s: f64,
    /// How many of the riskiest units it visits (then the district view, then again).
    pub units: usize,
}

impl Default for TourConfig {
    fn default() -> Self {
        Self { enabled: false, idle_s: 120.0, dwell_s: 12.0, units: 5 }
    }
}

/// `[alerts]`: effects of new alerts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Most ripple entities alive at once; more alerts at once are coalesced (one ripple per
    /// unit, the most severe), the rest counted on the ticker.
    pub max_effects: usize,
    /// Ripple and pulse duration, seconds (scaled up to 1.5× for 严重).
    pub effect_s: f32,
    /// Whether an operator may acknowledge (确认) a 严重 incident from this screen (the
    /// banner's button): true on kiosks and desktops, false on the unattended wall, which
    /// never acknowledges. The banner stays until the incident is acknowledged or closed.
    pub acknowledge: bool,
    /// The severity from which a new alert interrupts the auto-tour, flies to its unit and
    /// holds its drill-down until acknowledged (or, where `acknowledge` is off, for
    /// `fly_dwell_s`).
    pub takeover: Severity,
    /// Fly the camera to a unit with a critical alert, and back after `fly_dwell_s`.
    pub fly_to_critical: bool,
    /// Seconds the camera stays at that unit.
    pub fly_dwell_s: f64,
    /// Alerts the ticker lists.
    pub ticker_len: usize,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self { max_effects: 16, effect_s: 4.0, acknowledge: true, takeover: Severity::Critical, fly_to_critical: false, fly_dwell_s: 10.0, ticker_len: 8 }
    }
}

/// `[kiosk]`: lock-down for leaders' desktop kiosks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    /// Ignore window close requests and quit keys; only `admin_chord` quits.
    pub locked: bool,
    /// Key chord that quits a locked app, e.g. `"ctrl+alt+shift+q"` (modifiers, then one letter).
    pub admin_chord: String,
}

impl Default for KioskConfig {
    fn default() -> Self {
        Self { locked: false, admin_chord: "ctrl+alt+shift+q".into() }
    }
}

/// `[live]`: following the security-operations backend (`--live URL`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Backend base URL; `--live URL` overrides it. Empty: demo mode.
    pub url: String,
    /// Environment variable holding the bearer token.
    pub token_env: String,
    /// File holding the bearer token (used when the variable is unset); `""` for none.
    pub token_file: PathBuf,
    /// Extra CA bundle (PEM) to trust; `""` for none.
    pub ca_file: PathBuf,
    /// Seconds without contact before the header says 延迟 (delayed).
    pub delayed_s: f64,
    /// Seconds without contact before the wall goes stale (desaturated, 数据中断).
    pub stale_s: f64,
    /// Polling interval when the server has no event stream, seconds.
    pub poll_s: f64,
    /// TCP connect timeout, seconds.
    pub connect_timeout_s: f64,
    /// Whole-request deadline, seconds.
    pub request_timeout_s: f64,
    /// Largest response body, MiB.
    pub max_body_mib: f64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            token_env: "SITUATION_WALL_TOKEN".into(),
            token_file: PathBuf::new(),
            ca_file: PathBuf::new(),
            delayed_s: 10.0,
            stale_s: 30.0,
            poll_s: crate::feed::live::DEFAULT_POLL_S,
            connect_timeout_s: crate::feed::live::DEFAULT_CONNECT_TIMEOUT_S,
            request_timeout_s: crate::feed::live::DEFAULT_REQUEST_TIMEOUT_S,
            max_body_mib: crate::feed::live::DEFAULT_MAX_BODY_MIB,
        }
    }
}

impl LiveConfig {
    /// Client options for `url`, with the token from the environment or file.
    ///
    /// # Errors
    /// When the token or CA file cannot be read.
    pub fn options(&self, url: &str) -> Result<crate::feed::live::LiveOptions, ConfigError> {
        use std::time::Duration;
        // A URL that can never work is an error now, not a retry loop for ever.
        match reqwest::Url::parse(url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => return Err(ConfigError::Live(format!("backend URL {url:?}: need http:// or https:// and a host, not {}://", u.scheme()))),
            Err(e) => return Err(ConfigError::Live(format!("backend URL {url:?} is not a URL: {e}"))),
        }
        let mut o = crate::feed::live::LiveOptions::new(url);
        let read = |key: &str, p: &Path| {
            std::fs::read(resolve(p))
                .map_err(|e| ConfigError::Live(format!("[live] {key} = {:?}: cannot read {}: {e}", p.display().to_string(), resolve(p).display())))
        };
        o.token = match std::env::var(&self.token_env) {
            Ok(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
            _ if !self.token_file.as_os_str().is_empty() => Some(String::from_utf8_lossy(&read("token_file", &self.token_file)?).trim().to_owned()),
            _ => None,
        };
        if !self.ca_file.as_os_str().is_empty() {
            let pem = read("ca_file", &self.ca_file)?;
            match reqwest::Certificate::from_pem_bundle(&pem) {
                Ok(certs) if !certs.is_empty() => {}
                Ok(_) => return Err(ConfigError::Live(format!("[live] ca_file = {:?} holds no PEM certificate", self.ca_file.display().to_string()))),
                Err(e) => return Err(ConfigError::Live(format!("[live] ca_file = {:?}: {e}", self.ca_file.display().to_string()))),
            }
            o.extra_ca_pem = Some(pem);
        }
        let secs = |s: f64| Duration::from_secs_f64(s.max(0.1));
        o.poll_interval = secs(self.poll_s);
        o.connect_timeout = secs(self.connect_timeout_s);
        o.request_timeout = secs(self.request_timeout_s);
        o.max_body = (self.max_body_mib.max(0.001) * 1048576.0) as usize;
        o.idle_timeout = secs(self.stale_s.max(20.0));
        Ok(o)
    }
}

/// `[map]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapConfig {
    /// GeoJSON file of the units; `None` uses the built-in schematic (示意图).
    pub file: Option<PathBuf>,
    /// Property holding the unit id (`code`; `adcode` and Feature.id are tried next).
    pub id_property: String,
    /// Property holding the display name.
    pub name_property: String,
    /// Datum of the file: `wgs84` or `gcj02`.
    pub crs: Crs,
    /// GeoJSON of dim context outlines (neighbouring districts, WGS-84); `""` for none.
    pub context: Option<PathBuf>,
    /// CSV of point units (bureaus, 委办局) shown as slim columns; `""` for none.
    pub bureaus: PathBuf,
}

impl Default for MapConfig {
    fn default() -> Self {
        Self {
            file: None,
            id_property: "code".into(),
            name_property: "name".into(),
            crs: Crs::Wgs84,
            context: Some(DEFAULT_CONTEXT.into()),
            bureaus: DEFAULT_BUREAUS.into(),
        }
    }
}

impl MapConfig {
    /// Loader options for the unit map.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions { id_property: self.id_property.clone(), name_property: self.name_property.clone(), crs: self.crs, projection: None }
    }
}

/// `[demo]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// The recording to replay.
    pub recording: PathBuf,
    /// Recording seconds per wall-clock second.
    pub speed: f64,
    /// Start over at the end.
    #[serde(rename = "loop")]
    pub looping: bool,
    /// Longest gap between records that replay waits out, recording seconds.
    pub max_gap_s: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { recording: DEFAULT_RECORDING.into(), speed: 60.0, looping: true, max_gap_s: 3600.0 }
    }
}

/// `[ramp]`: how scores are coloured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RampConfig {
    /// `"levels"` (the default): one colour per level, `level_colours` at the `[levels]`
    /// thresholds; `"continuous"`: the `stops` ramp.
    pub mode: RampMode,
    /// 低 / 中 / 高 / 严重 as `#rrggbb`: the national four-level warning colours by default
    /// ([`LEVEL_COLOURS`]).
    pub level_colours: [String; 4],
    /// Stops of the continuous ramp, scores increasing (plasma by default).
    pub stops: Vec<RampStop>,
}

/// How `[ramp]` colours a score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RampMode {
    /// The level's colour (蓝 黄 橙 红 by default).
    #[default]
    Levels,
    /// The perceptually ordered continuous ramp of `stops`.
    Continuous,
}

impl Default for RampConfig {
    fn default() -> Self {
        Self { mode: RampMode::Levels, level_colours: LEVEL_COLOURS.map(String::from), stops: ColourRamp::default_stops() }
    }
}

/// `[extrusion]`: unit height = `base_m + metres_per_point × score`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtrusionConfig {
    /// Height at score 0, metres.
    pub base_m: f32,
    /// Extra height per score point, metres.
    pub metres_per_point: f32,
    /// Duration of colour and height transitions, seconds.
    pub ease_s: f32,
}

impl Default for ExtrusionConfig {
    fn default() -> Self {
        Self { base_m: 200.0, metres_per_point: 30.0, ease_s: 0.8 }
    }
}

impl ExtrusionConfig {
    /// Height in metres of a 0–100 score.
    pub fn height_m(&self, score: f32) -> f32 {
        self.base_m + self.metres_per_point * score.clamp(0.0, 100.0)
    }
}

/// `[window]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowConfig {
    /// Width in logical pixels.
    pub width: u32,
    /// Height in logical pixels.
    pub height: u32,
    /// `"windowed"`, `"borderless"` (borderless fullscreen on `monitor`) or `"fullscreen"`
    /// (exclusive, the monitor's current mode).
    pub mode: WindowMode,
    /// Monitor index for the fullscreen modes (0 = primary).
    pub monitor: usize,
    /// Show the mouse cursor.
    pub cursor: bool,
}

/// How the window is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowMode {
    /// A normal window of `width` × `height`.
    #[default]
    Windowed,
    /// Borderless fullscreen.
    Borderless,
    /// Exclusive fullscreen.
    Fullscreen,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self { width: 1600, height: 900, mode: WindowMode::Windowed, monitor: 0, cursor: true }
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("cannot read config {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
    /// Bad TOML or an unknown key (the message names line and column).
    #[error("config {path}: {source}")]
    Toml {
        /// Path.
        path: String,
        /// Parser error.
        source: toml::de::Error,
    },
    /// A bad colour ramp.
    #[error("config [ramp]: {0}")]
    Ramp(#[from] RampError),
    /// Thresholds not increasing within 0–100.
    #[error("config {path} [levels]: need 0 < medium < high < critical <= 100, got {medium} / {high} / {critical}")]
    Levels {
        /// Path.
        path: String,
        /// The values given.
        medium: f32,
        /// The values given.
        high: f32,
        /// The values given.
        critical: f32,
    },
    /// Time limits that cannot hold.
    #[error("config {path} [sla]: {reason}")]
    Sla {
        /// Path.
        path: String,
        /// Which severity and field, and why.
        reason: String,
    },
    /// Live-mode settings that can never work (a bad URL, an unreadable token or CA file).
    #[error("{0}")]
    Live(String),
    /// A number out of its range.
    #[error("config {path}: {key} = {value} must be {rule}")]
    Range {
        /// Path.
        path: String,
        /// `[section] key`.
        key: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        rule: &'static str,
    },
}

impl Config {
    /// Parses TOML text; `path` only names the source in errors.
    ///
    /// # Errors
    /// [`ConfigError`] for bad TOML, unknown keys, a bad ramp or thresholds.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|source| ConfigError::Toml { path: path.into(), source })?;
        cfg.sla.validate().map_err(|reason| ConfigError::Sla { path: path.into(), reason })?;
        let l = cfg.levels;
        if !(0.0 < l.medium && l.medium < l.high && l.high < l.critical && l.critical <= 100.0) {
            return Err(ConfigError::Levels { path: path.into(), medium: l.medium, high: l.high, critical: l.critical });
        }
        cfg.ramp()?;
        let e = &cfg.extrusion;
        let w = &cfg.window;
        let r = &cfg.render;
        let (ui, tour, alerts) = (&cfg.ui, &cfg.tour, &cfg.alerts);
        let checks: [(&'static str, f64, bool, &'static str); 15] = [
            ("[render] idle_redraw_s", r.idle_redraw_s, r.idle_redraw_s.is_finite() && r.idle_redraw_s > 0.0, "a finite number > 0"),
            ("[render] msaa", f64::from(r.msaa), matches!(r.msaa, 0 | 1 | 2 | 4 | 8), "0 (auto), 1, 2, 4 or 8"),
            ("[ui] scale", f64::from(ui.scale), ui.scale.is_finite() && (ui.scale == 0.0 || (0.5..=8.0).contains(&ui.scale)), "0 (auto) or 0.5 to 8"),
            ("[tour] idle_s", tour.idle_s, tour.idle_s.is_finite() && tour.idle_s > 0.0, "a finite number > 0"),
            ("[tour] dwell_s", tour.dwell_s, tour.dwell_s.is_finite() && tour.dwell_s >= 1.0, "at least 1"),
            ("[alerts] effect_s", f64::from(alerts.effect_s), alerts.effect_s.is_finite() && alerts.effect_s > 0.0, "a finite number > 0"),
            ("[extrusion] base_m", f64::from(e.base_m), e.base_m.is_finite() && e.base_m >= 0.0, "a finite number >= 0"),
            (
                "[extrusion] metres_per_point",
                f64::from(e.metres_per_point),
                e.metres_per_point.is_finite() && e.metres_per_point >= 0.0,
                "a finite number >= 0",
            ),
            ("[extrusion] ease_s", f64::from(e.ease_s), e.ease_s.is_finite() && e.ease_s >= 0.0, "a finite number >= 0"),
            (
                "[demo] speed",
                cfg.demo.speed,
                cfg.demo.speed.is_finite() && cfg.demo.speed > 0.0 && cfg.demo.speed <= MAX_SPEED,
                "above 0 and at most 1,000,000",
            ),
            ("[demo] max_gap_s", cfg.demo.max_gap_s, cfg.demo.max_gap_s.is_finite() && cfg.demo.max_gap_s > 0.0, "a finite number > 0"),
            ("[window] width", f64::from(w.width), (320..=MAX_WINDOW_SIDE).contains(&w.width), "320 to 16384"),
            ("[window] height", f64::from(w.height), (240..=MAX_WINDOW_SIDE).contains(&w.height), "240 to 16384"),
            ("[live] delayed_s", cfg.live.delayed_s, cfg.live.delayed_s.is_finite() && cfg.live.delayed_s > 0.0, "a finite number > 0"),
            ("[live] stale_s", cfg.live.stale_s, cfg.live.stale_s.is_finite() && cfg.live.stale_s > cfg.live.delayed_s, "greater than delayed_s"),
        ];
        for (key, value, ok, rule) in checks {
            if !ok {
                return Err(ConfigError::Range { path: path.into(), key, value, rule });
            }
        }
        Ok(cfg)
    }

    /// Loads `path`, or `config/default.toml` under the data root when `path` is `None` and
    /// that file exists, or the built-in defaults.
    ///
    /// # Errors
    /// As [`Config::parse`], plus unreadable files.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let default = data_root().join("config/default.toml");
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if default.exists() => default,
            None => return Ok(Self::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Loads the base configuration as [`Config::load`] does, then lays the profile
    /// `config/NAME.toml` (under the data root) over it: the profile's keys replace the base's,
    /// table by table, and every other key keeps the base's value.
    ///
    /// # Errors
    /// As [`Config::load`]; an unknown profile names the files that exist.
    pub fn load_with_profile(path: Option<&Path>, profile: &str) -> Result<Self, ConfigError> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|source| ConfigError::Io { path: p.display().to_string(), source });
        let parse_table =
            |text: &str, p: &Path| toml::from_str::<toml::Table>(text).map_err(|source| ConfigError::Toml { path: p.display().to_string(), source });
        let default = data_root().join("config/default.toml");
        let base_path = path.map(Path::to_path_buf).or_else(|| default.exists().then_some(default));
        let mut table = match &base_path {
            Some(p) => parse_table(&read(p)?, p)?,
            None => toml::Table::new(),
        };
        let profile_path = data_root().join("config").join(format!("{profile}.toml"));
        if !profile_path.exists() {
            let mut names: Vec<String> = std::fs::read_dir(data_root().join("config"))
                .map(|d| d.filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_owned)).filter(|n| n != "default").collect())
                .unwrap_or_default();
            names.sort();
            return Err(ConfigError::Io {
                path: profile_path.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("no such profile; profiles: {}", names.join(", "))),
            });
        }
        let overlay = parse_table(&read(&profile_path)?, &profile_path)?;
        merge_tables(&mut table, overlay);
        let name = match &base_path {
            Some(p) => format!("{} + {}", p.display(), profile_path.display()),
            None => profile_path.display().to_string(),
        };
        Self::parse(&toml::to_string(&table).expect("a parsed table serialises"), &name)
    }

    /// The colour ramp.
    ///
    /// # Errors
    /// [`RampError`] for bad stops or level colours.
    pub fn ramp(&self) -> Result<ColourRamp, RampError> {
        match self.ramp.mode {
            RampMode::Levels => ColourRamp::levels(&self.levels, &self.ramp.level_colours),
            RampMode::Continuous => ColourRamp::new(&self.ramp.stops),
        }
    }
}

/// Lays `overlay` over `base`: tables merge key by key, any other value replaces.
fn merge_tables(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Where the shipped `maps/`, `assets/` and `config/` live: the current directory when it holds
/// them (an installed copy), else the source tree this binary was built from.
pub fn data_root() -> PathBuf {
    let cwd = PathBuf::from(".");
    if cwd.join(DEFAULT_MAP).exists() { cwd } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")) }
}

/// Resolves a path from the config file: absolute paths as they are, relative ones against
/// [`data_root`].
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { data_root().join(path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_file_keeps_defaults_and_unknown_keys_fail() {
        let c = Config::parse("[demo]\nspeed = 120.0\n[map]\ncrs = \"gcj02\"\nid_property = \"adcode\"\n", "t").unwrap();
        assert_eq!(c.demo.speed, 120.0);
        assert!(c.demo.looping);
        assert_eq!(c.map.crs, Crs::Gcj02);
        assert_eq!(c.extrusion.height_m(50.0), 200.0 + 30.0 * 50.0);
        let err = Config::parse("[demo]\nsped = 1.0\n", "cfg.toml").unwrap_err().to_string();
        assert!(err.contains("sped") && err.contains("cfg.toml"), "{err}");
        assert!(matches!(Config::parse("[levels]\nmedium = 70.0\nhigh = 60.0\ncritical = 80.0\n", "t"), Err(ConfigError::Levels { .. })));
        assert_eq!(Config::parse("[levels]\nmedium = 30.0\n", "t").unwrap().levels.high, 60.0);
        let err = Config::parse("[extrusion]\nmetres_per_point = nan\n", "c.toml").unwrap_err().to_string();
        assert!(err.contains("metres_per_point") && err.contains("c.toml"), "{err}");
    }

    #[test]
    fn profiles_lay_over_the_default() {
        let wall = Config::load_with_profile(None, "wall").unwrap();
        assert_eq!(wall.window.mode, WindowMode::Borderless);
        assert!(!wall.window.cursor);
        assert!(wall.tour.enabled);
        // Keys the profile does not name keep the default file's values.
        assert_eq!(wall.demo.speed, 60.0);
        assert_eq!(wall.ramp().unwrap(), Config::default().ramp().unwrap());
        let kiosk = Config::load_with_profile(None, "kiosk").unwrap();
        assert!(kiosk.kiosk.locked && kiosk.ui.touch);
        let desktop = Config::load_with_profile(None, "desktop").unwrap();
        assert_eq!(desktop.window.mode, WindowMode::Windowed);
        let err = Config::load_with_profile(None, "nosuch").unwrap_err().to_string();
        assert!(err.contains("nosuch.toml") && err.contains("kiosk") && err.contains("wall"), "{err}");
    }

    #[test]
    fn live_settings_that_can_never_work_fail_at_start() {
        let live = LiveConfig::default();
        assert!(live.options("http://127.0.0.1:8080").is_ok());
        for bad in ["not a url", "ftp://host/x", "http://"] {
            let err = live.options(bad).unwrap_err().to_string();
            assert!(err.contains("backend URL"), "{bad}: {err}");
        }
        let no_ca = LiveConfig { ca_file: "README.md".into(), ..LiveConfig::default() };
        assert!(no_ca.options("https://gw.example").unwrap_err().to_string().contains("holds no PEM certificate"));
        let no_token = LiveConfig { token_env: "SITUATION_WALL_TEST_UNSET_VAR".into(), token_file: "/nonexistent/token".into(), ..LiveConfig::default() };
        let err = no_token.options("http://127.0.0.1:8080").unwrap_err().to_string();
        assert!(err.contains("[live] token_file") && err.contains("/nonexistent/token"), "{err}");
    }

    #[test]
    fn shipped_default_config_equals_the_built_in_defaults() {
        let text = std::fs::read_to_string(data_root().join("config/default.toml")).unwrap();
        let c = Config::parse(&text, "config/default.toml").unwrap();
        let d = Config::default();
        // Section by section, so a drift names its table.
        assert_eq!(c.map, d.map, "[map]");
        assert_eq!(c.demo, d.demo, "[demo]");
        assert_eq!(c.levels, d.levels, "[levels]");
        assert_eq!(c.ramp, d.ramp, "[ramp]");
        assert_eq!(c.extrusion, d.extrusion, "[extrusion]");
        assert_eq!(c.window, d.window, "[window]");
        assert_eq!(c.live, d.live, "[live]");
        assert_eq!(c.render, d.render, "[render]");
        assert_eq!(c.ui, d.ui, "[ui]");
        assert_eq!(c.tour, d.tour, "[tour]");
        assert_eq!(c.alerts, d.alerts, "[alerts]");
        assert_eq!(c.kiosk, d.kiosk, "[kiosk]");
        assert_eq!(c.sla, d.sla, "[sla]");
        assert_eq!(c, d, "a section the checks above miss");
        assert_eq!(c.ramp().unwrap(), ColourRamp::levels(&LevelThresholds::default(), &LEVEL_COLOURS.map(String::from)).unwrap());
    }
}
