//! One unit's score history, packed: 8 bytes a point in a fixed ring of [`HISTORY_LEN`].
//!
//! A point was a `(DateTime<FixedOffset>, Option<f32>)`, 24 bytes, in a `VecDeque` that grew
//! to 512 slots; 10 000 units with a full day each held 123 MB, and applying a score touched
//! two far-apart cache lines of it (the evicted oldest point and the new newest one). Here a point is its time in whole seconds
//! after the history's own base (an `i32`: ±68 years) and the total as an `f32`, with a value
//! no score can have (below 0) standing for a gap. A full history is 2.3 KB, and once full a
//! new point takes the evicted one's slot, so applying a score writes one place.
//!
//! Times are kept to the second: the history's resolution is [`super::HISTORY_STEP_S`]
//! (5 minutes), and two updates within one second are the same point. They are shown in the
//! UTC offset of the newest point (every feed we know of uses +08:00 throughout).

use std::fmt;

use chrono::{DateTime, FixedOffset};

/// How many points of score history a unit keeps (24 h at one point per
/// [`super::HISTORY_STEP_S`]).
pub const HISTORY_LEN: usize = 288;

/// The stored total of a gap (no data): below every valid score (0–100).
const GAP: f32 = -1.0;

/// One packed point: seconds after [`History::base_s`], and the total or [`GAP`].
#[derive(Clone, Copy, Debug)]
struct Point {
    dt_s: i32,
    total: f32,
}

impl Point {
    /// The total, `None` for a gap.
    fn total(self) -> Option<f32> {
        (self.total >= 0.0).then_some(self.total)
    }
}

/// Past totals of one unit, oldest first, at most [`HISTORY_LEN`]: `Some(total)` (0–100) for
/// a score, `None` for a gap (the unit went to no data). See the module documentation for the
/// layout; [`super::UnitState::history`] for what is recorded when.
#[derive(Clone)]
pub struct History {
    /// Unix time, seconds, that the points' `dt_s` count from.
    base_s: i64,
    /// UTC offset the times are shown in: the newest point's.
    offset: FixedOffset,
    /// Physical index of the oldest point. Non-zero only once `buf` is full size.
    head: u16,
    /// Number of points.
    len: u16,
    /// The ring: grows to [`HISTORY_LEN`] slots, then stays; while smaller, `head` is 0 and
    /// `len` is its length.
    buf: Vec<Point>,
}

impl Default for History {
    fn default() -> Self {
        Self { base_s: 0, offset: FixedOffset::east_opt(0).expect("0 is a valid offset"), head: 0, len: 0, buf: Vec::new() }
    }
}

impl History {
    /// Number of points (0 to [`HISTORY_LEN`]).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots the history holds memory for (at most [`HISTORY_LEN`]; 8 bytes each).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Heap memory the points take, bytes: [`History::capacity`] × 8 (a full history,
    /// [`HISTORY_LEN`] points, is 2,304 bytes).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity() * size_of::<Point>()
    }

    /// The `i`-th point, oldest first.
    pub fn get(&self, i: usize) -> Option<(DateTime<FixedOffset>, Option<f32>)> {
        (i < self.len()).then(|| self.decode(self.buf[self.physical(i)]))
    }

    /// The newest point.
    pub fn back(&self) -> Option<(DateTime<FixedOffset>, Option<f32>)> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The newest point's time as Unix seconds, and its total (`None`: a gap).
    pub(super) fn back_s(&self) -> Option<(i64, Option<f32>)> {
        let i = self.len().checked_sub(1)?;
        let p = self.buf[self.physical(i)];
        Some((self.seconds(p), p.total()))
    }

    /// The points, oldest first.
    pub fn iter(&self) -> Iter<'_> {
        Iter { history: self, front: 0, back: self.len() }
    }

    /// Appends a point at `at` (not older than the newest, which the caller ensures), dropping
    /// the oldest when there are [`HISTORY_LEN`] already. `total` is a validated score (0–100)
    /// or `None` for a gap.
    pub(super) fn push_back(&mut self, at: DateTime<FixedOffset>, total: Option<f32>) {
        let at_s = at.timestamp();
        if self.is_empty() {
            self.base_s = at_s;
        }
        let dt_s = i32::try_from(at_s - self.base_s).unwrap_or_else(|_| {
            self.rebase(at_s);
            0
        });
        self.offset = *at.offset();
        let point = Point { dt_s, total: total.unwrap_or(GAP) };
        let len = self.len();
        if len < self.buf.len() {
            // A slot freed by `pop_back` in the full-size ring.
            let slot = self.physical(len);
            self.buf[slot] = point;
            self.len += 1;
        } else if self.buf.len() < HISTORY_LEN {
            if self.buf.len() == self.buf.capacity() {
                // Double, but never past the ring's size (a Vec would go to 512).
                let want = (self.buf.capacity() * 2).clamp(4, HISTORY_LEN);
                self.buf.reserve_exact(want - self.buf.len());
            }
            self.buf.push(point);
            self.len += 1;
        } else {
            // Full: the newest takes the oldest's slot.
            let slot = usize::from(self.head);
            self.buf[slot] = point;
            self.head = ((slot + 1) % HISTORY_LEN) as u16;
        }
    }

    /// Removes the newest point.
    pub(super) fn pop_back(&mut self) {
        if self.len == 0 {
            return;
        }
        if self.buf.len() < HISTORY_LEN {
            self.buf.pop();
        }
        self.len -= 1;
    }

    /// Moves the base to `at_s` for a point too far from it for an `i32` (the newest point is
    /// 68 years after the base): older points that no longer fit are dropped.
    fn rebase(&mut self, at_s: i64) {
        let kept: Vec<(i64, f32)> =
            (0..self.len()).map(|i| self.buf[self.physical(i)]).map(|p| (self.seconds(p), p.total)).filter(|(t, _)| i32::try_from(t - at_s).is_ok()).collect();
        self.base_s = at_s;
        self.head = 0;
        self.buf.clear();
        self.buf.extend(kept.iter().map(|&(t, total)| Point { dt_s: (t - at_s) as i32, total }));
        self.len = self.buf.len() as u16;
    }

    /// Physical slot of the `i`-th point.
    fn physical(&self, i: usize) -> usize {
        let i = usize::from(self.head) + i;
        if i >= self.buf.len() { i - self.buf.len() } else { i }
    }

    /// A point's time, Unix seconds.
    fn seconds(&self, p: Point) -> i64 {
        self.base_s + i64::from(p.dt_s)
    }

    fn decode(&self, p: Point) -> (DateTime<FixedOffset>, Option<f32>) {
        let at = DateTime::from_timestamp(self.seconds(p), 0).unwrap_or_default().with_timezone(&self.offset);
        (at, p.total())
    }
}

