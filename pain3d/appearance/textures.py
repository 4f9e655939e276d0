"""Procedural UV textures of one identity: skin albedo, relief (height), AU wrinkle maps.

All features are painted from the per-texel head-frame position of the neutral mesh (the
position map), so they stay anatomically placed whatever the UV layout. Arrays are in OpenGL
row order (see :mod:`pain3d.appearance.uvmap`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pain3d.appearance.brows import brow_colour, brow_coverage, paint_brow_hairs
from pain3d.appearance.clothing import garment, neck_axis_z, sample_neckline
from pain3d.appearance.ears import ear_form, ear_relief
from pain3d.appearance.eyelids import EyelidPaint, paint_eyelids, sample_eyelid_look
from pain3d.appearance.hair import hair_coverage, hair_density
from pain3d.appearance.landmarks import FaceLandmarks, face_landmarks
from pain3d.appearance.lips import paint_lips, sample_lip_look
from pain3d.appearance.paint import (
    Canvas,
    blur_texels,
    fractal_noise,
    gaussian_blob,
    scale_planes,
    smooth_noise,
    tint,
    to_u8,
)
from pain3d.appearance.scalp_hair import strand_pattern
from pain3d.appearance.skin import pore_relief, pore_strength, skin_fields
from pain3d.appearance.traits import Traits
from pain3d.appearance.uvmap import cached_raster
from pain3d.appearance.wrinkles import (
    DEFAULT_GLABELLAR,
    GlabellarPattern,
    paint_wrinkles,
    sample_glabellar,
    wrinkle_channels,
)
from pain3d.face.mesh import Mesh, region_id
from pain3d.ramps import smoothstep


@dataclass(frozen=True, eq=False)
class TextureSet:
    """Textures of one identity (S x S, OpenGL row order) and per-vertex shading values."""

    albedo: np.ndarray  # (S, S, 3) uint8 sRGB
    height: np.ndarray  # (S, S) uint8 fine relief, 128 = flat (creases, pores, hair strands)
    wrinkles: np.ndarray  # (S, S, 4) uint8 WRINKLE_CHANNELS
    vertex_spec: np.ndarray  # (V,) float32 specular strength
    vertex_hair: np.ndarray  # (V,) float32 scalp-hair coverage
    labels: np.ndarray  # (S, S, 2) uint8 painted brow and lip coverage (part labels)
    texels_per_mm: float


def skin_albedo(swatch: tuple[float, float, float]) -> np.ndarray:
    """(3,) sRGB diffuse albedo for a Monk swatch colour.

    The swatches are how skin looks in a well-lit photo, already mixed with specular sheen;
    the diffuse albedo under it is more saturated and a little darker.
    """
    c = np.asarray(swatch, np.float32)
    m = float(c.mean())
    out = (m + (c - m) * 1.25) * 0.9 + np.array([0.01, 0.0, -0.01], np.float32)
    return np.clip(out, 0.02, 1.0)


def texel_density(mesh: Mesh, size: int) -> float:
    """Median texels per millimetre of the front face (UV scale over 3-D scale)."""
    v, f, uv = mesh.vertices.astype(np.float64), mesh.faces, mesh.uv.astype(np.float64)
    a3 = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    e1, e2 = uv[f[:, 1]] - uv[f[:, 0]], uv[f[:, 2]] - uv[f[:, 0]]
    a2 = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) * size * size
    front = v[f[:, 0], 2] > np.median(v[:, 2])
    ok = (a3 > 1e-12) & (a2 > 0) & front
    if not ok.any():
        return 1.0
    return float(np.sqrt(np.median(a2[ok] / a3[ok])) / 1000.0)


def _mix(dst: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """dst + (colour - dst) * alpha, touching only texels with alpha > 0 (in place)."""
    idx = np.flatnonzero(alpha.ravel() > 1e-4)
    flat = dst.reshape(-1, 3)
    col = np.asarray(colour, np.float32)
    if col.ndim == 3:
        col = col.reshape(-1, 3)[idx]
    a = alpha.ravel()[idx].astype(np.float32)
    sel = flat[idx]  # gathered once, mixed a channel at a time (see scale_planes)
    for k in range(3):
        s = sel[:, k]
        s += ((col[:, k] if col.ndim == 2 else col[k]) - s) * a
    flat[idx] = sel
    return dst


@dataclass(frozen=True, eq=False)
class _Surface:
    """The neutral mesh seen per texel: what every painting step reads.

    Attributes:
        mesh: the neutral mesh.
        pos: (S, S, 3) head-frame position of each texel, metres (the position map).
        reg: (S, S) region id of each texel's nearest vertex.
        lm: landmarks that place the painted features.
        tpm: texels per millimetre of the front face.
        front: (S, S) 1 on the front of the face, fading to 0 toward the ears.
        canvas: strokes on the front of the face.
        lips, mouth_in, eyeball: (S, S) soft masks of those regions.
    """

    mesh: Mesh
    pos: np.ndarray
    reg: np.ndarray
    lm: FaceLandmarks
    tpm: float
    front: np.ndarray
    canvas: Canvas
    lips: np.ndarray
    mouth_in: np.ndarray
    eyeball: np.ndarray
    is_: Callable[[str], np.ndarray]
    """(S, S) interpolated per-vertex indicator of a region: smooth across triangles, no
    texel staircase."""

    @property
    def size(self) -> int:
        return self.pos.shape[0]


def _surface(mesh: Mesh, size: int) -> _Surface:
    # Eyeballs and the mouth interior are shaded procedurally by the renderer; leaving them
    # out of the raster keeps their UVs (which may overlap the lips) from stealing texels.
    skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
    faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
    raster = cached_raster(mesh.uv, faces, size)
    pos = raster.interpolate(faces, mesh.vertices)  # (S, S, 3) metres
    lm = face_landmarks(mesh)
    tpm = texel_density(mesh, size)

    def is_(name: str) -> np.ndarray:
        return raster.interpolate(faces, (mesh.regions == region_id(name)).astype(np.float32))

    front = smoothstep(lm.face_z - 0.06, lm.face_z - 0.025, pos[..., 2])
    # Soft region masks (blurred ~1.5 mm) so colour changes do not follow triangle edges.
    lips = np.clip(blur_texels(is_("lips"), 0.5 * tpm) * 1.8 - 0.4, 0, 1)
    return _Surface(mesh=mesh, pos=pos, reg=mesh.regions[raster.nearest_vertex(faces)], lm=lm,
                    tpm=tpm, front=front, canvas=Canvas(pos, valid=front > 0.01), lips=lips,
                    mouth_in=is_("mouth_interior"), eyeball=is_("eyeball"), is_=is_)


def paint_textures(mesh: Mesh, traits: Traits, rng: np.random.Generator, size: int = 512,
                   sex: str = "female") -> TextureSet:
    """Paint the textures of an identity on its neutral mesh.

    The steps draw from ``rng`` in a fixed order: skin, lips, creases and wrinkles, brows,
    facial hair, scalp hair, clothing, shading maps; the lips' look and the fine skin detail
    (pores, blotches, sheen) draw from a child of ``rng`` instead, the eye region (lid crease
    and tone, lashes, :mod:`pain3d.appearance.eyelids`) from another.

    Args:
        mesh: neutral identity mesh with ``uv`` and ``regions``.
        traits: visible traits (tone, hair, facial hair, age level, ...).
        rng: random generator; the same state gives the same textures.
        size: texture side in texels.
        sex: "female" or "male" (brow shape, facial hair).
    """
    if mesh.uv is None or mesh.regions is None:
        raise ValueError("paint_textures needs a mesh with uv and regions (got None)")
    surf = _surface(mesh, size)
    albedo = _paint_skin(surf, traits, rng)
    if sex == "male" and traits.facial_hair != "stubble":  # stubble paints its own
        _paint_beard_shadow(surf, albedo, traits)
    base = skin_albedo(traits.skin_rgb)
    lip_gain = rng.uniform(0.9, 1.1)
    crease, wrinkles = _creases_and_wrinkles(surf, traits.age_level, rng)
    # Lip and skin detail draw from a child of rng spawned after the glabellar lines' one:
    # every other draw, of the textures and of the hair shell after them, stays as it was.
    detail = rng.spawn(1)[0]
    lips = paint_lips(surf.pos, surf.lips, surf.lm, surf.tpm, base,
                      sample_lip_look(detail, lip_gain, traits.age_level))
    scale_planes(albedo, 1.0 + 0.08 * lips.roll)  # the upper lip's pale rim (white roll)
    albedo = _mix(albedo, lips.rgb, lips.alpha * (0.8 + 0.15 * traits.lip_fullness))
    scale_planes(albedo, 1.0 - 0.3 * lips.corner)  # the shadowed corners of the mouth
    scale_planes(albedo, 1.0 - 0.25 * crease)
    strength = pore_strength(surf.reg, surf.tpm)
    pore = pore_relief(surf.pos, strength, int(detail.integers(2**32)))
    fields = skin_fields(detail, size)
    _paint_skin_detail(albedo, pore, fields, base)
    albedo, brow, strands, brow_rgb = _paint_brows(surf, albedo, traits, rng, sex)
    # The eye region draws from a child of rng too (spawned after the skin detail's).
    lids = paint_eyelids(surf.pos, surf.reg, surf.lm,
                         sample_eyelid_look(rng.spawn(1)[0], traits.lid_crease))
    _paint_eye_region(albedo, lids, np.minimum(brow_rgb, LASH_RGB_MAX))
    albedo, beard = _paint_facial_hair(surf, albedo, traits, rng, strands)
    albedo, cov, scalp_strands = _paint_scalp_hair(surf, albedo, traits, rng)
    albedo, cloth = _paint_clothing(surf, albedo, traits, rng)
    ear_height = _paint_ear_folds(surf, albedo)
    # Shading maps.
    spec = (SHEEN[0] + SHEEN[1] * _oily_zone(surf) * rng.uniform(0.5, 1.2)
            + SHEEN[2] * surf.lips + 0.2 * lips.lower_mid) * (1 - 0.7 * beard)
    spec.ravel()[lids.idx] += WET_SHEEN * lids.wet
    spec *= 1.0 + 0.2 * fields[..., 2]  # patches of more and less sheen
    spec = spec * (1.0 - 0.85 * cov) * (1.0 - 0.7 * brow) * (1.0 - 0.4 * traits.age_level)
    spec *= 1.0 - 0.8 * cloth  # cloth is matte
    # Relief: creases cut in, pores pit the skin (most on the nose and cheeks), a fine grain
    # and beard stubble roughen it; the hair shell reads the strand pattern from the same
    # channel (see the shader).
    relief = np.where(cov > 0.5, 0.25 * (scalp_strands - 0.5),
                      PORE_DEPTH * pore * (1.0 - cloth)
                      + 0.1 * beard * (strands - 0.5) - 0.14 * lips.lines)
    relief.ravel()[lids.idx] += lids.relief
    height = np.clip(0.5 - 0.4 * crease + relief + ear_height, 0, 1)
    # Per-vertex shading values: the maps sampled at each vertex's texel.
    uv = np.clip((mesh.uv * size).astype(np.int64), 0, size - 1)
    vspec = np.clip(spec, 0, 2)[uv[:, 1], uv[:, 0]].astype(np.float32)
    vhair = hair_coverage(mesh.vertices, mesh.regions, surf.lm, traits.hair_style)
    labels = np.stack([np.clip(brow * 1.2, 0, 1), surf.lips], -1)
    return TextureSet(albedo=to_u8(np.clip(albedo, 0, 1)), height=to_u8(height),
                      wrinkles=to_u8(wrinkles), vertex_spec=vspec, vertex_hair=vhair,
                      labels=to_u8(labels), texels_per_mm=surf.tpm)


SHEEN = (0.22, 1.1, 0.3)
"""Hand-set: specular strength of the matte skin (cheeks, temples, neck), added on the
oily zone's peak (:func:`_oily_zone`: the forehead's middle, the nose, the chin; times a
per-identity draw in 0.5-1.2) and on the lips. Main had 0.35, 0.35 and 0.15: the cheeks
shone as much as the forehead's edges."""


