"""The face to analyse in a frame: selection policy and quality flags.

:class:`FaceDetector` finds every face with MediaPipe's detector, picks one (the largest, or
the one tracked from the previous frame), and runs the face mesh on that face's crop only,
so the 478 landmarks always belong to the face the policy picked. Coordinates are those of
:mod:`pain3d.face.tracker`.

In a video (``video=True``, with ``DetectConfig.follow``) the face found in one frame is
followed into the next by its landmarks (:meth:`~pain3d.face.tracker.FaceTracker.follow`):
the detector runs again only when the mesh loses the face, and every ``redetect_every``
frames (which refreshes the selection and the ``multiple_faces`` flag). Frames where the
detector runs give exactly what they give without following; followed frames differ by the
sub-pixel shift of their landmarks (``tests/infer/test_infer_follow.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pain3d.face.tracker import (
    Face,
    FaceTracker,
    check_image,
    head_pose,
    largest_face,
    sharpness,
)

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
        follow: video frames follow the face by its landmarks instead of detecting it in
            every frame (see the module docstring): about half the face-finding cost.
        redetect_every: while following, run the detector every this many frames anyway
            (0: only when the face is lost).
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
    follow: bool = True
    redetect_every: int = 30

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
        if self.redetect_every < 0:
            raise ValueError(f"detect.redetect_every must be >= 0, got {self.redetect_every}")


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
    best = largest_face(list(faces))
    largest = next(i for i, f in enumerate(faces) if f is best)
    if policy == "largest" or previous is None:
        return largest
    overlaps = [iou(f.box, previous) for f in faces]
    best = int(np.argmax(overlaps))
    return best if overlaps[best] >= track_iou else largest


class FaceDetector(FaceTracker):
    """:class:`~pain3d.face.tracker.FaceTracker` that picks the face of each frame to analyse
    (:meth:`__call__`), with landmarks, pose and quality flags."""

    def __init__(self, cfg: DetectConfig | None = None) -> None:
        self.cfg = cfg or DetectConfig()
        super().__init__(model=self.cfg.model, fallback=self.cfg.fallback,
                         min_confidence=self.cfg.min_confidence, mesh_margin=self.cfg.mesh_margin)
        self.reset_track()

    def reset_track(self) -> None:
        """Forget the tracked face (call between unrelated videos)."""
        self._previous: np.ndarray | None = None
        self._followed: _Followed | None = None

    def __call__(self, image: np.ndarray, *, track: bool | None = None,
                 video: bool = False) -> tuple[Face | None, list[str]]:
        """The selected face of a frame with landmarks, pose and flags.

        Args:
            image: (H, W, 3) uint8 RGB.
            track: use the tracking policy (default: ``cfg.select == "track"``); the chosen
                box is remembered for the next call.
            video: the frame follows the previous call's frame in a video: with
                ``cfg.follow`` the face may be followed by its landmarks (module docstring).

        Returns:
            (face, flags): face is None when no face was found (flags = ["no_face"]).
        """
        image = check_image(image)
        if video and self.cfg.follow and self._followed is not None:
            face = self._follow(image)
            if face is not None:
                return face, self._flags(image, face, self._followed.others)
        faces = self.detect(image)
        policy = "track" if (self.cfg.select == "track" if track is None else track) else "largest"
        idx = select_face(faces, policy, self._previous, self.cfg.track_iou)
        self._followed = None
        if idx is None:
            return None, [FLAG_NO_FACE]
        face = faces[idx]
        self._previous = face.box.copy()
        face.landmarks = self.landmarks(image, face.box)
        if face.landmarks is not None:
            face.yaw_deg, face.pitch_deg = head_pose(face.landmarks)
            self._followed = _Followed(face.landmarks, face.box, len(faces) > 1)
        return face, self._flags(image, face, len(faces) > 1)

    def _follow(self, image: np.ndarray) -> Face | None:
        """The followed face in this frame, or None when the detector must run."""
        f = self._followed
        f.frames += 1
        if self.cfg.redetect_every and f.frames >= self.cfg.redetect_every:
            return None
        lm = self.follow(image, f.landmarks)
        if lm is None:
            return None
        box = f.box_for(lm)
        h, w = image.shape[:2]
        box[[0, 2]] = np.clip(box[[0, 2]], 0, w)
        box[[1, 3]] = np.clip(box[[1, 3]], 0, h)
        f.landmarks = lm
        self._previous = box.copy()
        face = Face(box=box, score=float("nan"), landmarks=lm)
        face.yaw_deg, face.pitch_deg = head_pose(lm)
        return face

    def _flags(self, image: np.ndarray, face: Face, others: bool) -> list[str]:
        flags: list[str] = []
        if others:
            flags.append(FLAG_MULTIPLE_FACES)
        if face.size < self.cfg.min_face_px:
            flags.append(FLAG_SMALL_FACE)
        if sharpness(image, face.box) < self.cfg.blur_threshold:
            flags.append(FLAG_BLURRY)
        if face.landmarks is None:
            flags.append(FLAG_NO_LANDMARKS)
        elif (abs(face.yaw_deg) > self.cfg.max_yaw_deg
              or abs(face.pitch_deg) > self.cfg.max_pitch_deg):
            flags.append(FLAG_EXTREME_POSE)
        return flags


class _Followed:
    """The face a video follows: its last landmarks, and its detector box expressed in the
    frame of its landmarks' bounding box, so followed frames report a box like the
    detector's (the landmarks' extent differs from BlazeFace's box by a stable margin)."""

    def __init__(self, landmarks: np.ndarray, box: np.ndarray, others: bool) -> None:
        self.landmarks = landmarks
        self.others = others  # the detection also found other faces (multiple_faces)
        self.frames = 0  # frames followed since the detection
        x0, y0, x1, y1 = _extent(landmarks)
        size = np.array([x1 - x0, y1 - y0, x1 - x0, y1 - y0], dtype=np.float64)
        self.offset = (np.asarray(box, np.float64) - np.array([x0, y0, x1, y1])) / size

    def box_for(self, landmarks: np.ndarray) -> np.ndarray:
        """(4,) float32 box of the face with these landmarks."""
        x0, y0, x1, y1 = _extent(landmarks)
        size = np.array([x1 - x0, y1 - y0, x1 - x0, y1 - y0], dtype=np.float64)
        return (np.array([x0, y0, x1, y1]) + self.offset * size).astype(np.float32)


def _extent(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    xs, ys = landmarks[:, 0].astype(np.float64), landmarks[:, 1].astype(np.float64)
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())
