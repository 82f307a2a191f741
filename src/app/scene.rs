//! The 3D scene: unit prisms coloured and raised by score, borders, the dim context layer, and
//! the orbit camera. Colour and height ease together over `extrusion.ease_s`.
//!
//! Materials come from a fixed palette (one per integer score, plus "no data"), shared by all
//! units: a unit changes colour by switching its handle, never by mutating a material, which
//! keeps the asset count constant (bevy#18882).

use bevy::asset::RenderAssetUsages;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy_panorbit_camera::PanOrbitCamera;

use super::live::Freshness;
use super::{MapResource, Picture, Settings};
use crate::geo::{PrismMesh, build_prism, outline_segments};
use crate::model::Transition;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Startup, (setup_palette, spawn_map, spawn_camera).chain())
        .add_systems(Update, (retarget_units, ease_units).chain());
}

/// Height of unit borders above the top cap, metres.
const BORDER_LIFT_M: f32 = 3.0;

/// Number of palette steps: one material per integer score 0–100.
pub const PALETTE_STEPS: usize = 101;

/// Shared unit materials.
#[derive(Resource)]
pub struct Palette {
    /// `by_score[s]` is the ramp colour of score `s`.
    pub by_score: Vec<Handle<StandardMaterial>>,
    /// The same, desaturated and dimmed, for stale data.
    pub stale_by_score: Vec<Handle<StandardMaterial>>,
    /// For units without data.
    pub no_data: Handle<StandardMaterial>,
}

impl Palette {
    fn for_score(&self, score: Option<f32>, stale: bool) -> &Handle<StandardMaterial> {
        let table = if stale { &self.stale_by_score } else { &self.by_score };
        match score {
            Some(s) => &table[(s.clamp(0.0, 100.0).round() as usize).min(PALETTE_STEPS - 1)],
            None => &self.no_data,
        }
    }
}

/// A stale colour: 80 % of the way to its own grey (Rec. 709 luma), at 70 % brightness, so
/// old data can never be mistaken for live data while its order still reads.
pub fn stale_colour([r, g, b]: [f32; 3]) -> [f32; 3] {
    let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    [r, g, b].map(|c| (luma + (c - luma) * 0.2) * 0.7)
}

/// One unit's prism and its transition state.
#[derive(Component, Debug)]
pub struct UnitView {
    /// Unit id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Area, m²: larger units win label space.
    pub area_m2: f64,
    /// Label point on the ground plane: world (x, z), metres.
    pub label_xz: Vec2,
    /// The score on screen, easing towards the newest.
    pub transition: Transition,
    /// The border entity that follows this prism's height (none for point units).
    pub border: Option<Entity>,
    /// A point unit (bureau column), not an area: no map label.
    pub point: bool,
}

fn unlit(colour: Color) -> StandardMaterial {
    StandardMaterial { base_color: colour, unlit: true, ..default() }
}

fn setup_palette(mut commands: Commands, mut materials: ResMut<Assets<StandardMaterial>>, settings: Res<Settings>) {
    let mut table = |f: &dyn Fn([f32; 3]) -> [f32; 3]| -> Vec<Handle<StandardMaterial>> {
        (0..PALETTE_STEPS)
            .map(|s| {
                let [r, g, b] = f(settings.ramp.sample(s as f32));
                materials.add(unlit(Color::srgb(r, g, b)))
            })
            .collect()
    };
    let by_score = table(&|c| c);
    let stale_by_score = table(&stale_colour);
    let no_data = materials.add(unlit(Color::srgb_u8(0x3a, 0x40, 0x4c)));
    commands.insert_resource(Palette { by_score, stale_by_score, no_data });
}

