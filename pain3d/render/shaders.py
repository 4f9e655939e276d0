"""GLSL of the single-draw renderer: shaded colour and labels (part, heat, mask) at once."""

from __future__ import annotations

VERTEX = """
#version 330
in vec3 in_pos;
in vec3 in_nrm;
in float in_heat;
in float in_ao;
in vec2 in_uv;
in float in_region;
uniform mat4 mvp;
out vec3 v_pos;
out vec3 v_nrm;
out vec2 v_uv;
out float v_heat;
out float v_ao;
flat out int v_region;
void main() {
    v_pos = in_pos;
    v_nrm = in_nrm;
    v_uv = in_uv;
    v_heat = in_heat;
    v_ao = in_ao;
    v_region = int(in_region + 0.5);
    gl_Position = mvp * vec4(in_pos, 1.0);
}
"""

# Region ids (pain3d.face.mesh.REGIONS) used below: 3 brow, 6 eyeball, 10 lips,
# 11 mouth interior, 13 scalp; 16 is the hair shell (pain3d.appearance.HAIR_SHELL_REGION).
FRAGMENT = """
#version 330
in vec3 v_pos;
in vec3 v_nrm;
in vec2 v_uv;
in float v_heat;
in float v_ao;
flat in int v_region;
uniform sampler2D albedo_tex;
uniform sampler2D aux_tex;
uniform sampler2D wrinkle_tex;
uniform vec3 cam_pos;
uniform vec3 key_dir;
uniform vec3 key_rgb;
uniform vec3 fill_dir;
uniform vec3 fill_rgb;
uniform vec3 rim_dir;
uniform vec3 rim_rgb;
uniform vec3 sky_rgb;
uniform vec3 ground_rgb;
uniform float exposure;
uniform vec4 au_w;
uniform vec3 eye_l;
uniform vec3 eye_r;
uniform vec3 iris_rgb;
uniform vec3 hair_rgb;
uniform float flip_facing;
uniform int part_of[17];
layout(location = 0) out vec4 f_rgb;
layout(location = 1) out vec4 f_lab;

vec3 wrap_diffuse(vec3 n, vec3 l, vec3 w) {
    return clamp((dot(n, l) + w) / (1.0 + w), 0.0, 1.0);
}

float blinn(vec3 n, vec3 l, vec3 v, float shin) {
    vec3 h = normalize(l + v);
    return pow(max(dot(n, h), 0.0), shin) * step(0.0, dot(n, l));
}

void main() {
    int reg = v_region;
    vec3 n = normalize(v_nrm);
    bool front = gl_FrontFacing == (flip_facing > 0.0);
    if (!front) n = -n;
    vec3 alb = texture(albedo_tex, v_uv).rgb;
    vec4 aux = texture(aux_tex, v_uv);
    vec3 base = alb * alb;  // sRGB -> approximately linear (gamma 2)
    float spec_k = aux.r;
    float shin = 28.0;
    vec3 wrap = vec3(0.42, 0.24, 0.20);  // wider red wrap: cheap subsurface look on skin
    float h = 0.0;
    int part = part_of[reg];
    if (reg == 6) {
        vec3 c = v_pos.x > 0.0 ? eye_l : eye_r;
        vec3 d = normalize(v_pos - c);
        float r = length(d.xy);
        float fwd = step(0.0, d.z);
        float ang = atan(d.y, d.x);
        float streak = 0.8 + 0.2 * sin(ang * 23.0) * sin(ang * 9.0 + 1.7);
        vec3 iris = iris_rgb * iris_rgb * streak * mix(1.35, 0.55, smoothstep(0.22, 0.52, r));
        vec3 sclera = mix(vec3(0.55, 0.52, 0.50), vec3(0.50, 0.36, 0.33), smoothstep(0.55, 0.98, r));
        float in_iris = fwd * (1.0 - smoothstep(0.49, 0.53, r));
        float in_pupil = fwd * (1.0 - smoothstep(0.17, 0.2, r));
        base = mix(sclera, iris, in_iris);
        base = mix(base, vec3(0.004), in_pupil);
        spec_k = 1.6;
        shin = 400.0;
        wrap = vec3(0.1);
    } else if (reg == 16) {
        base = hair_rgb * hair_rgb * (0.45 + 1.1 * aux.b);
        spec_k = 0.12;
        shin = 12.0;
        wrap = vec3(0.3);
        h = aux.b * 0.0004;
    } else if (reg == 11) {
        spec_k = 0.1;
        wrap = vec3(0.1);
    } else {
        if (reg == 13) part = aux.g > 0.5 ? 5 : 1;
        vec4 wr = texture(wrinkle_tex, v_uv);
        float crease = dot(wr, au_w);
        base *= 1.0 - 0.45 * clamp(crease, 0.0, 1.0);
        h = -0.0009 * crease - 0.0005 * aux.a + 0.00012 * (aux.b - 0.5);
    }
    // Bump mapping from a height field without tangents (screen-space derivatives).
    vec3 dpdx = dFdx(v_pos);
    vec3 dpdy = dFdy(v_pos);
    vec3 r1 = cross(dpdy, n);
    vec3 r2 = cross(n, dpdx);
    float det = dot(dpdx, r1);
    vec3 grad = sign(det) * (dFdx(h) * r1 + dFdy(h) * r2);
    n = normalize(abs(det) * n - grad);

    vec3 v = normalize(cam_pos - v_pos);
    float ao = v_ao;
    vec3 diff = key_rgb * wrap_diffuse(n, key_dir, wrap)
              + fill_rgb * wrap_diffuse(n, fill_dir, wrap)
              + rim_rgb * wrap_diffuse(n, rim_dir, vec3(0.0));
    vec3 amb = mix(ground_rgb, sky_rgb, 0.5 + 0.5 * n.y) * ao;
    float nv = max(dot(n, v), 0.0);
    float fres = 0.04 + 0.96 * pow(1.0 - nv, 5.0);
    float sp = blinn(n, key_dir, v, shin) * 0.5 + blinn(n, key_dir, v, shin * 4.0) * 0.5;
    vec3 spec = spec_k * (0.10 + 0.5 * fres) * (key_rgb * sp + fill_rgb * blinn(n, fill_dir, v, shin));
    vec3 sheen = rim_rgb * spec_k * 0.5 * pow(1.0 - nv, 3.0) * max(dot(n, rim_dir) + 0.3, 0.0);
    vec3 col = (base * (diff * mix(1.0, ao, 0.6) + amb) + spec + sheen) * exposure;
    col = col / (1.0 + 0.12 * col);  // soft shoulder for highlights
    f_rgb = vec4(sqrt(clamp(col, 0.0, 1.0)), 1.0);
    f_lab = vec4(float(part) / 255.0, v_heat, 1.0, 1.0);
}
"""
