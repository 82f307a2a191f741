//! Test helpers: a headless app built from the same core plugins as the product.

use bevy::prelude::*;

use super::{map, picture};
use crate::config::Config;

/// A headless app of the core plugins, as the product wires them, over `map` and `picture`:
/// for tests. Input arrives as messages written into the world.
pub(crate) fn test_app(config: Config, map: map::MapResource, picture: picture::Picture) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, bevy::input::InputPlugin));
    app.add_message::<bevy::window::CursorMoved>();
    app.insert_resource(picture::Settings::new(config).expect("test config")).insert_resource(picture).insert_resource(map);
    super::features::core_plugins(&mut app, false, None);
    app
}

/// The two-unit test map (`tests/data/two_units.geojson`).
pub(crate) fn test_map() -> map::MapResource {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/two_units.geojson");
    map::MapResource::from_data(crate::geo::load_geojson_file(&path, &crate::geo::LoadOptions::default()).expect("test map"))
}
