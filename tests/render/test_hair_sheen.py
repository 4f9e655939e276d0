"""Hair shines: the key light puts a sheen on dark scalp hair (a Kajiya-Kay band across the
strands, broken into streaks by their relief), not only the dull diffuse light a black
albedo reflects."""

from __future__ import annotations

import dataclasses

import numpy as np


def _key_light_on_hair(renderer, mesh, app, view, light):
    from pain3d.face.mesh import PARTS

    lit = renderer.render(mesh, app, view, light, aus=np.zeros(6), depth=False)
    unlit = renderer.render(mesh, app, view, dataclasses.replace(light, key_rgb=(0.0, 0.0, 0.0)),
                            aus=np.zeros(6), depth=False)
    gain = lit.rgb.astype(np.float64).mean(-1) - unlit.rgb.astype(np.float64).mean(-1)
    return gain[lit.parts == PARTS.index("hair")]


def test_the_key_light_puts_a_sheen_on_black_hair():
    """Two black-haired identities in the three default views, a fixed light rig: the key
    light brightens the hair's brightest 5 % by a median of more than 28 grey levels. A
    matte shell (before pain3d 0.10): 11-24, median 15; with the sheen: 12-70, median 40
    (where the band falls outside the hair, a view gains little)."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.render import Lighting, Renderer, default_views

    light = Lighting()
    gains = []
    with Renderer(256) as r:
        for ident in sample_identities(24, 0):
            mesh = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh, texture_size=128)
            if max(app.traits.hair_rgb) > 0.1 or app.traits.hair_style == "bald":
                continue
            for view in default_views()[:3]:
                gains.append(np.percentile(_key_light_on_hair(r, mesh, app, view, light), 95))
            if len(gains) >= 6:
                break
    assert len(gains) == 6, gains
    assert np.median(gains) > 28.0, np.round(gains, 1)
