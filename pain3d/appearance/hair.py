"""Scalp hair: where it grows (coverage) and a shell of geometry that gives it volume.

The shell re-uses the head's own triangles under the hair, pushed out along the vertex
normals by a style-dependent thickness, so it follows every identity's skull and costs no
extra draw call (the renderer appends it to the head's vertex buffer). Below the ears, long
hair does not follow the skin: it hangs as a curtain from the widest part of the head above
it (pushed out level, away from a vertical axis), so it neither folds into the concave
corner under the jaw nor stands off the neck as a wall of skin-textured triangles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pain3d.appearance.landmarks import FaceLandmarks
from pain3d.face.mesh import Mesh, region_id
from pain3d.ramps import smoothstep

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
        hang: (K, 3) float32 metres added in the head frame: hanging hair's level push out
            to its curtain (zero where the shell follows the skin); None for none.
    """

    vertex_index: np.ndarray
    offset: np.ndarray
    faces: np.ndarray
    hang: np.ndarray | None = None

    def positions(self, vertices: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """(K, 3) float32 shell vertex positions for head vertices/normals (V, 3)."""
        idx = self.vertex_index
        pos = vertices[idx] + normals[idx] * self.offset[:, None]
        return pos if self.hang is None else pos + self.hang


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
    return _coverage(pos, reg, lm, style, (0.0,))[0]


FRINGE_M = 0.005
"""Hand-set: metres below the hairline (the lower edge of :func:`hair_coverage`'s soft edge)
down to which sparse fine hairs still grow: the hairline thins out over the last few mm
instead of ending at a painted edge."""

FRINGE_DENSITY = 0.45
"""Hand-set: share of follicles with a visible hair at the top of that fringe (where the
coverage starts), falling to none at its bottom."""


def hair_density(pos: np.ndarray, reg: np.ndarray, lm: FaceLandmarks, style: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, density) at head-frame points: :func:`hair_coverage`, and the share of
    follicles carrying a visible hair, in [0, 1]: the coverage, and below it a fringe of
    sparse hairs :data:`FRINGE_M` deep (the coverage of a hairline lowered by that much)."""
    cov, reach = _coverage(pos, reg, lm, style, (0.0, FRINGE_M))
    return cov, cov + (1.0 - cov) * FRINGE_DENSITY * reach


def _coverage(pos: np.ndarray, reg: np.ndarray, lm: FaceLandmarks, style: str,
              lower: tuple[float, ...]) -> list[np.ndarray]:
    """:func:`hair_coverage` of the hairline lowered by each of ``lower`` (metres)."""
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
    # No hair on the face's features; ears stay uncovered too (long hair is tucked behind
    # them): a shell over the ear would bulge like a headphone.
    keep = ~np.isin(reg, _BARE_REGIONS)
    if style == "bald":
        crown = lm.brow_y + 0.11
        keep = keep * smoothstep(crown - 0.02, crown - 0.045, y) * smoothstep(60, 100, phi)
    return [np.clip(smoothstep(hairline - 0.003 - d, hairline + 0.006 - d, y) * keep,
                    0.0, 1.0).astype(np.float32) for d in lower]


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
    y, z = p[:, 1], p[:, 2]
    thick = base * rng.uniform(0.8, 1.25)
    top = smoothstep(lm.brow_y + 0.02, lm.brow_y + 0.1, y)
    back = smoothstep(lm.face_z - 0.06, lm.face_z - 0.16, z)
    off = thick * (0.45 + 0.55 * np.maximum(top, back))
    if style == "bun":
        bun_c = np.array([0.0, lm.brow_y + 0.075, lm.face_z - 0.19])
        d = np.linalg.norm((p - bun_c) / [0.04, 0.035, 0.05], axis=1)
        off += 0.035 * np.exp(-2.0 * d * d)
    # Fade to the skin at the hairline so the shell meets the scalp without a step; the
    # vertices beyond it (coverage < 0.5) sink onto the scalp.
    c = cov[used]
    off = off * (0.15 * smoothstep(0.2, 0.5, c) + 0.85 * smoothstep(0.5, 0.95, c)) + 0.0004
    hang = None
    if style == "long":
        neck = mesh.regions[used] == region_id("neck")
        off, hang = _long_hair(p, remap[faces], c > 0.5, neck, lm, off, back, rng)
    return HairShell(vertex_index=used.astype(np.int32), offset=off.astype(np.float32),
                     faces=remap[faces].astype(np.int32), hang=hang)


def _long_hair(p: np.ndarray, faces: np.ndarray, hair: np.ndarray, neck: np.ndarray,
               lm: FaceLandmarks, off: np.ndarray, back: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Long hair's offsets along the normals and its push onto a curtain, (K,) and (K, 3)
    float32, for shell points ``p`` (K, 3), shell ``faces``, the points with hair, the
    points on the neck, the offsets of shorter hair ``off`` (K,) and how far back each
    point is (``back``, 0..1).

    The hair hangs from the widest part of the head above it, and below the ears its
    thickness goes into the curtain instead of along the normals (which cross each other in
    the corner under the jaw and stood off the skin there as walls showing the skin
    texture); both fade in over a few triangles from the shell's edge, so the curtain tucks
    in to the skin there. The neck is a separate tube that rises into the head: its part of
    the curtain hangs :data:`NECK_TUCK` inside the head's, which covers it down to the
    head's lower edge (the two met at a jagged line where they crossed)."""
    drop = smoothstep(0.02, -0.12, p[:, 1])
    volume = 1.0 + (0.5 + 1.5 * back) * drop * rng.uniform(0.8, 1.25)
    # The neck's tube is coarse (its rings are 1-4 cm): past its first ring it fades in by
    # depth alone, so that it meets the head's curtain at the same height and lean.
    rings = np.where(neck, _inward(faces, hair, 1), _inward(faces, hair, HANG_RINGS))
    inward = np.minimum(rings, _depth_fade(p, lm))
    w = drop * inward
    rows = inward > 0
    hang = np.zeros_like(p)
    thick = off * volume * w - NECK_TUCK * neck
    hang[rows] = (_curtain(p[rows], p[hair], lm, thick[rows])
                  * inward[rows, None])
    return (off * (1.0 - drop)).astype(np.float32), hang.astype(np.float32)


HANG_LEAN = 0.15
"""Hand-set: how far (metres per metre of fall) hanging hair leans in toward the neck below
the widest part of the head above it (0: straight down)."""

HANG_ARC_DEG = 6.0
"""Hand-set: half-width (degrees of azimuth about the vertical axis) of the strip of head
above a point whose widest part the hair at that point hangs from."""

NECK_TUCK = 0.003
"""Hand-set: metres the neck's part of the curtain hangs inside the head's (see
:func:`_long_hair`)."""

HANG_RINGS = 3
"""Hand-set: triangle rings over which the curtain fades in from the shell's edge (about
7 mm each on the built-in mesh)."""


def _curtain(p: np.ndarray, src: np.ndarray, lm: FaceLandmarks,
             thick: np.ndarray) -> np.ndarray:
    """(N, 3) level push of points ``p`` (N, 3), away from a vertical axis through the
    skull, out to the widest of the points ``src`` (M, 3) in their strip above them (leaning
    in by :data:`HANG_LEAN`) plus the hair's thickness ``thick`` (N,), never inward."""
    z_c = lm.face_z - 0.085  # the axis of :func:`hair_coverage`

    def polar(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d = np.stack([q[:, 0], np.zeros(len(q)), q[:, 2] - z_c], -1)
        return d, np.maximum(np.linalg.norm(d, axis=1), 1e-6), np.arctan2(d[:, 0], d[:, 2])

    d, r, az = polar(p)
    _, r_src, az_src = polar(src)
    rise = src[None, :, 1] - p[:, None, 1]  # (N, M): how far each source lies above
    turn = np.abs((az_src[None, :] - az[:, None] + np.pi) % (2 * np.pi) - np.pi)
    reach = np.where((rise >= 0) & (turn <= np.radians(HANG_ARC_DEG)),
                     r_src[None, :] - HANG_LEAN * rise, 0.0)
    push = np.maximum(np.maximum(reach.max(axis=1), r) - r + thick, 0.0)
    return d / r[:, None] * push[:, None]


def _depth_fade(p: np.ndarray, lm: FaceLandmarks) -> np.ndarray:
    """(K,) 0 within :data:`FADE_M` (first value) of long hair's front and lower edges
    (:func:`hair_coverage`'s hairline) rising to 1 at the second value, for points ``p``."""
    z_c = lm.face_z - 0.085
    eye_y = float(lm.eye_left[1])
    r = np.hypot(p[:, 0], p[:, 2] - z_c)
    phi = np.degrees(np.arctan2(np.abs(p[:, 0]), p[:, 2] - z_c))
    front = np.interp(p[:, 1], [-0.16, eye_y + 0.012, eye_y + 0.03], [72.0, 62.0, 52.0])
    depth = np.minimum(r * np.radians(phi - front), p[:, 1] + 0.16)
    return smoothstep(FADE_M[0], FADE_M[1], depth)


FADE_M = (0.008, 0.03)
"""Hand-set: distances into long hair (metres, from its front and lower edges) where the
curtain starts to fade in and is complete (the first keeps the edge triangles, about 7 mm,
on the skin)."""


def _inward(faces: np.ndarray, inside: np.ndarray, n: int) -> np.ndarray:
    """(K,) 0 on the shell's edge and its first ring of vertices inside, rising to 1 at
    ``n`` rings further in (rings: graph hops over ``faces`` from a vertex not ``inside``)."""
    reach = inside.copy()
    rings = np.zeros(len(inside))
    for _ in range(n):
        ok = np.ones(len(inside), bool)
        np.logical_and.at(ok, faces.ravel(), np.repeat(reach[faces].all(axis=1), 3))
        reach &= ok
        rings += reach
    return rings / n
