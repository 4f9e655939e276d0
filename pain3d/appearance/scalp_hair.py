"""Procedural scalp hair's strand pattern: locks of varied width that taper, with dark gaps
between them and lighter centres, fine hairs inside each lock, a spiral whorl at the crown.

Pure functions of the position map (per-texel head-frame position, metres). The hair flows
down the meridians of an axis through a head centre and the crown point the shader uses for
the strands' highlights (:mod:`pain3d.render.shaders`, ``reg == 16``): the shader's strand
direction at a point is the crown-to-point vector laid on the surface, which lies in the
plane of that axis and the point, so on a round head it runs along the same meridian and the
highlights run across the pattern's strands. A point is placed by its polar angle from the
crown (``theta``, along the strands) and its azimuth about the axis (``phi``, across them).

Locks are laid in overlapping bands of ``theta``: each band holds its own set of locks, so
there are fewer, narrower locks near the crown instead of one set of stripes converging on
it (a pinwheel), and each lock starts and tapers off at its own angle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pain3d.appearance.landmarks import FaceLandmarks

CROWN = (0.0, 0.115, -0.1)
"""Crown point relative to the eyes' midpoint, metres: the same point the shader's strand
direction starts from (``vec3(0.0, 0.115, -0.1)`` in :mod:`pain3d.render.shaders`)."""

HEAD_CENTRE = (0.0, 0.02, -0.077)
"""Hand-set from sphere fits of the scalp of a few identities (centre 0.017-0.023 m above
and 0.066-0.086 m behind the eyes' midpoint, radius 0.084-0.091 m): the other point of the
flow's axis."""

HEAD_RADIUS = 0.088
"""Radius of that sphere, metres: turns angles into lengths on the scalp."""

BAND_RAD = (0.0, 0.3, 0.75, 1.25, 1.75, 2.3, 3.2)
"""Hand-set: polar angles (from the crown, radians) where the bands of locks start; each
band reaches a little into the next (``BAND_OVERLAP``), its locks ending at staggered
angles there."""

BAND_OVERLAP = 0.22
"""Hand-set: how far (radians) a band's locks reach past the next band's start, at most."""

LOCK_MM = 7.0
"""Hand-set: mean lock width, mm (a band's lock count is its mid circumference over this)."""

FINE_MM = 1.6
"""Hand-set: spacing of the fine hairs inside a lock, mm (about two texels at 512: single
hairs, 0.1 mm, are far finer than a texel; these are the small groups a texel can show)."""

WHORL_TWIST = 0.45
"""Hand-set: twist of the crown's whorl (azimuth gained per unit of log polar angle); the
strands spiral out of the crown at about this many radians off the meridian."""

WHORL_RAD = 0.6
"""Polar angle (radians) past which the whorl's twist is spent (the strands run along the
meridians)."""


TABLE_BINS = 4096
"""Bins of azimuth per turn in each band's lock table (0.14 mm at the widest band)."""


GAP = 0.25
"""Hand-set: the pattern's value (0.5 average) in the gaps between locks: the shadowed
hair under them, about 0.7 of the average brightness on the shell (see the shader)."""

CALM_RAD = 0.12
"""Hand-set: polar angle (radians, 1 cm) over which the locks fade in around the crown."""


PEPPER_SHARE = 0.35
"""Hand-set: share of the fine hairs that kept their pigment, per unit of greyness (grey
hair 0.5: 18 %, white 0.8: 28 %)."""

GREY_TONE = 1.5
"""Hand-set: how much more the locks' tones spread per unit of greyness."""

PEPPER_DEPTH = 6.0
"""Hand-set: how much darker (fine-hair units, per unit of greyness) those hairs are than
the average: on grey hair about a lock's gap darker, dark strands among the light ones."""


@dataclass(frozen=True)
class _Band:
    """One band of locks, tabulated over azimuth: ``table[:, q]`` is (distance from the
    lock's centre line, 0 there to 1 at its edges, the lock's width in radians of azimuth,
    its tone, the angle where it tapers off, the angle where it starts,
    fine-hair brightness) in bin ``q`` of :data:`TABLE_BINS` (the band's phase applied)."""

    lo: float  # polar angle where the band's first lock starts
    hi: float  # polar angle where its last lock ends
    table: np.ndarray  # (6, TABLE_BINS) float32


def _bands(rng: np.random.Generator, fine_tab: np.ndarray, grey: float) -> list[_Band]:
    """Draw the locks of every band and tabulate them (greying hair's locks differ more in
    tone: some kept more of their pigment than others)."""
    bands = []
    u = (np.arange(TABLE_BINS) + 0.5) * (2 * np.pi / TABLE_BINS)
    for k, (t0, t1) in enumerate(zip(BAND_RAD[:-1], BAND_RAD[1:], strict=True)):
        mid = 0.5 * (t0 + t1)
        circ_mm = 2e3 * np.pi * HEAD_RADIUS * max(np.sin(min(mid, np.pi / 2)), 0.15)
        n = max(int(round(circ_mm / LOCK_MM)), 6)
        w = rng.lognormal(0.0, 0.55, n)
        edges = np.concatenate([[0.0], np.cumsum(w)]) * (2 * np.pi / w.sum())
        reach = BAND_OVERLAP if k < len(BAND_RAD) - 2 else 0.0
        tone = rng.normal(0.0, 0.09, n) * (1.0 + GREY_TONE * grey)
        end = t1 + reach * rng.uniform(0.3, 1.0, n)
        root = t0 + (rng.uniform(0.0, 0.15, n) if k == 0 else -0.1 * rng.uniform(0.0, 1.0, n))
        fine0 = rng.uniform(0, len(fine_tab), n)
        v = np.mod(u + rng.uniform(0, 2 * np.pi), 2 * np.pi)
        i = np.clip(np.searchsorted(edges, v) - 1, 0, n - 1)
        f = v * (circ_mm / FINE_MM / (2 * np.pi)) + fine0[i]
        fine = np.interp(f, np.arange(len(fine_tab)), fine_tab, period=len(fine_tab))
        x = np.abs(2 * (v - edges[i]) / (edges[i + 1] - edges[i]) - 1)
        table = np.stack([x, w[i] * (2 * np.pi / w.sum()), tone[i], end[i], root[i], fine])
        table = table.astype(np.float32)
        bands.append(_Band(float(root.min()), float(end.max()), table))
    return bands


def flow_coords(pos: np.ndarray, lm: FaceLandmarks) -> tuple[np.ndarray, np.ndarray]:
    """(theta, phi) of head-frame points (N, 3): polar angle from the crown and azimuth
    about the flow's axis (radians, float32)."""
    mid = 0.5 * (np.asarray(lm.eye_left) + np.asarray(lm.eye_right))
    centre = mid + np.asarray(HEAD_CENTRE)
    axis = np.asarray(CROWN) - np.asarray(HEAD_CENTRE)
    axis /= np.linalg.norm(axis)
    e2 = np.cross(axis, [1.0, 0.0, 0.0])  # the axis lies in the mid-sagittal plane: x is e1
    d = pos.astype(np.float32) - centre.astype(np.float32)
    x = d[:, 0]  # no matrix products: BLAS threads would spin in a pool worker
    a = d[:, 1] * np.float32(axis[1]) + d[:, 2] * np.float32(axis[2])
    y = d[:, 1] * np.float32(e2[1]) + d[:, 2] * np.float32(e2[2])
    theta = np.arctan2(np.hypot(x, y), a)
    return theta, np.arctan2(y, x)


def azimuth_bin(phi: np.ndarray) -> np.ndarray:
    """(N,) int32 bin in [0, :data:`TABLE_BINS`) of azimuths ``phi`` (radians, any turn). In
    float32 ``mod(phi, 2 pi)`` of a tiny negative angle rounds to 2 pi itself, one past the
    last bin: the bin index wraps too."""
    q = (np.mod(phi, np.float32(2 * np.pi)) * np.float32(TABLE_BINS / (2 * np.pi))).astype(
        np.int32)
    return np.remainder(q, TABLE_BINS, out=q)


def strand_pattern(pos: np.ndarray, lm: FaceLandmarks, rng: np.random.Generator,
                   texel: np.ndarray | float = 0.0007, sweep: float = 0.0,
                   grey: float = 0.0) -> np.ndarray:
    """Strand brightness in [0, 1] (0.5 average) at head-frame points (N, 3).

    Args:
        pos: (N, 3) metres, head frame.
        lm: landmarks of the identity.
        rng: draws the locks (a child of the texture generator).
        texel: (N,) or scalar footprint of a texel at each point, metres (its longer side):
            the locks' edges are softened and the fine hairs faded to what it can hold.
        sweep: azimuth (radians) the strands drift per radian down from the crown: hair
            combed to one side.
        grey: share of light (grey) strands among the fine hairs, 0 to 1.
    """
    theta, phi = flow_coords(pos, lm)
    twist = WHORL_TWIST * np.log(np.clip(theta, 0.02, WHORL_RAD) * (1.0 / WHORL_RAD))
    phi += twist + np.float32(sweep) * theta
    fine_tab = rng.normal(0.0, 1.0, 1024)
    share = rng.uniform(0, 1, 1024)
    fine_tab[share < 0.03 + 0.3 * grey] = 2.5  # lighter (grey) hairs
    # Greying hair is salt and pepper: the hairs that kept their pigment are much darker.
    fine_tab[share > 1.0 - PEPPER_SHARE * grey] = -2.5 - PEPPER_DEPTH * grey
    bands = _bands(rng, fine_tab, grey)
    texel = np.broadcast_to(np.asarray(texel, np.float32), theta.shape)
    # Fine hairs as strong as the texels resolve them (two texels a hair at full strength).
    fine_amp = np.clip(np.float32(FINE_MM * 1e-3) / texel - 1.0, 0.0, 1.0) * np.float32(0.07)
    q = azimuth_bin(phi)
    acc = np.zeros(theta.shape, np.float32)
    cover = np.zeros(theta.shape, np.float32)
    for band in bands:
        sel = np.nonzero((theta > band.lo) & (theta < band.hi))[0]
        if not len(sel):
            continue
        th = theta[sel]
        ax, width, tone, end, root, fine = band.table[:, q[sel]]
        # The lock narrows to its tip over its last 0.25 rad and fades in at its root.
        half = np.sqrt(np.clip((end - th) * 4.0, 1e-6, 1.0))
        # Its edge is a texel wide (at least a fifth of its half-width).
        sharp = width * half * np.sin(np.maximum(th, 0.05))
        sharp *= np.float32(0.5 * HEAD_RADIUS) / texel[sel]
        np.clip(sharp, 1.0, 5.0, out=sharp)
        e = np.divide(ax, half, out=ax)
        c = np.clip((1.0 - e) * sharp, 0.0, 1.0)
        c *= np.clip((th - root) * 12.5, 0.0, 1.0)
        body = np.maximum(1.0 - e * e, 0.0)  # lighter centre, darker edges
        body *= 0.3
        body += tone
        body += fine_amp[sel] * fine + 0.34
        body *= c
        acc[sel] += body
        cover[sel] += c
    val = acc / np.maximum(cover, 1e-3)
    val = GAP + (val - GAP) * np.clip(cover, 0, 1)
    # At the whorl's centre the hairs stand up and part in every direction: no locks there.
    calm = np.clip((theta - 0.02) * (1.0 / CALM_RAD), 0.0, 1.0)
    return np.clip(0.45 + (val - 0.45) * calm, 0, 1)
