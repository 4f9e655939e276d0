"""Rendering photo identities: the photo's camera, a photo shader and compositing.

A photo identity's texture already holds the photograph's light, so the photo shader does not
light the skin again. It shows the texture as it is and changes it only where the expression
changes the face:

- **shading ratio**: diffuse shading of the expressed surface over that of the neutral
  surface (baked per texel when the textures are uploaded), under a soft light from the
  photo camera's side, times the change of ambient occlusion; 1 where nothing moved, so the
  neutral render is the photo, and bulges and folds darken or brighten it;
- **wrinkles**: the AU wrinkle maps (:func:`pain3d.render.wrinkle_weights`, the same weights
  as procedural faces) darken the texture along glabellar lines, nose wrinkles, crow's feet,
  the infraorbital furrow and the nasolabial fold;
- **lids**: narrowing (AU6, AU7) moves the photo's own lids, lashes and margins; as the upper
  lid shuts (AU43) its lash bands blend into the appearance's lid skin (the photo's lid skin
  around them, tone and grain), the lid darkens toward its margin, a soft fold line crosses
  it, and the lashes are a dark margin with a ragged fringe hanging over the lower lid,
  shorter toward the eye corners, so AU43 shows closed lids, not stretched lashes;
- **ears**: both ears share one texture island, painted unlit as the left ear
  (:mod:`pain3d.appearance.photo_ears`; the right ear's UVs mirror the left's), each lit by
  its own normal under the photo's light and toned by its side of the photo's face; an ear
  the photo's hair covers (``PhotoAppearance.ear_hidden``) is not drawn: the head behind it
  is painted as hair (:func:`pain3d.appearance.photo_ears.paint_hair_over_ears`);
- **mouth interior**: inside the photo's own mouth opening, the photo (projected from its
  camera); elsewhere dark with upper and lower teeth on an arch fixed to the skull, in
  colours measured from the photo, so lips that part uncover teeth.

The geometry passes (mask, parts, heat, depth) are those of :class:`pain3d.render.Renderer`,
whose buffers, caches, split-shading draw and read-back this class reuses; only the programs,
textures and uniforms differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pain3d.render.camera import Camera
from pain3d.render.compose import head_box, soft_alpha
from pain3d.render.renderer import Renderer, RenderResult, wrinkle_weights

PHOTO_FRAGMENT = """
#version 330
in vec3 v_pos;
in vec3 v_nrm;
in vec2 v_uv;
in float v_heat;
in float v_ao;
in float v_spec;   // vertex channel 1 (PhotoRenderer.vertex_channels): upper-lid weight,
                   // 1 on the upper margin, at most 0.8 off it
in float v_hair;   // vertex channel 2: lower-lid weight, the same for the lower lid
flat in int v_region;
uniform sampler2D albedo_tex;   // photo colour (sRGB), light baked in
uniform sampler2D skin_tex;     // smooth lid skin (sRGB)
uniform sampler2D wrinkle_tex;  // AU wrinkle depths, weighted by au_w
uniform sampler2D rest_tex;     // neutral normal (xyz) and ambient occlusion (w)
uniform sampler2D photo_tex;    // the photo (rgb) and its mouth opening (a)
uniform mat4 photo_matrix;      // head frame -> the photo's device coordinates
uniform vec4 au_w;
uniform vec2 lid_close;         // (upper, lower) closure fractions of the expression
uniform vec4 eye_u;             // u of the corners: right eye (xy), left eye (zw)
uniform vec3 light_dir;         // unit, head frame: the light baked into the photo
uniform vec3 relight_dir;       // unit, head frame: the light to show (= light_dir unless
                                // a PhotoLighting turns it)
uniform vec3 mouth_c;           // neutral inner-lip midpoint, head frame
uniform vec3 cam_pos;
uniform vec3 lash_rgb;
uniform vec3 teeth_rgb;
uniform vec3 mouth_rgb;
uniform vec3 ear_gain_r;        // linear gains of the right (x < 0) and left ear
uniform vec3 ear_gain_l;
uniform vec2 ear_hidden;        // 1 where the photo's hair covers the right (x) or left (y)
                                // ear: that ear is not drawn (the head's hair shows)
