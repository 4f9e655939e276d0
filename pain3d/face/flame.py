"""FLAME backend: user-supplied FLAME model, shape sampling, AU rig by landmark transfer.

FLAME is licence-gated, so pain3d never downloads it. Point ``load_flame`` at the folder
holding the model pickle (``generic_model.pkl``, ``flame2023.pkl``, ``FLAME2020/...``; any
``*.pkl`` with the keys in :data:`FLAME_KEYS`). Old pickles store chumpy arrays; they load
without chumpy through a restricted unpickler that maps every ``chumpy.*`` class to a small
numpy shim (only chumpy and numpy/scipy array classes are allowed).

Frame: FLAME is in metres, y up, facing +z. The model is aligned once to the built-in head
(similarity fit of the canonical face's landmarks onto the FLAME surface, from
``mediapipe_landmark_embedding.npz`` when present in the folder, otherwise by iterative
closest points), so FLAME meshes come out in the same head frame (origin between the eyes).

AU rig: the built-in AU bases and lid-closure fields, known on the canonical face's 468
vertices, are carried to every FLAME vertex by normalised Gaussian weights over the
landmark correspondences (smooth, and fading to zero away from the face). FLAME's
shape space has no demographic axes; demographics only travel with the identity.
Region labels and UVs come from the nearest built-in head vertex (same UV layout).
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from pain3d.demographics import Demographics
from pain3d.face.landmarks import N_CANONICAL, PRONASALE, similarity_fit
from pain3d.face.mesh import Mesh

log = logging.getLogger(__name__)

FLAME_KEYS: tuple[str, ...] = (
    "v_template",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "weights",
    "kintree_table",
    "f",
)
"""Keys a FLAME model pickle must hold."""

MODEL_NAMES = ("generic_model.pkl", "flame2023.pkl", "flame2020.pkl", "female_model.pkl",
               "male_model.pkl")  # fmt: skip
EMBEDDING_NAME = "mediapipe_landmark_embedding.npz"
N_SHAPE_SAMPLED = 50
SHAPE_SD = 1.0
INTERP_SIGMA_M = 0.008


class FlameError(ValueError):
    """The FLAME folder or file is missing or malformed; the message lists what was expected."""


class _ChumpyShim:
    """Stand-in for any chumpy class: keeps the pickled state, exposes it as an array."""

    def __init__(self, *args, **kwargs) -> None:
        self._args = args

    def __setstate__(self, state) -> None:
        if isinstance(state, dict):
            self.__dict__.update(state)
        elif isinstance(state, tuple) and state and isinstance(state[-1], dict):
            self.__dict__.update(state[-1])
        else:
            self.__dict__["x"] = state

    def to_array(self) -> np.ndarray:
        for key in ("x", "a", "_x"):
            if key in self.__dict__:
                return np.asarray(_plain(self.__dict__[key]))
        if self._args:
            return np.asarray(_plain(self._args[0]))
        raise FlameError(
            f"a pickled chumpy object has no array state (keys {sorted(self.__dict__)})"
        )


_ALLOWED = {
    "numpy": None,
    "numpy.core.multiarray": None,
    "numpy._core.multiarray": None,
    "numpy.core.numeric": None,
    "numpy._core.numeric": None,
    "scipy.sparse.csc": None,
    "scipy.sparse.csr": None,
    "scipy.sparse._csc": None,
    "scipy.sparse._csr": None,
    "scipy.sparse.coo": None,
    "scipy.sparse._coo": None,
    "_codecs": None,
    "builtins": {"object", "dict", "list", "tuple", "set", "frozenset", "slice", "complex"},
    "__builtin__": {"object", "dict", "list", "tuple", "set", "frozenset", "slice", "complex"},
    "copy_reg": {"_reconstructor"},
    "copyreg": {"_reconstructor"},
}


class _FlameUnpickler(pickle.Unpickler):
    """Maps chumpy classes to :class:`_ChumpyShim`; refuses anything outside array types."""

    def find_class(self, module: str, name: str):
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyShim
        allowed = _ALLOWED.get(module, False)
        if allowed is False or (allowed is not None and name not in allowed):
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a FLAME pickle")
        return super().find_class(module, name)


def _plain(obj):
    """Chumpy shims -> arrays, recursively through containers."""
    if isinstance(obj, _ChumpyShim):
        return obj.to_array()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    return obj


def read_flame_pickle(path: str | Path) -> dict:
    """Read a FLAME ``.pkl`` into plain numpy / scipy values (no chumpy needed).

    Raises:
        FlameError: unreadable file or missing keys (the message lists :data:`FLAME_KEYS`).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = _FlameUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as exc:
        raise FlameError(f"{path} is not a readable FLAME pickle ({exc}); expected a dict with "
                         f"keys {list(FLAME_KEYS)}") from exc  # fmt: skip
    if not isinstance(data, dict):
        raise FlameError(f"{path} holds a {type(data).__name__}; expected a dict with keys "
                         f"{list(FLAME_KEYS)}")  # fmt: skip
    data = _plain(data)
    missing = [k for k in FLAME_KEYS if k not in data]
    if missing:
        raise FlameError(f"{path} lacks {missing}; a FLAME model has keys {list(FLAME_KEYS)} "
                         f"(found {sorted(data)})")  # fmt: skip
    return data


