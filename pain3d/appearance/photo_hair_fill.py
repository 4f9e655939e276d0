"""The texture of a photo identity's hair where the photo does not show it.

The bake (:mod:`pain3d.appearance.photo`) fills the unseen scalp (top, sides, back, the
curtain of locks that :mod:`pain3d.face.photo_hair` hangs) with a smooth colour; this stage
gives it hair's texture, measured from the photo's own visible hair
(:func:`hair_look`) and drawn along a flow (:func:`hair_detail`):

- **flow**: strands run from a crown (up and a little back on the skull) outwards and
  down, along the great circles from it, so on top they lie forward and sideways, behind
  they hang; each lock leans off that flow by its own angle (more for tousled hair: the
  photo's orientation coherence);
- **locks**: the strands gather in clumps (anisotropic Voronoi cells of the flow grid,
  longer for straighter hair) with dark gaps between them, lighter and darker from lock
  to lock, as wide as the photo's clumps (its scale of strongest detail);
- **sheen**: a highlight band where the strands lie across the half-vector of the photo's
  light and camera (Kajiya-Kay), in the photo's own highlight tint, broken by the locks;
- **contrast**: fine and coarse detail as strong, channel by channel, as the photo's hair's
  (so the baked photo hair and the filled hair meet at one contrast).

The patterns depend only on the texture size and the (binned) look, so a worker makes each
once. Pure numpy and OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

CROWN = (0.0, 0.98, -0.2)
"""Hand-set: head-frame direction (x right, y up, z forward) of the crown the filled hair
flows from: up, tilted ~12 degrees back (the whorl of most heads lies further back, but
then its radiating strands cross the back of the head sideways)."""

SKULL_M = 0.09
"""Hand-set: radius of the sphere the flow grid lies on (metres; a fitted skull stretches
the strands with it)."""

GRID = (300, 2048)
"""Rows (1 mm of arc from the crown each) and columns (azimuth about the crown; 0.28 mm at
90 degrees from it) of the flow grid."""

CLUMP_MM = (1.5, 6.0)
"""Hand-set: the range of lock widths (mm) the photo's measured clump scale is clipped to."""

LEAN_DEG = (4.0, 20.0)
"""Hand-set: the spread of the locks' lean off the flow (degrees) for fully coherent
(straight) and fully incoherent (tousled) photo hair."""

CROWN_FADE_MM = (8.0, 30.0)
"""Hand-set: arc distance from the crown (mm) over which the fine strands fade in (closer,
the flow grid's columns are finer than a texel and would alias)."""

BEND_MM = 15.0
"""Hand-set: size (Gaussian sigma, mm) of the patches over which the flow bends sideways."""

STRAND_ALONG_MM = 8.0
"""Hand-set: length (Gaussian sigma along the flow, mm) of the fine strand streaks."""


@dataclass(frozen=True)
class HairLook:
    """What the filled hair copies from the photo's visible hair.

    Attributes:
        fine: (3,) per-channel spread of its fine detail (texture scale S/128 texels).
        coarse: (3,) per-channel spread of its coarser detail (S/32 minus S/128).
        sheen: (3,) RGB of its highlights minus its median (>= 0).
        clump_mm: width of its clumps, mm (:data:`CLUMP_MM`).
        coherence: 0..1 mean orientation coherence of its gradients (1: parallel strands).
    """

    fine: np.ndarray
    coarse: np.ndarray
    sheen: np.ndarray
    clump_mm: float
    coherence: float


