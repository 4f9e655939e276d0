"""The neck of the built-in head: narrow under the jaw, leaning forward, flaring into the
shoulders with a concave nape, and clear of the jaw and chin when the jaw drops."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.face import express
from pain3d.face.head import head_template
from pain3d.face.mesh import region_id


def _parts(mesh) -> np.ndarray:
    """(V,) construction part of each vertex (eyeballs: 9), see HeadTemplate.part; the
    torso appended after the eyeballs (pain3d.face.torso, labelled neck) counts as neck."""
    tpl = head_template()
    extra = np.where(mesh.regions[tpl.n_fine:] == region_id("neck"), 5, 9)
    return np.concatenate([tpl.fine_part, extra])


def _edges(faces: np.ndarray) -> np.ndarray:
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(e, 1), axis=0)


def _neck_section(mesh, y: float) -> np.ndarray:
    """(K, 3) cm: where the neck's edges cross the plane at height ``y`` (cm)."""
    v = mesh.vertices.astype(np.float64) * 100
    neck = _parts(mesh) == 5
    e = _edges(mesh.faces[neck[mesh.faces].all(1)])
    a, b = v[e[:, 0]], v[e[:, 1]]
    cross = (a[:, 1] - y) * (b[:, 1] - y) < 0
    a, b = a[cross], b[cross]
    t = (y - a[:, 1]) / (b[:, 1] - a[:, 1])
    return a + t[:, None] * (b - a)


def _width(mesh, y: float) -> float:
    return float(np.ptp(_neck_section(mesh, y)[:, 0]))


def _back(mesh, y: float) -> float:
    """The neck's back-most z at height y, cm (on its midline: the sections are symmetric)."""
    return float(_neck_section(mesh, y)[:, 2].min())


def _chin_y(mesh) -> float:
    return float(mesh.vertices[_parts(mesh) == 0, 1].min()) * 100


def _neck_bottom_y(mesh) -> float:
    return float(mesh.vertices[_parts(mesh) == 5, 1].min()) * 100


def test_neck_is_narrowest_under_the_jaw_and_flares_into_the_shoulders(meshes):
    for mesh in meshes:
        chin = _chin_y(mesh)
        under_jaw = _width(mesh, chin - 1.0)
        # The default views' bottom edge cuts the neck ~4-5 cm below the chin: the flare
        # must have begun there (a plain tube: 1.03x), and be wide at the base (1.3x).
        assert _width(mesh, chin - 5.0) >= 1.25 * under_jaw
        assert _width(mesh, _neck_bottom_y(mesh) + 0.3) >= 2.0 * under_jaw
        assert 7.5 < under_jaw < 11.5  # a neck, not a stalk nor the jaw's width


def test_neck_leans_forward(meshes):
    for mesh in meshes:
        chin = _chin_y(mesh)
        centre = []
        for y in (chin + 4.0, chin - 4.0):
            z = _neck_section(mesh, y)[:, 2]
            centre.append((z.min() + z.max()) / 2)
        tilt = np.degrees(np.arctan2(centre[0] - centre[1], 8.0))
        assert 6.0 <= tilt <= 20.0  # a plain tube: 0


def test_nape_is_a_concave_curve_from_the_occiput_to_the_shoulders(meshes):
    for mesh in meshes:
        v = mesh.vertices.astype(np.float64) * 100
        part = _parts(mesh)
        shell = v[np.isin(part, (3, 6)) & (np.abs(v[:, 0]) < 1.0)]
        # The occiput's lowest point: the lowest skull point on the midline behind the neck.
        top = float(v[part == 5, 1].max()) - 0.3
        behind = [p for p in shell if p[1] < top and p[2] < _back(mesh, p[1]) - 0.05]
        assert behind, "the neck's back is flush with the back of the skull"
        occiput = min(behind, key=lambda p: p[1])
        # The nape ends at the shoulders, ~24 cm below the eyes (the torso goes on below).
        base_y = max(_neck_bottom_y(mesh) + 0.3, -23.7)
        base = np.array([0.0, base_y, _back(mesh, base_y)])
        mid_y = (occiput[1] + base_y) / 2
        chord_z = (occiput[2] + base[2]) / 2
        # A plain tube with a flared foot sits 0.8 cm in front of the chord.
        assert _back(mesh, mid_y) - chord_z >= 1.5


def _segments_hit_triangles(p0: np.ndarray, p1: np.ndarray, tri: np.ndarray) -> bool:
    """Whether any segment (M, 3)->(M, 3) crosses any triangle (N, 3, 3) (Moller-Trumbore)."""
    d = (p1 - p0)[:, None]
    e1, e2 = (tri[:, 1] - tri[:, 0])[None], (tri[:, 2] - tri[:, 0])[None]
    h = np.cross(d, e2)
    det = (e1 * h).sum(-1)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = p0[:, None] - tri[None, :, 0]
    u = (s * h).sum(-1) * inv
    q = np.cross(s, e1)
    w = (d * q).sum(-1) * inv
    t = (e2 * q).sum(-1) * inv
    return bool((ok & (u >= 0) & (w >= 0) & (u + w <= 1) & (t >= 0) & (t <= 1)).any())


def _neck_crosses_the_face(mesh) -> bool:
    """Whether the neck's surface cuts through the face's (jaw, chin, cheeks)."""
    v = mesh.vertices.astype(np.float64)
    part = _parts(mesh)
    f = mesh.faces
    neck_f = f[(part[f] == 5).all(1)]
    face_f = f[(part[f] == 0).all(1)]
    face_f = face_f[v[face_f, 1].min(1) < -0.05]  # the lower face only
    hits = False
    for edges, tris in ((_edges(neck_f), face_f), (_edges(face_f), neck_f)):
        for chunk in np.array_split(edges, max(1, len(edges) // 200)):
            hits |= _segments_hit_triangles(v[chunk[:, 0]], v[chunk[:, 1]], v[tris])
    return hits


def _throat_behind_chin(mesh) -> float:
    """How far (cm) behind the chin's lowest point the neck's front leaves the head: the first
    point of the neck's front line, going down, below the head's underside on the midline."""
    v = mesh.vertices.astype(np.float64) * 100
    mid = v[np.isin(_parts(mesh), (0, 3, 6)) & (np.abs(v[:, 0]) < 0.6)]
    chin = mid[np.argmin(mid[:, 1])]
    under = mid[(mid[:, 1] < -5.0) & (mid[:, 2] < chin[2]) & (mid[:, 2] > -9.0)]
    under = under[np.argsort(under[:, 2])]
    for y in np.arange(float(v[_parts(mesh) == 5, 1].max()) - 0.2, chin[1] - 5.0, -0.1):
        z = _neck_section(mesh, y)[:, 2].max()
        if y < np.interp(z, under[:, 2], under[:, 1]):
            return float(chin[2] - z)
    raise AssertionError("the neck's front never leaves the head")


@pytest.mark.parametrize("jaw_drop", [0.0, 5.0])
def test_neck_leaves_the_head_behind_the_chin_even_when_the_jaw_drops(meshes, jaw_drop):
    for mesh in meshes:
        pain = np.array([5.0, 5.0, 5.0, 4.0, 4.0, 0.0])
        mesh = express(mesh, pain, nuisance={"AU26": jaw_drop}) if jaw_drop else mesh
        assert not _neck_crosses_the_face(mesh)
        assert _throat_behind_chin(mesh) >= 2.5
