"""Plane-at-a-time texture arithmetic gives numpy's broadcast products exactly."""

from __future__ import annotations

import numpy as np

from pain3d.appearance.paint import scale_planes, tint


def test_scale_planes_and_tint_equal_broadcasting_over_the_channels():
    rng = np.random.default_rng(0)
    img = rng.random((37, 29, 3), dtype=np.float32)
    plane = rng.random((37, 29), dtype=np.float32)
    gains = np.float32([0.8, 1.0, 1.15])
    assert np.array_equal(scale_planes(img.copy(), 1.0 - 0.25 * plane),
                          img * (1.0 - 0.25 * plane[..., None]))
    assert np.array_equal(scale_planes(img.copy(), lambda k: 1.0 - plane * gains[k]),
                          img * (1.0 - plane[..., None] * gains))
    four = rng.random((37, 29, 4), dtype=np.float32)
    assert np.array_equal(scale_planes(four.copy(), plane), four * plane[..., None])
    out = tint(plane, gains)
    assert out.dtype == np.float32 and np.array_equal(out, gains * plane[..., None])
