"""Procedural lips in UV space: a person's lip colour from their skin, its shading across the
lips, and the fine vertical furrows of the relief.

Pure functions of the position map (per-texel head-frame position, metres) and the painted lip
coverage, evaluated on the lips' bounding box only.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from pain3d.appearance.landmarks import FaceLandmarks
from pain3d.appearance.paint import blur_texels
from pain3d.ramps import smoothstep

LIP_HUE = (0.4, -11.0, 7.0)
"""Hand-set: the lips' hue in degrees is ``LIP_HUE[0] * skin hue + LIP_HUE[1]`` plus a
person's own shift (-5..5), at most ``LIP_HUE[2]``: rose (-1) on pale pinkish skin,
brownish rose (3) on yellowish skin, mauve to brown (-4..0) on dark skin. Painted over the
skin with a coverage under 1, the lips' texels come out a few degrees warmer (0-12): never
the skin's own orange (19-39) nor the salmon (12-20) that the skin's colour times fixed
gains gave."""

LIP_SATURATION = (0.38, 0.42)
"""Hand-set: the lips' HSV saturation on the palest and the darkest skin, but at most 0.85
of the skin's own (not below the first): dark lips are duller than dark skin, not orange;
pale lips with less read lilac next to yellowish skin. The pale end lowered from 0.40 (which
read as painted salmon at 512 px; lower reads lilac); age pales them further (:data:`LIP_AGE`)."""

LIP_DARK_HUE = 4.0
"""Hand-set: degrees of hue toward brown added on the darkest skin (none on the palest)."""

LIP_AGE = 0.3
"""Hand-set: at the oldest age level the lips' colour comes this share of the way to the
skin's, a tenth darker (lips pale with age; toward grey instead, pale lips read lilac)."""

LIP_VALUE = (0.80, 0.74)
"""Hand-set: the lips' HSV value over the skin's on the palest and the darkest skin."""


@dataclass(frozen=True)
class LipLook:
    """A person's own lips, drawn once per identity (see :func:`sample_lip_look`).

    Attributes:
        gain: overall lightness factor (0.9..1.1).
        hue: hue shift in degrees (-5..5; negative: more mauve, positive: more brown,
            less so on pale skin).
        saturation: saturation factor (0.85..1.1).
        upper_dark: how much darker the upper lip is (0.08..0.16, more on dark skin).
        inner: how much lighter and pinker the middle of the lower lip is (0..1).
        lines: (3,) phases of the vertical furrows' waviness and depth, radians.
        age: the person's age level (0 young .. 1 old; see :data:`LIP_AGE`).
    """

    gain: float = 1.0
    hue: float = 0.0
    saturation: float = 1.0
    upper_dark: float = 0.1
    inner: float = 0.5
    lines: tuple[float, float, float] = (0.0, 0.0, 0.0)
    age: float = 0.0


def sample_lip_look(rng: np.random.Generator, gain: float, age: float = 0.0) -> LipLook:
    """A person's :class:`LipLook` (``gain`` drawn by the caller, ``age`` the person's age
    level, the rest from ``rng``)."""
    hue = float(np.clip(rng.normal(0.0, 3.0), -5.0, 5.0))
    sat, upper, inner = rng.uniform((0.85, 0.08, 0.0), (1.1, 0.16, 1.0))
    lines = tuple(float(p) for p in rng.uniform(0.0, 2 * np.pi, 3))
    return LipLook(gain=gain, hue=hue, saturation=float(sat), upper_dark=float(upper),
                   inner=float(inner), lines=lines, age=float(age))


def _darkness(base: np.ndarray) -> float:
    """0 for the palest skin albedo ``base`` (3,), 1 for the darkest."""
    return float(np.clip((0.75 - float(np.mean(base))) / 0.45, 0.0, 1.0))


