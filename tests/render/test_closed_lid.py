"""A closed upper lid, seen from the front: a thin dark line where the lids meet, lashes
hanging from it over the lower lid and, 6-7 mm above it, the lid crease's shadow; flat skin
with a thin drawn line read as CG, and lashes on the lid skin above the line pointed up."""

from __future__ import annotations

import numpy as np

FOV, SIZE, DISTANCE = 3.0, 256, 0.8
"""A close-up of one eye: 42 mm across 256 px (6.1 px per mm)."""


def _closed_eyes(ident, size: int = SIZE) -> list[tuple[np.ndarray, float]]:
    """Luminance (H, W) of each closed eye seen from the front (``size`` px across the
    42 mm), and the image row of its closed line (the upper lid's lowest vertex under the
    eye's centre)."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import express, identity_mesh
    from pain3d.face.mesh import region_id
    from pain3d.render import Renderer, sample_lighting
    from pain3d.render.camera import Camera

    px = size / (2 * DISTANCE * np.tan(np.radians(FOV / 2)) * 1000)  # pixels per mm
    mesh = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=mesh)
    aus = np.zeros(6)
    aus[5] = 1.0  # AU43: eyes closed
    closed = express(mesh, aus)
    v = closed.vertices
    out = []
    with Renderer(size) as r:
        for centre in mesh.rig.eye_centres:
            lid = ((closed.regions == region_id("upper_eyelid"))
                   & (np.abs(v[:, 0] - centre[0]) < 0.002) & (v[:, 2] > centre[2]))
            line = size / 2 - (v[lid, 1].min() - centre[1]) * 1000 * px
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


def test_a_closed_line_is_a_soft_shadow_not_an_ink_stroke():
    from pain3d.face import sample_identities

    px = SIZE / (2 * DISTANCE * np.tan(np.radians(FOV / 2)) * 1000)  # pixels per mm
    for ident in sample_identities(3, 0):
        for lum, row in _closed_eyes(ident):
            prof = lum[:, SIZE // 2 - 3:SIZE // 2 + 4].mean(1)  # down the eye's middle
            line = int(round(row))
            near = prof[line - int(2 * px):line + int(2 * px) + 1]
            skin = np.median(np.r_[prof[line - int(4 * px):line - int(2.5 * px)],
                                   prof[line + int(3.5 * px):line + int(5 * px)]])
            # The darkest band's depth (its darkest row / the skin 2.5-5 mm away) and width
            # (the rows darker than halfway to the skin, mm): 0.41-0.45 and 1.15-1.65 mm; an
            # ink stroke before (0.18-0.26 and 0.8-1.0 mm: the painted root line).
            low, i = near.min(), int(near.argmin())
            dark = near < (low + skin) / 2
            lo = i - int(np.argmin(dark[i::-1])) + 1 if not dark[:i + 1].all() else 0
            hi = i + int(np.argmin(dark[i:])) - 1 if not dark[i:].all() else len(near) - 1
            width = (hi - lo + 1) / px
            assert low > 0.33 * skin, (low / skin, width)
            assert width > 1.05, (low / skin, width)


def _lash_bands(ident, a43: float, cols_mm: tuple[float, float] = (-8.0, 8.0)
                ) -> list[dict[str, float]]:
    """Per eye of ``ident`` (AU43 ``a43``), seen from the front: the fraction of lash-dark
    pixels (under 0.7 of the skin 3.5-5 mm past the band's lid margin, column by column
    ``cols_mm`` from the eye's centre, image x) 1-3 mm above the upper margin ("above") and
    0.5-2.5 mm below it ("below"), and 0.3-2.5 mm below the lower margin ("lower")."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import express, identity_mesh
    from pain3d.face.head import head_template
    from pain3d.render import Renderer, sample_lighting
    from pain3d.render.camera import Camera

    px = SIZE / (2 * DISTANCE * np.tan(np.radians(FOV / 2)) * 1000)  # pixels per mm
    loops = head_template().fine_eye_loops
    mesh = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=mesh)
    aus = np.zeros(6)
    aus[5] = a43
    v = express(mesh, aus).vertices
    out = []
    with Renderer(SIZE) as r:
        for key, centre in zip(("r", "l"), mesh.rig.eye_centres, strict=True):
            cam = Camera(yaw=0.0, pitch=0.0, distance=DISTANCE, fov=FOV,
                         target=tuple(float(x) for x in centre))
            lum = r.render(express(mesh, aus), app, cam,
                           sample_lighting(np.random.default_rng(0)), aus=aus,
                           depth=False).rgb.astype(np.float64).mean(-1)

            def dark(loop, lo_mm: float, hi_mm: float, ref_mm: tuple[float, float],
                     lum=lum, centre=centre) -> float:
                x, y = ((v[loop, :2] - centre[:2]) * 1000).T
                o = np.argsort(x)
                band, ref = [], []
                for c in range(int(SIZE / 2 + cols_mm[0] * px),
                               int(SIZE / 2 + cols_mm[1] * px)):
                    line = SIZE / 2 - np.interp((c + 0.5 - SIZE / 2) / px, x[o], y[o]) * px
                    for rows, mm in ((band, (lo_mm, hi_mm)), (ref, ref_mm)):
                        a, b = sorted(int(line + m * px) for m in mm)
                        rows.append(lum[a:b + 1, c])
                return float(np.mean(np.concatenate(band) < 0.7 * np.median(np.concatenate(ref))))

            up, low = loops[key]
            out.append({"above": dark(up, -3.0, -1.0, (-5.0, -4.0)),
                        "below": dark(up, 0.5, 2.5, (3.5, 5.0)),
                        "lower": dark(low, 0.3, 2.5, (3.5, 5.0))})
    return out


