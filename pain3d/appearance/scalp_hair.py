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


@dataclass(frozen=True)
class _Band:
    """One band of locks: boundaries in azimuth (radians, ascending, the first at 0 after
    the band's phase), each lock's tone, end angle and fine-hair offset."""

    start: float
    edges: np.ndarray  # (N + 1,) lock boundaries in [0, 2 pi]
    tone: np.ndarray  # (N,) brightness offset of each lock
    end: np.ndarray  # (N,) polar angle where each lock tapers off
    root: np.ndarray  # (N,) polar angle where each lock starts
    fine: np.ndarray  # (N,) offset into the fine-hair table
    fine_per_turn: float
    phase: float


def _bands(rng: np.random.Generator) -> list[_Band]:
    """Draw the locks of every band."""
    bands = []
    for k, (t0, t1) in enumerate(zip(BAND_RAD[:-1], BAND_RAD[1:])):
        mid = 0.5 * (t0 + t1)
        circ_mm = 2e3 * np.pi * HEAD_RADIUS * max(np.sin(min(mid, np.pi / 2)), 0.15)
        n = max(int(round(circ_mm / LOCK_MM)), 6)
        w = rng.lognormal(0.0, 0.55, n)
        edges = np.concatenate([[0.0], np.cumsum(w)]) * (2 * np.pi / w.sum())
        reach = BAND_OVERLAP if k < len(BAND_RAD) - 2 else 0.0
        bands.append(_Band(
            start=t0, edges=edges, tone=rng.normal(0.0, 0.07, n),
            end=t1 + reach * rng.uniform(0.3, 1.0, n),
            root=t0 - (0.1 if k else 1.0) * rng.uniform(0.0, 1.0, n),
            fine=rng.uniform(0, 1024, n), fine_per_turn=circ_mm / FINE_MM,
            phase=rng.uniform(0, 2 * np.pi)))
    return bands


def flow_coords(pos: np.ndarray, lm: FaceLandmarks) -> tuple[np.ndarray, np.ndarray]:
    """(theta, phi) of head-frame points (..., 3): polar angle from the crown and azimuth
    about the flow's axis (radians, float32)."""
    mid = 0.5 * (np.asarray(lm.eye_left) + np.asarray(lm.eye_right))
    centre = mid + np.asarray(HEAD_CENTRE)
    axis = np.asarray(CROWN) - np.asarray(HEAD_CENTRE)
    axis /= np.linalg.norm(axis)
    e1 = np.array([1.0, 0.0, 0.0])  # the axis lies in the mid-sagittal plane
    e2 = np.cross(axis, e1)
    d = (pos - centre).astype(np.float32)
    a = d @ axis.astype(np.float32)
    x = d @ e1.astype(np.float32)
    y = d @ e2.astype(np.float32)
    theta = np.arctan2(np.hypot(x, y), a)
    return theta, np.arctan2(y, x)


def strand_pattern(pos: np.ndarray, lm: FaceLandmarks, rng: np.random.Generator,
                   sweep: float = 0.0, grey: float = 0.0) -> np.ndarray:
    """Strand brightness in [0, 1] (0.5 average) at head-frame points (N, 3).

    Args:
        pos: (N, 3) metres, head frame.
        lm: landmarks of the identity.
        rng: draws the locks (a child of the texture generator).
        sweep: azimuth (radians) the strands drift per radian down from the crown: hair
            combed to one side.
        grey: share of light (grey) strands among the fine hairs, 0 to 1.
    """
    theta, phi = flow_coords(pos, lm)
    twist = WHORL_TWIST * np.log(np.clip(theta, 0.02, WHORL_RAD) / WHORL_RAD)
    phi = phi + twist + sweep * theta
    bands = _bands(rng)
    fine_tab = rng.normal(0.0, 1.0, 1024).astype(np.float32)
    light = rng.uniform(0, 1, 1024) < 0.03 + 0.3 * grey
    fine_tab[light] = 2.5
    acc = np.zeros(theta.shape, np.float32)
    cover = np.zeros(theta.shape, np.float32)
    for band in bands:
        sel = np.nonzero((theta > band.root.min()) & (theta < band.end.max()))[0]
        if not len(sel):
            continue
        th = theta[sel]
        u = np.mod(phi[sel] + band.phase, 2 * np.pi)
        i = np.clip(np.searchsorted(band.edges, u) - 1, 0, len(band.tone) - 1)
        lo, hi = band.edges[i], band.edges[i + 1]
        x = (u - lo) / (hi - lo)  # 0..1 across the lock
        # The lock narrows to its tip over its last 0.25 rad and fades in at its root.
        half = np.sqrt(np.clip((band.end[i] - th) / 0.25, 0, 1))
        e = np.abs(2 * x - 1) / np.maximum(half, 1e-3)
        c = np.clip((1 - e) * 5, 0, 1) * np.clip((th - band.root[i]) / 0.08, 0, 1)
        body = np.sqrt(np.clip(1 - e * e, 0, 1))  # lighter centre, darker edges
        f = u * (band.fine_per_turn / (2 * np.pi)) + band.fine[i]
        fi = f.astype(np.int64)
        ft = (f - fi).astype(np.float32)
        fine = fine_tab[fi % 1024] * (1 - ft) + fine_tab[(fi + 1) % 1024] * ft
        val = 0.42 + 0.22 * body + band.tone[i] + 0.07 * fine
        acc[sel] += c * val
        cover[sel] += c
    val = acc / np.maximum(cover, 1e-3)
    return np.clip(0.18 + (val - 0.18) * np.clip(cover, 0, 1), 0, 1)
