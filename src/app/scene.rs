//! The 3D scene: unit prisms coloured and raised by score, borders, the dim context layer, and
//! the orbit camera. Colour and height ease together over `extrusion.ease_s`.
//!
//! Two render modes ([`RenderMode`]), both with a constant number of materials (bevy#18882):
//! - `merged` (default): every prism, bureau column and border in one merged mesh with a
//!   per-vertex unit index, drawn by [`UnitMaterial`] from a storage buffer of per-unit values
//!   (height, score, alert pulse, selection). One draw call for the whole map.
//! - `palette`: one entity and mesh per unit, sharing 101 unlit palette materials; a unit changes
//!   colour by switching its handle and height by its transform. Kept to measure against.

use bevy::asset::RenderAssetUsages;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy_panorbit_camera::PanOrbitCamera;

use bevy::camera::visibility::NoFrustumCulling;
use bevy::mesh::VertexAttributeValues;
use bevy::render::storage::ShaderBuffer;

use super::live::Freshness;
use super::unit_material::{ATTRIBUTE_SHADE, ATTRIBUTE_UNIT_INDEX, UnitMaterial, UnitParams, linear};
use super::{MapResource, Picture, Settings};
use crate::config::RenderMode;
use crate::geo::{PrismMesh, build_prism, outline_segments};
use crate::model::Transition;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Selection>()
        .add_systems(Startup, (setup_palette, spawn_map, spawn_camera).chain())
        .add_systems(Update, (retarget_units, ease_units_palette.run_if(resource_exists::<Palette>), ease_units_merged.run_if(resource_exists::<UnitBuffer>)).chain().in_set(SceneSystems::Ease));
}

/// The scene's system sets, in `Update`.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SceneSystems {
    /// Units retarget to the newest picture and step their transitions and pulses; heights,
    /// colours and the per-unit buffer are written. Effects that start pulses run before it.
    Ease,
}

/// The selected unit (drill-down), if any.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Id of the selected unit or bureau.
    pub unit: Option<String>,
}

/// Per-unit values for the merged mesh's shader, one `[height m, score or -1, pulse, selected]`
/// per unit index, and the GPU buffer they are written to.
#[derive(Resource)]
pub struct UnitBuffer {
    /// The values as last written.
    pub values: Vec<Vec4>,
    /// The storage buffer the unit material reads.
    pub handle: Handle<ShaderBuffer>,
    /// The prism and border materials (their stale flag follows the picture).
    pub materials: [Handle<UnitMaterial>; 2],
    /// Whether the materials show the stale colours.
    pub stale: bool,
}

/// Height of unit borders above the top cap, metres.
const BORDER_LIFT_M: f32 = 3.0;

/// Number of palette steps: one material per integer score 0–100.
pub const PALETTE_STEPS: usize = 101;

/// Shared unit materials (palette mode).
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
    /// Index into the merged mesh's per-unit buffer: map units first, then bureaus.
    pub index: u32,
    /// The alert pulse on this unit.
    pub pulse: Pulse,
}

impl UnitView {
    /// The view of area unit `index` of the map (its prism), before any data.
    pub fn area(index: u32, unit: &crate::geo::MapUnit) -> Self {
        UnitView {
            id: unit.id.clone(),
            name: unit.name.clone(),
            area_m2: unit.area_m2,
            label_xz: Vec2::new(unit.label_point.0 as f32, -unit.label_point.1 as f32),
            transition: Transition::default(),
            border: None,
            point: false,
            index,
            pulse: Pulse::default(),
        }
    }
}

/// An alert pulse: the prism flashes towards white, `amplitude` (0–1, by severity) fading
/// over `duration_s` seconds with 1.5 flashes per second.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pulse {
    /// Peak strength, 0–1; 0 when no pulse runs.
    pub amplitude: f32,
    /// Seconds since it started.
    pub age_s: f32,
    /// How long it lasts, seconds.
    pub duration_s: f32,
}

impl Pulse {
    /// Starts a pulse, keeping the running one when what is left of it is stronger.
    pub fn start(&mut self, amplitude: f32, duration_s: f32) {
        if self.remaining() < amplitude {
            *self = Pulse { amplitude, age_s: 0.0, duration_s };
        }
    }

    /// Peak strength left, 0–1: the amplitude as it fades, without the flashing.
    pub fn remaining(&self) -> f32 {
        if self.amplitude <= 0.0 || self.age_s >= self.duration_s { 0.0 } else { self.amplitude * (1.0 - self.age_s / self.duration_s) }
    }

    /// Strength now, 0–1.
    pub fn value(&self) -> f32 {
        if self.amplitude <= 0.0 || self.age_s >= self.duration_s {
            return 0.0;
        }
        let fade = 1.0 - self.age_s / self.duration_s;
        let flash = 0.5 + 0.5 * (self.age_s * 1.5 * std::f32::consts::TAU).cos();
        self.amplitude * fade * flash
    }

