//! The flight to an alert that takes over (`[alerts] takeover`, 严重 by default): the camera
//! goes to its unit (where the profile says so, `[alerts] fly_to_critical`, and always while
//! the auto-tour runs, which it interrupts), holds its drill-down until the alert is
//! acknowledged or closed — or, where this screen cannot acknowledge (the unattended wall),
//! for `fly_dwell_s` — then returns (the tour resumes at the stop it left). The alert effects
//! ask for a flight; this file owns it.

use bevy::prelude::*;

use super::incidents::Acks;
use super::picture::Picture;
use super::redraw::Redraw;
use super::schedule::AppSystems;
use super::selection::{Select, Selection};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Attention>().add_systems(Update, (end_attention.in_set(AppSystems::Direct), wake_for_return.in_set(AppSystems::Animate)));
}

/// A flight to a unit with an alert: the unit stays selected until its time is up or, when
/// it holds for an alert, until that alert is acknowledged or closed.
#[derive(Resource, Default, Debug)]
pub struct Attention {
    /// The unit flown to, and the app time to fly back, seconds (infinite while it waits for
    /// an acknowledgement).
    pub active: Option<(String, f64)>,
    /// The alert the flight is for, while it is on.
    pub alert: Option<String>,
}

impl Attention {
    /// Flies to `unit` for alert `alert` for `dwell_s` seconds from `now_s` (app time,
    /// seconds; `f64::INFINITY` holds until the alert is acknowledged or closed), unless the
    /// operator holds a selection of their own (a selection that neither a flight nor the
    /// tour, `tour_active`, made).
    #[allow(clippy::too_many_arguments)]
    pub fn request(&mut self, unit: &str, alert: &str, now_s: f64, dwell_s: f64, selection: &Selection, tour_active: bool, select: &mut MessageWriter<Select>) {
        let operator_busy = selection.unit.is_some() && self.active.is_none() && !tour_active;
        if !operator_busy {
            self.active = Some((unit.to_owned(), now_s + dwell_s));
            self.alert = Some(alert.to_owned());
            select.write(Select(Some(unit.to_owned())));
        }
    }

    /// Ends the flight (Esc, a click on the map).
    pub fn end(&mut self) {
        self.active = None;
        self.alert = None;
    }
}

/// Flies back from an alert's unit when its dwell is over, or when the alert it holds for was
/// acknowledged or closed (or is no longer kept).
pub(super) fn end_attention(
    time: Res<Time>,
    picture: Res<Picture>,
    acks: Res<Acks>,
    mut attention: ResMut<Attention>,
    selection: Res<Selection>,
    mut select: MessageWriter<Select>,
) {
    let settled = attention
        .alert
        .as_deref()
        .is_some_and(|id| acks.contains(id) || picture.state.alert(id).is_none_or(|a| !a.status.is_open() || a.acknowledged.is_some()));
    if let Some((unit, until)) = &attention.active
        && (time.elapsed_secs_f64() >= *until || settled)
    {
        if selection.unit.as_ref() == Some(unit) {
            select.write(Select(None));
        }
        attention.end();
    }
}

/// The flight back happens by itself: wake for it.
fn wake_for_return(time: Res<Time>, attention: Res<Attention>, mut redraw: ResMut<Redraw>) {
    if let Some((_, until)) = &attention.active {
        redraw.wake_within(until - time.elapsed_secs_f64() + 0.05);
    }
}
