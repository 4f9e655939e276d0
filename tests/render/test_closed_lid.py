"""A closed upper lid, seen from the front: a dark band of lashes along the closed line and,
6-7 mm above it, the lid crease's shadow; flat skin with a thin drawn line read as CG."""

from __future__ import annotations

import numpy as np

FOV, SIZE, DISTANCE = 3.0, 256, 0.8
"""A close-up of one eye: 42 mm across 256 px (6.1 px per mm)."""


def _column_profiles(ident) -> list[np.ndarray]:
    """Luminance down the middle of each closed eye (a 7 px column through its centre)."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import express, identity_mesh
    from pain3d.render import Renderer, sample_lighting
    from pain3d.render.camera import Camera

    mesh = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=mesh)
    aus = np.zeros(6)
    aus[5] = 1.0  # AU43: eyes closed
    closed = express(mesh, aus)
    out = []
    with Renderer(SIZE) as r:
        for centre in mesh.rig.eye_centres:
            cam = Camera(yaw=0.0, pitch=0.0, distance=DISTANCE, fov=FOV,
                         target=tuple(float(x) for x in centre))
            rgb = r.render(closed, app, cam, sample_lighting(np.random.default_rng(0)),
                           aus=aus, depth=False).rgb
            out.append(rgb[:, SIZE // 2 - 3:SIZE // 2 + 4].astype(np.float64).mean((1, 2)))
    return out


def test_a_closed_lid_shows_a_lash_band_under_a_crease_shadow():
    from pain3d.face import sample_identities

    px = SIZE / (2 * DISTANCE * np.tan(np.radians(FOV / 2)) * 1000)  # pixels per mm
    for ident in sample_identities(3, 0):
        for prof in _column_profiles(ident):
            mid = SIZE // 2
            line = mid + int(np.argmin(prof[mid:mid + int(5 * px)]))  # the closed line

            def above(lo_mm: float, hi_mm: float, prof=prof, line=line) -> np.ndarray:
                return prof[line - int(hi_mm * px):line - int(lo_mm * px) + 1]

            lid = above(2.5, 4.0).mean()  # the lid's skin between lashes and crease
            over = above(9.0, 11.0).mean()  # the skin above the crease
            # Lashes darken the first 1.5 mm above the line: 0.53-0.72 of the lid skin (uniform
            # lash lines: 0.81-0.83).
            assert above(0.6, 1.5).mean() < 0.77 * lid, (above(0.6, 1.5).mean(), lid)
            # The crease: 0.86-0.90 of the skin around it (none before: 0.99-1.01).
            assert above(4.0, 9.0).min() < 0.95 * min(lid, over), (above(4.0, 9.0), lid, over)
