//! The feature plugins in two groups: the core, which needs no GPU, window or egui context
//! (what the headless tests build too), and the view, which draws.

use bevy::prelude::*;

use super::{
    alerts, camera, derive, flight, i18n, incidents, input, kiosk, labels, map, panels, present, redraw, reveal, ring_material, scene, schedule, selection,
    tour, ui, unit_material,
};

/// The headless features: the schedule, redraw (reactive or not), selection (starting with
/// `select`), derived panel data, unit easing, camera easing, input, tour, flight, alert
/// effects, kiosk keys and language.
pub(crate) fn core_plugins(app: &mut App, reactive: bool, select: Option<String>) {
    app.add_plugins((schedule::plugin, redraw::plugin(reactive), map::plugin, selection::plugin(select), derive::plugin, scene::plugin, camera::plugin))
        .add_plugins((input::plugin, tour::plugin, flight::plugin, alerts::plugin, incidents::plugin, kiosk::plugin, i18n::plugin));
}

/// What draws: the unit and ring materials, the map's meshes, the camera, the ring assets, the egui
/// overlay (with the CJK font when `cjk_font`), the first picture's reveal, and the copy of the picture to the window.
pub(crate) fn view_plugins(app: &mut App, cjk_font: bool) {
    app.add_plugins((
        unit_material::plugin,
        ring_material::plugin,
        scene::view_plugin,
        camera::view_plugin,
        alerts::view_plugin,
        incidents::view_plugin,
        ui::plugin(cjk_font),
        labels::plugin,
        panels::plugin,
        reveal::plugin,
        present::plugin,
    ));
}
