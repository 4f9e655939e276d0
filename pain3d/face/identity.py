"""Identity space of the built-in head: interpretable, smooth shape parameters.

Each parameter is a smooth displacement field over the coarse head (Gaussian bumps and
local scalings around anatomical landmarks), so a shape is linear in its parameters:
``coarse = template + sum_k p_k * field_k`` (cm), then subdivided. One unit is about one
population standard deviation of the feature it names. Sampling draws ``p ~ N(mu, 0.8)``
with the mean ``mu`` shifted by sex, age band and ancestry (:data:`DEMOGRAPHIC_SHIFTS`), clipped
to +-3; demographics come from :func:`pain3d.demographics.balanced_demographics`, so any
``n`` fills the sex x age x ancestry grid evenly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from pain3d.demographics import Demographics, balanced_demographics
from pain3d.face.head import EAR_CENTRE_CM, NECK_AXIS_Z_CM, HeadTemplate, head_template
from pain3d.face.mesh import region_id
from pain3d.seeds import derive_seed

SHAPE_PARAMS: tuple[str, ...] = (
    "head_scale",  # overall size (+-4 %)
    "face_width",
    "face_height",
    "head_depth",  # front-back length of the skull
    "skull_height",
    "jaw_width",
    "jaw_angle",  # gonial prominence
    "chin_length",
    "chin_projection",
    "cheekbones",
    "brow_ridge",
    "forehead_slope",
    "nose_length",
    "nose_width",
    "nose_bridge",
    "nose_tip",
    "eye_size",
    "eye_spacing",
    "eye_height",
    "lid_fold",  # hooded / epicanthic upper lid
    "lip_fullness",
    "lip_width",
    "mouth_height",  # nose-to-mouth distance
    "ear_size",
    "sagging",  # age-related descent of cheeks and jowls
    "fullness",  # soft-tissue volume of cheeks and under the chin
    "neck_width",
    "hair_volume",  # scalp offset for the hair layer
)
"""Names of the shape parameters, in the order of :attr:`Identity.params`."""

N_SHAPE = len(SHAPE_PARAMS)
SHAPE_SEED_TAG = 0x1D
"""Seed-stream key of identity shapes: ``derive_seed(master, index, SHAPE_SEED_TAG)``."""
PARAM_SD = 0.8
PARAM_CLIP = 3.0

# Mean shifts (in parameter units) per demographic value. They encode broad average trends
# only; the within-group spread (PARAM_SD) is as large as the shifts.
DEMOGRAPHIC_SHIFTS: dict[str, dict[str, float]] = {
    "female": {"head_scale": -0.8, "jaw_width": -0.9, "jaw_angle": -0.9, "brow_ridge": -1.1,
               "forehead_slope": -0.6, "nose_length": -0.3, "neck_width": -1.0,
               "lip_fullness": 0.3, "eye_size": 0.3, "chin_length": -0.3, "hair_volume": 0.8},
    "male": {"head_scale": 0.8, "jaw_width": 0.9, "jaw_angle": 0.9, "brow_ridge": 1.1,
             "forehead_slope": 0.6, "nose_length": 0.3, "neck_width": 1.0, "lip_fullness": -0.3,
             "eye_size": -0.3, "chin_length": 0.3, "hair_volume": -0.5},
    "20-35": {"sagging": -0.8, "lid_fold": -0.3, "fullness": 0.2, "lip_fullness": 0.3},
    "36-60": {"sagging": 0.3, "lid_fold": 0.2, "ear_size": 0.3},
    "61-85": {"sagging": 1.5, "lid_fold": 0.9, "lip_fullness": -0.7, "ear_size": 0.9,
              "nose_length": 0.5, "fullness": -0.3, "hair_volume": -0.8},
    "african": {"nose_width": 1.2, "nose_bridge": -0.6, "lip_fullness": 1.2, "nose_tip": -0.3,
                "chin_projection": 0.3, "head_depth": 0.3},
    "east_asian": {"nose_bridge": -1.0, "lid_fold": 1.1, "face_width": 0.5, "cheekbones": 0.6,
                   "brow_ridge": -0.6, "head_depth": -0.6, "nose_width": 0.3},
    "south_asian": {"nose_length": 0.3, "lip_fullness": 0.3, "eye_size": 0.3,
                    "face_width": -0.2},
    "european": {"nose_bridge": 0.8, "nose_width": -0.6, "brow_ridge": 0.4,
                 "lip_fullness": -0.5, "nose_tip": 0.3, "face_width": -0.2},
    "latino": {"cheekbones": 0.4, "nose_width": 0.3, "face_width": 0.2},
    "middle_eastern": {"nose_bridge": 0.9, "nose_length": 0.6, "brow_ridge": 0.5,
                       "nose_tip": -0.2},
}  # fmt: skip


@dataclass(frozen=True)
class Identity:
    """One synthetic person.

    Attributes:
        index: position in the sampled list (the dataset's identity id).
        seed: the integer that, with ``demographics``, made ``params``.
        demographics: sex, age band and ancestry.
        params: (N_SHAPE,) shape parameters in the order of :data:`SHAPE_PARAMS`, as a tuple.
        face_model: ``"builtin"`` or ``"flame"``.
    """

    index: int
    seed: int
    demographics: Demographics
    params: tuple[float, ...] = field(default_factory=lambda: (0.0,) * N_SHAPE)
    face_model: str = "builtin"

    def __post_init__(self) -> None:
        if self.face_model not in ("builtin", "flame"):
            raise ValueError(f"face_model = {self.face_model!r} is not 'builtin' or 'flame'")
        if self.face_model == "builtin" and len(self.params) != N_SHAPE:
            raise ValueError(f"builtin identity needs {N_SHAPE} params, got {len(self.params)}")

    @property
    def name(self) -> str:
        """Dataset name, e.g. ``flame_sample_0007`` (kept for compatibility with 3DPain)."""
        return f"flame_sample_{self.index:04d}"

    @property
    def shape(self) -> np.ndarray:
        """(P,) float64 shape parameters."""
        return np.asarray(self.params, dtype=np.float64)


def demographic_mean(demo: Demographics) -> np.ndarray:
    """(N_SHAPE,) mean shape parameters of a demographic cell."""
    mu = np.zeros(N_SHAPE)
    for key in (demo.sex, demo.age_band, demo.ancestry):
        for name, shift in DEMOGRAPHIC_SHIFTS[key].items():
            mu[SHAPE_PARAMS.index(name)] += shift
    return mu


def sample_shape(demo: Demographics, seed: int) -> np.ndarray:
    """(N_SHAPE,) shape parameters for one identity."""
    rng = np.random.default_rng(seed)
    p = demographic_mean(demo) + PARAM_SD * rng.standard_normal(N_SHAPE)
    return np.clip(p, -PARAM_CLIP, PARAM_CLIP)


def shape_seed(seed: int, index: int) -> int:
    """The seed of identity ``index``'s shape under master ``seed`` (independent of how many
    identities are sampled)."""
    return derive_seed(seed, index, SHAPE_SEED_TAG)


def make_identity(index: int, seed: int, demographics: Demographics,
                  face_model: str = "builtin", flame=None) -> Identity:
    """The identity whose shape parameters ``seed`` draws around ``demographics``' mean.

    Args:
        index: the identity's id.
        seed: its shape seed (:func:`shape_seed`).
        demographics: its sex, age band and ancestry.
        face_model: ``"builtin"`` or ``"flame"`` (then ``flame`` is a loaded
            :class:`pain3d.face.flame.FlameModel`, whose shape space the seed draws in).
    """
    if face_model == "flame":
        if flame is None:
            raise ValueError("face_model='flame' needs flame=load_flame(folder)")
        params = flame.sample_shape(demographics, seed)
    else:
        params = sample_shape(demographics, seed)
    return Identity(index, seed, demographics, tuple(float(x) for x in params), face_model)


def sample_identities(
    n: int, seed: int = 0, face_model: str = "builtin", flame=None
) -> list[Identity]:
    """``n`` identities, demographically balanced, deterministic in ``seed``.

    Identity ``i``'s shape depends only on ``seed``, ``i`` and its demographic cell; the
    cells come from :func:`pain3d.demographics.balanced_demographics` (counts per cell
    differ by at most one for any ``n``). Dataset generation plans the same seeds and
    cells (:func:`pain3d.synth.plan.build_plan`).

    Args:
        n: how many.
        seed: master seed.
        face_model: ``"builtin"`` or ``"flame"`` (then ``flame`` is a loaded
            :class:`pain3d.face.flame.FlameModel`).
    """
    if n < 0:
        raise ValueError(f"n = {n} must be >= 0")
    return [make_identity(i, shape_seed(seed, i), demo, face_model, flame)
            for i, demo in enumerate(balanced_demographics(n, seed))]


def _gauss(p: np.ndarray, centre, sigma, bilateral: bool = False) -> np.ndarray:
    c = np.asarray(centre, dtype=np.float64)
    sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (3,))
    if bilateral:
        c = np.where(p[:, :1] < 0, c * np.array([-1, 1, 1]), c) if c[0] > 0 else c
    return np.exp(-0.5 * (((p - c) / sig) ** 2).sum(1))


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class _Coarse:
    """The coarse head's vertices (cm) and the masks the shape fields are made of."""

    p: np.ndarray  # (Vc, 3)
    face: np.ndarray  # (Vc,) 1.0 on the face, its sockets and the mouth interior
    ear: np.ndarray  # (Vc,) bool
    neck: np.ndarray  # (Vc,) bool
    scalp: np.ndarray  # (Vc,) 1.0 on the scalp

    @property
    def not_neck(self) -> np.ndarray:
        return (~self.neck).astype(float)

    @property
    def sx(self) -> np.ndarray:
        """Side of each vertex: +1 on the subject's left (and the midline), -1 right."""
        return np.sign(self.p[:, 0]) + (self.p[:, 0] == 0)