def _oily_zone(surf: _Surface) -> np.ndarray:
    """(S, S) in [0, 1]: where skin is oiliest (the most sebaceous glands): the T-zone (the
    forehead's middle, the nose's bridge and tip) and, less, the chin."""
    pos, lm = surf.pos, surf.lm
    zone = (gaussian_blob(pos, lm.nose_tip, (0.012, 0.03, 0.06))
            + gaussian_blob(pos, [0, lm.brow_y + 0.03, 0], (0.04, 0.015, 0.06))
            + 0.6 * gaussian_blob(pos, [0, lm.chin_y + 0.012, lm.mouth[2]], (0.016, 0.01, 0.05)))
    return np.clip(zone, 0, 1)


BEARD_SHADOW = (0.12, 0.09, 0.035)
"""Hand-set: per-channel darkening of a shaved man's beard area at full strength (the
follicles' dark hairs under the skin: a blue-grey cast, red and green darkened more than
blue), on pale skin with dark hair; less with lighter hair and on darker skin."""


def _paint_beard_shadow(surf: _Surface, albedo: np.ndarray, traits: Traits) -> None:
    """A man's shaved beard area (cheeks below the cheek line, upper lip, chin, jaw) a little
    darker and bluer, in place; draws nothing from the identity's random generator."""
    # The area is smooth over centimetres and blurred below: found on every other texel
    # (a quarter of the cost; it took 20 ms at 512 texels) and repeated.
    half = _facial_hair_mask(surf.pos[::2, ::2], surf.lm, "beard", surf.front[::2, ::2],
                             surf.tpm)
    area = np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)[:surf.size, :surf.size]
    area *= 1.0 - surf.is_("neck")
    # Not on the upper lip's skin: its shadow there hid the lip's upper edge from a face
    # tracker (AU9/AU10's nose-to-lip distance read 0.03 less rank correlation).
    area *= 1.0 - gaussian_blob(surf.pos, surf.lm.mouth + [0, 0.008, 0], (0.022, 0.008, 0.05))
    # Full under black to brown hair, a trace under blond, grey and white (0.1).
    amount = (float(np.clip(1.25 - 2.2 * float(np.mean(traits.hair_rgb)), 0.1, 1.0))
              * (1.0 - 0.6 * float(np.clip((0.62 - np.mean(skin_albedo(traits.skin_rgb))) / 0.4,
                                           0.0, 1.0))))
    area = blur_texels(area, 3.0 * surf.tpm) * amount
    scale_planes(albedo, lambda k: 1.0 - area * np.float32(BEARD_SHADOW[k]))


