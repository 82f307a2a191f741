//! Map geometry with no Bevy types: GeoJSON loading, datum conversion, projection to local
//! metres, triangulation and extrusion into prisms.
//!
//! Data flows `load` (with `echarts` for compressed maps and `overlap` for the overlap check) →
//! `projection` → `mesh`. Everything is f64 until the final mesh, which is cast to f32 around
//! the map's centre (a 30 km map keeps millimetre precision in f32).

pub mod echarts;
pub mod gcj02;
pub mod load;
pub mod mesh;
pub mod overlap;
pub mod points;
pub mod projection;
pub mod synthetic;

pub use load::{Crs, FeatureIssue, IssueSeverity, LoadOptions, LoadReport, MapData, MapError, MapUnit, load_geojson_file, load_geojson_str};
pub use mesh::{PrismMesh, TriangulationCheck, build_prism, outline_segments, triangulate_polygon};
pub use overlap::{Footprint, OVERLAP_MIN_FRACTION, OVERLAP_MIN_M2, UnitOverlap, find_overlaps};
pub use points::{PointCluster, PointUnit, cluster_points, load_point_units};
pub use projection::LocalProjection;
