"""Short hair's outline is broken by its locks (the gaps between them let the background
show through where the shell is seen edge-on), not the smooth edge of a cap."""

from __future__ import annotations

import numpy as np


def test_the_top_of_short_hair_has_a_ragged_outline():
    """The first two short- or medium-haired built-in identities, the three default views at
    512 px: along the head's top outline (the topmost covered pixel of each column, where it
    is hair), the share of columns more than 2 px off a 15-column running median. A smooth
    shell (before): 0 in every view; with the broken outline: 0.08-0.30, each identity's mean
    over 0.11."""
    from scipy.ndimage import median_filter

    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.mesh import PARTS
    from pain3d.render import Lighting, Renderer, default_views

    hair = PARTS.index("hair")
    means = []
    with Renderer(512) as r:
        for ident in sample_identities(24, 0):
            mesh = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh, texture_size=512)
            if app.traits.hair_style not in ("short", "medium"):
                continue
            shares = []
            for view in default_views()[:3]:
                res = r.render(mesh, app, view, Lighting(), aus=np.zeros(6), depth=False)
                m = res.mask > 0
                cols = np.nonzero(m.any(0))[0]
                top = m[:, cols].argmax(0)
                y = top.astype(np.float64)
                off = np.abs(y - median_filter(y, 15, mode="nearest"))
                shares.append((off[res.parts[top, cols] == hair] >= 2).mean())
            means.append(np.mean(shares))
            if len(means) == 2:
                break
    assert len(means) == 2
    assert min(means) > 0.05, np.round(means, 3)
