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


@pytest.fixture(scope="module")
def lip_and_skin_hsv():
    """{monk tone: [(lip hsv, cheek hsv) per appearance seed]}: HSV (hue in degrees, -180..180)
    of the mean painted lip and cheek albedo of one beardless young face, 512 texels."""
    import colorsys

    from pain3d.appearance import appearance_from_traits
    from pain3d.appearance.traits import MONK_TONES, sample_traits
    from pain3d.appearance.uvmap import cached_raster
    from pain3d.demographics import Demographics
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.mesh import region_id

    mesh = identity_mesh(sample_identities(1, 0)[0])
    demo = Demographics("female", "20-35", "latino")
    base = dataclasses.replace(sample_traits(demo, np.random.default_rng(0)), facial_hair="none",
                               age_level=0.0, freckles=0.0)
    skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
    faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
    cheek = mesh.regions[cached_raster(mesh.uv, faces, 512).nearest_vertex(faces)] == region_id(
        "cheek")

    def hsv(rgb):
        h, s, v = colorsys.rgb_to_hsv(*(rgb / 255.0))
        return (h * 360.0 + 180.0) % 360.0 - 180.0, s, v

    out = {}
    for tone in (1, 3, 5, 6, 8, 10):
        traits = dataclasses.replace(base, monk_tone=tone, skin_rgb=tuple(MONK_TONES[tone - 1]))
        out[tone] = []
        for seed in range(4):
            app = appearance_from_traits(mesh, demo, traits, seed, texture_size=512)
            lips = app.labels[..., 1] > 230
            out[tone].append((hsv(app.albedo[lips].mean(0)), hsv(app.albedo[cheek].mean(0))))
    return out


def test_lips_are_the_skins_hue_turned_redder_muted_and_darker(lip_and_skin_hsv):
    """Rose to brown-mauve (hue -10..14 degrees), 8-40 degrees redder than the skin, no more
    saturated than 0.48, darker than the skin, on every Monk tone; main's lips went salmon
    (hue 18-20) and orange-brown (saturation 0.63) on tones 5 and 6."""
    for tone, people in lip_and_skin_hsv.items():
        for (lh, ls, lv), (sh, _, sv) in people:
            assert -10.0 < lh < 14.0, (tone, lh)
            assert 8.0 < sh - lh < 40.0, (tone, lh, sh)
            assert 0.25 < ls < 0.48, (tone, ls)
            assert lv < 0.85 * sv, (tone, lv, sv)


def test_lip_colour_differs_between_people(lip_and_skin_hsv):
    """Each person draws their own lip hue (main only scaled one colour's lightness: the
    hue's spread over seeds was 0.1-0.5 degrees)."""
    for tone, people in lip_and_skin_hsv.items():
        assert np.std([lip[0] for lip, _ in people]) > 1.0, tone