def lip_colour(base: np.ndarray, look: LipLook = LipLook()) -> np.ndarray:
    """(3,) float32 sRGB lip albedo of a person whose skin albedo is ``base`` (3,): the skin's
    colour turned darker and redder (:data:`LIP_HUE`, :data:`LIP_SATURATION`,
    :data:`LIP_VALUE`), then ``look``'s own shift."""
    h, s, v = colorsys.rgb_to_hsv(*np.clip(np.asarray(base, np.float64), 0.0, 1.0))
    dark = _darkness(base)
    # Toward brown only on darker skin: on pale skin that way lies peach.
    shift = look.hue if look.hue <= 0.0 else look.hue * (0.3 + 0.7 * dark)
    # Dark lips lean brown (LIP_DARK_HUE): lavender-grey is what too little saturation and a
    # mauve hue gave on them.
    hue = min(LIP_HUE[0] * h * 360.0 + LIP_HUE[1] + shift + LIP_DARK_HUE * dark, LIP_HUE[2])
    sat = min((1 - dark) * LIP_SATURATION[0] + dark * LIP_SATURATION[1],
              max(0.85 * s, LIP_SATURATION[0]))
    val = v * ((1 - dark) * LIP_VALUE[0] + dark * LIP_VALUE[1]) * look.gain
    rgb = np.asarray(colorsys.hsv_to_rgb((hue / 360.0) % 1.0, min(sat * look.saturation, 1.0),
                                         min(val, 1.0)))
    old = LIP_AGE * look.age
    return (rgb + (0.9 * np.asarray(base, np.float64) - rgb) * old).astype(np.float32)


def lip_box(cover: np.ndarray, tpm: float, pad_m: float = 0.003
            ) -> tuple[slice, slice] | None:
    """The bounding box of the texels where ``cover`` (S, S) > 0, ``pad_m`` metres around it
    at ``tpm`` texels per millimetre (None without lips)."""
    rows, cols = np.nonzero(cover.any(1))[0], np.nonzero(cover.any(0))[0]
    if not len(rows):
        return None
    pad = int(np.ceil(pad_m * 1000.0 * tpm))
    size = cover.shape[0]
    return (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, size)),
            slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, size)))


@dataclass(frozen=True, eq=False)
class LipMaps:
    """What :func:`paint_lips` paints; every map is zero away from the lips.

    Attributes:
        rgb: (S, S, 3) float32 lip albedo.
        alpha: (S, S) how much of ``rgb`` covers the skin: the painted coverage with its
            outer rim softened over about 1 mm (:data:`VERMILION_SOFT`), the vermilion border
            of a real lip, not a decal's edge.
        roll: (S, S) the upper lip's rim just outside its border (the white roll).
        lower_mid: (S, S) the middle of the lower lip (lighter, glossier).
        lines: (S, S) the vertical furrows, in [0, 1] (:func:`lip_lines`).
        corner: (S, S) the shadow in the corners of the mouth, on lip and skin, in [0, 1].
    """

    rgb: np.ndarray
    alpha: np.ndarray
    roll: np.ndarray
    lower_mid: np.ndarray
    lines: np.ndarray
    corner: np.ndarray


VERMILION_SOFT = 0.0008
"""Metres (hand-set): the blur that spreads the lips' colour outward into the skin; with the
crisp painted coverage under it, the colour fades into the skin over about 1 mm (the
coverage alone, and so the part labels, keep their crisp rim)."""

LIP_LINE_DARK = (0.12, 0.3)
"""Hand-set: how much the vertical furrows darken the upper and the lower lip's albedo at
their deepest (the lower lip's are the ones that show in photographs)."""


