"""GLSL of the single-draw renderer: shaded colour and labels (part, heat, mask) at once.

A fragment shader may have ``#if`` blocks on the :data:`SWITCHES`; it is compiled once per
combination of those it uses (:func:`with_switches`). llvmpipe runs a branch on a uniform for
every fragment, so a switch in the source is what skips a texture fetch that a draw does not
need (each costs ~1.8 ms at 512 px on one llvmpipe thread).
"""

from __future__ import annotations

VERTEX = """
#version 330
in vec3 in_pos;
in vec3 in_nrm;
in float in_heat;
in float in_ao;
in vec2 in_uv;
in float in_region;
in float in_spec;
in float in_hair;
uniform mat4 mvp;
out vec3 v_pos;
out vec3 v_nrm;
out vec2 v_uv;
out float v_heat;
out float v_ao;
out float v_spec;
out float v_hair;
flat out int v_region;
void main() {
    v_pos = in_pos;
    v_nrm = in_nrm;
    v_uv = in_uv;
    v_heat = in_heat;
    v_ao = in_ao;
    v_spec = in_spec;
    v_hair = in_hair;
    v_region = int(in_region + 0.5);
    gl_Position = mvp * vec4(in_pos, 1.0);
}
"""

# Region ids (pain3d.face.mesh.REGIONS) used below: 3 brow, 4 and 5 upper and lower lid,
# 6 eyeball, 10 lips,
# 11 mouth interior, 13 scalp; 16 is the hair shell (pain3d.appearance.HAIR_SHELL_REGION).
FRAGMENT = """
#version 330
in vec3 v_pos;
in vec3 v_nrm;
in vec2 v_uv;
in float v_heat;
in float v_ao;
in float v_spec;
in float v_hair;
flat in int v_region;
uniform sampler2D albedo_tex;   // rgb albedo (sRGB), a = static height (creases, pores)
uniform sampler2D wrinkle_tex;  // AU wrinkle depths, weighted by au_w
uniform sampler2D label_tex;    // r = painted brow coverage, g = painted lip coverage
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
uniform vec3 mouth_c;   // centre of the inner lip line (head frame, metres)
uniform vec3 hair_rgb;
uniform float lid_shut;  // 0 open .. 1 shut upper lids (AU43; used only with LIDS 1)
uniform vec3 lid_skin;   // sRGB: the upper lid's skin between its lashes and crease
uniform vec3 lash_rgb;   // sRGB: the lash colour (the upper lid margin's paint)
uniform float eye_half;  // half the lid opening's width, metres
uniform float eye_rims;  // 1: v_hair on the eyeballs is mm from the lid margins; 0: unknown
uniform int part_of[17];
layout(location = 0) out vec4 f_rgb;
layout(location = 1) out vec4 f_lab;

// Powers by repeated squaring: pow() is costly on llvmpipe.
float p16(float x) { x *= x; x *= x; x *= x; return x * x; }
// Cheap stand-ins on llvmpipe (no transcendentals): a hash of n in [0, 1), and a triangle
// wave with sin's period, phase and range.
float hash1(float n) { n = fract(n * 0.1031); n *= n + 33.33; n *= n + n; return fract(n); }
float tri(float x) { return abs(fract(x * 0.15915 + 0.75) * 4.0 - 2.0) - 1.0; }

void main() {
    int reg = v_region;
    vec3 n = normalize(v_nrm);
    if (!gl_FrontFacing) n = -n;  // seen from behind (only if culling is off)
    vec4 tex = texture(albedo_tex, v_uv);
    vec3 base = tex.rgb * tex.rgb;  // sRGB -> approximately linear (gamma 2)
    float spec_k = v_spec;
    // Light scattered under the skin wraps past the terminator, red most (blood absorbs
    // green and blue on the way): a narrow, saturated red band, not a wide waxy falloff.
    vec3 wrap = vec3(0.42, 0.24, 0.20);
    float h = (tex.a - 0.5) * 0.0012;
    int part = part_of[reg];
    float glossy = 0.0;
    float ao = v_ao;
    vec3 strand = vec3(0.0, -1.0, 0.0);
    float aniso = 0.0;  // hair: highlights across the strands instead of a round spot
    float sss = 0.0;  // skin: a red band of scattered light along the key's terminator
    if (reg == 6) {
        vec3 c = v_pos.x > 0.0 ? eye_l : eye_r;
        vec3 d = normalize(v_pos - c);
        float r = length(d.xy);
        // The globe is 1.5/1.2 of a real one's size (it fills the lid opening,
        // pain3d.face.head.EYEBALL_RADIUS_CM); the iris keeps a real one's (1.2 cm globe).
        float ri = r * 1.25;
        float fwd = step(0.0, d.z);
        float px = max(fwidth(ri), 0.004);  // one pixel, in ri: the edges' anti-aliasing
        float ang = atan(d.y, d.x);
        // The iris (an albedo lifted from the trait's sRGB, so a brown one reads brown, not
        // black): radial fibres (two angular waves and a hashed value per fibre), a lighter,
        // warmer pupillary zone inside the collarette (a ragged bright ring at ri 0.3),
        // darkening outward into a soft dark limbal ring.
        float fib = hash1(floor(ang * 18.0 + 60.0)) - 0.5;
        float streak = 0.85 + 0.15 * sin(ang * 37.0) * sin(ang * 11.0 + 1.7) + 0.25 * fib;
        float collar = 0.3 + 0.015 * sin(ang * 13.0);
        float zone = 1.0 - smoothstep(collar - 0.01, collar + 0.03, ri);  // pupillary zone
        vec3 iris = iris_rgb * (iris_rgb + 0.06) * 1.2 * streak;
        iris = mix(iris * mix(1.0, 0.62, smoothstep(collar, 0.5, ri)),
                   mix(iris, vec3(0.5, 0.32, 0.14) * dot(iris, vec3(0.5)), 0.3) * 1.45, zone);
        iris *= 1.0 + 0.35 * (1.0 - smoothstep(0.0, 0.035, abs(ri - collar - 0.02)));
        iris *= 1.0 - 0.6 * smoothstep(0.42, 0.5, ri);  // dark limbal ring
        // The sclera: darker and pinker toward both corners (thinner over the vessels),
        // a few faint vessels there.
        float side = smoothstep(0.5, 0.98, r);
        float vessel = smoothstep(0.7, 1.0, tri(ang * 29.0 + 9.0 * r) * tri(ang * 7.0 - 3.0));
        vec3 sclera = mix(vec3(0.60, 0.57, 0.53), vec3(0.44, 0.30, 0.27), side);
        sclera = mix(sclera, vec3(0.42, 0.16, 0.14), 0.35 * side * vessel);
        float in_iris = fwd * (1.0 - smoothstep(0.5 - max(px, 0.02), 0.5 + px, ri));
        float in_pupil = fwd * (1.0 - smoothstep(0.19 - 0.5 * px, 0.19 + 0.5 * px, ri));
        // The caruncle: a pink fold of flesh fills the inner corner (nasal side).
        float nasal = (c.x > 0.0 ? -d.x : d.x);
        sclera = mix(sclera, vec3(0.44, 0.19, 0.18),
                     smoothstep(0.6, 0.8, nasal) * (1.0 - smoothstep(0.12, 0.32, abs(d.y))));
        base = mix(sclera, iris, in_iris);
        base = mix(base, vec3(0.003), in_pupil);
        // The upper lid and lashes shade the top of the eyeball (a soft shadow, deepest
        // under the margin), the lower lid's rim its bottom a little.
        float lid = smoothstep(-0.1, 0.5, d.y);
        base *= (1.0 - 0.6 * lid * lid * (3.0 - 2.0 * lid))
                * (1.0 - 0.2 * smoothstep(-0.2, -0.5, d.y));
        // Along the lid margins (v_hair: mm from the nearest one on the neutral face,
        // Renderer.vertex_channels) the lids' rims and lashes shade the eyeball softly, no
        // hard edge.
        float rim = eye_rims * (1.0 - smoothstep(0.0, 2.5, v_hair));
        base *= 1.0 - 0.4 * rim * rim;
        spec_k = 9.0;  // the key's catchlight: small and soft but bright
        glossy = 1.0;
        wrap = vec3(0.1);
        h = 0.0;
    } else if (reg == 16) {
        // Strands run down from the crown (above and behind the eyes): their direction on
        // the shell, for the highlights below.
        vec3 g = v_pos - 0.5 * (eye_l + eye_r) - vec3(0.0, 0.115, -0.1);
        // Below the ears long hair hangs level out from the head
        // (pain3d.appearance.hair._curtain), whatever way the skin under it faces.
        vec3 hang = vec3(g.x, 0.0, g.z + 0.015);
        n = normalize(mix(n, normalize(hang), smoothstep(-0.10, -0.14, g.y) * v_hair));
        // The neck's texels (7-10 mm) cannot hold the locks, so below the ears the strand
        // value is drawn here: 48 locks hanging straight down, each fading in over the
        // painted ones from its own height, above the UV seam.
        // Each person's locks: their phase and widths hashed from the hair colour (drawn
        // per identity), so two people's curtains do not show the same pattern.
        float hs = fract(dot(hair_rgb, vec3(311.7, 183.3, 97.1)));
        // The azimuth around the vertical axis (0 at the back), as the "diamond angle"
        // scaled to about radians: monotonic like atan, at a fraction of its cost.
        float t = g.x / (abs(g.x) + abs(hang.z) + 1e-6);
        float az = 1.5708 * (hang.z <= 0.0 ? t : sign(g.x) * 2.0 - t);
        float u = 7.64 * az + hs + 0.3 * tri(5.0 * az + 20.0 * g.y + 6.28 * hs)
                  + 0.3 * tri(13.0 * az + 1.0 + 6.28 * hs);
        float r1 = hash1(floor(u) + 17.0 * hs);
        float r2 = hash1(floor(u) + 71.0 + 17.0 * hs);
        float e = abs(2.0 * fract(u) - 1.0);
        float fu = fwidth(u);
        float c = clamp((1.0 - e) * clamp(0.4 / fu, 1.0, 3.0), 0.0, 1.0);
        float fine = 0.05 * tri(27.0 * u + 6.0 * r1) * clamp(1.5 - 5.0 * fu, 0.0, 1.0);
        float lock = 0.25 + (0.3 * (1.0 - e * e) + 0.3 * r1 + fine - 0.06) * c
                     + 0.1 * tri(2.3 * az + 1.7) * tri(3.1 * az - 20.0 * g.y);
        float fade = clamp((-0.122 - 0.012 * r2 - g.y) * 80.0, 0.0, 1.0);
        tex.a = mix(tex.a, 0.425 + 0.15 * lock, fade);  // the painted locks: 0.5 + 0.25 (s - 0.5)
        h = (tex.a - 0.5) * 0.0012;
        // The shell's edge lies on the scalp past the hairline and shows the painted
        // hairline there (its coverage, v_hair, falls below 1 only at that edge).
        // The locks (tex.a) reach over it or stop short of it: a ragged edge, not a cap's.
        float shell = smoothstep(0.5, 0.95, v_hair + 2.5 * (tex.a - 0.5));
        // At the outline the gaps between locks (and, less, their thinner edges) let the
        // scalp or the background show through: a broken silhouette. Never where the shell
        // carries heat (what shows through would change the heatmap), nor on long hair's
        // curtain (below the ears: its rows would break into a line across the back).
        float nv_out = abs(dot(n, normalize(cam_pos - v_pos)));
        float ragged = 0.4 * clamp((0.56 - tex.a) * 7.0, 0.0, 1.0) * shell;
        if (v_heat <= 0.0 && g.y > -0.09 && nv_out < ragged) discard;
        base = mix(base, hair_rgb * hair_rgb * (1.0 + 4.4 * (tex.a - 0.5)), shell);
        wrap = mix(wrap, vec3(0.3), shell);
        part = v_hair > 0.5 ? part : 1;
        strand = normalize(g - n * dot(g, n) + vec3(0.0, -1e-4, 0.0));
        aniso = shell;
    } else if (reg == 11) {
        // Mouth interior: dark, with upper and lower teeth seen through the lip opening
        // (painted on whatever interior surface lies behind it, darker further back). From
        // the midline out: incisors 8.5 and 6.5 mm wide, canine 7.5, premolar; each crown
        // lit as a rounded surface, a dark gap between neighbours that opens toward the
        // biting edge, the edge itself greyer (thin enamel), the arch darker as it turns away.
        vec3 q = v_pos - mouth_c;
        float depth_fade = smoothstep(-0.035, -0.004, q.z);
        float ax = abs(q.x);
        float ay = abs(q.y);
        float band = smoothstep(0.0004, 0.0012, ay) * (1.0 - smoothstep(0.0085, 0.0105, ay));
        float teeth = (1.0 - smoothstep(0.018, 0.026, ax)) * band * step(-0.035, q.z);
        float gap = min(min(ax, abs(ax - 0.0085)), min(abs(ax - 0.015), abs(ax - 0.0225)));
        float edge = 1.0 - smoothstep(0.0008, 0.0028, ay);
        float seam = smoothstep(0.0, 0.0003 + 0.0007 * edge * edge, gap);
        teeth *= 1.0 - edge * edge * (1.0 - seam);  // the gap opens at the biting edge
        float crown = (0.6 + 0.4 * seam) * (0.8 + 0.2 * smoothstep(0.0, 0.0035, gap));
        float arch = 1.0 - 0.55 * smoothstep(0.006, 0.024, ax);
        vec3 enamel = mix(vec3(0.72, 0.61, 0.44), vec3(0.52, 0.49, 0.45), 0.4 * edge);
        // The crowns stand just behind the lips whatever interior surface they are painted
        // on: only the far back of the mouth dims them, and they take the light the mouth's
        // inside does not (the interior's vertices carry a dark ambient occlusion).
        base = mix(vec3(0.03, 0.008, 0.008),
                   enamel * crown * arch * (0.8 + 0.2 * depth_fade), teeth);
        spec_k = 0.6 * teeth;
        ao = mix(v_ao, 0.85, teeth);
        wrap = vec3(0.1);
        h = 0.0;
    } else {
        if (reg == 13) part = v_hair > 0.5 ? 5 : 1;
#if LABELS
        if (part <= 4) {  // skin, brows, lips: follow the painted masks
            vec2 lab = texture(label_tex, v_uv).rg;
            part = lab.g > 0.5 ? 4 : (lab.r > 0.5 ? 2 : 1);
        }
#endif
        // Pores and creases (their pits: tex.a below 0.5) hold less oil and face away from
        // the light: the sheen breaks up over them instead of lying on the skin as a film.
        spec_k *= clamp(1.0 + 8.0 * (tex.a - 0.5), 0.4, 1.4);
        sss = 1.0;
#if WRINKLES
        float crease = clamp(dot(texture(wrinkle_tex, v_uv), au_w), 0.0, 1.0);
        // A fold deepens the skin's own tone (more in green and blue), not towards grey.
        base *= 1.0 - crease * vec3(0.24, 0.33, 0.38);
        h -= 0.0009 * crease;
#endif
#if LIDS
        // Shut lids (Renderer.vertex_channels: on and around the lids v_hair is the distance
        // from the nearest lid margin, mm, on the neutral face). The albedo's upper fringe
        // points up from the open margin: on the shut upper lid it fades into the lid's skin
        // up to 5 mm (lashes and the painted root line, the darkest paint, are lifted to it).
        // The closed line is a soft shadow where the lids meet, with the lashes' roots broken
        // along it, and a fringe hangs from it over the lower lid, longest laterally
        // (regions: 4 upper lid, 5 lower lid, 8 cheek).
        if (reg == 4 || reg == 5 || reg == 8) {
            float s = v_hair;
            vec3 c = v_pos.x > 0.0 ? eye_l : eye_r;
            float fade = (reg == 4 ? 1.0 : smoothstep(0.5, 1.0, s))
                         * (1.0 - smoothstep(4.0, 5.0, s));
            // Past the corners the fringe lies on lower-lid and cheek triangles too; below
            // the eye's centre these keep their own skin (shadows under the eye included).
            float off = (v_pos.x - c.x) * sign(c.x) / eye_half;  // -1 inner, 1 outer corner
            if (reg != 4) fade *= smoothstep(0.0, 0.001, v_pos.y - c.y) * step(abs(off), 1.3);
            // The lifted paint takes the lid's skin with a grain of its own (value noise,
            // about 6 %, in blotches of 0.7 mm), so the faded band is not flatter than the
            // skin above it.
            vec2 q = vec2(v_pos.x, v_pos.y - 0.4 * v_pos.z) * 1400.0;  // 0.7 mm cells
            vec2 qi = floor(q);
            vec2 qf = q - qi;
            qf = qf * qf * (3.0 - 2.0 * qf);
            vec4 cell = fract(sin(vec4(qi.x + 57.0 * qi.y) + vec4(0.0, 1.0, 57.0, 58.0))
                              * 43758.5453);
            float grain = mix(mix(cell.x, cell.y, qf.x), mix(cell.z, cell.w, qf.x), qf.y);
            base = mix(base, max(base, lid_skin * lid_skin * (0.94 + 0.12 * grain)),
                       lid_shut * fade);
            // Along the opening: 0 at the inner corner, 1 at the outer one.
            float t = clamp(0.5 + 0.5 * off, 0.0, 1.0);
            float taper = sqrt(4.0 * t * (1.0 - t));
            float span = 1.0 - smoothstep(0.95, 1.15, abs(off));
            // Lashes in two rows of strands from corner to corner (36 and 47), each with
            // its own place, length and darkness (a hash of its index), curving toward the
            // outer corner as they hang.
            float u = t * 36.0 - 0.35 * s - 0.06 * s * s + 0.3 * sin(t * 71.0);
            vec2 k = floor(vec2(u, 1.31 * u + 0.37));
            vec2 r = fract(sin(k * vec2(12.9898, 78.233) + 3.0) * 43758.5453);
            vec2 d = abs(fract(vec2(u, 1.31 * u + 0.37)) - 0.5 - 0.3 * (r - 0.5));
            // The line where the lids meet: a soft shadow about 1 mm to either side, deepest
            // on the line, and the lashes' roots along it.
            float line = lid_shut * span * exp(-s * s / 0.9);
            base *= 1.0 - 0.42 * line;
            float roots = 1.0 - 0.5 * smoothstep(0.15, 0.3, min(d.x, d.y));
            base = mix(base, lash_rgb * lash_rgb, 0.6 * line * line * line * roots);
            if (reg == 5) {
                // Strands of uneven length, longest laterally, shorter but still there at
                // the corners; each thins and fades toward its tip.
                vec2 len = (1.3 + 2.0 * t) * (0.4 + 0.6 * taper) * (0.55 + 0.6 * r);
                vec2 along = clamp(s / len, 0.0, 1.0);
                vec2 w = vec2(0.15, 0.12) * (1.0 - 0.6 * along);
                vec2 cov = (1.0 - smoothstep(0.35, 1.0, along)) * (1.0 - smoothstep(0.4 * w, w, d));
                float lash = lid_shut * span * (0.6 + 0.25 * taper) * max(cov.x, 0.8 * cov.y);
                base = mix(base, lash_rgb * lash_rgb, 0.95 * lash);
            }
        }
#endif
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
    float nv = max(dot(n, v), 0.0);
    vec3 dk = clamp((dot(n, key_dir) + wrap) / (1.0 + wrap), 0.0, 1.0);
    vec3 df = clamp((dot(n, fill_dir) + wrap) / (1.0 + wrap), 0.0, 1.0);
    float dr = max(dot(n, rim_dir), 0.0) * (1.0 - nv);  // rim lights grazing surfaces only
    vec3 diff = key_rgb * dk + fill_rgb * df + rim_rgb * dr;
    // Light scattered under the skin leaves it near the terminator, reddened by the blood
    // it passed (a band about +-11 degrees wide, added: the shadow side keeps its depth).
    float tb = clamp(1.0 - 5.0 * abs(dot(n, key_dir)), 0.0, 1.0);
    diff += sss * tb * tb * key_rgb * vec3(0.12, 0.03, 0.01);
    vec3 amb = mix(ground_rgb, sky_rgb, 0.5 + 0.5 * n.y) * ao;
    float fv = 1.0 - nv;
    float fv2 = fv * fv;
    float fres = 0.04 + 0.96 * fv2 * fv2 * fv;
    float sk = p16(max(dot(n, normalize(key_dir + v)), 0.0)) * step(0.0, dot(n, key_dir));
    float sf = p16(max(dot(n, normalize(fill_dir + v)), 0.0)) * step(0.0, dot(n, fill_dir));
    if (glossy > 0.5) {  // wet eyes: small highlights only (a catchlight 1-2 px across)
        sk = p16(sk);
        sk *= sk;
        sk *= sk;
        sf = p16(sf);
        sf *= sf;
        sf *= sf;
    } else {
        float sk4 = sk * sk;
        sk = 0.6 * sk + 0.4 * sk4 * sk4;
        sf *= sf;
    }
    vec3 spec = spec_k * (0.05 + 0.5 * fres) * (key_rgb * sk + fill_rgb * sf);
    // Hair (Kajiya-Kay): a band across the strands where the half vector is normal to them;
    // a white one shifted toward the tips and a wider one in the hair's colour toward the
    // roots (light that passed through the fibre).
    vec3 hk = normalize(key_dir + v);
    // The strands' relief (tex.a) tilts each strand, which breaks the bands into streaks.
    float tilt = 1.5 * (tex.a - 0.5);
    float t1 = dot(normalize(strand + (tilt - 0.12) * n), hk);
    float t2 = dot(normalize(strand + (tilt + 0.18) * n), hk);
    float s1 = p16(1.0 - t1 * t1);
    s1 *= s1;
    s1 *= s1;
    float s2 = 1.0 - t2 * t2;
    s2 *= s2;
    s2 *= s2;
    s2 *= s2;
    float lit = smoothstep(-0.1, 0.3, dot(n, key_dir));
    spec += aniso * lit * key_rgb * (0.16 * s1 + 0.7 * s2 * base);
    vec3 sheen = rim_rgb * spec_k * 0.4 * fv2 * fv * max(dot(n, rim_dir) + 0.3, 0.0);
    vec3 col = (base * (diff * mix(1.0, ao, 0.6) + amb) + spec + sheen) * exposure;
    col = col / (1.0 + 0.12 * col);  // soft shoulder for highlights
    f_rgb = vec4(sqrt(clamp(col, 0.0, 1.0)), 1.0);
    f_lab = vec4(float(part) / 255.0, v_heat, 1.0, 1.0);
}
"""


