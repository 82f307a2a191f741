// Situation Wall unit material: every unit prism, bureau column and border of the map in one
// merged mesh, drawn with one material. Each vertex carries its unit's index; the unit's live
// values (height, score on screen, alert pulse, selection) come from one storage buffer that
// the app rewrites when they change, so no material is ever mutated per unit (bevy#18882).
//
// units[i] = (height in metres, negative: hidden; score 0–100 or -1 for no data, pulse 0–1,
// selected 0/1)
// ramp[s] = linear RGB of the scores in [s, s + 1) (s = 0–100, floor: a level's colour starts
// exactly at its whole-point threshold); ramp[101 + s] is its stale (desaturated) twin

#import bevy_pbr::view_transformations::position_world_to_clip

struct UnitParams {
    // x: 1 when the picture is stale, y: 1 for the border (line) pass,
    // z: metres added to every height (the border lift), w: unused
    mode: vec4<f32>,
    // colour of units without data (linear RGB)
    no_data: vec4<f32>,
    // border colour (linear RGB)
    border: vec4<f32>,
    // rim glow colour (linear RGB) and, in w, its strength
    glow: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: UnitParams;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var<storage, read> units: array<vec4<f32>>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var<storage, read> ramp: array<vec4<f32>>;

struct Vertex {
    @location(0) position: vec3<f32>,
    @location(1) unit: u32,
    @location(2) shade: f32,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    // The unit's colour before shading (the border's final colour in the border pass): looked
    // up here, once per vertex, so the fragment shader reads no buffer. Every vertex of a
    // triangle belongs to one unit, so flat interpolation loses nothing.
    @location(0) @interpolate(flat) base: vec3<f32>,
    @location(1) shade: f32,
    // 0 at the foot of a wall, 1 at its top edge
    @location(2) up: f32,
    // x: alert pulse 0–1, y: selected 0/1
    @location(3) @interpolate(flat) marks: vec2<f32>,
};

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    let u = units[v.unit];
    var local = v.position;
    local.y = local.y * u.x + params.mode.z;
    // The merged map mesh always sits at the world origin with no rotation or scale, so its
    // positions are world positions: no per-vertex fetch of the mesh transform.
    var out: VertexOutput;
    out.clip_position = position_world_to_clip(local);
    // A negative height hides the unit (a bureau its cluster stands for, bureaus toggled off,
    // an unused cluster): every vertex of it lands on one point outside the view, so its
    // triangles have no area and draw nothing.
    if u.x < 0.0 {
        out.clip_position = vec4<f32>(2.0, 2.0, 2.0, 1.0);
    }
    let pulse = clamp(u.z, 0.0, 1.0);
    let selected = u.w;
    if params.mode.y > 0.5 {
        // Borders: light, turning white while the unit pulses or is selected.
        out.base = mix(params.border.rgb, vec3<f32>(1.0, 1.0, 1.0), max(pulse, selected));
    } else if u.y < 0.0 {
        out.base = params.no_data.rgb;
    } else {
        let stale_offset = select(0u, 101u, params.mode.x > 0.5);
        out.base = ramp[u32(floor(clamp(u.y, 0.0, 100.0))) + stale_offset].rgb;
    }
    out.marks = vec2<f32>(pulse, selected);
    out.shade = v.shade;
    out.up = v.position.y;
    return out;
}

// Per fragment only arithmetic on the interpolated values: on a CPU rasteriser (lavapipe) a
// buffer read per fragment is a gather per lane, and this pass shades most of the screen.
@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    if params.mode.y > 0.5 {
        return vec4<f32>(in.base, 1.0);
    }
    let pulse = in.marks.x;
    let selected = in.marks.y;
    var c = in.base * in.shade;
    // Walls (shade < 1) glow towards their top edge: a rim in the unit's own colour plus the
    // accent, stronger on the selected unit. Top caps (shade 1) keep the exact ramp colour.
    if in.shade < 0.999 {
        // up^6, multiplied out (pow is exp2(log2) per lane on a CPU rasteriser)
        let t = clamp(in.up, 0.0, 1.0);
        let t2 = t * t;
        let rim = t2 * t2 * t2 * (params.glow.w + 0.5 * selected);
        c = c + rim * (0.6 * in.base + 0.4 * params.glow.rgb);
    } else {
        c = mix(c, vec3<f32>(1.0, 1.0, 1.0), 0.18 * selected);
    }
    // An alert pulse washes the whole prism towards white.
    c = mix(c, vec3<f32>(1.0, 0.97, 0.92), 0.6 * pulse);
    return vec4<f32>(c, 1.0);
}
