"""Light rigs: key, fill and rim lights plus a sky/ground ambient, sampled with variety.

Directions point from the head toward the light, unit vectors in the head frame (x to the
subject's left, y up, z toward a frontal camera). Colours are linear RGB; intensities are
multipliers on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_VEC3 = tuple[float, float, float]


def _unit(v: _VEC3 | np.ndarray) -> _VEC3:
    a = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(a))
    if not np.isfinite(n) or n < 1e-9:
        raise ValueError(f"light direction {tuple(v)} has no length")
    return tuple(float(x) for x in a / n)


def _direction(azimuth: float, elevation: float) -> _VEC3:
    """Unit vector toward a light at ``azimuth`` (deg, 0 = in front, + to subject's left)."""
    az, el = math.radians(azimuth), math.radians(elevation)
    return (math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el))


@dataclass(frozen=True)
class Lighting:
    """A light rig in the head frame.

    Attributes:
        key_dir, fill_dir, rim_dir: (3,) unit vectors from the head toward each light.
        key_rgb, fill_rgb, rim_rgb: linear RGB radiance of each light (0..~3).
        sky_rgb, ground_rgb: hemispherical ambient for normals pointing up / down.
        exposure: overall multiplier applied before tone mapping.
    """

    key_dir: _VEC3 = _direction(-30.0, 25.0)
    key_rgb: _VEC3 = (0.95, 0.9, 0.85)
    fill_dir: _VEC3 = _direction(45.0, 5.0)
    fill_rgb: _VEC3 = (0.25, 0.27, 0.3)
    rim_dir: _VEC3 = _direction(150.0, 30.0)
    rim_rgb: _VEC3 = (0.4, 0.4, 0.4)
    sky_rgb: _VEC3 = (0.22, 0.23, 0.25)
    ground_rgb: _VEC3 = (0.1, 0.09, 0.08)
    exposure: float = 1.0

    def __post_init__(self) -> None:
        for name in ("key_dir", "fill_dir", "rim_dir"):
            object.__setattr__(self, name, _unit(getattr(self, name)))
        for name in ("key_rgb", "fill_rgb", "rim_rgb", "sky_rgb", "ground_rgb"):
            value = tuple(float(x) for x in getattr(self, name))
            if len(value) != 3 or min(value) < 0 or not all(map(math.isfinite, value)):
                raise ValueError(f"Lighting.{name} = {value} must be 3 finite values >= 0")
            object.__setattr__(self, name, value)
        if not 0 < self.exposure < 10:
            raise ValueError(f"Lighting.exposure = {self.exposure} must be in (0, 10)")

    def to_dict(self) -> dict[str, list[float] | float]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _tint(rng: np.random.Generator, kelvin_lo: float, kelvin_hi: float) -> np.ndarray:
    """An approximate black-body tint (linear RGB, green = 1) for a colour temperature."""
    t = rng.uniform(kelvin_lo, kelvin_hi) / 6500.0
    # A smooth fit good enough for warm/cool variety; not colourimetry.
    r = np.clip(1.0 + 0.55 * (1.0 - t), 0.6, 1.6)
    b = np.clip(1.0 - 0.65 * (1.0 - t), 0.45, 1.5)
    return np.array([r, 1.0, b])


def sample_lighting(rng: np.random.Generator, style: str | None = None) -> Lighting:
    """Draw a light rig.

    Args:
        rng: random generator (the same state gives the same rig).
        style: ``"studio"`` (soft frontal key), ``"window"`` (strong side key, cool fill),
            ``"indoor"`` (warm overhead, flat), ``"outdoor"`` (bright sky ambient, sun key),
            or None to draw one.

    Returns:
        A :class:`Lighting` whose key light always reaches the front of the face, so the
        face stays visible and detectable.
    """
    styles = ("studio", "window", "indoor", "outdoor")
    if style is None:
        style = styles[int(rng.choice(len(styles), p=[0.35, 0.25, 0.25, 0.15]))]
    if style not in styles:
        raise ValueError(f"lighting style {style!r} is not one of {styles}")
    side = rng.choice([-1.0, 1.0])
    if style == "studio":
        key_az, key_el, key_i, fill_i = rng.uniform(20, 45), rng.uniform(15, 35), 1.0, 0.22
        kt, ft = _tint(rng, 5000, 6500), _tint(rng, 5500, 7500)
        amb = 0.16
    elif style == "window":
        key_az, key_el, key_i, fill_i = rng.uniform(40, 70), rng.uniform(0, 20), 1.15, 0.1
        kt, ft = _tint(rng, 5500, 7500), _tint(rng, 6500, 9000)
        amb = 0.12
    elif style == "indoor":
        key_az, key_el, key_i, fill_i = rng.uniform(10, 35), rng.uniform(35, 60), 0.95, 0.2
        kt, ft = _tint(rng, 2900, 4200), _tint(rng, 3200, 4500)
        amb = 0.18
    else:
        key_az, key_el, key_i, fill_i = rng.uniform(15, 60), rng.uniform(25, 55), 1.1, 0.18
        kt, ft = _tint(rng, 5200, 6000), _tint(rng, 8000, 11000)
        amb = 0.22
    key_i *= rng.uniform(0.85, 1.15)
    key = kt * key_i
    fill = ft * fill_i * rng.uniform(0.7, 1.3)
    rim = _tint(rng, 5000, 8000) * rng.uniform(0.0, 0.6)
    sky = _tint(rng, 5500, 8000) * amb * rng.uniform(0.8, 1.2)
    ground = np.array([0.5, 0.45, 0.4]) * amb * rng.uniform(0.5, 0.9)
    return Lighting(
        key_dir=_direction(side * key_az, key_el),
        key_rgb=tuple(key),
        fill_dir=_direction(-side * rng.uniform(30, 70), rng.uniform(-10, 15)),
        fill_rgb=tuple(fill),
        rim_dir=_direction(-side * rng.uniform(110, 170), rng.uniform(10, 45)),
        rim_rgb=tuple(rim),
        sky_rgb=tuple(sky),
        ground_rgb=tuple(ground),
        exposure=float(rng.uniform(0.9, 1.1)),
    )