SWITCHES = ("LABELS", "WRINKLES", "LIDS")
"""Compile-time switches of the fragment shaders: ``LABELS`` 1 refines part ids from the
painted label texture (0: draws with ``labels=False`` or appearances without labels);
``WRINKLES`` 1 applies the expression wrinkle maps (0: draws whose wrinkle weights are all
zero, which makes the same bytes without the fetch); ``LIDS`` 1 draws shut upper lids' lashes
(0: draws whose ``lid_shut`` is 0, which makes the same bytes without that code)."""


def with_switches(source: str, **on: bool) -> str:
    """``source`` with each of :data:`SWITCHES` it uses (an ``#if NAME`` block) defined as 1
    or 0 (``on[NAME]``) after its ``#version`` line; a source using none is returned as it
    is."""
    used = [name for name in SWITCHES if f"#if {name}" in source]
    if not used:
        return source
    head, version, rest = source.partition("#version 330\n")
    if not version:
        raise ValueError(f"a shader using {used} must start with '#version 330'")
    defines = "".join(f"#define {name} {int(on[name])}\n" for name in used)
    return f"{head}{version}{defines}{rest}"


# ---------------------------------------------------------------------------- split shading
# llvmpipe runs every branch of a fragment shader for every fragment (branches only mask
# lanes), so the eyeball and mouth code above costs every skin fragment too. The
# renderer (Renderer._draw) instead draws the triangles of FEATURE_REGIONS ("features")
# first, then the others ("skin"), each group in the usual depth order, in three passes with
# the same arithmetic per region:
#
# 0. FRAGMENT_MARK, for the feature triangles: depth, and alpha 1 ("to be redrawn"). Its
#    colour and labels are replaced in pass 2, so it computes nothing else.
# 1. FRAGMENT_SKIN: the shader above with only the hair-shell and skin branches (the hair
#    branch is two lines), for the other triangles, hair shell included: drawing the shell
#    in passes 0 and 2 cost more than its branch costs the skin (its ~2,300 triangles
#    rasterised twice). Early depth tests skip the skin hidden behind eyeballs, and the
#    scalp under the shell (sorted before it, pain3d.render.topology). A skin triangle wins a
#    pixel only by being strictly nearer than every feature there, so no feature triangle
#    meets its depth in pass 2 (its alpha does not matter).
# 2. FRAGMENT_FEATURES: the eyeball and mouth branches of the shader above, for the feature
#    triangles again (same order), depth test "equal", blended with (DST_ALPHA,
#    ONE_MINUS_DST_ALPHA) for colour and (ZERO, ZERO) for alpha: it replaces exactly the
#    pixels a feature triangle won, once (the alpha it leaves, 0, blocks a later triangle at
#    the same depth, as a "less" test does).
#
# This gives the bytes of one draw of FRAGMENT in the same order (features, then skin). A
# depth tie between a feature and a skin triangle goes to the feature triangle. Both shaders
# are cut from FRAGMENT itself, so they cannot drift from it.
_BRANCHES = ("    if (reg == 6) {\n", "    } else if (reg == 16) {\n",
             "    } else if (reg == 11) {\n", "    } else {\n        if (reg == 13)",
             "    }\n    // Bump mapping")
