"""Fit the built-in head to one photo: shape parameters, camera pose, and a landmark residual.

MediaPipe's 478 face-mesh landmarks share the built-in head's topology: the first 468
vertices of the fine head are the canonical face's vertices (see :mod:`pain3d.face.head`).
The fit has three steps, all pure numpy:

1. **Shape and weak-perspective pose.** Alternate a similarity fit (scale, rotation,
   translation) of the fine face vertices onto the landmarks (x, y in pixels and MediaPipe's
   relative depth z, down-weighted) with a ridge regression of the 28 shape parameters
   (:data:`pain3d.face.identity.SHAPE_PARAMS`), whose prior is the demographic mean when the
   demographics are known (else 0) with the sampling spread ``PARAM_SD``. The whole head
   (skull, ears, neck) follows the parameters, so it is complete even where the photo shows
   nothing.
2. **Pinhole camera.** The weak-perspective pose becomes a perspective camera of a chosen
   field of view placed at the distance that gives the fitted scale (:class:`PinholePose`).
3. **Residual.** The face vertices are moved, within the image plane of the camera, so that
   their perspective projections land on the landmarks (visible vertices exactly, hidden
   ones by a smooth membrane); the displacement is solved on the coarse head through the
   subdivision operator, and carried to the eye sockets, mouth interior and first skull
   rings, which follow the face outline.

The result is a coarse head (cm) for :func:`pain3d.face.builtin.mesh_from_coarse`, which
builds the neutral mesh with its AU rig exactly as for procedural identities.

Frames: landmarks are (478, 3) float pixels as :class:`pain3d.face.tracker.FaceTracker`
returns them (x right, y down, z in pixel scale, negative toward the camera). Head frame as in
:mod:`pain3d.face.mesh` (metres; the fit works in the coarse head's centimetres internally).
Camera frame: x right, y up, the camera looks down its -z axis (OpenGL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from pain3d.demographics import Demographics
from pain3d.face import landmarks as cf
from pain3d.face.landmarks import IRIS_L, IRIS_R

# The head template and shape space (pain3d.face.head, .identity) are imported where used,
# so that reading FitConfig (part of the generate config) does not build them.

FIXED_PARAMS: tuple[str, ...] = ("head_scale", "hair_volume", "ear_size", "neck_width")
"""Shape parameters a photo does not constrain; they stay at their prior mean. Absolute size
(``head_scale``) trades off against the camera distance, and leaving it free lets the fit
inflate every other parameter by shrinking the head."""

N_FACE = cf.N_CANONICAL
"""Landmarks (and fine-head vertices) of the canonical face; 468..477 are iris points."""


@dataclass(frozen=True)
class PinholePose:
    """A pinhole camera that sees the head as the photo does.

    Attributes:
        rotation: (3, 3) float64 head frame -> camera frame.
        centre: (3,) float64 camera centre in the head frame, metres.
        focal_px: focal length in pixels (square pixels, principal point at the centre).
        size: (width, height) of the image in pixels.
    """

    rotation: np.ndarray
    centre: np.ndarray
    focal_px: float
    size: tuple[int, int]

    @property
    def fov_deg(self) -> float:
        """Vertical field of view, degrees."""
        return math.degrees(2.0 * math.atan(0.5 * self.size[1] / self.focal_px))

    @property
    def distance(self) -> float:
        """Distance from the camera centre to the head-frame origin along the view axis, m."""
        return float(-(self.rotation @ -self.centre)[2])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) head-frame metres -> (N, 3) camera-frame metres."""
        return (np.asarray(points, np.float64) - self.centre) @ self.rotation.T

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) head-frame metres -> (N, 3): x, y pixels (top-left origin), depth metres.

        Same convention as :meth:`pain3d.render.camera.Camera.project`: pixel ``i`` covers
        ``[i, i + 1)``, as MediaPipe's normalised coordinates times the size.
        """
        pc = self.to_camera(points)
        depth = -pc[:, 2]
        w, h = self.size
        x = 0.5 * w + self.focal_px * pc[:, 0] / depth
        y = 0.5 * h - self.focal_px * pc[:, 1] / depth
        return np.c_[x, y, depth]

    def view_angles(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) degrees of this camera as :class:`pain3d.render.Camera` orbits.

        Yaw > 0: the camera sits toward the subject's left; pitch > 0: above the eyes.
        """
        back = self.rotation[2]  # the camera's +z axis (toward the viewer) in the head frame
        yaw = math.degrees(math.atan2(back[0], back[2]))
        pitch = math.degrees(math.asin(float(np.clip(back[1], -1.0, 1.0))))
        right = np.cross(-back, [0.0, 1.0, 0.0])
        right /= max(np.linalg.norm(right), 1e-12)
        up = np.cross(right, -back)
        roll = math.degrees(math.atan2(-(self.rotation[0] @ up), self.rotation[0] @ right))
        return yaw, pitch, roll


