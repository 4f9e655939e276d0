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
from pain3d.ramps import smoothstep


def _eye_width(coarse: np.ndarray, key: str) -> float:
    upper, _ = head_template().eye_loops[key]
    return float(np.linalg.norm(coarse[upper[0]] - coarse[upper[-1]]))


EYE_WIDENING = 1.08
"""Factor on the lid opening's width (about its centroid): MediaPipe's canonical eye is 0.39
of the distance between the eye centres wide, a real one about 0.45 (hand-set)."""
LID_REST_REACH_CM = 2.0
"""How far from the lid margin the skin follows the margin onto the eyeball, cm (hand-set:
at 1.2 the skin below the inner corner, which moves back up to 6 mm, was so steep that the
closing lower lid turned a triangle there on edge)."""


def place_eyeballs(coarse: np.ndarray) -> tuple[np.ndarray, float]:
    """Eyeball centres (2, 3) (right, left) and radius, cm, behind the lid margins.

    The radius scales with the lid margin's width (``EYEBALL_RADIUS_CM`` on the template),
    so that the eyeball spans the whole opening; each centre sits under the opening's
    centroid, at the depth where the margin, ``EYE_CLEARANCE_CM`` off the sphere, moves
    neither forward nor back on average (:func:`rest_lids_on_eyeballs` then puts it there).
    """
    tpl = head_template()
    ref = 0.5 * (_eye_width(tpl.coarse, "r") + _eye_width(tpl.coarse, "l"))
    width = 0.5 * (_eye_width(coarse, "r") + _eye_width(coarse, "l"))
    radius = EYEBALL_RADIUS_CM * width / ref
    need = radius + EYE_CLEARANCE_CM
    centres = []
    for key in ("r", "l"):
        loop = _rested_margin(coarse, key)
        c = loop.mean(0)
        cz = np.mean(loop[:, 2] - _cap_height(loop - c, need))
        centres.append(np.array([c[0], c[1], cz]))
    return np.stack(centres), float(radius)


def _margin(key: str) -> np.ndarray:
    """Coarse lid-margin vertices of one eye, each once (upper, then the lower's inside)."""
    upper, lower = head_template().eye_loops[key]
    return np.concatenate([upper, lower[1:-1]])


def _rested_margin(coarse: np.ndarray, key: str) -> np.ndarray:
    """(M, 3) margin of one eye widened by :data:`EYE_WIDENING` about its centroid (cm),
    before it is moved onto the eyeball."""
    m = coarse[_margin(key)]
    c = m.mean(0)
    return c + (m - c) * np.array([EYE_WIDENING, 1.0, 1.0])


def _cap_height(d: np.ndarray, r: float) -> np.ndarray:
    """(N,) height above the equator of a sphere of radius ``r`` at the offsets' (N, 3) x-y
    from its centre (0 outside its outline)."""
    return np.sqrt(np.maximum(r**2 - d[:, 0] ** 2 - d[:, 1] ** 2, 0.0))


def rest_lids_on_eyeballs(coarse: np.ndarray, centres: np.ndarray, radius: float) -> np.ndarray:
    """The coarse head (Vc, 3), cm, with each lid opening widened by :data:`EYE_WIDENING`
    and its margin moved along the view axis onto the eyeball (``EYE_CLEARANCE_CM`` off it),
    the face skin around it following.

    The canonical face's margins lie up to 6 mm in front of the sphere (the upper lid's inner
    half) and 2-4 mm behind it (the lower lid); where they stand off it, the socket wall
    between margin and eyeball shows as skin. Moving along z keeps the opening's frontal
    outline (but for the widening). The skin within :data:`LID_REST_REACH_CM` of a margin
    takes the margin's motion (interpolated by inverse squared distance), fading to none at
    the reach.
    """
    tpl = head_template()
    out = coarse.copy()
    face = np.nonzero(tpl.part == 0)[0]
    need = radius + EYE_CLEARANCE_CM
    for key, c in zip(("r", "l"), centres, strict=False):
        m = coarse[_margin(key)]
        target = _rested_margin(coarse, key)
        target[:, 2] = c[2] + _cap_height(target - c, need)
        dist = np.linalg.norm(coarse[face, None] - m[None], axis=-1)  # (F, M)
        w = 1.0 / np.maximum(dist, 1e-6) ** 2
        fade = 1 - smoothstep(0.0, 1.0, dist.min(1) / LID_REST_REACH_CM)
        out[face] += (fade / w.sum(1))[:, None] * (w @ (target - m))
    return out


