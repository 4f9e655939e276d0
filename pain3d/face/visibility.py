"""How visible the pain AUs are to a face tracker: landmark measures and their rank correlation.

The measures are defined on MediaPipe's face-mesh topology (468 points, or 478 with the
irises), which is also the topology of the rig's canonical face, so they apply alike to

* tracker landmarks of an image: (478, 2|3) pixels, x right, y down (MediaPipe FaceMesh);
* the first 468 vertices of a :class:`pain3d.face.Mesh` (metres, y up), seen frontally.

Every measure is taken in a face frame built from the landmarks themselves: the x axis runs
from the subject's right eye centre (mean of its corners 33, 133) to the left one (263, 362),
the "up" axis is perpendicular to it, pointing from the mouth toward the eyes. So the sign
conventions of pixel and head frames do not matter, and small head rolls cancel.

Measures (raw, in the units of the points; :func:`visibility_table` divides changes by the
neutral's inter-ocular distance, IOD = distance between the two eye centres):

* ``aperture``: mean distance of three upper/lower lid-margin pairs per eye
  (159-145, 158-153, 160-144 and 386-374, 385-380, 387-373); label ``5*AU43 + AU7``.
* ``brow_eye``: height of the brows (upper and lower brow contours, both sides) above the line
  of the eye corners; label AU4. Measured to the corners, not the upper lid, so that lid
  closure (AU7, AU43) does not enter it.
* ``nose_lip``: height of the nose tip (1) above the upper lip (0, 37, 267: the vermilion top);
  label ``max(AU9, AU10)``.
* ``cheek``: height of the infraorbital cheek (50, 101, 118, 117, 123, 205 and mirrors) below
  the line of the eye corners; its decrease is the cheek raise; label AU6.
* ``lower_lid``: height of the lower-lid margin's middle (144, 145, 153 and mirrors) above the
  line of the eye corners; its increase is the lower-lid raise; label AU6. FACS has AU6 push
  the infraorbital skin up against the eye, so that the lower lid rises and the eye narrows
  from below; the eye corners are fixed points of the eye, so the measure does not move with
  the head. AU7 and lid closure (AU43) raise the lower lid too, so read this measure (and the
  cheek) by its partial rho with AU7 and AU43 held out (:data:`PARTIAL_CONTROLS`).

One measure reads pixels instead of landmarks, because MediaPipe does not place its cheek
points from the cheek's pixels (``benchmarks/au_visibility.py --probe``):

* ``cheek_motion`` (:func:`cheek_motion`): the upward image motion of the infraorbital cheeks
  from the neutral image to the pain image (dense optical flow over the hulls of the cheek
  points, which the tracker places on the neutral image); label AU6, read by its partial rho
  with AU7, AU43, AU9 and AU10 held out (:data:`FLOW_CONTROLS`: lid closure and the upper-lip
  raisers move pixels there too).

Identity preservation uses :data:`pain3d.face.landmarks.IDENTITY_POINTS`: the face outline
from ear level around the jaw to the chin, which no pain AU moves (see there for what is left
out and why). The index tables are those of :mod:`pain3d.face.landmarks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pain3d.face.landmarks import (
    BROW_L,
    BROW_R,
    CHEEK_POINTS,
    EYE_CORNERS,
    IDENTITY_POINTS,
    LID_PAIRS,
    LOWER_LID_POINTS,
    MOUTH_CORNERS,
    NOSE_TIP_TRACKER,
    UPPER_LIP_TOP,
)
from pain3d.facs import AU_NAMES

BROW_POINTS = BROW_R + BROW_L

MEASURES: tuple[tuple[str, str, int], ...] = (
    ("aperture", "5*AU43+AU7", -1),
    ("brow_eye", "AU4", -1),
    ("nose_lip", "max(AU9,AU10)", -1),
    ("cheek_raise", "AU6", +1),
    ("lower_lid_raise", "AU6", +1),
)
"""(measure, label, expected sign of Spearman rho) in table order."""

PARTIAL_CONTROLS: dict[str, tuple[str, ...]] = {
    "cheek_raise": ("AU7", "AU43"),
    "lower_lid_raise": ("AU7", "AU43"),
}
"""AUs held out of a measure's partial rho: the plan draws AU6 together with AU7 and AU43
(all in PSPI), which move the lower lid too, so AU6 is credited only with what they leave."""

FLOW_CONTROLS = ("AU7", "AU43", "AU9", "AU10")
"""AUs held out of ``cheek_motion``'s partial rho."""


