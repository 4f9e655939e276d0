"""The painted lash lines hug the lid margins: on the lower lid, resting on the eyeball since
0.9, a wider band painted the lid's whole thickness as a grey shadow under the eye."""

from __future__ import annotations

import numpy as np


def test_the_lower_lash_line_stays_within_a_millimetre_of_the_eyeball():
    from pain3d.appearance import sample_appearance
    from pain3d.appearance.landmarks import face_landmarks
    from pain3d.appearance.uvmap import cached_raster
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.mesh import region_id

    for ident in sample_identities(2, 0):
        mesh = identity_mesh(ident)
        app = sample_appearance(ident, ident.seed, mesh=mesh, texture_size=1024)
        skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
        faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
        raster = cached_raster(mesh.uv, faces, 1024)
        pos = raster.interpolate(faces, mesh.vertices)
        lid = mesh.regions[raster.nearest_vertex(faces)] == region_id("lower_eyelid")
        lm = face_landmarks(mesh)
        dist = np.min([np.linalg.norm(pos - eye, axis=-1) for eye in (lm.eye_left, lm.eye_right)],
                      axis=0) - lm.eye_radius
        lum = app.albedo.astype(np.float64).mean(-1)
        far = lid & (dist > 0.0014) & (dist < 0.0025)  # the lid's thickness, off the margin
        near = lid & (dist < 0.0009)
        assert far.sum() > 100 and near.sum() > 20
        # Off the margin the lid keeps the skin's tone; at the margin the lash darkens it.
        assert np.median(lum[far]) > 0.95 * np.median(lum[lid & (dist > 0.003)])
        assert np.median(lum[near]) < 0.9 * np.median(lum[far])
