"""Face keypoints of each rendered image, for the crop geometry of :mod:`pain3d.data.align`.

Inference crops faces from the MediaPipe landmarks of a detector (iris centres for the eyes,
the mean of six lip points for the mouth), see :func:`pain3d.data.align.face_keypoints`. The
generator knows where those points are: it projects them from the very mesh it renders, with
the very camera, so synthetic training images can be cropped exactly like real photos at
inference. The index tables are those of :mod:`pain3d.face.landmarks`.

Keypoints (head frame, then image pixels):

- eye centres: the front pole of each eyeball (the iris centre of a straight gaze, where
  MediaPipe's refined iris landmarks sit); eyeball vertices are those of region ``eyeball``,
  split by the sign of x (x > 0 is the subject's left);
- mouth centre: the mean of the canonical vertices :data:`~pain3d.face.landmarks.MOUTH_KEYPOINT`.
  The built-in head keeps the 468 canonical vertices first (subdivision adds vertices after
  them).

FLAME meshes (:func:`flame_keypoints_3d`) have no eyeballs of region ``eyeball``; their
keypoints come from the model's canonical-face correspondences (surface points): the mouth
as above, each eye centre as the mean of the eight eye-contour points
(:data:`~pain3d.face.landmarks.EYE_KEYPOINT_R` / ``_L``) of the *neutral* mesh (lids closing
by AU43 do not move it). Other meshes get no keypoints.

Pixel convention: continuous coordinates with the image's top-left corner at (0, 0) and
pixel ``i`` covering ``[i, i + 1)``, as MediaPipe's ``normalised * size``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pain3d.face.landmarks import (
    EYE_KEYPOINT_L,
    EYE_KEYPOINT_R,
    KEYPOINT_COLUMNS,
    MOUTH_KEYPOINT,
    N_CANONICAL,
)

if TYPE_CHECKING:  # the face package is imported only where meshes are handled
    from pain3d.face.mesh import Mesh


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
    mouth = v[list(MOUTH_KEYPOINT)].mean(axis=0)
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
    needed = [*EYE_KEYPOINT_R, *EYE_KEYPOINT_L, *MOUTH_KEYPOINT]
    if any(c not in pos for c in needed):
        return None
    faces = np.asarray(flame.faces, dtype=np.int64)

    def surface(mesh: Mesh, canonical: tuple[int, ...]) -> np.ndarray:
        rows = [pos[c] for c in canonical]
        tri = faces[np.asarray(flame.lmk_faces)[rows]]
        bary = np.asarray(flame.lmk_bary, dtype=np.float64)[rows]
        return (np.asarray(mesh.vertices, dtype=np.float64)[tri] * bary[:, :, None]).sum(1)

    eyes = [surface(neutral, c).mean(axis=0) for c in (EYE_KEYPOINT_R, EYE_KEYPOINT_L)]
    return np.stack([eyes[0], eyes[1], surface(expressed, MOUTH_KEYPOINT).mean(axis=0)])


def project_keypoints(points: np.ndarray, camera, size: int) -> np.ndarray:
    """(3, 2) float64 image pixels of head-frame keypoints seen by ``camera`` at ``size``."""
    return camera.project(points, (size, size))[:, :2]


def keypoint_values(pixels: np.ndarray | None, size: int) -> list[float] | None:
    """The six manifest values (:data:`~pain3d.face.landmarks.KEYPOINT_COLUMNS` order) of
    (3, 2) pixel keypoints, rounded to 1/1000 pixel; None when there are none.

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
        return {c: float("nan") for c in KEYPOINT_COLUMNS}
    return {c: float(x) for c, x in zip(KEYPOINT_COLUMNS, values, strict=True)}


def keypoints_from_row(row) -> np.ndarray | None:
    """(3, 2) float64 keypoints of a manifest row (a mapping with the
    :data:`~pain3d.face.landmarks.KEYPOINT_COLUMNS`), or None when they are missing, empty or
    not finite."""
    try:
        vals = np.array([float(row[c]) for c in KEYPOINT_COLUMNS], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if not np.isfinite(vals).all():
        return None
    return vals.reshape(3, 2)
