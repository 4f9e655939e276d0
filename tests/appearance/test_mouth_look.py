"""Lips and facial hair as photographed at 512 px: the lips' colour fades into the skin over
about a millimetre (a vermilion border, not a decal's edge), the lower lip shows its vertical
furrows, and a white moustache is translucent strands, not white paint."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def face():
    """(mesh, demographics, beardless traits, position map) of one older man, 512 texels."""
    from pain3d.appearance.traits import sample_traits
    from pain3d.appearance.uvmap import cached_raster
    from pain3d.demographics import Demographics
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.mesh import region_id

    mesh = identity_mesh(sample_identities(1, 0)[0])
    demo = Demographics("male", "61-85", "european")
    traits = dataclasses.replace(sample_traits(demo, np.random.default_rng(0)),
                                 facial_hair="none")
    # The skin's faces only, as the painter rasterises them.
    skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
    faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
    pos = cached_raster(mesh.uv, faces, 512).interpolate(faces, mesh.vertices)
    return mesh, demo, traits, pos


def _paint(face, **changes):
    from pain3d.appearance import appearance_from_traits

    mesh, demo, traits, _ = face
    app = appearance_from_traits(mesh, demo, dataclasses.replace(traits, **changes), 0,
                                 texture_size=512)
    return app.albedo.astype(np.float64) / 255.0, app.labels[..., 1]


@pytest.fixture(scope="module")
def lips(face):
    """{monk tone: (albedo, lip labels)} of the beardless face on pale and dark skin."""
    from pain3d.appearance.traits import MONK_TONES

    return {tone: _paint(face, monk_tone=tone, skin_rgb=tuple(MONK_TONES[tone - 1]))
            for tone in (2, 9)}


def test_the_lip_colour_fades_into_the_skin(face, lips):
    """Texels one texel (0.9 mm) outside the lower lip's labelled border already carry a
    quarter of the way from the skin's colour to the lip's (main: 0.16 on pale skin, 0.20
    on dark: a decal's edge; now 0.28 and 0.26), and two texels out still a little."""
    pos = face[3]
    for tone, (albedo, lab) in lips.items():
        inside = (lab > 128).astype(np.uint8)
        dist = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3)
        mouth_y = float(np.median(pos[..., 1][inside > 0]))
        below = pos[..., 1] < mouth_y - 0.004  # the lower lip's lower border only
        lip = albedo[lab > 250].mean(0)
        skin = albedo[(dist > 4) & (dist <= 6) & below].mean(0)
        axis = lip - skin
        share = (albedo - skin) @ axis / (axis @ axis)
        one, two = (float(share[(dist > d - 1) & (dist <= d) & below].mean()) for d in (1, 2))
        assert one > 0.23, (tone, one)
        assert 0.03 < two < one, (tone, two)


def test_the_lower_lip_shows_its_furrows(face, lips):
    """The lower lip's albedo varies across its vertical furrows: the part of its lightness
    that changes within a few texels along a row is 3.5 % of it or more (main: 1.7 % on
    pale skin, 2.7 % on dark; now 4.8 % and 5.1 %)."""
    pos = face[3]
    for tone, (albedo, lab) in lips.items():
        lum = albedo.mean(-1)
        across = lum - cv2.GaussianBlur(lum, (0, 0), sigmaX=2.0, sigmaY=0.01)
        mouth_y = float(np.median(pos[..., 1][lab > 128]))
        lower = ((lab > 250) & (pos[..., 1] < mouth_y - 0.003)).astype(np.uint8)
        lower = cv2.erode(lower, np.ones((3, 3), np.uint8)) > 0
        assert lower.sum() > 50
        assert across[lower].std() / lum[lower].mean() > 0.035, tone


def test_a_white_moustache_is_not_white_paint(face):
    """On dark skin a white moustache's brightest texels stay well under white (strands of
    translucent keratin mixed with pigmented ones, over their shadow): its 99th percentile
    lightness is under 0.65 (main: 0.72, max 0.80; now 0.54), and it is not a flat patch."""
    from pain3d.appearance.landmarks import face_landmarks
    from pain3d.appearance.textures import _facial_hair_mask
    from pain3d.appearance.traits import MONK_TONES

    mesh, _, _, pos = face
    albedo, lab = _paint(face, facial_hair="moustache", hair_colour="white",
                         hair_rgb=(0.82, 0.81, 0.78), monk_tone=8,
                         skin_rgb=tuple(MONK_TONES[7]))
    lm = face_landmarks(mesh)
    area = _facial_hair_mask(pos, lm, "moustache", np.ones(pos.shape[:2]), 1.0) > 0.6
    area &= (lab < 10) & (pos[..., 2] > lm.face_z - 0.04)
    lum = albedo[area].mean(-1)
    assert area.sum() > 100
    p10, p99 = np.percentile(lum, [10, 99])
    assert p99 < 0.65, p99
    assert p99 - p10 > 0.15, (p10, p99)
