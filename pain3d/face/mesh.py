"""The mesh value passed between the geometry, appearance and render stages.

Units and frame, once for all of pain3d: metres, head frame with x to the subject's left
(the viewer's right in a frontal view), y up, z toward the camera (out of the face); the
origin is midway between the eye centres. Triangles wind counter-clockwise seen from outside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

REGIONS: tuple[str, ...] = (
    "skin",  # 0 generic face/head skin
    "forehead",  # 1
    "glabella",  # 2 between the brows
    "brow",  # 3 eyebrow hair area
    "upper_eyelid",  # 4
    "lower_eyelid",  # 5
    "eyeball",  # 6 separate geometry behind the lids
    "nose",  # 7
    "cheek",  # 8
    "upper_lip_skin",  # 9 philtrum / nasolabial area above the lip
    "lips",  # 10 vermilion
    "mouth_interior",  # 11
    "chin_jaw",  # 12
    "scalp",  # 13 hair-covered skull
    "ear",  # 14
    "neck",  # 15
)
"""Fine region labels, one per vertex; ids are indices into this tuple and stay stable."""

PARTS: tuple[str, ...] = ("background", "skin", "brows", "eyes", "lips", "hair", "mouth")
"""Coarse part labels of the segmentation pass; 0 is background."""

REGION_TO_PART: dict[str, str] = {
    "skin": "skin",
    "forehead": "skin",
    "glabella": "skin",
    "brow": "brows",
    "upper_eyelid": "skin",
    "lower_eyelid": "skin",
    "eyeball": "eyes",
    "nose": "skin",
    "cheek": "skin",
    "upper_lip_skin": "skin",
    "lips": "lips",
    "mouth_interior": "mouth",
    "chin_jaw": "skin",
    "scalp": "hair",
    "ear": "skin",
    "neck": "skin",
}

REGION_PART_IDS = np.array([PARTS.index(REGION_TO_PART[r]) for r in REGIONS], dtype=np.uint8)
"""(len(REGIONS),) uint8 part id of each region id."""


def region_id(name: str) -> int:
    """Index of a region name in :data:`REGIONS`."""
    try:
        return REGIONS.index(name)
    except ValueError as exc:
        raise ValueError(f"unknown region {name!r}; regions are {REGIONS}") from exc


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh in the head frame.

    Attributes:
        vertices: (V, 3) float32, metres, head frame.
        faces: (F, 3) int32 vertex indices, counter-clockwise seen from outside.
        uv: (V, 2) float32 texture coordinates in [0, 1] (origin bottom-left), or None.
        regions: (V,) uint8 ids into :data:`REGIONS`, or None.
        rig: the identity's AU rig (:class:`pain3d.face.rig.Rig`) when the mesh came from
            :func:`pain3d.face.identity_mesh`; kept by :meth:`with_vertices`, so an expressed
            mesh still knows its rig. None for meshes from elsewhere.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None = None
    regions: np.ndarray | None = None
    rig: Any = None

    def __post_init__(self) -> None:
        v, f = self.vertices, self.faces
        if v.ndim != 2 or v.shape[1] != 3:
            raise ValueError(f"vertices must be (V, 3), got {v.shape}")
        if f.ndim != 2 or f.shape[1] != 3:
            raise ValueError(f"faces must be (F, 3), got {f.shape}")
        n = len(v)
        for name, arr, width in (("uv", self.uv, 2), ("regions", self.regions, None)):
            if arr is not None and len(arr) != n:
                raise ValueError(f"{name} has {len(arr)} rows for {n} vertices")
            if arr is not None and width is not None and arr.shape[1:] != (width,):
                raise ValueError(f"{name} must be (V, {width}), got {arr.shape}")

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    def with_vertices(self, vertices: np.ndarray) -> Mesh:
        """Same topology, UVs and regions with new vertex positions."""
        return replace(self, vertices=np.asarray(vertices, dtype=np.float32))

    def vertex_normals(self) -> np.ndarray:
        """(V, 3) float32 unit area-weighted vertex normals."""
        v = self.vertices.astype(np.float64)
        tri = v[self.faces]
        fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        # Each vertex sums its faces' normals corner by corner in face order (what np.add.at
        # over the three corners does), a coordinate at a time with bincount.
        corners = self.faces.T.reshape(-1)
        vn = np.stack([np.bincount(corners, np.tile(fn[:, c], 3), minlength=len(v))
                       for c in range(3)], -1)
        norm = vector_norms(vn)[:, None]
        return (vn / np.maximum(norm, 1e-12)).astype(np.float32)


def vector_norms(x: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(x, axis=-1)`` of (..., 3) vectors with numpy's very sums,
    ``sqrt((x*x + y*y) + z*z)``, a coordinate at a time: numpy reduces a last axis of 3 in
    3-element inner loops, several times slower."""
    s = x * x
    return np.sqrt(s[..., 0] + s[..., 1] + s[..., 2])
