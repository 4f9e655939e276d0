"""Turned views of photo identities: the whole head is rendered, and the photo below the neck
(shoulders, clothes) stays where it was, in front of the rendered neck."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from photo_helpers import procedural_photo

SIZE = 512
PAIN = np.array([3.0, 3.0, 3.0, 2.0, 2.0, 1.0])


@pytest.fixture(scope="module")
def shirted(tracker):
    """A photo of a person in a green shirt: a procedural face on a wall, with the shirt's
    shoulders below its frame (a taller photo, framed wider than the default to show them)."""
    from pain3d.synth.photo import PhotoConfig, photo_identity

    wall = (170, 160, 150)
    bg = np.empty((SIZE, SIZE, 3), np.uint8)
    bg[:] = wall
    photo = np.empty((SIZE + 200, SIZE + 200, 3), np.uint8)
    photo[:] = wall
    cv2.ellipse(photo, (SIZE // 2 + 100, SIZE + 200), (330, 190), 0, 0, 360, (40, 140, 60), -1)
    photo[:SIZE, 100:SIZE + 100] = procedural_photo(background=bg)
    return photo_identity(photo, cfg=PhotoConfig(framing=6.0), tracker=tracker)


def _rows_below_neck(ident, iod: float) -> np.ndarray:
    """(S,) bool: the rows more than ``iod`` inter-ocular distances below the chin."""
    from pain3d.face.landmarks import FACE_OVAL

    chin = float(ident.landmarks[list(FACE_OVAL), 1].max())
    return np.arange(SIZE) > chin + iod * ident.fit.iod_px


@pytest.mark.parametrize("yaw", [30.0, -45.0])
def test_turned_views_show_the_photo_below_the_neck(shirted, renderer, yaw):
    from pain3d.render.photo import orbit_camera
    from pain3d.synth.photo import render_photo

    ident = shirted
    rows = _rows_below_neck(ident, 0.5)
    assert 10 <= rows.sum() <= SIZE // 3
    rgb = render_photo(ident, renderer, PAIN, camera=orbit_camera(ident.camera, yaw)).rgb
    # The photo's neck and shirt, not the rendered neck nor a fill of the wall.
    assert np.abs(rgb[rows].astype(int) - ident.photo[rows]).max() <= 1
    # Above them, the render (the head turned): the neutral photo does not show through.
    above = _rows_below_neck(ident, -1.0) & ~_rows_below_neck(ident, 0.0)
    assert np.abs(rgb[above].astype(int) - ident.photo[above]).mean() > 5
