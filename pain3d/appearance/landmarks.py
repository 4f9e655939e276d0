"""A few facial landmarks read off a labelled mesh, to place painted features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pain3d.face.mesh import Mesh, region_id


@dataclass(frozen=True)
class FaceLandmarks:
    """Head-frame points (metres) that place painted features.

    Attributes:
        eye_left, eye_right: (3,) eyeball centres (left = subject's left, +x).
        eye_radius: eyeball radius, metres.
        brow_y: height of the brows.
        nose_tip: (3,) most forward nose point.
        mouth: (3,) centre of the lips.
        mouth_half_width: half the distance between the lip corners.
        chin_y: lowest face point height (above the neck).
        face_z: z of the front of the face at the eyes (used to tell front from back).
    """

    eye_left: np.ndarray
    eye_right: np.ndarray
    eye_radius: float
    brow_y: float
    nose_tip: np.ndarray
    mouth: np.ndarray
    mouth_half_width: float
    chin_y: float
    face_z: float


def eye_centres(vertices: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Eyeball centres (left = +x, right = -x) and mean radius from the eyeball vertices."""
    eye = regions == region_id("eyeball")
    if not eye.any():
        return np.array([0.032, 0.0, 0.0]), np.array([-0.032, 0.0, 0.0]), 0.012
    pts = vertices[eye].astype(np.float64)
    left, right = pts[pts[:, 0] > 0], pts[pts[:, 0] <= 0]
    out = []
    radii = []
    for side, sign in ((left, 1.0), (right, -1.0)):
        if len(side) < 4:
            out.append(np.array([0.032 * sign, 0.0, 0.0]))
            continue
        c = 0.5 * (side.min(0) + side.max(0))
        out.append(c)
        radii.append(float(np.linalg.norm(side - c, axis=1).mean()))
    return out[0], out[1], float(np.mean(radii)) if radii else 0.012


def face_landmarks(mesh: Mesh) -> FaceLandmarks:
    """Landmarks of a labelled mesh, with anthropometric fallbacks for missing regions."""
    v = mesh.vertices.astype(np.float64)
    reg = mesh.regions if mesh.regions is not None else np.zeros(len(v), np.uint8)
    el, er, rad = eye_centres(v, reg)

    def pts(name: str) -> np.ndarray:
        return v[reg == region_id(name)]

    brow = pts("brow")
    brow_y = float(np.median(brow[:, 1])) if len(brow) else 0.02
    nose = pts("nose")
    nose_tip = nose[np.argmax(nose[:, 2])] if len(nose) else np.array([0.0, -0.04, 0.03])
    lips = pts("lips")
    if len(lips):
        mouth = np.array([0.0, float(np.median(lips[:, 1])), float(lips[:, 2].max())])
        half = float(0.5 * (lips[:, 0].max() - lips[:, 0].min()))
    else:
        mouth, half = np.array([0.0, -0.075, 0.02]), 0.025
    chin = pts("chin_jaw")
    chin_y = float(chin[:, 1].min()) if len(chin) else -0.12
    face_z = float(0.5 * (el[2] + er[2]) + rad)
    return FaceLandmarks(el, er, rad, brow_y, nose_tip, mouth, half, chin_y, face_z)
