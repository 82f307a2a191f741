//! The alert ring's material (`shaders/ring.wgsl`): a flat colour added to the picture behind
//! it, drawn inside the main opaque pass instead of a transparent pass of its own.
//!
//! Bevy draws additive (`AlphaMode::Add`) materials in the transparent phase, which is a second
//! render pass over the main texture; with MSAA each pass ends in a resolve of the whole
//! multisampled texture, and on a CPU rasteriser that resolve is a full-screen draw. This
//! material reports `AlphaMode::Mask`, so Bevy puts it in the alpha-mask phase, which runs in
//! the opaque pass after every opaque mesh, and its pipeline is then made additive and
//! depth-read-only: a ring behind a prism stays hidden, a ring in front adds its colour, and
//! rings over each other add up in any order (addition commutes), so the phase's unsorted
//! order is right.

use bevy::asset::uuid_handle;
use bevy::mesh::MeshVertexBufferLayoutRef;
use bevy::pbr::{MaterialPipeline, MaterialPipelineKey};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, BlendComponent, BlendFactor, BlendOperation, BlendState, RenderPipelineDescriptor, SpecializedMeshPipelineError,
};
use bevy::shader::ShaderRef;

/// The ring shader, compiled into the binary so the app needs no asset directory.
const RING_SHADER: Handle<Shader> = uuid_handle!("3b7c2e91-5d4f-4a8e-b0c6-9e1f7a2d4c58");

pub(super) fn plugin(app: &mut App) {
    let shader = Shader::from_wgsl(include_str!("../../shaders/ring.wgsl"), "shaders/ring.wgsl");
    app.world_mut().resource_mut::<Assets<Shader>>().insert(RING_SHADER.id(), shader).expect("the ring shader handle is free");
    app.add_plugins(MaterialPlugin::<RingMaterial>::default());
}

/// Additive blending: the ring's (premultiplied) colour is added to the target's; the target's
/// alpha is kept.
const ADDITIVE: BlendState = BlendState {
    color: BlendComponent { src_factor: BlendFactor::One, dst_factor: BlendFactor::One, operation: BlendOperation::Add },
    alpha: BlendComponent { src_factor: BlendFactor::Zero, dst_factor: BlendFactor::One, operation: BlendOperation::Add },
};

/// One ring colour (one material per severity).
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct RingMaterial {
    /// Linear RGB already multiplied by the ring's opacity (0–1); w is unused.
    #[uniform(0)]
    pub colour: Vec4,
}

impl RingMaterial {
    /// The material adding `colour` (sRGB; its alpha is the ring's opacity, 0–1) to the
    /// picture: the same light as Bevy's unlit `AlphaMode::Add` of that colour.
    pub fn additive(colour: Color) -> Self {
        let c = colour.to_linear();
        RingMaterial { colour: Vec4::new(c.red * c.alpha, c.green * c.alpha, c.blue * c.alpha, 0.0) }
    }
}

impl Material for RingMaterial {
    fn fragment_shader() -> ShaderRef {
        RING_SHADER.into()
    }

    /// Only so that Bevy queues the ring in the alpha-mask phase (inside the opaque pass); the
    /// shader discards nothing, `specialize` makes the pipeline additive.
    fn alpha_mode(&self) -> AlphaMode {
        AlphaMode::Mask(0.5)
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
        _layout: &MeshVertexBufferLayoutRef,
        _key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        descriptor.primitive.cull_mode = None;
        if let Some(depth) = descriptor.depth_stencil.as_mut() {
            depth.depth_write_enabled = Some(false);
        }
        if let Some(fragment) = descriptor.fragment.as_mut() {
            for target in fragment.targets.iter_mut().flatten() {
                target.blend = Some(ADDITIVE);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_is_premultiplied_in_linear_light() {
        // sRGB 0.5 is linear 0.214; at opacity 0.5 it adds 0.107.
        let m = RingMaterial::additive(Color::srgba(0.5, 1.0, 0.0, 0.5));
        assert!((m.colour.x - 0.2140 * 0.5).abs() < 1e-3, "{:?}", m.colour);
        assert!((m.colour.y - 0.5).abs() < 1e-6 && m.colour.z == 0.0 && m.colour.w == 0.0, "{:?}", m.colour);
    }
}