def hair_look(rgb: np.ndarray, like: np.ndarray, k: float, size: int, mm_px: float
              ) -> HairLook:
    """Measure the photo's hair in a square of it.

    Args:
        rgb: (h, w, 3) float32 0..1 photo pixels (the square).
        like: (h, w) bool, its pixels of the hair's colour.
        k: texels per photo pixel of an S-texel texture.
        size: S.
        mm_px: millimetres per photo pixel at the face.
    """
    fine = _high_pass(rgb, like, size / 128.0 / k)
    coarse = _high_pass(rgb, like, size / 32.0 / k) - fine
    lum = rgb.mean(-1)
    w = like.astype(np.float32)
    # Highlights: the brightest tenth of the hair's (lightly smoothed) pixels.
    smooth = cv2.GaussianBlur(lum, (0, 0), 1.0)[like]
    cols = rgb[like]
    bright = smooth >= np.percentile(smooth, 90)
    sheen = np.maximum(cols[bright].mean(0) - np.median(cols, 0), 0.0)
    # Orientation coherence of the structure tensor over ~1.5 mm.
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    s = max(1.5 / mm_px, 1.0)
    jxx, jyy, jxy = (cv2.GaussianBlur(a, (0, 0), s) for a in (gx * gx, gy * gy, gx * gy))
    coh = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / np.maximum(jxx + jyy, 1e-9)
    coherence = float((coh * w).sum() / max(w.sum(), 1.0))
    # Clump width: the scale (Gaussian sigma) of the strongest scale-normalised band-pass
    # detail of the hair's luminance, times 2.5.
    sigmas = np.array([0.6, 0.9, 1.3, 1.8, 2.5]) / mm_px
    resp = []
    for sg in sigmas:
        dog = cv2.GaussianBlur(lum, (0, 0), sg) - cv2.GaussianBlur(lum, (0, 0), 1.6 * sg)
        resp.append(float(np.sqrt((dog[like] ** 2).mean())) if like.any() else 0.0)
    clump = 2.5 * float(sigmas[int(np.argmax(resp))]) * mm_px
    return HairLook(fine=fine[like].std(0), coarse=coarse[like].std(0), sheen=sheen,
                    clump_mm=float(np.clip(clump, *CLUMP_MM)),
                    coherence=float(np.clip(coherence, 0.0, 1.0)))


