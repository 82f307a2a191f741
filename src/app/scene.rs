//! The 3D scene: unit prisms coloured and raised by score, bureau columns, borders and the
//! dim context layer. Colour and height ease together over `extrusion.ease_s`.
//!
//! Two render modes ([`RenderMode`]), both with a constant number of materials (bevy#18882):
//! - `merged` (default): every prism, bureau column and border in one merged mesh with a
//!   per-vertex unit index, drawn by [`UnitMaterial`] from a storage buffer of per-unit values
//!   (height, score, alert pulse, selection). One draw call for the whole map.
//! - `palette`: one entity and mesh per unit, sharing 101 unlit palette materials; a unit changes
//!   colour by switching its handle and height by its transform. Kept to measure against.

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::NoFrustumCulling;
use bevy::mesh::VertexAttributeValues;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy::render::storage::ShaderBuffer;
use smol_str::SmolStr;

use super::map::{MapResource, world_from_map};
use super::picture::{Freshness, Picture, Settings};
use super::redraw::Redraw;
use super::schedule::AppSystems;
use super::selection::Selection;
use super::theme;
use super::unit_material::{ATTRIBUTE_SHADE, ATTRIBUTE_UNIT_INDEX, UnitMaterial, UnitParams, linear};
use crate::config::{ExtrusionConfig, RenderMode};
use crate::geo::{PrismMesh, build_prism, outline_segments};
use crate::model::Transition;

/// The units' state on screen: each retargets to the newest picture and steps its
/// transition and pulse (no GPU work: headless tests run this).
pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, (retarget_units, step_units, ask_while_moving).chain().in_set(AppSystems::Animate));
}

/// Drawing the units: the meshes at start, then each frame the per-unit buffer (merged) or
/// the palette handles and heights (palette), after the units stepped.
pub(super) fn view_plugin(app: &mut App) {
    app.init_resource::<BureauDisplay>().add_systems(Update, toggle_bureaus.in_set(AppSystems::Input));
    app.add_systems(Startup, (setup_palette.run_if(palette_mode), spawn_map).chain()).add_systems(
        Update,
        (write_unit_buffer.run_if(resource_exists::<UnitBuffer>), apply_palette.run_if(resource_exists::<Palette>))
            .after(step_units)
            .in_set(AppSystems::Animate),
    );
}

fn palette_mode(settings: Res<Settings>) -> bool {
    settings.config.render.mode == RenderMode::Palette
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

/// The palette entry of a 0–100 score: its whole points, rounded down (as the unit shader
/// does), so a level's colour starts at its threshold; clamped into the palette.
pub fn palette_index(score: f32) -> usize {
    (score.clamp(0.0, 100.0).floor() as usize).min(PALETTE_STEPS - 1)
}

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
            Some(s) => &table[palette_index(s)],
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
    /// Unit id; inline (ids up to 23 bytes), so a pass over every unit reads the ids in place
    /// rather than one heap string each.
    pub id: SmolStr,
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
    /// Where this unit was last found in the picture's state ([`RiskState::score_hinted`]),
    /// so a retarget of every unit reads the state in place instead of looking each up by id.
    ///
    /// [`RiskState::score_hinted`]: crate::model::RiskState::score_hinted
    pub state_slot: usize,
}

impl UnitView {
    /// The view of area unit `index` of the map (its prism), before any data.
    pub fn area(index: u32, unit: &crate::geo::MapUnit) -> Self {
        UnitView {
            id: SmolStr::new(&unit.id),
            name: unit.name.clone(),
            area_m2: unit.area_m2,
            label_xz: world_from_map(unit.label_point, 0.0).xz(),
            transition: Transition::default(),
            border: None,
            point: false,
            index,
            pulse: Pulse::default(),
            state_slot: index as usize,
        }
    }

