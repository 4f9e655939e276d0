"""Scalp hair: where it grows (coverage) and a shell of geometry that gives it volume.

The shell re-uses the head's own triangles under the hair, pushed out along the vertex
normals by a style-dependent thickness, so it follows every identity's skull and costs no
extra draw call (the renderer appends it to the head's vertex buffer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pain3d.appearance.landmarks import FaceLandmarks
from pain3d.appearance.paint import smoothstep
from pain3d.face.mesh import Mesh, region_id

HAIR_SHELL_REGION = 16
"""Region id the renderer gives to hair-shell vertices (one past the mesh regions)."""

_BARE_REGIONS = [region_id(name) for name in (
    "eyeball", "lips", "mouth_interior", "upper_eyelid", "lower_eyelid", "nose", "ear")]
"""Regions scalp hair never covers."""


@dataclass(frozen=True, eq=False)
class HairShell:
    """Hair geometry as offsets of head vertices.

    Attributes:
        vertex_index: (K,) int32 head vertices the shell copies.
        offset: (K,) float32 metres along each vertex normal.
        faces: (G, 3) int32 triangles indexing into the K shell vertices.
    """

    vertex_index: np.ndarray
    offset: np.ndarray
    faces: np.ndarray

    def positions(self, vertices: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """(K, 3) float32 shell vertex positions for head vertices/normals (V, 3)."""
        idx = self.vertex_index
        return vertices[idx] + normals[idx] * self.offset[:, None]


def hair_coverage(pos: np.ndarray, reg: np.ndarray, lm: FaceLandmarks, style: str) -> np.ndarray:
    """Scalp-hair coverage in [0, 1] at head-frame points.

    The hairline is a height that depends on the angle around a vertical axis through the
    skull: the forehead hairline in front, the temples and sideburns, above the ears, and
    down to the nape (or the shoulders for long hair) behind.

    Args:
        pos: (..., 3) metres, head frame (texels of the position map or vertices).
        reg: (...) region ids of the same points.
        lm: landmarks of the identity.
        style: one of :data:`pain3d.appearance.traits.HAIR_STYLES`.
    """
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    male_like = style in ("bald", "buzz", "short")
    front = lm.brow_y + (0.05 if male_like else 0.044)
    recess = 0.006 if male_like else 0.0
    eye_y = float(lm.eye_left[1])
    z_c = lm.face_z - 0.085  # vertical axis through the middle of the skull
    phi = np.degrees(np.arctan2(np.abs(x), z - z_c))  # 0 = straight ahead, 180 = behind
    long_hair = style == "long"
    nape = -0.16 if long_hair else -0.075
    ear_top = eye_y + 0.03
    hairline = np.interp(
        phi,
        [0, 25, 40, 52, 62, 72, 100, 125, 150, 180],
        [front, front + recess * 0.5, front + recess - 0.004, eye_y + 0.03, eye_y + 0.012,
         ear_top if not long_hair else nape, ear_top if not long_hair else nape,
         eye_y - 0.01 if not long_hair else nape, nape, nape])
    # An irregular hairline: a millimetre or two up and down at incommensurate wavelengths
    # (one sinusoid gave a regular saw-tooth), deterministic in x, z so vertices and
    # texels agree, and a soft edge where the hair thins out (painted with strands).
    hairline = hairline + (0.0014 * np.sin(x * 260.0 + z * 120.0 + 1.0) * np.sin(x * 97.0 + 0.5)
                           + 0.0007 * np.sin(x * 610.0 - z * 240.0 + 2.0))
    cov = smoothstep(hairline - 0.003, hairline + 0.006, y)
    # No hair on the face's features; ears stay uncovered too (long hair is tucked behind
    # them): a shell over the ear would bulge like a headphone.
    cov = np.where(np.isin(reg, _BARE_REGIONS), 0.0, cov)
    if style == "bald":
        crown = lm.brow_y + 0.11
        cov *= smoothstep(crown - 0.02, crown - 0.045, y) * smoothstep(60, 100, phi)
    return np.clip(cov, 0.0, 1.0).astype(np.float32)


_THICKNESS = {"bald": 0.0006, "buzz": 0.0, "short": 0.006, "medium": 0.011, "long": 0.012,
              "bun": 0.006}


def build_hair_shell(mesh: Mesh, lm: FaceLandmarks, style: str,
                     rng: np.random.Generator) -> HairShell | None:
    """The hair shell of a style on a neutral mesh, or None for styles without volume."""
    base = _THICKNESS.get(style)
    if base is None:
        raise ValueError(f"unknown hair style {style!r}; choose from {tuple(_THICKNESS)}")
    if base <= 0 or mesh.regions is None:
        return None
    v = mesh.vertices
    cov = hair_coverage(v, mesh.regions, lm, style)
    # The shell reaches one triangle past the hairline: its edge vertices lie on the scalp
    # and the shader shows the painted hairline there, so the hair's edge follows the
    # coverage, not the triangles (a shell of only the covered triangles ends in a saw-tooth).
    # (No covered vertex borders a bare region: the test checks that no shell vertex lies on
    # an ear or an eyeball.)
    keep = (cov > 0.5)[mesh.faces].any(axis=1)
    if not keep.any():
        return None
    faces = mesh.faces[keep]
    used = np.unique(faces)
    remap = np.full(len(v), -1, np.int64)
    remap[used] = np.arange(len(used))
    p = v[used].astype(np.float64)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    thick = base * rng.uniform(0.8, 1.25)
    top = smoothstep(lm.brow_y + 0.02, lm.brow_y + 0.1, y)
    back = smoothstep(lm.face_z - 0.06, lm.face_z - 0.16, z)
    off = thick * (0.45 + 0.55 * np.maximum(top, back))
    if style == "long":
        drop = smoothstep(0.02, -0.12, y)
        off += (0.014 + 0.03 * back) * drop * rng.uniform(0.8, 1.25)
        off += 0.014 * smoothstep(0.04, 0.07, np.abs(x)) * drop
    if style == "bun":
        bun_c = np.array([0.0, lm.brow_y + 0.075, lm.face_z - 0.19])
        d = np.linalg.norm((p - bun_c) / [0.04, 0.035, 0.05], axis=1)
        off += 0.035 * np.exp(-2.0 * d * d)
    # Fade to the skin at the hairline so the shell meets the scalp without a step; the
    # vertices beyond it (coverage < 0.5) sink onto the scalp.
    c = cov[used]
    off = off * (0.15 * smoothstep(0.2, 0.5, c) + 0.85 * smoothstep(0.5, 0.95, c)) + 0.0004
    return HairShell(vertex_index=used.astype(np.int32), offset=off.astype(np.float32),
                     faces=remap[faces].astype(np.int32))