def _vec(w: np.ndarray, dx: float = 0.0, dy: float = 0.0, dz: float = 0.0) -> np.ndarray:
    return w[:, None] * np.array([dx, dy, dz])


@lru_cache(maxsize=1)
def shape_fields() -> np.ndarray:
    """(N_SHAPE, Vc, 3) float64 displacement per unit parameter on the coarse head, cm."""
    tpl: HeadTemplate = head_template()
    c = _Coarse(p=tpl.coarse, face=(tpl.part <= 2).astype(float), ear=tpl.part == 4,
                neck=tpl.part == 5,
                scalp=(tpl.coarse_regions == region_id("scalp")).astype(float))
    f = {**_skull_and_jaw_fields(c), **_nose_and_eye_fields(c), **_mouth_and_soft_tissue_fields(c)}
    missing = [k for k in SHAPE_PARAMS if k not in f]
    if missing:
        raise RuntimeError(f"shape fields missing for {missing}")
    return np.stack([f[k] for k in SHAPE_PARAMS])


def _skull_and_jaw_fields(c: _Coarse) -> dict[str, np.ndarray]:
    """Size and proportions of the head, jaw, chin, cheekbones, brow ridge, forehead."""
    p, not_neck, sx = c.p, c.not_neck, c.sx
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    f: dict[str, np.ndarray] = {}
    f["head_scale"] = 0.04 * p * np.where(c.neck, 0.5, 1.0)[:, None]
    f["face_width"] = _vec(0.05 * x * not_neck, dx=1)
    f["face_height"] = _vec(0.05 * y * np.where(y < 0, 1.0, 0.5) * not_neck, dy=1)
    f["head_depth"] = _vec(0.06 * np.minimum(z + 3.0, 0) * not_neck, dz=1)
    f["skull_height"] = _vec(0.08 * np.maximum(y - 4.0, 0) * not_neck, dy=1)
    jaw = _smooth((-y - 4.5) / 5.0) * _smooth(np.abs(x) / 5.0) * not_neck
    f["jaw_width"] = _vec(jaw * sx * 0.45, dx=1)
    f["jaw_angle"] = _gauss(p, (6.0, -9.0, -3.5), 2.0, True)[:, None] * np.stack(
        [0.45 * sx, np.full_like(x, -0.25), np.zeros_like(x)], -1
    )
    chin = _gauss(p, (0, -12.0, 0.5), (2.6, 1.8, 2.5))
    f["chin_length"] = _vec(chin, dy=-0.45)
    f["chin_projection"] = _vec(chin, dz=0.45)
    cheek = _gauss(p, (5.0, -1.8, -0.2), (1.7, 1.5, 2.0), True)
    f["cheekbones"] = cheek[:, None] * np.stack([0.35 * sx, 0.08 + 0 * x, 0.25 + 0 * x], -1)
    brow = _gauss(p, (2.8, 2.0, 1.0), (2.0, 0.8, 1.5), True) + _gauss(
        p, (0, 1.6, 1.8), (1.0, 0.9, 1.0)
    )
    f["brow_ridge"] = _vec(np.minimum(brow, 1.0) * c.face, dz=0.3)
    f["forehead_slope"] = _vec(
        -0.07 * np.maximum(y - 2.0, 0) * _smooth((z + 4) / 4) * not_neck, dz=1
    )
    return f