def find_flame_model(folder: str | Path) -> Path:
    """The model pickle in ``folder`` (or ``folder`` itself if it is a ``.pkl``)."""
    folder = Path(folder)
    expect = (f"a FLAME folder with one of {list(MODEL_NAMES)} (or any *.pkl holding "
              f"{list(FLAME_KEYS)}), optionally {EMBEDDING_NAME}")  # fmt: skip
    if folder.is_file() and folder.suffix == ".pkl":
        return folder
    if not folder.is_dir():
        raise FlameError(f"{folder} does not exist; expected {expect}")
    for name in MODEL_NAMES:
        for cand in (folder / name, *folder.glob(f"*/{name}")):
            if cand.is_file():
                return cand
    pkls = sorted(folder.rglob("*.pkl"))
    if not pkls:
        raise FlameError(f"{folder} has no .pkl file; expected {expect}")
    return pkls[0]


@dataclass(frozen=True, eq=False)
class FlameModel:
    """A loaded FLAME model, aligned to the head frame.

    Attributes:
        path: the pickle.
        v_template: (N, 3) float64 template, metres, FLAME frame.
        shapedirs: (N, 3, S) float64 shape (and expression) directions.
        faces: (F, 3) int32.
        n_shape: identity components sampled (the first ``n_shape`` of ``shapedirs``).
        landmarks: (L,) canonical-face indices with a FLAME correspondence.
        lmk_faces, lmk_bary: (L,) FLAME triangle and (L, 3) barycentric weights of each.
    """

    path: Path
    v_template: np.ndarray
    shapedirs: np.ndarray
    faces: np.ndarray
    n_shape: int
    landmarks: np.ndarray
    lmk_faces: np.ndarray
    lmk_bary: np.ndarray
    to_head: tuple  # (scale, R, t): head = s * flame @ R.T + t

    def shape_vertices(self, betas: np.ndarray) -> np.ndarray:
        """(N, 3) FLAME-frame vertices for shape coefficients (n,), n <= S."""
        b = np.asarray(betas, dtype=np.float64)
        return self.v_template + self.shapedirs[:, :, : len(b)] @ b

    def sample_shape(self, demo: Demographics, seed: int) -> np.ndarray:
        """(n_shape,) shape coefficients ~ N(0, SHAPE_SD) (no demographic axes in FLAME)."""
        del demo
        return SHAPE_SD * np.random.default_rng(seed).standard_normal(self.n_shape)

    def _to_head(self, v: np.ndarray) -> np.ndarray:
        s, rot, t = self.to_head
        return s * v @ rot.T + t

    @cached_property
    def _transfer(self) -> dict:
        return _transfer_operators(self)

    def identity_mesh(self, identity) -> Mesh:
        """Neutral FLAME mesh of a FLAME identity, metres, head frame, with its rig."""
        from pain3d.face.rig import Rig

        verts = self._to_head(self.shape_vertices(identity.shape))
        op = self._transfer
        basis = np.einsum("vl,klc->kvc", op["weights"], op["bases"])
        lid_u = op["weights"] @ op["lid_upper"]
        lid_l = op["weights"] @ op["lid_lower"]
        moved = np.nonzero((np.abs(lid_u) + np.abs(lid_l)).sum(1) > 1e-9)[0]
        rig = Rig(
            basis=basis.astype(np.float32),
            lid_upper=lid_u.astype(np.float32),
            lid_lower=lid_l.astype(np.float32),
            lid_vertices=moved,
            eye_centres=np.zeros((2, 3), np.float32),
            eye_radius=0.0,  # no eyeball clearance push for FLAME
            socket_vertices=np.zeros(0, np.int64),
            socket_radius=np.zeros(0, np.float32),
        )
        return Mesh(
            vertices=verts.astype(np.float32),
            faces=self.faces,
            uv=op["uv"],
            regions=op["regions"],
            rig=rig,
        )


