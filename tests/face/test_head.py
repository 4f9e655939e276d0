"""The neutral whole head: topology, frame, regions, UVs, eyes."""

from __future__ import annotations

import numpy as np

from pain3d.face import REGIONS, region_id
from pain3d.face.head import head_template


def _directed_edges(faces: np.ndarray) -> np.ndarray:
    return np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])


def test_mesh_is_an_oriented_manifold_with_only_the_expected_openings(meshes):
    mesh = meshes[0]
    d = _directed_edges(mesh.faces.astype(np.int64))
    keys = d[:, 0] * mesh.n_vertices + d[:, 1]
    assert len(np.unique(keys)) == len(keys)  # consistent winding, no edge used twice one way
    rev = d[:, 1] * mesh.n_vertices + d[:, 0]
    open_edges = d[~np.isin(rev, keys)]
    # Openings: the two socket rings inside the eyeballs, the neck's two ends, and the seam
    # of the occiput cap, whose edges coincide in space with the skull's last ring.
    regions = mesh.regions[open_edges]
    scalp = (regions == region_id("scalp")).all(1)
    others = {region_id("neck"), region_id("upper_eyelid"), region_id("lower_eyelid")}
    assert set(regions[~scalp].ravel().tolist()) <= others
    seam = mesh.vertices[open_edges[scalp]].round(6)
    fwd = {tuple(e.ravel()) for e in seam}
    assert all(tuple(e[::-1].ravel()) in fwd for e in seam)  # every seam edge has a twin
    assert scalp.sum() >= 36


def test_head_has_several_thousand_vertices_and_every_region(meshes):
    mesh = meshes[0]
    assert 4000 < mesh.n_vertices < 20000
    assert set(np.unique(mesh.regions).tolist()) == set(range(len(REGIONS)))
    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int32


def test_frame_is_metres_with_the_origin_between_the_eyes(meshes):
    for mesh in meshes:
        c = mesh.rig.eye_centres
        mid = c.mean(0)
        assert abs(mid[0]) < 1e-3 and abs(mid[1]) < 0.005
        assert 0.05 < c[1, 0] - c[0, 0] < 0.075  # left eye at +x, ~6 cm apart
        v = mesh.vertices
        face = mesh.regions == region_id("nose")
        assert v[face, 2].max() > 0.02  # nose toward the camera (+z)
        top = v[mesh.regions == region_id("scalp"), 1].max()
        assert 0.09 < top < 0.15  # crown above the eyes
        head = v[mesh.regions != region_id("neck")]  # not the neck and torso
        assert 0.17 < head[:, 2].max() - head[:, 2].min() < 0.26  # head depth


def test_outward_normals(meshes):
    mesh = meshes[0]
    n = mesh.vertex_normals()
    v = mesh.vertices
    centre = np.array([0.0, 0.01, -0.075])
    head = np.isin(mesh.regions, [region_id("scalp"), region_id("forehead"), region_id("cheek")])
    assert np.mean(((v[head] - centre) * n[head]).sum(1) > 0) > 0.97


def test_uvs_lie_in_the_unit_square_and_the_face_is_not_mirrored(meshes):
    mesh = meshes[0]
    assert mesh.uv.min() >= 0 and mesh.uv.max() <= 1
    # No triangle spans the chart (rim-adjacent ones at the occiput are long, ~0.16).
    head = ~np.isin(mesh.regions, [region_id("eyeball")])[mesh.faces].any(1)
    t = mesh.uv[mesh.faces[head]]
    assert np.linalg.norm(t - t[:, [1, 2, 0]], axis=2).max() < 0.2
    cheek = mesh.regions == region_id("cheek")
    left = cheek & (mesh.vertices[:, 0] > 0.002)
    assert np.all(mesh.uv[left, 0] > 0.5)  # subject's left -> right half of the texture


def test_eyeballs_sit_behind_the_lids(meshes):
    for mesh in meshes:
        rig = mesh.rig
        lids = np.isin(mesh.regions, [region_id("upper_eyelid"), region_id("lower_eyelid")])
        lids &= ~np.isin(np.arange(mesh.n_vertices), rig.socket_vertices)
        v = mesh.vertices[lids]
        side = (v[:, 0] > 0).astype(int)
        r = np.linalg.norm(v - rig.eye_centres[side], axis=1)
        assert r.min() >= rig.eye_radius
        eye = mesh.vertices[mesh.regions == region_id("eyeball")]
        assert len(eye) > 200


def test_subdivision_keeps_the_coarse_vertices_first():
    tpl = head_template()
    assert tpl.subdivide.shape == (tpl.n_fine, len(tpl.coarse))
    rows = np.asarray(tpl.subdivide.sum(1)).ravel()
    np.testing.assert_allclose(rows, 1.0, atol=1e-12)  # affine: translations commute


def test_mouth_interior_is_clear_of_the_neck_and_eyes_clear_of_each_other(meshes):
    tpl = head_template()
    for mesh in meshes:
        part = np.concatenate([tpl.fine_part, np.full(mesh.n_vertices - tpl.n_fine, 9)])
        bag, neck = mesh.vertices[part == 2], mesh.vertices[part == 5]
        neck = neck[neck[:, 1] > bag[:, 1].min() - 0.005]
        assert bag[:, 2].min() > neck[:, 2].max() + 0.003
        c = mesh.rig.eye_centres
        assert np.linalg.norm(c[1] - c[0]) > 2 * mesh.rig.eye_radius + 0.005


def test_vertex_normals_sum_each_vertexs_faces_exactly(meshes):
    mesh = meshes[0]
    v = mesh.vertices.astype(np.float64)
    tri = v[mesh.faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, mesh.faces[:, k], fn)
    want = (vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    assert np.array_equal(mesh.vertex_normals(), want)
