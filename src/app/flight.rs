//! The flight to a critical alert: the camera goes to the unit with a 严重 alert (where the
//! profile says so, `[alerts] fly_to_critical`), holds its drill-down for `fly_dwell_s`, then
//! returns to the district view. The alert effects ask for a flight; this file owns it.

use bevy::prelude::*;

use super::redraw::Redraw;
use super::schedule::AppSystems;
use super::selection::{Select, Selection};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Attention>().add_systems(Update, (end_attention.in_set(AppSystems::Direct), wake_for_return.in_set(AppSystems::Animate)));
}

/// A flight to a unit with a critical alert: the unit stays selected until its time is up.
#[derive(Resource, Default, Debug)]
pub struct Attention {
    /// The unit flown to, and the app time to fly back, seconds.
    pub active: Option<(String, f64)>,
}

impl Attention {
    /// Flies to `unit` for `dwell_s` seconds from `now_s` (app time, seconds), unless the
    /// operator holds a selection of their own (a selection that neither a flight nor the
    /// tour, `tour_active`, made).
    pub fn request(&mut self, unit: &str, now_s: f64, dwell_s: f64, selection: &Selection, tour_active: bool, select: &mut MessageWriter<Select>) {
        let operator_busy = selection.unit.is_some() && self.active.is_none() && !tour_active;
        if !operator_busy {
            self.active = Some((unit.to_owned(), now_s + dwell_s));
            select.write(Select(Some(unit.to_owned())));
        }
    }
}

/// Flies back from a critical alert's unit when its dwell is over.
fn end_attention(time: Res<Time>, mut attention: ResMut<Attention>, selection: Res<Selection>, mut select: MessageWriter<Select>) {
    if let Some((unit, until)) = &attention.active
        && time.elapsed_secs_f64() >= *until
    {
        if selection.unit.as_ref() == Some(unit) {
            select.write(Select(None));
        }
        attention.active = None;
    }
}

/// The flight back happens by itself: wake for it.
fn wake_for_return(time: Res<Time>, attention: Res<Attention>, mut redraw: ResMut<Redraw>) {
    if let Some((_, until)) = &attention.active {
        redraw.wake_within(until - time.elapsed_secs_f64() + 0.05);
    }
}
