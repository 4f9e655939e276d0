"""The photo bake: z-buffered rasterisation, push-pull filling, the texels a photo colours."""

from __future__ import annotations

import numpy as np

from pain3d.appearance.photo import push_pull
from pain3d.appearance.photo_raster import rasterize_nearest
from pain3d.appearance.uvmap import barycentric_blend


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


def test_barycentric_blend_gives_the_bytes_of_the_einsum_it_replaces():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(500, 4)).astype(np.float32)
    corners = rng.integers(0, 500, size=(40, 50, 3))
    bary = rng.dirichlet((1, 1, 1), size=(40, 50)).astype(np.float32)
    out = barycentric_blend(bary, corners, values)
    assert out.dtype == np.float32 and out.shape == (40, 50, 4)
    assert np.array_equal(out, np.einsum("ijk,ijkc->ijc", bary, values[corners]))
    # A corner's own weight gives that vertex's value.
    one = np.zeros_like(bary)
    one[..., 1] = 1.0
    assert np.array_equal(barycentric_blend(one, corners, values), values[corners[..., 1]])


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


def test_the_photo_colours_exactly_the_covered_texels_it_shows_and_no_others(identity):
    """The bake tests and samples only covered texels facing the camera: the result must be
    what testing every texel of the layout gives."""
    from pain3d.appearance import photo as ap

    app = identity.appearance
    mesh, pose, faces, raster = app.rest_mesh, identity.fit.pose, app.raster_faces, app.raster
    size = raster.size
    texels = ap._Texels.of(mesh, faces, raster)
    normals = mesh.vertex_normals()
    seen, xy, colour = ap._seen_texels(mesh, pose, identity.photo, faces, normals, raster,
                                       texels)
    pos = texels.pos.reshape(-1, 3)
    facing = ap._facing(pos, raster.interpolate(faces, normals).reshape(-1, 3), pose)
    proj = pose.project(pos)
    visible = ap._visible_texels(mesh, pose, ap._texel_uv(size), proj[:, :2], size)
    every = np.flatnonzero(visible & (facing > 0) & raster.covered.ravel())
    assert len(every) > 0.05 * size * size
    np.testing.assert_array_equal(seen, every)
    np.testing.assert_array_equal(xy, proj[every, :2])
    sampled = ap._sample_photo(identity.photo, proj[:, :2], (size, size)).reshape(-1, 3)
    flat = colour.reshape(-1, 3)
    np.testing.assert_array_equal(flat[seen], sampled[seen])
    unseen = np.ones(size * size, bool)
    unseen[seen] = False
    assert not flat[unseen].any()
    assert not app.confidence.reshape(-1)[unseen].any()