uniform int part_of[17];
layout(location = 0) out vec4 f_rgb;
layout(location = 1) out vec4 f_lab;

float shade(vec3 n, vec3 l) { return 0.4 + 0.6 * max(dot(n, l), 0.0); }

vec3 mouth_interior() {
    // Teeth sit on an arch fixed to the skull behind the neutral lip line (mouth_c); the
    // view ray through the lip opening is followed to that arch, so lips that part uncover
    // them whatever interior surface lies behind.
    vec3 d = v_pos - cam_pos;
    vec3 p = v_pos;
    for (int i = 0; i < 2; ++i) {
        float x = p.x - mouth_c.x;
        float zt = mouth_c.z - 0.006 - 30.0 * x * x;
        p = cam_pos + d * ((zt - cam_pos.z) / d.z);
    }
    vec3 q = p - mouth_c;
    float centre = 1.0 - smoothstep(0.012, 0.022, abs(q.x));
    float upper = smoothstep(0.0006, 0.0016, q.y) * (1.0 - smoothstep(0.009, 0.012, q.y));
    float lower = smoothstep(0.0018, 0.0028, -q.y) * (1.0 - smoothstep(0.007, 0.010, -q.y));
    float teeth = centre * max(upper, 0.8 * lower);
    teeth *= 0.8 + 0.2 * smoothstep(0.1, 0.5, abs(sin(q.x * 650.0)));
    vec3 t = teeth_rgb * teeth_rgb * (1.0 - 0.55 * smoothstep(0.004, 0.02, abs(q.x)))
             * (1.0 - 0.4 * smoothstep(0.002, 0.009, abs(q.y)));  // shade toward the gums
    return mix(mouth_rgb * mouth_rgb, t, teeth);
}

