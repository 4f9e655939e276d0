"""MediaPipe on images, in one place: face boxes, 478-point face meshes and the person's
silhouette (mediapipe 0.10.14).

:class:`FaceTracker` owns pain3d's MediaPipe graphs (BlazeFace detector, face mesh, selfie
segmentation), made on first use. :meth:`~FaceTracker.landmarks` runs the mesh on a square
crop around a detected box, so the landmarks belong to that face whatever MediaPipe's
ordering (inference, photo fitting; :meth:`~FaceTracker.faces` does it for every face);
:meth:`~FaceTracker.frame_landmarks` runs it on the whole image (one face expected: UNBC
frames, render checks); :meth:`~FaceTracker.follow` finds a face's landmarks in the next
video frame from its landmarks in this one, without a detector (MediaPipe's own video
tracking, made explicit); :meth:`~FaceTracker.person` tells the person (head, hair, body)
from the background.

Coordinates: images are (H, W, 3) uint8 RGB; boxes (x0, y0, x1, y1) float32 pixels, x right,
y down; landmarks (N, 3): x, y image pixels, z in the same scale, negative toward the camera
(MediaPipe's convention), indexed as in :mod:`pain3d.face.landmarks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from pain3d.face.landmarks import N_LANDMARKS, POSE_POINTS

CROP_MESH_CONFIDENCE = 0.3
"""Face-presence threshold of the mesh on a detected face's crop: the detector has already
found the face, so a low threshold only rejects crops that hold none."""
_CROP_PX = 256  # side of the square crop the mesh runs on


@dataclass
class Face:
    """One face of an image.

    Attributes:
        box: (4,) float32 x0, y0, x1, y1 in image pixels.
        score: detector confidence 0..1 (NaN for a face followed into a video frame).
        landmarks: (478, 3) float32 image pixels (see the module docstring), or None when
            the face mesh found nothing in the face's crop.
        yaw_deg, pitch_deg: head pose from the landmarks (:func:`head_pose`; NaN without).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray | None = None
    yaw_deg: float = float("nan")
    pitch_deg: float = float("nan")

    @property
    def size(self) -> float:
        """Shorter side of the box, pixels."""
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def area(self) -> float:
        return float(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0))


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees from 478 landmarks; 0, 0 for a frontal face.

    The normal of the plane fitted (least squares) through eye corners, mouth corners,
    forehead, chin and cheeks (:data:`~pain3d.face.landmarks.POSE_POINTS`) is compared with
    the camera axis. Sign: yaw > 0 when the face turns toward image right, pitch > 0 when it
    tilts up. Accuracy is a few degrees, enough to flag extreme poses.
    """
    pts = landmarks[list(POSE_POINTS)].astype(np.float64)
    pts = pts - pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts, full_matrices=False)
    n = vt[-1]
    if n[2] > 0:  # point toward the camera (mediapipe z is negative toward the camera)
        n = -n
    yaw = np.degrees(np.arctan2(n[0], -n[2]))
    pitch = np.degrees(np.arctan2(-n[1], -n[2]))
    return float(yaw), float(pitch)


def check_image(image: np.ndarray) -> np.ndarray:
    """The image as a contiguous (H, W, 3) uint8 RGB array.

    Raises:
        ValueError: for another shape or dtype, saying how to convert.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB image, got dtype {image.dtype}; "
                         "convert with (img * 255).clip(0, 255).astype(np.uint8)")
    return np.ascontiguousarray(image)


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


_FOLLOW_SCALE = 1.5  # MediaPipe's video tracking: the next ROI is 1.5x the landmarks' extent
_EYE_OUTER_R, _EYE_OUTER_L = 33, 263  # the landmarks MediaPipe aligns the ROI's rotation with


