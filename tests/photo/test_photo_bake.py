"""The photo bake: z-buffered rasterisation, push-pull filling, the texels a photo colours."""

from __future__ import annotations

import numpy as np
import pytest

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
    seen, xy, colour, _, _ = ap._seen_texels(mesh, pose, identity.photo, faces, normals,
                                             raster, texels)
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


def test_a_texel_seen_edge_on_gives_way_to_its_mirror_seen_squarely():
    """A far cheek smeared from a few photo pixels takes the near cheek's colour; where both
    sides were seen alike (a nose's sides in a frontal photo) each keeps its own."""
    from pain3d.appearance.photo import _mirror_fill

    size = 8
    none = np.zeros((size, size), bool)
    charts = {"head": ~none, "eye_r": none, "eye_l": none, "ear": none, "neck": none}
    colour = np.zeros((size, size, 3), np.float32)
    colour[:, : size // 2] = (0.2, 0.3, 0.9)  # the wall's fringe on one side
    colour[:, size // 2:] = (0.8, 0.6, 0.5)  # skin on the other
    conf = np.ones((size, size), np.float32)
    square = np.ones((size, size), np.float32)
    square[:, : size // 2] = 0.05  # the blue side was seen edge-on
    out, known = _mirror_fill(colour, conf, square, charts)
    np.testing.assert_allclose(out[0, 0], (0.05 * 0.2 + 0.95 * 0.8, 0.05 * 0.3 + 0.95 * 0.6,
                                           0.05 * 0.9 + 0.95 * 0.5), atol=1e-6)
    np.testing.assert_array_equal(out[:, size // 2:], colour[:, size // 2:])
    assert (known == 1).all()
    alike = np.full((size, size), 0.3, np.float32)
    out, _ = _mirror_fill(colour, conf, alike, charts)
    np.testing.assert_array_equal(out, colour)


def _seen_beside_a_band(identity, band: bool):
    """The column where a person mask ends over the right of the face (as beyond a turned
    face's far cheek), and ``_seen_texels`` of the identity's bake with that mask (``band``)
    or without one."""
    from pain3d.appearance import photo as ap

    app = identity.appearance
    mesh, pose, faces, raster = app.rest_mesh, identity.fit.pose, app.raster_faces, app.raster
    col = int(pose.project(mesh.rig.eye_centres.astype(np.float64))[:, 0].min())
    person = np.ones(identity.photo.shape[:2], bool)
    person[:, :col] = False
    return col, ap._seen_texels(mesh, pose, identity.photo, faces, mesh.vertex_normals(),
                                raster, ap._Texels.of(mesh, faces, raster),
                                person if band else None)


def test_texels_near_the_persons_outline_are_trusted_less(identity):
    """The outline's pixels mix in the background: texels whose pixel lies within
    PERSON_EDGE_PX of it lose confidence, those well inside keep it."""
    from pain3d.appearance.photo import PERSON_EDGE_PX

    col, (_, xy, _, _, clear) = _seen_beside_a_band(identity, True)
    d = xy[:, 0] - col  # pixels inside the outline (the mask's edge is a column)
    lo, hi = (v * identity.photo.shape[1] / 512 for v in PERSON_EDGE_PX)
    assert (d < lo + 1).sum() > 50 and (d > hi + 1).sum() > 1000
    assert clear[d < lo + 1].max() < 0.2
    assert clear[d > hi + 1].min() == 1.0
    assert np.all(np.diff(clear[np.argsort(d)]) >= -1e-6)  # rises with the distance


def test_texels_the_photo_shows_as_background_take_no_colour(identity):
    """Where the person's mask says background (here: a band over the right of the face,
    as beyond a turned face's far cheek), no texel takes the photo's colour; elsewhere the
    same texels as without a mask do."""
    col, (every, xy_all, _, _, _) = _seen_beside_a_band(identity, False)
    _, (seen, xy, colour, _, _) = _seen_beside_a_band(identity, True)
    assert (xy_all[:, 0] < col).sum() > 1000  # the band covers part of the face
    assert xy[:, 0].min() >= col + 2  # none there, nor on the uncertain edge
    np.testing.assert_array_equal(seen, every[xy_all[:, 0] >= col + 2])
    gone = np.setdiff1d(every, seen)
    assert not colour.reshape(-1, 3)[gone].any()


def test_barycentric_blend_keeps_the_sign_of_zero_blends():
    """The sparse product starts its sums at +0.0: where all three products are -0.0 the
    term-by-term sum is -0.0, and the bytes must be that sum's."""
    def term_by_term(bary, corners, values):
        out = values[corners[:, 0]] * bary[:, 0, None]
        out += values[corners[:, 1]] * bary[:, 1, None]
        out += values[corners[:, 2]] * bary[:, 2, None]
        return out

    rng = np.random.default_rng(2)
    # Values with sign bits: -0.0 at vertices 0-2 (every product with them is -0.0).
    values = np.array([[-0.0, 1.0], [-0.0, -2.0], [-0.0, 0.5], [3.0, -0.0]], np.float32)
    corners = rng.integers(0, 4, size=(60, 3))
    corners[:20] = [0, 1, 2]
    bary = rng.dirichlet((1, 1, 1), size=60).astype(np.float32)
    bary[20:25] = [0.0, 1.0, 0.0]
    ref = term_by_term(bary, corners, values)
    assert np.signbit(ref[:20, 0]).all()  # the case the test is about
    assert barycentric_blend(bary, corners, values).tobytes() == ref.tobytes()
    # No value with a sign bit: only weights that all have one give -0.0.
    values = np.abs(values)
    values[:3] = 0.0
    bary[:5] = -0.0
    bary[5:10] = [-1e-7, 1.0, 0.0]
    ref = term_by_term(bary, corners, values)
    assert np.signbit(ref[:5, 0]).all()
    assert barycentric_blend(bary, corners, values).tobytes() == ref.tobytes()


def test_the_nearest_fragment_is_the_first_of_a_stable_sort_by_pixel_and_depth():
    """:func:`_first_nearest` replaced a lexsort: the same fragment per pixel, ties (equal
    depths, +0.0 and -0.0 among them) going to the earliest fragment."""
    from pain3d.appearance.photo_raster import _first_nearest

    rng = np.random.default_rng(3)
    pix = rng.integers(0, 80, 3000)
    z = rng.integers(-3, 3, 3000).astype(np.float64)  # many equal depths
    z[z == 0] = rng.choice([0.0, -0.0], (z == 0).sum())
    z[0] = -10.0  # the first fragment wins its pixel
    order = np.lexsort((z, pix))
    first = order[np.r_[True, pix[order][1:] != pix[order][:-1]]]
    np.testing.assert_array_equal(_first_nearest(pix, z, 100), first)


@pytest.mark.parametrize("channels", [1, 3])
def test_per_texel_products_give_the_bytes_of_broadcasting(channels):
    from pain3d.appearance.arrays import ROWS, per_texel

    rng = np.random.default_rng(4)
    x = rng.random((2 * ROWS + 5, 7, channels), dtype=np.float32)
    w = rng.random((2 * ROWS + 5, 7), dtype=np.float32) + 0.1
    for op in (np.multiply, np.divide):
        assert per_texel(op, x, w).tobytes() == op(x, w[..., None]).tobytes()
    y = x.copy()
    assert per_texel(np.multiply, y, w, out=y) is y
    assert y.tobytes() == (x * w[..., None]).tobytes()


def test_masked_copies_and_row_gathers_give_numpys_indexing():
    from pain3d.appearance.arrays import copy_where, put_rows, rows_where

    rng = np.random.default_rng(5)
    x = rng.random((20, 30, 3), dtype=np.float32)
    mask = rng.random((20, 30)) > 0.5
    np.testing.assert_array_equal(rows_where(x, mask), x[mask])
    np.testing.assert_array_equal(rows_where(x[..., 0], mask), x[..., 0][mask])
    dst = rng.random((40, 50, 3), dtype=np.float32)
    ref = dst.copy()
    box = (slice(5, 25), slice(10, 40))  # a box of a larger array, as _inpaint passes
    copy_where(dst[box], x, mask)
    np.copyto(ref[box], x, where=mask[..., None])
    np.testing.assert_array_equal(dst, ref)
    flat, index = np.zeros((600, 3), np.float32), np.sort(rng.choice(600, 250, replace=False))
    rows = rng.random((250, 3), dtype=np.float32)
    ref = flat.copy()
    ref[index] = rows
    put_rows(flat, index, rows)
    assert flat.tobytes() == ref.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_open_box_test_gives_the_points_strictly_inside_the_box(dtype):
    """Points on the bounds and one ulp beyond or within them (float32 points, float64
    bounds between two float32 values, as the bake's ear boxes are)."""
    from pain3d.appearance.arrays import in_open_box

    rng = np.random.default_rng(7)
    lo, hi = np.array([-0.01, 0.02, 0.0]), np.array([0.03, 0.05, 0.004])
    pts = rng.uniform(-0.02, 0.06, (40, 50, 3)).astype(dtype)
    edges = np.concatenate([lo, hi]).astype(dtype)
    near = np.concatenate([edges, np.nextafter(edges, dtype(1)), np.nextafter(edges, dtype(-1))])
    for axis in range(3):  # each near value on one axis, the box's centre on the others
        pts[axis, :len(near)] = (lo + hi) / 2
        pts[axis, :len(near), axis] = near
    expected = ((pts > lo) & (pts < hi)).all(-1)
    np.testing.assert_array_equal(in_open_box(pts, lo, hi), expected)
    lo32 = lo.astype(np.float32)  # bounds of the points' dtype
    np.testing.assert_array_equal(in_open_box(pts, lo32, hi), ((pts > lo32) & (pts < hi)).all(-1))
    assert expected.any() and not expected.all()


def test_membership_of_a_few_labels_gives_isins_answer():
    from pain3d.appearance.arrays import isin_few

    labels = np.random.default_rng(8).integers(-3, 10, (30, 40)).astype(np.int8)
    for values in ((4, 5), (0, 1, 2, 3, 6), [7]):
        np.testing.assert_array_equal(isin_few(labels, values), np.isin(labels, values))


@pytest.mark.parametrize(("dtype", "channels", "n"),
                         [(np.float32, 3, 1000), (np.float64, 2, 7), (np.float32, 3, 0)])
def test_a_point_minus_rows_gives_the_bytes_of_broadcasting(dtype, channels, n):
    from pain3d.appearance.arrays import point_minus_rows

    rng = np.random.default_rng(9)
    rows = rng.standard_normal((n, channels)).astype(dtype)
    point = rng.standard_normal(channels).astype(dtype)
    out = point_minus_rows(point, rows)
    assert out.dtype == dtype and out.tobytes() == (point - rows).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hair_likeness_gives_the_bytes_of_its_formula(dtype):
    from pain3d.appearance.photo import _hair_likeness

    rng = np.random.default_rng(10)
    rgb = rng.random((500, 3)).astype(np.float32)
    hair = rng.random(3).astype(dtype)
    expected = np.exp(-((rgb - hair) ** 2).sum(-1) / (2 * 0.12**2))
    assert _hair_likeness(rgb, hair).tobytes() == expected.tobytes()


@pytest.mark.parametrize("seen", [0.0, 0.9])
def test_mirror_fill_gives_the_bytes_of_its_broadcast_formula(seen):
    """With and without a brightness match of the mirror (too few texels seen on both sides:
    a scalar gain); a seen texel gives way to its mirror by how much more squarely the
    mirror was seen."""
    from pain3d.appearance.photo import _mirror_fill

    rng = np.random.default_rng(6)
    size = 64
    # The texels seen on both sides are a mirror-symmetric set but for the head chart: with
    # an eyeball chart on the left only, the medians of the two sides differ.
    strip = np.broadcast_to(np.arange(size) < 16, (size, size))
    none = np.zeros((size, size), bool)
    charts = {"head": ~strip, "eye_r": strip, "eye_l": none, "ear": none, "neck": none}
    colour = rng.random((size, size, 3), dtype=np.float32)
    colour[:, : size // 2] *= np.array([0.75, 0.85, 0.95], np.float32)  # lit from one side
    conf = (rng.random((size, size)) < seen).astype(np.float32)
    conf[:, : size // 2] *= rng.random((size, size // 2), dtype=np.float32)
    mirror_ok = charts["head"] | charts["eye_r"] | charts["eye_l"]
    mconf = conf[:, ::-1] * mirror_ok[:, ::-1] * mirror_ok
    both = (conf > 0.5) & (mconf > 0.5) & charts["head"]
    mirror = colour[:, ::-1]
    gain = np.float32(1.0)
    if both.sum() > 100:
        gain = np.clip(np.median(colour[both], axis=0)
                       / np.maximum(np.median(mirror[both], axis=0), 1e-3), 0.7, 1.4)
    square = rng.random((size, size), dtype=np.float32)  # how squarely the photo saw them
    better = np.clip(mconf * square[:, ::-1] - conf * square, 0.0, 1.0)
    take = (1 - conf) * mconf + conf * better
    total = conf + (1 - conf) * mconf
    ref = (colour * (conf * (1 - better))[..., None] + mirror * gain * take[..., None]
           ) / np.maximum(total, 1e-6)[..., None]
    out, known = _mirror_fill(colour, conf, square, charts)
    assert (np.ndim(gain) == 1 and np.ptp(gain) > 0.05) == (seen > 0)
    assert out.tobytes() == ref.tobytes()
    assert known.tobytes() == np.clip(total, 0.0, 1.0).tobytes()