def test_a_shut_lids_fringe_fades_above_the_closed_line_and_hangs_below_it():
    from pain3d.face import sample_identities

    for ident in sample_identities(3, 0):
        for eye in _lash_bands(ident, 1.0):
            # The renderer fades the fringe painted on the lid (it points up from the open
            # margin) as the lid shuts: 0.000 lash-dark above the closed line on all six eyes
            # (before: 0.013-0.070, clumps pointing up, most at the outer corner), and draws
            # lashes hanging below it (0.04-0.10 of that band).
            assert eye["above"] < 0.005, eye
            assert eye["below"] > 0.02, eye


def test_an_open_eyes_lower_lashes_are_short_and_faint():
    from pain3d.face import sample_identities

    for ident in sample_identities(3, 0):
        for eye in _lash_bands(ident, 0.0):
            # 0.000 lash-dark under the open lower lid's margin on all six eyes; 0.014-0.093
            # when the texture painted a closed lid's hanging lashes there (every open eye
            # showed them as full lower lashes).
            assert eye["lower"] < 0.005, eye


def test_a_shut_lids_hanging_fringe_shows_at_both_corners_and_on_dark_skin():
    from pain3d.face import sample_identities

    idents = sample_identities(3, 0)
    for ident in idents:
        for cols in ((-12.0, -8.0), (8.0, 12.0)):  # 8-12 mm out: toward either corner
            for eye in _lash_bands(ident, 1.0, cols):
                # 0.16-0.34 lash-dark under the line there (0.12-0.18 of it without the lower
                # lid's lash line, eyelids._lower_lashes); 0.006-0.045 before, when the
                # strands tapered to nothing at both corners.
                assert eye["below"] > 0.06, (cols, eye)
    for eye in _lash_bands(idents[2], 1.0):  # the darkest skin of the three
        # 0.20 under the middle of the line (0.14 without the lower lid's lash line; the
        # light skins: 0.24-0.26); 0.04 before.
        assert eye["below"] > 0.08, eye


def test_an_open_eyes_lower_lash_line_shows_on_its_outer_half():
    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.face.head import head_template
    from pain3d.render import Renderer, sample_lighting
    from pain3d.render.camera import Camera

    px = SIZE / (2 * DISTANCE * np.tan(np.radians(FOV / 2)) * 1000)  # pixels per mm
    loops = head_template().fine_eye_loops
    ratios = []
    for ident in sample_identities(3, 0):
        mesh = identity_mesh(ident)
        app = sample_appearance(ident, ident.seed, mesh=mesh)
        with Renderer(SIZE) as r:
            for key, centre in zip(("r", "l"), mesh.rig.eye_centres, strict=True):
                cam = Camera(yaw=0.0, pitch=0.0, distance=DISTANCE, fov=FOV,
                             target=tuple(float(x) for x in centre))
                lum = r.render(mesh, app, cam, sample_lighting(np.random.default_rng(0)),
                               aus=np.zeros(6), depth=False).rgb.astype(np.float64).mean(-1)
                x, y = ((mesh.vertices[loops[key][1], :2] - centre[:2]) * 1000).T
                o = np.argsort(x)
                outer = -1.0 if key == "r" else 1.0  # the right eye's outer corner: image left
                band, ref = [], []
                for c in range(int(SIZE / 2 - 9 * px), int(SIZE / 2 + 9 * px)):
                    xm = (c + 0.5 - SIZE / 2) / px
                    if xm * outer < 0:
                        continue
                    line = SIZE / 2 - np.interp(xm, x[o], y[o]) * px
                    band.append(lum[int(line + 0.2 * px):int(line + 1.3 * px) + 1, c])
                    ref.append(lum[int(line + 3.5 * px):int(line + 5 * px) + 1, c])
                ratios.append(np.concatenate(band).mean() / np.median(np.concatenate(ref)))
    # The band 0.2-1.3 mm under the lower margin's outer half against the lid's skin 3.5-5 mm
    # under it: 0.88-1.09, mean 0.98 (the lash line, darker on the light skins); 1.02-1.21,
    # mean 1.12 before (the line was too faint to show: the margin's lit rim was lighter).
    assert np.mean(ratios) < 1.05, ratios
