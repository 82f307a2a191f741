//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::PathBuf;

use geo::{Contains, Coord, MultiPolygon, Point, Polygon};
use situation_wall::geo::{PrismMesh, triangulate_polygon};

/// `../shared` beside the project (or `$SITUATION_WALL_SHARED`), when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SITUATION_WALL_SHARED").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("maps").is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} not found; tests on the shared maps and cases did not run", dir.display());
        None
    }
}

pub fn project_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f64; 3] {
    [f64::from(a[0] - b[0]), f64::from(a[1] - b[1]), f64::from(a[2] - b[2])]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// Plane (east, north) metres of a world position.
pub fn plane(p: [f32; 3]) -> (f64, f64) {
    let [x, y] = situation_wall::geo::projection::map_from_world(p);
    (x, y)
}

/// What [`check_mesh`] counted.
#[derive(Debug, Default)]
pub struct MeshCheck {
    pub top_triangles: usize,
    pub wall_triangles: usize,
    /// Summed top-cap area, m².
    pub top_area: f64,
}

/// Checks a prism against its polygons:
/// * every triangle's winding agrees with its stored normal (front faces face out);
/// * every top triangle of the f64 triangulation, bar slivers under 0.01 m² whose centroid
///   sits on an edge, has its centroid inside its polygon (even-odd over all rings);
/// * every wall's outward normal points out of the solid: from the bottom edge's midpoint, a
///   step of 5 cm along the normal is outside the polygons and a step against it is inside.
pub fn check_mesh(mesh: &PrismMesh, polygons: &[Polygon<f64>]) -> MeshCheck {
    let solid = MultiPolygon::new(polygons.to_vec());
    let inside = |x: f64, y: f64| solid.contains(&Point::new(x, y));
    let mut out = MeshCheck::default();
    for polygon in polygons {
        let (triangles, _) = triangulate_polygon(polygon);
        for [a, b, c] in triangles {
            let area = ((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])) / 2.0;
            let (cx, cy) = ((a[0] + b[0] + c[0]) / 3.0, (a[1] + b[1] + c[1]) / 3.0);
            if area > 0.01 {
                assert!(polygon.contains(&Point::new(cx, cy)), "top triangle centroid ({cx}, {cy}) outside the polygon (in a hole?)");
            }
        }
    }
    for t in mesh.indices.chunks_exact(3) {
        let [a, b, c] = [t[0], t[1], t[2]].map(|i| mesh.positions[i as usize]);
        let n_stored = mesh.normals[t[0] as usize];
        let n = cross(sub(b, a), sub(c, a));
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        assert!(n_stored.iter().all(|v| v.is_finite()), "NaN normal");
        if len < 1e-9 {
            continue;
        }
        let dot = (n[0] * f64::from(n_stored[0]) + n[1] * f64::from(n_stored[1]) + n[2] * f64::from(n_stored[2])) / len;
        assert!(dot > 0.999, "winding disagrees with normal: {dot}, doubled area {len} m², normal {n_stored:?}, {a:?} {b:?} {c:?}");
        if n_stored[1] > 0.5 {
            out.top_triangles += 1;
            out.top_area += len / 2.0;
        } else {
            out.wall_triangles += 1;
            // The bottom edge of a wall: the two vertices at y = 0 of this triangle's quad.
            let bottom: Vec<[f32; 3]> = [a, b, c].into_iter().filter(|p| p[1] == 0.0).collect();
            if bottom.len() == 2 {
                let (p, q) = (plane(bottom[0]), plane(bottom[1]));
                let (mx, my) = ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0);
                let (nx, ny) = (f64::from(n_stored[0]), -f64::from(n_stored[2]));
                let step = 0.05;
                assert!(!inside(mx + nx * step, my + ny * step), "wall at ({mx}, {my}) faces inwards");
                assert!(inside(mx - nx * step, my - ny * step), "wall at ({mx}, {my}): solid not behind it");
            }
        }
    }
    out
}

/// Even-odd "is this point in any hole".
pub fn hole_centres(polygons: &[Polygon<f64>]) -> Vec<Coord<f64>> {
    polygons
        .iter()
        .flat_map(|p| p.interiors())
        .map(|ring| {
            let n = (ring.0.len() - 1) as f64;
            let (sx, sy) = ring.0[..ring.0.len() - 1].iter().fold((0.0, 0.0), |a, c| (a.0 + c.x, a.1 + c.y));
            Coord { x: sx / n, y: sy / n }
        })
        .collect()
}

/// Mock-server helpers for the live-feed tests (raw HTTP/1.1 on loopback).
pub mod mock {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Reads a request's head; returns the request path and the whole head as text.
    pub async fn read_head(sock: &mut TcpStream) -> (String, String) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        (path, head)
    }

    /// Answers 200 with a JSON body and closes the connection.
    pub async fn json_ok(sock: &mut TcpStream, body: &str) {
        let _ = sock
            .write_all(
                format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes(),
            )
            .await;
    }

    /// A snapshot with no scores and an empty alert page, for mocks that test the stream.
    pub async fn empty_snapshot_or_alerts(sock: &mut TcpStream, path: &str) {
        let body = if path.starts_with("/api/v1/scores") {
            r#"{"as_of":"2026-11-29T07:59:00+08:00","last_event_id":0,"scores":[]}"#
        } else {
            r#"{"alerts":[],"next":0}"#
        };
        json_ok(sock, body).await;
    }
}