def paint_lips(pos: np.ndarray, cover: np.ndarray, lm: FaceLandmarks, tpm: float,
               base: np.ndarray, look: LipLook = LipLook()) -> LipMaps:
    """The lips' albedo, white roll, lower middle and furrows (:class:`LipMaps`), painted on
    the lips' bounding box only.

    Args:
        pos: (S, S, 3) head-frame position of each texel, metres.
        cover: (S, S) painted lip coverage in [0, 1].
        lm: the face's landmarks (mouth centre and width).
        tpm: texels per millimetre.
        base: (3,) the skin's albedo; the lips are :func:`lip_colour` of it, darker on the
            upper lip, toward the corners and along the line where the lips meet, lighter
            and pinker in the middle of the lower lip (more so on dark skin), faintly darker
            in the furrows.
        look: the person's own lips.
    """
    size = cover.shape[0]
    lips_rgb = np.zeros((size, size, 3), np.float32)
    alpha, roll, lower_mid, lines, corner = (np.zeros((size, size), np.float32)
                                             for _ in range(5))
    box = lip_box(cover, tpm, 0.005)
    if box is None:
        return LipMaps(lips_rgb, alpha, roll, lower_mid, lines, corner)
    p, c = pos[box], cover[box]
    dy = p[..., 1] - lm.mouth[1]
    dark = _darkness(base)
    colour = lip_colour(base, look)
    # The inner lower lip: lighter, and on dark skin pinker (hue toward rose).
    inner_look = LipLook(gain=look.gain * (1.12 + 0.1 * dark), hue=look.hue - 2.0 * dark,
                         saturation=look.saturation * (1.0 - 0.08 * dark), age=look.age)
    inner_rgb = lip_colour(base, inner_look)
    across = np.abs(p[..., 0]) / max(lm.mouth_half_width, 1e-3)
    upper = smoothstep(-0.0005, 0.0015, dy)
    lower = (smoothstep(0.0005, -0.003, dy) * smoothstep(0.7, 0.2, across)
             * smoothstep(-0.012, -0.006, dy))
    shade = (1.0 - (look.upper_dark + 0.06 * dark) * upper
             - 0.15 * smoothstep(0.55, 1.0, across)
             - 0.12 * smoothstep(0.0025, 0.0, np.abs(dy)) + 0.04 * lower)
    lines[box] = lip_lines(p, c, lm, look)
    below = smoothstep(0.0005, -0.002, dy)
    shade *= 1.0 - (LIP_LINE_DARK[0] + (LIP_LINE_DARK[1] - LIP_LINE_DARK[0]) * below) * lines[box]
    inner = np.clip(lower * look.inner * (0.2 + 0.6 * dark), 0.0, 1.0)
    for k in range(3):
        lips_rgb[box[0], box[1], k] = (colour[k] + (inner_rgb[k] - colour[k]) * inner) * shade
    # The colour spreads outward only: toward the mouth's slit (no texels) it stays.
    soft = np.maximum(c, blur_texels(c.astype(np.float32), VERMILION_SOFT * 1000.0 * tpm))
    alpha[box] = soft
    # The white roll: a pale ridge about 1 mm wide just outside the upper lip's border.
    ring = blur_texels(c.astype(np.float32), 1.6 * VERMILION_SOFT * 1000.0 * tpm)
    roll[box] = np.clip(4.0 * ring * (1.0 - ring), 0.0, 1.0) * (1.0 - soft) * smoothstep(
        0.0, 0.003, dy)
    lower_mid[box] = lower * c
    # The corners: the lips fold in, a pit of shadow on lip and skin about 3 mm across.
    cx = np.abs(p[..., 0]) - (lm.mouth_half_width - 0.0005)
    corner[box] = np.exp(-0.5 * ((cx / 0.0016) ** 2 + (dy / 0.0014) ** 2))
    return LipMaps(lips_rgb, alpha, roll, lower_mid, lines, corner)


LIP_LINE_PERIOD = 0.0022
"""Metres between the lips' vertical furrows (hand-set): real ones lie 1-2 mm apart, but a
texel of the lips spans about 0.7 mm across at 512 texels (1.3 mm up and down), so closer
lines alias into moire (1.2 mm did)."""


def lip_lines(pos: np.ndarray, cover: np.ndarray, lm: FaceLandmarks,
              look: LipLook = LipLook()) -> np.ndarray:
    """(...) in [0, 1]: the lips' fine vertical furrows at ``pos`` (..., 3) with coverage
    ``cover`` (...): wavy, of varying depth, fading toward the corners and the border."""
    x, y = pos[..., 0], pos[..., 1]
    a, b, c = look.lines
    phase = 2 * np.pi * (x / LIP_LINE_PERIOD + 0.3 * np.sin(2 * np.pi * y / 0.005 + a)
                         + 0.2 * np.sin(2 * np.pi * x / 0.009 + b))
    depth = 0.6 + 0.4 * np.sin(2 * np.pi * x / 0.0047 + c)
    across = np.abs(x) / max(lm.mouth_half_width, 1e-3)
    return (np.maximum(np.sin(phase), 0.0) ** 4 * depth * np.clip(cover * 1.5 - 0.5, 0, 1)
            * smoothstep(1.0, 0.6, across)).astype(np.float32)
