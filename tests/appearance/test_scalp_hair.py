"""The scalp hair's strand pattern (the hair shell's brightness and highlight tilt, see the
shader): real hair lies in locks of uneven width along the strands' flow, not in combed
stripes of a few frequencies, and has no pinwheel of stripes converging at the crown."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.appearance import sample_appearance
from pain3d.appearance.textures import _paint_scalp_hair, _surface
from pain3d.appearance.uvmap import cached_raster
from pain3d.face import identity_mesh, sample_identities
from pain3d.face.mesh import region_id

CROWN = np.array([0.0, 0.115, -0.1])
"""The shader's crown point (the strands run away from it) relative to the eyes' midpoint."""


@pytest.fixture(scope="module")
def heads():
    """(surface, hair coverage on covered texels, strand pattern) of three short-haired
    identities."""
    out = []
    for ident in [sample_identities(8, 0)[k] for k in (0, 2, 3)]:
        mesh = identity_mesh(ident)
        traits = sample_appearance(ident, ident.seed, mesh=mesh).traits
        surf = _surface(mesh, 512)
        _, cov, strands = _paint_scalp_hair(surf, np.zeros((512, 512, 3), np.float32), traits,
                                            np.random.default_rng(7))
        skip = np.isin(mesh.regions, [region_id("eyeball"), region_id("mouth_interior")])
        faces = mesh.faces[~skip[mesh.faces].any(axis=1)]
        covered = cached_raster(mesh.uv, faces, 512).covered
        out.append((surf, np.where(covered, cov, 0.0), strands))
    return out


def _mid(surf) -> np.ndarray:
    return 0.5 * (surf.lm.eye_left + surf.lm.eye_right)


def _back_ring(surf, cov, strands, y_rel: float, step: float = 0.00025) -> np.ndarray:
    """The pattern across the strands: along a horizontal ring round the back of the head,
    ``y_rel`` above the eyes, resampled every ``step`` metres of arc."""
    p = surf.pos
    z_c = surf.lm.face_z - 0.085
    sel = (cov > 0.99) & (np.abs(p[..., 1] - _mid(surf)[1] - y_rel) < 0.0008)
    phi = np.arctan2(p[..., 0], p[..., 2] - z_c)[sel]
    rad = np.hypot(p[..., 0], p[..., 2] - z_c)[sel]
    back = np.abs(phi) > 2.0
    arc = np.mod(phi[back], 2 * np.pi) * np.median(rad[back])
    order = np.argsort(arc)
    arc, v = arc[order], strands[sel][back][order]
    return np.interp(np.arange(arc[0], arc[-1], step), arc, v)


def test_the_stripes_are_not_a_few_frequencies(heads):
    """The pattern round the back of the head (azimuth 2.2 to 2 pi - 2.2 about a vertical
    axis, 1024 steps), its power spectrum averaged over nine rings 0-8 cm above the eyes:
    the three strongest bins (past the fourth, the clumps' scale) hold under 0.2 of the
    power (0.12-0.14 here). Main's strands were three sinusoids in this azimuth: 0.29-0.34."""
    grid = np.linspace(2.2, 2 * np.pi - 2.2, 1024)
    for surf, cov, strands in heads:
        p = surf.pos
        z_c = surf.lm.face_z - 0.085
        phi = np.mod(np.arctan2(p[..., 0], p[..., 2] - z_c), 2 * np.pi)
        power = 0.0
        for y in np.linspace(0.0, 0.08, 9):
            sel = (cov > 0.99) & (np.abs(p[..., 1] - _mid(surf)[1] - y) < 0.0008)
            order = np.argsort(phi[sel])
            ring = np.interp(grid, phi[sel][order], strands[sel][order])
            power = power + np.abs(np.fft.rfft(ring - ring.mean()))[4:] ** 2
        share = np.sort(power)[-3:].sum() / power.sum()
        assert share < 0.2, share


def test_locks_vary_in_width(heads):
    # The spacing of the dark gaps between locks (the ring smoothed over 0.8 mm): main's
    # stripes had p90/p10 1.9-2.3 and a coefficient of variation 0.33-0.42.
    step = 0.00025
    kernel = np.exp(-0.5 * (np.arange(-12, 13) * step / 0.0008) ** 2)
    widths = []
    for surf, cov, strands in heads:
        for y in (0.03, 0.05, 0.07):
            sm = np.convolve(_back_ring(surf, cov, strands, y, step), kernel / kernel.sum(),
                             "same")[20:-20]
            base = np.convolve(sm, np.ones(41) / 41, "same")
            low = sm < base - 0.3 * (sm - base).std()
            mins = np.nonzero((sm[1:-1] < sm[:-2]) & (sm[1:-1] <= sm[2:]) & low[1:-1])[0]
            widths.append(np.diff(mins) * step)
    w = np.concatenate(widths)
    p10, p90 = np.percentile(w, [10, 90])
    assert p90 / p10 > 3.0 and w.std() / w.mean() > 0.47, (p10, p90, w.std() / w.mean())


def test_the_strands_run_along_the_shaders_strand_direction(heads):
    """The pattern's gradient (lock scale: blurred a texel) lies across the strand direction
    the shader lights (the crown-to-point vector laid on the surface), so highlights run
    across the strands. Share of gradient energy along the strands: main 0.5, isotropic
    noise 0.5, stripes exactly along the strands 0."""
    import cv2

    for surf, cov, strands in heads:
        p = surf.pos.astype(np.float64)
        f = cv2.GaussianBlur(strands, (0, 0), 1.0)
        dc, dr = p[1:-1, 2:] - p[1:-1, :-2], p[2:, 1:-1] - p[:-2, 1:-1]
        fc, fr = f[1:-1, 2:] - f[1:-1, :-2], f[2:, 1:-1] - f[:-2, 1:-1]
        ok = ((cov[1:-1, 1:-1] > 0.99) & (cov[1:-1, 2:] > 0.99) & (cov[1:-1, :-2] > 0.99)
              & (cov[2:, 1:-1] > 0.99) & (cov[:-2, 1:-1] > 0.99)
              & (np.linalg.norm(dc, axis=-1) < 0.006) & (np.linalg.norm(dr, axis=-1) < 0.006))
        jac = np.stack([dc[ok], dr[ok]], -1)  # (N, 3, 2) position per texel step
        gram = np.einsum("nki,nkj->nij", jac, jac)
        good = np.linalg.det(gram) > 1e-14
        jac, gram = jac[good], gram[good]
        df = np.stack([fc[ok][good], fr[ok][good]], -1)
        grad = np.einsum("nkj,nj->nk", jac, np.linalg.solve(gram, df[..., None])[..., 0])
        n = np.cross(jac[..., 0], jac[..., 1])
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        g = p[1:-1, 1:-1][ok][good] - _mid(surf) - CROWN
        s = g - n * (g * n).sum(-1, keepdims=True)
        s /= np.linalg.norm(s, axis=-1, keepdims=True)
        along = ((grad * s).sum(-1) ** 2).sum() / (grad ** 2).sum()
        assert along < 0.38, along


def _ring_at(surf, cov, strands, centre, radius: float, bins: int = 72) -> np.ndarray:
    """Mean pattern in angular bins round ``centre`` at ``radius`` metres (NaN: empty)."""
    n = centre - (_mid(surf) + np.array([0.0, 0.02, -0.077]))
    n /= np.linalg.norm(n)
    e2 = np.cross(n, [1.0, 0.0, 0.0])
    e2 /= np.linalg.norm(e2)
    e1 = np.cross(e2, n)
    d = surf.pos.astype(np.float64) - centre
    sel = (cov > 0.99) & (np.abs(np.linalg.norm(d, axis=-1) - radius) < 0.001)
    ang = np.arctan2(d[sel] @ e2, d[sel] @ e1)
    b = ((ang + np.pi) / (2 * np.pi) * bins).astype(int) % bins
    count = np.bincount(b, None, bins)
    return np.where(count > 0, np.bincount(b, strands[sel], bins) / np.maximum(count, 1), np.nan)


def test_no_pinwheel_at_the_crown(heads):
    """Round the shader's crown and round the top of the vertical axis main's stripes ran
    about, the pattern 5 mm out must not be the one 12 mm out at full contrast (stripes
    running straight into one point). Score: their correlation times the 5 mm ring's
    contrast over the hair's; main 0.30-0.41."""
    for surf, cov, strands in heads:
        pts = surf.pos[cov > 0.99]
        crown = pts[np.argmin(np.linalg.norm(pts - _mid(surf) - CROWN, axis=-1))]
        mid_line = pts[np.abs(pts[:, 0]) < 0.003]
        top = mid_line[np.argmin(np.abs(mid_line[:, 2] - surf.lm.face_z + 0.085)
                                 - 10 * mid_line[:, 1])]
        for centre in (crown, top):
            near = _ring_at(surf, cov, strands, centre, 0.005)
            far = _ring_at(surf, cov, strands, centre, 0.012)
            ok = ~np.isnan(near) & ~np.isnan(far)
            score = (np.corrcoef(near[ok], far[ok])[0, 1] * np.nanstd(near)
                     / strands[cov > 0.99].std())
            assert score < 0.22, score


def test_azimuths_just_below_a_full_turn_bin_inside_the_lock_table():
    """A tiny negative float32 azimuth: ``mod(phi, 2 pi)`` rounds to 2 pi, one past the last
    bin (seed 1 of ``pain3d demo`` crashed on it: index 4096 out of bounds)."""
    from pain3d.appearance.scalp_hair import TABLE_BINS, azimuth_bin

    phi = np.array([-1e-8, -1e-7, 0.0, 2 * np.pi - 1e-7, 2 * np.pi, -np.pi, 7.0], np.float32)
    q = azimuth_bin(phi)
    assert q.min() >= 0 and q.max() < TABLE_BINS, q
    assert q[0] in (0, TABLE_BINS - 1) and q[2] == 0


def _painted_hair(k: int):
    """(surface, traits, coverage, where hair was painted over a flat 0.9 skin) of the k-th
    of the first eight built-in identities."""
    from pain3d.appearance.hair import hair_coverage

    ident = sample_identities(8, 0)[k]
    mesh = identity_mesh(ident)
    traits = sample_appearance(ident, ident.seed, mesh=mesh).traits
    surf = _surface(mesh, 512)
    albedo, cov, _ = _paint_scalp_hair(surf, np.full((512, 512, 3), 0.9, np.float32), traits,
                                       np.random.default_rng(7))
    raised = surf.pos.copy()
    raised[..., 1] += 0.003
    below = hair_coverage(raised, surf.reg, surf.lm, traits.hair_style)
    return surf, cov, below, np.abs(albedo - 0.9).max(-1) > 0.05


@pytest.mark.parametrize("k", [0, 2, 3])
def test_the_hairline_thins_out_hair_by_hair_instead_of_ending_like_a_cap(k):
    """On the forehead (|x| < 3 cm): in the 3 mm below the coverage's soft edge (coverage 0
    there, but not at 3 mm higher) sparse fine hairs still grow (over 3 % of texels painted,
    before: none; blond, grey, black: 9, 10, 5 %); and where the coverage is 0.3-0.7 the
    scalp shows between the hairs (over 7 % of texels unpainted, before: 1-3 %; now 12-23 %).
    """
    surf, cov, below, hair = _painted_hair(k)
    p = surf.pos
    front = (np.abs(p[..., 0]) < 0.03) & (p[..., 2] > surf.lm.face_z - 0.05)
    fringe = front & (cov == 0) & (below > 0.2)
    edge = front & (cov > 0.3) & (cov < 0.7)
    assert fringe.sum() > 30 and edge.sum() > 200, (fringe.sum(), edge.sum())
    assert hair[fringe].mean() > 0.03, hair[fringe].mean()
    assert 1.0 - hair[edge].mean() > 0.07, 1.0 - hair[edge].mean()
    far = front & (below == 0) & (p[..., 1] > surf.lm.brow_y + 0.01)
    assert not hair[far].any()  # none further down the forehead
