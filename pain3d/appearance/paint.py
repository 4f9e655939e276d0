"""Vectorised painting helpers in UV space: noise fields, soft masks and line strokes.

Everything works on per-texel head-frame positions (the position map), so features land in
the same anatomical place whatever the UV layout of the mesh.
"""

from __future__ import annotations

import cv2
import numpy as np

from pain3d.ramps import smoothstep


def smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1
                 ) -> np.ndarray:
    """(size, size[, channels]) float32 smooth noise, zero mean, unit-ish std, ``cells`` bumps
    across the texture (bicubic upsampling of a coarse random grid)."""
    small = rng.standard_normal((cells, cells, channels)).astype(np.float32)
    big = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    if channels == 1:
        big = big.reshape(size, size)
    return big


def fractal_noise(rng: np.random.Generator, size: int, octaves: tuple[int, ...] = (4, 8, 16, 32),
                  gain: float = 0.6) -> np.ndarray:
    """(size, size) float32 sum of :func:`smooth_noise` octaves, normalised to unit std."""
    out = np.zeros((size, size), np.float32)
    amp = 1.0
    for cells in octaves:
        out += amp * smooth_noise(rng, size, min(cells, size))
        amp *= gain
    return out / max(float(out.std()), 1e-6)


def gaussian_blob(pos: np.ndarray, centre: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
    """exp(-|(pos - centre) / sigma|^2 / 2) per texel; pos (..., 3) metres, sigma per axis."""
    c = np.asarray(centre, np.float32).reshape(3)
    sg = np.broadcast_to(np.asarray(sigma, np.float32), (3,))
    acc = None
    for k in range(3):
        t = pos[..., k] - c[k]
        t *= np.float32(1.0 / sg[k])
        t *= t
        acc = t if acc is None else acc + t
    acc *= np.float32(-0.5)
    return np.exp(acc, out=acc)


def stroke(pos: np.ndarray, a: np.ndarray, b: np.ndarray, width: float,
           taper: float = 0.35) -> np.ndarray:
    """Soft line from ``a`` to ``b`` (x, y metres, seen from the front) per texel, in [0, 1].

    The profile across the line is Gaussian with std ``width`` (metres); the ends fade over
    ``taper`` of the length, as creases do.
    """
    p = pos[..., :2]
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    ab = b - a
    length2 = float(ab @ ab) + 1e-12
    t = np.clip(((p - a) @ ab) / length2, 0.0, 1.0)
    # The squared distance to the closest point a + t ab, a coordinate at a time.
    dx = p[..., 0] - (a[0] + t * ab[0])
    dy = p[..., 1] - (a[1] + t * ab[1])
    d2 = dx * dx + dy * dy
    ends = smoothstep(0.0, taper, t) * smoothstep(0.0, taper, 1.0 - t)
    return np.exp(-0.5 * d2 / (width * width)) * ends


class Canvas:
    """Fast local painting on a position map: strokes touch only texels near them.

    Texels are indexed by their x coordinate (sorted), so a stroke first narrows to its
    x-range with a binary search, then to its y-range, then evaluates the soft line there.
    """

    def __init__(self, pos: np.ndarray, valid: np.ndarray | None = None) -> None:
        self.shape = pos.shape[:2]
        flat = pos.reshape(-1, 3)
        idx = np.arange(len(flat)) if valid is None else np.flatnonzero(valid.ravel())
        order = idx[np.argsort(flat[idx, 0], kind="stable")]
        self._order = order
        self._xs = flat[order, 0]
        self._flat = flat

    def _near(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        i0, i1 = np.searchsorted(self._xs, [lo[0], hi[0]])
        cand = self._order[i0:i1]
        y = self._flat[cand, 1]
        return cand[(y >= lo[1]) & (y <= hi[1])]

    def stroke(self, out: np.ndarray, a, b, width: float, weight: float = 1.0,
               taper: float = 0.35, mode: str = "add") -> None:
        """Paint :func:`stroke` into ``out`` (S, S) in place (``mode`` "add" or "max")."""
        a = np.asarray(a, np.float32)[:2]
        b = np.asarray(b, np.float32)[:2]
        pad = 4.0 * width
        cand = self._near(np.minimum(a, b) - pad, np.maximum(a, b) + pad)
        if len(cand) == 0:
            return
        val = stroke(self._flat[cand][None], a, b, width, taper)[0] * weight
        flat = out.reshape(-1)
        if mode == "max":
            flat[cand] = np.maximum(flat[cand], val)
        else:
            flat[cand] += val


def arc(pos: np.ndarray, centre: np.ndarray, radius: float, a0: float, a1: float, width: float
        ) -> np.ndarray:
    """Soft circular arc (x, y seen from the front) from angle ``a0`` to ``a1`` radians.

    Evaluated only on texels within :func:`arc_reach` of the centre (in x and in y): further
    out the Gaussian profile is exactly 0 in float32, so the result is the same as evaluating
    every texel, at a few percent of the cost. Texels with a NaN position get NaN like before.
    """
    c = np.asarray(centre, np.float32)[:2]
    reach = arc_reach(radius, width)
    flat = pos.reshape(-1, pos.shape[-1])
    x, y = flat[:, 0], flat[:, 1]
    idx = np.flatnonzero(~((np.abs(x - c[0]) > reach) | (np.abs(y - c[1]) > reach)))
    val = _arc_values(flat[idx], c, radius, a0, a1, width)
    out = np.zeros(len(flat), val.dtype)
    out[idx] = val
    return out.reshape(pos.shape[:-1])


def arc_reach(radius: float, width: float) -> float:
    """How far (metres, in x and in y) from its centre an :func:`arc` can be non-zero."""
    return abs(radius) + 15.0 * abs(width)


def _arc_values(pos: np.ndarray, c: np.ndarray, radius: float, a0: float, a1: float,
                width: float) -> np.ndarray:
    """:func:`arc` at (N, 3) positions."""
    d = pos[..., :2] - c
    dx, dy = d[..., 0], d[..., 1]
    r = np.sqrt(dx * dx + dy * dy)  # the sum of two squares, as np.sum(d * d, axis=-1)
    ang = np.arctan2(dy, dx)
    mid, half = 0.5 * (a0 + a1), 0.5 * abs(a1 - a0)
    da = np.abs((ang - mid + np.pi) % (2 * np.pi) - np.pi)
    ends = smoothstep(0.0, 0.35, 1.0 - da / max(half, 1e-6))
    return np.exp(-0.5 * ((r - radius) / width) ** 2) * ends


def in_box(pos: np.ndarray, lo: tuple[float, float], hi: tuple[float, float]) -> np.ndarray:
    """Flat indices of the texels of ``pos`` (..., 3) whose x and y lie in ``[lo, hi]``
    (metres), and of those with a NaN position."""
    x, y = pos[..., 0], pos[..., 1]
    return np.flatnonzero(~((x < lo[0]) | (x > hi[0]) | (y < lo[1]) | (y > hi[1])))


def blur_texels(img: np.ndarray, sigma_texels: float) -> np.ndarray:
    """Gaussian blur in texel units (no-op for sigma < 0.3)."""
    if sigma_texels < 0.3:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigma_texels)


def scale_planes(img: np.ndarray, factor) -> np.ndarray:
    """``img *= factor[..., None]`` in place for (S, S, C) ``img``, a channel plane at a time.

    ``factor`` is one (S, S) array for every channel, or a function of the channel index that
    gives the channel's own (S, S) factor. The same float32 products as numpy's broadcast over
    the last axis, at several times its speed (it runs C-element inner loops).
    """
    for k in range(img.shape[-1]):
        img[..., k] *= factor(k) if callable(factor) else factor
    return img


def tint(plane: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """(S, S, C) ``rgb * plane[..., None]``, a plane at a time (see :func:`scale_planes`)."""
    out = np.empty((*plane.shape, len(rgb)), np.result_type(rgb, plane))
    for k in range(len(rgb)):
        out[..., k] = rgb[k] * plane
    return out


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
