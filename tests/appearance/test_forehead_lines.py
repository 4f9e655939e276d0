"""Static forehead lines of an older face follow the frontalis: each rises over the brows
and dips at the midline, and its depth varies along it (one straight stroke of one depth,
as before pain3d 0.8, read as drawn)."""

from __future__ import annotations

import numpy as np

from pain3d.appearance.paint import Canvas
from pain3d.appearance.textures import _forehead_line


def test_a_forehead_line_rises_over_the_brows_and_varies_in_depth():
    # A flat forehead seen from the front: texel (i, j) at x = -5..5 cm, y = -1..1 cm.
    xs, ys = np.linspace(-0.05, 0.05, 501), np.linspace(-0.01, 0.01, 201)
    pos = np.zeros((201, 501, 3), np.float32)
    pos[..., 0], pos[..., 1] = np.meshgrid(xs, ys)
    line = np.zeros((201, 501), np.float32)
    _forehead_line(Canvas(pos), line, 0.0, 0.0, 0.0008, 1.0, np.random.default_rng(0))

    def centre(x0: float) -> float:  # the line's height at x0 (its darkest texel)
        return float(ys[np.argmax(line[:, np.argmin(np.abs(xs - x0))])])

    assert centre(-0.03) - centre(0.0) > 0.002 and centre(0.03) - centre(0.0) > 0.002
    depth = line.max(axis=0)[np.abs(xs) < 0.03]
    assert depth.min() > 0.1  # one line, not dashes
    assert np.ptp(depth) > 0.25 * depth.max()  # deeper in places
