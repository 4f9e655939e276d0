"""Procedural skin detail: pores in the relief, deepest on the nose and cheeks, finest on the
forehead, drawn round on the surface whatever the UV map's stretch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest


@pytest.fixture(scope="module")
def face():
    """(height map (S, S) float, region id per texel (S, S)) of a beardless face without
    age creases, 512 texels."""
    from pain3d.appearance import appearance_from_traits
    from pain3d.appearance.traits import sample_traits
    from pain3d.appearance.uvmap import cached_raster
    from pain3d.demographics import Demographics
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.mesh import region_id

    mesh = identity_mesh(sample_identities(1, 0)[0])
    demo = Demographics("female", "20-35", "european")
    traits = dataclasses.replace(sample_traits(demo, np.random.default_rng(0)),
                                 facial_hair="none", age_level=0.0, freckles=0.0)
    app = appearance_from_traits(mesh, demo, traits, 0, texture_size=512)
    skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
    faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
    region = mesh.regions[cached_raster(mesh.uv, faces, 512).nearest_vertex(faces)]
    return app.height.astype(np.float32), region


def _fine_relief(height: np.ndarray, region: np.ndarray, name: str) -> float:
    """Std of the relief finer than about 2 texels over a region's texels (height levels)."""
    import cv2

    from pain3d.face.mesh import region_id

    fine = height - cv2.GaussianBlur(height, (0, 0), 2.0)
    return float(fine[region == region_id(name)].std())


def test_pores_roughen_the_nose_and_cheeks_more_than_the_forehead(face):
    """Main's pore noise was the same everywhere (nose, cheek, forehead: 4.4, 4.7, 4.5
    levels)."""
    height, region = face
    nose, cheek, forehead = (_fine_relief(height, region, r) for r in ("nose", "cheek",
                                                                        "forehead"))
    assert nose > 1.6 * forehead, (nose, forehead)
    assert cheek > 1.4 * forehead, (cheek, forehead)
    assert nose > 5.5, nose  # deeper than main's grain


def test_value_noise_is_smooth_on_the_grid_scale_and_repeatable():
    """Neighbours a tenth of a cell apart differ far less than points cells apart; the same
    points and seed give the same values, another seed others."""
    from pain3d.appearance.skin import value_noise

    rng = np.random.default_rng(0)
    p = rng.uniform(-0.05, 0.05, (2000, 3)).astype(np.float32)
    cell = 0.001
    v = value_noise(p, cell, 1)
    near = value_noise(p + np.float32(0.1 * cell), cell, 1)
    far = value_noise(p + np.float32(3.0 * cell), cell, 1)
    assert np.abs(v - near).mean() < 0.3 * np.abs(v - far).mean()
    assert np.array_equal(v, value_noise(p, cell, 1))
    assert not np.allclose(v, value_noise(p, cell, 2))
    assert 0.2 < v.std() < 0.45 and abs(v.mean()) < 0.05


def test_pores_fade_where_the_uv_map_stretches_the_skin():
    """Texels longer than 1.2 cells one way get no pores (bump-mapped there, the noise reads
    as streaks along the stretch) but a coarser grain, round on them; texels longer than
    1.2 of its cells get none either."""
    from pain3d.appearance.skin import COARSE_CELL, PORE_CELL, pore_relief

    size = 96
    u, v = np.meshgrid(np.arange(size), np.arange(size))
    # Thirds: 0.8 cells a texel both ways; 2 cells a texel along u; 4 cells along u.
    step_u = np.select([u < 32, u < 64], [0.8, 2.0], 4.0) * PORE_CELL
    x = np.cumsum(step_u, axis=1)
    pos = np.stack([x, v * 0.8 * PORE_CELL, np.zeros_like(x)], -1).astype(np.float32)
    relief = pore_relief(pos, np.ones((size, size), np.float32), 0)
    assert relief[:, 4:28].std() > 0.15
    assert 2.0 * PORE_CELL < 1.2 * COARSE_CELL < 4.0 * PORE_CELL
    assert relief[:, 36:60].std() > 0.08, relief[:, 36:60].std()  # main: none
    assert np.all(relief[:, 68:-2] == 0.0)


def test_the_chin_and_upper_lip_have_fine_relief(face):
    """Their texels (1.5-2.8 mm) were too long for the pores: main's fine relief there was
    the faint grain and the jaw's pores alone (chin and jaw 2.07-2.72 levels, upper lip
    0.67-1.34, on two faces; the nose's 5.9-6.3); the coarser grain gives 5.8-6.6 and
    4.9-5.5 (the nose's: 6.9-7.1, its stretched sides get some too)."""
    height, region = face
    chin, lip = (_fine_relief(height, region, r) for r in ("chin_jaw", "upper_lip_skin"))
    assert chin > 4.0, chin
    assert lip > 3.0, lip
