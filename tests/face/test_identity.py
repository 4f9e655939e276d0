"""Identity space: determinism, demographic balance, distinctness."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pain3d.demographics import demographic_grid
from pain3d.face import SHAPE_PARAMS, Identity, identity_mesh, sample_identities
from pain3d.face.identity import demographic_mean, shape_fields


def test_there_are_at_least_twenty_shape_parameters():
    assert len(SHAPE_PARAMS) >= 20
    fields = shape_fields()
    assert fields.shape[0] == len(SHAPE_PARAMS)
    # Every parameter moves the head, and no two parameters do the same thing.
    flat = fields.reshape(len(fields), -1)
    norms = np.linalg.norm(flat, axis=1)
    assert norms.min() > 0
    cos = (flat @ flat.T) / np.outer(norms, norms)
    np.fill_diagonal(cos, 0)
    assert np.abs(cos).max() < 0.95


def test_same_seed_gives_identical_identities_and_meshes():
    a, b = sample_identities(6, seed=3), sample_identities(6, seed=3)
    assert a == b
    assert np.array_equal(identity_mesh(a[5]).vertices, identity_mesh(b[5]).vertices)
    assert sample_identities(6, seed=4) != a


@pytest.mark.parametrize("n", [1, 5, 36, 37, 50, 100, 143])
def test_demographic_grid_balance_holds_for_any_n(n):
    counts = Counter(i.demographics for i in sample_identities(n, seed=1))
    cells = [counts.get(cell, 0) for cell in demographic_grid()]
    assert sum(cells) == n
    assert max(cells) - min(cells) <= 1


def test_sampled_identities_are_distinct():
    ids = sample_identities(300, seed=0)
    p = np.stack([i.shape for i in ids])
    d2 = (p**2).sum(1)[:, None] + (p**2).sum(1)[None] - 2 * p @ p.T
    np.fill_diagonal(d2, np.inf)
    assert np.sqrt(d2.min()) > 0.5


def test_demographics_shift_the_mean_shape():
    ids = sample_identities(360, seed=2)
    p = np.stack([i.shape for i in ids])
    jaw = SHAPE_PARAMS.index("jaw_width")
    male = np.array([i.demographics.sex == "male" for i in ids])
    assert p[male, jaw].mean() > p[~male, jaw].mean() + 0.5
    old = np.array([i.demographics.age_band == "61-85" for i in ids])
    sag = SHAPE_PARAMS.index("sagging")
    assert p[old, sag].mean() > p[~old, sag].mean() + 0.8
    assert demographic_mean(ids[0].demographics).shape == (len(SHAPE_PARAMS),)


def test_identity_is_named_like_the_published_samples():
    assert sample_identities(3, seed=9)[2].name == "flame_sample_0002"


def test_identities_give_different_meshes():
    a, b = (identity_mesh(i) for i in sample_identities(2, seed=5))
    gap = np.linalg.norm(a.vertices - b.vertices, axis=1)
    assert gap.max() > 0.004  # several millimetres somewhere on the head


def test_extreme_parameters_keep_the_surface_unfolded():
    from pain3d.demographics import Demographics
    from pain3d.face.identity import N_SHAPE, PARAM_CLIP

    demo = Demographics("female", "20-35", "african")
    base = identity_mesh(Identity(0, 0, demo, (0.0,) * N_SHAPE))

    def normals(m):
        t = m.vertices.astype(np.float64)[m.faces]
        n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)

    n0 = normals(base)
    rng = np.random.default_rng(0)
    configs = [np.eye(N_SHAPE)[k] * s * PARAM_CLIP for k in range(N_SHAPE) for s in (-1, 1)]
    configs += [rng.choice([-PARAM_CLIP, PARAM_CLIP], N_SHAPE) for _ in range(6)]
    for p in configs:
        m = identity_mesh(Identity(0, 0, demo, tuple(p)))
        cos = (normals(m) * n0).sum(1)
        assert cos.min() > 0.0, p
        lids = m.rig.lid_vertices
        v = m.vertices[lids]
        r = np.linalg.norm(v - m.rig.eye_centres[(v[:, 0] > 0).astype(int)], axis=1)
        assert r.min() >= m.rig.eye_radius - 1e-6