def _nose_and_eye_fields(c: _Coarse) -> dict[str, np.ndarray]:
    """Nose length, width, bridge and tip; eye size, spacing, height; the lid fold."""
    p, face, sx = c.p, c.face, c.sx
    x = p[:, 0]
    f: dict[str, np.ndarray] = {}
    f["nose_length"] = _vec(_gauss(p, (0, -3.6, 3.5), (1.3, 1.3, 1.5)), dy=-0.35, dz=0.05)
    f["nose_width"] = _gauss(p, (1.8, -3.5, 1.5), (0.9, 0.9, 1.2), True)[:, None] * np.stack(
        [0.3 * sx, 0 * x, 0 * x], -1
    )
    f["nose_bridge"] = _vec(_gauss(p, (0, -0.6, 2.5), (0.9, 1.5, 1.0)) * face, dz=0.35)
    f["nose_tip"] = _vec(_gauss(p, (0, -3.2, 4.2), (0.8, 0.8, 0.8)), dy=0.08, dz=0.3)
    eyes_c = np.array([2.9, 0.0, 0.0])
    ge = _gauss(p, eyes_c, (1.4, 1.1, 1.6), True) * face
    rel = p - np.where(x[:, None] < 0, eyes_c * [-1, 1, 1], eyes_c)
    f["eye_size"] = 0.09 * ge[:, None] * rel * np.array([1, 1, 0.3])
    ge2 = _gauss(p, eyes_c, (1.8, 1.6, 2.0), True) * face
    f["eye_spacing"] = _vec(ge2 * sx, dx=0.22)
    f["eye_height"] = _vec(_gauss(p, (2.9, 0.6, 0.0), (2.3, 1.8, 2.0), True) * face, dy=0.25)
    lid = _gauss(p, (3.0, 0.95, 0.6), (1.1, 0.45, 1.0), True) * face
    f["lid_fold"] = _vec(lid, dy=-0.08, dz=0.07)
    return f


