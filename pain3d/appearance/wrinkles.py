"""Expression wrinkles driven by the pain AUs: where they are painted and how deep they show.

Two pure pieces, shared by every appearance (procedural textures, photo textures):

* :func:`wrinkle_weights`: AU vector -> (4,) depth of each channel of
  :data:`WRINKLE_CHANNELS` (the renderer multiplies the wrinkle map by it);
* :func:`paint_wrinkles`: a position map (head-frame point per texel) and a few landmarks ->
  the named wrinkle patterns, in [0, 1] per texel.

Channels and the AUs that deepen them (FACS):

* ``glabellar``: vertical furrows between the brows, short horizontal lines at the root of
  the nose; AU4.
* ``nose``: transverse and oblique wrinkles over the root and the sides of the nose ("bunny
  lines"); AU9 (a little with AU10).
* ``periorbital``: crow's feet fanning from the outer eye corner, bunching lines under the
  lower lid and the infraorbital furrow; AU6 and AU7.
* ``nasolabial``: the nasolabial fold from the nose wing to beside the mouth corner; AU10,
  AU9 and (its upper part) AU6. The rig also deepens it geometrically
  (:data:`pain3d.face.rig.FURROW_DEPTH_CM`), so it shades as a fold, not only as a line.

Positions and sizes are metres in the head frame (x to the subject's left, y up); patterns
are placed from the landmarks, so they follow any face shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pain3d.appearance.landmarks import FaceLandmarks
from pain3d.appearance.paint import Canvas, arc, arc_reach, in_box

WRINKLE_CHANNELS: tuple[str, ...] = ("glabellar", "nose", "periorbital", "nasolabial")
"""Channels of the wrinkle map (RGBA of the wrinkle texture), in this order."""

CREASE_HALF_WIDTH_M = 0.0007
"""Gaussian half-width of a fine crease, metres."""


def wrinkle_weights(aus: np.ndarray | None) -> np.ndarray:
    """(4,) float32 depth of each :data:`WRINKLE_CHANNELS` channel, each in [0, 1].

    A pure function of the pain AUs (FACS 0..5, order ``[AU4, AU6, AU7, AU9, AU10, AU43]``):
    glabellar <- AU4; nose <- AU9 (0.3 of AU10); periorbital <- the stronger of AU6 and
    0.8 AU7; nasolabial <- the strongest of AU10, 0.85 AU9 and 0.6 AU6. A gentle power curve
    makes low intensities visible. None gives zeros (no expression wrinkles).
    """
    if aus is None:
        return np.zeros(len(WRINKLE_CHANNELS), np.float32)
    a = np.clip(np.asarray(aus, np.float64), 0, 5) / 5.0
    if a.shape != (6,):
        raise ValueError(f"aus must be (6,) [AU4, AU6, AU7, AU9, AU10, AU43], got {a.shape}")
    au4, au6, au7, au9, au10, _ = a
    w = np.array([au4, max(au9, 0.3 * au10), max(au6, 0.8 * au7),
                  max(au10, 0.85 * au9, 0.6 * au6)])
    return np.clip(w ** 0.8 * 1.1, 0, 1).astype(np.float32)


@dataclass(frozen=True)
class GlabellarPattern:
    """Where one face's brow-lowering lines lie: people differ (one deep furrow, the
    "11", three lines, lines of unequal length on the two sides, procerus lines or none).

    Attributes:
        furrows: vertical furrows between the brows, each ``(x, top, weight, lean)``: ``x``
            metres from the midline (positive: the subject's left), from 8 mm below the brow
            line up to ``top`` metres above it; ``lean``: how far the top moves toward the
            midline.
        procerus: horizontal lines across the root of the nose, each ``(dy, half_length,
            weight)``, ``dy`` metres from the brow line (negative: below).
    """

    furrows: tuple[tuple[float, float, float, float], ...]
    procerus: tuple[tuple[float, float, float], ...]


DEFAULT_GLABELLAR = GlabellarPattern(
    furrows=tuple((s * x, top, weight, 0.0015) for s in (1.0, -1.0)
                  for x, top, weight in ((0.0045, 0.017, 1.0), (0.009, 0.011, 0.6))),
    procerus=((-0.013, 0.005, 0.45), (-0.017, 0.004, 0.3)))
"""The pattern of :func:`wrinkle_map` (faces without a random draw, e.g. photo identities):
two furrows on each side, the inner one longer, and two procerus lines."""


def sample_glabellar(rng: np.random.Generator) -> GlabellarPattern:
    """A random :class:`GlabellarPattern`: one to three furrows on each side (the two sides
    alike but not equal, sometimes one furrow fewer), sometimes one on the midline, zero to
    three procerus lines. Sizes are hand-set around :data:`DEFAULT_GLABELLAR`'s."""
    count = int(rng.choice([1, 2, 3], p=[0.3, 0.5, 0.2]))
    inner = rng.uniform(0.003, 0.0055)
    spacing = rng.uniform(0.003, 0.0045)
    length = rng.uniform(0.018, 0.028)
    furrows = []
    for side in (-1.0, 1.0):
        n = count - int(count > 1 and rng.random() < 0.2)
        jitter = rng.uniform(0.85, 1.15, 3)
        for k in range(n):
            furrows.append((side * min((inner + k * spacing) * jitter[0], 0.013),
                            length * jitter[1] * rng.uniform(0.55, 0.8) ** k - 0.008,
                            min(1.0, rng.uniform(0.7, 1.0) * jitter[2] * 0.75 ** k),
                            rng.uniform(0.0005, 0.0025)))
    if rng.random() < 0.15:
        furrows.append((rng.uniform(-0.001, 0.001), length * rng.uniform(0.4, 0.7) - 0.008,
                        rng.uniform(0.4, 0.8), 0.0))
    procerus = tuple((-0.012 - 0.004 * k + rng.uniform(-0.0015, 0.0015),
                      rng.uniform(0.003, 0.0065), rng.uniform(0.2, 0.5))
                     for k in range(int(rng.integers(0, 4))))
    return GlabellarPattern(tuple(furrows), procerus)


def paint_wrinkles(cv: Canvas, pos: np.ndarray, lm: FaceLandmarks,
                   where: np.ndarray | None = None,
                   glabellar: GlabellarPattern = DEFAULT_GLABELLAR) -> dict[str, np.ndarray]:
    """Wrinkle patterns of one face, each (S, S) float32 in [0, 1] (not yet masked).

    Args:
        cv: a :class:`~pain3d.appearance.paint.Canvas` over ``pos`` (front texels).
        pos: (S, S, 3) head-frame position of each texel, metres.
        lm: the face's landmarks.
        where: (S, S) bool, the texels the arcs (under the eyes, across the nose) are painted
            on; 0 elsewhere. None = every texel. Seen from the front, the back of the head
            lies behind the face, so a mask that drops it saves most of the arcs' work.
        glabellar: the face's brow-lowering lines.

    Returns:
        ``glabellar``, ``nose``, ``crows_feet``, ``infraorbital`` (lower-lid bunching and the
        infraorbital furrow) and ``nasolabial``; :func:`wrinkle_channels` stacks them.
    """
    shape = pos.shape[:2]
    w = CREASE_HALF_WIDTH_M
    out = {k: np.zeros(shape, np.float32)
           for k in ("glabellar", "nose", "crows_feet", "infraorbital", "nasolabial")}
    eye_y = 0.5 * float(lm.eye_left[1] + lm.eye_right[1])
    for eye in (lm.eye_left, lm.eye_right):
        s = float(np.sign(eye[0]))
        _periorbital(cv, eye, s, out)
        _nasolabial(cv, lm, s, out["nasolabial"])
        # Bunny lines: oblique wrinkles down and out from the sides of the upper nose.
        for k, (dy, length) in enumerate(((0.004, 0.012), (0.0, 0.014), (-0.004, 0.011))):
            y0 = eye_y + dy - 0.002 * k
            cv.stroke(out["nose"], [s * 0.005, y0], [s * (0.005 + length), y0 - 0.6 * length],
                      w * 1.3, weight=0.8, taper=0.4)
    # Glabellar furrows, converging a little upward; procerus lines: short horizontal
    # creases across the root of the nose.
    for x, top, weight, lean in glabellar.furrows:
        cv.stroke(out["glabellar"], [x, lm.brow_y - 0.008],
                  [x - np.sign(x) * lean, lm.brow_y + top], w * 1.2, weight=weight)
    for dy, half, weight in glabellar.procerus:
        cv.stroke(out["glabellar"], [-half, lm.brow_y + dy], [half, lm.brow_y + dy], w,
                  weight=weight, taper=0.45)
    _paint_arcs(pos, _arcs(lm, eye_y), out, where)
    return {k: np.clip(v, 0, 1) for k, v in out.items()}


def _arcs(lm: FaceLandmarks, eye_y: float) -> list[tuple]:
    """The arched wrinkles, in painting order, as (channel, weight, centre (x, y), radius,
    a0, a1, width) of :func:`~pain3d.appearance.paint.arc`."""
    w = CREASE_HALF_WIDTH_M
    out = []
    for eye in (lm.eye_left, lm.eye_right):
        # Lower-lid bunching: short arcs under the lid margin, then the infraorbital furrow.
        out += [("infraorbital", 0.8, eye[:2] + [0.0, 0.004], 0.013, -np.pi / 2 - 0.6,
                 -np.pi / 2 + 0.6, w * 1.1),
                ("infraorbital", 0.6, eye[:2] + [0.0, 0.004], 0.0155, -np.pi / 2 - 0.5,
                 -np.pi / 2 + 0.5, w * 1.1),
                ("infraorbital", 1.0, eye[:2] + [0.0, 0.006], 0.021, -np.pi / 2 - 0.75,
                 -np.pi / 2 + 0.75, w * 1.3)]
    # Transverse wrinkles across the bridge, gently arched.
    for k in range(3):
        y = eye_y + 0.006 - 0.004 * k
        out.append(("nose", 0.75, np.array([0.0, y - 0.03]), 0.03, np.pi / 2 - 0.3,
                    np.pi / 2 + 0.3, w * 1.2))
    return out


def _paint_arcs(pos: np.ndarray, arcs: list[tuple], out: dict[str, np.ndarray],
                where: np.ndarray | None) -> None:
    """Add each weighted arc to its channel of ``out``, in order, on the texels of ``where``.

    Of those, only the texels within reach of any arc are evaluated: everywhere else each
    arc is exactly 0, so adding it would change nothing.
    """
    reach = [arc_reach(a[3], a[6]) for a in arcs]
    margin = 1e-4  # metres: far more than float32 rounding, so no texel in reach is lost
    lo = [min(float(a[2][k]) - r for a, r in zip(arcs, reach, strict=True)) - margin
          for k in (0, 1)]
    hi = [max(float(a[2][k]) + r for a, r in zip(arcs, reach, strict=True)) + margin
          for k in (0, 1)]
    flat = pos.reshape(-1, 3)
    idx = np.arange(len(flat)) if where is None else np.flatnonzero(where)
    idx = idx[in_box(flat[idx], lo, hi)]
    sub = flat[idx]
    for name, weight, centre, radius, a0, a1, width in arcs:
        out[name].reshape(-1)[idx] += weight * arc(sub, centre, radius, a0, a1, width)


def _periorbital(cv: Canvas, eye: np.ndarray, s: float, out: dict[str, np.ndarray]) -> None:
    """Crow's feet at the outer corner of one eye (the arcs under it: :func:`_arcs`)."""
    w = CREASE_HALF_WIDTH_M
    canthus = eye[:2] + [s * 0.017, 0.0]
    # Crow's feet: a few soft lines fanning out and slightly down from the outer corner.
    for ang, length in ((-0.6, 0.017), (-0.2, 0.02), (0.25, 0.016)):
        a = canthus + [s * 0.004 * np.cos(ang), 0.004 * np.sin(ang)]
        b = canthus + [s * length * np.cos(ang), length * np.sin(ang) - 0.003]
        cv.stroke(out["crows_feet"], a, b, w * 1.4, weight=0.55, taper=0.5)


def _nasolabial(cv: Canvas, lm: FaceLandmarks, s: float, out: np.ndarray) -> None:
    """One nasolabial fold: from above the nose wing, bowing out, fading out beside the mouth
    corner (issue 13: it no longer runs on below the corner)."""
    w = CREASE_HALF_WIDTH_M
    half, my = lm.mouth_half_width, float(lm.mouth[1])
    pts = [(s * 0.0185, float(lm.nose_tip[1]) + 0.001),
           (s * (half + 0.0105), my + 0.009),
           (s * (half + 0.0115), my - 0.002)]
    last = len(pts) - 2
    for i, weight in enumerate((1.0, 0.45)):
        a, b = np.asarray(pts[i]), np.asarray(pts[i + 1])
        # Overlap the segments at the joints so their tapered ends leave no gap there.
        a0 = a - 0.25 * (b - a) if i > 0 else a
        b0 = b + 0.25 * (b - a) if i < last else b
        cv.stroke(out, a0, b0, w * 2.6, weight=0.8 * weight, taper=0.2, mode="max")


def wrinkle_channels(parts: dict[str, np.ndarray]) -> np.ndarray:
    """(S, S, 4) float32 wrinkle map (channels :data:`WRINKLE_CHANNELS`) from
    :func:`paint_wrinkles`'s patterns."""
    periorbital = np.clip(parts["crows_feet"] + parts["infraorbital"], 0, 1)
    return np.stack([parts["glabellar"], parts["nose"], periorbital, parts["nasolabial"]], -1)
