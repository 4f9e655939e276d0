"""The teeth seen through parted lips are crowns of real widths with gaps between them, not a
flat band."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("seed", [3, 5])
def test_parted_lips_show_crowns_with_gaps_at_the_incisors_borders(seed):
    from pain3d.appearance import sample_appearance
    from pain3d.face import express, identity_mesh, sample_identities
    from pain3d.face.mesh import PARTS, region_id
    from pain3d.render import Camera, Lighting, Renderer

    ident = sample_identities(1, seed=seed)[0]
    mesh0 = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=mesh0, texture_size=128)
    aus = np.array([0.0, 0.0, 0.0, 3.0, 5.0, 0.0])  # upper lip up: the upper teeth show
    mesh = express(mesh0, aus)
    # The shader's mouth centre: the front-most ring of the mouth interior, on the midline.
    m = mesh.vertices[mesh.regions == region_id("mouth_interior")]
    front = m[m[:, 2] > m[:, 2].max() - 0.003]
    mouth = np.array([0.0, front[:, 1].mean(), front[:, 2].max()])
    cam = Camera(yaw=0.0, pitch=0.0, distance=0.25, fov=20.0, target=tuple(mouth))
    with Renderer(256) as r:
        res = r.render(mesh, app, cam, Lighting(), aus=aus, depth=False)
    lum = res.rgb.astype(np.float64).mean(-1)
    inside = res.parts == PARTS.index("mouth")

    # Luminance across the upper teeth (mouth pixels 1-4 mm above the lip line), every 0.5 mm.
    mm = np.arange(-10.0, 10.01, 0.5)
    profile = []
    for d in mm:
        (x, lo), (_, hi) = cam.project(mouth[None] + [[d / 1000, 0.001, 0.0],
                                                       [d / 1000, 0.004, 0.0]],
                                       (256, 256))[:, :2]
        col = (slice(int(round(hi)), int(round(lo)) + 1), int(round(x)))
        assert inside[col].sum() >= 4, d
        profile.append(lum[col][inside[col]].mean())
    profile = np.array(profile)
    # Gaps: local minima 15 % below the brightest crown within 3 mm.
    gaps = [d for k, d in enumerate(mm) if 0 < k < len(mm) - 1
            and profile[k] <= profile[k - 1:k + 2].min()
            and profile[k] < 0.85 * profile[max(0, k - 6):k + 7].max()]
    # Central incisors 8.5 mm wide: gaps on the midline and about 8.5 mm out on each side.
    assert any(abs(d) <= 1.0 for d in gaps), gaps
    assert any(abs(d + 8.5) <= 1.5 for d in gaps) and any(abs(d - 8.5) <= 1.5 for d in gaps), gaps
    assert not any(2.0 < abs(d) < 6.5 for d in gaps), gaps  # one crown each, no stripes


def test_the_teeth_are_lit_as_crowns_behind_the_lips_not_as_the_mouths_dark_inside():
    """Issue 13: the crowns are painted on the mouth's interior surface, whose vertices carry
    a dark ambient occlusion and lie centimetres behind the lips; lit and dimmed as that
    surface, the teeth came out as dark grey slabs (on pale faces 0.62 of the skin's
    luminance, 0.6)."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import express, identity_mesh, sample_identities
    from pain3d.face.mesh import PARTS
    from pain3d.render import Camera, Renderer, sample_lighting

    aus = np.array([3.0, 3.0, 3.0, 3.0, 5.0, 0.0])
    ratios = []
    with Renderer(256) as r:
        for ident in sample_identities(4, 0):
            mesh = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh, texture_size=256)
            light = sample_lighting(np.random.default_rng(ident.seed))
            res = r.render(express(mesh, aus), app, Camera(yaw=0, pitch=0, distance=0.6,
                                                           fov=20), light, aus=aus)
            lum = res.rgb.astype(np.float64).mean(-1)
            mouth = lum[res.parts == PARTS.index("mouth")]
            assert mouth.size > 100
            teeth = mouth[mouth >= np.percentile(mouth, 60)].mean()  # not the dark gaps
            ratios.append(teeth / np.median(lum[res.parts == PARTS.index("skin")]))
    assert min(ratios) > 0.85, ratios