def _landmark_graph(refine: bool):
    """The one place the ROI face-mesh graph is made: MediaPipe's ``FaceLandmarkCpu`` (the
    landmark model of its face mesh, with the face-presence gate, without a detector) on a
    given rotated rectangle of the image."""
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase

    cfg = text_format.Parse("""
        input_stream: "IMAGE:image"
        input_stream: "ROI:roi"
        input_side_packet: "WITH_ATTENTION:with_attention"
        output_stream: "LANDMARKS:face_landmarks"
        node {
          calculator: "FaceLandmarkCpu"
          input_stream: "IMAGE:image"
          input_stream: "ROI:roi"
          input_side_packet: "WITH_ATTENTION:with_attention"
          output_stream: "LANDMARKS:face_landmarks"
        }""", calculator_pb2.CalculatorGraphConfig())
    return SolutionBase(graph_config=cfg, side_inputs={"with_attention": refine},
                        outputs=["face_landmarks"])


def largest_face(faces: list[Face]) -> Face | None:
    """The face with the largest box (the first of equals), or None for no face: the one
    face choice of photos, reference images and a video's first frame."""
    return max(faces, key=lambda f: f.area) if faces else None


def follow_roi(landmarks: np.ndarray, width: int, height: int) -> tuple[float, ...]:
    """The rotated square in which the next frame's mesh looks for a face: MediaPipe's
    ``FaceLandmarkLandmarksToRoi`` (the landmarks' bounding box, 1.5x its longer side,
    rotated so that the outer eye corners are level).

    Args:
        landmarks: (468 | 478, 2+) image pixels of this frame's face.
        width, height: image size in pixels.

    Returns:
        (x_center, y_center, width, height, rotation): MediaPipe ``NormalizedRect`` fields
        (fractions of the image, radians).
    """
    xs, ys = landmarks[:, 0].astype(np.float64), landmarks[:, 1].astype(np.float64)
    dx = landmarks[_EYE_OUTER_L, 0] - landmarks[_EYE_OUTER_R, 0]
    dy = landmarks[_EYE_OUTER_L, 1] - landmarks[_EYE_OUTER_R, 1]
    side = _FOLLOW_SCALE * max(xs.max() - xs.min(), ys.max() - ys.min())
    return ((xs.min() + xs.max()) / 2 / width, (ys.min() + ys.max()) / 2 / height,
            side / width, side / height, float(np.arctan2(dy, dx)))


def _face_mesh(refine: bool, min_confidence: float):
    """The one place a MediaPipe face mesh graph is made (static images, one face)."""
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=refine,
        min_detection_confidence=min_confidence)