def _mouth_and_soft_tissue_fields(c: _Coarse) -> dict[str, np.ndarray]:
    """Lips and mouth, ears, age sagging, fullness, the neck and the hair volume."""
    p, face, sx = c.p, c.face, c.sx
    x, y = p[:, 0], p[:, 1]
    f: dict[str, np.ndarray] = {}
    lips = _gauss(p, (0, -6.9, 1.5), (2.0, 0.9, 1.5)) * face
    f["lip_fullness"] = lips[:, None] * np.stack(
        [0 * x, 0.08 * np.tanh((y + 6.9) / 0.4), 0.15 + 0 * x], -1
    )
    mouth = _gauss(p, (0, -7.0, 1.5), (2.2, 1.2, 2.0)) * face
    f["lip_width"] = _vec(mouth * x * 0.08, dx=1)
    f["mouth_height"] = _vec(_smooth((-y - 5.0) / 1.5) * _smooth((7.0 - np.abs(x)) / 3.0) * face,
                             dy=-0.22)
    rel_e = p - np.where(x[:, None] < 0, EAR_CENTRE_CM * [-1, 1, 1], EAR_CENTRE_CM)
    f["ear_size"] = 0.1 * rel_e * c.ear[:, None]
    sag = _gauss(p, (4.3, -8.0, 0.0), (1.8, 2.0, 2.5), True) + 0.5 * _gauss(
        p, (2.8, -1.5, 1.5), (1.0, 0.6, 1.0), True
    )
    f["sagging"] = _vec(sag * face, dy=-0.3, dz=-0.03)
    full = _gauss(p, (4.5, -5.0, 0.0), (2.0, 2.0, 2.5), True)
    f["fullness"] = full[:, None] * np.stack([0.3 * sx, 0 * x, 0.15 + 0 * x], -1) + _vec(
        _gauss(p, (0, -11.5, -2.0), (3.0, 1.2, 2.0)), dy=-0.3
    )
    neck_rel = p - np.array([0, 0, NECK_AXIS_Z_CM])
    neck_rel[:, 1] = 0
    f["neck_width"] = 0.07 * neck_rel * c.neck[:, None]
    radial = p - np.array([0.0, 1.0, -7.5])
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    f["hair_volume"] = 0.12 * c.scalp[:, None] * radial
    return f


def coarse_shape(params: np.ndarray) -> np.ndarray:
    """(Vc, 3) coarse head vertices, cm, for shape parameters (N_SHAPE,)."""
    tpl = head_template()
    return tpl.coarse + np.tensordot(np.asarray(params, np.float64), shape_fields(), axes=1)
