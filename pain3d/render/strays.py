"""Stray hairs at the hair's silhouette, drawn in image space.

The scalp hair is a smooth shell (:mod:`pain3d.appearance.hair`), so against the background
its outline is a clean curve, one of the plainest tells of a render: a real head of hair
ends in a fuzz of single hairs and wisps. Here faint, thin strands grow out of the hair's
outline: each from a point of the outline, outward and bending down (gravity), in the
hair's colour along the outline, anti-aliased. At 512 px one pixel is about 0.5 mm of the head,
so a hair (0.05-0.1 mm) covers a fraction of a pixel: the strands are faint.

The strands depend only on the outline itself (their random draws are seeded by it), not on
the image's other random draws, so the neutral and pain images of a pair, whose hair does
not move, get the same strays.
"""

from __future__ import annotations

import zlib

import cv2
import numpy as np

from pain3d.face.mesh import PARTS

HAIR_PART = PARTS.index("hair")
"""Part id of scalp hair in the render's parts pass."""

STRAYS_PER_PIXEL = 0.25
"""Strands per outline pixel of hair against the background (hand-set by eye)."""

LENGTH_PX = (3.0, 12.0)
"""Range of a strand's length, in pixels at 512 px (scaled with the image)."""

OPACITY = (0.35, 0.18)
"""Opacity of the nearer third of the strands and of the rest (a hair is much thinner than a
pixel); hand-set by eye."""


def pixels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the True pixels of a 2-D ``mask``, row by row: what
    ``np.nonzero(mask)`` gives (the same int64 arrays), about 7x faster (numpy's 2-D nonzero
    is much slower than its flat one)."""
    return np.divmod(np.flatnonzero(mask), mask.shape[1])


def _outline(hair: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of hair pixels next to the background."""
    outside = cv2.dilate((~inside).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return pixels(hair & outside)


def _strands(rows: np.ndarray, cols: np.ndarray, inside: np.ndarray, scale: float,
             origin: tuple[int, int]) -> list[np.ndarray]:
    """Polylines (3 segments each, int32 (4, 1, 2) in 1/16 px) of strands rooted at some of
    the outline's pixels, seeded by the outline."""
    rng = np.random.default_rng(zlib.crc32(rows.tobytes() + cols.tobytes()
                                           + np.asarray(origin, np.int64).tobytes()))
    n = int(len(rows) * STRAYS_PER_PIXEL)
    pick = rng.choice(len(rows), size=n, replace=False)
    r, c = rows[pick].astype(np.float64), cols[pick].astype(np.float64)
    # Outward: down the gradient of the blurred coverage.
    soft = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 2.0)
    h, w = soft.shape
    pr, pc = rows[pick], cols[pick]
    nx = soft[pr, np.maximum(pc - 1, 0)] - soft[pr, np.minimum(pc + 1, w - 1)]
    ny = soft[np.maximum(pr - 1, 0), pc] - soft[np.minimum(pr + 1, h - 1), pc]
    norm = np.maximum(np.hypot(nx, ny), 1e-6)
    angle = np.arctan2(ny / norm, nx / norm) + rng.normal(0.0, 0.45, n)
    length = rng.uniform(*LENGTH_PX, n) * scale
    bend = rng.uniform(0.15, 0.6, n)  # how fast the strand turns down (image y grows down)
    pts = [np.stack([c, r], -1)]
    dx, dy = np.cos(angle), np.sin(angle)
    for _ in range(3):
        dy = dy + bend
        d = np.maximum(np.hypot(dx, dy), 1e-6)
        dx, dy = dx / d, dy / d
        pts.append(pts[-1] + np.stack([dx, dy], -1) * (length / 3)[:, None])
    poly = np.round(np.stack(pts, 1) * 16).astype(np.int32)  # (n, 4, 2), 4 fractional bits
    return list(poly[:, :, None, :])


def add_stray_hairs(image: np.ndarray, rgb: np.ndarray, mask: np.ndarray,
                    parts: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3) uint8, the composited photograph, with stray hairs drawn out of
    the outline of the render's scalp hair (``rgb``, ``mask``, ``parts``: the render's
    passes). Returns a new array; ``image`` itself when no hair meets the background."""
    hair = parts == HAIR_PART
    hair_rows, hair_cols = np.flatnonzero(hair.any(1)), np.flatnonzero(hair.any(0))
    if len(hair_rows) == 0:
        return image
    # Work in the box the strands can reach around the hair.
    scale = mask.shape[0] / 512.0
    pad = int(LENGTH_PX[1] * scale) + 4
    h, w = mask.shape
    box = (slice(max(int(hair_rows[0]) - pad, 0), min(int(hair_rows[-1]) + pad + 1, h)),
           slice(max(int(hair_cols[0]) - pad, 0), min(int(hair_cols[-1]) + pad + 1, w)))
    inside = mask[box] > 127
    rows, cols = _outline(hair[box] & inside, inside)
    if len(rows) < 8:
        return image
    strands = _strands(rows, cols, inside, scale, (box[0].start, box[1].start))
    a = np.zeros(inside.shape, np.uint8)
    for group, opacity in zip((strands[::3], strands[1::3] + strands[2::3]), OPACITY,
                              strict=True):
        alpha = np.zeros(a.shape, np.uint8)
        cv2.polylines(alpha, group, False, round(255 * opacity), thickness=1,
                      lineType=cv2.LINE_AA, shift=4)
        np.maximum(a, alpha, out=a)
    a *= ~inside  # strands only over the background: inside, the shell is the hair
    yy, xx = pixels(a)
    # The strands take the colour of the hair along the outline (its mean).
    colour = rgb[box][rows, cols].astype(np.float32).mean(0)
    out = image.copy()
    sub = out[box]
    t = a[yy, xx, None] / np.float32(255.0)
    sub[yy, xx] = np.clip(np.round(sub[yy, xx] * (1.0 - t) + colour * t), 0, 255).astype(np.uint8)
    return out