    /// Advances by `dt` seconds; ends the pulse when its time is up.
    pub fn step(&mut self, dt: f32) -> f32 {
        if self.amplitude > 0.0 {
            self.age_s += dt;
            if self.age_s >= self.duration_s {
                self.amplitude = 0.0;
            }
        }
        self.value()
    }
}

/// Colour of units without data.
pub const NO_DATA_COLOUR: Color = Color::srgb(0x3a as f32 / 255.0, 0x40 as f32 / 255.0, 0x4c as f32 / 255.0);
/// Colour of unit borders.
pub const BORDER_COLOUR: Color = Color::srgb(0.75, 0.95, 1.0);

fn unlit(colour: Color) -> StandardMaterial {
    StandardMaterial { base_color: colour, unlit: true, ..default() }
}

fn setup_palette(mut commands: Commands, mut materials: ResMut<Assets<StandardMaterial>>, settings: Res<Settings>) {
    if settings.config.render.mode != RenderMode::Palette {
        return;
    }
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
    let no_data = materials.add(unlit(NO_DATA_COLOUR));
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

/// Spawns the units (as the render mode says), the bureau columns and the context layer.
fn spawn_map(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut unit_materials: ResMut<Assets<UnitMaterial>>,
    mut buffers: ResMut<Assets<ShaderBuffer>>,
    map: Res<MapResource>,
    palette: Option<Res<Palette>>,
    settings: Res<Settings>,
) {
    let ext = &settings.config.extrusion;
    let prisms: Vec<PrismMesh> = map
        .data
        .units
        .iter()
        .map(|unit| {
            let (prism, checks) = build_prism(&unit.polygons);
            for (part, c) in checks.iter().enumerate() {
                if !c.passes() {
                    warn!("unit {} part {part}: triangles cover {:.1} m² of {:.1} m² (deviation {:.2e})", unit.id, c.triangle_area_m2, c.polygon_area_m2, c.deviation());
                }
            }
            prism
        })
        .collect();
    // Bureaus (委办局): slim square columns, 200 m a side.
    let half = 100.0;
    let square = ::geo::Polygon::new(::geo::LineString::from(vec![(-half, -half), (half, -half), (half, half), (-half, half), (-half, -half)]), vec![]);
    let (column, _) = build_prism(std::slice::from_ref(&square));

    let mut views: Vec<UnitView> = map.data.units.iter().enumerate().map(|(i, unit)| UnitView::area(i as u32, unit)).collect();
    let first_bureau = views.len();
    views.extend(map.bureaus.iter().enumerate().map(|(j, b)| UnitView {
        id: b.id.clone(),
        name: b.name.clone(),
        area_m2: 0.0,
        label_xz: Vec2::new(b.xy.0 as f32, -(b.xy.1 as f32)),
        transition: Transition::default(),
        border: None,
        point: true,
        index: (first_bureau + j) as u32,
        pulse: Pulse::default(),
    }));

    match palette {
        None => {
            // Merged: one mesh for every prism and column, one for every border.
            let mut body = MergedMesh::default();
            let mut lines = MergedMesh::default();
            let borders = map.data.units.len() <= settings.config.render.borders_max_units;
            for (i, (unit, prism)) in map.data.units.iter().zip(&prisms).enumerate() {
                body.push_prism(prism, Vec2::ZERO, i as u32);
                if borders {
                    lines.push_lines(&outline_segments(&unit.polygons, 1.0), i as u32);
                }
            }
            for view in &views[first_bureau..] {
                body.push_prism(&column, view.label_xz, view.index);
            }
            let mut values: Vec<Vec4> = views.iter().map(|v| Vec4::new(view_height(v, ext, None), -1.0, 0.0, 0.0)).collect();
            if values.is_empty() {
                // A storage buffer cannot be empty.
                values.push(Vec4::ZERO);
            }
            let handle = buffers.add(ShaderBuffer::from(values.clone()));
            let ramp: Vec<Vec4> = (0..PALETTE_STEPS)
                .map(|s| linear(settings.ramp.sample(s as f32)))
                .chain((0..PALETTE_STEPS).map(|s| linear(stale_colour(settings.ramp.sample(s as f32)))))
                .collect();
            let ramp = buffers.add(ShaderBuffer::from(ramp));
            let srgb = |c: Color| {
                let l = c.to_linear();
                Vec4::new(l.red, l.green, l.blue, 1.0)
            };
            let params = UnitParams {
                mode: Vec4::ZERO,
                no_data: srgb(NO_DATA_COLOUR),
                border: srgb(BORDER_COLOUR),
                glow: srgb(Color::srgb(0.36, 0.84, 1.0)).with_w(0.55),
            };
            let body_material = unit_materials.add(UnitMaterial { params, units: handle.clone(), ramp: ramp.clone() });
            let line_params = UnitParams { mode: Vec4::new(0.0, 1.0, BORDER_LIFT_M, 0.0), ..params };
            let line_material = unit_materials.add(UnitMaterial { params: line_params, units: handle.clone(), ramp });
            // The shader raises vertices to their unit's height, so the meshes' own bounds
            // (y 0–1) say nothing about what is on screen.
            if !body.positions.is_empty() {
                commands.spawn((Mesh3d(meshes.add(body.into_mesh(PrimitiveTopology::TriangleList))), MeshMaterial3d(body_material.clone()), NoFrustumCulling, MergedMap));
            }
            if !lines.positions.is_empty() {
                commands.spawn((Mesh3d(meshes.add(lines.into_mesh(PrimitiveTopology::LineList))), MeshMaterial3d(line_material.clone()), NoFrustumCulling, MergedMap));
            }
            commands.insert_resource(UnitBuffer { values, handle, materials: [body_material, line_material], stale: false });
            for view in views {
                commands.spawn(view);
            }
        }
        Some(palette) => {
            let border_material = materials.add(StandardMaterial { base_color: BORDER_COLOUR.with_alpha(0.9), unlit: true, alpha_mode: AlphaMode::Blend, ..default() });
            let height = ext.height_m(0.0);
            let column = meshes.add(prism_mesh(&column));
            for (mut view, (unit, prism)) in views.drain(..first_bureau).zip(map.data.units.iter().zip(&prisms)) {
                view.border = Some(
                    commands
                        .spawn((
                            Mesh3d(meshes.add(line_mesh(outline_segments(&unit.polygons, 1.0)))),
                            MeshMaterial3d(border_material.clone()),
                            // Lifted a little above the cap so it is not hidden by it (line
                            // lists cannot use depth bias).
                            Transform::from_xyz(0.0, BORDER_LIFT_M, 0.0).with_scale(Vec3::new(1.0, height, 1.0)),
                        ))
                        .id(),
                );
                commands.spawn((Mesh3d(meshes.add(prism_mesh(prism))), MeshMaterial3d(palette.no_data.clone()), Transform::from_scale(Vec3::new(1.0, height, 1.0)), view));
            }
            for view in views {
                let (x, z) = (view.label_xz.x, view.label_xz.y);
                commands.spawn((
                    Mesh3d(column.clone()),
                    MeshMaterial3d(palette.no_data.clone()),
                    Transform::from_xyz(x, 0.0, z).with_scale(Vec3::new(1.0, view_height(&view, ext, None), 1.0)),
                    view,
                ));
            }
        }
    }

    // Context: neighbouring districts as low, dark walls with faint outlines.
    let slab = materials.add(unlit(Color::srgb_u8(0x10, 0x16, 0x24)));
    let outline = materials.add(unlit(Color::srgb_u8(0x2c, 0x3a, 0x55)));
    for area in &map.context {
        let polygons = &area.polygons;
        // Walls only: the top caps of these large detailed outlines triangulate into long
        // slivers that cost a software rasteriser (llvmpipe/lavapipe) ~0.6 s a frame at 1080p
        // for 15 districts; the low walls and the outline read the same from above.
        let (mut prism, _) = build_prism(polygons);
        prism.indices.drain(..prism.top_triangles * 3);
        commands.spawn((Mesh3d(meshes.add(prism_mesh(&prism))), MeshMaterial3d(slab.clone()), Transform::from_scale(Vec3::new(1.0, 40.0, 1.0))));
        commands.spawn((
            Mesh3d(meshes.add(line_mesh(outline_segments(polygons, 41.0)))),
            MeshMaterial3d(outline.clone()),
        ));
    }
}

/// Marks the merged map meshes. They stay at the world origin untransformed: the unit shader
/// treats their positions as world positions.
#[derive(Component)]
pub struct MergedMap;

/// Vertex data of many units gathered into one mesh, each vertex tagged with its unit index.
#[derive(Default)]
pub struct MergedMesh {
    /// Positions, metres, y 0–1 (the shader scales it by the unit's height).
    pub positions: Vec<[f32; 3]>,
    /// Unit index per vertex.
    pub unit: Vec<u32>,
    /// Shade per vertex (1 on caps and lines).
    pub shade: Vec<f32>,
    /// Triangle indices (empty for line lists).
    pub indices: Vec<u32>,
}

impl MergedMesh {
    /// Appends a prism moved by `offset` (world x, z metres) for unit `index`.
    pub fn push_prism(&mut self, prism: &PrismMesh, offset: Vec2, index: u32) {
        let base = self.positions.len() as u32;
        self.positions.extend(prism.positions.iter().map(|&[x, y, z]| [x + offset.x, y, z + offset.y]));
        self.unit.extend(std::iter::repeat_n(index, prism.positions.len()));
        self.shade.extend_from_slice(&prism.shade);
        self.indices.extend(prism.indices.iter().map(|i| i + base));
    }

    /// Appends line-list segments for unit `index`.
    pub fn push_lines(&mut self, segments: &[[f32; 3]], index: u32) {
        self.positions.extend_from_slice(segments);
        self.unit.extend(std::iter::repeat_n(index, segments.len()));
        self.shade.extend(std::iter::repeat_n(1.0, segments.len()));
    }

    /// The Bevy mesh, with [`ATTRIBUTE_UNIT_INDEX`] and [`ATTRIBUTE_SHADE`].
    pub fn into_mesh(self, topology: PrimitiveTopology) -> Mesh {
        let mut mesh = Mesh::new(topology, RenderAssetUsages::RENDER_WORLD)
            .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, self.positions)
            .with_inserted_attribute(ATTRIBUTE_UNIT_INDEX, VertexAttributeValues::Uint32(self.unit))
            .with_inserted_attribute(ATTRIBUTE_SHADE, VertexAttributeValues::Float32(self.shade));
        if !self.indices.is_empty() {
            mesh.insert_indices(Indices::U32(self.indices));
        }
        mesh
    }
}