def _frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(origin, x axis, up axis, IOD) of one (N, >=2) point set, 2-D."""
    p = points[:, :2].astype(np.float64)
    eye_r = p[list(EYE_CORNERS[0])].mean(0)
    eye_l = p[list(EYE_CORNERS[1])].mean(0)
    origin = 0.5 * (eye_r + eye_l)
    x = eye_l - eye_r
    iod = float(np.linalg.norm(x))
    x = x / max(iod, 1e-12)
    up = np.array([-x[1], x[0]])
    if (origin - p[list(MOUTH_CORNERS)].mean(0)) @ up < 0:
        up = -up
    return origin, x, up, iod


def landmark_measures(points: np.ndarray) -> dict[str, float]:
    """Raw AU measures of one face (see the module docstring), in the points' units.

    Args:
        points: (N, 2) or (N, 3), N >= 468, MediaPipe face-mesh order; image pixels (y down)
            or head-frame coordinates (y up): only x and y are used.

    Returns:
        ``aperture``, ``brow_eye``, ``nose_lip``, ``cheek`` (height below the eye corners),
        ``lower_lid`` (height above them) and ``iod``.
    """
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[0] < 468 or p.shape[1] < 2:
        raise ValueError(f"landmarks must be (N >= 468, 2 or 3) in MediaPipe order, got {p.shape}")
    origin, _, up, iod = _frame(p)
    h = (p[:, :2] - origin) @ up  # height above the eye-corner line
    corners = np.concatenate([h[list(c)] for c in EYE_CORNERS])
    aperture = np.mean([np.linalg.norm(p[a, :2] - p[b, :2]) for a, b in LID_PAIRS])
    return {
        "aperture": float(aperture),
        "brow_eye": float(h[list(BROW_POINTS)].mean() - corners.mean()),
        "nose_lip": float(h[NOSE_TIP_TRACKER] - h[list(UPPER_LIP_TOP)].mean()),
        "cheek": float(corners.mean() - h[list(CHEEK_POINTS)].mean()),
        "lower_lid": float(h[list(LOWER_LID_POINTS)].mean() - corners.mean()),
        "iod": iod,
    }


def measure_labels(aus: np.ndarray) -> dict[str, np.ndarray]:
    """Label of each measure for AU vectors (..., 6) (order of :data:`AU_NAMES`)."""
    a = np.asarray(aus, np.float64)
    i = {n: k for k, n in enumerate(AU_NAMES)}
    return {
        "aperture": 5 * a[..., i["AU43"]] + a[..., i["AU7"]],
        "brow_eye": a[..., i["AU4"]],
        "nose_lip": np.maximum(a[..., i["AU9"]], a[..., i["AU10"]]),
        "cheek_raise": a[..., i["AU6"]],
        "lower_lid_raise": a[..., i["AU6"]],
    }


def measure_changes(neutral: np.ndarray, pain: np.ndarray) -> dict[str, float]:
    """Change of each measure from a neutral face to its pain face, in units of the neutral
    IOD (signed so that the FACS direction of the AU gives the sign of :data:`MEASURES`:
    apertures and distances shrink, the cheek rises); ``stable`` is the mean displacement of
    :data:`~pain3d.face.landmarks.IDENTITY_POINTS`, also in IOD (needs both point sets in one
    frame, e.g. two renders from one camera)."""
    mn, mp = landmark_measures(neutral), landmark_measures(pain)
    iod = mn["iod"]
    stable = list(IDENTITY_POINTS)
    shift = np.linalg.norm(np.asarray(pain, np.float64)[stable, :2]
                           - np.asarray(neutral, np.float64)[stable, :2], axis=1)
    return {
        "aperture": (mp["aperture"] - mn["aperture"]) / iod,
        "brow_eye": (mp["brow_eye"] - mn["brow_eye"]) / iod,
        "nose_lip": (mp["nose_lip"] - mn["nose_lip"]) / iod,
        "cheek_raise": (mn["cheek"] - mp["cheek"]) / iod,
        "lower_lid_raise": (mp["lower_lid"] - mn["lower_lid"]) / iod,
        "stable": float(shift.mean() / iod),
    }


@dataclass
class VisibilityRow:
    """One measure: Spearman rho with its label, and the median change at labels >= 3."""

    measure: str
    label: str
    rho: float
    n: int
    change_high_pct: float  # median change (% IOD) over pairs whose label is >= 3
    expected_sign: int
    partial_rho: float = float("nan")  # with PARTIAL_CONTROLS' ranks regressed out
    controls: tuple[str, ...] = ()


@dataclass
class VisibilityTable:
    """What a tracker sees of the labelled AUs over a set of neutral/pain pairs."""

    rows: list[VisibilityRow]
    pairs: int
    detected_pairs: int
    images: int
    detected_images: int
    stable_median_pct: float  # median over pairs of the outline shift, % IOD
    stable_p90_pct: float
    notes: list[str] = field(default_factory=list)

    @property
    def detection_rate(self) -> float:
        return self.detected_images / max(self.images, 1)

    def rho(self, measure: str) -> float:
        return next(r.rho for r in self.rows if r.measure == measure)

    def format(self) -> str:
        """The table as fixed-width text."""
        lines = [f"{'measure':<16} {'label':<14} {'rho':>7} {'n':>5} {'change@>=3':>11}  "
                 "partial rho"]
        for r in self.rows:
            part = (f"{r.partial_rho:+.2f} (held out: {', '.join(r.controls)})"
                    if r.controls else "")
            lines.append(f"{r.measure:<16} {r.label:<14} {r.rho:>+7.2f} {r.n:>5} "
                         f"{r.change_high_pct:>+10.2f}%  {part}")
        lines.append(f"detection: {self.detected_images}/{self.images} images "
                     f"({self.detection_rate:.1%}); pairs measured {self.detected_pairs}/"
                     f"{self.pairs}")
        lines.append(f"identity (outline shift, % IOD): median {self.stable_median_pct:.2f}, "
                     f"p90 {self.stable_p90_pct:.2f}")
        lines += self.notes
        return "\n".join(lines)


def partial_spearman(x: np.ndarray, y: np.ndarray, controls: np.ndarray) -> float:
    """Spearman rho of ``x`` and ``y`` (N,) with the ranks of ``controls`` (N, K) regressed
    out of both ranks (linear least squares with an intercept); nan where nothing is left."""
    from scipy.stats import rankdata

    z = np.c_[np.ones(len(x)), np.apply_along_axis(rankdata, 0, np.asarray(controls))]
    rx, ry = rankdata(x), rankdata(y)
    ex = rx - z @ np.linalg.lstsq(z, rx, rcond=None)[0]
    ey = ry - z @ np.linalg.lstsq(z, ry, rcond=None)[0]
    if np.std(ex) < 1e-12 or np.std(ey) < 1e-12:
        return float("nan")
    return float(np.corrcoef(ex, ey)[0, 1])


def visibility_table(
    neutral: Sequence[np.ndarray | None],
    pain: Sequence[np.ndarray | None],
    aus: np.ndarray,
) -> VisibilityTable:
    """Rank correlation of each AU label with the landmark change it should cause.

    Args:
        neutral: per pair, (N, 2|3) landmarks of the neutral image, or None (no face found).
        pain: per pair, landmarks of the pain image (same camera as its neutral), or None.
        aus: (P, 6) AU vectors of the pain images, FACS 0..5.

    Returns:
        A :class:`VisibilityTable`; pairs where either face is missing are left out of the
        correlations and counted in the detection numbers.
    """
    from scipy.stats import spearmanr

    aus = np.asarray(aus, np.float64)
    if not len(neutral) == len(pain) == len(aus):
        raise ValueError(f"neutral ({len(neutral)}), pain ({len(pain)}) and aus ({len(aus)}) "
                         "must have one entry per pair")
    ok = [n is not None and p is not None for n, p in zip(neutral, pain, strict=True)]
    changes = [measure_changes(n, p) for n, p, k in zip(neutral, pain, ok, strict=True) if k]
    labels = measure_labels(aus[np.asarray(ok, bool)]) if any(ok) else {}
    kept = aus[np.asarray(ok, bool)]
    rows = []
    for name, label, sign in MEASURES:
        y = np.array([c[name] for c in changes])
        x = labels.get(name, np.zeros(0))
        varied = len(y) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0
        rho = float(spearmanr(x, y)[0]) if varied else float("nan")
        high = y[x >= 3] if len(y) else y
        controls = PARTIAL_CONTROLS.get(name, ())
        cols = [AU_NAMES.index(c) for c in controls]
        partial = partial_spearman(x, y, kept[:, cols]) if varied and cols else float("nan")
        rows.append(VisibilityRow(name, label, rho, len(y),
                                  float(np.median(high) * 100) if len(high) else float("nan"),
                                  sign, partial, controls))
    stable = np.array([c["stable"] for c in changes]) * 100
    n_img = 2 * len(aus)
    found = sum(n is not None for n in neutral) + sum(p is not None for p in pain)
    return VisibilityTable(
        rows=rows, pairs=len(aus), detected_pairs=int(sum(ok)), images=n_img,
        detected_images=int(found),
        stable_median_pct=float(np.median(stable)) if len(stable) else float("nan"),
        stable_p90_pct=float(np.percentile(stable, 90)) if len(stable) else float("nan"),
    )


def cheek_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the hulls of each side's :data:`CHEEK_POINTS` at ``landmarks`` (pixels)."""
    import cv2

    p = np.round(np.asarray(landmarks, np.float64)[:, :2]).astype(np.int32)
    mask = np.zeros(shape, np.uint8)
    half = len(CHEEK_POINTS) // 2
    for side in (CHEEK_POINTS[:half], CHEEK_POINTS[half:]):
        cv2.fillConvexPoly(mask, cv2.convexHull(p[list(side)]), 1)
    return mask > 0


