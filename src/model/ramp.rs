//! Colour ramps for the choropleth.

use serde::{Deserialize, Serialize};

/// One stop of a ramp: a 0–100 score and an sRGB colour as `#rrggbb`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampStop {
    /// Score at which this colour applies, 0–100.
    pub score: f32,
    /// sRGB colour, `#rrggbb`.
    pub colour: String,
}

/// A colour ramp over scores 0–100: piecewise linear between its stops (interpolated in
/// sRGB), or stepped — each stop's colour from its score up to the next stop's
/// ([`ColourRamp::levels`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ColourRamp {
    stops: Vec<(f32, [f32; 3])>,
    stepped: bool,
}

/// The default level colours, 低 / 中 / 高 / 严重, after the national four-level warning
/// convention (蓝 / 黄 / 橙 / 红, as in China's emergency-response plans): a pale blue, an
/// amber yellow, an orange and a red whose CIELAB lightness falls strictly with the level
/// (L* 76, 70, 58, 44), so the order survives greyscale and the common colour-vision
/// deficiencies; height carries the level too.
pub const LEVEL_COLOURS: [&str; 4] = ["#94c0ec", "#d4a300", "#e06a00", "#cc1f1f"];

/// Errors in a ramp definition.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RampError {
    /// A colour that is not `#rrggbb`.
    #[error("ramp stop {index}: colour {colour:?} is not #rrggbb")]
    BadColour {
        /// Zero-based stop index.
        index: usize,
        /// The text given.
        colour: String,
    },
    /// Scores must be finite and strictly increasing, and there must be two stops or more.
    #[error("ramp needs two or more stops with finite, strictly increasing scores")]
    BadScores,
}

/// Parses `#rrggbb` into sRGB components 0–1.
pub fn parse_hex(s: &str) -> Option<[f32; 3]> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.is_ascii() {
        return None;
    }
    let c = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok().map(|v| f32::from(v) / 255.0);
    Some([c(0)?, c(2)?, c(4)?])
}

impl ColourRamp {
    /// The default ramp: the upper 80 % of matplotlib's *plasma* (van der Walt & Smith, 2015),
    /// which is perceptually uniform and ordered in lightness, readable with the common forms
    /// of colour-vision deficiency, and starts at a violet that still stands out on a dark
    /// wall: low risk is dim violet, high risk is bright yellow, so attention goes to the
    /// brightest. Stops are plasma's published samples at 0.2, 0.3, … 1.0.
    pub fn default_stops() -> Vec<RampStop> {
        ["#6a00a8", "#8f0da4", "#b12a90", "#cc4778", "#e16462", "#f2844b", "#fca636", "#fcce25", "#f0f921"]
            .iter()
            .enumerate()
            .map(|(i, c)| RampStop { score: i as f32 * 12.5, colour: (*c).to_owned() })
            .collect()
    }

    /// Builds a ramp from stops.
    ///
    /// # Errors
    /// [`RampError`] for a bad colour, fewer than two stops, or scores not increasing.
    pub fn new(stops: &[RampStop]) -> Result<Self, RampError> {
        let mut out = Vec::with_capacity(stops.len());
        for (index, s) in stops.iter().enumerate() {
            let c = parse_hex(&s.colour).ok_or_else(|| RampError::BadColour { index, colour: s.colour.clone() })?;
            if !s.score.is_finite() || out.last().is_some_and(|&(prev, _)| s.score <= prev) {
                return Err(RampError::BadScores);
            }
            out.push((s.score, c));
        }
        if out.len() < 2 {
            return Err(RampError::BadScores);
        }
        Ok(Self { stops: out, stepped: false })
    }

    /// A stepped ramp of the four level colours (`#rrggbb`, 低 first): 低 below `medium`, 中
    /// from `medium`, 高 from `high`, 严重 from `critical` — the level's colour for every score
    /// of that level, as [`super::LevelThresholds::level`] decides.
    ///
    /// # Errors
    /// [`RampError::BadColour`] (index 0–3) for a colour that is not `#rrggbb`;
    /// [`RampError::BadScores`] for thresholds not increasing.
    pub fn levels(thresholds: &super::LevelThresholds, colours: &[String; 4]) -> Result<Self, RampError> {
        let scores = [0.0, thresholds.medium, thresholds.high, thresholds.critical];
        let stops: Vec<RampStop> = scores.iter().zip(colours).map(|(&score, c)| RampStop { score, colour: c.clone() }).collect();
        let mut ramp = Self::new(&stops)?;
        ramp.stepped = true;
        Ok(ramp)
    }

    /// Whether the ramp is stepped (one colour per level).
    pub fn is_stepped(&self) -> bool {
        self.stepped
    }