    /// The view of bureau `bureau` (a column), at unit index `index`, before any data.
    pub fn bureau(index: u32, bureau: &crate::geo::PointUnit) -> Self {
        UnitView {
            id: SmolStr::new(&bureau.id),
            name: bureau.name.clone(),
            area_m2: 0.0,
            label_xz: world_from_map(bureau.xy, 0.0).xz(),
            transition: Transition::default(),
            border: None,
            point: true,
            index,
            pulse: Pulse::default(),
            state_slot: index as usize,
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
    let no_data = materials.add(unlit(theme::bevy(theme::NO_DATA)));
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

/// Side of a bureau's square column, metres.
pub const COLUMN_SIDE_M: f64 = 200.0;

/// Side of a bureau cluster's square column, metres.
pub const CLUSTER_SIDE_M: f64 = 480.0;

/// Bureaus within this distance of a cluster's first member join it, metres.
pub const CLUSTER_RADIUS_M: f64 = 2_500.0;

/// A cluster's column keeps its centre this far, on either axis, from every township's label
/// point, metres: its half side and a margin, so it never stands on a label.
pub const CLUSTER_CLEARANCE_M: f64 = CLUSTER_SIDE_M / 2.0 + 250.0;

/// A per-unit buffer value that draws nothing: the unit shader collapses a unit whose height
/// is negative.
const HIDDEN: Vec4 = Vec4::new(-1.0, -1.0, 0.0, 0.0);

/// How the bureau columns are shown: clustered at district zoom (the camera sets it), and
/// whether they are shown at all (`B` toggles).
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct BureauDisplay {
    /// Near bureaus are drawn as one cluster column each (the camera is out at district
    /// zoom).
    pub clustered: bool,
    /// Bureau columns are drawn at all.
    pub shown: bool,
}

impl Default for BureauDisplay {
    fn default() -> Self {
        Self { clustered: true, shown: true }
    }
}

/// One cluster of bureaus drawn as a single column at district zoom.
#[derive(Clone, Debug)]
pub struct ClusterView {
    /// Its slot in the per-unit buffer (after every unit's).
    pub slot: u32,
    /// Its members' ids.
    pub members: Vec<String>,
    /// Where its column stands: world (x, z), metres.
    pub at_xz: Vec2,
    /// Its height now, metres (the tallest member's; 0 while hidden).
    pub height: f32,
    /// Its score now, the worst member's (0–100), if any member has one.
    pub score: Option<f32>,
}

/// The bureau clusters of the merged map, and for each buffer slot the cluster it belongs to.
#[derive(Resource, Clone, Debug, Default)]
pub struct BureauClusters {
    /// The clusters.
    pub clusters: Vec<ClusterView>,
    /// Per unit slot, its cluster's index in `clusters`.
    cluster_of: Vec<Option<u32>>,
    /// Per cluster, whether it shows its members (expanded) this frame.
    expanded: Vec<bool>,
}

impl BureauClusters {
    /// Whether the column of unit `slot` is hidden now: bureaus are hidden, or its cluster
    /// stands for it.
    pub fn hides(&self, slot: u32, point: bool, display: &BureauDisplay) -> bool {
        point && (!display.shown || self.folded_into(slot).is_some())
    }

    /// The cluster whose column stands for unit `slot` now (an index into `clusters`): none
    /// when the unit is no bureau in a cluster or its cluster is expanded.
    pub fn folded_into(&self, slot: u32) -> Option<usize> {
        let k = self.cluster_of.get(slot as usize).copied().flatten()? as usize;
        (!self.expanded[k]).then_some(k)
    }

    /// The clusters drawn as one column now (district zoom, bureaus shown, none selected),
    /// each with its index in `clusters`.
    pub fn drawn(&self) -> impl Iterator<Item = (usize, &ClusterView)> {
        self.clusters.iter().enumerate().filter(|(k, c)| !self.expanded[*k] && c.height > 0.0)
    }
}

/// A square column's prism around the origin, `side_m` metres a side: a bureau's
/// ([`COLUMN_SIDE_M`]) or a bureau cluster's ([`CLUSTER_SIDE_M`]).
fn square_prism(side_m: f64) -> PrismMesh {
    let half = side_m / 2.0;
    let square = ::geo::Polygon::new(::geo::LineString::from(vec![(-half, -half), (half, -half), (half, half), (-half, half), (-half, -half)]), vec![]);
    build_prism(std::slice::from_ref(&square)).0
}

/// Each map unit's prism, with a warning for a part whose triangles do not cover it.
fn unit_prisms(map: &MapResource) -> Vec<PrismMesh> {
    map.data
        .units
        .iter()
        .map(|unit| {
            let (prism, checks) = build_prism(&unit.polygons);
            for (part, c) in checks.iter().enumerate() {
                if !c.passes() {
                    warn!(
                        "unit {} part {part}: triangles cover {:.1} m² of {:.1} m² (deviation {:.2e})",
                        unit.id,
                        c.triangle_area_m2,
                        c.polygon_area_m2,
                        c.deviation()
                    );
                }
            }
            prism
        })
        .collect()
}

/// The Bevy asset stores the map is spawned into.
#[derive(bevy::ecs::system::SystemParam)]
struct SceneAssets<'w> {
    meshes: ResMut<'w, Assets<Mesh>>,
    materials: ResMut<'w, Assets<StandardMaterial>>,
    unit_materials: ResMut<'w, Assets<UnitMaterial>>,
    buffers: ResMut<'w, Assets<ShaderBuffer>>,
}

/// Spawns the units (as the render mode says), the bureau columns and the context layer.
fn spawn_map(mut commands: Commands, mut assets: SceneAssets, map: Res<MapResource>, palette: Option<Res<Palette>>, settings: Res<Settings>) {
    let prisms = unit_prisms(&map);
    let first_bureau = map.data.units.len();
    let views: Vec<UnitView> = map
        .data
        .units
        .iter()
        .enumerate()
        .map(|(i, unit)| UnitView::area(i as u32, unit))
        .chain(map.bureaus.iter().enumerate().map(|(j, b)| UnitView::bureau((first_bureau + j) as u32, b)))
        .collect();
    match palette {
        None => spawn_merged(&mut commands, &mut assets, &map, &prisms, views, &settings),
        Some(palette) => spawn_palette(&mut commands, &mut assets, &map, &prisms, views, &palette, &settings.config.extrusion),
    }
    spawn_context(&mut commands, &mut assets, &map);
}

/// Merged mode: one mesh for every prism and column, one for every border, drawn by the unit
/// material from one per-unit buffer.
fn spawn_merged(commands: &mut Commands, assets: &mut SceneAssets, map: &MapResource, prisms: &[PrismMesh], views: Vec<UnitView>, settings: &Settings) {
    let ext = &settings.config.extrusion;
    let mut body = MergedMesh::default();
    let mut lines = MergedMesh::default();
    let borders = map.data.units.len() <= settings.config.render.borders_max_units;
    for (i, (unit, prism)) in map.data.units.iter().zip(prisms).enumerate() {
        body.push_prism(prism, Vec2::ZERO, i as u32);
        if borders {
            lines.push_lines(&outline_segments(&unit.polygons, 1.0), i as u32);
        }
    }
    let column = square_prism(COLUMN_SIDE_M);
    for view in views.iter().filter(|v| v.point) {
        body.push_prism(&column, view.label_xz, view.index);
    }
    // Bureaus close together share one wider column at district zoom, kept off the townships'
    // label points; its slots follow every unit's.
    let points: Vec<(f64, f64)> = map.bureaus.iter().map(|b| b.xy).collect();
    let avoid: Vec<(f64, f64)> = map.data.units.iter().map(|u| u.label_point).collect();
    let first_bureau = map.data.units.len() as u32;
    let mut clusters = BureauClusters { cluster_of: vec![None; views.len()], ..default() };
    let wide = square_prism(CLUSTER_SIDE_M);
    for (k, c) in crate::geo::cluster_points(&points, CLUSTER_RADIUS_M, &avoid, CLUSTER_CLEARANCE_M).into_iter().enumerate() {
        let slot = (views.len() + k) as u32;
        let at_xz = world_from_map(c.at, 0.0).xz();
        body.push_prism(&wide, at_xz, slot);
        for &m in &c.members {
            clusters.cluster_of[first_bureau as usize + m] = Some(k as u32);
        }
        let members = c.members.iter().map(|&m| map.bureaus[m].id.clone()).collect();
        clusters.clusters.push(ClusterView { slot, members, at_xz, height: 0.0, score: None });
    }
    clusters.expanded = vec![false; clusters.clusters.len()];
    let mut values: Vec<Vec4> = views.iter().map(|v| Vec4::new(view_height(v, ext, None), -1.0, 0.0, 0.0)).collect();
    values.extend(std::iter::repeat_n(HIDDEN, clusters.clusters.len()));
    if values.is_empty() {
        // A storage buffer cannot be empty.
        values.push(Vec4::ZERO);
    }
    let handle = assets.buffers.add(ShaderBuffer::from(values.clone()));
    let ramp: Vec<Vec4> = (0..PALETTE_STEPS)
        .map(|s| linear(settings.ramp.sample(s as f32)))
        .chain((0..PALETTE_STEPS).map(|s| linear(stale_colour(settings.ramp.sample(s as f32)))))
        .collect();
    let ramp = assets.buffers.add(ShaderBuffer::from(ramp));
    let lin = |c: theme::Rgb| linear(c.map(|v| f32::from(v) / 255.0));
    let params = UnitParams { mode: Vec4::ZERO, no_data: lin(theme::NO_DATA), border: lin(theme::BORDER), glow: lin(theme::ACCENT).with_w(0.55) };
    let body_material = assets.unit_materials.add(UnitMaterial { params, units: handle.clone(), ramp: ramp.clone() });
    let line_params = UnitParams { mode: Vec4::new(0.0, 1.0, BORDER_LIFT_M, 0.0), ..params };
    let line_material = assets.unit_materials.add(UnitMaterial { params: line_params, units: handle.clone(), ramp });
    // The shader raises vertices to their unit's height, so the meshes' own bounds (y 0–1)
    // say nothing about what is on screen.
    if !body.positions.is_empty() {
        commands.spawn((
            Mesh3d(assets.meshes.add(body.into_mesh(PrimitiveTopology::TriangleList))),
            MeshMaterial3d(body_material.clone()),
            NoFrustumCulling,
            MergedMap,
        ));
    }
    if !lines.positions.is_empty() {
        commands.spawn((
            Mesh3d(assets.meshes.add(lines.into_mesh(PrimitiveTopology::LineList))),
            MeshMaterial3d(line_material.clone()),
            NoFrustumCulling,
            MergedMap,
        ));
    }
    commands.insert_resource(UnitBuffer { values, handle, materials: [body_material, line_material], stale: false });
    commands.insert_resource(clusters);
    commands.spawn_batch(views);
}

/// Palette mode: one entity and mesh per unit (and per border), sharing the palette's
/// materials.
fn spawn_palette(
    commands: &mut Commands,
    assets: &mut SceneAssets,
    map: &MapResource,
    prisms: &[PrismMesh],
    views: Vec<UnitView>,
    palette: &Palette,
    ext: &ExtrusionConfig,
) {
    let border_material = assets.materials.add(StandardMaterial {
        base_color: theme::bevy(theme::BORDER).with_alpha(0.9),
        unlit: true,
        alpha_mode: AlphaMode::Blend,
        ..default()
    });
    let height = ext.height_m(0.0);
    let column = assets.meshes.add(prism_mesh(&square_prism(COLUMN_SIDE_M)));
    let mut areas = map.data.units.iter().zip(prisms);
    for mut view in views {
        if view.point {
            let at = Vec3::new(view.label_xz.x, 0.0, view.label_xz.y);
            let scale = Vec3::new(1.0, view_height(&view, ext, None), 1.0);
            commands.spawn((Mesh3d(column.clone()), MeshMaterial3d(palette.no_data.clone()), Transform::from_translation(at).with_scale(scale), view));
            continue;
        }
        let Some((unit, prism)) = areas.next() else { continue };
        // The border is lifted a little above the cap so it is not hidden by it (line lists
        // cannot use depth bias).
        let border = (
            Mesh3d(assets.meshes.add(line_mesh(outline_segments(&unit.polygons, 1.0)))),
            MeshMaterial3d(border_material.clone()),
            Transform::from_xyz(0.0, BORDER_LIFT_M, 0.0).with_scale(Vec3::new(1.0, height, 1.0)),
        );
        view.border = Some(commands.spawn(border).id());
        commands.spawn((
            Mesh3d(assets.meshes.add(prism_mesh(prism))),
            MeshMaterial3d(palette.no_data.clone()),
            Transform::from_scale(Vec3::new(1.0, height, 1.0)),
            view,
        ));
    }
}

/// Context: neighbouring districts as low, dark walls with faint outlines.
fn spawn_context(commands: &mut Commands, assets: &mut SceneAssets, map: &MapResource) {
    let slab = assets.materials.add(unlit(theme::bevy(theme::CONTEXT_SLAB)));
    let outline = assets.materials.add(unlit(theme::bevy(theme::CONTEXT_OUTLINE)));
    for area in &map.context {
        let polygons = &area.polygons;
        // Walls only: the top caps of these large detailed outlines triangulate into long
        // slivers that cost a software rasteriser (llvmpipe/lavapipe) ~0.6 s a frame at 1080p
        // for 15 districts; the low walls and the outline read the same from above.
        let (mut prism, _) = build_prism(polygons);
        prism.indices.drain(..prism.top_triangles * 3);
        commands.spawn((
            Mesh3d(assets.meshes.add(prism_mesh(&prism))),
            MeshMaterial3d(slab.clone()),
            Transform::from_scale(Vec3::new(1.0, CONTEXT_HEIGHT_M, 1.0)),
        ));
        commands.spawn((Mesh3d(assets.meshes.add(line_mesh(outline_segments(polygons, CONTEXT_HEIGHT_M + 1.0)))), MeshMaterial3d(outline.clone())));
    }
}

/// Height of the neighbouring districts' walls, metres.
pub const CONTEXT_HEIGHT_M: f32 = 40.0;
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

/// Starts a transition on every unit whose score changed in the picture.
fn retarget_units(picture: Res<Picture>, mut seen: Local<u64>, mut units: Query<&mut UnitView>) {
    if picture.generation == *seen {
        return;
    }
    *seen = picture.generation;
    for mut unit in &mut units {
        let unit = &mut *unit;
        let target = picture.state.score_hinted(&unit.id, &mut unit.state_slot).map(|s| s.total);
        unit.transition.retarget(target);
    }
}

impl UnitView {
    /// The label point on top of the prism or column as it stands now, world metres: where
    /// the map label goes and where the render check samples the unit's colour.
    pub fn label_world(&self, ext: &ExtrusionConfig) -> Vec3 {
        Vec3::new(self.label_xz.x, view_height(self, ext, self.transition.shown), self.label_xz.y)
    }
}

/// Height in metres of a unit's prism or column: areas follow the extrusion rule; point units
/// (bureau columns) rise 1.5× as fast from 400 m higher, so they stand clear of the prisms
/// around them.
pub fn view_height(unit: &UnitView, ext: &ExtrusionConfig, shown: Option<f32>) -> f32 {
    let h = ext.height_m(shown.unwrap_or(0.0));
    if unit.point { 400.0 + 1.5 * h } else { h }
}

/// Moves every transition and pulse forward by the frame time.
fn step_units(time: Res<Time>, settings: Res<Settings>, mut units: Query<&mut UnitView>) {
    let ease_s = settings.config.extrusion.ease_s;
    let dt = time.delta_secs();
    for mut unit in &mut units {
        unit.transition.step(dt, ease_s);
        unit.pulse.step(dt);
    }
}

/// While a unit eases or pulses, the next frame is wanted at once.
fn ask_while_moving(units: Query<&UnitView>, mut redraw: ResMut<Redraw>) {
    if units.iter().any(|u| u.transition.shown != u.transition.target() || u.pulse.amplitude > 0.0) {
        redraw.animate();
    }
}

/// `B` shows or hides the bureau columns (merged mode).
fn toggle_bureaus(keys: Res<ButtonInput<KeyCode>>, mut display: ResMut<BureauDisplay>, mut redraw: ResMut<Redraw>) {
    if keys.just_pressed(KeyCode::KeyB) {
        display.shown = !display.shown;
        redraw.animate();
    }
}

/// Palette mode: applies each unit's height and palette colour.
fn apply_palette(
    picture: Res<Picture>,
    settings: Res<Settings>,
    palette: Res<Palette>,
    mut units: Query<(&UnitView, &mut Transform, &mut MeshMaterial3d<StandardMaterial>)>,
    mut borders: Query<&mut Transform, Without<UnitView>>,
) {
    let ext = &settings.config.extrusion;
    for (unit, mut transform, mut material) in &mut units {
        let height = view_height(unit, ext, unit.transition.shown);
        if transform.scale.y != height {
            transform.scale.y = height;
            if let Some(mut b) = unit.border.and_then(|e| borders.get_mut(e).ok()) {
                b.scale.y = height;
            }
        }
        let handle = palette.for_score(unit.transition.shown, picture.freshness == Freshness::Stale);
        if material.0 != *handle {
            material.0 = handle.clone();
        }
    }
}

/// Merged mode: writes the per-unit buffer, only when a value changed (an idle wall uploads
/// nothing), and the materials' stale flag when freshness turns. Bureaus in a cluster are
/// hidden while their cluster's column stands for them (district zoom, none of them
/// selected); all bureaus are hidden while [`BureauDisplay::shown`] is off.
#[allow(clippy::too_many_arguments)]
fn write_unit_buffer(
    picture: Res<Picture>,
    settings: Res<Settings>,
    selection: Res<Selection>,
    mut buffer: ResMut<UnitBuffer>,
    mut buffers: ResMut<Assets<ShaderBuffer>>,
    mut materials: ResMut<Assets<UnitMaterial>>,
    units: Query<&UnitView>,
    mut clusters: ResMut<BureauClusters>,
    display: Res<BureauDisplay>,
) {
    let ext = &settings.config.extrusion;
    let mut changed = false;
    // A cluster shows its members when the camera is in close, or when one of them is
    // selected.
    let clusters = &mut *clusters;
    for (k, c) in clusters.clusters.iter().enumerate() {
        clusters.expanded[k] = !display.clustered || selection.unit.as_ref().is_some_and(|s| c.members.contains(s));
    }
    // The tallest member's height, the worst member's score, the strongest pulse.
    let mut tops = vec![HIDDEN; clusters.clusters.len()];
    for unit in &units {
        let shown = unit.transition.shown;
        let selected = selection.unit.as_deref() == Some(unit.id.as_str());
        let mut value = Vec4::new(view_height(unit, ext, shown), shown.unwrap_or(-1.0), unit.pulse.value(), if selected { 1.0 } else { 0.0 });
        if unit.point
            && let Some(k) = clusters.cluster_of.get(unit.index as usize).copied().flatten()
        {
            let top = &mut tops[k as usize];
            *top = Vec4::new(top.x.max(value.x), top.y.max(value.y), top.z.max(value.z), 0.0);
        }
        if clusters.hides(unit.index, unit.point, &display) {
            value = HIDDEN;
        }
        let Some(slot) = buffer.values.get_mut(unit.index as usize) else { continue };
        if *slot != value {
            *slot = value;
            changed = true;
        }
    }
    for (k, top) in tops.into_iter().enumerate() {
        let value = if display.shown && !clusters.expanded[k] { top } else { HIDDEN };
        let c = &mut clusters.clusters[k];
        c.height = value.x.max(0.0);
        c.score = (value.y >= 0.0).then_some(value.y);
        let Some(slot) = buffer.values.get_mut(c.slot as usize) else { continue };
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