def cheek_motion(neutral: np.ndarray, pain: np.ndarray, landmarks: np.ndarray) -> float:
    """Upward motion of the cheeks' pixels from ``neutral`` to ``pain``, in neutral IODs.

    Args:
        neutral, pain: (H, W, 3) uint8 RGB images of one face from one camera.
        landmarks: (N >= 468, 2|3) tracker landmarks of ``neutral`` (pixels, MediaPipe order).

    Returns:
        The mean over :func:`cheek_mask` of Farneback's dense optical flow, projected on the
        face's up axis (:func:`landmark_measures`' frame) and divided by the IOD; positive
        when the cheeks rise. Each image's grey levels are standardised on the cheeks first
        (mean 128, standard deviation 40): on skin's faint texture the flow reads a quarter
        of a known motion without it (``--probe``), and an exposure change between the two
        images does not read as motion.
    """
    import cv2

    if neutral.shape != pain.shape or neutral.ndim != 3:
        raise ValueError(f"neutral {neutral.shape} and pain {pain.shape} must be one (H, W, 3) "
                         "shape")
    p = np.asarray(landmarks, np.float64)
    _, _, up, iod = _frame(p)
    mask = cheek_mask(p, neutral.shape[:2])
    if not mask.any():
        return float("nan")
    grey = []
    for img in (neutral, pain):
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        z = (g - g[mask].mean()) / (g[mask].std() + 1e-6)
        grey.append(np.clip(128.0 + 40.0 * z, 0, 255).astype(np.uint8))
    # Pyramid of 3 levels (scale 0.5), 15 px windows: cheek motion is smooth and a few pixels.
    flow = cv2.calcOpticalFlowFarneback(grey[0], grey[1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    # Image y runs down, and ``up`` is in image coordinates: project the flow on it.
    return float((flow[mask] @ up).mean() / iod)


def motion_row(neutral_images: Sequence[np.ndarray], pain_images: Sequence[np.ndarray],
               neutral_landmarks: Sequence[np.ndarray | None], aus: np.ndarray
               ) -> VisibilityRow:
    """The ``cheek_motion`` row of a :class:`VisibilityTable` (pairs whose neutral face the
    tracker missed are left out)."""
    from scipy.stats import spearmanr

    aus = np.asarray(aus, np.float64)
    keep = [k for k, lm in enumerate(neutral_landmarks) if lm is not None]
    y = np.array([cheek_motion(neutral_images[k], pain_images[k], neutral_landmarks[k])
                  for k in keep])
    x = aus[keep, AU_NAMES.index("AU6")] if keep else np.zeros(0)
    ok = np.isfinite(y)
    x, y, kept = x[ok], y[ok], aus[keep][ok]
    varied = len(y) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0
    rho = float(spearmanr(x, y)[0]) if varied else float("nan")
    cols = [AU_NAMES.index(c) for c in FLOW_CONTROLS]
    partial = partial_spearman(x, y, kept[:, cols]) if varied else float("nan")
    high = y[x >= 3]
    return VisibilityRow("cheek_motion", "AU6", rho, len(y),
                         float(np.median(high) * 100) if len(high) else float("nan"), +1,
                         partial, FLOW_CONTROLS)
