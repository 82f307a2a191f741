//! The selected unit: who may ask for a selection ([`Select`]: picking, the ranking board, the
//! tour, a critical-alert flight) and the one system that applies the asks.

use bevy::prelude::*;

use super::schedule::AppSystems;

/// Starts with `initial` selected (`--select`).
pub(super) fn plugin(initial: Option<String>) -> impl Fn(&mut App) {
    move |app: &mut App| {
        app.insert_resource(Selection { unit: initial.clone() }).add_message::<Select>().add_systems(Update, apply_selection.in_set(AppSystems::Select));
    }
}

/// The selected unit (drill-down), if any.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Id of the selected unit or bureau.
    pub unit: Option<String>,
}

/// Asks to select a unit (`Some(id)`) or return to the district view (`None`). Sent by picking,
/// the ranking board, the tour and alert flights; the last ask of a frame wins.
#[derive(Message, Clone, Debug, PartialEq)]
pub struct Select(pub Option<String>);

fn apply_selection(mut requests: MessageReader<Select>, mut selection: ResMut<Selection>) {
    if let Some(Select(unit)) = requests.read().last()
        && selection.unit != *unit
    {
        selection.unit = unit.clone();
    }
}
