"""Compositing a render over a background, with soft edges, then camera effects."""

from __future__ import annotations

import cv2
import numpy as np

from pain3d.render.renderer import RenderResult
from pain3d.render.strays import add_stray_hairs


def soft_alpha(mask: np.ndarray, feather: float = 0.8) -> np.ndarray:
    """(H, W) float32 alpha in [0, 1] from a hard 0/255 mask, feathered inward only.

    Only pixels inside the mask are blended, so the black clear colour outside the head never
    leaks in as a dark halo; the inner edge mixes with the background (cheap anti-aliasing).
    """
    m = (mask > 127).astype(np.float32)
    if feather <= 0:
        return m
    return cv2.GaussianBlur(m, (0, 0), feather) * m


def head_box(inside: np.ndarray, feather: float) -> tuple[slice, slice] | None:
    """Rows and columns around the (H, W) bool ``inside``, padded by the feather's blur
    radius (so each inside pixel's blur sees the same neighbours as in the whole image);
    columns start and end on multiples of 64 pixels (or the image edge), so OpenCV runs the
    same vector code on each pixel as over whole rows. None when nothing is inside."""
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if len(rows) == 0:
        return None
    h, w = inside.shape
    pad = int(4 * feather) + 2  # OpenCV's float Gaussian reaches round(4 sigma) pixels
    x0 = max(int(cols[0]) - pad, 0) // 64 * 64
    x1 = min(-(-(int(cols[-1]) + 1 + pad) // 64) * 64, w)
    return slice(max(int(rows[0]) - pad, 0), min(int(rows[-1]) + 1 + pad, h)), slice(x0, x1)


def compose(result: RenderResult, background: np.ndarray | None, effects=None,
            rng: np.random.Generator | None = None, feather: float = 0.8) -> np.ndarray:
    """The final photograph: render over background, then camera effects.

    Args:
        result: a :class:`RenderResult`.
        background: (H, W, 3) uint8 RGB of the render size, or None for black.
        effects: a :class:`pain3d.appearance.CameraEffects`, or None for none.
        rng: random generator for the effects' noise (default: a fixed seed).
        feather: edge softening in pixels (0 = hard edges).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    rgb = result.rgb
    h, w = rgb.shape[:2]
    if background is None:
        background = np.zeros_like(rgb)
    if background.shape != rgb.shape or background.dtype != np.uint8:
        raise ValueError(f"background must be {rgb.shape} uint8 like the render, got "
                         f"{background.shape} {background.dtype}")
    out = background.copy()
    box = head_box(result.mask > 127, feather)
    if box is not None:  # outside the head's box the alpha is 0: the background alone
        a = soft_alpha(result.mask[box], feather)
        out[box] = cv2.blendLinear(rgb[box], background[box], a, 1.0 - a)
        out = add_stray_hairs(out, rgb, result.mask, result.parts)
    if effects is not None:
        from pain3d.appearance.effects import camera_effects

        out = camera_effects(out, effects, rng if rng is not None else np.random.default_rng(0))
    return out
