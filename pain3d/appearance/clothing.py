"""The garment on the neck's base, shoulders and chest: where the cloth is and how it shades.

A neckline is a height on the neck region that depends on the angle around the neck's axis
(lower at the front than at the back, like a real crew neck), dipping into a V at the front
or rising into a shirt collar (:data:`NECKLINES`, drawn per identity). Below it the texels
take the garment's colour (``traits.clothing_rgb``, in :func:`pain3d.appearance.textures`'s
``_paint_clothing``) times :func:`cloth_shade`: a darker ribbed band along the neckline,
broad soft folds, and a faint shadow the band casts on the skin just above it.

Positions are metres, head frame (x left, y up, z forward), measured from the landmarks'
``chin_y`` so the neckline follows the identity's size.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pain3d.appearance.landmarks import FaceLandmarks
from pain3d.appearance.paint import smooth_noise
from pain3d.ramps import smoothstep

Neckline = Literal["crew", "v", "collar"]
NECKLINES: tuple[Neckline, ...] = ("crew", "v", "collar")
NECKLINE_P = (0.45, 0.3, 0.25)
"""Hand-set probabilities of :data:`NECKLINES` (t-shirts and sweaters most often)."""

CREW_BELOW_CHIN_M = {"front": 0.077, "side": 0.06, "back": 0.05}
"""How far below the chin a crew neckline runs at the front (just above the sternal notch),
the sides (the foot of the neck) and the back (about the seventh vertebra), metres,
hand-set against the built-in torso (:mod:`pain3d.face.torso`)."""
V_DEPTH_M, V_HALF_WIDTH_M = 0.06, 0.045
"""Hand-set: how far a V neckline dips below the crew's front, and its half-width at the
crew's height, metres."""
COLLAR_RISE_M, COLLAR_HEIGHT_M = 0.022, 0.03
"""Hand-set: how far a shirt collar's top edge lies above the crew line, and the height of
the collar band (drawn lighter, with a shadow at its fold), metres."""
BAND_M = 0.012
"""Hand-set width of the ribbed neckband below the neckline, metres."""
EDGE_M = 0.008
"""Hand-set half-width of the neckline's soft edge, metres."""


def sample_neckline(rng: np.random.Generator) -> Neckline:
    """One neckline, drawn from ``rng``."""
    return NECKLINES[int(rng.choice(len(NECKLINES), p=NECKLINE_P))]


def neck_axis_z(vertices: np.ndarray, neck: np.ndarray, lm: FaceLandmarks) -> float:
    """Depth of the neck's axis, metres: midway between the front and back of the neck's
    vertices 4-6 cm below the chin (the built-in neck's axis is about 10 cm behind the eyes)."""
    y = vertices[:, 1]
    ring = neck & (y < lm.chin_y - 0.04) & (y > lm.chin_y - 0.06)
    if not ring.any():
        return float(lm.face_z - 0.115)
    z = vertices[ring, 2]
    return 0.5 * float(z.max() + z.min())


def neckline_height(pos: np.ndarray, lm: FaceLandmarks, axis_z: float,
                    style: Neckline) -> np.ndarray:
    """(...) height of the neckline, metres, at the azimuth of each point ``pos`` (..., 3)
    around the neck's axis (and, for a V, at its x)."""
    x, z = pos[..., 0], pos[..., 2]
    phi = np.arctan2(z - axis_z, x)
    s2, c2 = np.sin(phi) ** 2, np.cos(phi) ** 2
    front = z > axis_z
    below = (c2 * CREW_BELOW_CHIN_M["side"]
             + s2 * np.where(front, CREW_BELOW_CHIN_M["front"], CREW_BELOW_CHIN_M["back"]))
    y = lm.chin_y - below
    if style == "v":
        y = y - V_DEPTH_M * np.clip(1 - np.abs(x) / V_HALF_WIDTH_M, 0, 1) * front
    elif style == "collar":
        y = y + COLLAR_RISE_M - 0.5 * COLLAR_RISE_M * np.clip(
            1 - np.abs(x) / 0.02, 0, 1) * front  # the collar's ends part at the throat
    return y.astype(np.float32)


def garment(pos: np.ndarray, on_neck: np.ndarray, lm: FaceLandmarks, axis_z: float,
            style: Neckline, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Where the garment is and its shading, per texel.

    Args:
        pos: (S, S, 3) position map, metres.
        on_neck: (S, S) bool, texels of the neck region (the torso is labelled neck).
        lm: the identity's landmarks.
        axis_z: depth of the neck's axis (:func:`neck_axis_z`).
        style: the neckline.
        rng: draws the folds (a child generator: nothing else moves).

    Returns:
        cloth: (S, S) float32 coverage in [0, 1] (soft over 2 :data:`EDGE_M` at the edge).
        shade: (S, S) float32 multiplier on the garment's and the skin's colour (1 = none).
    """
    line = neckline_height(pos, lm, axis_z, style)
    below = line - pos[..., 1]  # metres below the neckline, negative above it
    # The edge is soft over about a texel of the neck island (5-8 mm at 512 texels): a
    # sharper one aliases into spikes where the island stretches.
    cloth = smoothstep(-EDGE_M, EDGE_M, below) * on_neck
    size = pos.shape[0]
    folds = 1.0 + 0.06 * smooth_noise(rng, size, 10, 1) + 0.03 * smooth_noise(rng, size, 28, 1)
    band = 1.0 - 0.12 * (smoothstep(0.0, EDGE_M, below)
                         - smoothstep(BAND_M, BAND_M + EDGE_M, below))
    if style == "collar":
        fold = np.exp(-(((below - COLLAR_HEIGHT_M) / EDGE_M) ** 2))
        band = 1.05 - 0.05 * smoothstep(COLLAR_HEIGHT_M - EDGE_M, COLLAR_HEIGHT_M, below) \
            - 0.18 * fold
    shadow = 1.0 - 0.15 * smoothstep(-2 * EDGE_M, 0.0, below) * on_neck  # on the skin above
    shade = np.where(below > 0, folds * band, shadow)
    return cloth.astype(np.float32), shade.astype(np.float32)