@dataclass(frozen=True)
class FitConfig:
    """How the head is fitted to the landmarks.

    Attributes:
        fov_deg: vertical field of view assumed for the photo, degrees (unknown for most
            photos; 20 is the dataset's own cameras, a portrait lens).
        depth_weight: weight of MediaPipe's relative depth against x, y (it is a network's
            guess, less reliable than the image positions).
        landmark_sd: landmark noise as a fraction of the inter-ocular distance; with
            ``PARAM_SD`` it sets how far the shape may leave its prior.
        iterations: rounds of pose / shape alternation.
        smoothness: membrane weight of the residual (relative to a visible landmark's 1).
        residual: move the face onto the landmarks (False leaves the parametric shape).
    """

    fov_deg: float = 20.0
    depth_weight: float = 0.3
    landmark_sd: float = 0.02
    iterations: int = 10
    smoothness: float = 1e-3
    residual: bool = True

    def __post_init__(self) -> None:
        if not 2.0 <= self.fov_deg <= 90.0:
            raise ValueError(f"FitConfig.fov_deg = {self.fov_deg} is outside 2..90 degrees")
        if not 0.0 <= self.depth_weight <= 1.0:
            raise ValueError(f"FitConfig.depth_weight = {self.depth_weight} is outside 0..1")
        if not 0.0 < self.landmark_sd < 1.0:
            raise ValueError(f"FitConfig.landmark_sd = {self.landmark_sd} is outside (0, 1)")
        if self.iterations < 1:
            raise ValueError(f"FitConfig.iterations = {self.iterations} must be >= 1")
        if self.smoothness <= 0:
            raise ValueError(f"FitConfig.smoothness = {self.smoothness} must be > 0")


@dataclass(frozen=True, eq=False)
class HeadFit:
    """A head fitted to one photo.

    Attributes:
        params: (N_SHAPE,) float64 shape parameters (:data:`pain3d.face.SHAPE_PARAMS`).
        coarse: (Vc, 3) float64 coarse head, cm, head frame (shape + residual), for
            :func:`pain3d.face.builtin.mesh_from_coarse`.
        pose: the photo's camera.
        shape_rms: RMS landmark error of the parametric fit alone, fraction of the IOD.
        rms_px: RMS image error of the visible face landmarks after the residual, pixels.
        iod_px: inter-ocular distance (iris centres) in the photo, pixels.
        visibility: (468,) float64 in [0, 1], how squarely each face landmark faces the
            camera (0 = turned away; such landmarks do not pull the residual).
    """

    params: np.ndarray
    coarse: np.ndarray
    pose: PinholePose
    shape_rms: float
    rms_px: float
    iod_px: float
    visibility: np.ndarray = field(repr=False)


@lru_cache(maxsize=1)
def _face_operators() -> tuple[np.ndarray, np.ndarray, object, np.ndarray]:
    """The fine face as a function of the coarse head.

    Returns:
        base: (468, 3) fine face of the template, cm.
        jac: (N_SHAPE, 468, 3) change of the fine face per unit shape parameter, cm.
        expand: (Vc, 468) sparse: a displacement of the coarse face vertices, carried to the
            vertices that follow them (sockets, mouth interior, first skull rings).
        rows: (468, 468) dense fine-face rows of ``subdivide @ expand``.
    """
    import scipy.sparse as sp

    from pain3d.face.head import head_template
    from pain3d.face.identity import shape_fields

    tpl = head_template()
    rows = tpl.subdivide[:N_FACE]
    base = np.asarray(rows @ tpl.coarse)
    jac = np.stack([np.asarray(rows @ f) for f in shape_fields()])
    n = len(tpl.coarse)
    r, c, w = list(range(N_FACE)), list(range(N_FACE)), [1.0] * N_FACE
    fol = np.nonzero((tpl.follow >= 0) & (tpl.follow < N_FACE))[0]
    r += fol.tolist()
    c += tpl.follow[fol].tolist()
    w += tpl.follow_w[fol].tolist()
    sock = np.nonzero(tpl.socket_of >= 0)[0]
    r += sock.tolist()
    c += tpl.socket_of[sock].tolist()
    w += [1.0] * len(sock)
    expand = sp.csr_matrix((w, (r, c)), shape=(n, N_FACE))
    return base, jac, expand, np.asarray((rows @ expand).todense())


