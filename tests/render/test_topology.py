"""The renderer's per-topology operators (vertex normals for each expression)."""

from __future__ import annotations

import numpy as np

from pain3d.render.topology import Topology


def test_vertex_normals_are_area_weighted_face_normals_of_the_moved_vertices(head):
    topo = Topology(head, None, np.float32(0.3), np.float32(0.0))
    rng = np.random.default_rng(0)
    moved = (head.vertices + rng.normal(0, 2e-3, head.vertices.shape)).astype(np.float32)
    got = topo.normals(moved)
    want = Topology._normals_once(moved, head.faces.astype(np.int64))  # float64 np.add.at
    assert got.dtype == np.float32 and got.shape == moved.shape
    assert np.abs(got - want).max() < 1e-5
    assert np.abs(got - topo.normals(head.vertices)).max() > 1e-2  # they did move


def test_gl_rows_follow_first_use_and_draw_the_same_triangles_front_to_back(head):
    spec = np.linspace(0, 1, head.n_vertices, dtype=np.float32)  # tells vertices apart
    topo = Topology(head, None, spec, np.float32(0.0))
    rows = topo.dynamic(head.vertices, None)
    faces = topo.faces.astype(np.int64)
    # Each index is first used after the one before it.
    _, first = np.unique(faces.ravel(), return_index=True)
    assert (np.diff(first) > 0).all()
    # The same triangles as the mesh's (as position triples), still front to back.
    drawn = rows[faces][..., :3]
    want = {tuple(np.sort(t.ravel())) for t in head.vertices[head.faces].astype(np.float32)}
    assert {tuple(np.sort(t.ravel())) for t in drawn} == want
    assert (np.diff(drawn[..., 2].mean(axis=1)) <= 1e-7).all()
    # Static channels travel with their vertex: a row's spec belongs to its position.
    back = np.argsort(topo.static[:, 3])  # rows by the original vertex order
    assert np.array_equal(rows[back, :3], head.vertices.astype(np.float32))
