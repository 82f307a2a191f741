//! The configuration file (`config/default.toml`): every key is optional and falls back to the
//! defaults below; unknown keys are an error so typos do not pass silently.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::geo::{Crs, LoadOptions};
use crate::model::{ColourRamp, LevelThresholds, RampError, RampStop};

/// The built-in schematic map, relative to the data root.
pub const DEFAULT_MAP: &str = "maps/chaoyang_schematic.geojson";
/// The built-in context layer (neighbouring districts), relative to the data root.
pub const DEFAULT_CONTEXT: &str = "maps/beijing_neighbours.geojson";
/// The built-in demo recording, relative to the data root.
pub const DEFAULT_RECORDING: &str = "assets/recordings/demo-chaoyang-24h.jsonl";

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
}

impl Default for MapConfig {
    fn default() -> Self {
        Self {
            file: None,
            id_property: "code".into(),
            name_property: "name".into(),
            crs: Crs::Wgs84,
            context: Some(DEFAULT_CONTEXT.into()),
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

/// `[ramp]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RampConfig {
    /// Stops, scores increasing.
    pub stops: Vec<RampStop>,
}

impl Default for RampConfig {
    fn default() -> Self {
        Self { stops: ColourRamp::default_stops() }
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
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self { width: 1600, height: 900 }
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
    #[error("config [levels]: need 0 < medium < high < critical <= 100")]
    Levels,
}

impl Config {
    /// Parses TOML text; `path` only names the source in errors.
    ///
    /// # Errors
    /// [`ConfigError`] for bad TOML, unknown keys, a bad ramp or thresholds.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|source| ConfigError::Toml { path: path.into(), source })?;
        cfg.ramp()?;
        let l = cfg.levels;
        if !(0.0 < l.medium && l.medium < l.high && l.high < l.critical && l.critical <= 100.0) {
            return Err(ConfigError::Levels);
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

    /// The colour ramp.
    ///
    /// # Errors
    /// [`RampError`] for bad stops.
    pub fn ramp(&self) -> Result<ColourRamp, RampError> {
        ColourRamp::new(&self.ramp.stops)
    }
}

/// Where the shipped `maps/`, `assets/` and `config/` live: the current directory when it holds
/// them (an installed copy), else the source tree this binary was built from.
pub fn data_root() -> PathBuf {
    let cwd = PathBuf::from(".");
    if cwd.join(DEFAULT_MAP).exists() {
        cwd
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
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
        assert!(matches!(Config::parse("[levels]\nmedium = 70.0\nhigh = 60.0\ncritical = 80.0\n", "t"), Err(ConfigError::Levels)));
    }

    #[test]
    fn shipped_default_config_parses() {
        let text = std::fs::read_to_string(data_root().join("config/default.toml")).unwrap();
        let c = Config::parse(&text, "config/default.toml").unwrap();
        assert_eq!(c.ramp().unwrap(), ColourRamp::default());
    }
}