void main() {
    int reg = v_region;
    if (reg == 14 && (v_pos.x < 0.0 ? ear_hidden.x : ear_hidden.y) > 0.5) discard;
    vec2 uv = v_uv;
    vec3 col = texture(albedo_tex, uv).rgb;
    vec3 lin = col * col;
    if (reg == 11) {
        // Where the photo shows the mouth opening, the interior is the photo's own.
        vec4 c = photo_matrix * vec4(v_pos, 1.0);
        vec2 st = vec2(0.5 + 0.5 * c.x / c.w, 0.5 - 0.5 * c.y / c.w);
        vec4 ph = texture(photo_tex, st);
        lin = mix(mouth_interior(), ph.rgb * ph.rgb, ph.a);
    } else if (reg != 6) {
        // The upper lid shutting (AU43; narrowing keeps the photo's own lashes and margins,
        // which move with the lids): lash bands become lid skin, lashes hang down. Every
        // term below is exactly 0 below half closure, so a uniform test can leave it out.
        if (lid_close.x > 0.5) {
            float shut = smoothstep(0.5, 0.95, lid_close.x);
            float lid = clamp(lid_close.x * v_spec + lid_close.y * v_hair, 0.0, 1.0) * 1.25;
            vec3 skin = texture(skin_tex, v_uv).rgb;
            lin = mix(lin, skin * skin, shut * smoothstep(0.0, 0.3, lid));
            // Millimetres in the image plane from the upper (du) and lower (dl) margin, where
            // the lid weights are 1: the weights' screen gradients, times a pixel's size.
            vec3 view = normalize(v_pos - cam_pos);
            vec3 px = dFdx(v_pos);
            float mm = 1000.0 * length(px - dot(px, view) * view);
            float du = (1.0 - v_spec) * mm / max(length(vec2(dFdx(v_spec), dFdy(v_spec))),
                                                 1e-6);
            float dl = (1.0 - v_hair) * mm / max(length(vec2(dFdx(v_hair), dFdy(v_hair))),
                                                 1e-6);
            // Along the eye, 0 and 1 at its corners: lashes are shorter and sparser there.
            vec2 ends = v_uv.x < 0.5 ? eye_u.xy : eye_u.zw;
            float t = clamp((v_uv.x - ends.x) / (ends.y - ends.x), 0.0, 1.0);
            float taper = 4.0 * t * (1.0 - t);
            // The closed lid curves away over the eye: darker toward its margin.
            lin *= 1.0 - 0.35 * shut * (1.0 - smoothstep(0.0, 6.0, du));
            // A soft fold line where the shut lid's skin folds under the brow's (a level of
            // the upper-lid weight, a few pixels wide whatever the triangle size).
            float fold = (v_spec - 0.3) / max(fwidth(v_spec), 1e-6);
            lin *= 1.0 - 0.1 * shut * sqrt(taper) * exp(-fold * fold / 8.0);
            // Lashes: a dark margin and a ragged fringe hanging over the lower lid.
            float len = 3.0 * taper * (0.7 + 0.3 * sin(t * 47.0 + 1.3 * sin(t * 113.0)));
            float strands = 0.85 + 0.15 * sin(t * 230.0 + 0.9 * dl + 2.0 * sin(t * 71.0));
            float lash = shut * max(0.9 * sqrt(taper) * exp(-du * du / 0.4),
                                    (1.0 - smoothstep(0.0, len, dl)) * strands * sqrt(taper));
            lin = mix(lin, lash_rgb * lash_rgb, 0.9 * lash);
        }
        float crease = clamp(dot(texture(wrinkle_tex, v_uv), au_w), 0.0, 1.0);
        // Shading change of the geometry only: a wrinkle bump would speckle on the texels.
        vec4 rest = texture(rest_tex, v_uv);
        float ratio = shade(normalize(v_nrm), relight_dir) / shade(normalize(rest.xyz),
                                                                    light_dir);
        // Occlusion only darkens: a fold that deepens; a socket the lids close over is not
        // lit any better than it was.
        ratio *= mix(1.0, min(v_ao / max(rest.w, 0.05), 1.0), 0.7);
        ratio = clamp(ratio, 0.5, 1.3);
        if (reg == 14) {
            // The ear island is unlit (and its rest normal may be the other ear's): the ear
            // is lit here by its own normal and toned by its side of the photo's face.
            float s = shade(normalize(v_nrm), relight_dir);
            ratio = s * s;
            lin *= v_pos.x < 0.0 ? ear_gain_r : ear_gain_l;
        }
        lin *= ratio * (1.0 - 0.35 * crease);
    }
    f_rgb = vec4(sqrt(clamp(lin, 0.0, 1.0)), 1.0);
    int part = part_of[reg];
    f_lab = vec4(float(part) / 255.0, v_heat, 1.0, 1.0);
}
"""


# Split shading, as pain3d.render.shaders does for the procedural shader: llvmpipe runs every
# branch for every fragment, so the mouth interior's code (its photo lookup and teeth arch)
# costs every skin fragment too. Renderer draws in three passes instead
# (PhotoRenderer.redraw_faces selects the "redrawn" triangles: eyeball, mouth interior, and
# lid triangles, those with a lid weight != 0 at a corner):
# 0. shaders.FRAGMENT_MARK: the redrawn triangles, alpha 1 ("to be redrawn");
# 1. PHOTO_SKIN: the skin branch alone, without its lid code (the lid-skin lookup, the
#    shut lid's shading and lashes), for the other triangles. Their lid weights are 0,
#    where the lid code changes nothing (its blend factors are exactly 0);
# 2. PHOTO_FEATURES (PHOTO_FRAGMENT itself), for the redrawn triangles, onto the pixels
#    they won in pass 0 (few pixels: its branches cost little there).
# PHOTO_SKIN is cut from PHOTO_FRAGMENT, so it cannot drift from it, and both give its bytes.
_BRANCHES = ("    if (reg == 11) {\n", "    } else if (reg != 6) {\n", "    }\n    f_rgb = ")
_LID_CODE = ("        // The upper lid shutting",
             "            lin = mix(lin, lash_rgb * lash_rgb, 0.9 * lash);\n        }\n")
"""First and last line of the skin branch's lid code (weights v_spec, v_hair)."""


