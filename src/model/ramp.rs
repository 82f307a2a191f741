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

/// A piecewise-linear colour ramp over scores 0–100, interpolated in sRGB.
#[derive(Clone, Debug, PartialEq)]
pub struct ColourRamp {
    stops: Vec<(f32, [f32; 3])>,
}

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
        Ok(Self { stops: out })
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

    #[test]
    fn bad_ramps_are_rejected() {
        let s = |score: f32, c: &str| RampStop { score, colour: c.into() };
        assert_eq!(ColourRamp::new(&[s(0.0, "#000000")]), Err(RampError::BadScores));
        assert_eq!(ColourRamp::new(&[s(0.0, "#000000"), s(0.0, "#ffffff")]), Err(RampError::BadScores));
        assert!(matches!(ColourRamp::new(&[s(0.0, "red"), s(1.0, "#ffffff")]), Err(RampError::BadColour { index: 0, .. })));
    }
}
