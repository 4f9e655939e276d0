"""Fast numpy equivalents of per-texel and per-pixel array operations: the same values as
the plain expression each docstring names, with fewer temporaries or a faster loop (numpy's
loops over a short last axis of 3 channels, boolean indexing and fancy assignment of short
rows are slow). Used by the photo bake and the photo backdrop's fill."""

from __future__ import annotations

import cv2
import numpy as np

ROWS = 32
"""Rows per block of :func:`per_texel` (hand-set: a block's copy of the map, 384 kB at 1024
texels and 3 channels, stays in cache)."""


def per_texel(op, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``op(x, w[..., None], out=out)`` for (H, W, C) ``x`` and an (H, W) map ``w`` of the same
    dtype (``out`` defaults to a new array), at about a third of its time: numpy's loop over a
    broadcast last axis of 3 is slow, so each block of rows of ``w`` is first copied into C
    contiguous channels. The same values; no full-size temporary."""
    out = np.empty_like(x) if out is None else out
    channels = x.shape[-1]
    for r in range(0, len(x), ROWS):
        rows = slice(r, r + ROWS)
        spread = cv2.merge([w[rows]] * channels).reshape(*w[rows].shape, channels)
        op(x[rows], spread, out=out[rows])
    return out


def copy_where(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> None:
    """``np.copyto(dst, src, where=mask[..., None])`` for (H, W, C) arrays (``dst`` may be a
    box of a larger one) and an (H, W) bool ``mask``, at about a quarter of its time
    (``cv2.copyTo`` writes into ``dst``)."""
    out = cv2.copyTo(src, np.ascontiguousarray(mask).view(np.uint8), dst)
    if out is not dst:  # OpenCV made a new array (dst not contiguous): copy it back
        np.copyto(dst, out)


def rows_where(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``a[mask]``: the (N, ...) texels of an (S, S, ...) array where the (S, S) bool ``mask``
    is set, in row-major order; ``np.compress`` over the flat texels, ~4x faster than boolean
    indexing of (S, S, 3) colours."""
    return np.compress(mask.reshape(-1), a.reshape(-1, *a.shape[mask.ndim:]), axis=0)


def put_rows(a: np.ndarray, index: np.ndarray, rows: np.ndarray) -> None:
    """``a[index] = rows`` for C-contiguous (N, C) ``a`` and ``rows``: each row put as one
    item of C x itemsize bytes (``np.put``), ~4x faster than fancy assignment of short
    rows."""
    item = np.dtype((np.void, a.shape[1] * a.itemsize))
    np.put(a.view(item).reshape(-1), index,
           np.ascontiguousarray(rows, a.dtype).view(item).reshape(-1))


def unit_to_u8(x: np.ndarray) -> np.ndarray:
    """``np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)`` in one temporary, not three."""
    out = x * 255.0
    out += 0.5
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(...) mean of the last axis of (..., 3) float32 colours: ``rgb.mean(-1)``'s values
    (three additions in order, one division) without its slow reduction over a short axis."""
    return (rgb[..., 0] + rgb[..., 1] + rgb[..., 2]) / np.float32(3)


def in_open_box(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(...) bool ``((points > lo) & (points < hi)).all(-1)`` for (..., 3) float32 or float64
    ``points`` and (3,) bounds of any float dtype, in one pass of ``cv2.inRange`` (~3x
    faster than six comparisons): the open box's bounds are the closed box of the nearest
    values of ``points``' dtype strictly inside it, which the points pass alike."""
    dtype = points.dtype
    lo64, hi64 = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    inner_lo, inner_hi = lo64.astype(dtype), hi64.astype(dtype)
    inner_lo = np.where(inner_lo > lo64, inner_lo, np.nextafter(inner_lo, dtype.type(np.inf)))
    inner_hi = np.where(inner_hi < hi64, inner_hi, np.nextafter(inner_hi, dtype.type(-np.inf)))
    flat = np.ascontiguousarray(points).reshape(-1, 1, 3)
    inside = cv2.inRange(flat, tuple(map(float, inner_lo)), tuple(map(float, inner_hi)))
    return (inside.reshape(points.shape[:-1]) & 1).view(bool)


def isin_few(a: np.ndarray, values) -> np.ndarray:
    """``np.isin(a, values)`` for a few ``values`` (region or part ids): their equality
    tests or'ed, ~10x faster than ``isin``'s sort or table over a texture's labels."""
    values = list(values)
    out = a == values[0]
    for v in values[1:]:
        out |= a == v
    return out


def point_minus_rows(point: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(N, C) ``point - rows`` for (N, C) float32 or float64 ``rows`` (C <= 4) and a (C,)
    ``point`` of their dtype, in one OpenCV pass over the rows as C-channel pixels: the same
    values, ~3x faster than numpy's broadcast over a short last axis."""
    n, channels = rows.shape
    if not n:  # OpenCV returns None for an empty array
        return np.empty_like(rows)
    scalar = tuple(float(x) for x in np.asarray(point, rows.dtype)) + (0.0,) * (4 - channels)
    out = cv2.subtract(scalar, np.ascontiguousarray(rows).reshape(n, 1, channels))
    return out.reshape(n, channels)