def _skin_only(source: str) -> str:
    """``source`` with the skin branch's body alone, in a plain block, without its lid
    code."""
    at = [source.find(b) for b in _BRANCHES]
    if min(at) < 0 or at != sorted(at):
        raise RuntimeError("PHOTO_FRAGMENT's branch layout changed: update "
                           "pain3d.render.photo._skin_only")
    skin = source[:at[0]] + "    {\n" + source[at[1] + len(_BRANCHES[1]):]
    lo, hi = skin.find(_LID_CODE[0]), skin.find(_LID_CODE[1])
    if min(lo, hi) < 0 or lo > hi or skin.count(_LID_CODE[0]) != 1:
        raise RuntimeError("PHOTO_FRAGMENT's lid code changed: update "
                           "pain3d.render.photo._LID_CODE")
    return skin[:lo] + skin[hi + len(_LID_CODE[1]):]


PHOTO_SKIN = _skin_only(PHOTO_FRAGMENT)
PHOTO_FEATURES = PHOTO_FRAGMENT


@dataclass(frozen=True)
class PhotoLighting:
    """A change of a photo identity's light (e.g. a neutral reference taken in another
    session): the face is shaded as if the photo's light came from another direction, and
    the whole image is exposed by ``gain``. The identity (all zeros, gain 1) changes nothing.

    Attributes:
        yaw: degrees the light turns about the head's vertical axis (> 0 toward the
            subject's left).
        pitch: degrees the light is raised (> 0) or lowered.
        gain: exposure multiplier of the whole image (1 = unchanged).
    """

    yaw: float = 0.0
    pitch: float = 0.0
    gain: float = 1.0

    def __post_init__(self) -> None:
        if not (abs(self.yaw) <= 90 and abs(self.pitch) <= 90):
            raise ValueError(f"PhotoLighting yaw/pitch ({self.yaw}, {self.pitch}) must be "
                             "within +-90 degrees")
        if not 0.25 <= self.gain <= 4.0:
            raise ValueError(f"PhotoLighting.gain = {self.gain} is outside 0.25..4")

    def direction(self, base: tuple[float, float, float]) -> np.ndarray:
        """(3,) unit head-frame light direction: ``base`` turned by yaw, then pitch."""
        y, x = np.radians(self.yaw), np.radians(self.pitch)
        ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
        rx = np.array([[1, 0, 0], [0, np.cos(x), np.sin(x)], [0, -np.sin(x), np.cos(x)]])
        d = rx @ ry @ np.asarray(base, np.float64)
        return d / np.linalg.norm(d)


def camera_from_pose(pose, near: float | None = None, far: float | None = None) -> Camera:
    """The :class:`Camera` that projects like a :class:`pain3d.face.photo_fit.PinholePose`.

    The camera looks at the point of its optical axis at the head origin's depth, so the
    photo's framing (face off centre, rolled, yawed) is reproduced exactly.
    """
    yaw, pitch, roll = pose.view_angles()
    d = pose.distance
    back = pose.rotation[2]
    target = np.asarray(pose.centre) - d * back
    return Camera(yaw=yaw, pitch=pitch, roll=roll, distance=d, fov=pose.fov_deg,
                  target=tuple(float(t) for t in target),
                  near=near if near is not None else max(0.02, 0.2 * d),
                  far=far if far is not None else d + 1.5)


def orbit_camera(camera: Camera, yaw: float, pitch: float = 0.0, roll: float = 0.0) -> Camera:
    """``camera`` turned about its look-at point: ``yaw`` / ``pitch`` / ``roll`` degrees
    added, framing kept, so the head stays about where the photo has it."""
    return Camera(yaw=camera.yaw + yaw, pitch=float(np.clip(camera.pitch + pitch, -89, 89)),
                  roll=camera.roll + roll, distance=camera.distance, fov=camera.fov,
                  target=camera.target, near=camera.near, far=camera.far)


