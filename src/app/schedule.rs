//! The order the wall's systems run in, written down once.
//!
//! Every system of the app belongs to one [`AppSystems`] set. The sets are configured and
//! chained here and nowhere else; a feature's `plugin` only says which set each of its systems
//! is in. Within a set, a feature may chain its own systems.

use bevy::prelude::*;
use bevy_egui::EguiPrimaryContextPass;

/// The wall's system sets, in the order they run within each schedule.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppSystems {
    /// `Update`, first: data comes in. The demo replay, the live channel or the churn feed
    /// writes the [`super::picture::Picture`]; after this set the picture is this frame's.
    Feed,
    /// `Update`: the operator's input (pointer, touch, keys) becomes requests: `Select`
    /// messages, the idle clock, language, pause, quit. Nothing is selected yet.
    Input,
    /// `Update`: what drives the wall by itself: the auto-tour, new alerts' effects and the
    /// camera flight to a critical alert. They may send `Select` messages too.
    Direct,
    /// `Update`: the `Select` messages of this frame are applied; after this set
    /// [`super::selection::Selection`] is final for the frame.
    Select,
    /// `Update`: what the panels show (ranking, summary, drill-down) is recomputed from this
    /// frame's picture and selection, so a click and its drill-down land in the same frame.
    Derive,
    /// `Update`, last: things move: units retarget and ease, pulses and ripples step, the
    /// camera eases, and each moving thing asks for the next frame.
    Animate,
    /// `EguiPrimaryContextPass`, first: fonts and the UI zoom, before anything is laid out.
    UiSetup,
    /// `EguiPrimaryContextPass`: every panel, label and overlay, drawn from the derived data.
    Ui,
    /// `Last`, first: whether this frame is shown at all: the first picture is held back until
    /// it is complete (see [`super::reveal`]).
    Reveal,
    /// `Last`: the reactive redraw decides whether and when the next frame comes.
    Redraw,
    /// `Last`, after the redraw: measurement and capture (frame stats, soak, screenshot,
    /// exit timer). They read the finished frame and change nothing on screen.
    Diagnostics,
}

/// Configures the sets: chained in each schedule.
pub(super) fn plugin(app: &mut App) {
    use AppSystems::*;
    app.configure_sets(Update, (Feed, Input, Direct, Select, Derive, Animate).chain())
        .configure_sets(EguiPrimaryContextPass, (UiSetup, Ui).chain())
        .configure_sets(Last, (Reveal, Redraw, Diagnostics).chain());
}
