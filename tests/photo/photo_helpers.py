"""Helpers of the photo-identity tests (imported by name: the test dir is on sys.path)."""

from __future__ import annotations

import numpy as np


def procedural_photo(size: int = 512, seed: int = 0, nuisance=None,
                     background: np.ndarray | None = None) -> np.ndarray:
    """(size, size, 3) uint8 RGB: a neutral procedural face in the default front view, over
    ``background`` (size, size, 3) uint8 (default: a procedural one)."""
    from pain3d.appearance import procedural_background, sample_appearance
    from pain3d.face import express, identity_mesh, sample_identities
    from pain3d.render import Renderer, compose, default_views, sample_lighting

    ident = sample_identities(1, seed)[0]
    mesh = identity_mesh(ident)
    if nuisance:
        mesh = express(mesh, np.zeros(6), nuisance=nuisance)
    app = sample_appearance(ident, ident.seed, mesh=mesh)
    rng = np.random.default_rng(seed)
    with Renderer(size) as renderer:
        res = renderer.render(mesh, app, default_views()[0], sample_lighting(rng), depth=False)
    bg = procedural_background(rng, size)
    return compose(res, bg if background is None else background)


def ears_shrunk(mesh):
    """``mesh`` with each ear shrunk to 5 % about its centre and moved into the head: a
    render of it, against one of ``mesh``, changes exactly where the ears were."""
    import dataclasses

    from pain3d.face.mesh import region_id

    ear = mesh.regions == region_id("ear")
    v = mesh.vertices.copy()
    for side in (v[:, 0] < 0, v[:, 0] >= 0):
        at = ear & side
        v[at] = v[at].mean(0) + 0.05 * (v[at] - v[at].mean(0))
        v[at, 0] *= 0.8  # into the head
    return dataclasses.replace(mesh, vertices=v)