FEATURE_REGIONS = (6, 11)
"""Region ids drawn by FRAGMENT_FEATURES (eyeball, mouth interior)."""


def _cut(source: str, keep_skin: bool) -> str:
    at = [source.index(b) for b in _BRANCHES]
    if at != sorted(at):
        raise RuntimeError("FRAGMENT's branch layout changed: update pain3d.render.shaders._cut")
    if keep_skin:  # the hair-shell and skin branches, without the shut-lid code
        skin = source[at[3]:at[4]]
        a, b = skin.find("#if LIDS\n"), skin.find("#endif\n", skin.find("#if LIDS\n"))
        if a >= 0:
            skin = skin[:a] + skin[b + len("#endif\n"):]
        body = ("    if (reg == 16) {\n" + source[at[1] + len(_BRANCHES[1]):at[2]]
                + skin + "    }\n")
    else:  # the eyeball and mouth branches, no else
        body = source[at[0]:at[1]] + source[at[2]:at[3]] + "    }\n"
    return source[:at[0]] + body + source[at[4] + len("    }\n"):]


FRAGMENT_SKIN = _cut(FRAGMENT, True)
FRAGMENT_FEATURES = _cut(FRAGMENT, False)

FRAGMENT_MARK = """
#version 330
layout(location = 0) out vec4 f_rgb;
layout(location = 1) out vec4 f_lab;
void main() {
    f_rgb = vec4(0.0, 0.0, 0.0, 1.0);
    f_lab = vec4(0.0, 0.0, 1.0, 1.0);
}
"""
"""Pass 0 of split shading (any renderer's): marks the pixels its triangles win with alpha 1;
pass 2 replaces their colour and labels."""
