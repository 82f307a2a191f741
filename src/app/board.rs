//! The ranking board's tab and the rows of its period and efficiency tabs (derived in
//! [`super::derive`], drawn in [`super::panels`], fetched from the gateway in live mode by
//! [`super::remote_detail`]).

use bevy::prelude::*;

use crate::model::{EfficiencyRow, Period, PeriodRow};

/// What the ranking board shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BoardTab {
    /// The current scores (实时).
    #[default]
    Now,
    /// Means over today, this week or this month (今日 / 本周 / 本月), with the rank change.
    Period(Period),
    /// Disposal efficiency (处置效率) over the period last chosen (today at first).
    Efficiency,
}

/// The board's tab and what it was derived for.
#[derive(Resource, Default, Debug)]
pub struct Board {
    /// The tab on screen.
    pub tab: BoardTab,
    /// The area units' rows of a period tab (live: from the backend; demo: from the recording).
    pub period: Vec<PeriodRow>,
    /// The bureaus' rows of a period tab.
    pub period_bureaus: Vec<PeriodRow>,
    /// The period the efficiency tab covers: the period tab last chosen, today at first.
    pub efficiency_period: Period,
    /// The area units' disposal efficiency, worst first.
    pub efficiency: Vec<EfficiencyRow>,
    /// The bureaus' disposal efficiency, worst first.
    pub efficiency_bureaus: Vec<EfficiencyRow>,
    /// The tab, picture generation and data minute the rows were derived for.
    pub(super) key: Option<(BoardTab, u64, Option<i64>)>,
}