/// Converts a prism to a Bevy mesh; the shade goes into vertex colours, which the unlit
/// material multiplies with its base colour.
pub fn prism_mesh(p: &PrismMesh) -> Mesh {
    let colours: Vec<[f32; 4]> = p.shade.iter().map(|&s| [s, s, s, 1.0]).collect();
    Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::RENDER_WORLD)
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, p.positions.clone())
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, p.normals.clone())
        .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, colours)
        .with_inserted_indices(Indices::U32(p.indices.clone()))
}

fn line_mesh(segments: Vec<[f32; 3]>) -> Mesh {
    Mesh::new(PrimitiveTopology::LineList, RenderAssetUsages::RENDER_WORLD).with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, segments)
}

fn spawn_map(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    map: Res<MapResource>,
    palette: Res<Palette>,
    settings: Res<Settings>,
) {
    let ext = &settings.config.extrusion;
    let border_material = materials.add(StandardMaterial {
        base_color: Color::srgba(0.75, 0.95, 1.0, 0.9),
        unlit: true,
        alpha_mode: AlphaMode::Blend,
        ..default()
    });
    for unit in &map.data.units {
        let (prism, checks) = build_prism(&unit.polygons);
        for (part, c) in checks.iter().enumerate() {
            if !c.passes() {
                warn!("unit {} part {part}: triangles cover {:.1} m² of {:.1} m² (deviation {:.2e})", unit.id, c.triangle_area_m2, c.polygon_area_m2, c.deviation());
            }
        }
        let height = ext.height_m(0.0);
        let border = commands
            .spawn((
                Mesh3d(meshes.add(line_mesh(outline_segments(&unit.polygons, 1.0)))),
                MeshMaterial3d(border_material.clone()),
                // Lifted a little above the cap so it is not hidden by it (line lists cannot
                // use depth bias).
                Transform::from_xyz(0.0, BORDER_LIFT_M, 0.0).with_scale(Vec3::new(1.0, height, 1.0)),
            ))
            .id();
        commands.spawn((
            Mesh3d(meshes.add(prism_mesh(&prism))),
            MeshMaterial3d(palette.no_data.clone()),
            Transform::from_scale(Vec3::new(1.0, height, 1.0)),
            UnitView {
                id: unit.id.clone(),
                name: unit.name.clone(),
                area_m2: unit.area_m2,
                label_xz: Vec2::new(unit.label_point.0 as f32, -unit.label_point.1 as f32),
                transition: Transition::default(),
                border: Some(border),
                point: false,
            },
        ));
    }

    // Bureaus (委办局): slim square columns, 200 m a side, sharing one mesh and the palette.
    if !map.bureaus.is_empty() {
        let half = 100.0;
        let square = ::geo::Polygon::new(::geo::LineString::from(vec![(-half, -half), (half, -half), (half, half), (-half, half), (-half, -half)]), vec![]);
        let (column, _) = build_prism(std::slice::from_ref(&square));
        let column = meshes.add(prism_mesh(&column));
        for b in &map.bureaus {
            let (x, y) = (b.xy.0 as f32, -(b.xy.1 as f32));
            commands.spawn((
                Mesh3d(column.clone()),
                MeshMaterial3d(palette.no_data.clone()),
                Transform::from_xyz(x, 0.0, y).with_scale(Vec3::new(1.0, ext.height_m(0.0), 1.0)),
                UnitView {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    area_m2: 0.0,
                    label_xz: Vec2::new(x, y),
                    transition: Transition::default(),
                    border: None,
                    point: true,
                },
            ));
        }
    }

    // Context: neighbouring districts as low, dark slabs with faint outlines.
    let slab = materials.add(unlit(Color::srgb_u8(0x10, 0x16, 0x24)));
    let outline = materials.add(unlit(Color::srgb_u8(0x2c, 0x3a, 0x55)));
    for (_, polygons) in &map.context {
        let (prism, _) = build_prism(polygons);
        commands.spawn((Mesh3d(meshes.add(prism_mesh(&prism))), MeshMaterial3d(slab.clone()), Transform::from_scale(Vec3::new(1.0, 40.0, 1.0))));
        commands.spawn((
            Mesh3d(meshes.add(line_mesh(outline_segments(polygons, 41.0)))),
            MeshMaterial3d(outline.clone()),
        ));
    }
}

