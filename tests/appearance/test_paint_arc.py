"""The local arc painter gives the same float32 values as evaluating every texel."""

from __future__ import annotations

import numpy as np

from pain3d.appearance.paint import _arc_values, arc


def test_local_arc_equals_the_arc_evaluated_on_every_texel():
    s = np.linspace(-0.1, 0.1, 96, dtype=np.float32)
    pos = np.stack([*np.meshgrid(s, s), np.zeros((96, 96), np.float32)], -1)
    pos[3, 5] = np.nan  # texels without a position stay NaN, as before
    rng = np.random.default_rng(0)
    for _ in range(20):
        centre = rng.uniform(-0.05, 0.05, 2)
        radius, width = rng.uniform(0.005, 0.04), rng.uniform(0.0005, 0.01)
        a0 = rng.uniform(-4, 4)
        a1 = a0 + rng.uniform(-2, 2)
        local = arc(pos, centre, radius, a0, a1, width)
        every = _arc_values(pos.reshape(-1, 3), np.asarray(centre, np.float32), radius, a0, a1,
                            width).reshape(96, 96)
        assert local.dtype == every.dtype == np.float32
        assert np.array_equal(local, every, equal_nan=True)
        assert np.isnan(local[3, 5])
        assert (local[np.isfinite(local)] > 0).any()
