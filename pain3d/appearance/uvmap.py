"""Rasterise per-vertex attributes into UV space, so textures can be painted in head coordinates.

Texture arrays in pain3d are stored in OpenGL order: row ``i`` holds ``v = (i + 0.5) / S``
(row 0 is the bottom of UV space, v = 0), column ``j`` holds ``u = (j + 0.5) / S``. They upload
to OpenGL without a flip; flip rows (``[::-1]``) to look at them as images.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pain3d.io import atomic_write_bytes, user_cache_dir

log = logging.getLogger(__name__)

RASTER_VERSION = 1
"""Version of :func:`rasterize_uv`'s output: bump it when a change alters the rasters, so the
copies :func:`cached_raster` keeps on disk are not re-used."""


@dataclass(frozen=True, eq=False)
class UVRaster:
    """Which triangle covers each texel and where.

    Attributes:
        size: texture side S in texels.
        tri: (S, S) int32 triangle index per texel after filling gaps from the nearest
            covered texel (so sampling never bleeds into empty texels); -1 only if the mesh
            has no UV area at all.
        bary: (S, S, 3) float32 barycentric weights of the texel centre in ``tri``
            (extrapolated for filled texels, clipped to stay convex).
        covered: (S, S) bool, texels whose centre lies inside a triangle.
    """

    size: int
    tri: np.ndarray
    bary: np.ndarray
    covered: np.ndarray
    _corners: dict = field(default_factory=dict, repr=False)
    """Face-content digest -> (S, S, 3) vertex index of each texel's triangle corners (one
    face list at a time): every map painted on a topology re-uses it."""

    def corner_vertices(self, faces: np.ndarray) -> np.ndarray:
        """(S, S, 3) vertex indices of the corners of each texel's triangle in ``faces``."""
        faces = np.ascontiguousarray(faces)
        key = (hashlib.sha1(faces.tobytes()).digest(), faces.shape, faces.dtype.str)
        if key not in self._corners:
            self._corners.clear()
            corners = np.take(faces, self.tri, axis=0)  # faces[tri]'s values, ~3x faster
            corners.flags.writeable = False
            self._corners[key] = corners
        return self._corners[key]

    def interpolate(self, faces: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per-vertex ``values`` (V, C) or (V,) -> (S, S, C) or (S, S) float32 texel values."""
        vals = np.asarray(values, dtype=np.float32)
        squeeze = vals.ndim == 1
        if squeeze:
            vals = vals[:, None]
        out = barycentric_blend(self.bary, self.corner_vertices(faces), vals)
        return out[..., 0] if squeeze else out

    def nearest_vertex(self, faces: np.ndarray) -> np.ndarray:
        """(S, S) index of the triangle corner with the largest weight per texel (the first
        of equal ones, as ``argmax``; weights are finite)."""
        corners = self.corner_vertices(faces)
        b0, b1, b2 = self.bary[..., 0], self.bary[..., 1], self.bary[..., 2]
        # Two comparisons instead of argmax over a length-3 axis and a gather: ~2x faster.
        out = np.where(b1 > b0, corners[..., 1], corners[..., 0])
        return np.where(b2 > np.maximum(b0, b1), corners[..., 2], out)


def barycentric_blend(bary: np.ndarray, corners: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-vertex ``values`` (V, C) blended at points given by (..., 3) barycentric weights
    ``bary`` in triangles of (..., 3) vertex ids ``corners``: (..., C), of the values' dtype
    (float32 ``bary``).

    The bytes of ``v0 * b0 + v1 * b1 + v2 * b2`` summed in corner order (the values of
    ``einsum("...k,...kc->...c", bary, values[corners])``), computed as one sparse
    (points x V) weight matrix times ``values``: its loop adds the same products in the
    same order, starting from +0.0, at about a quarter of the time of three gathers and
    broadcast products. Starting from +0.0 changes a byte only where all three products
    are -0.0 (the sum of the terms is then -0.0, the matrix's +0.0); those are recomputed
    term by term (:func:`_signed_zeros`).
    """
    from scipy.sparse import csr_array

    n = corners.size // 3
    weights = csr_array((bary.reshape(-1), corners.reshape(-1),
                         np.arange(0, 3 * n + 1, 3, dtype=corners.dtype)),  # no index copy
                        shape=(n, len(values)))
    out = np.asarray(weights @ values, dtype=np.result_type(bary, values))
    _signed_zeros(out, bary.reshape(-1, 3), corners.reshape(-1, 3), values)
    return out.reshape(corners.shape[:-1] + (values.shape[-1],))


def _signed_zeros(out: np.ndarray, bary: np.ndarray, corners: np.ndarray, values: np.ndarray
                  ) -> None:
    """Set the zeros of (N, C) blends ``out`` to the term-by-term sum's (in place): -0.0
    where all three products ``values[corners[:, k]] * bary[:, k]`` are -0.0.

    Only zeros can differ, and a product is -0.0 only when exactly one factor's sign bit is
    set; with no value's sign bit set, only a texel whose three weights all have it set can
    give -0.0, so only those zeros are recomputed (none in a raster: weights sum to 1)."""
    zero = out == 0
    if not zero.any():
        return
    if not np.signbit(values).any():
        signed = np.signbit(bary)
        zero &= (signed[:, 0] & signed[:, 1] & signed[:, 2])[:, None]
    rows, cols = np.divmod(np.flatnonzero(zero), out.shape[1])
    if len(rows):
        c, b = corners[rows], bary[rows]
        term = values[c[:, 0], cols] * b[:, 0]
        term += values[c[:, 1], cols] * b[:, 1]
        term += values[c[:, 2], cols] * b[:, 2]
        out[rows, cols] = term


def _raster_bucket(uv_tris: np.ndarray, ids: np.ndarray, size: int, span: int,
                   tri_out: np.ndarray, bary_out: np.ndarray) -> None:
    """Rasterise triangles whose texel bounding box fits in ``span`` x ``span``."""
    if len(ids) == 0:
        return
    p = uv_tris[ids] * size - 0.5  # texel-centre coordinates, (n, 3, 2)
    lo = np.floor(p.min(axis=1)).astype(np.int64) + 0  # (n, 2)
    offs = np.arange(span + 1)
    gx = lo[:, 0, None, None] + offs[None, None, :]
    gy = lo[:, 1, None, None] + offs[None, :, None]
    gx, gy = np.broadcast_arrays(gx, gy)  # (n, span+1, span+1)
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    v0 = b - a
    v1 = c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)[:, None, None]
    dx = gx - a[:, 0, None, None]
    dy = gy - a[:, 1, None, None]
    w1 = (dx * v1[:, 1, None, None] - v1[:, 0, None, None] * dy) / den
    w2 = (v0[:, 0, None, None] * dy - dx * v0[:, 1, None, None]) / den
    w0 = 1.0 - w1 - w2
    eps = -1e-6
    inside = (w0 >= eps) & (w1 >= eps) & (w2 >= eps) & ok[:, None, None]
    inside &= (gx >= 0) & (gx < size) & (gy >= 0) & (gy < size)
    n_idx, yy, xx = np.nonzero(inside)
    rows, cols = gy[n_idx, yy, xx], gx[n_idx, yy, xx]
    tri_out[rows, cols] = ids[n_idx]
    bary_out[rows, cols] = np.stack(
        [w0[n_idx, yy, xx], w1[n_idx, yy, xx], w2[n_idx, yy, xx]], -1)


