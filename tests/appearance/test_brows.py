"""Procedural brows read as hairs: densest and darkest at the body, thinning to the tail,
and grey brows a mix of grey and still-pigmented hairs. Before pain3d.appearance.brows the
brow was an even band of one colour along its whole length (the tail as dark as the body),
and grey brows one flat dark grey (a grey stripe of paint on dark skin)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np


def _brow_texels(mesh, app):
    """Per texel of the 512 texture: albedo luminance, position along the brow t (0 head ..
    1 tail), the brow label, and the bare skin's (S, S) bool mask just over the brows."""
    from pain3d.appearance.landmarks import face_landmarks
    from pain3d.appearance.uvmap import cached_raster
    from pain3d.face.mesh import region_id

    size = app.albedo.shape[0]
    skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
    faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
    pos = cached_raster(mesh.uv, faces, size).interpolate(faces, mesh.vertices)
    lm = face_landmarks(mesh)
    x, y = pos[..., 0], pos[..., 1]
    eye_x = np.where(x > 0, lm.eye_left[0], lm.eye_right[0])
    t = (np.abs(x) - np.abs(eye_x) + 0.021) / 0.045
    lum = app.albedo.astype(np.float64).mean(-1) / 255.0
    label = app.labels[..., 0] / 255.0
    skin = ((label < 0.01) & (y > lm.brow_y + 0.008) & (y < lm.brow_y + 0.018)
            & (pos[..., 2] > lm.face_z - 0.025))  # the front: not the back of the head
    return lum, t, label, skin


def _darkness(lum, t, label, skin, lo, hi, cover):
    """How much darker than the bare skin over it the brow (label over ``cover``) is from
    t = ``lo`` to ``hi``."""
    brow, over = (label > cover) & (t > lo) & (t < hi), skin & (t > lo) & (t < hi)
    assert brow.sum() > 10 and over.sum() > 10
    return 1.0 - float(np.mean(lum[brow])) / float(np.median(lum[over]))


def test_brows_are_darkest_at_the_body_and_thin_to_the_tail_and_head():
    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities

    for ident in sample_identities(3, 0):
        mesh = identity_mesh(ident)
        app = sample_appearance(ident, ident.seed, mesh=mesh, texture_size=512)
        texels = _brow_texels(mesh, app)
        body = _darkness(*texels, 0.25, 0.5, 0.9)
        assert body > 0.2, body
        assert _darkness(*texels, 0.8, 0.95, 0.9) < 0.75 * body
        assert _darkness(*texels, 0.05, 0.15, 0.15) < 0.75 * body


def test_grey_brows_mix_grey_and_pigmented_hairs():
    from pain3d.appearance import appearance_from_traits
    from pain3d.appearance.traits import HAIR_COLOURS, MONK_TONES, sample_traits
    from pain3d.face import identity_mesh, sample_identities

    ident = sample_identities(1, 0)[0]
    mesh = identity_mesh(ident)
    traits = replace(sample_traits(ident.demographics, np.random.default_rng(0)),
                     monk_tone=7, skin_rgb=tuple(MONK_TONES[6]), hair_colour="white",
                     hair_rgb=HAIR_COLOURS["white"], brow_density=0.9)
    app = appearance_from_traits(mesh, ident.demographics, traits, seed=3)
    lum, t, label, over = _brow_texels(mesh, app)
    body = lum[(label > 0.9) & (t > 0.2) & (t < 0.6)]
    skin = float(np.median(lum[over & (t > 0.2) & (t < 0.6)]))
    # Pigmented hairs darker than the skin and grey-white ones lighter, side by side.
    assert np.mean(body < 0.7 * skin) > 0.2
    assert np.mean(body > skin) > 0.15
