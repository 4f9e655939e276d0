"""Fixtures of the photo-identity tests: photos the tests make themselves.

A "photo" here is a procedural pain3d face rendered near-frontally and composited on a
background: MediaPipe finds it like a real face, and nothing depends on real photos (the
benchmark keeps those).
"""

from __future__ import annotations

import numpy as np
import pytest
from photo_helpers import procedural_photo

pytest.importorskip("mediapipe")


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return procedural_photo()


@pytest.fixture(scope="session")
def tracker():
    from pain3d.face.tracker import FaceTracker

    det = FaceTracker()
    yield det
    det.close()


@pytest.fixture(scope="session")
def identity(photo, tracker):
    from pain3d.synth.photo import photo_identity

    return photo_identity(photo, tracker=tracker)


@pytest.fixture(scope="session")
def renderer(identity):
    from pain3d.render.photo import PhotoRenderer

    r = PhotoRenderer(identity.photo.shape[0])
    yield r
    r.release()
