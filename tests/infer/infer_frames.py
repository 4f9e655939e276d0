"""Frames for inference tests: real photos, face-less and two-face frames, built on the fly.

The face is matplotlib's bundled sample photo (Grace Hopper, public domain), so mediapipe
has a real face to find without any download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def face_photo() -> np.ndarray:
    """(600, 512, 3) uint8 RGB portrait shipped with matplotlib."""
    import cv2
    import matplotlib

    p = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)


def two_faces(shape=(600, 512, 3), big_left: bool = True) -> np.ndarray:
    """A frame of ``shape`` with the portrait twice, at 0.55 and 0.4 of its size."""
    import cv2

    img = face_photo()
    big = cv2.resize(img, None, fx=0.55, fy=0.55)
    small = cv2.resize(img, None, fx=0.4, fy=0.4)
    canvas = blank(shape)
    w = shape[1]
    bx, sx = (0, w // 2 + 10) if big_left else (w - big.shape[1], 10)
    canvas[100:100 + big.shape[0], bx:bx + big.shape[1]] = big
    canvas[150:150 + small.shape[0], sx:sx + small.shape[1]] = small
    return canvas


def blank(shape=(600, 512, 3)) -> np.ndarray:
    """A face-less frame (grey gradient)."""
    g = np.linspace(40, 200, shape[1], dtype=np.float32)[None, :, None]
    return np.broadcast_to(g, shape).astype(np.uint8).copy()


def shifted(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    return np.roll(np.roll(img, dy, axis=0), dx, axis=1)