PORE_DEPTH = 0.1
"""Hand-set: height-map units (1 = 1.2 mm of relief, see the shader) per unit of
:func:`pain3d.appearance.skin.pore_relief`: pores about 0.1 mm deep on the nose, enough to
break up its highlights at 1024 px."""

MOTTLE = ((0.003, -0.02, -0.014), (-0.015, -0.02, -0.025))
"""Hand-set: per-channel albedo change per unit of the haemoglobin blotches (their positive
half only: less blood than average does not turn skin green) and of the melanin blotches
(:func:`pain3d.appearance.skin.skin_fields`) on the palest skin; the redness fades to
half on the darkest skin, where it hardly shows."""


def _paint_skin_detail(albedo: np.ndarray, pore: np.ndarray, fields: np.ndarray,
                       base: np.ndarray) -> None:
    """Blotchy redness and brownness (``fields`` (S, S, 3) channels 0 and 1, see
    :func:`pain3d.appearance.skin.skin_fields`) over the albedo, and the pores' pits
    (``pore`` (S, S) below 0) a little darker, in place."""
    red = np.maximum(fields[..., 0], 0.0) - 0.3  # about the mean of its positive half
    brown = fields[..., 1]
    red_amt = 1.0 - 0.5 * float(np.clip((0.75 - float(np.mean(base))) / 0.45, 0.0, 1.0))
    scale_planes(albedo, lambda k: (1.0 + MOTTLE[0][k] * red_amt * red + MOTTLE[1][k] * brown
                                    + 0.06 * pore))


