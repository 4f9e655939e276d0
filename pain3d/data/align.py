"""Face-crop geometry shared by UNBC preparation and inference.

A face crop is defined by three keypoints: the centre of the subject's right eye, the centre of
the subject's left eye and the centre of the mouth. A similarity transform (rotation, uniform
scale, translation; no shear) maps them, in the least-squares sense, onto canonical positions
in a ``size x size`` crop (fractions of ``size``, x to the right, y down):

- right eye centre (image left in a frontal face): ``(0.5 - eye_distance / 2, eye_y)``
- left eye centre: ``(0.5 + eye_distance / 2, eye_y)``
- mouth centre: ``(0.5, mouth_y)``

With the defaults (``eye_y = 0.40``, ``eye_distance = 0.30``, ``mouth_y = 0.72``) a frontal
face fills the crop from the upper forehead to the chin, brows and cheeks well inside, so the
pain AUs (brows, eyes, nose, upper lip) are all visible with margin for augmentation.

Supported landmark schemes (detected from the number of points):

- 66-point AAM (UNBC-McMaster): iBUG-68 without the two inner mouth corners;
- 68-point iBUG / dlib;
- 468 / 478-point MediaPipe face mesh (478 adds the iris centres, which are used when present);
- 3 points: the keypoints themselves (right eye, left eye, mouth centre), as recorded per
  image by ``pain3d generate`` (iris centres and MediaPipe's mouth points, projected from the
  rendered mesh; see :mod:`pain3d.synth.keypoints`).

Pure numpy + ``cv2.warpAffine``; no detector is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pain3d.face.landmarks import (
    EYE_KEYPOINT_L,
    EYE_KEYPOINT_R,
    IBUG_EYE_L,
    IBUG_EYE_R,
    IBUG_MOUTH_START,
    IRIS_L,
    IRIS_R,
    MOUTH_KEYPOINT,
    similarity_fit,
)

SCHEMES: dict[int, str] = {3: "keypoints3", 66: "aam66", 68: "ibug68", 468: "mediapipe468",
                           478: "mediapipe478"}


@dataclass(frozen=True)
class CropGeometry:
    """Canonical keypoint positions as fractions of the crop side (x right, y down)."""

    eye_y: float = 0.40
    eye_distance: float = 0.30
    mouth_y: float = 0.72

    def __post_init__(self) -> None:
        if not 0 < self.eye_distance < 1:
            raise ValueError(f"eye_distance must be in (0, 1), got {self.eye_distance}")
        if not 0 < self.eye_y < self.mouth_y < 1:
            raise ValueError(
                f"need 0 < eye_y < mouth_y < 1, got eye_y={self.eye_y}, mouth_y={self.mouth_y}"
            )

    def keypoints(self, size: int) -> np.ndarray:
        """(3, 2) float64 canonical right eye, left eye, mouth in crop pixels."""
        half = self.eye_distance / 2
        return np.array(
            [[0.5 - half, self.eye_y], [0.5 + half, self.eye_y], [0.5, self.mouth_y]]
        ) * float(size)


DEFAULT_GEOMETRY = CropGeometry()


def face_keypoints(landmarks: np.ndarray) -> np.ndarray:
    """Right-eye, left-eye and mouth centres from a landmark set.

    Args:
        landmarks: (3 | 66 | 68 | 468 | 478, 2+) image pixels (x right, y down); extra
            columns (e.g. MediaPipe depth) are ignored. Three points are taken as the
            keypoints themselves.

    Returns:
        (3, 2) float64 image pixels: subject's right eye, left eye, mouth centre.

    Raises:
        ValueError: for an unsupported number of points or non-finite values.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 2:
        raise ValueError(f"landmarks must be (N, 2) or (N, 3), got shape {pts.shape}")
    pts = pts[:, :2]
    n = len(pts)
    if n not in SCHEMES:
        raise ValueError(
            f"{n} landmarks: supported schemes are 3 keypoints, 66-point AAM, 68-point iBUG "
            "and 468/478-point MediaPipe"
        )
    if n == 3:
        right, left, mouth = pts
    elif n in (66, 68):
        right = pts[list(IBUG_EYE_R)].mean(axis=0)
        left = pts[list(IBUG_EYE_L)].mean(axis=0)
        mouth = pts[IBUG_MOUTH_START:].mean(axis=0)  # outer + inner lips (18 or 20 points)
    else:
        if n == 478:
            right, left = pts[IRIS_R], pts[IRIS_L]
        else:
            right = pts[list(EYE_KEYPOINT_R)].mean(axis=0)
            left = pts[list(EYE_KEYPOINT_L)].mean(axis=0)
        mouth = pts[list(MOUTH_KEYPOINT)].mean(axis=0)
    out = np.stack([right, left, mouth])
    if not np.isfinite(out).all():
        raise ValueError("landmarks contain NaN or infinite values")
    return out


def similarity_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) mapping ``src`` onto ``dst``.

    Args:
        src: (K, 2) points, K >= 2.
        dst: (K, 2) target points.

    Returns:
        (2, 3) float64 affine matrix ``M`` with ``dst ~ M[:, :2] @ src + M[:, 2]``.
    """
    try:
        scale, rot, t = similarity_fit(src, dst)
    except ValueError:
        raise ValueError("landmarks are degenerate (all keypoints coincide); cannot align"
                         ) from None
    return np.concatenate([scale * rot, t[:, None]], axis=1)


def alignment_matrix(
    landmarks: np.ndarray, size: int, geometry: CropGeometry = DEFAULT_GEOMETRY
) -> np.ndarray:
    """(2, 3) float64 affine mapping image pixels to crop pixels for ``landmarks``."""
    if size < 8:
        raise ValueError(f"crop size must be >= 8 pixels, got {size}")
    return similarity_from_points(face_keypoints(landmarks), geometry.keypoints(size))


def crop_from_landmarks(
    image: np.ndarray,
    landmarks: np.ndarray,
    size: int = 224,
    geometry: CropGeometry = DEFAULT_GEOMETRY,
    border: str = "replicate",
) -> np.ndarray:
    """The aligned face crop.

    Args:
        image: (H, W) or (H, W, C) uint8 or float image (any channel order; kept as is).
        landmarks: (3 | 66 | 68 | 468 | 478, 2+) image pixels, see :func:`face_keypoints`.
        size: output side in pixels.
        geometry: canonical keypoint positions.
        border: ``"replicate"`` (edge pixels) or ``"constant"`` (black) outside the image.

    Returns:
        (size, size[, C]) array of the input dtype.
    """
    import cv2

    if border not in ("replicate", "constant"):
        raise ValueError(f"border must be 'replicate' or 'constant', got {border!r}")
    m = alignment_matrix(landmarks, size, geometry)
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    return cv2.warpAffine(
        np.ascontiguousarray(image), m, (size, size), flags=cv2.INTER_LINEAR, borderMode=mode
    )