class PhotoRenderer(Renderer):
    """Draws :class:`pain3d.appearance.photo.PhotoAppearance` identities (see the module).

    The geometry, draw and read-back are :class:`~pain3d.render.Renderer`'s; this class only
    plugs in its shader, textures, vertex channels (the lid weights) and uniforms.

    Args:
        size: output side in pixels, or (width, height).
        backend: moderngl standalone backend.
        supersample: render at this factor and average down.
        split_shading: draw the skin, and the eyeballs, mouth interior and lids, with
            their own shaders (:data:`PHOTO_SKIN`, :data:`PHOTO_FEATURES`): the same bytes as
            one draw with :data:`PHOTO_FRAGMENT` (eyeballs, mouth and lids first) at less
            GL time on llvmpipe.
    """

    FRAGMENT_SHADER = PHOTO_FRAGMENT
    SPLIT_SHADERS = (PHOTO_SKIN, PHOTO_FEATURES)
    TEXTURES = ("albedo_tex", "skin_tex", "wrinkle_tex", "rest_tex", "photo_tex")

    def __init__(self, size: int | tuple[int, int] = 512, backend: str | None = "egl",
                 supersample: int = 1, split_shading: bool = True) -> None:
        super().__init__(size, backend=backend, texture_filter="bilinear",
                         auto_exposure=False, supersample=supersample,
                         split_shading=split_shading)

    def vertex_channels(self, appearance) -> tuple[np.ndarray, np.ndarray]:
        """Upper and lower lid weights (:attr:`PhotoAppearance.lid_weights`)."""
        return appearance.lid_weights[:, 0], appearance.lid_weights[:, 1]

    def redraw_faces(self, topo) -> np.ndarray:
        """(F,) bool: the triangles passes 0 and 2 draw: those of FEATURE_REGIONS and those with a
        lid weight != 0 at any corner (vertex channels 1 and 2: the static columns 3, 4)."""
        lids = (topo.static[topo.faces][..., 3:5] != 0).any(axis=(1, 2))
        return super().redraw_faces(topo) | lids

    def texture_arrays(self, appearance, topo) -> tuple[np.ndarray, ...]:
        return (appearance.albedo, appearance.skin, appearance.wrinkles,
                self._rest_texture(appearance, topo), appearance.photo)

    @staticmethod
    def _rest_texture(appearance, topo) -> np.ndarray:
        """(S, S, 4) float32 neutral normals and ambient occlusion in UV space."""
        v = np.asarray(appearance.rest_mesh.vertices, np.float32)
        n = topo.normals(v)
        ao = topo.ambient_occlusion(v, n)
        rest = appearance.raster.interpolate(appearance.raster_faces, np.c_[n, ao])
        return np.ascontiguousarray(rest, np.float32)

    def uniforms(self, topo, appearance, camera: Camera, lighting, aus) -> dict:
        from pain3d.face.rig import closure_fractions

        relight = (lighting.direction(appearance.light_dir)
                   if isinstance(lighting, PhotoLighting) else appearance.light_dir)
        return {
            "au_w": tuple(wrinkle_weights(aus)),
            "ear_gain_r": tuple(float(g) for g in appearance.ear_gain[0]),
            "ear_gain_l": tuple(float(g) for g in appearance.ear_gain[1]),
            "ear_hidden": tuple(float(h) for h in appearance.ear_hidden),
            "eye_u": _eye_corners_u(appearance.rest_mesh),
            "lid_close": (0.0, 0.0) if aus is None else closure_fractions(
                np.asarray(aus, np.float64)),
            "light_dir": tuple(appearance.light_dir),
            "relight_dir": tuple(relight),
            "mouth_c": tuple(appearance.mouth_centre),
            "cam_pos": tuple(float(c) for c in camera.position),
            "photo_matrix": np.asarray(appearance.photo_matrix, np.float32),
            **{name: tuple(getattr(appearance, name))
               for name in ("lash_rgb", "teeth_rgb", "mouth_rgb")},
        }


