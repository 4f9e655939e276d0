"""Fine skin detail in UV space: pores in the relief, blotchy colour, patchy sheen.

Painted at the texture's own resolution: at 512 texels a texel of the face spans 0.6-0.9 mm
and one to three pixels of a 512-1024 px render, so pores are single soft texels (a real
pore is smaller; what survives is the orange-peel grain they give), and nothing finer is
drawn, since it would only alias. The pores are noise on the head-frame position, not per
texel: the UV map stretches the skin (the nose's sides, the cheeks toward the ears: up to 4
times more millimetres per texel one way than the other), and bump-mapped texel noise there
shows as streaks and strands.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pain3d.appearance.paint import blur_texels, smooth_noise
from pain3d.face.mesh import REGIONS

PORE_STRENGTH = {"nose": 1.0, "cheek": 0.8, "chin_jaw": 0.55, "upper_lip_skin": 0.5,
                 "glabella": 0.45, "skin": 0.4, "forehead": 0.3, "lower_eyelid": 0.1}
"""Hand-set: how deep the pores of each face region are, 1 on the nose (largest, densest),
least on the forehead; regions left out (lids, lips, brows, and the ears, neck and scalp,
whose texels are too stretched for them) have none."""

PORE_CELL = 0.0013
"""Metres: the side of the 3-D grid the pores' noise is drawn on (hand-set): bumps and pits
about a millimetre across, the finest that the texels of the nose, cheeks and forehead
(0.4-1.2 mm at 512 texels; the chin's and upper lip's are 1.5-2.8 mm and get the coarser
:data:`COARSE_CELL` instead) draw round rather than as a streak along their longer side."""

COARSE_CELL = 2.5 * PORE_CELL
"""Metres: the grid of the pores' stand-in where the texels are too long for
:data:`PORE_CELL` (hand-set): the chin's and upper lip's texels (1.5-2.8 mm) draw it
round, as a fine grain rather than pores."""

COARSE_GAIN = 1.6
"""Hand-set: depth of the :data:`COARSE_CELL` grain relative to the pores: deeper, since
its bumps are 2.5 times wider and their slopes, which the bump shading shows, as much
gentler (at 1.6 about 0.6 of the pores' slope; at 1 the chin looked flat at 512 px)."""

_STRENGTH = np.array([PORE_STRENGTH.get(r, 0.0) for r in REGIONS], np.float32)


def pore_strength(reg: np.ndarray, tpm: float) -> np.ndarray:
    """(S, S) float32 :data:`PORE_STRENGTH` of each texel's region ``reg`` (S, S), blurred
    over about 3 mm so that it fades between regions (``tpm`` texels per millimetre)."""
    return blur_texels(_STRENGTH[reg], 3.0 * tpm)


_LATTICE = (128, 64, 64)
"""Side of the random lattice :func:`value_noise` tiles space with, in cells per axis
(x, y, z; powers of two): 166 x 83 x 83 mm at :data:`PORE_CELL`, so no pattern repeats
across the face."""


@lru_cache(maxsize=1)
def _lattice() -> np.ndarray:
    """(X * Y * Z,) float32 uniform values in (-1, 1), the same in every process."""
    return np.random.default_rng(0x5C1A).uniform(-1.0, 1.0, int(np.prod(_LATTICE))).astype(
        np.float32)


def value_noise(pos: np.ndarray, cell: float, seed: int) -> np.ndarray:
    """(N,) float32 smooth 3-D value noise in (-1, 1) (std about 0.3) at ``pos`` (N, 3)
    metres: a random value at each corner of a grid of side ``cell`` metres, blended with
    smoothstep weights. The values come from a fixed lattice (:data:`_LATTICE` cells a
    side, tiled), shifted by an offset drawn from ``seed``: the same points and seed give
    the same values."""
    offset = np.random.default_rng(seed).integers(0, _LATTICE).astype(np.int32)
    g = np.ascontiguousarray(pos.T, np.float32) * np.float32(1.0 / cell)  # (3, N): rows
    corner = np.floor(g)
    w = g - corner
    w = w * w * (3.0 - 2.0 * w)
    corner = corner.astype(np.int32) + offset[:, None]
    nx, ny, nz = _LATTICE
    # Flat lattice index of the lower and upper corner along each axis.
    ix = [((corner[0] + d) & (nx - 1)) * (ny * nz) for d in (0, 1)]
    iy = [((corner[1] + d) & (ny - 1)) * nz for d in (0, 1)]
    iz = [(corner[2] + d) & (nz - 1) for d in (0, 1)]
    table = _lattice()
    wx, wy, wz = w
    planes = []
    for dz in (0, 1):
        rows = []
        for dy in (0, 1):
            yz = iy[dy] + iz[dz]
            v0, v1 = table[ix[0] + yz], table[ix[1] + yz]
            rows.append(v0 + wx * (v1 - v0))
        planes.append(rows[0] + wy * (rows[1] - rows[0]))
    return planes[0] + wz * (planes[1] - planes[0])


def texel_footprint(pos: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(N,) metres: the longer of the two sides of the texels at flat indices ``idx`` (N,)
    on the surface, from the position map ``pos`` (S, S, 3) (large across seams). Measured
    between every other texel, which is as good for a size that changes per triangle, at a
    quarter of the cost."""
    half = pos[::2, ::2]
    ones = np.ones(3, np.float32)
    du = np.diff(half, axis=1)
    dv = np.diff(half, axis=0)
    side2 = np.zeros(half.shape[:2], np.float32)
    side2[:, :-1] = (du * du) @ ones
    np.maximum(side2[:-1], (dv * dv) @ ones, out=side2[:-1])
    size = pos.shape[1]
    half_idx = (idx // (2 * size)) * side2.shape[1] + (idx % size) // 2
    return 0.5 * np.sqrt(side2.ravel()[half_idx])


def pore_relief(pos: np.ndarray, strength: np.ndarray, seed: int) -> np.ndarray:
    """(S, S) float32 pores as bumps and pits, zero mean, std about 0.3 * ``strength``:
    :func:`value_noise` on a :data:`PORE_CELL` grid of the position map ``pos`` (S, S, 3),
    evaluated where ``strength`` (S, S) > 0.02, faded out where a texel is longer than a
    cell one way (the UV map stretches the skin there: the texels would draw the noise out
    into streaks). Where it fades, the same noise on a :data:`COARSE_CELL` grid fades in
    (:data:`COARSE_GAIN` as deep), so that the chin and upper lip keep a grain."""
    idx = np.flatnonzero(strength.ravel() > 0.02)
    foot = texel_footprint(pos, idx)
    fade = _fade(foot, PORE_CELL)
    keep = fade > 0.0
    out = np.zeros(strength.shape, np.float32)
    flat, p, s = out.ravel(), pos.reshape(-1, 3), strength.ravel()
    flat[idx[keep]] = value_noise(p[idx[keep]], PORE_CELL, seed) * (s[idx[keep]] * fade[keep])
    coarse = _fade(foot, COARSE_CELL) * (1.0 - fade)
    keep = coarse > 0.0
    flat[idx[keep]] += (value_noise(p[idx[keep]], COARSE_CELL, seed + 1)
                        * (COARSE_GAIN * s[idx[keep]] * coarse[keep]))
    return out


def _fade(foot: np.ndarray, cell: float) -> np.ndarray:
    """(N,) 1 where texels of footprint ``foot`` (N,) metres draw noise of ``cell`` metres
    round, falling to 0 where a texel is longer than 1.2 cells."""
    return np.clip((1.2 * cell - foot) / (0.4 * cell), 0.0, 1.0)


def skin_fields(rng: np.random.Generator, size: int) -> np.ndarray:
    """(S, S, 3) float32 zero-mean unit-ish-std smooth fields of blotches about 13 mm across
    (32 cells over the texture): haemoglobin (redness), melanin (brownness) and sheen (oil,
    dryness; smooth enough to be sampled per vertex)."""
    return smooth_noise(rng, size, 32, channels=3)