@lru_cache(maxsize=1)
def _face_laplacian() -> np.ndarray:
    """(468, 468) uniform graph Laplacian of the canonical face triangles."""
    tri = cf.canonical_triangles()
    adj = np.zeros((N_FACE, N_FACE))
    for a, b in ((0, 1), (1, 2), (2, 0)):
        adj[tri[:, a], tri[:, b]] = 1.0
        adj[tri[:, b], tri[:, a]] = 1.0
    deg = adj.sum(1)
    return np.eye(N_FACE) - adj / np.maximum(deg, 1.0)[:, None]


def _to_gl(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Landmark pixels (x right, y down, z away) -> centred camera-style pixels (y up, z out)."""
    w, h = size
    p = np.asarray(landmarks, np.float64)
    return np.c_[p[:, 0] - 0.5 * w, 0.5 * h - p[:, 1], -p[:, 2]]


def _skew(v: np.ndarray) -> np.ndarray:
    """(N, 3, 3) cross-product matrices of (N, 3) vectors."""
    z = np.zeros(len(v))
    return np.stack([np.stack([z, -v[:, 2], v[:, 1]], -1),
                     np.stack([v[:, 2], z, -v[:, 0]], -1),
                     np.stack([-v[:, 1], v[:, 0], z], -1)], 1)


def _rotvec(w: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of the axis-angle vector ``w`` (Rodrigues)."""
    theta = float(np.linalg.norm(w))
    if theta < 1e-12:
        return np.eye(3)
    k = _skew((w / theta)[None])[0]
    return np.eye(3) + math.sin(theta) * k + (1 - math.cos(theta)) * k @ k


def _fit_shape(target: np.ndarray, mu: np.ndarray, iod_px: float, cfg: FitConfig):
    """Gauss-Newton on pose (scale, rotation, translation) and shape at once.

    Minimises sum over landmarks of |W (s R F(p) + t - target)|^2 / sigma^2 plus the prior
    |p - mu|^2 / PARAM_SD^2, with W down-weighting depth. Returns params, scale, rotation,
    translation and the RMS image error as a fraction of the IOD.
    """
    from pain3d.face.identity import N_SHAPE, PARAM_CLIP, PARAM_SD, SHAPE_PARAMS

    base, jac, _, _ = _face_operators()
    p = mu.copy()
    s, rot, t = cf.similarity_fit(base + np.tensordot(p, jac, axes=1), target)
    sqrt_w = np.tile(np.sqrt([1.0, 1.0, cfg.depth_weight]), N_FACE)
    sigma = cfg.landmark_sd * iod_px
    prior = np.zeros((N_SHAPE + 7, N_SHAPE + 7))
    prior[7:, 7:] = np.eye(N_SHAPE) / PARAM_SD**2
    free = np.array([name not in FIXED_PARAMS for name in SHAPE_PARAMS])
    for _ in range(cfg.iterations):
        shape = base + np.tensordot(p, jac, axes=1)
        rotated = shape @ rot.T
        resid = (s * rotated + t - target).reshape(-1)
        # Columns: d scale, d rotation (3, left-multiplied), d translation (3), d params.
        cols = [rotated.reshape(-1, 1), (-s * _skew(rotated)).reshape(-1, 3),
                np.tile(np.eye(3), (N_FACE, 1)), (s * jac @ rot.T).reshape(N_SHAPE, -1).T]
        a = np.concatenate(cols, 1) * sqrt_w[:, None] / sigma
        e = resid * sqrt_w / sigma
        g = a.T @ e
        g[7:] += (p - mu) / PARAM_SD**2
        step = np.linalg.solve(a.T @ a + prior + 1e-9 * np.eye(len(g)), -g)
        s = s * math.exp(step[0] / s)
        rot = _rotvec(step[1:4]) @ rot
        t = t + step[4:7]
        p = np.where(free, np.clip(p + step[7:], -PARAM_CLIP, PARAM_CLIP), mu)
    shape = base + np.tensordot(p, jac, axes=1)
    err = (s * shape @ rot.T + t - target)[:, :2]
    rms = float(np.sqrt((err**2).sum(1).mean()) / iod_px)
    return p, s, rot, t, rms


def _pose(scale_px_per_cm: float, rot: np.ndarray, t: np.ndarray, size: tuple[int, int],
          fov_deg: float) -> PinholePose:
    """The perspective camera whose scale at the head origin matches the similarity fit."""
    from pain3d.face.head import CM

    focal = 0.5 * size[1] / math.tan(math.radians(fov_deg) / 2.0)
    px_per_m = scale_px_per_cm / CM
    d = focal / px_per_m
    origin_cam = np.array([t[0] / px_per_m, t[1] / px_per_m, -d])
    return PinholePose(rotation=rot, centre=-rot.T @ origin_cam, focal_px=float(focal),
                       size=(int(size[0]), int(size[1])))


def _visibility(fine_face_m: np.ndarray, pose: PinholePose) -> np.ndarray:
    """(468,) in [0, 1]: how squarely each face vertex faces the camera."""
    tri = cf.canonical_triangles()
    v = fine_face_m
    fn = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, tri[:, k], fn)
    vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)
    to_cam = pose.centre - v
    to_cam /= np.linalg.norm(to_cam, axis=1, keepdims=True)
    c = np.clip(((vn * to_cam).sum(1) - 0.05) / 0.25, 0.0, 1.0)
    return c * c * (3 - 2 * c)