LID_THICKNESS_CM = 0.18
"""How far the lid skin stands off the eyeball a lid's thickness away from the margin, cm
(hand-set: the lid's front is about 2 mm in front of the globe where the lashes grow)."""


def _thicken_lids(fine: np.ndarray, centres: np.ndarray, radius: float) -> np.ndarray:
    """The fine head (Vf, 3), cm, with the lid skin near each margin pushed radially off its
    eyeball to at least ``EYE_CLEARANCE_CM`` at the margin, rising to
    :data:`LID_THICKNESS_CM` over the next :data:`LID_THICKNESS_CM`.

    Margins resting on the eyeball would otherwise leave the skin beyond them draped over the
    globe, a lid with no thickness (and inside the texture's lash line, which is measured
    from the globe).
    """
    tpl = head_template()
    out = fine.copy()
    lids = np.isin(tpl.regions, [region_id("upper_eyelid"), region_id("lower_eyelid")])
    for key, c in zip(("r", "l"), centres, strict=False):
        margin = fine[np.concatenate(tpl.fine_eye_loops[key])]
        idx = np.nonzero(lids & (tpl.fine_part == 0))[0]
        idx = idx[np.linalg.norm(fine[idx] - c, axis=1) < 2.0 * radius]
        from_margin = np.linalg.norm(fine[idx, None] - margin[None], axis=-1).min(1)
        need = radius + EYE_CLEARANCE_CM + (LID_THICKNESS_CM - EYE_CLEARANCE_CM) * smoothstep(
            0.0, 1.0, from_margin / LID_THICKNESS_CM)
        d = fine[idx] - c
        r = np.linalg.norm(d, axis=1)
        front = d[:, 2] > 0
        push = front & (r < need)
        out[idx[push]] = c + d[push] * (need[push] / r[push])[:, None]
    return out


def builtin_mesh(identity: Identity) -> Mesh:
    """Neutral whole-head mesh of a built-in identity, metres, head frame, with its rig,
    shoulders and upper chest (:mod:`pain3d.face.torso`)."""
    from pain3d.face.torso import add_torso, torso_shape

    mesh = mesh_from_coarse(coarse_shape(identity.shape))
    return add_torso(mesh, torso_shape(identity.seed, identity.demographics.sex))


def mesh_from_coarse(coarse: np.ndarray) -> Mesh:
    """Neutral whole-head mesh, metres, with its rig, from a coarse head (Vc, 3) in cm.

    ``coarse`` is the built-in head's coarse topology in any shape (from the shape parameters,
    or fitted to a photo by :mod:`pain3d.face.photo_fit`); eye sockets are re-placed here.
    """
    tpl = head_template()
    coarse = np.array(coarse, dtype=np.float64)
    centres, radius = place_eyeballs(coarse)
    coarse = rest_lids_on_eyeballs(coarse, centres, radius)
    # Sockets: each ring sits just inside its eyeball, under the lid margin it follows.
    sock = np.nonzero(tpl.socket_of >= 0)[0]
    side = (coarse[sock, 0] > 0).astype(int)
    d = coarse[tpl.socket_of[sock]] - centres[side]
    coarse[sock] = centres[side] + (radius - 0.12) * d / np.linalg.norm(d, axis=1, keepdims=True)

    fine = _thicken_lids(tpl.subdivide @ coarse, centres, radius)
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