/// Camera framing: the map's bounding box (or three times the tallest prism, if larger) seen from
/// the south at 42° elevation.
fn spawn_camera(mut commands: Commands, map: Res<MapResource>, settings: Res<Settings>, adapter: Option<Res<bevy::render::renderer::RenderAdapterInfo>>) {
    // MSAA "auto" (0): 4 samples on a GPU, none on a CPU rasteriser (lavapipe, llvmpipe),
    // where it multiplies the cost of every pixel.
    let software = adapter.is_some_and(|a| format!("{:?}", a.device_type) == "Cpu");
    let samples = match settings.config.render.msaa {
        0 if software => 1,
        0 => 4,
        n => n,
    };
    let (x0, y0, x1, y1) = map.data.bounds();
    let centre = Vec3::new(((x0 + x1) / 2.0) as f32, 0.0, -((y0 + y1) / 2.0) as f32);
    // On a small map the tallest prism, not the footprint, sets the frame.
    let tallest = settings.config.extrusion.height_m(100.0);
    let extent = ((x1 - x0).max(y1 - y0) as f32).max(3.0 * tallest).max(100.0);
    let fov = std::f32::consts::FRAC_PI_4;
    let radius = extent * 0.5 / (fov / 2.0).tan() * 1.1;
    commands.insert_resource(super::interact::HomeView { focus: centre, radius, yaw: 0.0, pitch: 42f32.to_radians() });
    commands.spawn((
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection { fov, near: radius * 0.01, far: radius * 20.0, ..default() }),
        Tonemapping::None,
        match samples {
            1 => Msaa::Off,
            2 => Msaa::Sample2,
            8 => Msaa::Sample8,
            _ => Msaa::Sample4,
        },
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

/// Palette mode: moves every transition forward and applies height and palette colour.
fn ease_units_palette(
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
        unit.pulse.step(dt);
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

/// Merged mode: moves every transition and pulse forward and writes the per-unit buffer, only
/// when a value changed (an idle wall uploads nothing).
fn ease_units_merged(
    time: Res<Time>,
    picture: Res<Picture>,
    settings: Res<Settings>,
    selection: Res<Selection>,
    mut buffer: ResMut<UnitBuffer>,
    mut buffers: ResMut<Assets<ShaderBuffer>>,
    mut materials: ResMut<Assets<UnitMaterial>>,
    mut units: Query<&mut UnitView>,
) {
    let ext = &settings.config.extrusion;
    let dt = time.delta_secs();
    let mut changed = false;
    for mut unit in &mut units {
        let shown = unit.transition.step(dt, ext.ease_s);
        let pulse = unit.pulse.step(dt);
        let selected = selection.unit.as_deref() == Some(unit.id.as_str());
        let value = Vec4::new(view_height(&unit, ext, shown), shown.unwrap_or(-1.0), pulse, if selected { 1.0 } else { 0.0 });
        let slot = &mut buffer.values[unit.index as usize];
        if *slot != value {
            *slot = value;
            changed = true;
        }
    }
    if changed && let Some(mut gpu) = buffers.get_mut(&buffer.handle) {
        gpu.set_data(buffer.values.clone());
    }
    let stale = picture.freshness == Freshness::Stale;
    if stale != buffer.stale {
        buffer.stale = stale;
        for handle in &buffer.materials {
            if let Some(mut m) = materials.get_mut(handle) {
                m.params.mode.x = if stale { 1.0 } else { 0.0 };
            }
        }
    }
}
