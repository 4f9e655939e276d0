"""The compositing mask of a photo identity's own view covers both eyes and their lids, even
where a turned head's face outline runs through the far eye."""

from __future__ import annotations

import numpy as np

from pain3d.face import landmarks as cf
from pain3d.synth.photo import face_alpha


def _pixels(points_cm: np.ndarray, size: int = 256) -> np.ndarray:
    """Canonical head-frame points (cm, y up) as pixels of a size x size image."""
    return np.c_[points_cm[:, 0] * 9.0 + size / 2, -points_cm[:, 1] * 9.0 + size / 2,
                 points_cm[:, 2] * 9.0]


def test_both_eyes_are_drawn_when_the_outline_cuts_through_one():
    lm = _pixels(cf.canonical_vertices())
    iod = float(np.linalg.norm(lm[33, :2] - lm[263, :2]))
    # A turned head: the outline on the subject's left runs through that eye's middle.
    oval = list(cf.FACE_OVAL)
    eye_mid_x = 0.5 * (lm[263, 0] + lm[362, 0])
    turned = lm.copy()
    turned[oval, 0] = np.minimum(turned[oval, 0], eye_mid_x)
    alpha = face_alpha(turned, 256, 0.35 * iod)
    far_eye = list(cf.EYE_L_UPPER + cf.EYE_L_LOWER)
    ys, xs = np.round(turned[far_eye, 1]).astype(int), np.round(turned[far_eye, 0]).astype(int)
    assert alpha[ys, xs].min() == 1.0  # every lid point of the far eye, even past the outline
    assert alpha[int(lm[386, 1]) - 2, int(lm[386, 0])] == 1.0  # the upper lid's margin
    # Beyond the eye the mask falls off within half a feather, and far out it is 0.
    right = int(lm[263, 0] + 0.3 * iod)
    assert alpha[int(lm[263, 1]), right] == 0.0
    assert alpha[5, 5] == 0.0
    # A frontal face: inside the outline as before (the eyes lie well within it).
    frontal = face_alpha(lm, 256, 0.35 * iod)
    assert frontal[int(lm[4, 1]), int(lm[4, 0])] == 1.0
