//! Map geometry with no Bevy types: GeoJSON loading, datum conversion, projection to local
//! metres, triangulation and extrusion into prisms.
//!
//! Data flows `load` → `projection` → `mesh`. Everything is f64 until the final mesh, which is
//! cast to f32 around the map's centre (a 30 km map keeps millimetre precision in f32).

pub mod gcj02;
pub mod load;
pub mod mesh;
pub mod points;
pub mod projection;
pub mod synthetic;

pub use load::{Crs, FeatureIssue, IssueSeverity, LoadOptions, LoadReport, MapData, MapUnit, load_geojson_file, load_geojson_str};
pub use mesh::{PrismMesh, TriangulationCheck, build_prism, outline_segments, triangulate_polygon};
pub use points::{PointUnit, load_point_units};
pub use projection::LocalProjection;
