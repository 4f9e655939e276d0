"""Face alignment for inference: the crop geometry the model was trained with.

The geometry is owned by :func:`pain3d.data.align.crop_from_landmarks` (eye centres and
mouth centre mapped by a similarity onto canonical positions; UNBC preparation uses the same
function), so training and inference crops agree by construction. This module only adds an
anti-aliasing low-pass when a large face is shrunk a lot.
"""

from __future__ import annotations

import numpy as np

from pain3d.data.align import DEFAULT_GEOMETRY, CropGeometry, alignment_matrix, crop_from_landmarks


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int,
               geometry: CropGeometry = DEFAULT_GEOMETRY) -> np.ndarray:
    """The aligned face crop, (size, size, 3) uint8 RGB.

    Args:
        image: (H, W, 3) uint8 RGB frame.
        landmarks: (478, 3) float32 frame pixels from :class:`~pain3d.infer.detect.FaceDetector`.
        size: the model's input side in pixels (``model.preprocessing["size"]``).
        geometry: canonical keypoint positions (the training default unless the checkpoint
            was trained on another geometry).
    """
    import cv2

    m = alignment_matrix(landmarks, size, geometry)
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    if scale < 0.5:  # strong downscale: low-pass first so the linear resample does not alias
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=0.3 / scale)
    return crop_from_landmarks(image, landmarks, size=size, geometry=geometry)
