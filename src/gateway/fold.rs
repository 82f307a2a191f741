//! Scores accepted but not yet in the `scores` table.
//!
//! A batch's scores are durable once its `score` events are in the event log: the log is
//! appended in id order, so a batch dirties a few pages of it. The `scores` table is keyed by
//! unit, then time, so writing a batch of 500 units into it straight away dirtied 500 pages
//! (one per unit), each written whole (4 KiB) to the WAL at every commit: three quarters of a
//! commit's I/O and about 4 ms of a core per batch of 500 on the development VM. Instead the
//! rows wait here, in memory, and each commit also moves ("folds") the waiting rows of a few
//! units into `scores`, in turn: a unit's rows of many batches then share one page write.
//!
//! What is in memory is never the only copy: `meta.scores_folded_event` (the watermark) is an
//! event id such that every score of an event up to it is in `scores`, and on open the rows of
//! later `score` events are read back from the log ([`Unfolded::load`]). The event log is
//! never purged past the watermark (the store folds everything first). Reads (history,
//! rankings, counts) merge these rows with the table's; memory changes only once the
//! transaction that stored or folded the rows has committed.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;

/// A score's parts `[total, threat, asset, compliance]` (0–100), or `None` for a clear.
pub(super) type Parts = Option<[f64; 4]>;

/// Key in `meta` of the watermark: every score of an event with an id up to it is in `scores`.
pub(super) const WATERMARK_KEY: &str = "scores_folded_event";

/// Units whose waiting rows each commit folds, in turn (by unit id). At the load benchmark's
/// rate (500 units, 30–40 commits a second) a unit is folded about twice a second, with a
/// page's worth of rows.
pub(super) const UNITS_PER_FOLD: usize = 32;

/// Most rows left waiting after a commit (about 70 bytes each in memory, so about 14 MB): a
/// commit folds more units than [`UNITS_PER_FOLD`] when more would wait. Without it a city of
/// U units sending every unit in every batch would keep U²/32 rows waiting (3 million at
/// 10,000 units); with it such a city's commits fold about 20 rows per unit, a page's worth.
pub(super) const MAX_WAITING: usize = 200_000;

/// A row accepted in the transaction now open: `(unit, time µs, parts, event id)`.
pub(super) type Staged = (String, i64, Parts, u64);

/// The rows waiting to be folded, by unit then time, each with the id of the event that
/// carries it.
#[derive(Debug, Default)]
pub(super) struct Unfolded {
    rows: BTreeMap<String, BTreeMap<i64, (Parts, u64)>>,
    /// Event id → how many of its rows wait (for the watermark).
    by_event: BTreeMap<u64, usize>,
    /// Per unit, the newest time in `scores` (at least): a time after it cannot be there, so
    /// the duplicate check skips the table.
    folded_max: HashMap<String, i64>,
    /// The last unit folded: the next fold starts after it.
    cursor: Option<String>,
    len: usize,
}

/// A `score` event's data as the store writes it (see `ingest_into`).
#[derive(Deserialize)]
struct ScoreEventData {
    as_of: String,
    scores: Vec<ScoreEventRow>,
}

#[derive(Deserialize)]
struct ScoreEventRow {
    unit: String,
    total: Option<f64>,
    threat: Option<f64>,
    asset: Option<f64>,
    compliance: Option<f64>,
}

