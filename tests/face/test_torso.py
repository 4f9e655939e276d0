"""The procedural torso: shoulders of a person's width, joined to the neck without a gap,
never moved by an expression."""

from __future__ import annotations

import numpy as np

from pain3d.face import express
from pain3d.face.head import head_template
from pain3d.face.mesh import region_id


def _open_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) edges used by one triangle only."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1)
    uniq, count = np.unique(e, axis=0, return_counts=True)
    return uniq[count == 1]


def test_shoulders_are_a_persons_width_and_much_wider_than_the_neck(meshes):
    for mesh in meshes:
        v = mesh.vertices.astype(np.float64)
        neck = v[mesh.regions == region_id("neck")]
        chin = float(v[mesh.regions == region_id("chin_jaw"), 1].min())
        under_jaw = neck[np.abs(neck[:, 1] - (chin - 0.01)) < 0.01]
        neck_w = float(np.ptp(under_jaw[:, 0]))
        shoulders = float(np.ptp(neck[:, 0]))  # across the deltoids
        # Biacromial 36-46 cm plus the deltoids; main's neck flares to 27 cm.
        assert 0.38 < shoulders < 0.54
        assert shoulders > 3.5 * neck_w
        # The shoulders' top lies 8-14 cm below the chin, the trapezius sloping down to it.
        side = neck[np.abs(neck[:, 0]) > 0.8 * shoulders / 2]
        assert chin - 0.14 < side[:, 1].max() < chin - 0.08


def test_neck_and_torso_are_one_surface_open_only_at_the_torsos_lower_edge(meshes):
    for mesh in meshes:
        body = np.nonzero(mesh.regions == region_id("neck"))[0]
        faces = mesh.faces[np.isin(mesh.faces, body).all(1)]
        edges = _open_edges(faces)
        y = mesh.vertices[edges].mean(1)[:, 1]
        top = y > -0.08  # the neck's top, sunk in the head
        assert (y[~top] < -0.35).all(), "an open edge (a seam or gap) between neck and torso"
        assert (~top).sum() >= 16


def test_expressions_leave_the_torso_still(meshes):
    mesh = meshes[0]
    n_head = head_template().n_fine
    moved = express(mesh, [5, 5, 5, 4, 4, 1], nuisance={"AU26": 3.0})
    d = np.linalg.norm(moved.vertices - mesh.vertices, axis=1)
    torso = np.arange(mesh.n_vertices) >= n_head
    torso &= mesh.regions == region_id("neck")
    assert torso.sum() >= 200
    assert d[torso].max() == 0.0
    assert d[:n_head].max() > 0.005  # the face did move
