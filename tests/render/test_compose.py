"""Compositing blends only around the head, with the bytes of a whole-image blend."""

from __future__ import annotations

import cv2
import numpy as np

from pain3d.render import compose
from pain3d.render.compose import soft_alpha
from pain3d.render.renderer import RenderResult


def _result(rgb: np.ndarray, mask: np.ndarray) -> RenderResult:
    return RenderResult(rgb=rgb, mask=mask, parts=(mask > 0).astype(np.uint8), depth=None,
                        heatmap=None, heat=None, camera=None)


def test_compose_equals_the_whole_image_blend():
    rng = np.random.default_rng(0)
    for size in (64, 100, 200, 256):
        for feather in (0.8, 0.0, 1.7):
            rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            bg = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            mask = np.zeros((size, size), np.uint8)
            centre = tuple(int(c) for c in rng.integers(0, size, 2))
            axes = tuple(int(a) for a in rng.integers(2, size // 2, 2))
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
            a = soft_alpha(mask, feather)
            whole = cv2.blendLinear(rgb, bg, a, 1.0 - a)
            assert np.array_equal(compose(_result(rgb, mask), bg, feather=feather), whole)
    empty = np.zeros((32, 32), np.uint8)
    assert np.array_equal(compose(_result(rgb[:32, :32].copy(), empty), bg[:32, :32]),
                          bg[:32, :32])
