//! Triangulation and extrusion of projected polygons into prism meshes.
//!
//! A prism spans y = 0 (ground) to y = 1 (top) so that one mesh serves any height: the renderer
//! scales it along y by the unit's height in metres. World axes: x = east, y = up, z = −north,
//! which keeps counter-clockwise rings (seen from above) counter-clockwise for Bevy's
//! front-face rule.

use geo::{Area, Polygon, TriangulateEarcut};

/// Relative tolerance of the triangulation area check (earcut's `deviation()` test).
pub const AREA_TOLERANCE: f64 = 1e-9;

/// A triangle list in world axes (x east, y up, z −north), in metres.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrismMesh {
    /// Vertex positions, metres; y is 0 or 1.
    pub positions: Vec<[f32; 3]>,
    /// Unit normals: +y on top caps, horizontal and outward on walls.
    pub normals: Vec<[f32; 3]>,
    /// Shade factor per vertex, 0–1: 1 on top caps, 0.45–0.85 on walls by their facing, so that
    /// an unlit material still shows the prism's form.
    pub shade: Vec<f32>,
    /// Triangle indices into `positions`, counter-clockwise seen from the front.
    pub indices: Vec<u32>,
    /// Number of top-cap triangles.
    pub top_triangles: usize,
    /// Number of wall quads (one per ring edge).
    pub wall_quads: usize,
}

/// The area check of one polygon part.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TriangulationCheck {
    /// Polygon area (outer minus holes), m².
    pub polygon_area_m2: f64,
    /// Sum of the triangles' unsigned areas, m².
    pub triangle_area_m2: f64,
}

impl TriangulationCheck {
    /// |triangles − polygon| / polygon; 0 for a perfect triangulation.
    pub fn deviation(&self) -> f64 {
        if self.polygon_area_m2 == 0.0 {
            return if self.triangle_area_m2 == 0.0 { 0.0 } else { f64::INFINITY };
        }
        (self.triangle_area_m2 - self.polygon_area_m2).abs() / self.polygon_area_m2
    }

    /// Whether the deviation is within [`AREA_TOLERANCE`].
    pub fn passes(&self) -> bool {
        self.deviation() <= AREA_TOLERANCE
    }
}

fn tri_area2(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
}

/// Triangulates one polygon with earcut: returns triangles as `(x, y)` metre triples, each
/// counter-clockwise, and the area check.
pub fn triangulate_polygon(polygon: &Polygon<f64>) -> (Vec<[[f64; 2]; 3]>, TriangulationCheck) {
    let raw = polygon.earcut_triangles_raw();
    let mut triangles = Vec::with_capacity(raw.triangle_indices.len() / 3);
    let mut sum = 0.0;
    for t in raw.triangle_indices.chunks_exact(3) {
        let (a, b, c) = (raw.vertices[t[0]], raw.vertices[t[1]], raw.vertices[t[2]]);
        let area2 = tri_area2(a, b, c);
        sum += area2.abs() / 2.0;
        triangles.push(if area2 >= 0.0 { [a, b, c] } else { [a, c, b] });
    }
    let check = TriangulationCheck { polygon_area_m2: polygon.unsigned_area(), triangle_area_m2: sum };
    (triangles, check)
}

/// World position of a plane point at height `y` (0 or 1): [`super::projection::world_from_map`].
fn world(p: [f64; 2], y: f32) -> [f32; 3] {
    super::projection::world_from_map(p, y)
}

/// Builds an open-bottomed prism from a unit's polygons (outer rings CCW, holes CW, as
/// [`super::load`] leaves them): top caps at y = 1 and one outward-facing wall quad with its own
/// four vertices per ring edge. Returns the mesh and one area check per polygon.
pub fn build_prism(polygons: &[Polygon<f64>]) -> (PrismMesh, Vec<TriangulationCheck>) {
    let mut mesh = PrismMesh::default();
    let mut checks = Vec::with_capacity(polygons.len());
    for polygon in polygons {
        let (triangles, check) = triangulate_polygon(polygon);
        checks.push(check);
        for tri in triangles {
            let base = mesh.positions.len() as u32;
            // Orient by the f32 positions the GPU will see: a sliver that is CCW in f64 can
            // round to CW in f32.
            let mut w = tri.map(|p| world(p, 1.0));
            let plane = super::projection::map_from_world;
            if tri_area2(plane(w[0]), plane(w[1]), plane(w[2])) < 0.0 {
                w.swap(1, 2);
            }
            for p in w {
                mesh.positions.push(p);
                mesh.normals.push([0.0, 1.0, 0.0]);
                mesh.shade.push(1.0);
            }
            mesh.indices.extend([base, base + 1, base + 2]);
            mesh.top_triangles += 1;
        }
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for edge in ring.lines() {
                let (a, b) = ([edge.start.x, edge.start.y], [edge.end.x, edge.end.y]);
                let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
                let len = dx.hypot(dy);
                if len < 1e-9 {
                    continue;
                }
                // The solid lies to the left of every edge (CCW outer, CW holes), so the
                // outward normal is the right-hand perpendicular (dy, −dx) in (east, north),
                // which is (dy, 0, dx) in world axes.
                let n = [(dy / len) as f32, 0.0, (dx / len) as f32];
                // Light from the south-west-ish viewer side: walls facing the camera are brighter.
                let shade = 0.65 + 0.2 * (0.6 * n[0] + 0.8 * n[2]);
                let base = mesh.positions.len() as u32;
                for p in [world(a, 0.0), world(b, 0.0), world(b, 1.0), world(a, 1.0)] {
                    mesh.positions.push(p);
                    mesh.normals.push(n);
                    mesh.shade.push(shade);
                }
                mesh.indices.extend([base, base + 1, base + 2, base, base + 2, base + 3]);
                mesh.wall_quads += 1;
            }
        }
    }
    (mesh, checks)
}

/// Line-list segments (pairs of points) along every ring of the polygons at height `y`, in
/// world axes; used for unit borders.
pub fn outline_segments(polygons: &[Polygon<f64>], y: f32) -> Vec<[f32; 3]> {
    let mut out = Vec::new();
    for polygon in polygons {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for edge in ring.lines() {
                out.push(world([edge.start.x, edge.start.y], y));
                out.push(world([edge.end.x, edge.end.y], y));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, polygon};

    #[test]
    fn square_with_hole_has_net_area_and_eight_walls() {
        let p = Polygon::new(
            LineString::from(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (0.0, 0.0)]),
            vec![LineString::from(vec![(3.0, 3.0), (3.0, 7.0), (7.0, 7.0), (7.0, 3.0), (3.0, 3.0)])],
        );
        let (mesh, checks) = build_prism(&[p]);
        assert_eq!(checks.len(), 1);
        assert!((checks[0].triangle_area_m2 - 84.0).abs() < 1e-9, "{:?}", checks[0]);
        assert!(checks[0].passes());
        assert_eq!(mesh.wall_quads, 8);
        assert_eq!(mesh.positions.len(), mesh.top_triangles * 3 + 8 * 4);
    }

    #[test]
    fn a_triangle_cap_faces_up() {
        let p = polygon![(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 0.0, y: 3.0)];
        let (mesh, _) = build_prism(&[p]);
        let [a, b, c] = [0, 1, 2].map(|i| bevy_free_vec(mesh.positions[mesh.indices[i] as usize]));
        let n = cross(sub(b, a), sub(c, a));
        assert!(n[1] > 0.0, "cap normal {n:?}");
    }

    fn bevy_free_vec(p: [f32; 3]) -> [f64; 3] {
        p.map(f64::from)
    }
    fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
        [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
    }
    fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    }
}