def _eye_corners_u(mesh) -> tuple[float, float, float, float]:
    """u of the eye corners in the UV layout: right eye's two, then left eye's (the lash
    fringe tapers toward them)."""
    from pain3d.face.head import head_template

    loops = head_template().fine_eye_loops
    return tuple(float(mesh.uv[loops[k][0][i], 0]) for k in ("r", "l") for i in (0, -1))


def compose_photo(result: RenderResult, backdrop: np.ndarray, face_alpha: np.ndarray | None,
                  feather: float = 0.8) -> np.ndarray:
    """Composite a photo-identity render into its backdrop.

    Args:
        result: the render.
        backdrop: (H, W, 3) uint8 RGB, the photo (own view) or a backdrop for other views.
        face_alpha: (H, W) float32 in [0, 1], the feathered face region of the photo (own
            view: hair, ears, neck and background stay the photograph's); None uses the
            whole head.
        feather: softening of the render's own silhouette, pixels.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    if backdrop.shape != result.rgb.shape or backdrop.dtype != np.uint8:
        raise ValueError(f"backdrop must be {result.rgb.shape} uint8 like the render, got "
                         f"{backdrop.shape} {backdrop.dtype}")
    a = soft_alpha(result.mask, feather)
    if face_alpha is not None:
        if face_alpha.shape != a.shape:
            raise ValueError(f"face_alpha is {face_alpha.shape}, the render {a.shape}")
        a = a * face_alpha.astype(np.float32)
    return _blend(result.rgb, backdrop, a)


BLEND_SURE = 1e-4
"""Hand-set: an alpha this close to 0 or 1 gives ``cv2.blendLinear``'s bytes of the backdrop
or of the render (its result is then within 0.03 of the pixel, 255 x this plus OpenCV's
1e-5 in the weights' sum, so it rounds to it; ``tests/photo`` checks every pair of bytes)."""


def _blend(top: np.ndarray, under: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``cv2.blendLinear(top, under, a, 1 - a)``'s bytes for (H, W, 3) uint8 images and an
    (H, W) float32 alpha in [0, 1]. Pixels of alpha within :data:`BLEND_SURE` of 0 or 1 are
    the backdrop's or the render's. Where few pixels are feathered (the views that draw the
    whole head: ~2 % of the pixels; ~3x faster) only they are blended, gathered into one row
    padded to a multiple of 64 pixels; else (the photo's own view, whose face region fades
    over a wide band) the box of alpha > 0, its columns on multiples of 64 pixels
    (:func:`pain3d.render.compose.head_box`). Either way OpenCV runs the same vector code on
    each pixel as over whole 512-pixel rows."""
    out = under.copy()
    edge = np.flatnonzero((a > BLEND_SURE) & (a < 1.0 - BLEND_SURE))
    n = len(edge)
    if n > a.size // 16:
        box = head_box(a > 0, 0.0)
        out[box] = cv2.blendLinear(top[box], under[box], a[box], 1.0 - a[box])
        return out
    cv2.copyTo(top, (a >= 1.0 - BLEND_SURE).view(np.uint8), out)
    if n:
        m = -(-n // 64) * 64
        px = np.zeros((2, m, 3), np.uint8)
        for row, image in zip(px, (top, under), strict=True):
            row[:n] = np.take(_pixels(image), edge, axis=0).view(np.uint8).reshape(n, 3)
        w = np.zeros((1, m), np.float32)
        np.take(a.reshape(-1), edge, out=w[0, :n])
        mixed = cv2.blendLinear(px[0:1], px[1:2], w, 1.0 - w)
        np.put(_pixels(out), edge, _pixels(mixed[:, :n]))
    return out


def _pixels(image: np.ndarray) -> np.ndarray:
    """(H * W,) view of a C-contiguous (H, W, 3) uint8 image, one 3-byte item per pixel
    (gathered and scattered ~4x faster than its (H * W, 3) rows)."""
    return image.reshape(-1).view(np.dtype((np.void, 3)))
