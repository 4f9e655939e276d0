"""On-mesh measurements shared by the geometry tests."""

from __future__ import annotations

import numpy as np

from pain3d.face import landmarks as lm
from pain3d.face.head import head_template
from pain3d.facs import AU_NAMES


def aus(**values: float) -> np.ndarray:
    """AU vector with the named AUs set, e.g. ``aus(AU4=3)``."""
    out = np.zeros(len(AU_NAMES))
    for name, value in values.items():
        out[AU_NAMES.index(name)] = value
    return out


def eye_aperture(mesh) -> float:
    """Mean distance between paired upper and lower lid-margin vertices, both eyes (m)."""
    tpl = head_template()
    gaps = []
    for key in ("r", "l"):
        upper, lower = tpl.fine_eye_loops[key]
        gaps.append(np.linalg.norm(mesh.vertices[upper[1:-1]] - mesh.vertices[lower[1:-1]], axis=1))
    return float(np.concatenate(gaps).mean())


def brow_eye_distance(mesh) -> float:
    """Height of the brows above the upper lid margins (m)."""
    tpl = head_template()
    brow = mesh.vertices[list(lm.BROW_R + lm.BROW_L), 1].mean()
    lids = np.concatenate([tpl.fine_eye_loops[k][0] for k in ("r", "l")])
    return float(brow - mesh.vertices[lids, 1].mean())


def nose_lip_distance(mesh) -> float:
    """Height of the nose tip above the upper lip's midpoint (m)."""
    return float(mesh.vertices[lm.PRONASALE, 1] - mesh.vertices[0, 1])


CHEEK_VERTICES = [50, 280, 101, 330, 205, 425, 118, 347]


def cheek_height(mesh) -> float:
    """Mean height of infraorbital cheek vertices (m)."""
    return float(mesh.vertices[CHEEK_VERTICES, 1].mean())


def face_normals(mesh) -> np.ndarray:
    tri = mesh.vertices.astype(np.float64)[mesh.faces]
    return np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
