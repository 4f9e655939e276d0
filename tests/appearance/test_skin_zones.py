"""Colour and sheen zones of procedural skin: a shaved man's beard area is darker and bluer
than his cheeks, and the T-zone shines more than the matte cheeks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest


@pytest.fixture(scope="module")
def shaved_man():
    """(albedo (S, S, 3) float in [0, 1], region id per texel (S, S), appearance, mesh) of
    a pale, dark-haired, clean-shaven young man, 512 texels."""
    from pain3d.appearance import appearance_from_traits
    from pain3d.appearance.traits import sample_traits
    from pain3d.appearance.uvmap import cached_raster
    from pain3d.demographics import Demographics
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.mesh import region_id

    mesh = identity_mesh(sample_identities(1, 0)[0])
    demo = Demographics("male", "20-35", "european")
    traits = dataclasses.replace(sample_traits(demo, np.random.default_rng(1)),
                                 facial_hair="none", age_level=0.0, freckles=0.0,
                                 hair_colour="black", hair_rgb=(0.08, 0.06, 0.05))
    app = appearance_from_traits(mesh, demo, traits, 0, texture_size=512)
    skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
    faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
    region = mesh.regions[cached_raster(mesh.uv, faces, 512).nearest_vertex(faces)]
    return app.albedo.astype(np.float32) / 255.0, region, app, mesh


def _blue_over_red(albedo: np.ndarray, region: np.ndarray, name: str) -> float:
    from pain3d.face.mesh import region_id

    texels = albedo[region == region_id(name)]
    return float(np.median(texels[:, 2] / texels[:, 0]))


def test_a_shaved_mans_jaw_is_bluer_than_his_forehead(shaved_man):
    """The follicles' hairs under shaved skin cast it blue-grey. Main painted the chin and
    jaw as the forehead (blue/red 0.816 and 0.815: ratio 1.00); here about 1.10."""
    albedo, region, _, _ = shaved_man
    jaw, forehead = (_blue_over_red(albedo, region, r) for r in ("chin_jaw", "forehead"))
    assert jaw > 1.05 * forehead, (jaw, forehead)


def test_the_t_zone_shines_more_than_the_cheeks(shaved_man):
    """The nose is oily, the cheeks matte. Main's specular strength on the nose was 1.17
    times the cheeks' (0.42 and 0.36); here about 2.1."""
    from pain3d.face.mesh import region_id

    _, _, app, mesh = shaved_man
    spec = app.vertex_spec

    def median(name: str) -> float:
        return float(np.median(spec[mesh.regions == region_id(name)]))

    assert median("nose") > 1.8 * median("cheek"), (median("nose"), median("cheek"))
    assert median("forehead") > 1.5 * median("cheek"), (median("forehead"), median("cheek"))
