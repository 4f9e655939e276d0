"""Issue 13: a wrinkle (the nasolabial fold) darkens the skin's own colour, not towards grey."""

from __future__ import annotations

import numpy as np


def test_a_fold_darkens_blue_more_than_red():
    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.render import Renderer, default_views, sample_lighting

    ident = sample_identities(1, 0)[0]
    mesh = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=mesh)
    light = sample_lighting(np.random.default_rng(ident.seed))
    r = Renderer(256)
    try:
        cam = default_views()[0]
        # Same (neutral) geometry: only the wrinkle maps differ between the two renders.
        flat = np.asarray(r.render(mesh, app, cam, light, aus=np.zeros(6), depth=False).rgb, float)
        aus = np.array([0, 0, 0, 0, 5, 0], float)
        fold = np.asarray(r.render(mesh, app, cam, light, aus=aus, depth=False).rgb, float)
    finally:
        r.release()
    drop = (flat - fold)[..., :3] / np.maximum(flat[..., :3], 1.0)
    mask = drop.mean(-1) > 0.08
    assert mask.sum() > 20
    red, blue = drop[mask, 0].mean(), drop[mask, 2].mean()
    assert blue > 1.25 * red, (red, blue)  # main's grey darkening: blue ~= red
