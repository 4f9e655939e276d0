"""Procedural eye region in UV space: the upper lid's crease and its shadow, the lids' own
skin tone, the lash fringes and the wet lower lid margin.

Pure functions of the position map (per-texel head-frame position, metres), evaluated only
on the texels around each eye. Every feature is placed by a texel's distance from its
eyeball's surface (the lids curve over the globe, so that distance grows from the lid margin
outward whatever the UV layout) and by its place along the opening, nasal to lateral.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pain3d.appearance.landmarks import FaceLandmarks
from pain3d.face.mesh import region_id
from pain3d.ramps import smoothstep

MARGIN_MM = 0.6
"""The lid margin's distance off the eyeball, mm (``EYE_CLEARANCE_CM`` of the rig): where
the lashes grow."""

CREASE_MM = (4.6, 5.8)
"""Hand-set: range of the upper-lid crease's distance off the eyeball, mm, a person's own.
The lid skin rises steeply off the globe above the margin: 5 mm off it lies about 3.5 mm
above the open margin and, with the lid closed, 6-7 mm above the closed line (as the
supratarsal fold of a real lid). A low crease (``Traits.lid_crease`` 0.3-0.7, common in
East Asian faces) lies 0.72-0.88 of that and is shallower; a monolid has none."""

LASH_REACH_MM = (1.5, 3.6)
"""Hand-set: how far the upper lash fringe reaches past the margin (off the eyeball), mm, at
the inner and at the outer end of the lid: lashes are longest and densest laterally. On a
closed lid the fringe would point up from the closed line: the renderer fades it there and
draws the lashes hanging down instead (``LIDS`` in :mod:`pain3d.render.shaders`)."""

LASH_SPACING_MM = 1.3
"""Hand-set: spacing of the lash clumps along the upper lid, mm (single lashes, 0.3 mm
apart, are finer than a texel; clumps of them give the fringe its broken edge)."""

CREASE_GROOVE = 0.22
"""Hand-set: depth of the crease's groove in height-map units (1 = 1.2 mm, see the shader):
0.25 mm on the deepest crease, enough for the bump shading to show a fold edge."""

_STRANDS = 256
"""Number of random strand lengths a person draws (clumps are indexed modulo it)."""


@dataclass(frozen=True)
class EyelidLook:
    """A person's own eye region, drawn once per identity (see :func:`sample_eyelid_look`).

    Attributes:
        crease: the crease's distance off the eyeball, mm (:data:`CREASE_MM`).
        crease_depth: how marked the crease is (0.5..1; a low, faint fold to a deep one;
            less on a low crease, 0 on a monolid).
        lash_length: factor on :data:`LASH_REACH_MM` (0.8..1.15).
        lash_density: the fringe's opacity (0.8..0.95).
        lid_tone: how much darker and pinker the lid skin is (0.6..1.2).
        strands: (_STRANDS,) relative length of each lash clump (0.55..1).
    """

    crease: float = 5.2
    crease_depth: float = 0.8
    lash_length: float = 1.0
    lash_density: float = 0.9
    lid_tone: float = 1.0
    strands: np.ndarray | None = None


def sample_eyelid_look(rng: np.random.Generator, fold: float = 1.0) -> EyelidLook:
    """A person's :class:`EyelidLook`, all drawn from ``rng``; ``fold`` is the person's
    ``Traits.lid_crease``: 1 an ordinary crease, 0.3-0.7 a low and shallow one (the skin
    above folds over it), 0 none (a monolid)."""
    crease, depth, length, density, tone = rng.uniform((CREASE_MM[0], 0.5, 0.8, 0.8, 0.6),
                                                      (CREASE_MM[1], 1.0, 1.15, 0.95, 1.2))
    strands = rng.uniform(0.55, 1.0, _STRANDS).astype(np.float32)
    if fold < 1.0:
        crease *= 0.6 + 0.4 * fold
        depth *= fold
    return EyelidLook(float(crease), float(depth), float(length), float(density), float(tone),
                      strands)


@dataclass(frozen=True)
class EyelidPaint:
    """The eye region's painting, on the texels ``idx`` only (flat indices into S x S).

    Attributes:
        idx: (N,) flat texel indices.
        shade: (N, 3) factor on the skin's albedo (lid tone, crease and its shadow).
        lash: (N,) lash coverage in [0, 1] (painted over the albedo in the lash colour).
        wet: (N,) the lower lid's wet inner margin in [0, 1] (pink, glossy).
        relief: (N,) change of the height map (the crease's groove), height units.
    """

    idx: np.ndarray
    shade: np.ndarray
    lash: np.ndarray
    wet: np.ndarray
    relief: np.ndarray


def paint_eyelids(pos: np.ndarray, reg: np.ndarray, lm: FaceLandmarks,
                  look: EyelidLook) -> EyelidPaint:
    """Paint both eye regions from the position map ``pos`` (S, S, 3) and the texels' region
    ids ``reg`` (S, S)."""
    r_mm = lm.eye_radius * 1000.0
    idx = _eye_texels(pos, reg, lm)
    p = pos.reshape(-1, 3)[idx]
    rg = reg.ravel()[idx]
    shade = np.ones((len(idx), 3), np.float32)
    lash = np.zeros(len(idx), np.float32)
    wet = np.zeros(len(idx), np.float32)
    relief = np.zeros(len(idx), np.float32)
    for eye in (lm.eye_left, lm.eye_right):
        side = (p[:, 0] > 0) == (eye[0] > 0)
        rel = (p[side] - eye.astype(np.float32)) * 1000.0  # mm
        front = rel[:, 2] > 0
        lat = rel[:, 0] * np.sign(eye[0])  # mm toward the ear
        d = np.linalg.norm(rel, axis=1) - r_mm  # mm off the eyeball
        t = lat / (0.92 * r_mm)  # along the opening: -1 inner corner, 1 outer corner
        angle = np.arctan2(rel[:, 1], lat)  # 0 lateral, pi / 2 up, pi nasal
        upper = (rg[side] == region_id("upper_eyelid")) & front
        lower = (rg[side] == region_id("lower_eyelid")) & front
        up_side = (rel[:, 1] > -1.0) & front
        sh, ridge = _crease(d, t, up_side, look)
        shade[side] *= sh * _lid_tone(d, t, rel[:, 1], up_side, look)
        relief[side] -= CREASE_GROOVE * look.crease_depth * ridge
        lash[side] = np.maximum(_upper_lashes(d, t, angle, upper, look),
                                _lower_lashes(d, t, angle, lower, look))
        wet[side] = smoothstep(0.55, 0.2, d) * smoothstep(-0.6, -0.2, d) * lower \
            * smoothstep(-0.95, -0.7, t)
    return EyelidPaint(idx=idx, shade=shade, lash=lash, wet=wet, relief=relief)


UV_MARGIN = 24
"""Hand-set: texels around the lids' bounding box in UV searched for texels near the eyes
(the lids' texels are about 0.6 mm: 14 mm). Measured on 6 identities: the same texels get
paint as when searching the whole map, and none within 1.5 mm of the search's edge."""


def _eye_texels(pos: np.ndarray, reg: np.ndarray, lm: FaceLandmarks) -> np.ndarray:
    """(N,) sorted flat indices of the texels within 24 mm (sideways) and 14-18 mm (down,
    up) of an eye's centre, the eyeballs' own left out. Searched only in the UV box of each
    side's lid texels (plus :data:`UV_MARGIN`): the whole map is 30 times larger."""
    S = reg.shape[0]
    lids = (reg == region_id("upper_eyelid")) | (reg == region_id("lower_eyelid"))
    out = []
    for eye in (lm.eye_left, lm.eye_right):
        side = lids & ((pos[..., 0] > 0) == (eye[0] > 0))
        rows, cols = np.flatnonzero(side.any(1)), np.flatnonzero(side.any(0))
        if not len(rows):
            continue
        r0, r1 = max(rows[0] - UV_MARGIN, 0), min(rows[-1] + UV_MARGIN + 1, S)
        c0, c1 = max(cols[0] - UV_MARGIN, 0), min(cols[-1] + UV_MARGIN + 1, S)
        p = pos[r0:r1, c0:c1]
        near = ((np.abs(p[..., 0] - eye[0]) < 0.024) & (np.abs(p[..., 1] - eye[1] - 0.002) < 0.016)
                & (reg[r0:r1, c0:c1] != region_id("eyeball")))
        rr, cc = np.nonzero(near)
        out.append((rr + r0) * S + cc + c0)
    return np.unique(np.concatenate(out)) if out else np.zeros(0, np.int64)


def _crease(d: np.ndarray, t: np.ndarray, up_side: np.ndarray,
            look: EyelidLook) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) shading of the upper-lid crease (a dark line, a soft shadow under the fold
    that overhangs it, a faint light on the fold's edge) and (N,) the crease line itself.

    The crease runs over the middle of the lid and fades at both ends; past the outer
    corner it lies a little higher."""
    along = smoothstep(-0.85, -0.4, t) * smoothstep(1.1, 0.8, t) * up_side
    c = look.crease + 0.8 * np.maximum(t - 0.6, 0.0)
    u = d - c
    line = np.exp(-(u / 0.8) ** 2) * along
    below = smoothstep(-2.2, 0.0, u) * smoothstep(0.4, -0.1, u) * along  # under the fold
    above = np.exp(-((u - 1.0) / 0.6) ** 2) * along  # the fold's rounded edge
    k = look.crease_depth
    dark = 0.14 * k * line + 0.1 * k * below - 0.03 * k * above
    shade = 1.0 - dark[:, None] * np.float32((0.85, 1.0, 1.0))  # a fold deepens the tone
    return shade.astype(np.float32), line.astype(np.float32)


def _lid_tone(d: np.ndarray, t: np.ndarray, dy: np.ndarray, up_side: np.ndarray,
              look: EyelidLook) -> np.ndarray:
    """(N, 3) factor on the albedo: the thin skin of the upper lid between margin and crease
    a little darker and pinker (vessels show through) and darker still toward the lashes,
    the skin above the crease toward the nose a little darker (the socket's hollow)."""
    along = smoothstep(-1.1, -0.8, t) * smoothstep(1.2, 0.95, t) * up_side
    tarsal = smoothstep(look.crease + 2.0, look.crease - 1.5, d) * along
    hollow = (smoothstep(look.crease - 0.5, look.crease + 1.5, d) * smoothstep(11.0, 7.0, d)
              * smoothstep(0.6, -0.4, t) * (dy > 0.0))
    # The lid rolls away from the light toward the lashes (over the globe when closed).
    roll = smoothstep(look.crease, 1.5, d) * along
    a = look.lid_tone
    out = np.ones((len(d), 3), np.float32)
    for k, (pink, dark) in enumerate(((0.01, 0.06), (0.035, 0.07), (0.022, 0.05))):
        out[:, k] -= a * (pink * tarsal + dark * hollow) + 0.06 * roll
    return out


def _strand_pattern(dist: np.ndarray, angle: np.ndarray, reach: np.ndarray, lean: np.ndarray,
                    radius: float, strands: np.ndarray) -> np.ndarray:
    """(N,) coverage of lash clumps growing ``reach`` mm out from a margin (``dist`` mm past
    it), leaning ``lean`` clump spacings toward the outer corner at their tips, each of its
    own length."""
    out = np.clip(dist / np.maximum(reach, 1e-3), 0.0, None)  # 0 root, 1 tip
    phase = angle * (radius / LASH_SPACING_MM) + lean * out
    k = np.floor(phase).astype(np.int64) % len(strands)
    across = np.abs(phase - np.floor(phase) - 0.5)  # 0 on a clump's axis
    length = strands[k]
    return (smoothstep(0.45, 0.1, across) * smoothstep(length, 0.6 * length, out)
            * (0.4 + 0.6 * length))  # short clumps are thinner, so paler


def _upper_lashes(d: np.ndarray, t: np.ndarray, angle: np.ndarray, upper: np.ndarray,
                  look: EyelidLook) -> np.ndarray:
    """(N,) upper lash fringe: a dense band along the margin with clumps past it, longer and
    denser toward the outer corner (on a closed lid the band lies along the closed line)."""
    if not upper.any():
        return np.zeros(len(d), np.float32)
    lateral = smoothstep(-0.7, 0.8, t)
    reach = (LASH_REACH_MM[0] + (LASH_REACH_MM[1] - LASH_REACH_MM[0]) * lateral) \
        * look.lash_length
    root = smoothstep(MARGIN_MM + 0.6 * reach, MARGIN_MM + 0.25 * reach, d)
    strands = _strand_pattern(d - MARGIN_MM, angle, reach, -1.8 * lateral, 14.0, look.strands)
    ends = smoothstep(-1.05, -0.8, t) * smoothstep(1.2, 1.0, t)
    cover = np.maximum(root, 0.8 * strands) * (0.85 + 0.15 * lateral)
    return (np.clip(cover * look.lash_density, 0.0, 0.95) * ends * upper).astype(np.float32)


def _lower_lashes(d: np.ndarray, t: np.ndarray, angle: np.ndarray, lower: np.ndarray,
                  look: EyelidLook) -> np.ndarray:
    """(N,) lower lashes: a soft line where they grow, along the margin's skin side (the
    lids' texels, about 0.6 mm, are too coarse for single strands: at 6 px per mm the
    line is what shows of them), and short sparse clumps, both mostly on the lid's outer
    half (a shut eye's upper lashes, which hang over the lower lid, are drawn by the
    renderer)."""
    if not lower.any():
        return np.zeros(len(d), np.float32)
    lateral = smoothstep(-0.6, 0.7, t)
    reach = (0.5 + 0.6 * lateral) * look.lash_length
    root = smoothstep(MARGIN_MM + 0.8, MARGIN_MM + 0.3, d) \
        * smoothstep(MARGIN_MM - 0.2, MARGIN_MM + 0.1, d)
    strands = _strand_pattern(d - MARGIN_MM, -angle, reach, 0.6 * lateral, 14.0,
                              look.strands[::-1])
    cover = np.maximum(0.5 * root * (0.4 + 0.6 * lateral), 0.3 * strands * lateral)
    return (cover * smoothstep(-1.0, -0.75, t) * smoothstep(1.15, 0.95, t) * lower
            ).astype(np.float32)