def hair_detail(look: HairLook, size: int, light: np.ndarray, view: np.ndarray
                ) -> np.ndarray:
    """(S, S, 3) float32 zero-mean hair detail of the head chart: :func:`_lock_pattern`'s
    strands and locks at ``look``'s contrasts, plus its sheen band under ``light`` and seen
    from ``view`` (head-frame unit vectors towards them)."""
    clump = round(look.clump_mm * 2.0) / 2.0
    lean = LEAN_DEG[1] + (LEAN_DEG[0] - LEAN_DEG[1]) * look.coherence
    lean = round(lean / 4.0) * 4.0
    fine, coarse, body = _lock_pattern(clump, lean)
    sheen = _sheen(np.asarray(light, np.float64), np.asarray(view, np.float64)) * body
    mapx, mapy = _chart_maps(size)
    grids = cv2.merge([fine, coarse, sheen])
    chart = cv2.remap(grids, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    mix = np.stack([look.fine, look.coarse, look.sheen], 1).astype(np.float32)  # (3, 3)
    return cv2.transform(chart, mix)


def _high_pass(rgb: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """(h, w, 3) float32: ``rgb`` minus its weighted local mean (Gaussian ``sigma``), times
    ``weight`` (h, w): the fine detail of the weighted pixels, 0 elsewhere; clipped to twice
    its standard deviation, so a mole or an edge in the window does not repeat as a pattern
    when it is tiled."""
    w = weight.astype(np.float32)
    mean = cv2.GaussianBlur(rgb * w[..., None], (0, 0), sigma) / np.maximum(
        cv2.GaussianBlur(w, (0, 0), sigma), 1e-3)[..., None]
    detail = (rgb - mean) * w[..., None]
    limit = 2.0 * np.sqrt((detail**2).sum((0, 1)) / max(float(w.sum()), 1.0))
    return np.clip(detail, -limit, limit)


def _sheen(light: np.ndarray, view: np.ndarray) -> np.ndarray:
    """(n_t, n_phi) float32: the Kajiya-Kay highlight ``sin(T, H) ** 12`` of strands along
    the flow (tangent T) under the half-vector H of ``light`` and ``view``, where the
    surface faces H, minus its mean over the hair's half of the grid (computed on a coarse
    grid and resized)."""
    n_t, n_phi = GRID
    t = (np.arange(n_t // 4) + 0.5) * 4.0 / (SKULL_M * 1000.0)  # radians from the crown
    phi = (np.arange(n_phi // 8) + 0.5) * (2 * np.pi / (n_phi // 8)) - np.pi
    c, e1, e2 = _crown_frame()
    h = light + view
    h /= max(np.linalg.norm(h), 1e-9)
    tt, pp = np.meshgrid(t, phi, indexing="ij")
    rad = np.cos(pp)[..., None] * e1 + np.sin(pp)[..., None] * e2
    p = np.cos(tt)[..., None] * c + np.sin(tt)[..., None] * rad
    tan = -np.sin(tt)[..., None] * c + np.cos(tt)[..., None] * rad
    th = tan @ h
    spec = (1.0 - th**2) ** 6 * np.clip(p @ h * 2.0, 0.0, 1.0)
    spec = spec.astype(np.float32)
    spec -= spec[: int(2.0 * SKULL_M * 1000 / 4)].mean()  # the hair's rows (~115 degrees)
    return cv2.resize(spec, (n_phi, n_t), interpolation=cv2.INTER_LINEAR)


def _crown_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The crown direction and two unit vectors orthogonal to it (azimuth 0 and 90°)."""
    c = np.asarray(CROWN, np.float64)
    c /= np.linalg.norm(c)
    e1 = np.array([1.0, 0.0, 0.0])
    e2 = np.cross(c, e1)
    return c, e1, e2 / np.linalg.norm(e2)


@lru_cache(maxsize=1)  # 8 MB at 1024 texels; one texture size per run
def _chart_maps(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, S) float32 column and row of the flow grid (:data:`GRID`) at each texel of the
    head chart (the azimuthal chart of :mod:`pain3d.face.head`: ``rho = 0.5 (alpha /
    pi) ** 0.6`` about the forward axis), on a :data:`SKULL_M` sphere."""
    n_t, n_phi = GRID
    c, e1, e2 = (v.astype(np.float32) for v in _crown_frame())
    t = ((np.arange(size) + 0.5) / size - 0.5).astype(np.float32)
    mapx = np.empty((size, size), np.float32)
    mapy = np.empty((size, size), np.float32)
    for r0 in range(0, size, 128):
        dv, du = np.meshgrid(t[r0:r0 + 128], t, indexing="ij")
        alpha = np.pi * np.minimum(2.0 * np.hypot(du, dv), 1.0) ** (1.0 / 0.6)
        beta = np.arctan2(dv, du)
        p = np.stack([np.sin(alpha) * np.cos(beta), np.sin(alpha) * np.sin(beta),
                      np.cos(alpha)], -1)
        theta = np.arccos(np.clip(p @ c, -1.0, 1.0))
        phi = np.arctan2(p @ e2, p @ e1)
        mapy[r0:r0 + 128] = np.minimum(theta * (SKULL_M * 1000.0), n_t - 1)
        mapx[r0:r0 + 128] = np.mod((phi + np.pi) * (n_phi / (2 * np.pi)), n_phi)
    mapx.setflags(write=False)
    mapy.setflags(write=False)
    return mapx, mapy


@lru_cache(maxsize=1)  # 7.4 MB; more entries cost a worker 30 MB (the 500 MB budget)
def _lock_pattern(clump_mm: float, lean_deg: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The filled hair's strands and locks on the flow grid (:data:`GRID`), read-only,
    unit-spread float32 (n_t, n_phi):

    - fine: strand streaks (:data:`STRAND_ALONG_MM` long), each lock's leaning off the flow
      by its own angle (spread ``lean_deg``) and offset from its neighbours', bold in some
      locks and faint in others, faint in the gaps;
    - coarse: the locks (``clump_mm`` wide, longer the straighter: lean), lighter in their
      middles, dark in the gaps between them, lighter and darker from lock to lock;
    - body: 0 in the gaps, 1 in the locks' middles (the sheen's mask; not normalised).

    Fixed seed."""
    n_t, n_phi = GRID
    rng = np.random.default_rng(7)
    across = 2 * np.pi * SKULL_M * 1000.0 / n_phi  # mm per column (90 deg from the crown)
    elong = float(np.clip(90.0 / lean_deg, 2.5, 8.0))
    # Locks: an anisotropic Voronoi tessellation of jittered cell centres, on a grid of
    # half the rows and columns (2 mm by 0.55 mm: the locks are >= 1.5 mm wide), resized.
    lo_t, lo_phi = n_t // 2, n_phi // 2
    cw = max(int(round(2 * np.pi * SKULL_M * 1000.0 / clump_mm)), 8)  # cells around
    ch = clump_mm * elong  # mm per cell along
    ny = int(np.ceil(n_t / ch)) + 1
    jit = rng.random((ny, cw, 2)).astype(np.float32)
    ys = np.arange(lo_t, dtype=np.float32)[:, None] * (n_t / lo_t / ch)
    xs = np.arange(lo_phi, dtype=np.float32)[None, :] * (cw / lo_phi)
    edge, near = _lock_cells(ys, xs, jit)
    body = np.clip(edge / 0.45, 0.0, 1.0)
    body = body * body * (3 - 2 * body)
    n_cells = ny * cw
    shade = rng.standard_normal(n_cells).astype(np.float32)[near]
    bold = np.exp(0.5 * rng.standard_normal(n_cells)).astype(np.float32)[near]
    lean = np.tan(np.radians(lean_deg) * rng.standard_normal(n_cells)).astype(np.float32)
    phase = (rng.random(n_cells) * n_phi).astype(np.float32)
    # Each lock's strands lean off the flow by its own angle and start at their own column.
    rows_lo = (np.arange(lo_t, dtype=np.float32) * (n_t / lo_t))[:, None]
    centre_row = ((near // cw).astype(np.float32) + 0.5) * ch
    offset = phase[near] + lean[near] * (rows_lo - centre_row) / across
    full = (n_phi, n_t)
    body, shade, bold, offset = (cv2.resize(a.astype(np.float32), full,
                                            interpolation=cv2.INTER_NEAREST if nearest
                                            else cv2.INTER_LINEAR)
                                 for a, nearest in ((body, False), (shade, True),
                                                    (bold, True), (offset, True)))
    # Strands: streak noise sampled along each lock's own leaning direction.
    offset += np.arange(n_phi, dtype=np.float32)[None, :]
    mapx = np.mod(offset, np.float32(n_phi), out=offset)
    mapy = np.repeat(np.arange(n_t, dtype=np.float32)[:, None], n_phi, axis=1)
    strands = cv2.remap(_streaks(), mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    fine = strands * bold * (0.35 + 0.65 * body)
    coarse = body + 0.35 * shade * body
    # The flow itself bends: every lock is carried sideways by a smooth field (~1.5 cm
    # patches), so neighbouring locks turn together and the strands change direction over
    # the head; more so for tousled hair (lean).
    bend = _bend(rng, float(np.tan(np.radians(lean_deg))) / across)
    grids = cv2.remap(cv2.merge([fine, coarse, body]), bend,
                      np.repeat(np.arange(n_t, dtype=np.float32)[:, None], n_phi, axis=1),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    fine, coarse, body = cv2.split(grids)
    # Near the crown the grid's columns converge (finer than a texel): the strands fade
    # out there, and the locks halfway (the whorl shows as smooth hair).
    rows = np.arange(n_t, dtype=np.float32)[:, None]
    near_crown = np.clip((rows - CROWN_FADE_MM[0]) / (CROWN_FADE_MM[1] - CROWN_FADE_MM[0]),
                         0.0, 1.0)
    fine *= near_crown
    coarse *= 0.5 + 0.5 * near_crown
    fine, coarse = (_unit(a) for a in (fine, coarse))
    for a in (fine, coarse, body):
        a.setflags(write=False)
    return fine, coarse, body


def _lock_cells(ys: np.ndarray, xs: np.ndarray, jit: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """The locks' anisotropic Voronoi tessellation: cell centres jittered by ``jit`` (ny,
    cw, 2) in a grid of ny rows and cw columns (wrapping around), sampled at rows ``ys``
    (R, 1) and columns ``xs`` (1, C) in cell units. Returns (R, C) float32 how far each
    sample is from its cell's border (0 on a border, ~1 in the middle) and (R, C) int32
    its cell's index."""
    ny, cw = jit.shape[:2]
    iy, ix = np.floor(ys).astype(np.int32), np.floor(xs).astype(np.int32)
    shape = (ys.shape[0], xs.shape[1])
    d1 = np.full(shape, np.inf, np.float32)
    d2 = np.full(shape, np.inf, np.float32)
    near = np.zeros(shape, np.int32)
    for dy in (-1, 0, 1):
        cy = np.clip(iy + dy, 0, ny - 1)
        for dx in (-1, 0, 1):
            cx = ix + dx
            cxm = np.mod(cx, cw)
            d = (ys - (cy + jit[cy, cxm, 0])) ** 2 + (xs - (cx + jit[cy, cxm, 1])) ** 2
            closer = d < d1
            d2 = np.where(closer, d1, np.minimum(d2, d))
            d1 = np.where(closer, d, d1)
            near = np.where(closer, cy * cw + cxm, near)
    return np.sqrt(d2) - np.sqrt(d1), near


def _bend(rng, amp: float) -> np.ndarray:
    """(n_t, n_phi) float32 grid columns to sample the locks from: each column's own plus a
    smooth sideways offset (Gaussian noise blurred to :data:`BEND_MM`, spread ``amp``
    columns: locks leaning ``lean_deg`` off the flow move about that far per mm along)."""
    n_t, n_phi = GRID
    across = 2 * np.pi * SKULL_M * 1000.0 / n_phi
    small = (n_t // 4, n_phi // 16)  # 4 mm by 4.4 mm cells
    noise = rng.standard_normal(small).astype(np.float32)
    noise = np.pad(noise, ((0, 0), (8, 8)), mode="wrap")
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=BEND_MM / (16 * across),
                             sigmaY=BEND_MM / 4.0)[:, 8:-8]
    noise /= max(float(noise.std()), 1e-6)
    offset = cv2.resize(noise, (n_phi, n_t), interpolation=cv2.INTER_LINEAR)
    offset *= amp * BEND_MM
    offset += np.arange(n_phi, dtype=np.float32)[None, :]
    return np.mod(offset, np.float32(n_phi), out=offset)


@lru_cache(maxsize=1)
def _streaks() -> np.ndarray:
    """(n_t, n_phi) float32, read-only: noise of the flow grid (:data:`GRID`) blurred to
    single strands (0.35 mm across, wrapping around the azimuth) :data:`STRAND_ALONG_MM`
    long. Fixed seed."""
    n_t, n_phi = GRID
    across = 2 * np.pi * SKULL_M * 1000.0 / n_phi
    noise = np.random.default_rng(8).standard_normal((n_t, n_phi)).astype(np.float32)
    noise = np.pad(noise, ((0, 0), (8, 8)), mode="wrap")
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=0.35 / across,
                             sigmaY=STRAND_ALONG_MM)[:, 8:-8]
    noise.setflags(write=False)
    return noise


def _unit(a: np.ndarray) -> np.ndarray:
    """``a`` minus its mean, over its spread (both over the rows of the hair: ~115 degrees
    from the crown)."""
    hair = a[: int(2.0 * SKULL_M * 1000)]
    return ((a - hair.mean()) / max(float(hair.std()), 1e-6)).astype(np.float32)
