"""Camera effects applied after compositing: exposure, white balance, blur, noise, JPEG."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class CameraEffects:
    """Photographic imperfections of one image.

    Attributes:
        exposure: stops (+1 doubles the light), applied in linear light.
        wb_red, wb_blue: white-balance gains on red and blue (1 = neutral).
        blur: Gaussian blur sigma in pixels (defocus / soft lens), 0 = none.
        noise: sensor noise std in 8-bit levels, 0 = none.
        vignette: darkening of the corners, 0..1.
        jpeg_quality: quality a writer should encode with (1..100), also used when
            ``camera_effects(..., jpeg_roundtrip=True)``.
    """

    exposure: float = 0.0
    wb_red: float = 1.0
    wb_blue: float = 1.0
    blur: float = 0.0
    noise: float = 0.0
    vignette: float = 0.0
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        if not -3 <= self.exposure <= 3:
            raise ValueError(f"CameraEffects.exposure = {self.exposure} stops is outside -3..3")
        for name in ("wb_red", "wb_blue"):
            if not 0.3 <= getattr(self, name) <= 3:
                raise ValueError(f"CameraEffects.{name} = {getattr(self, name)} is outside 0.3..3")
        if self.blur < 0 or self.noise < 0 or not 0 <= self.vignette <= 1:
            raise ValueError(f"CameraEffects blur/noise must be >= 0 and vignette in 0..1, got "
                             f"{self.blur}/{self.noise}/{self.vignette}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"CameraEffects.jpeg_quality = {self.jpeg_quality} is outside 1..100")


def sample_effects(rng: np.random.Generator, strength: float = 1.0) -> CameraEffects:
    """Draw mild, realistic camera effects; ``strength`` scales every deviation (0 = none)."""
    s = float(strength)
    return CameraEffects(
        exposure=float(np.clip(rng.normal(0, 0.2) * s, -3, 3)),
        wb_red=float(np.clip(1 + rng.normal(0, 0.05) * s, 0.3, 3)),
        wb_blue=float(np.clip(1 + rng.normal(0, 0.06) * s, 0.3, 3)),
        blur=float(max(0.0, rng.uniform(-0.3, 0.9) * s)),
        noise=float(rng.uniform(0.0, 4.0) * s),
        vignette=float(np.clip(round(rng.uniform(0, 0.3) * s, 2), 0, 1)),
        jpeg_quality=int(np.clip(round(95 - rng.uniform(0, 25) * s), 1, 100)),
    )


@lru_cache(maxsize=4)
def _tone_lut(gain_r: float, gain_g: float, gain_b: float) -> np.ndarray:
    """(1, 256, 3) uint8 per-channel LUT (OpenCV's three-channel table): sRGB -> linear,
    gain, -> sRGB."""
    x = np.arange(256) / 255.0
    lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    out = []
    for g in (gain_r, gain_g, gain_b):
        y = np.clip(lin * g, 0, 1)
        s = np.where(y <= 0.0031308, 12.92 * y, 1.055 * y ** (1 / 2.4) - 0.055)
        out.append(np.round(s * 255).astype(np.uint8))
    return np.ascontiguousarray(np.stack(out, -1)[None])


@lru_cache(maxsize=2)
def _noise_tile(n: int = 1024) -> np.ndarray:
    """(n, n, 3) float32 standard normals, drawn once per process (in float32: half the time
    and memory of float64 draws, which each generation worker paid at its first image)."""
    return np.random.default_rng(7).standard_normal((n, n, 3), dtype=np.float32)


@lru_cache(maxsize=32)
def _vignette(h: int, w: int, amount: float) -> np.ndarray:
    """(H, W) float32 gain: 1 at the centre, 1 - amount in the corners. One channel: 32 of
    them (every amount :func:`sample_effects` draws, 0.01 steps up to 0.3) stay cached in
    32 MB at 512 px."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    g = (1.0 - amount * r2 / 2.0).astype(np.float32)
    g.flags.writeable = False
    return g


def camera_effects(image: np.ndarray, effects: CameraEffects, rng: np.random.Generator,
                   jpeg_roundtrip: bool = False) -> np.ndarray:
    """Apply camera effects to an RGB image.

    Args:
        image: (H, W, 3) uint8 RGB.
        effects: what to apply.
        rng: random generator (noise offset).
        jpeg_roundtrip: also encode/decode at ``effects.jpeg_quality`` (for in-memory use;
            writers that save JPEG should encode at that quality instead).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"camera_effects expects (H, W, 3) uint8, got {image.shape} {image.dtype}")
    e = effects
    gain = 2.0 ** e.exposure
    img = image
    if abs(gain - 1) > 1e-3 or abs(e.wb_red - 1) > 1e-3 or abs(e.wb_blue - 1) > 1e-3:
        lut = _tone_lut(round(gain * e.wb_red, 3), round(gain, 3), round(gain * e.wb_blue, 3))
        img = cv2.LUT(img, lut)  # one pass (0.5 ms at 512 px; split, 3 LUTs, merge: 0.7-1.2)
    if e.blur >= 0.3:
        img = cv2.GaussianBlur(img, (0, 0), e.blur)
    h, w = img.shape[:2]
    if e.vignette > 0 or e.noise > 0:
        if e.vignette > 0:
            # uint8 times float32 is exact in OpenCV's arithmetic, so these are the products
            # of float32(img) * gain; a three-channel gain multiplies at about twice numpy's
            # speed of broadcasting one channel.
            g = _vignette(h, w, round(e.vignette, 3))
            f = cv2.multiply(img, cv2.merge((g, g, g)), dtype=cv2.CV_32F)
        else:
            f = img.astype(np.float32)
        if e.noise > 0:
            tile = _noise_tile()
            th, tw = tile.shape[:2]
            if h <= th and w <= tw:
                y0 = int(rng.integers(0, th - h + 1))
                x0 = int(rng.integers(0, tw - w + 1))
                noise = tile[y0:y0 + h, x0:x0 + w]
            else:
                noise = rng.standard_normal(f.shape).astype(np.float32)
            # In place, and from the tile's strided view (rows of the view are contiguous,
            # so OpenCV reads it without a copy): the same sums as a fresh array.
            cv2.scaleAdd(noise, float(e.noise), f, dst=f)
        # Saturating conversion; values a little below 0 fold to small positives, harmless.
        img = cv2.convertScaleAbs(f)
    if jpeg_roundtrip:
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, e.jpeg_quality])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(img)