LASH_RGB_MAX = 0.08
"""Hand-set: the lashes' colour is the brows' but at most this in each channel (lashes are
darker than brows, and blond or grey brows keep dark lashes)."""

WET_RGB = (0.78, 0.42, 0.42)
"""Hand-set: colour factor on the skin's albedo of the lower lid's wet inner margin (pink
mucosa); painted with coverage 0.7 at most."""

WET_SHEEN = 0.3
"""Hand-set: added specular strength on the wet lower lid margin."""


def _paint_eye_region(albedo: np.ndarray, lids: EyelidPaint, lash_rgb: np.ndarray) -> None:
    """Apply :func:`pain3d.appearance.eyelids.paint_eyelids`'s painting to the albedo in
    place: the lid tone and crease shading, the pink wet margin, then the lashes over all."""
    flat = albedo.reshape(-1, 3)
    sel = flat[lids.idx] * lids.shade
    wet = (0.7 * lids.wet)[:, None]
    sel += (sel * np.float32(WET_RGB) - sel) * wet
    sel += (lash_rgb[None] - sel) * lids.lash[:, None]
    flat[lids.idx] = sel


UNDER_EYE = ((0.15, 0.16, 0.10), (0.16, 0.18, 0.2))
"""Hand-set: per-channel darkening at the centre of the skin below each eye on the palest
skin (red and green more than blue: a bluish-purple shadow) and on the darkest (a deeper
brown); mixed between by the tone. Main had (0.11, 0.12, 0.11) on every tone."""


