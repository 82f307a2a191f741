//! Eased score transitions: what a unit shows while its score moves to a new value.

/// A score on screen moving towards its newest value with smoothstep easing, so colour and
/// height never jump. The first value after "no data" appears at once: there is nothing to
/// ease from.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Transition {
    /// Score now on screen, 0–100; `None` for no data.
    pub shown: Option<f32>,
    from: f32,
    target: Option<f32>,
    /// Seconds since the transition started; `f32::INFINITY` when settled.
    since: f32,
}

/// Smoothstep: 0 at 0, 1 at 1, zero slope at both ends.
pub fn smoothstep(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

impl Transition {
    /// The value the transition is heading for.
    pub fn target(&self) -> Option<f32> {
        self.target
    }

    /// Starts moving to `target` from what is on screen now. No-op when it is the target
    /// already.
    pub fn retarget(&mut self, target: Option<f32>) {
        if target == self.target {
            return;
        }
        match (self.shown, target) {
            (Some(shown), Some(_)) => {
                self.from = shown;
                self.since = 0.0;
            }
            _ => {
                self.shown = target;
                self.from = target.unwrap_or(0.0);
                self.since = f32::INFINITY;
            }
        }
        self.target = target;
    }

    /// Advances by `dt` seconds of a transition lasting `duration` seconds and returns the
    /// score to show.
    pub fn step(&mut self, dt: f32, duration: f32) -> Option<f32> {
        if let Some(target) = self.target
            && self.since < duration
        {
            self.since += dt;
            self.shown = Some(self.from + (target - self.from) * smoothstep(self.since / duration.max(1e-3)));
        } else {
            self.shown = self.target;
        }
        self.shown
    }

    /// Whether it has reached its target.
    pub fn settled(&self) -> bool {
        self.shown == self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_appears_at_once_then_changes_ease() {
        let mut t = Transition::default();
        t.retarget(Some(20.0));
        assert_eq!(t.step(0.016, 0.8), Some(20.0));
        t.retarget(Some(80.0));
        // 60 frames a second over 0.8 s: never a jump bigger than smoothstep's steepest slice
        // (1.5 × 60 points × 1/48 of the time = 1.9 points), monotonic, and it lands exactly.
        let mut prev = 20.0;
        let mut frames = 0;
        while !t.settled() {
            let now = t.step(1.0 / 60.0, 0.8).unwrap();
            assert!(now >= prev && now - prev < 1.9, "{prev} -> {now}");
            prev = now;
            frames += 1;
            assert!(frames < 100);
        }
        assert_eq!(t.shown, Some(80.0));
        assert!((47..=49).contains(&frames), "{frames} frames");
    }

    #[test]
    fn retarget_midway_starts_from_what_is_shown() {
        let mut t = Transition::default();
        t.retarget(Some(0.0));
        t.retarget(Some(100.0));
        let mid = t.step(0.4, 0.8).unwrap();
        assert!((mid - 50.0).abs() < 1e-3, "{mid}");
        t.retarget(Some(0.0));
        let next = t.step(0.0, 0.8).unwrap();
        assert!((next - mid).abs() < 1e-3, "no jump on retarget: {next}");
        t.retarget(None);
        assert_eq!(t.step(0.1, 0.8), None);
    }
}
