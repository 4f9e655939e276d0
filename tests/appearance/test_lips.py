"""Procedural lips: the skin's hue turned rose (pale skin) or mauve-brown (dark skin), never
orange; the upper lip darker than the lower; a crisp border."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest


@pytest.fixture(scope="module")
def painted():
    """(monk tone, albedo, lips mask, cheek mask, upper lip mask, lower lip mask) for a pale
    and a dark face, 512 texels."""
    from pain3d.appearance import appearance_from_traits
    from pain3d.appearance.traits import MONK_TONES, sample_traits
    from pain3d.appearance.uvmap import cached_raster
    from pain3d.demographics import Demographics
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.mesh import region_id

    ident = sample_identities(1, 0)[0]
    mesh = identity_mesh(ident)
    demo = Demographics("female", "20-35", "latino")
    base = dataclasses.replace(sample_traits(demo, np.random.default_rng(0)), facial_hair="none")
    # The skin's faces only, as the painter rasterises them (the mouth interior's UVs lie
    # in the lips' slit).
    skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
    faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
    raster = cached_raster(mesh.uv, faces, 512)
    region = mesh.regions[raster.nearest_vertex(faces)]
    pos = raster.interpolate(faces, mesh.vertices)
    out = []
    for tone in (2, 9):
        traits = dataclasses.replace(base, monk_tone=tone, skin_rgb=tuple(MONK_TONES[tone - 1]))
        app = appearance_from_traits(mesh, demo, traits, 0, texture_size=512)
        lips = app.labels[..., 1] > 230
        mouth_y = float(np.median(pos[..., 1][lips]))
        out.append((tone, app.albedo.astype(np.float64), lips, region == region_id("cheek"),
                    lips & (pos[..., 1] > mouth_y + 0.002), lips & (pos[..., 1] < mouth_y - 0.002),
                    app.labels[..., 1]))
    return out


def test_lips_are_rose_or_mauve_not_orange(painted):
    for tone, albedo, lips, cheek, _, _, _ in painted:
        lip, skin = albedo[lips].mean(0), albedo[cheek].mean(0)
        # More blue over green than the skin has (the same ratio gave orange lips).
        assert lip[2] / lip[1] > 1.04 * skin[2] / skin[1], (tone, lip, skin)
        assert lip.mean() < skin.mean(), (tone, lip, skin)  # darker than the skin


def test_the_upper_lip_is_darker_than_the_lower(painted):
    for tone, albedo, _, _, upper, lower, _ in painted:
        assert upper.sum() > 50 and lower.sum() > 50
        assert albedo[upper].mean() < 0.95 * albedo[lower].mean(), tone


def test_the_lip_border_is_crisp(painted):
    """The painted lip coverage rises from 0.1 to 0.9 over a narrow rim: its texels are
    0.21 of the full lips' (0.8's blur over 1.5 mm: 0.27)."""
    _, _, _, _, _, _, cover = painted[0]
    ramp = (cover > 25) & (cover < 230)
    full = cover >= 230
    assert ramp.sum() < 0.24 * full.sum()
