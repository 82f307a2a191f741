//! The unit material (`shaders/unit.wgsl`): one material for every unit of the map, driven by a
//! storage buffer of per-unit values instead of one material per unit.
//!
//! The merged map mesh carries each vertex's unit index ([`ATTRIBUTE_UNIT_INDEX`]) and wall
//! shade ([`ATTRIBUTE_SHADE`]); the shader raises the vertex to the unit's height and colours it
//! from the ramp. Changing a score, a pulse or the selection rewrites the buffer in place
//! (same size, so the GPU buffer and bind group are reused); materials change only when the
//! picture turns stale or live again.

use bevy::asset::uuid_handle;
use bevy::mesh::{MeshVertexAttribute, MeshVertexBufferLayoutRef};
use bevy::pbr::{MaterialPipeline, MaterialPipelineKey};
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, RenderPipelineDescriptor, ShaderType, SpecializedMeshPipelineError, VertexFormat};
use bevy::render::storage::ShaderBuffer;
use bevy::shader::ShaderRef;

/// The unit shader, compiled into the binary so the app needs no asset directory.
const UNIT_SHADER: Handle<Shader> = uuid_handle!("6c0f8f5e-2b0d-4d8a-9a57-3f1d2c7e9b41");

/// Per-vertex unit index into the per-unit buffer (u32).
pub const ATTRIBUTE_UNIT_INDEX: MeshVertexAttribute = MeshVertexAttribute::new("SituationUnitIndex", 2_611_840_117, VertexFormat::Uint32);
/// Per-vertex shade, 0–1: 1 on top caps, 0.45–0.85 on walls (see `geo::PrismMesh::shade`).
pub const ATTRIBUTE_SHADE: MeshVertexAttribute = MeshVertexAttribute::new("SituationShade", 2_611_840_118, VertexFormat::Float32);

pub(super) fn plugin(app: &mut App) {
    let shader = Shader::from_wgsl(include_str!("../../shaders/unit.wgsl"), "shaders/unit.wgsl");
    app.world_mut().resource_mut::<Assets<Shader>>().insert(UNIT_SHADER.id(), shader).expect("the unit shader handle is free");
    app.add_plugins(MaterialPlugin::<UnitMaterial>::default());
}

/// The material's uniform block; colours are linear RGB.
#[derive(Clone, Copy, Debug, ShaderType)]
pub struct UnitParams {
    /// x: 1 when the picture is stale; y: 1 for the border (line) pass; z: metres added to
    /// every height (the border lift); w: unused.
    pub mode: Vec4,
    /// Colour of units without data.
    pub no_data: Vec4,
    /// Border colour.
    pub border: Vec4,
    /// Rim glow colour; w is its strength (0–1).
    pub glow: Vec4,
}

/// The material shared by every unit (one instance for prisms, one for borders).
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct UnitMaterial {
    /// Mode and colours.
    #[uniform(0)]
    pub params: UnitParams,
    /// Per-unit values, `[height m, score 0–100 or -1, pulse 0–1, selected 0/1]` each.
    #[storage(1, read_only)]
    pub units: Handle<ShaderBuffer>,
    /// 202 linear colours: the ramp at integer scores 0–100, then their stale twins.
    #[storage(2, read_only)]
    pub ramp: Handle<ShaderBuffer>,
}

impl Material for UnitMaterial {
    fn vertex_shader() -> ShaderRef {
        UNIT_SHADER.into()
    }

    fn fragment_shader() -> ShaderRef {
        UNIT_SHADER.into()
    }

    fn enable_prepass() -> bool {
        false
    }

    fn enable_shadows() -> bool {
        false
    }

    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        _key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        let vertex_layout = layout.0.get_layout(&[
            Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
            ATTRIBUTE_UNIT_INDEX.at_shader_location(1),
            ATTRIBUTE_SHADE.at_shader_location(2),
        ])?;
        descriptor.vertex.buffers = vec![vertex_layout];
        Ok(())
    }
}

/// Linear RGB of an sRGB triple, as the GPU would decode it.
pub fn linear([r, g, b]: [f32; 3]) -> Vec4 {
    let c = Color::srgb(r, g, b).to_linear();
    Vec4::new(c.red, c.green, c.blue, 1.0)
}
