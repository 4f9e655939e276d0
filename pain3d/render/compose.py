"""Compositing a render over a background, with soft edges, then camera effects."""

from __future__ import annotations

import cv2
import numpy as np

from pain3d.render.renderer import RenderResult


def soft_alpha(mask: np.ndarray, feather: float = 0.8) -> np.ndarray:
    """(H, W) float32 alpha in [0, 1] from a hard 0/255 mask, feathered inward only.

    Only pixels inside the mask are blended, so the black clear colour outside the head never
    leaks in as a dark halo; the inner edge mixes with the background (cheap anti-aliasing).
    """
    m = (mask > 127).astype(np.float32)
    if feather <= 0:
        return m
    return cv2.GaussianBlur(m, (0, 0), feather) * m


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
    a = soft_alpha(result.mask, feather)
    out = cv2.blendLinear(rgb, background, a, 1.0 - a)
    if effects is not None:
        from pain3d.appearance.effects import camera_effects

        out = camera_effects(out, effects, rng if rng is not None else np.random.default_rng(0))
    return out