def load_flame(folder: str | Path, n_shape: int = N_SHAPE_SAMPLED) -> FlameModel:
    """Load and align a user-supplied FLAME model.

    Args:
        folder: FLAME folder (or the ``.pkl`` itself).
        n_shape: how many leading shape components identities use.

    Raises:
        FlameError: missing folder/file or malformed model, naming what was expected.
    """
    path = find_flame_model(folder)
    data = read_flame_pickle(path)
    v = np.asarray(data["v_template"], dtype=np.float64)
    sd = np.asarray(data["shapedirs"], dtype=np.float64)
    f = np.asarray(data["f"], dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise FlameError(f"{path}: v_template must be (N, 3), got {v.shape}")
    if sd.ndim != 3 or sd.shape[:2] != v.shape:
        raise FlameError(f"{path}: shapedirs must be (N, 3, S) with N = {len(v)}, got {sd.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or f.max() >= len(v):
        raise FlameError(f"{path}: f must be (F, 3) indices below {len(v)}")
    n = int(min(n_shape, sd.shape[2]))
    emb = path.parent / EMBEDDING_NAME
    lm, lf, lb = _correspondences(v, f, emb if emb.is_file() else None)
    to_head = _align(v, f, lm, lf, lb)
    return FlameModel(path, v, sd, f.astype(np.int32), n, lm, lf, lb, to_head)


def _surface_points(v, f, faces_idx, bary) -> np.ndarray:
    return (v[f[faces_idx]] * bary[:, :, None]).sum(1)


def _correspondences(v, f, embedding: Path | None):
    """Canonical indices, FLAME faces and barycentrics of the landmark correspondences."""
    if embedding is not None:
        with np.load(embedding) as z:
            try:
                return (np.asarray(z["landmark_indices"], np.int64),
                        np.asarray(z["lmk_face_idx"], np.int64),
                        np.asarray(z["lmk_b_coords"], np.float64))  # fmt: skip
            except KeyError as exc:
                raise FlameError(f"{embedding} lacks {exc}; expected landmark_indices, "
                                 "lmk_face_idx, lmk_b_coords") from exc  # fmt: skip
    return _fit_correspondences(v, f)


def _canonical_m() -> np.ndarray:
    from pain3d.face.head import CM, head_template

    return head_template().coarse[:N_CANONICAL] * CM


def _fit_correspondences(v, f, iterations: int = 15):
    """Similarity-ICP of the canonical face onto the FLAME surface (vertices), once."""
    from scipy.spatial import cKDTree

    canon = _canonical_m()
    # Initial guess: nose tips together, same scale (both metric), same orientation.
    tip = v[np.argmax(v[:, 2])]
    s, rot, t = 1.0, np.eye(3), tip - canon[PRONASALE]
    tree = cKDTree(v)
    for _ in range(iterations):
        moved = s * canon @ rot.T + t
        _, idx = tree.query(moved)
        s, rot, t = similarity_fit(canon, v[idx])
    moved = s * canon @ rot.T + t
    _, idx = tree.query(moved)
    # Express each correspondence as a barycentric point of a face containing the vertex.
    first_face = np.full(len(v), -1)
    for k in range(3):
        first_face[f[:, k]] = np.arange(len(f))
    faces_idx = first_face[idx]
    bary = (f[faces_idx] == idx[:, None]).astype(np.float64)
    return np.arange(N_CANONICAL), faces_idx, bary


def _align(v, f, lm, lf, lb) -> tuple:
    """Similarity taking FLAME's frame to the head frame (via the landmarks)."""
    src = _surface_points(v, f, lf, lb)
    return similarity_fit(src, _canonical_m()[lm])


def _transfer_operators(model: FlameModel) -> dict:
    """Interpolation weights, rig fields, regions and UVs on the FLAME template."""
    from scipy.spatial import cKDTree

    from pain3d.face.head import CM, head_chart_uv, head_template, loop_closure_field
    from pain3d.face.mesh import region_id
    from pain3d.face.rig import LID_MEET, template_bases

    tpl = head_template()
    head_v = model._to_head(model.v_template)
    lmk = model._to_head(_surface_points(model.v_template, model.faces, model.lmk_faces,
                                         model.lmk_bary))  # fmt: skip
    d2 = ((head_v[:, None, :] - lmk[None]) ** 2).sum(-1)
    k = np.exp(-0.5 * d2 / INTERP_SIGMA_M**2)
    weights = k / (k.sum(1, keepdims=True) + np.exp(-0.5 * 2.5**2))
    bases = template_bases()[:, :N_CANONICAL][:, model.landmarks] * CM
    coarse = tpl.coarse
    lid_ids = [region_id("upper_eyelid"), region_id("lower_eyelid")]
    lids = np.nonzero(np.isin(tpl.coarse_regions[:N_CANONICAL], lid_ids))[0]
    lid_u = np.zeros((N_CANONICAL, 3))
    lid_l = np.zeros((N_CANONICAL, 3))
    for upper, lower in tpl.eye_loops.values():
        width = np.linalg.norm(coarse[upper[0]] - coarse[upper[-1]])
        u, lo = loop_closure_field(coarse[:N_CANONICAL], upper, lower, lids, LID_MEET,
                                   0.4 * width, 0.25 * width, 0.6)  # fmt: skip
        lid_u += u
        lid_l += lo
    fine = tpl.subdivide @ tpl.coarse * CM
    _, nearest = cKDTree(fine).query(head_v)
    uv = head_chart_uv(head_v / CM).astype(np.float32)
    return {
        "weights": weights,
        "bases": bases,
        "lid_upper": lid_u[model.landmarks] * CM,
        "lid_lower": lid_l[model.landmarks] * CM,
        "regions": tpl.regions[nearest].astype(np.uint8),
        "uv": np.clip(uv, 0, 1),
    }
