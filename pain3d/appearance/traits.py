"""Demographic-linked sampling of visible traits: skin tone, eyes, hair, facial hair, clothing.

Skin tones follow the Monk Skin Tone (MST) scale, 10 tones from lightest (1) to darkest (10).
Each ancestry draws from a broad, overlapping distribution over the scale, so every group
spans several tones and neighbouring groups share tones, as real populations do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from pain3d.demographics import ANCESTRIES, Demographics

MONK_TONES_HEX: tuple[str, ...] = (
    "#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96",
    "#a07e56", "#825c43", "#604134", "#3a312a", "#292420",
)
"""The 10 Monk Skin Tone swatches (sRGB), tone 1 first."""

MONK_TONES = np.array(
    [[int(h[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for h in MONK_TONES_HEX], np.float32)
"""(10, 3) float32 sRGB in [0, 1] of the Monk swatches."""

# Probability of each Monk tone (1..10) per ancestry: broad and overlapping on purpose.
_TONE_P: dict[str, tuple[float, ...]] = {
    "european": (0.16, 0.26, 0.24, 0.18, 0.10, 0.04, 0.02, 0.0, 0.0, 0.0),
    "east_asian": (0.04, 0.14, 0.28, 0.28, 0.18, 0.06, 0.02, 0.0, 0.0, 0.0),
    "middle_eastern": (0.0, 0.04, 0.14, 0.26, 0.26, 0.18, 0.09, 0.03, 0.0, 0.0),
    "latino": (0.0, 0.04, 0.10, 0.18, 0.24, 0.22, 0.14, 0.06, 0.02, 0.0),
    "south_asian": (0.0, 0.0, 0.03, 0.08, 0.17, 0.26, 0.24, 0.14, 0.06, 0.02),
    "african": (0.0, 0.0, 0.0, 0.02, 0.05, 0.12, 0.22, 0.26, 0.21, 0.12),
}


_CREASE_P: dict[str, tuple[float, float]] = {
    "european": (0.02, 0.08), "east_asian": (0.45, 0.3), "middle_eastern": (0.02, 0.08),
    "latino": (0.05, 0.1), "south_asian": (0.05, 0.1), "african": (0.03, 0.07),
}  # fmt: skip
"""Hand-set: probability of no upper-lid crease (a monolid) and of a low, partly hidden one
per ancestry: about half of East Asian people have no visible crease and many others a low
one; in other groups both are uncommon (``Traits.lid_crease``)."""

HAIR_COLOURS: dict[str, tuple[float, float, float]] = {
    "black": (0.045, 0.04, 0.04),
    "dark_brown": (0.13, 0.085, 0.06),
    "brown": (0.26, 0.17, 0.11),
    "light_brown": (0.42, 0.30, 0.19),
    "blond": (0.72, 0.58, 0.38),
    "red": (0.50, 0.22, 0.11),
    "grey": (0.55, 0.54, 0.52),
    "white": (0.82, 0.81, 0.78),
}
IRIS_COLOURS: dict[str, tuple[float, float, float]] = {
    "dark_brown": (0.16, 0.09, 0.05),
    "brown": (0.32, 0.18, 0.08),
    "hazel": (0.42, 0.33, 0.16),
    "green": (0.30, 0.40, 0.24),
    "blue": (0.30, 0.42, 0.58),
    "grey": (0.45, 0.48, 0.50),
}
HAIR_STYLES: tuple[str, ...] = ("bald", "buzz", "short", "medium", "long", "bun")
FACIAL_HAIR: tuple[str, ...] = ("none", "stubble", "moustache", "goatee", "beard")


@dataclass(frozen=True)
class Traits:
    """The visible traits of one identity (colours are sRGB in [0, 1])."""

    monk_tone: int
    skin_rgb: tuple[float, float, float]
    undertone: float  # -1 cool/pink .. +1 warm/olive
    hair_style: str
    hair_colour: str
    hair_rgb: tuple[float, float, float]
    facial_hair: str
    iris_colour: str
    iris_rgb: tuple[float, float, float]
    brow_density: float
    lip_fullness: float
    freckles: float
    clothing_rgb: tuple[float, float, float]
    age_level: float  # 0 young .. 1 old, drives wrinkles, spots and grey hair
    lid_crease: float = 1.0  # 0 monolid (no crease), 0.3-0.7 low, partly hidden, 1 ordinary


def _choice(rng: np.random.Generator, options: dict[str, float]) -> str:
    keys = list(options)
    p = np.array([options[k] for k in keys], np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def monk_tone_probabilities(ancestry: str) -> np.ndarray:
    """(10,) probabilities of Monk tones 1..10 for an ancestry."""
    if ancestry not in _TONE_P:
        raise ValueError(f"ancestry {ancestry!r} is not one of {ANCESTRIES}")
    p = np.asarray(_TONE_P[ancestry], np.float64)
    return p / p.sum()


def sample_traits(demo: Demographics, rng: np.random.Generator) -> Traits:
    """Draw the visible traits of an identity with the given demographics."""
    tone = int(rng.choice(10, p=monk_tone_probabilities(demo.ancestry))) + 1
    # Interpolate toward a neighbouring swatch so tones are continuous within a step.
    lo = MONK_TONES[tone - 1]
    hi = MONK_TONES[min(tone, 9)] if rng.random() < 0.5 else MONK_TONES[max(tone - 2, 0)]
    skin = lo + (hi - lo) * rng.uniform(0.0, 0.45)
    undertone = float(np.clip(rng.normal(0.25 if demo.ancestry != "european" else -0.1, 0.4),
                              -1, 1))
    age = {"20-35": rng.uniform(0.0, 0.25), "36-60": rng.uniform(0.3, 0.65),
           "61-85": rng.uniform(0.7, 1.0)}[demo.age_band]
    light = demo.ancestry == "european"
    dark_hair = {"black": 0.55, "dark_brown": 0.35, "brown": 0.1}
    hair_p = ({"black": 0.1, "dark_brown": 0.3, "brown": 0.25, "light_brown": 0.15,
               "blond": 0.13, "red": 0.07} if light else dict(dark_hair))
    if demo.ancestry in ("latino", "middle_eastern"):
        hair_p.update({"brown": 0.2, "light_brown": 0.05})
    hair_colour = _choice(rng, hair_p)
    if rng.random() < age ** 1.5 * 0.95:
        hair_colour = "white" if rng.random() < age - 0.55 else "grey"
    hair_rgb = np.asarray(HAIR_COLOURS[hair_colour]) * rng.uniform(0.85, 1.15)
    if demo.sex == "male":
        bald_p = 0.05 + 0.45 * age
        style = _choice(rng, {"bald": bald_p, "buzz": 0.25, "short": 0.45, "medium": 0.12})
        facial = _choice(rng, {"none": 0.55, "stubble": 0.18, "moustache": 0.07,
                               "goatee": 0.07, "beard": 0.13})
    else:
        style = _choice(rng, {"short": 0.12, "medium": 0.28, "long": 0.42, "bun": 0.18})
        facial = "none"
    iris_p = ({"dark_brown": 0.1, "brown": 0.25, "hazel": 0.15, "green": 0.12,
               "blue": 0.3, "grey": 0.08} if light
              else {"dark_brown": 0.7, "brown": 0.25, "hazel": 0.05})
    iris = _choice(rng, iris_p)
    clothing = rng.uniform(0.05, 0.85, 3) * rng.uniform(0.4, 1.0)
    traits = Traits(
        monk_tone=tone,
        skin_rgb=tuple(float(c) for c in skin),
        undertone=undertone,
        hair_style=style,
        hair_colour=hair_colour,
        hair_rgb=tuple(float(c) for c in np.clip(hair_rgb, 0, 1)),
        facial_hair=facial,
        iris_colour=iris,
        iris_rgb=tuple(float(c) for c in np.asarray(IRIS_COLOURS[iris]) * rng.uniform(0.85, 1.15)),
        brow_density=float(rng.uniform(0.55, 1.0) * (1.0 if demo.sex == "male" else 0.8)),
        lip_fullness=float(rng.uniform(0.6, 1.0) * (1.0 - 0.3 * age)),
        freckles=float(rng.uniform(0, 1) * (tone <= 3) * (rng.random() < 0.25)),
        clothing_rgb=tuple(float(c) for c in clothing),
        age_level=float(age),
    )
    none, low = _CREASE_P[demo.ancestry]
    fold = rng.random()  # drawn last: the traits above draw as they did before it
    crease = 0.0 if fold < none else 0.3 + 0.4 * (fold - none) / low if fold < none + low else 1.0
    return replace(traits, lid_crease=float(crease))