impl Unfolded {
    /// Reads the state back after an open: the newest folded time of each unit, and the rows
    /// of every `score` event after the watermark (an event that cannot be read back is an
    /// error naming its id, as the rest of the store treats damaged data).
    pub(super) fn load(conn: &Connection) -> Result<Unfolded, String> {
        let sql = |e: rusqlite::Error| e.to_string();
        let mut out = Unfolded::default();
        {
            let mut stmt = conn.prepare("SELECT unit, (SELECT max(t) FROM scores s WHERE s.unit = c.unit) FROM current_scores c").map_err(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))).map_err(sql)?;
            for row in rows {
                if let (unit, Some(t)) = row.map_err(sql)? {
                    out.folded_max.insert(unit, t);
                }
            }
        }
        let mark = watermark(conn).map_err(sql)?;
        // A later event's row may be in `scores` already: its unit was folded, but a unit of
        // an earlier event still waited, so the watermark stayed. It must not count twice.
        let mut in_table = conn.prepare("SELECT 1 FROM scores WHERE unit = ?1 AND t = ?2").map_err(sql)?;
        let mut stmt = conn.prepare("SELECT id, data FROM events WHERE kind = 'score' AND id > ?1 ORDER BY id").map_err(sql)?;
        let rows = stmt.query_map([i64::try_from(mark).unwrap_or(i64::MAX)], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).map_err(sql)?;
        for row in rows {
            let (id, data) = row.map_err(sql)?;
            let bad = |why: String| format!("score event {id} cannot be read back: {why}");
            let event: ScoreEventData = serde_json::from_str(&data).map_err(|e| bad(e.to_string()))?;
            let t = chrono::DateTime::parse_from_rfc3339(&event.as_of).map_err(|e| bad(format!("as_of {:?}: {e}", event.as_of)))?.timestamp_micros();
            let id = u64::try_from(id).map_err(|_| bad("negative id".into()))?;
            for s in event.scores {
                let parts = match (s.total, s.threat, s.asset, s.compliance) {
                    (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
                    (None, ..) => None,
                    _ => return Err(bad(format!("unit {:?} has a total but not all three parts", s.unit))),
                };
                if out.may_be_folded(&s.unit, t) && in_table.exists(params![s.unit, t]).map_err(sql)? {
                    continue;
                }
                out.insert(s.unit, t, parts, id);
            }
        }
        Ok(out)
    }

    fn insert(&mut self, unit: String, t: i64, parts: Parts, id: u64) {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.rows.entry(unit).or_default().entry(t) {
            slot.insert((parts, id));
            *self.by_event.entry(id).or_default() += 1;
            self.len += 1;
        }
    }

    /// Rows waiting.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether `unit` has a waiting row at `t` (µs).
    pub(super) fn contains(&self, unit: &str, t: i64) -> bool {
        self.rows.get(unit).is_some_and(|r| r.contains_key(&t))
    }

    /// Whether `scores` may hold `unit` at `t`: false when `t` is after every time folded for
    /// it, so the table need not be asked.
    pub(super) fn may_be_folded(&self, unit: &str, t: i64) -> bool {
        self.folded_max.get(unit).is_some_and(|&m| t <= m)
    }

    /// `unit`'s waiting rows with `from <= t <= to` (µs), oldest first.
    pub(super) fn unit_rows(&self, unit: &str, from: i64, to: i64) -> impl Iterator<Item = (i64, Parts)> + '_ {
        self.rows.get(unit).into_iter().flat_map(move |r| r.range(from..=to).map(|(&t, &(p, _))| (t, p)))
    }

    /// The oldest waiting time (µs), if any.
    pub(super) fn oldest(&self) -> Option<i64> {
        self.rows.values().filter_map(|r| r.keys().next().copied()).min()
    }

    /// The units a commit that adds `incoming` rows folds: the next [`UNITS_PER_FOLD`] with
    /// waiting rows after the cursor (in id order, wrapping round), and more while over
    /// [`MAX_WAITING`] rows would still wait after the commit.
    pub(super) fn fold_choice(&self, incoming: usize) -> Vec<String> {
        let mut left = self.len.saturating_add(incoming);
        let mut out = Vec::new();
        for (unit, rows) in self.in_turn() {
            if out.len() >= UNITS_PER_FOLD && left <= MAX_WAITING {
                break;
            }
            left = left.saturating_sub(rows.len());
            out.push(unit.clone());
        }
        out
    }

    /// Every unit with waiting rows, in the order folds take them: after the cursor in id
    /// order, wrapping round.
    fn in_turn(&self) -> impl Iterator<Item = (&String, &BTreeMap<i64, (Parts, u64)>)> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let (after, before) = match self.cursor.as_deref() {
            Some(c) => ((Excluded(c), Unbounded), Some((Unbounded, Included(c)))),
            None => ((Unbounded, Unbounded), None),
        };
        let wrapped = before.into_iter().flat_map(|b| self.rows.range::<str, _>(b));
        self.rows.range::<str, _>(after).chain(wrapped)
    }

    /// Every unit with waiting rows (for a fold of everything).
    pub(super) fn all_units(&self) -> Vec<String> {
        self.rows.keys().cloned().collect()
    }

    /// Writes the waiting rows of `units` into `scores` (inside the caller's transaction; a
    /// row already there is left as it is). Memory is unchanged until [`Unfolded::folded`].
    pub(super) fn write(&self, tx: &Connection, units: &[String]) -> rusqlite::Result<()> {
        let mut insert =
            tx.prepare_cached("INSERT INTO scores (unit, t, total, threat, asset, compliance) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING")?;
        for unit in units {
            for (&t, &(parts, _)) in self.rows.get(unit).into_iter().flatten() {
                let [total, threat, asset, compliance] = parts.map_or([None; 4], |p| p.map(Some));
                insert.execute(params![unit, t, total, threat, asset, compliance])?;
            }
        }
        Ok(())
    }

    /// Writes `staged` rows (accepted in the open transaction) into `scores` at once, for a
    /// fold of everything.
    pub(super) fn write_staged(tx: &Connection, staged: &[Staged]) -> rusqlite::Result<()> {
        let mut insert =
            tx.prepare_cached("INSERT INTO scores (unit, t, total, threat, asset, compliance) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING")?;
        for (unit, t, parts, _) in staged {
            let [total, threat, asset, compliance] = parts.map_or([None; 4], |p| p.map(Some));
            insert.execute(params![unit, t, total, threat, asset, compliance])?;
        }
        Ok(())
    }

    /// The watermark once `folded` units are in `scores` and `staged` rows wait too: one below
    /// the oldest event with a row still waiting, or `last_event` when none waits.
    pub(super) fn watermark_after(&self, folded: &[String], staged: &[Staged], last_event: u64) -> u64 {
        let mut leaving: BTreeMap<u64, usize> = BTreeMap::new();
        for unit in folded {
            for (_, &(_, id)) in self.rows.get(unit).into_iter().flatten() {
                *leaving.entry(id).or_default() += 1;
            }
        }
        let waiting = self.by_event.iter().find(|(id, n)| leaving.get(id).copied().unwrap_or(0) < **n).map(|(id, _)| *id);
        let staged = staged.iter().map(|s| s.3).min();
        match waiting.into_iter().chain(staged).min() {
            Some(id) => id.saturating_sub(1),
            None => last_event,
        }
    }

    /// After the commit: `folded` units' rows left memory (they are in `scores`), `staged`
    /// rows joined it. With `all`, every row was folded (and `staged` went to `scores` too).
    pub(super) fn committed(&mut self, folded: &[String], staged: Vec<Staged>, all: bool) {
        for unit in folded {
            if let Some(rows) = self.rows.remove(unit) {
                for (t, (_, id)) in rows {
                    self.len -= 1;
                    if let std::collections::btree_map::Entry::Occupied(mut n) = self.by_event.entry(id) {
                        *n.get_mut() -= 1;
                        if *n.get() == 0 {
                            n.remove();
                        }
                    }
                    let max = self.folded_max.entry(unit.clone()).or_insert(t);
                    *max = (*max).max(t);
                }
            }
        }
        if let Some(last) = folded.last() {
            self.cursor = Some(last.clone());
        }
        for (unit, t, parts, id) in staged {
            if all {
                let max = self.folded_max.entry(unit).or_insert(t);
                *max = (*max).max(t);
            } else {
                self.insert(unit, t, parts, id);
            }
        }
    }
}

