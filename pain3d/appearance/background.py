"""Backgrounds behind the rendered head: procedural scenes or random crops of user photos."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _wh(size: int | tuple[int, int]) -> tuple[int, int]:
    w, h = (size, size) if isinstance(size, int) else size
    if w < 1 or h < 1:
        raise ValueError(f"background size must be positive, got {size}")
    return int(w), int(h)


def _palette(rng: np.random.Generator) -> np.ndarray:
    """A muted, plausible indoor/outdoor colour (sRGB 0..1)."""
    kind = rng.choice(4)
    if kind == 0:  # neutral greys / off-whites
        c = np.full(3, rng.uniform(0.25, 0.92)) + rng.normal(0, 0.02, 3)
    elif kind == 1:  # warm walls
        c = np.array([0.85, 0.75, 0.6]) * rng.uniform(0.5, 1.05)
    elif kind == 2:  # cool / studio backdrops
        c = np.array([0.55, 0.65, 0.78]) * rng.uniform(0.35, 1.1)
    else:  # anything, desaturated
        c = rng.uniform(0.1, 0.9, 3)
        c = 0.5 * c + 0.5 * c.mean()
    return np.clip(c, 0.02, 0.98)


def procedural_background(rng: np.random.Generator, size: int | tuple[int, int] = 512
                          ) -> np.ndarray:
    """A soft, out-of-focus backdrop: gradients, blurred shapes (doors, windows, furniture)
    and fine texture, drawn at low resolution and upsampled so it costs ~1 ms.

    Args:
        rng: random generator.
        size: side, or (width, height), in pixels.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    w, h = _wh(size)
    lw, lh = 48, max(8, round(48 * h / w))
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
    yy /= lh - 1
    xx /= lw - 1
    c0, c1 = _palette(rng), _palette(rng)
    ang = rng.uniform(0, 2 * np.pi)
    t = np.clip(0.5 + (np.cos(ang) * (xx - 0.5) + np.sin(ang) * (yy - 0.5)) * rng.uniform(0.5, 1.5),
                0, 1)
    img = c0 + (c1 - c0) * t[..., None]
    for _ in range(int(rng.integers(0, 6))):
        col = _palette(rng)
        x0, y0 = rng.uniform(-0.2, 1.0, 2)
        x1, y1 = x0 + rng.uniform(0.05, 0.6), y0 + rng.uniform(0.1, 0.9)
        if rng.random() < 0.5:  # rectangle (door, window, shelf)
            m = ((xx > x0) & (xx < x1) & (yy > y0) & (yy < y1)).astype(np.float32)
        else:  # ellipse (lamp, plant, person far away)
            m = (((xx - x0) / (x1 - x0 + 1e-3)) ** 2 + ((yy - y0) / (y1 - y0 + 1e-3)) ** 2 < 1)
            m = m.astype(np.float32)
        img += (col - img) * (m * rng.uniform(0.3, 0.9))[..., None]
    # Vignette-like light falloff.
    cx, cy = rng.uniform(0.2, 0.8, 2)
    fall = 1.0 - rng.uniform(0.0, 0.35) * ((xx - cx) ** 2 + (yy - cy) ** 2)
    img *= fall[..., None]
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), rng.uniform(0.6, 2.0))
    big = cv2.resize(img * np.float32(255.0), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = _grain_tile()
    gh, gw = grain.shape[:2]
    if h <= gh and w <= gw:
        oy, ox = int(rng.integers(0, gh - h + 1)), int(rng.integers(0, gw - w + 1))
        g = np.ascontiguousarray(grain[oy:oy + h, ox:ox + w])
    else:
        g = np.resize(grain, (h, w, 3))
    amount = rng.uniform(0.0, 0.05) * float(big.mean())
    return cv2.convertScaleAbs(cv2.scaleAdd(g, amount, big))


@lru_cache(maxsize=1)
def _grain_tile() -> np.ndarray:
    """(1024, 1024, 3) float32 soft grain, unit-ish std, the same in every channel."""
    r = np.random.default_rng(12345)
    tile = cv2.GaussianBlur(r.standard_normal((1024, 1024)).astype(np.float32), (0, 0), 1.2)
    return np.repeat((tile * 2.0)[..., None], 3, axis=2)


@lru_cache(maxsize=16)
def _list_photos(folder: str) -> tuple[Path, ...]:
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"background folder {root} does not exist; give a folder of "
                                f"photos ({', '.join(PHOTO_SUFFIXES)}) or use procedural ones")
    files = tuple(sorted(p for p in root.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"background folder {root} holds no photos "
                                f"({', '.join(PHOTO_SUFFIXES)})")
    return files


def photo_background(folder: str | Path, rng: np.random.Generator,
                     size: int | tuple[int, int] = 512, blur: tuple[float, float] = (0.5, 3.0)
                     ) -> np.ndarray:
    """A random crop of a random photo from ``folder`` (searched recursively), resized to
    ``size`` and blurred a little as if out of focus behind the subject.

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        FileNotFoundError: if the folder is missing or holds no readable photos.
    """
    w, h = _wh(size)
    files = _list_photos(str(folder))
    for _ in range(5):
        path = files[int(rng.integers(len(files)))]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is not None:
            break
        log.warning("cannot read background photo %s; trying another", path)
    else:
        raise FileNotFoundError(f"could not read photos in {folder}")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    ih, iw = img.shape[:2]
    scale = rng.uniform(0.5, 1.0)
    cw = max(1, min(iw, int(min(iw, ih * w / h) * scale)))
    ch = max(1, min(ih, int(cw * h / w)))
    x0 = int(rng.integers(0, iw - cw + 1))
    y0 = int(rng.integers(0, ih - ch + 1))
    crop = cv2.resize(img[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    sigma = rng.uniform(*blur)
    return np.ascontiguousarray(cv2.GaussianBlur(crop, (0, 0), sigma) if sigma > 0.3 else crop)