/// Equal when they hold the same points (the ring's layout is not compared).
impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The points of a [`History`], oldest first (either end).
#[derive(Clone)]
pub struct Iter<'a> {
    history: &'a History,
    front: usize,
    back: usize,
}

impl Iterator for Iter<'_> {
    type Item = (DateTime<FixedOffset>, Option<f32>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        let item = self.history.get(self.front);
        self.front += 1;
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.back - self.front, Some(self.back - self.front))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.history.get(self.back)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn a_point_is_eight_bytes() {
        assert_eq!(size_of::<Point>(), 8);
    }

    #[test]
    fn a_full_ring_drops_the_oldest_and_keeps_order_through_pops() {
        let start = t("2026-11-29T00:00:00+08:00");
        let at = |i: usize| start + TimeDelta::seconds(300 * i as i64);
        let mut h = History::default();
        for i in 0..HISTORY_LEN + 50 {
            h.push_back(at(i), Some((i % 100) as f32));
        }
        assert_eq!(h.len(), HISTORY_LEN);
        assert_eq!(h.capacity(), HISTORY_LEN, "never more slots than the ring holds");
        assert_eq!(h.heap_bytes(), 2304);
        assert_eq!(h.get(0), Some((at(50), Some(50.0))));
        assert_eq!(h.back(), Some((at(HISTORY_LEN + 49), Some(((HISTORY_LEN + 49) % 100) as f32))));
        // Pop two across the wrap, push a gap and a score: still in order, still full size.
        h.pop_back();
        h.pop_back();
        h.push_back(at(HISTORY_LEN + 60), None);
        h.push_back(at(HISTORY_LEN + 61), Some(12.5));
        assert_eq!(h.len(), HISTORY_LEN);
        let times: Vec<_> = h.iter().map(|(t, _)| t).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first");
        assert_eq!(times[0], at(50));
        let tail: Vec<_> = h.iter().rev().take(3).collect();
        assert_eq!(tail, [(at(HISTORY_LEN + 61), Some(12.5)), (at(HISTORY_LEN + 60), None), (at(HISTORY_LEN + 47), Some(((HISTORY_LEN + 47) % 100) as f32))]);
        // One more evicts the oldest again.
        h.push_back(at(HISTORY_LEN + 62), Some(1.0));
        assert_eq!(h.get(0), Some((at(51), Some(51.0))));
        assert_eq!(h.back_s(), Some((at(HISTORY_LEN + 62).timestamp(), Some(1.0))));
    }

    #[test]
    fn a_short_history_holds_what_it_uses_and_compares_by_points() {
        let mut a = History::default();
        a.push_back(t("2026-11-29T08:00:00+08:00"), Some(40.0));
        a.push_back(t("2026-11-29T08:05:00+08:00"), None);
        assert_eq!(a.capacity(), 4);
        assert_eq!(a.get(1), Some((t("2026-11-29T08:05:00+08:00"), None)));
        assert_eq!(a.get(2), None);
        let mut b = a.clone();
        assert_eq!(a, b);
        b.pop_back();
        assert_ne!(a, b);
        b.push_back(t("2026-11-29T08:05:00+08:00"), None);
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}").matches("None").count(), 1);
    }

    #[test]
    fn points_far_apart_rebase_and_times_keep_the_newest_offset() {
        let mut h = History::default();
        h.push_back(t("1900-01-01T00:00:00+00:00"), Some(10.0));
        h.push_back(t("1950-01-01T00:00:00+00:00"), Some(20.0));
        // 100 years after the first point: no i32 reaches it, so the 1900 point goes.
        h.push_back(t("2000-01-01T08:00:00+08:00"), Some(30.0));
        let points: Vec<_> = h.iter().collect();
        assert_eq!(points, [(t("1950-01-01T00:00:00+00:00"), Some(20.0)), (t("2000-01-01T08:00:00+08:00"), Some(30.0))]);
        assert_eq!(h.back().unwrap().0.offset().local_minus_utc(), 8 * 3600);
        // Sub-second times are kept to the second.
        h.push_back(t("2000-01-01T08:00:01.900+08:00"), Some(31.0));
        assert_eq!(h.back().unwrap().0, t("2000-01-01T08:00:01+08:00"));
    }
}
