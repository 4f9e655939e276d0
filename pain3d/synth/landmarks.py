"""Face keypoints of each rendered image, for the crop geometry of :mod:`pain3d.data.align`.

Inference crops faces from the MediaPipe landmarks of a detector (478 points: iris centres
for the eyes, the mean of six lip points for the mouth), see
:func:`pain3d.data.align.face_keypoints`. The generator knows where those points are: it
projects them from the very mesh it renders, with the very camera, so synthetic training
images can be cropped exactly like real photos at inference.

Keypoints (head frame, then image pixels):

- eye centres: the front pole of each eyeball (the iris centre of a straight gaze, where
  MediaPipe's refined iris landmarks 468 / 473 sit); eyeball vertices are those of region
  ``eyeball``, split by the sign of x (x > 0 is the subject's left);
- mouth centre: the mean of the canonical face vertices used for the mouth by
  :func:`pain3d.data.align.face_keypoints` (lip corners 61 / 291, inner lips 13 / 14, outer
  lips 0 / 17). The built-in head keeps the 468 canonical vertices first (subdivision adds
  vertices after them).

FLAME meshes (:func:`flame_keypoints_3d`) have no eyeballs of region ``eyeball``; their
keypoints come from the model's canonical-face correspondences (surface points): the mouth
as above, each eye centre as the mean of MediaPipe's eight eye-contour points of the
*neutral* mesh (the 468-point scheme of :func:`pain3d.data.align.face_keypoints`; lids
closing by AU43 do not move it). Other meshes get no keypoints.

Pixel convention: continuous coordinates with the image's top-left corner at (0, 0) and
pixel ``i`` covering ``[i, i + 1)``, as MediaPipe's ``normalised * size``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the face package is imported only where meshes are handled
    from pain3d.face.mesh import Mesh

N_CANONICAL = 468
MOUTH_VERTICES: tuple[int, ...] = (61, 291, 13, 14, 0, 17)
EYE_CONTOURS: tuple[tuple[int, ...], tuple[int, ...]] = (
    (33, 133, 159, 145, 160, 144, 158, 153),  # subject's right eye
    (362, 263, 386, 374, 385, 380, 387, 373),  # subject's left eye
)
KEYPOINT_NAMES: tuple[str, ...] = ("reye", "leye", "mouth")
"""Order of the keypoints: subject's right eye, subject's left eye, mouth centre."""
COLUMNS: tuple[str, ...] = tuple(f"lm_{k}_{a}" for k in KEYPOINT_NAMES for a in ("x", "y"))
"""Manifest columns, image pixels: ``lm_reye_x, lm_reye_y, lm_leye_x, ... lm_mouth_y``."""


def keypoints_3d(mesh: Mesh, canonical_first: bool = True) -> np.ndarray | None:
    """Right eye, left eye and mouth centres of a (possibly expressed) head mesh.

    Args:
        mesh: head frame mesh, metres, with ``regions`` (eyeballs labelled ``eyeball``).
        canonical_first: the first 468 vertices are MediaPipe's canonical face (built-in
            head). False (e.g. FLAME) returns None.

    Returns:
        (3, 3) float64 head-frame metres, or None when the mesh lacks the needed parts.
    """
    from pain3d.face.mesh import region_id

    if not canonical_first or mesh.regions is None or mesh.n_vertices < N_CANONICAL:
        return None
    v = np.asarray(mesh.vertices, dtype=np.float64)
    eye = np.nonzero(mesh.regions == region_id("eyeball"))[0]
    if len(eye) == 0:
        return None
    poles = []
    for side in (v[eye, 0] < 0, v[eye, 0] > 0):  # subject's right (x < 0), then left
        pts = v[eye[side]]
        if len(pts) < 4:
            return None
        poles.append(pts[np.argmax(pts[:, 2])])  # the front pole: gaze along +z
    mouth = v[list(MOUTH_VERTICES)].mean(axis=0)
    return np.stack([poles[0], poles[1], mouth])


def flame_keypoints_3d(neutral: Mesh, expressed: Mesh, flame) -> np.ndarray | None:
    """Right eye, left eye and mouth centres of a FLAME head (see the module docstring).

    Args:
        neutral: the identity's neutral FLAME mesh (eye centres), head frame, metres.
        expressed: the same mesh deformed by the AUs (mouth centre).
        flame: the :class:`pain3d.face.flame.FlameModel` with ``landmarks`` (canonical
            indices), ``lmk_faces`` and ``lmk_bary`` (their surface points).

    Returns:
        (3, 3) float64 head-frame metres, or None when a needed canonical point has no
        correspondence.
    """
    pos = {int(c): i for i, c in enumerate(np.asarray(flame.landmarks))}
    needed = [*EYE_CONTOURS[0], *EYE_CONTOURS[1], *MOUTH_VERTICES]
    if any(c not in pos for c in needed):
        return None
    faces = np.asarray(flame.faces, dtype=np.int64)

    def surface(mesh: Mesh, canonical: tuple[int, ...]) -> np.ndarray:
        rows = [pos[c] for c in canonical]
        tri = faces[np.asarray(flame.lmk_faces)[rows]]
        bary = np.asarray(flame.lmk_bary, dtype=np.float64)[rows]
        return (np.asarray(mesh.vertices, dtype=np.float64)[tri] * bary[:, :, None]).sum(1)

    eyes = [surface(neutral, contour).mean(axis=0) for contour in EYE_CONTOURS]
    return np.stack([eyes[0], eyes[1], surface(expressed, MOUTH_VERTICES).mean(axis=0)])


def project_keypoints(points: np.ndarray, camera, size: int) -> np.ndarray:
    """(3, 2) float64 image pixels of head-frame keypoints seen by ``camera`` at ``size``."""
    return camera.project(points, (size, size))[:, :2]


def keypoint_values(pixels: np.ndarray | None, size: int) -> list[float] | None:
    """The six manifest values (:data:`COLUMNS` order) of (3, 2) pixel keypoints, rounded to
    1/1000 pixel; None when there are none.

    Raises:
        ValueError: for a wrong shape or non-finite values (a renderer bug).
    """
    if pixels is None:
        return None
    arr = np.asarray(pixels, dtype=np.float64)
    if arr.shape != (3, 2) or not np.isfinite(arr).all():
        raise ValueError(f"renderer landmarks must be (3, 2) finite pixels (right eye, left eye, "
                         f"mouth) of a {size} px image, got shape {arr.shape}: {arr.tolist()}")
    return [round(float(x), 3) for x in arr.reshape(-1)]


def keypoint_columns(values: list[float] | None) -> dict[str, float]:
    """Manifest columns of :func:`keypoint_values` (NaN when unknown)."""
    if values is None:
        return {c: float("nan") for c in COLUMNS}
    return {c: float(x) for c, x in zip(COLUMNS, values, strict=True)}


def keypoints_from_row(row) -> np.ndarray | None:
    """(3, 2) float64 keypoints of a manifest row (mapping with :data:`COLUMNS`), or None
    when the columns are missing, empty or not finite."""
    try:
        vals = np.array([float(row[c]) for c in COLUMNS], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if not np.isfinite(vals).all():
        return None
    return vals.reshape(3, 2)
