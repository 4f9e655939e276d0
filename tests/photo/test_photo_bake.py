"""The pure helpers of the photo bake: z-buffered rasterisation and push-pull filling."""

from __future__ import annotations

import numpy as np

from pain3d.appearance.photo import push_pull
from pain3d.appearance.photo_raster import rasterize_nearest


def test_the_nearest_of_two_overlapping_triangles_wins():
    xy = np.array([[2, 2], [30, 2], [2, 30], [4, 4], [31, 4], [4, 31]], float)
    depth = np.array([2.0, 2.0, 2.0, 1.0, 1.0, 1.0])
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    tri, bary = rasterize_nearest(xy, depth, faces, (32, 32))
    assert tri[10, 10] == 1  # the nearer triangle, whichever order they come in
    tri2, _ = rasterize_nearest(xy, depth, faces[::-1].copy(), (32, 32))
    assert tri2[10, 10] == 0  # index into the reversed list: still the nearer one
    assert tri[2, 2] == 0 and tri[0, 0] == -1 and tri[31, 31] == -1
    np.testing.assert_allclose(bary[tri >= 0].sum(-1), 1.0, atol=1e-5)


def test_large_triangles_are_rasterised_whole():
    xy = np.array([[0, 0], [300, 0], [0, 300]], float)
    tri, _ = rasterize_nearest(xy, np.ones(3), np.array([[0, 1, 2]]), (256, 256))
    assert (tri == 0).sum() > 0.49 * 256 * 256


def test_push_pull_keeps_known_texels_and_fills_the_rest_with_their_colour():
    colour = np.zeros((64, 64, 3), np.float32)
    weight = np.zeros((64, 64), np.float32)
    colour[:, :20] = (0.8, 0.5, 0.4)
    weight[:, :20] = 1.0
    out = push_pull(colour, weight)
    np.testing.assert_allclose(out[:, :20], colour[:, :20], atol=1e-6)
    # Unknown texels take the known colour, not a blend with the zeros under them.
    np.testing.assert_allclose(out[:, 40:], np.broadcast_to((0.8, 0.5, 0.4), (64, 24, 3)),
                               atol=1e-4)
