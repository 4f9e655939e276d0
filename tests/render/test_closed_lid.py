"""A closed upper lid, seen from the front: a thin dark line where the lids meet, lashes
hanging from it over the lower lid and, 6-7 mm above it, the lid crease's shadow; flat skin
with a thin drawn line read as CG, and lashes on the lid skin above the line pointed up."""

from __future__ import annotations

import numpy as np

FOV, SIZE, DISTANCE = 3.0, 256, 0.8
"""A close-up of one eye: 42 mm across 256 px (6.1 px per mm)."""


def _closed_eyes(ident) -> list[tuple[np.ndarray, float]]:
    """Luminance (H, W) of each closed eye seen from the front, and the image row of its
    closed line (the upper lid's lowest vertex under the eye's centre)."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import express, identity_mesh
    from pain3d.face.mesh import region_id
    from pain3d.render import Renderer, sample_lighting
    from pain3d.render.camera import Camera

    px = SIZE / (2 * DISTANCE * np.tan(np.radians(FOV / 2)) * 1000)  # pixels per mm
    mesh = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=mesh)
    aus = np.zeros(6)
    aus[5] = 1.0  # AU43: eyes closed
    closed = express(mesh, aus)
    v = closed.vertices
    out = []
    with Renderer(SIZE) as r:
        for centre in mesh.rig.eye_centres:
            lid = ((closed.regions == region_id("upper_eyelid"))
                   & (np.abs(v[:, 0] - centre[0]) < 0.002) & (v[:, 2] > centre[2]))
            line = SIZE / 2 - (v[lid, 1].min() - centre[1]) * 1000 * px
            cam = Camera(yaw=0.0, pitch=0.0, distance=DISTANCE, fov=FOV,
                         target=tuple(float(x) for x in centre))
            rgb = r.render(closed, app, cam, sample_lighting(np.random.default_rng(0)),
                           aus=aus, depth=False).rgb
            out.append((rgb.astype(np.float64).mean(-1), line))
    return out


def test_a_closed_lid_shows_a_lash_band_under_a_crease_shadow():
    from pain3d.face import sample_identities

    px = SIZE / (2 * DISTANCE * np.tan(np.radians(FOV / 2)) * 1000)  # pixels per mm
    for ident in sample_identities(3, 0):
        for lum, row in _closed_eyes(ident):
            prof = lum[:, SIZE // 2 - 3:SIZE // 2 + 4].mean(1)  # down the eye's middle
            line = int(row)

            def above(lo_mm: float, hi_mm: float, prof=prof, line=line) -> np.ndarray:
                return prof[line - int(hi_mm * px):line - int(lo_mm * px) + 1]

            lid = above(2.5, 4.0).mean()  # the lid's skin between lashes and crease
            over = above(9.0, 11.0).mean()  # the skin above the crease
            # The crease: 0.86-0.90 of the skin around it (none before: 0.99-1.01).
            assert above(4.0, 9.0).min() < 0.95 * min(lid, over), (above(4.0, 9.0), lid, over)


def test_a_closed_lids_lashes_hang_below_the_closed_line():
    from pain3d.face import sample_identities

    px = SIZE / (2 * DISTANCE * np.tan(np.radians(FOV / 2)) * 1000)  # pixels per mm
    cols = slice(SIZE // 2 - int(11 * px), SIZE // 2 + int(11 * px))  # the eye's width
    below = []
    for ident in sample_identities(3, 0):
        for lum, line in _closed_eyes(ident):

            def band(lo_mm: float, hi_mm: float, lum=lum, line=line) -> np.ndarray:
                """Rows ``lo_mm``..``hi_mm`` below the closed line (negative: above)."""
                return lum[int(line + lo_mm * px):int(line + hi_mm * px) + 1, cols]

            skin = np.median(band(3.5, 5.0))  # the lower lid's skin
            below.append((band(0.3, 2.5) < 0.8 * skin).mean())
    # Lash pixels (darker than 0.8 of the lower lid's skin) within 2.5 mm under the line:
    # 0.017-0.10 of the band, most toward the outer corner. None before (0.000 on all six
    # eyes): the fringe was painted on the lid above the line, where it pointed up.
    assert min(below) > 0.01, below
