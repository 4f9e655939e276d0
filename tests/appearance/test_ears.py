"""The ears' folds: one UV island serves both ears as mirror images, and the procedural
texture paints an ear's helix rim and concha on it (the ear's geometry has them now,
rounded off; the paint shades the hollows)."""

from __future__ import annotations

import numpy as np


def test_mirror_image_points_of_the_two_ears_share_a_texel():
    """Before pain3d 0.10 the right ear's island was flipped front to back against the
    left one's: a concha painted toward the face on one ear lay toward the back of the
    other (the photo shader mirrored it back; exported meshes and the procedural shader
    did not)."""
    from scipy.spatial import cKDTree

    from pain3d.face.head import head_template

    t = head_template()
    fine = t.subdivide @ t.coarse
    ears = np.flatnonzero(t.fine_part == 4)
    left = ears[fine[ears, 0] > 0]
    right = ears[fine[ears, 0] < 0]
    dist, j = cKDTree(fine[right] * [-1.0, 1.0, 1.0]).query(fine[left])
    assert len(left) == len(right) and dist.max() < 1e-6
    np.testing.assert_allclose(t.uv[right[j]], t.uv[left], atol=1e-6)


def test_the_ear_island_shows_a_concha_and_a_helix_rim():
    """On every identity's albedo the concha (the bowl in front of the ear's middle) is at
    least 20 % darker than the antihelix behind it, and the helix rim lighter than the
    scapha's groove just inside it (a plain island: ratios of about 1)."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.head import ISLAND_CENTRES, ISLAND_RADIUS

    size = 512
    cu, cv = ISLAND_CENTRES["ear"]

    def texel(x, y):  # ear-outline coordinates (x toward the face, y up; 1 = the edge)
        rho = ISLAND_RADIUS * np.arcsin(min(np.hypot(x, y), 1.0)) / np.pi
        az = np.arctan2(y, x)
        u, v = cu + rho * np.cos(az), cv + rho * np.sin(az)
        return int(v * size), int(u * size)

    for ident in sample_identities(3, 0):
        mesh = identity_mesh(ident)
        app = sample_appearance(ident, ident.seed, mesh=mesh, texture_size=size)
        lum = app.albedo.astype(np.float64).mean(-1)
        concha = lum[texel(0.26, -0.08)]
        antihelix = lum[texel(-0.58 * 0.7, 0.58 * 0.7)]
        rim = lum[texel(0.0, 0.9)]
        groove = lum[texel(0.0, 0.78)]
        assert concha < 0.8 * antihelix, (ident.seed, concha, antihelix)
        assert rim > 1.1 * groove, (ident.seed, rim, groove)
