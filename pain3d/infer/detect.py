"""Face detection, 478-point landmarks, face selection and quality flags (mediapipe 0.10.14).

Detection runs mediapipe's BlazeFace detector on the whole frame; the chosen face is then
cropped (a square around the box, enlarged) and mediapipe's face mesh returns 478 landmarks
(468 mesh points + 10 iris points) which are mapped back to frame pixels. Running the mesh on
a crop of the chosen face rather than on the frame means the landmarks always belong to the
face the selection policy picked, whatever mediapipe's own ordering.

Coordinates: images are (H, W, 3) uint8 RGB; boxes are (x0, y0, x1, y1) float pixels, x to
the right, y down; landmarks are (478, 3) float32 with x, y in frame pixels and z in the
same pixel scale, negative toward the camera (mediapipe's convention).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)

N_LANDMARKS = 478

# Landmark indices in mediapipe's face-mesh topology (subject's right = image left).
RIGHT_EYE = (33, 133, 159, 145, 160, 144, 158, 153)
LEFT_EYE = (263, 362, 386, 374, 387, 373, 385, 380)
MOUTH_CORNERS = (61, 291)
NOSE_TIP = 1
CHIN = 152
FOREHEAD = 10
# Points roughly on one plane of a frontal face, used for the head-pose estimate.
_POSE_POINTS = (33, 133, 263, 362, 61, 291, 10, 152, 234, 454)

# Quality flags written per frame (CSV column ``flags``, joined with "|").
FLAG_NO_FACE = "no_face"
FLAG_NO_LANDMARKS = "no_landmarks"
FLAG_SMALL_FACE = "small_face"
FLAG_BLURRY = "blurry"
FLAG_EXTREME_POSE = "extreme_pose"
FLAG_MULTIPLE_FACES = "multiple_faces"
FLAGS = (FLAG_NO_FACE, FLAG_NO_LANDMARKS, FLAG_SMALL_FACE, FLAG_BLURRY, FLAG_EXTREME_POSE,
         FLAG_MULTIPLE_FACES)
# Flags after which no prediction is made (the row is left empty).
BLOCKING_FLAGS = frozenset({FLAG_NO_FACE, FLAG_NO_LANDMARKS})


@dataclass
class DetectConfig:
    """Face detection and quality thresholds.

    Attributes:
        model: mediapipe detector: "short" (faces within ~2 m, webcam) or "full" (to ~5 m).
        fallback: when ``model`` finds no face, try the other detector before giving up.
        min_confidence: detector score threshold, 0..1.
        select: several faces: "largest" box, or "track" (the face overlapping the previous
            frame's face most, IoU >= ``track_iou``; the largest when none does).
        track_iou: minimum IoU for a face to continue a track.
        mesh_margin: the landmark crop is a square of this many times the box's longer side.
        min_face_px: faces whose box is shorter than this (pixels) are flagged ``small_face``.
        blur_threshold: variance of the Laplacian of the grey face crop (resized to 128 px)
            under which a face is flagged ``blurry``.
        max_yaw_deg: |yaw| over this is flagged ``extreme_pose``.
        max_pitch_deg: |pitch| over this is flagged ``extreme_pose``.
    """

    model: Literal["short", "full"] = "full"
    fallback: bool = True
    min_confidence: float = 0.5
    select: Literal["largest", "track"] = "largest"
    track_iou: float = 0.3
    mesh_margin: float = 1.6
    min_face_px: float = 48.0
    blur_threshold: float = 15.0
    max_yaw_deg: float = 45.0
    max_pitch_deg: float = 35.0

    def __post_init__(self) -> None:
        if self.model not in ("short", "full"):
            raise ValueError(f"detect.model must be 'short' or 'full', got {self.model!r}")
        if self.select not in ("largest", "track"):
            raise ValueError(f"detect.select must be 'largest' or 'track', got {self.select!r}")
        if not 0.0 < self.min_confidence < 1.0:
            raise ValueError(f"detect.min_confidence must be in (0, 1), got {self.min_confidence}")
        if not 0.0 <= self.track_iou <= 1.0:
            raise ValueError(f"detect.track_iou must be in [0, 1], got {self.track_iou}")
        if self.mesh_margin < 1.0:
            raise ValueError(f"detect.mesh_margin must be >= 1, got {self.mesh_margin}")


@dataclass
class Face:
    """One detected face.

    Attributes:
        box: (4,) float32 x0, y0, x1, y1 in frame pixels.
        score: detector confidence 0..1.
        landmarks: (478, 3) float32 frame pixels (see module docstring), or None when the
            face mesh found nothing in the crop.
        yaw_deg, pitch_deg: head pose from the landmarks (0 = frontal; NaN without landmarks).
        flags: quality flags (see ``FLAGS``).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray | None = None
    yaw_deg: float = float("nan")
    pitch_deg: float = float("nan")
    flags: list[str] = field(default_factory=list)

    @property
    def size(self) -> float:
        """Shorter side of the box, pixels."""
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def area(self) -> float:
        return float(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def select_face(
    faces: Sequence[Face],
    policy: Literal["largest", "track"] = "largest",
    previous: np.ndarray | None = None,
    track_iou: float = 0.3,
) -> int | None:
    """Index of the face to analyse, or None when ``faces`` is empty.

    "largest" takes the largest box. "track" takes the face with the highest IoU with
    ``previous`` (the last frame's chosen box) when it reaches ``track_iou``, otherwise it
    falls back to the largest (a new track starts).
    """
    if not faces:
        return None
    largest = int(np.argmax([f.area for f in faces]))
    if policy == "largest" or previous is None:
        return largest
    overlaps = [iou(f.box, previous) for f in faces]
    best = int(np.argmax(overlaps))
    return best if overlaps[best] >= track_iou else largest


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees from 478 landmarks; 0, 0 for a frontal face.

    The normal of the plane fitted (least squares) through eye corners, mouth corners,
    forehead, chin and cheeks is compared with the camera axis. Sign: yaw > 0 when the face
    turns toward image right, pitch > 0 when it tilts up. Accuracy is a few degrees, enough
    to flag extreme poses.
    """
    pts = landmarks[list(_POSE_POINTS)].astype(np.float64)
    pts = pts - pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts, full_matrices=False)
    n = vt[-1]
    if n[2] > 0:  # point toward the camera (mediapipe z is negative toward the camera)
        n = -n
    yaw = np.degrees(np.arctan2(n[0], -n[2]))
    pitch = np.degrees(np.arctan2(-n[1], -n[2]))
    return float(yaw), float(pitch)


def sharpness(image: np.ndarray, box: np.ndarray) -> float:
    """Variance of the Laplacian of the grey face crop resized to 128x128 (higher = sharper)."""
    import cv2

    h, w = image.shape[:2]
    x0, y0 = int(max(0, np.floor(box[0]))), int(max(0, np.floor(box[1])))
    x1, y1 = int(min(w, np.ceil(box[2]))), int(min(h, np.ceil(box[3])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (128, 128), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class FaceDetector:
    """mediapipe detector + face mesh with the selection policy and quality flags.

    Not thread-safe (mediapipe graphs keep state); make one per worker. Use as a context
    manager or call ``close()`` to free the graphs.
    """

    def __init__(self, cfg: DetectConfig | None = None) -> None:
        import mediapipe as mp

        self.cfg = cfg or DetectConfig()
        primary = 1 if self.cfg.model == "full" else 0
        self._dets = [mp.solutions.face_detection.FaceDetection(
            model_selection=sel, min_detection_confidence=self.cfg.min_confidence)
            for sel in ((primary, 1 - primary) if self.cfg.fallback else (primary,))]
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=0.3,
        )
        self._previous: np.ndarray | None = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for d in self._dets:
            d.close()
        self._mesh.close()

    def reset_track(self) -> None:
        """Forget the tracked face (call between unrelated videos)."""
        self._previous = None

    def detect_all(self, image: np.ndarray) -> list[Face]:
        """Every face the detector finds in an (H, W, 3) uint8 RGB frame (boxes only)."""
        image = _check_image(image)
        h, w = image.shape[:2]
        detections = []
        for det in self._dets:
            detections = det.process(image).detections or []
            if detections:
                break
        faces = []
        for d in detections:
            b = d.location_data.relative_bounding_box
            box = np.array([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w,
                            (b.ymin + b.height) * h], dtype=np.float32)
            box[[0, 2]] = np.clip(box[[0, 2]], 0, w)
            box[[1, 3]] = np.clip(box[[1, 3]], 0, h)
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
                faces.append(Face(box=box, score=float(d.score[0])))
        return faces

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """(478, 3) float32 landmarks (frame pixels) of the face in ``box``, or None."""
        import cv2

        image = _check_image(image)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = self.cfg.mesh_margin * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = cx - side / 2, cy - side / 2
        # Affine crop (pads with black outside the frame) to a fixed 256 px square.
        out = 256
        s = out / side
        m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float64)
        crop = cv2.warpAffine(image, m, (out, out), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        res = self._mesh.process(crop)
        if not res.multi_face_landmarks:
            return None
        lm = res.multi_face_landmarks[0].landmark
        pts = np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float64) * out
        pts[:, 0] = pts[:, 0] / s + x0
        pts[:, 1] = pts[:, 1] / s + y0
        pts[:, 2] = pts[:, 2] / s
        if pts.shape[0] != N_LANDMARKS or not np.all(np.isfinite(pts)):
            return None
        return pts.astype(np.float32)

    def __call__(self, image: np.ndarray, *, track: bool | None = None) -> tuple[Face | None,
                                                                                 list[str]]:
        """The selected face of a frame with landmarks, pose and flags.

        Args:
            image: (H, W, 3) uint8 RGB.
            track: use the tracking policy (default: ``cfg.select == "track"``); the chosen
                box is remembered for the next call.

        Returns:
            (face, flags): face is None when no face was found (flags = ["no_face"]).
        """
        image = _check_image(image)
        faces = self.detect_all(image)
        policy = "track" if (self.cfg.select == "track" if track is None else track) else "largest"
        idx = select_face(faces, policy, self._previous, self.cfg.track_iou)
        if idx is None:
            return None, [FLAG_NO_FACE]
        face = faces[idx]
        self._previous = face.box.copy()
        flags: list[str] = []
        if len(faces) > 1:
            flags.append(FLAG_MULTIPLE_FACES)
        if face.size < self.cfg.min_face_px:
            flags.append(FLAG_SMALL_FACE)
        if sharpness(image, face.box) < self.cfg.blur_threshold:
            flags.append(FLAG_BLURRY)
        face.landmarks = self.landmarks(image, face.box)
        if face.landmarks is None:
            flags.append(FLAG_NO_LANDMARKS)
        else:
            face.yaw_deg, face.pitch_deg = head_pose(face.landmarks)
            if (abs(face.yaw_deg) > self.cfg.max_yaw_deg
                    or abs(face.pitch_deg) > self.cfg.max_pitch_deg):
                flags.append(FLAG_EXTREME_POSE)
        face.flags = flags
        return face, flags


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image, got dtype {image.dtype}; "
                         "convert with (img * 255).clip(0, 255).astype(np.uint8)")
    return np.ascontiguousarray(image)
