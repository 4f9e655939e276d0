"""Z-buffered triangle rasterisation in numpy, for baking photos onto meshes.

:func:`rasterize_nearest` finds the nearest triangle at every pixel centre (a software
z-buffer: the photo bake's visibility test); :func:`photo_raster` uses it in UV space with a
priority instead of depth, so that where a UV layout folds over, the surface a photo shows
owns the texels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from pain3d.appearance.arrays import put_rows
from pain3d.appearance.uvmap import UVRaster


def rasterize_nearest(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray,
                      size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered rasterisation in numpy: the nearest triangle at every pixel centre.

    Args:
        xy: (V, 2) continuous pixel coordinates of the vertices (pixel ``i`` covers
            ``[i, i + 1)``).
        depth: (V,) distance along the viewing axis (nearer = smaller).
        faces: (F, 3) vertex indices.
        size: (width, height).

    Returns:
        tri: (H, W) int64 index of the nearest face, -1 where none covers the pixel centre.
        bary: (H, W, 3) float32 screen-space barycentric weights in that face.
    """
    w, h = size
    pix, tri, bary, z = _all_fragments(xy, depth, faces, size)
    first = _first_nearest(pix, z, h * w)
    out_tri = np.full(h * w, -1, np.int64)
    out_bary = np.zeros((h * w, 3), np.float32)
    out_tri[pix[first]] = tri[first]
    put_rows(out_bary, pix[first], np.take(bary, first, axis=0))
    return out_tri.reshape(h, w), out_bary.reshape(h, w, 3)


def _first_nearest(pix: np.ndarray, z: np.ndarray, n_pix: int) -> np.ndarray:
    """Index of the fragment of least depth ``z`` at each pixel of ``pix`` (the first of
    equal ones), one per covered pixel in ascending pixel order: what a stable sort by
    (pixel, depth) puts first, without the sort (two scatters of a minimum). Depths are
    finite (a pixel whose fragments all had NaN depths would be left out)."""
    nearest = np.full(n_pix, np.inf)
    np.fmin.at(nearest, pix, z)
    cand = np.flatnonzero(z == nearest[pix])
    first = np.full(n_pix, len(z), np.int64)
    np.minimum.at(first, pix[cand], cand)
    return first[first < len(z)]


_CHUNK_CELLS = 250_000
"""Grid cells per chunk of faces in :func:`_all_fragments`: each cell holds about a dozen
float64 temporaries at once (~100 bytes), so this bounds the transient memory (~25 MB); the
fragments come out in the same order whatever the chunking."""


