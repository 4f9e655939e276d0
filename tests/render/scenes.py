"""Scene builders shared by the render tests (flat appearances, quads)."""

from __future__ import annotations

import numpy as np

from pain3d.appearance import Appearance
from pain3d.appearance.traits import Traits
from pain3d.demographics import Demographics
from pain3d.face.mesh import Mesh, region_id

DEMO = Demographics("female", "36-60", "latino")


def flat_traits() -> Traits:
    return Traits(monk_tone=5, skin_rgb=(0.5, 0.5, 0.5), undertone=0.0, hair_style="buzz",
                  hair_colour="black", hair_rgb=(0.05, 0.05, 0.05), facial_hair="none",
                  iris_colour="brown", iris_rgb=(0.3, 0.2, 0.1), brow_density=1.0,
                  lip_fullness=1.0, freckles=0.0, clothing_rgb=(0.2, 0.2, 0.2), age_level=0.0)


def flat_appearance(value: int, n_vertices: int = 25, size: int = 8) -> Appearance:
    """Uniform grey albedo ``value``, no specular, no hair, no wrinkles."""
    albedo = np.full((size, size, 3), value, np.uint8)
    height = np.full((size, size), 128, np.uint8)
    return Appearance(DEMO, flat_traits(), albedo, height, np.zeros((size, size, 4), np.uint8),
                      vertex_spec=np.zeros(n_vertices, np.float32),
                      vertex_hair=np.zeros(n_vertices, np.float32), hair_shell=None, seed=0)


def quad(half: float = 0.05, z: float = 0.0, centre=(0.0, 0.0), region: str = "skin") -> Mesh:
    """A square facing +z, subdivided 4x4 so per-vertex AO stays flat."""
    n = 5
    xs = np.linspace(-half, half, n)
    gx, gy = np.meshgrid(xs + centre[0], xs + centre[1])
    v = np.c_[gx.ravel(), gy.ravel(), np.full(n * n, z)].astype(np.float32)
    idx = np.arange(n * n).reshape(n, n)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    f = np.concatenate([np.c_[a, b, c], np.c_[a, c, d]]).astype(np.int32)
    uv = np.c_[(gx.ravel() - gx.min()) / (2 * half), (gy.ravel() - gy.min()) / (2 * half)]
    return Mesh(v, f, uv.astype(np.float32), np.full(n * n, region_id(region), np.uint8))