class FaceTracker:
    """MediaPipe's face detector, face mesh and person segmentation, graphs made on first use.

    Not thread-safe (MediaPipe graphs keep state); make one per worker. Use as a context
    manager or call :meth:`close` to free the graphs.

    Args:
        model: detector: "short" (faces within ~2 m, webcam) or "full" (to ~5 m).
        fallback: when ``model`` finds no face, try the other detector.
        min_confidence: face-presence threshold 0..1 of the detector and of
            :meth:`frame_landmarks`.
        mesh_margin: the crop of :meth:`landmarks` is a square of this many times the box's
            longer side.
        refine: 478 landmarks (with the irises) instead of 468.
    """

    def __init__(self, model: Literal["short", "full"] = "full", fallback: bool = True,
                 min_confidence: float = 0.5, mesh_margin: float = 1.6,
                 refine: bool = True) -> None:
        self.model, self.fallback, self.min_confidence = model, fallback, min_confidence
        self.mesh_margin, self.refine = mesh_margin, refine
        self._detectors: list | None = None
        self._meshes: dict[float, object] = {}
        self._follower: object | None = None
        self._segmenter: object | None = None

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for graph in [*(self._detectors or []), *self._meshes.values(), self._follower,
                      self._segmenter]:
            if graph is not None:
                graph.close()
        self._detectors, self._meshes, self._follower, self._segmenter = None, {}, None, None

    def _mesh(self, min_confidence: float):
        if min_confidence not in self._meshes:
            self._meshes[min_confidence] = _face_mesh(self.refine, min_confidence)
        return self._meshes[min_confidence]

    def detect(self, image: np.ndarray) -> list[Face]:
        """Every face the detector finds in an (H, W, 3) uint8 RGB image (boxes and scores;
        no landmarks)."""
        if self._detectors is None:
            import mediapipe as mp

            primary = 1 if self.model == "full" else 0
            self._detectors = [mp.solutions.face_detection.FaceDetection(
                model_selection=sel, min_detection_confidence=self.min_confidence)
                for sel in ((primary, 1 - primary) if self.fallback else (primary,))]
        image = check_image(image)
        h, w = image.shape[:2]
        detections = []
        for det in self._detectors:
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
        """(478, 3) float32 landmarks (image pixels) of the face in ``box``, or None.

        The mesh runs on a square crop around the box (``mesh_margin`` times its longer side,
        black outside the image) resized to 256 px. Needs ``refine=True``.
        """
        import cv2

        image = check_image(image)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = self.mesh_margin * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = cx - side / 2, cy - side / 2
        s = _CROP_PX / side
        m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float64)
        crop = cv2.warpAffine(image, m, (_CROP_PX, _CROP_PX), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        res = self._mesh(CROP_MESH_CONFIDENCE).process(crop)
        if not res.multi_face_landmarks:
            return None
        lm = res.multi_face_landmarks[0].landmark
        pts = np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float64) * _CROP_PX
        pts[:, 0] = pts[:, 0] / s + x0
        pts[:, 1] = pts[:, 1] / s + y0
        pts[:, 2] = pts[:, 2] / s
        if pts.shape[0] != N_LANDMARKS or not np.all(np.isfinite(pts)):
            return None
        return pts.astype(np.float32)

    def follow(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
        """(478, 3) float32 landmarks (image pixels) of the face that had ``landmarks`` in
        the previous video frame, or None when the mesh finds no face there any more.

        No detector runs: the mesh looks in :func:`follow_roi` of the previous landmarks, as
        MediaPipe's face mesh tracks faces in video mode. About half the cost of
        :meth:`detect` + :meth:`landmarks`; the landmarks differ from theirs by a fraction of
        a pixel (a different crop of the same face). Needs ``refine=True``.
        """
        from mediapipe.framework.formats import rect_pb2

        image = check_image(image)
        h, w = image.shape[:2]
        if self._follower is None:
            self._follower = _landmark_graph(self.refine)
        cx, cy, rw, rh, rot = follow_roi(np.asarray(landmarks), w, h)
        roi = rect_pb2.NormalizedRect(x_center=cx, y_center=cy, width=rw, height=rh,
                                      rotation=rot)
        res = self._follower.process({"image": image, "roi": roi})
        if res.face_landmarks is None:
            return None
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in res.face_landmarks.landmark],
                       dtype=np.float64)
        if pts.shape[0] != N_LANDMARKS or not np.all(np.isfinite(pts)):
            return None
        return pts.astype(np.float32)

    def faces(self, image: np.ndarray) -> list[Face]:
        """Every face of an image with its landmarks and head pose, in detector order (pick
        the largest by :attr:`Face.area`; several faces in a photo of one person usually mean
        a poster or a mirror)."""
        faces = self.detect(image)
        for face in faces:
            face.landmarks = self.landmarks(image, face.box)
            if face.landmarks is not None:
                face.yaw_deg, face.pitch_deg = head_pose(face.landmarks)
        return faces

    def person(self, image: np.ndarray) -> np.ndarray:
        """(H, W) float32 in [0, 1]: how likely each pixel of an (H, W, 3) uint8 RGB image
        shows a person (face, hair, neck, clothes) rather than the background: MediaPipe's
        selfie segmentation, general model (256 x 256 input; its mask is resized to the
        image)."""
        if self._segmenter is None:
            import mediapipe as mp

            self._segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(
                model_selection=0)
        image = check_image(image)
        return np.asarray(self._segmenter.process(image).segmentation_mask, np.float32)

    def frame_landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """(468 or 478, 3) float64 landmarks (image pixels) of the one face the mesh finds in
        the whole image (``min_confidence``), or None when it finds none."""
        image = check_image(image)
        res = self._mesh(self.min_confidence).process(image)
        if not res.multi_face_landmarks:
            return None
        h, w = image.shape[:2]
        lm = res.multi_face_landmarks[0].landmark
        return np.array([[p.x * w, p.y * h, p.z * w] for p in lm], dtype=np.float64)