def _all_fragments(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, size: tuple[int, int]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat pixel index, face, barycentrics and depth of every pixel centre inside every
    face (a pixel covered by several faces appears once per face)."""
    w, h = size
    pts = xy[faces] - 0.5  # pixel-centre coordinates
    lo = np.floor(pts.min(1)).astype(np.int64)
    span = (np.ceil(pts.max(1)).astype(np.int64) - lo).max(1) + 1
    frags = []
    # Bucket the faces by their pixel span (powers of two) so each bucket's grid is small.
    bucket = np.ceil(np.log2(np.maximum(span, 2))).astype(np.int64)
    for b in np.unique(bucket):
        ids = np.nonzero(bucket == b)[0]
        k = int(span[ids].max())
        # Faces whose whole grid lies beyond the image (off to the side of a photo) have no
        # fragments: left out.
        ids = ids[((lo[ids] + k > 0) & (lo[ids] < (w, h))).all(1)]
        for chunk in np.array_split(ids, max(1, len(ids) * k * k // _CHUNK_CELLS)):
            frags.append(_fragments(pts[chunk], depth[faces[chunk]], lo[chunk], chunk, k, w, h))
    pix, tri, bary, z = (np.concatenate(c) for c in zip(*frags, strict=True))
    return pix, tri, bary, z


def _fragments(p: np.ndarray, z: np.ndarray, lo: np.ndarray, ids: np.ndarray, span: int,
               w: int, h: int):
    """Pixel index, face, barycentrics and depth of every pixel centre inside the faces."""
    off = np.arange(span)
    # Pixel columns (n, 1, span) and rows (n, span, 1), broadcast only where combined: the
    # same values per cell as on the full (n, span, span) grids, with fewer full passes.
    gx = lo[:, 0, None, None] + off[None, None, :]
    gy = lo[:, 1, None, None] + off[None, :, None]
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    v0, v1 = b - a, c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)[:, None, None]
    dx, dy = gx - a[:, 0, None, None], gy - a[:, 1, None, None]
    # w1 = (dx * v1y - v1x * dy) / den, w2 = (v0x * dy - dx * v0y) / den, w0 = 1 - w1 - w2:
    # each full-size pass in place (the same float64 values).
    w1 = np.subtract(dx * v1[:, 1, None, None], v1[:, 0, None, None] * dy)
    w1 /= den
    w2 = np.subtract(v0[:, 0, None, None] * dy, dx * v0[:, 1, None, None])
    w2 /= den
    w0 = np.subtract(1.0, w1)
    w0 -= w2
    inside = w0 >= -1e-6
    inside &= w1 >= -1e-6
    inside &= w2 >= -1e-6
    inside &= ok[:, None, None] & (gx >= 0) & (gx < w)  # (n, 1, span)
    inside &= (gy >= 0) & (gy < h)  # (n, span, 1)
    cell = np.flatnonzero(inside)
    n, yy, xx = np.unravel_index(cell, inside.shape)
    b0, b1, b2 = w0.take(cell), w1.take(cell), w2.take(cell)
    zn = np.take(z, n, axis=0)
    # (bary * z[n]).sum(1): numpy adds a row of three in order, as these two additions do.
    depth = b0 * zn[:, 0]
    depth += b1 * zn[:, 1]
    depth += b2 * zn[:, 2]
    return ((lo[n, 1] + yy) * w + lo[n, 0] + xx, ids[n],
            np.stack([b0, b1, b2], -1).astype(np.float32), depth)


def photo_raster(uv: np.ndarray, faces: np.ndarray, priority: np.ndarray, size: int
                 ) -> UVRaster:
    """The UV raster of a photo identity: where UV triangles overlap, the one facing the
    photo's camera most wins.

    The head's layout folds over at a few places (the inner lips roll under the outer lips
    in the chart); a texel there can hold one colour only, and it must be that of the
    surface the photo shows, or the neutral render would not reproduce the photo. Every
    identity shares the layout, so the texels each triangle covers are found once per
    process (:func:`_uv_fragments`); per photo only the overlapping texels are decided.

    Args:
        uv: (V, 2) texture coordinates.
        faces: (F, 3) faces to rasterise.
        priority: (V,) higher wins (e.g. the cosine toward the camera).
        size: texture side.
    """
    frags = _uv_fragments(np.asarray(uv, np.float32), np.asarray(faces, np.int64), size)
    tri, bary = frags.tri.copy(), frags.bary.copy()
    if len(frags.pix):
        z = -(frags.frag_bary * np.asarray(priority, np.float64)[
            faces[frags.frag_tri]]).sum(1)
        first = _first_nearest(frags.pix, z, size * size)
        tri[frags.pix[first]] = frags.frag_tri[first]
        bary[frags.pix[first]] = frags.frag_bary[first]
    if frags.fill is not None:  # empty texels take their nearest covered texel's triangle
        tri, bary = np.take(tri, frags.fill), np.take(bary, frags.fill, axis=0)
    return UVRaster(size=size, tri=tri.reshape(size, size), bary=bary.reshape(size, size, 3),
                    covered=frags.covered)


@dataclass(frozen=True, eq=False)
class _Fragments:
    """The texels a UV layout's triangles cover.

    Attributes:
        tri, bary: (S * S,) int32 / (S * S, 3) float32, flat texel index: the triangle of each
            texel covered once (-1 elsewhere) and its barycentrics.
        covered: (S, S) bool, texels any triangle covers.
        pix, frag_tri, frag_bary: every (texel, triangle) pair of texels covered more than
            once (flat texel index, triangle, barycentrics).
        fill: (S * S,) flat index of each texel's nearest covered texel, or None when all are
            covered.
    """

    tri: np.ndarray
    bary: np.ndarray
    covered: np.ndarray
    pix: np.ndarray
    frag_tri: np.ndarray
    frag_bary: np.ndarray
    fill: np.ndarray | None


_FRAGMENTS: dict[tuple[bytes, int], _Fragments] = {}


def _uv_fragments(uv: np.ndarray, faces: np.ndarray, size: int) -> _Fragments:
    """:class:`_Fragments` of a layout, memoised on (uv, faces, size)."""
    from scipy import ndimage

    key = (hashlib.sha1(uv.tobytes() + faces.tobytes()).digest(), int(size))
    if key in _FRAGMENTS:
        return _FRAGMENTS[key]
    pix, tri, bary, _ = _all_fragments(uv.astype(np.float64) * size, np.zeros(len(uv)), faces,
                                       (size, size))
    count = np.bincount(pix, minlength=size * size)
    once = count[pix] == 1
    out_tri = np.full(size * size, -1, np.int32)
    out_bary = np.zeros((size * size, 3), np.float32)
    out_tri[pix[once]] = tri[once]
    out_bary[pix[once]] = bary[once]
    covered = (count > 0).reshape(size, size)
    fill = None
    if covered.any() and not covered.all():
        _, (iy, ix) = ndimage.distance_transform_edt(~covered, return_indices=True)
        fill = (iy * size + ix).reshape(-1)
    many = ~once
    frags = _Fragments(tri=out_tri, bary=out_bary, covered=covered, pix=pix[many],
                       frag_tri=tri[many], frag_bary=bary[many].astype(np.float64), fill=fill)
    if len(_FRAGMENTS) >= 4:
        _FRAGMENTS.pop(next(iter(_FRAGMENTS)))
    _FRAGMENTS[key] = frags
    return frags