def rasterize_uv(uv: np.ndarray, faces: np.ndarray, size: int) -> UVRaster:
    """Rasterise a mesh's UV layout at ``size`` x ``size`` texels (vectorised numpy).

    Args:
        uv: (V, 2) texture coordinates in [0, 1], origin bottom-left.
        faces: (F, 3) int vertex indices.
        size: texture side in texels.
    """
    uv = np.asarray(uv, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    uv_tris = uv[faces]  # (F, 3, 2)
    extent = (uv_tris.max(axis=1) - uv_tris.min(axis=1)).max(axis=1) * size
    tri = np.full((size, size), -1, dtype=np.int32)
    bary = np.zeros((size, size, 3), dtype=np.float32)
    spans = [2, 4, 8, 16, 32, 64, 128, 256, 2 * size + 2]
    buckets = []
    prev = -1.0
    for span in spans:
        buckets.append((span, np.flatnonzero((extent > prev) & (extent <= span - 1))))
        prev = span - 1
    # Largest triangles first: where UV islands overlap (e.g. a stretched triangle across a
    # chart seam) the small, well-mapped triangles written last win.
    for span, ids in reversed(buckets):
        # Bound the candidate grid to a few million texels per batch.
        step = max(1, 4_000_000 // ((span + 1) ** 2))
        for k in range(0, len(ids), step):
            _raster_bucket(uv_tris, ids[k:k + step], size, span, tri, bary)
    covered = tri >= 0
    if covered.any() and not covered.all():
        # Fill every empty texel from its nearest covered texel so bilinear filtering and
        # mip-maps near UV seams keep the right colour; recompute weights there.
        from scipy import ndimage

        _, (iy, ix) = ndimage.distance_transform_edt(~covered, return_indices=True)
        tri = tri[iy, ix]
        bary = bary[iy, ix]
    return UVRaster(size=size, tri=tri, bary=bary, covered=covered)


_CACHE: dict[tuple[bytes, int], UVRaster] = {}


def cached_raster(uv: np.ndarray, faces: np.ndarray, size: int) -> UVRaster:
    """:func:`rasterize_uv`, memoised on the topology (all identities share one UV layout):
    in memory, and on disk for the next process (:func:`stored_raster`)."""
    uv32 = np.ascontiguousarray(uv, dtype=np.float32)
    f32 = np.ascontiguousarray(faces, dtype=np.int32)
    key = (hashlib.sha1(uv32.tobytes() + f32.tobytes()).digest(), int(size))
    if key not in _CACHE:
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        path = (user_cache_dir() / "uv_raster"
                / f"v{RASTER_VERSION}-{key[0].hex()[:24]}-{int(size)}.npz")
        _CACHE[key] = stored_raster(path, uv32, f32, int(size))
    return _CACHE[key]


def stored_raster(path: Path, uv: np.ndarray, faces: np.ndarray, size: int) -> UVRaster:
    """The raster kept at ``path``, or :func:`rasterize_uv` written there (atomically).

    Each generation worker would otherwise rasterise the shared UV layout again (about 0.7 s
    at 512 texels, plus 0.65 s to import SciPy's ndimage). A file that is missing, unreadable
    or of the wrong shape is made again; an unwritable cache folder only costs the time.
    """
    try:
        with np.load(path) as z:
            tri, bary, covered = z["tri"], z["bary"], z["covered"]
        if (tri.shape, bary.shape, covered.shape) == ((size, size), (size, size, 3),
                                                      (size, size)) and \
                (tri.dtype, bary.dtype, covered.dtype) == (np.int32, np.float32, np.bool_):
            return UVRaster(size=size, tri=tri, bary=bary, covered=covered)
        log.debug("%s: a raster of other shapes; made again", path)
    except FileNotFoundError:
        pass
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        log.debug("%s is unreadable (%s); made again", path, exc)
    raster = rasterize_uv(uv, faces, size)
    buf = io.BytesIO()
    np.savez(buf, tri=raster.tri, bary=raster.bary, covered=raster.covered)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:
        log.debug("UV raster not kept at %s: %s", path, exc)
    return raster
