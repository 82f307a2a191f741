// Situation Wall alert ring: one flat colour, added to what is behind it (see
// `src/app/ring_material.rs`). The colour is premultiplied by the ring's opacity on the CPU.

#import bevy_pbr::forward_io::VertexOutput

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> colour: vec4<f32>;

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    return colour;
}
