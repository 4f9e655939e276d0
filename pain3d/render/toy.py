"""A small stand-in head (ellipsoid with eyeballs and region labels) for tests and benchmarks.

It has the same conventions as the real identity meshes of :mod:`pain3d.face` (head frame,
metres, CCW faces, UVs, region ids, eyeballs in the same mesh) but no face shape, so render
tests and benchmarks do not depend on the geometry stage.
"""

from __future__ import annotations

import numpy as np

from pain3d.face.mesh import Mesh, region_id


def uv_sphere(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit sphere with a seam; returns vertices (V, 3), CCW faces (F, 3), uv (V, 2).

    The pole axis is +y; u = longitude measured from +z toward +x, v = latitude (0 at -y).
    """
    lat = np.linspace(0.0, np.pi, n_lat + 1)  # from +y (top) down to -y
    lon = np.linspace(-np.pi, np.pi, n_lon + 1)
    th, ph = np.meshgrid(lat, lon, indexing="ij")
    v = np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], -1)
    uv = np.stack([(ph + np.pi) / (2 * np.pi), 1.0 - th / np.pi], -1)
    idx = np.arange((n_lat + 1) * (n_lon + 1)).reshape(n_lat + 1, n_lon + 1)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    v = v.reshape(-1, 3)
    area = np.linalg.norm(np.cross(v[faces[:, 1]] - v[faces[:, 0]],
                                   v[faces[:, 2]] - v[faces[:, 0]]), axis=1)
    faces = faces[area > 1e-12]
    return v, faces.astype(np.int32), uv.reshape(-1, 2)


def toy_head(n_lat: int = 48, n_lon: int = 64, eyes: bool = True) -> Mesh:
    """An ellipsoid head (about 15 x 22 x 19 cm) with labelled regions and two eyeballs.

    Regions are assigned by position: forehead, brows, eyelids, nose, cheeks, lips, chin,
    scalp, ears and neck, so every appearance and part code path is exercised.
    """
    v, f, uv = uv_sphere(n_lat, n_lon)
    centre = np.array([0.0, 0.0, -0.075])
    head = v * np.array([0.075, 0.11, 0.095]) + centre
    x, y, z = head.T
    reg = np.full(len(head), region_id("skin"), np.uint8)
    front = z > -0.01
    reg[(y > 0.045)] = region_id("scalp")
    reg[front & (y > 0.012) & (y <= 0.045)] = region_id("forehead")
    reg[front & (y > 0.005) & (y <= 0.018) & (np.abs(x) > 0.012)] = region_id("brow")
    reg[front & (y > 0.005) & (y <= 0.03) & (np.abs(x) <= 0.012)] = region_id("glabella")
    reg[front & (y > -0.055) & (y <= 0.005) & (np.abs(x) < 0.014)] = region_id("nose")
    reg[front & (y > -0.06) & (y <= 0.0) & (np.abs(x) >= 0.014)] = region_id("cheek")
    reg[front & (y > -0.085) & (y <= -0.067) & (np.abs(x) < 0.025)] = region_id("lips")
    reg[front & (y > -0.067) & (y <= -0.055) & (np.abs(x) < 0.02)] = region_id("upper_lip_skin")
    reg[front & (y <= -0.085)] = region_id("chin_jaw")
    reg[(np.abs(x) > 0.068) & (np.abs(y + 0.01) < 0.03)] = region_id("ear")
    reg[(y < -0.095) & ~front] = region_id("neck")
    parts = [Mesh(head.astype(np.float32), f, uv.astype(np.float32), reg)]
    if eyes:
        ev, ef, euv = uv_sphere(10, 14)
        for side in (-1.0, 1.0):
            c = np.array([0.032 * side, 0.0, 0.005])
            ev_s = ev * 0.012 + c
            parts.append(Mesh(ev_s.astype(np.float32), ef + 0,
                              (euv * 0.1 + [0.9 if side > 0 else 0.8, 0.9]).astype(np.float32),
                              np.full(len(ev_s), region_id("eyeball"), np.uint8)))
    verts, faces, uvs, regs, off = [], [], [], [], 0
    for p in parts:
        verts.append(p.vertices)
        faces.append(p.faces + off)
        uvs.append(p.uv)
        regs.append(p.regions)
        off += len(p.vertices)
    return Mesh(np.concatenate(verts).astype(np.float32), np.concatenate(faces).astype(np.int32),
                np.concatenate(uvs).astype(np.float32), np.concatenate(regs).astype(np.uint8))