/// The watermark stored in `meta` (0 when none is).
pub(super) fn watermark(conn: &Connection) -> rusqlite::Result<u64> {
    let v: Option<i64> = conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([WATERMARK_KEY], |r| r.get(0)).optional()?;
    Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
}

/// Stores the watermark.
pub(super) fn set_watermark(conn: &Connection, mark: u64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
        .execute(params![WATERMARK_KEY, i64::try_from(mark).unwrap_or(i64::MAX)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_rows(units: usize, per_unit: i64) -> Unfolded {
        let mut u = Unfolded::default();
        for n in 0..units {
            for t in 0..per_unit {
                u.insert(format!("U{n:03}"), t, Some([1.0; 4]), 1 + t as u64);
            }
        }
        u
    }

    #[test]
    fn folds_take_units_in_turn_from_after_the_cursor() {
        let mut u = with_rows(40, 1);
        let first = u.fold_choice(0);
        assert_eq!(first.len(), UNITS_PER_FOLD);
        assert_eq!((first[0].as_str(), first[31].as_str()), ("U000", "U031"));
        u.committed(&first, vec![("U000".into(), 5, None, 2)], false);
        // U000 came back with a new row: after U039 the turn wraps round to it.
        let next = u.fold_choice(0);
        assert_eq!(next, ["U032", "U033", "U034", "U035", "U036", "U037", "U038", "U039", "U000"]);
        assert_eq!(u.len(), 9);
        assert!(u.may_be_folded("U031", 0) && !u.may_be_folded("U031", 1) && !u.may_be_folded("U039", 0));
    }

    #[test]
    fn a_commit_folds_more_units_while_too_many_rows_would_wait() {
        let u = with_rows(300, 1_000);
        // 300,000 rows wait and 5,000 come: 105 units' rows must go for 200,000 to be left.
        assert_eq!(u.fold_choice(5_000).len(), 105);
        assert_eq!(with_rows(100, 1_000).fold_choice(0).len(), UNITS_PER_FOLD);
    }

    #[test]
    fn the_watermark_stays_below_the_oldest_event_with_a_row_waiting() {
        let u = with_rows(40, 3);
        // Events 1–3 each hold a row of every unit: folding some units moves nothing.
        assert_eq!(u.watermark_after(&u.fold_choice(0), &[], 9), 0);
        assert_eq!(u.watermark_after(&u.all_units(), &[], 9), 9);
        assert_eq!(u.watermark_after(&u.all_units(), &[("U000".into(), 7, None, 8)], 9), 7);
    }
}