def _paint_skin(surf: _Surface, traits: Traits, rng: np.random.Generator) -> np.ndarray:
    """(S, S, 3) float skin albedo: tone, blotchy melanin / haemoglobin variation, darker
    skin under the eyes, a faint grain, freckles and age spots (the relief's pores and the
    finer blotches are :func:`_paint_skin_detail`'s)."""
    pos, lm, S = surf.pos, surf.lm, surf.size
    base = skin_albedo(traits.skin_rgb)
    lum = float(base.mean())
    tone_noise = fractal_noise(rng, S, (6, 12, 24))
    red_noise = fractal_noise(rng, S, (8, 16, 48))
    albedo = tint(1.0 + 0.045 * tone_noise, base)
    undertone = np.array([0.02, 0.0, -0.03], np.float32) * traits.undertone * lum
    for k in range(3):
        albedo[..., k] += undertone[k]
    redden = np.array([1.0, 0.86, 0.86], np.float32)
    # Haemoglobin: cheeks, nose, ears, chin; stronger on light skin.
    red_amt = 0.85 - 0.6 * (traits.monk_tone - 1) / 9.0  # main: 0.6 - 0.4 (t - 1) / 9
    red = np.zeros((S, S), np.float32)
    for eye in (lm.eye_left, lm.eye_right):
        red += gaussian_blob(pos, eye + [np.sign(eye[0]) * 0.008, -0.035, 0.0],
                             (0.018, 0.014, 0.05))
    red += 0.56 * gaussian_blob(pos, lm.nose_tip, (0.012, 0.014, 0.05))
    red += 0.5 * surf.is_("ear") + 0.3 * gaussian_blob(
        pos, [0, lm.chin_y + 0.015, lm.mouth[2]], (0.02, 0.015, 0.05))
    red = np.clip(red * (0.7 + 0.3 * red_noise) * red_amt * rng.uniform(0.6, 1.3), 0, 1)
    scale_planes(albedo, lambda k: 1.0 + (redden[k] - 1.0) * red)
    # Darker skin below the eyes: bluish-purple on pale skin (veins through thin skin),
    # brown on dark skin (more melanin there); darker skin around the mouth on dark skin.
    deep = float(np.clip((0.62 - lum) / 0.4, 0.0, 1.0))  # 0 pale .. 1 darkest tones
    shade = np.float32(UNDER_EYE[0]) * (1.0 - deep) + np.float32(UNDER_EYE[1]) * deep
    for eye in (lm.eye_left, lm.eye_right):
        dark = gaussian_blob(pos, eye + [0, -0.018, 0], (0.016, 0.007, 0.04))
        scale_planes(albedo, lambda k, dark=dark: 1.0 - dark * shade[k])
    mouth = gaussian_blob(pos, lm.mouth, (0.03, 0.02, 0.05)) * (0.08 * deep)
    scale_planes(albedo, lambda k: 1.0 - mouth * np.float32((0.9, 1.0, 1.1)[k]))
    white = rng.standard_normal((S, S)).astype(np.float32)
    grain = blur_texels(smooth_noise(rng, S, S // 2) * 0.6 + white * 0.4, 0.5)
    scale_planes(albedo, 1.0 + 0.025 * grain)
    spots = 0.2 * _spots(surf, traits, rng)
    scale_planes(albedo, lambda k: 1.0 - spots * np.float32((0.8, 1.0, 1.15)[k]))
    return albedo


def _spots(surf: _Surface, traits: Traits, rng: np.random.Generator) -> np.ndarray:
    """(S, S) freckles and age spots: sparse soft dots on the front of the face."""
    S = surf.size
    spots = np.zeros((S, S), np.float32)
    n_spots = int(traits.freckles * 150 + max(traits.age_level - 0.45, 0) * 40)
    if n_spots:
        seeds = np.zeros((S, S), np.float32)
        face_texels = np.flatnonzero((surf.front > 0.5).ravel()
                                     & (surf.reg.ravel() != region_id("eyeball")))
        if len(face_texels):
            pick = rng.choice(face_texels, size=min(n_spots, len(face_texels)), replace=False)
            seeds.ravel()[pick] = rng.uniform(0.4, 1.0, len(pick))
            spots = np.clip(blur_texels(seeds, max(0.5 * surf.tpm, 0.6)) * 6, 0, 1)
    return spots


def _creases_and_wrinkles(surf: _Surface, age: float,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(S, S) static age creases (forehead lines, nasolabial folds, crow's feet with age) and
    (S, S, 4) AU wrinkle maps (:data:`WRINKLE_CHANNELS`), both in [0, 1]."""
    lm, S = surf.lm, surf.size
    crease = np.zeros((S, S), np.float32)
    cv = surf.canvas
    w = 0.0007  # crease half-width, metres
    fh_lo, fh_hi = lm.brow_y + 0.012, lm.brow_y + 0.045
    for k in range(4):
        y = fh_lo + (fh_hi - fh_lo) * (k + rng.uniform(0.2, 0.8)) / 4
        _forehead_line(cv, crease, y, rng.uniform(-0.003, 0.003), w * 1.2, 0.8 * age, rng)
    parts = paint_wrinkles(cv, surf.pos, lm, where=surf.front > 0,  # masked by front below
                           glabellar=sample_glabellar(rng.spawn(1)[0]))  # draws nothing of rng
    crease += (0.25 + 0.8 * age) * parts["nasolabial"] + 0.7 * age * parts["crows_feet"]
    not_face = np.clip(surf.eyeball + surf.lips + surf.mouth_in, 0, 1)
    crease *= (1.0 - not_face) * surf.front
    return np.clip(crease, 0, 1), _masked_wrinkles(surf, parts, not_face)


def _forehead_line(cv: Canvas, out: np.ndarray, y: float, tilt: float, width: float,
                   weight: float, rng: np.random.Generator) -> None:
    """One horizontal forehead line at height ``y`` (metres, at the midline), into ``out``
    in place: a gull-wing that rises over each brow and dips at the midline, in short
    overlapping strokes of varying depth that fade at the line's ends, as the frontalis
    folds the skin (a single straight stroke read as drawn)."""
    xs = np.linspace(-0.045, 0.045, 13)
    ys = y + tilt * xs / 0.045 + 0.0025 * np.sin(np.pi * xs / 0.06) ** 2
    depth = np.clip(0.75 + 0.35 * np.cumsum(rng.normal(0.0, 0.6, 12)) / np.sqrt(12), 0.2, 1.0)
    ends = np.sin(np.pi * (np.arange(12) + 0.5) / 12) ** 0.5
    pts = np.stack([xs, ys], -1)
    for i in range(12):
        step = 0.05 * (pts[i + 1] - pts[i])  # overlap the neighbours: no gap at a joint
        cv.stroke(out, pts[i] - step, pts[i + 1] + step, width,
                  weight=weight * depth[i] * ends[i], taper=0.02, mode="max")


def _masked_wrinkles(surf: _Surface, parts: dict[str, np.ndarray], not_face: np.ndarray
                     ) -> np.ndarray:
    """(S, S, 4) AU wrinkle maps in [0, 1], kept off the eyes, lips and mouth."""
    wr = wrinkle_channels(parts)
    scale_planes(wr, (1.0 - not_face) * surf.front)
    return np.clip(wr, 0, 1)


def wrinkle_map(mesh: Mesh, size: int = 512,
                glabellar: GlabellarPattern = DEFAULT_GLABELLAR) -> np.ndarray:
    """(S, S, 4) uint8 AU wrinkle maps of a mesh (:data:`WRINKLE_CHANNELS`), exactly as
    :func:`paint_textures` paints them with ``glabellar``'s lines: for appearances that
    paint nothing else, such as photo identities."""
    surf = _surface(mesh, size)
    parts = paint_wrinkles(surf.canvas, surf.pos, surf.lm, where=surf.front > 0,
                           glabellar=glabellar)
    return to_u8(_masked_wrinkles(surf, parts, np.clip(surf.eyeball + surf.lips
                                                       + surf.mouth_in, 0, 1)))


def _paint_brows(surf: _Surface, albedo: np.ndarray, traits: Traits, rng: np.random.Generator,
                 sex: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Brows as hairs (:mod:`pain3d.appearance.brows`); returns the albedo, the (S, S) brow
    coverage, the hair strand noise and the brows' (3,) colour."""
    S = surf.size
    hair_rgb = np.asarray(traits.hair_rgb, np.float32)
    grey_u = rng.uniform(0.7, 1.6) if traits.hair_colour in ("white", "grey") else 1.0
    brow_rgb = brow_colour(traits.hair_colour, hair_rgb, grey_u)
    strands = np.clip(0.5 + 0.5 * blur_texels(rng.standard_normal((S, S)).astype(np.float32),
                                              0.6) * 1.5, 0, 1)
    thick = 0.007 if sex == "male" else 0.0055
    brow = brow_coverage(surf.pos, surf.canvas, surf.lm, surf.front, surf.eyeball, thick,
                         traits.brow_density)
    follicle = rng.random((S, S), dtype=np.float32)
    paint_brow_hairs(albedo, surf.pos, surf.lm, brow, follicle, brow_rgb,
                     traits.hair_colour, hair_rgb, grey_u, traits.monk_tone >= 5, thick,
                     traits.brow_density, _mix)
    return albedo, brow, strands, brow_rgb


FACIAL_HAIR_DENSITY = {"stubble": 0.75, "moustache": 0.9, "goatee": 0.9, "beard": 0.95}
"""Share of follicles carrying a visible hair inside each facial-hair style (hand-set)."""

BEARD_WHITE = {"grey": 0.55, "white": 0.85}
"""Hand-set: the share of white strands in a grey or white moustache or beard; the others
keep a pigmented colour (:data:`BEARD_PIGMENT`), as in a greying beard."""

BEARD_PIGMENT = ((0.74, 0.72, 0.68), (0.30, 0.27, 0.24))
"""Hand-set sRGB albedo of a white strand (translucent keratin: never paper white) and of a
still pigmented strand in a grey or white beard."""


def _paint_facial_hair(surf: _Surface, albedo: np.ndarray, traits: Traits,
                       rng: np.random.Generator,
                       strands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moustache, goatee, stubble or beard; returns the albedo and the (S, S) facial-hair
    area.

    Stubble: each texel (about a follicle's spacing, 0.9 mm at 512 texels) holds a hair root
    when a uniform draw falls under the local density, over the grey shadow that shaved roots
    leave under the skin. Longer styles: strands that run down and out from the philtrum on
    the upper lip and down elsewhere (:func:`_beard_strands`), thinning out toward the
    area's edge, semi-transparent, over the skin darkened by their shadow; grey and white
    ones mix white and pigmented strands (:data:`BEARD_WHITE`)."""
    beard = _facial_hair_mask(surf.pos, surf.lm, traits.facial_hair, surf.front, surf.tpm)
    beard *= np.clip(1.0 - surf.lips * 1.5, 0, 1) * (1.0 - surf.eyeball)
    if traits.facial_hair == "none":
        return albedo, beard
    beard *= 1.0 - surf.is_("neck")  # the neck is shaved (its texels are stretched, too)
    density = FACIAL_HAIR_DENSITY[traits.facial_hair]
    if traits.hair_colour in ("grey", "white"):
        density *= 0.65
    patches = np.clip(0.55 + 0.6 * smooth_noise(rng, surf.size, 48), 0, 1)
    follicle = rng.random((surf.size, surf.size), dtype=np.float32)
    cover = beard * density * (0.5 + 0.5 * patches)
    hair_rgb = np.asarray(traits.hair_rgb, np.float32)
    if traits.facial_hair == "stubble":  # roots under freshly shaved skin: a greyer shadow
        hairs = np.clip((cover - follicle) * 3.0 + 0.5, 0, 1) * (beard > 0.02)
        hairs = blur_texels(hairs.astype(np.float32), 0.5)
        shadow = albedo * np.array([0.78, 0.80, 0.86], np.float32)
        albedo = _mix(albedo, shadow, beard * (0.6 + 0.4 * patches))
        return _mix(albedo, tint(0.75 + 0.5 * strands, hair_rgb * 0.8), hairs * 0.5), beard
    # The hairs shade the skin under and between them (most under a dense moustache).
    scale_planes(albedo, 1.0 - 0.22 * blur_texels(cover.astype(np.float32), 1.2 * surf.tpm))
    rows, cols = np.nonzero(beard > 0.02)
    seed = int(follicle[0, 0] * 2**31)
    hair, white, shade = _beard_strands(surf.pos[rows, cols], surf.lm, cover[rows, cols],
                                         texel_size(surf.pos)[rows, cols], seed)
    rgb = np.empty((len(rows), 3), np.float32)
    white_share = BEARD_WHITE.get(traits.hair_colour, 0.0)
    white = (white < white_share).astype(np.float32)
    for k in range(3):
        pigment = BEARD_PIGMENT[1][k] if white_share else hair_rgb[k]
        rgb[:, k] = (pigment + (BEARD_PIGMENT[0][k] - pigment) * white) * shade
    a = np.zeros(beard.shape, np.float32)
    a[rows, cols] = hair
    colour = np.zeros(albedo.shape, np.float32)
    colour[rows, cols] = rgb
    return _mix(albedo, colour, a), beard


BEARD_STRAND = (0.0015, 0.0075, 0.72, 3)
"""Hand-set: metres between neighbouring strands across their direction in one row, a
strand's length, its opacity at its root (the tip fades out; hairs are translucent), and
the number of interleaved rows (so strands lie 0.5 mm apart: about half a texel at 512
texels; finer ones alias into moire)."""


def _beard_strands(pos: np.ndarray, lm: FaceLandmarks, cover: np.ndarray, tsize: np.ndarray,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facial-hair strands at ``pos`` (N, 3), head frame, metres: their opacity (N,) where
    the hair's coverage is ``cover`` (N,) (a strand grows where its own draw falls under it),
    a uniform draw per strand (N,) (white or pigmented) and a per-strand lightness (N,).

    Strands follow lines that fan out from a point 2 cm above the mouth on the upper lip
    (a moustache's hairs point down and out from the philtrum) and from one 12 cm above it
    elsewhere (a beard's hang down), blended across the mouth's height; each is a thin
    streak at least half a texel ``tsize`` (N,) wide, tapering toward its tip."""
    x, y = np.abs(pos[:, 0]), pos[:, 1]
    my = lm.mouth[1]
    out = smoothstep(my - 0.001, my + 0.003, y) * smoothstep(lm.mouth_half_width + 0.014,
                                                             lm.mouth_half_width + 0.004, x)
    across = np.zeros_like(x)
    along = np.zeros_like(x)
    for w, top in ((out, 0.02), (1.0 - out, 0.12)):
        cy = my + top - y
        across += w * top * np.arctan2(x, cy)
        along += w * np.hypot(x, cy)
    space, length, opacity, rows = BEARD_STRAND
    width = np.maximum(0.00025, 0.45 * tsize) / space
    hair = np.zeros_like(x)
    draw = np.zeros_like(x)
    light = np.ones_like(x)
    for layer in range(rows):
        a = across / space + layer / rows
        k = np.floor(a)
        f = a - k - 0.5
        u = along / length + _hash01(k, layer, seed)
        j = np.floor(u)
        g = u - j
        strand_id = k * 1009.0 + j
        grows = _hash01(strand_id, layer + 10, seed) < cover
        profile = np.exp(-(f / width) ** 2)
        taper = smoothstep(0.0, 0.12, g) * (1.0 - g) ** 0.7
        s = grows * profile * taper * opacity
        better = s > hair
        hair = np.where(better, s, hair)
        draw = np.where(better, _hash01(strand_id, layer + 20, seed), draw)
        light = np.where(better, 0.8 + 0.35 * _hash01(strand_id, layer + 30, seed), light)
    return hair.astype(np.float32), draw, light


def _hash01(n: np.ndarray, salt: int, seed: int) -> np.ndarray:
    """A uniform value in [0, 1) per integer-valued ``n`` (float), ``salt`` and ``seed``."""
    h = (n.astype(np.int64) * 0x9E3779B1 + salt * 0x85EBCA77 + seed) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & 0xFFFFFFFF
    h ^= h >> 12
    h = (h * 0x297A2D39) & 0xFFFFFFFF
    h ^= h >> 15
    return h.astype(np.float64) / 2.0**32


def _paint_scalp_hair(surf: _Surface, albedo: np.ndarray, traits: Traits,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scalp hair painted under the hair shell, so gaps read as hair; returns the albedo, the
    (S, S) hair coverage and the strand pattern."""
    hair_rgb = np.asarray(traits.hair_rgb, np.float32)
    cov, density = hair_density(surf.pos, surf.reg, surf.lm, traits.hair_style)
    grey = {"grey": 0.5, "white": 0.8}.get(traits.hair_colour, 0.15 * traits.age_level)
    scalp_strands = hair_strands(surf.pos, surf.lm, rng, surf.size, density > 0.0, grey)
    edge = hairline_thinning(density, scalp_strands, traits.hair_rgb)
    if traits.hair_style == "buzz":
        albedo = _mix(albedo, hair_rgb, edge * (0.45 + 0.3 * scalp_strands))
    else:
        albedo = _mix(albedo, tint(0.7 + 0.5 * scalp_strands, hair_rgb), edge)
    return albedo, cov, scalp_strands


def _paint_clothing(surf: _Surface, albedo: np.ndarray, traits: Traits,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The garment below a neckline on the neck and torso (:mod:`pain3d.appearance.clothing`);
    returns the albedo and the (S, S) cloth coverage."""
    mesh = surf.mesh
    neck = mesh.regions == region_id("neck")
    if not neck.any():
        return albedo, np.zeros(surf.reg.shape, np.float32)
    fabric = 1.0 + 0.08 * smooth_noise(rng, surf.size, 64, 1)
    child = rng.spawn(1)[0]  # draws nothing of rng
    axis_z = neck_axis_z(mesh.vertices, neck, surf.lm)
    cloth, shade = garment(surf.pos, surf.reg == region_id("neck"), surf.lm, axis_z,
                           sample_neckline(child), child)
    albedo *= np.where(cloth > 0, 1.0, shade)[..., None]
    return _mix(albedo, tint(fabric * shade, np.asarray(traits.clothing_rgb, np.float32)),
                cloth), cloth


def _paint_ear_folds(surf: _Surface, albedo: np.ndarray) -> np.ndarray:
    """Shade the ears' island (in place) with the folds of an ear (helix, scapha, antihelix,
    concha, tragus, lobule: :func:`pain3d.appearance.ears.ear_form`); returns the (S, S)
    height offsets of the same folds for the bump mapping (0 off the ears)."""
    size = albedo.shape[0]
    rows, cols = np.nonzero(surf.reg == region_id("ear"))
    uv = (np.stack([cols, rows], -1) + 0.5) / size
    albedo[rows, cols] *= ear_form(uv)
    height = np.zeros((size, size), np.float32)
    height[rows, cols] = ear_relief(uv)
    return height


def hairline_thinning(density: np.ndarray, strands: np.ndarray,
                      hair_rgb: tuple[float, float, float]) -> np.ndarray:
    """(S, S) float32 hair opacity: where the hair density falls below 1 it thins out hair by
    hair, the brighter strands and a random share of follicles (drawn per person, seeded by
    the hair colour: no draw of the texture generator) keeping theirs longest, so the scalp
    shows through between them."""
    seed = zlib.crc32(np.asarray(hair_rgb, np.float64).tobytes())
    follicle = np.random.default_rng(seed).random(density.shape, np.float32)
    follicle = blur_texels(follicle, 0.5)
    follicle -= 0.5
    follicle *= 2.2  # the blur's spread back to about a uniform's
    thresh = 0.3 * follicle + (1.0 - strands)
    # Fine hairs are thinner, so fainter: a texel holding few lets the scalp show through.
    return np.clip((1.2 * density - thresh) * 3.0, 0.0, 1.0) * (0.5 + 0.5 * density)


def hair_strands(pos: np.ndarray, lm: FaceLandmarks, rng: np.random.Generator, size: int,
                 where: np.ndarray | None = None, grey: float = 0.0) -> np.ndarray:
    """(S, S) float in [0, 1]: locks of strands that run from the crown down
    (:func:`pain3d.appearance.scalp_hair.strand_pattern`), evaluated on the position map's
    texels ``where`` (all by default; 0.5 elsewhere), with large smooth clumps of lighter and
    darker hair over them.

    The locks draw from a child of ``rng``; ``rng`` itself gives the same draws as before
    they were added (a smooth field, a sweep, three spare phases, the clumps), so every later
    draw stays as it was.
    """
    locks = rng.spawn(1)[0]
    smooth_noise(rng, size, 6)  # spare: keeps the later draws of rng where they were
    sweep = 0.1 * rng.uniform(-2.0, 2.0)
    rng.uniform(0, 6.3, 3)  # spare, as above
    clumps = smooth_noise(rng, size, 24)
    out = 0.06 * clumps + 0.5
    rows, cols = np.nonzero(np.ones(out.shape, bool) if where is None else where)
    out[rows, cols] += strand_pattern(pos[rows, cols], lm, locks, texel_size(pos)[rows, cols],
                                      sweep=sweep, grey=grey) - 0.5
    return np.clip(blur_texels(out, 0.4), 0, 1).astype(np.float32)


def texel_size(pos: np.ndarray) -> np.ndarray:
    """(S, S) float32 metres: the longer side of each texel on the surface (the distance to
    its next texel along a row or a column of the position map, 0.1 mm at least: texels no
    triangle covers repeat their neighbour's position; 1 cm at most: across a seam)."""
    d2 = np.zeros(pos.shape[:2], np.float32)
    for axis in (0, 1):
        step = np.diff(pos, axis=axis)
        step *= step
        sq = step[..., 0] + step[..., 1] + step[..., 2]
        if axis == 0:
            np.maximum(d2[:-1], sq, out=d2[:-1])
        else:
            np.maximum(d2[:, :-1], sq, out=d2[:, :-1])
    return np.clip(np.sqrt(d2), 1e-4, 0.01)


def _facial_hair_mask(pos: np.ndarray, lm: FaceLandmarks, style: str, front: np.ndarray,
                      tpm: float) -> np.ndarray:
    """(S, S) float coverage of a facial-hair style on the lower face."""
    if style == "none":
        return np.zeros(pos.shape[:2], np.float32)
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    ax = np.abs(x)
    my = lm.mouth[1]
    # Up to the nose's base in the middle, lower toward the corners.
    top = my + 0.019 - 0.006 * smoothstep(0.004, lm.mouth_half_width, ax)
    moustache = (smoothstep(top, top - 0.006, y) * smoothstep(my - 0.002, my + 0.004, y)
                 * smoothstep(lm.mouth_half_width + 0.01, lm.mouth_half_width, ax))
    goatee = (smoothstep(0.024, 0.015, ax) * smoothstep(my - 0.004, my - 0.009, y)
              * smoothstep(lm.chin_y - 0.012, lm.chin_y - 0.002, y))
    # Full beard: below the cheek line, which runs over the upper lip, then from beside the
    # mouth corner up to the sideburn, sagging on the cheek (a curve, not straight segments),
    # a few millimetres up and down along its length.
    mw = lm.mouth_half_width + 0.005
    t = np.clip((ax - mw) / (0.08 - mw), 0.0, 1.0)
    sideburn = lm.eye_left[1] - 0.01
    cheek_line = np.where(ax < mw, my + 0.016 - 0.004 * ax / mw,
                          my + 0.012 + (sideburn - my - 0.012) * t ** 1.7)
    cheek_line = cheek_line + 0.003 * np.sin(ax * 180.0 + 0.7) * np.sin(y * 230.0)
    full = smoothstep(cheek_line + 0.006, cheek_line - 0.016, y)
    full *= smoothstep(lm.chin_y - 0.045, lm.chin_y - 0.025, y)
    full *= smoothstep(lm.face_z - 0.13, lm.face_z - 0.09, z)
    if style == "moustache":
        out = moustache
    elif style == "goatee":
        out = np.maximum(moustache, goatee)
    else:  # stubble and beard share the full area
        out = full
    return np.clip(out, 0, 1) * np.maximum(front, (style in ("stubble", "beard")) * 1.0)
