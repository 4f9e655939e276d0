"""Smooth ramps shared by every stage (geometry, textures, the photo bake)."""

from __future__ import annotations

import numpy as np


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """0 below ``e0``, 1 above ``e1``, the cubic 3t^2 - 2t^3 between (as GLSL's)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