/// Camera framing: the map's bounding box (or three times the tallest prism, if larger) seen from
/// the south at 42° elevation.
fn spawn_camera(mut commands: Commands, map: Res<MapResource>, settings: Res<Settings>) {
    let (x0, y0, x1, y1) = map.data.bounds();
    let centre = Vec3::new(((x0 + x1) / 2.0) as f32, 0.0, -((y0 + y1) / 2.0) as f32);
    // On a small map the tallest prism, not the footprint, sets the frame.
    let tallest = settings.config.extrusion.height_m(100.0);
    let extent = ((x1 - x0).max(y1 - y0) as f32).max(3.0 * tallest).max(100.0);
    let fov = std::f32::consts::FRAC_PI_4;
    let radius = extent * 0.5 / (fov / 2.0).tan() * 1.1;
    commands.spawn((
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection { fov, near: radius * 0.01, far: radius * 20.0, ..default() }),
        Tonemapping::None,
        DebandDither::Disabled,
        PanOrbitCamera {
            focus: centre,
            radius: Some(radius),
            yaw: Some(0.0),
            pitch: Some(42f32.to_radians()),
            pitch_lower_limit: Some(10f32.to_radians()),
            pitch_upper_limit: Some(89f32.to_radians()),
            zoom_lower_limit: extent * 0.05,
            zoom_upper_limit: Some(radius * 4.0),
            ..default()
        },
    ));
}

/// Starts a transition on every unit whose score changed in the picture.
fn retarget_units(picture: Res<Picture>, mut seen: Local<u64>, mut units: Query<&mut UnitView>) {
    if picture.generation == *seen {
        return;
    }
    *seen = picture.generation;
    for mut unit in &mut units {
        let target = picture.state.score(&unit.id).map(|s| s.total);
        unit.transition.retarget(target);
    }
}

impl UnitView {
    /// The label point on top of the prism or column as it stands now, world metres: where
    /// the map label goes and where the render check samples the unit's colour.
    pub fn label_world(&self, ext: &crate::config::ExtrusionConfig) -> Vec3 {
        Vec3::new(self.label_xz.x, view_height(self, ext, self.transition.shown), self.label_xz.y)
    }
}

/// Height in metres of a unit's prism or column: areas follow the extrusion rule; point units
/// (bureau columns) rise 1.5× as fast from 400 m higher, so they stand clear of the prisms
/// around them.
pub fn view_height(unit: &UnitView, ext: &crate::config::ExtrusionConfig, shown: Option<f32>) -> f32 {
    let h = ext.height_m(shown.unwrap_or(0.0));
    if unit.point { 400.0 + 1.5 * h } else { h }
}

/// Moves every transition forward and applies height and palette colour.
fn ease_units(
    time: Res<Time>,
    picture: Res<Picture>,
    settings: Res<Settings>,
    palette: Res<Palette>,
    mut units: Query<(&mut UnitView, &mut Transform, &mut MeshMaterial3d<StandardMaterial>)>,
    mut borders: Query<&mut Transform, Without<UnitView>>,
) {
    let ext = &settings.config.extrusion;
    let dt = time.delta_secs();
    for (mut unit, mut transform, mut material) in &mut units {
        let shown = unit.transition.step(dt, ext.ease_s);
        let height = view_height(&unit, ext, shown);
        if transform.scale.y != height {
            transform.scale.y = height;
            if let Some(mut b) = unit.border.and_then(|e| borders.get_mut(e).ok()) {
                b.scale.y = height;
            }
        }
        let handle = palette.for_score(shown, picture.freshness == Freshness::Stale);
        if material.0 != *handle {
            material.0 = handle.clone();
        }
    }
}