    /// sRGB colour (components 0–1) of a 0–100 score; clamps outside the stops' range and
    /// maps NaN to the lowest stop.
    pub fn sample(&self, score: f32) -> [f32; 3] {
        let first = self.stops[0];
        let last = self.stops[self.stops.len() - 1];
        if score.is_nan() || score <= first.0 {
            return first.1;
        }
        if score >= last.0 {
            return last.1;
        }
        let i = self.stops.partition_point(|&(s, _)| s <= score);
        if self.stepped {
            return self.stops[i - 1].1;
        }
        let (s0, c0) = self.stops[i - 1];
        let (s1, c1) = self.stops[i];
        let t = (score - s0) / (s1 - s0);
        [0, 1, 2].map(|k| c0[k] + (c1[k] - c0[k]) * t)
    }
}

impl Default for ColourRamp {
    fn default() -> Self {
        Self::new(&Self::default_stops()).expect("default ramp is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luminance(c: [f32; 3]) -> f32 {
        let lin = |v: f32| if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    }

    #[test]
    fn default_ramp_hits_its_stops_and_interpolates() {
        let r = ColourRamp::default();
        assert_eq!(r.sample(0.0), parse_hex("#6a00a8").unwrap());
        assert_eq!(r.sample(100.0), parse_hex("#f0f921").unwrap());
        assert_eq!(r.sample(-5.0), r.sample(0.0));
        assert_eq!(r.sample(f32::NAN), r.sample(0.0));
        let mid = r.sample(6.25);
        let (a, b) = (parse_hex("#6a00a8").unwrap(), parse_hex("#8f0da4").unwrap());
        for k in 0..3 {
            assert!((mid[k] - (a[k] + b[k]) / 2.0).abs() < 1e-6);
        }
    }

    #[test]
    fn default_ramp_gets_brighter_with_risk() {
        let r = ColourRamp::default();
        let mut prev = 0.0;
        for s in (0..=100).step_by(5) {
            let l = luminance(r.sample(s as f32));
            assert!(l > prev, "luminance not increasing at {s}: {l} <= {prev}");
            prev = l;
        }
        // Low risk must still stand out from the wall's near-black background (luminance 0.005).
        assert!(luminance(r.sample(0.0)) > 0.03);
    }

    fn lightness(c: [f32; 3]) -> f32 {
        let y = luminance(c);
        116.0 * if y > 0.008856 { y.cbrt() } else { 7.787 * y + 16.0 / 116.0 } - 16.0
    }

    #[test]
    fn level_colours_step_at_the_thresholds_and_fall_in_lightness() {
        let th = crate::model::LevelThresholds::default();
        let colours = LEVEL_COLOURS.map(String::from);
        let r = ColourRamp::levels(&th, &colours).unwrap();
        assert!(r.is_stepped());
        let c = |i: usize| parse_hex(LEVEL_COLOURS[i]).unwrap();
        for (score, want) in [(0.0, 0), (39.99, 0), (40.0, 1), (59.9, 1), (60.0, 2), (79.9, 2), (80.0, 3), (100.0, 3), (150.0, 3), (f32::NAN, 0)] {
            assert_eq!(r.sample(score), c(want), "score {score}");
            if score.is_finite() && score <= 100.0 {
                assert_eq!(want, th.level(score) as usize, "the colour is the level's");
            }
        }
        // 蓝 → 黄 → 橙 → 红: blue, yellow, orange and red by hue, lightness falling.
        let l: Vec<f32> = (0..4).map(|i| lightness(c(i))).collect();
        assert!(l.windows(2).all(|w| w[0] > w[1] + 5.0), "L* {l:?}");
        let [b, y, o, red] = [c(0), c(1), c(2), c(3)];
        assert!(b[2] > b[0] && b[2] > b[1], "blue");
        assert!(y[0] > y[2] + 0.5 && y[1] > y[2] + 0.5, "yellow");
        assert!(o[0] > o[1] && o[1] > o[2], "orange");
        assert!(red[0] > 0.75 && red[1] < 0.2 && red[2] < 0.2, "red");
        let bad = ["#000000", "#zzzzzz", "#000000", "#000000"].map(String::from);
        assert!(matches!(ColourRamp::levels(&th, &bad), Err(RampError::BadColour { index: 1, .. })));
    }

    #[test]
    fn bad_ramps_are_rejected() {
        let s = |score: f32, c: &str| RampStop { score, colour: c.into() };
        assert_eq!(ColourRamp::new(&[s(0.0, "#000000")]), Err(RampError::BadScores));
        assert_eq!(ColourRamp::new(&[s(0.0, "#000000"), s(0.0, "#ffffff")]), Err(RampError::BadScores));
        assert!(matches!(ColourRamp::new(&[s(0.0, "red"), s(1.0, "#ffffff")]), Err(RampError::BadColour { index: 0, .. })));
    }
}
