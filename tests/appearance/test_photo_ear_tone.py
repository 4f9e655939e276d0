"""A photo identity's ear takes the colour of the photo's skin beside it, at the ear's
typical shading (:func:`pain3d.appearance.photo_ears.ear_tone`)."""

from __future__ import annotations

import numpy as np


def _rendered(base, gain, s):
    """sRGB the photo shader draws for the island colour ``base`` at shading ``s``."""
    return np.sqrt(np.clip(base**2 * gain * s**2, 0.0, 1.0))


def test_a_flash_lit_photos_ear_is_its_skin_tone_not_a_pale_pink():
    """single_face.jpg (a frontal flash): the face's sides are as bright as its middle, the
    soft light model gives them a shading of ~0.58, and de-lit their skin was (1.44, 0.98,
    0.86). pain3d <= 0.11 drew the ear with that de-lit tone at its own shading (up to 1): its
    red clipped, the ear pale pink and ~1.5x brighter than the skin beside it."""
    from pain3d.appearance.photo_ears import EAR_TONE, SkinTones, ear_tone

    side = np.array([[1.44, 0.98, 0.86], [1.45, 0.95, 0.8]], np.float32)
    tones = SkinTones(side=side, seen=np.ones(2, bool), neck=np.full(3, 0.5, np.float32),
                      jaw_seen=True, shading=np.full(2, 0.58, np.float32))
    beside = side * 0.58  # the photo's own colour there
    shading = np.linspace(0.45, 1.0, 101)  # the ear's outer faces, some turned to the light
    base, gain = ear_tone(tones, shading)
    for k in (0, 1):
        typical = _rendered(base, gain[k], np.median(shading))
        lit = _rendered(base, gain[k], np.percentile(shading, 90))
        assert np.all(lit < 0.999), lit  # nothing clipped
        assert np.all(typical <= 1.02 * EAR_TONE * beside[k]), (typical, beside[k])
        assert np.all(typical > 0.75 * beside[k]), (typical, beside[k])
        share = typical / typical.sum()
        assert np.abs(share - beside[k] / beside[k].sum()).max() < 0.01, (typical, beside[k])