def _residual(coarse: np.ndarray, landmarks: np.ndarray, pose: PinholePose, cfg: FitConfig
              ) -> tuple[np.ndarray, np.ndarray]:
    """Coarse displacement (Vc, 3) cm moving the visible face onto the landmarks, and the
    visibility weights."""
    from pain3d.face.head import CM, head_template

    _, _, expand, rows = _face_operators()
    tpl = head_template()
    fine = np.asarray(tpl.subdivide[:N_FACE] @ coarse) * CM
    vis = _visibility(fine, pose)
    pc = pose.to_camera(fine)
    depth = -pc[:, 2]
    w, h = pose.size
    want = np.c_[(landmarks[:N_FACE, 0] - 0.5 * w) * depth / pose.focal_px,
                 (0.5 * h - landmarks[:N_FACE, 1]) * depth / pose.focal_px]
    delta_cam = np.c_[want - pc[:, :2], np.zeros(N_FACE)]
    delta = delta_cam @ pose.rotation / CM  # back to the head frame, cm
    lap = _face_laplacian()
    wv = vis + 1e-4
    lhs = rows.T @ (wv[:, None] * rows) + cfg.smoothness * lap.T @ lap
    x = np.linalg.solve(lhs + 1e-9 * np.eye(N_FACE), rows.T @ (wv[:, None] * delta))
    return np.asarray(expand @ x), vis


def fit_head(landmarks: np.ndarray, size: tuple[int, int],
             demographics: Demographics | None = None, cfg: FitConfig | None = None) -> HeadFit:
    """Fit the built-in head to a photo's face-mesh landmarks.

    Args:
        landmarks: (478, 3) float pixels of the photo (see the module docstring); (468, 3)
            works too (the inter-ocular distance then comes from the eye corners).
        size: (width, height) of the photo in pixels.
        demographics: when known, the shape prior is the demographic mean.
        cfg: fit settings.

    Returns:
        A :class:`HeadFit`.

    Raises:
        ValueError: for landmarks of the wrong shape or with non-finite values.
    """
    from pain3d.face.head import CM, head_template
    from pain3d.face.identity import N_SHAPE, coarse_shape, demographic_mean

    cfg = cfg or FitConfig()
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 2 or lm.shape[0] not in (N_FACE, N_FACE + 10) or lm.shape[1] != 3:
        raise ValueError(f"landmarks must be (478, 3) or (468, 3) pixels, got {lm.shape}")
    if not np.isfinite(lm).all():
        raise ValueError("landmarks contain NaN or infinite values")
    if len(lm) > N_FACE:
        iod = float(np.linalg.norm(lm[IRIS_R, :2] - lm[IRIS_L, :2]))
    else:
        (ro, ri), (lo, li) = cf.EYE_CORNERS
        iod = 0.5 * float(np.linalg.norm(lm[ro, :2] - lm[lo, :2])
                          + np.linalg.norm(lm[ri, :2] - lm[li, :2]))
    if iod < 2.0:
        raise ValueError(f"landmarks are degenerate (inter-ocular distance {iod:.2f} px)")
    mu = np.zeros(N_SHAPE) if demographics is None else demographic_mean(demographics)
    target = _to_gl(lm[:N_FACE], size)
    params, s, rot, t, shape_rms = _fit_shape(target, mu, iod, cfg)
    pose = _pose(s, rot, t, size, cfg.fov_deg)
    coarse = coarse_shape(params)
    vis = np.ones(N_FACE)
    if cfg.residual:
        delta, vis = _residual(coarse, lm, pose, cfg)
        coarse = coarse + delta
    fine = np.asarray(head_template().subdivide[:N_FACE] @ coarse) * CM
    err = pose.project(fine)[:, :2] - lm[:N_FACE, :2]
    seen = vis > 0.5
    rms_px = float(np.sqrt((err[seen] ** 2).sum(1).mean())) if seen.any() else float("nan")
    return HeadFit(params=params, coarse=coarse, pose=pose, shape_rms=shape_rms, rms_px=rms_px,
                   iod_px=iod, visibility=vis)
