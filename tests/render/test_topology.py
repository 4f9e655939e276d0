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
