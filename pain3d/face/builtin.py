"""Neutral meshes of the built-in head: shape, eyeballs, subdivision, rig."""

from __future__ import annotations

import numpy as np

from pain3d.face.head import (
    CM,
    EYEBALL_RADIUS_CM,
    head_template,
    island_uv,
    unit_eyeball,
)
from pain3d.face.identity import Identity, coarse_shape
from pain3d.face.mesh import Mesh, region_id
from pain3d.face.rig import EYE_CLEARANCE_CM, rig_from_fine, transfer_bases


def _eye_width(coarse: np.ndarray, key: str) -> float:
    upper, _ = head_template().eye_loops[key]
    return float(np.linalg.norm(coarse[upper[0]] - coarse[upper[-1]]))


def place_eyeballs(coarse: np.ndarray) -> tuple[np.ndarray, float]:
    """Eyeball centres (2, 3) (right, left) and radius, cm, just behind the lids.

    The radius scales with the eye opening's width; each centre sits under the opening's
    centroid, as far forward as keeps every nearby lid vertex ``EYE_CLEARANCE_CM`` outside.
    """
    tpl = head_template()
    ref = 0.5 * (_eye_width(tpl.coarse, "r") + _eye_width(tpl.coarse, "l"))
    width = 0.5 * (_eye_width(coarse, "r") + _eye_width(coarse, "l"))
    radius = EYEBALL_RADIUS_CM * width / ref
    need = radius + EYE_CLEARANCE_CM
    lids = np.isin(tpl.coarse_regions, [region_id("upper_eyelid"), region_id("lower_eyelid")])
    lid_idx = np.nonzero(lids & (tpl.part == 0))[0]
    centres = []
    for key in ("r", "l"):
        upper, lower = tpl.eye_loops[key]
        loop = coarse[np.concatenate([upper, lower])]
        c = loop.mean(0)
        pts = coarse[lid_idx]
        rho = np.hypot(pts[:, 0] - c[0], pts[:, 1] - c[1])
        near = rho < need
        cz = np.min(pts[near, 2] - np.sqrt(need**2 - rho[near] ** 2))
        centres.append(np.array([c[0], c[1], cz]))
    return np.stack(centres), float(radius)


def builtin_mesh(identity: Identity) -> Mesh:
    """Neutral whole-head mesh of a built-in identity, metres, head frame, with its rig."""
    return mesh_from_coarse(coarse_shape(identity.shape))


def mesh_from_coarse(coarse: np.ndarray) -> Mesh:
    """Neutral whole-head mesh, metres, with its rig, from a coarse head (Vc, 3) in cm.

    ``coarse`` is the built-in head's coarse topology in any shape (from the shape parameters,
    or fitted to a photo by :mod:`pain3d.face.photo_fit`); eye sockets are re-placed here.
    """
    tpl = head_template()
    coarse = np.array(coarse, dtype=np.float64)
    centres, radius = place_eyeballs(coarse)
    # Sockets: each ring sits just inside its eyeball, under the lid margin it follows.
    sock = np.nonzero(tpl.socket_of >= 0)[0]
    side = (coarse[sock, 0] > 0).astype(int)
    d = coarse[tpl.socket_of[sock]] - centres[side]
    coarse[sock] = centres[side] + (radius - 0.12) * d / np.linalg.norm(d, axis=1, keepdims=True)

    fine = tpl.subdivide @ coarse
    bases = transfer_bases(coarse)  # (K, Vc, 3)
    k = len(bases)
    fine_bases = tpl.subdivide @ bases.transpose(1, 0, 2).reshape(len(coarse), k * 3)
    fine_bases = fine_bases.reshape(-1, k, 3).transpose(1, 0, 2)

    unit, eye_faces, polar = unit_eyeball()
    azimuth = np.arctan2(unit[:, 1], unit[:, 0])
    verts, faces, uvs = [fine], [tpl.faces], [tpl.uv]
    n = len(fine)
    for centre, key in zip(centres, ("eye_r", "eye_l"), strict=False):
        verts.append(centre + radius * unit)
        faces.append(eye_faces + n)
        uvs.append(island_uv(key, polar, azimuth))
        n += len(unit)
    vertices = np.concatenate(verts) * CM
    n_eye = n - len(fine)
    regions = np.concatenate([tpl.regions, np.full(n_eye, region_id("eyeball"), np.uint8)])
    basis = np.concatenate([fine_bases, np.zeros((k, n_eye, 3))], axis=1) * CM
    rig = rig_from_fine(basis, vertices, centres * CM, radius * CM)
    return Mesh(
        vertices=vertices.astype(np.float32),
        faces=np.concatenate(faces).astype(np.int32),
        uv=np.concatenate(uvs).astype(np.float32),
        regions=regions,
        rig=rig,
    )
