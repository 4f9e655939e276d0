"""The heatmap colour map: black -> red -> yellow -> white, like the published heatmaps."""

from __future__ import annotations

import numpy as np


def heat_lut(n: int = 256) -> np.ndarray:
    """(n, 3) uint8 RGB colour map over [0, 1]: black at 0, red at 1/3, yellow at 2/3, white at 1.

    Each channel ramps linearly in turn (red, then green, then blue), so the map is monotone
    in every channel and in luminance.
    """
    t = np.linspace(0.0, 1.0, n)
    rgb = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], 1)
    return np.round(rgb * 255).astype(np.uint8)


_LUT = heat_lut()
_LUT_WORDS = np.ascontiguousarray(np.c_[_LUT, np.zeros(256, np.uint8)]).view(np.uint32).ravel()
"""The colour map as one RGBA word per code: a single 32-bit gather per pixel."""


def normalise_heat(values: np.ndarray, scale: float) -> np.ndarray:
    """Per-vertex displacement (metres) -> [0, 1] by the fixed dataset-wide ``scale`` (metres).

    Values at or above ``scale`` saturate to 1 (white); the fixed scale keeps heatmaps of
    different identities and configurations comparable.
    """
    if not scale > 0:
        raise ValueError(f"heat scale must be > 0 metres, got {scale}")
    return np.clip(np.asarray(values, dtype=np.float32) / np.float32(scale), 0.0, 1.0)


def colourise(heat_u8: np.ndarray) -> np.ndarray:
    """(H, W) uint8 heat codes 0..255 -> (H, W, 3) uint8 RGB through :func:`heat_lut`."""
    import cv2

    codes = np.asarray(heat_u8, dtype=np.uint8)
    rgba = _LUT_WORDS[codes].view(np.uint8).reshape(*codes.shape, 4)
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)  # ~3x faster than a 3-channel cv2.LUT
