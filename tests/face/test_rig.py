"""AU rig behaviour measured on the mesh, for several identities."""

from __future__ import annotations

import numpy as np
import pytest
from _face_measure import (
    aus,
    brow_eye_distance,
    cheek_height,
    eye_aperture,
    face_normals,
    nose_lip_distance,
)

from pain3d.face import HEATMAP_SCALE_M, au_attribution, displacement, express, region_id
from pain3d.face.head import head_template
from pain3d.facs import AU_NAMES

LEVELS = [0, 1, 2, 3, 4, 5]


def _series(mesh, au: str, measure) -> np.ndarray:
    levels = [0, 1] if au == "AU43" else LEVELS
    return np.array([measure(express(mesh, aus(**{au: a}))) for a in levels])


def _strictly_decreasing(x: np.ndarray) -> bool:
    return bool(np.all(np.diff(x) < 0))


@pytest.mark.parametrize("au", ["AU43", "AU7"])
def test_eye_aperture_decreases_with_lid_aus(meshes, au):
    for mesh in meshes:
        assert _strictly_decreasing(_series(mesh, au, eye_aperture))


def test_au43_closes_the_lids_completely(meshes):
    for mesh in meshes:
        assert eye_aperture(mesh) > 0.004
        assert eye_aperture(express(mesh, aus(AU43=1))) < 1e-5
        # Closed on top of other lid AUs too.
        assert eye_aperture(express(mesh, [5, 5, 5, 5, 5, 1])) < 1e-5


def test_brow_to_eye_distance_decreases_with_au4(meshes):
    for mesh in meshes:
        d = _series(mesh, "AU4", brow_eye_distance)
        assert _strictly_decreasing(d)
        assert d[0] - d[-1] > 0.003


@pytest.mark.parametrize("au", ["AU9", "AU10"])
def test_nose_to_upper_lip_distance_decreases(meshes, au):
    for mesh in meshes:
        d = _series(mesh, au, nose_lip_distance)
        assert _strictly_decreasing(d)
        assert d[0] - d[-1] > 0.0015


def test_cheeks_rise_with_au6(meshes):
    for mesh in meshes:
        h = _series(mesh, "AU6", cheek_height)
        assert np.all(np.diff(h) > 0)
        assert h[-1] - h[0] > 0.002


AU_REGIONS = {
    "AU4": ("brow", "glabella", "forehead", "upper_eyelid", "nose"),
    "AU6": ("cheek", "lower_eyelid", "skin", "nose"),
    "AU7": ("upper_eyelid", "lower_eyelid", "cheek", "brow", "skin"),  # skin: lateral orbit
    "AU9": ("nose", "upper_lip_skin", "lips", "glabella", "cheek", "mouth_interior"),
    "AU10": ("upper_lip_skin", "lips", "nose", "cheek", "mouth_interior"),
    "AU43": ("upper_eyelid", "lower_eyelid"),
}


@pytest.mark.parametrize("au", AU_NAMES)
def test_each_au_moves_mostly_its_own_region(meshes, au):
    ids = [region_id(r) for r in AU_REGIONS[au]]
    for mesh in meshes:
        d = displacement(mesh, express(mesh, aus(**{au: 1 if au == "AU43" else 5})))
        energy = d.astype(np.float64) ** 2
        inside = np.isin(mesh.regions, ids)
        assert energy[inside].sum() / energy.sum() > 0.85, au


def test_zero_aus_return_the_identity_mesh(meshes):
    for mesh in meshes:
        assert express(mesh, np.zeros(6)) is mesh
        assert express(mesh, {"AU4": 0}, nuisance={"AU12": 0}) is mesh


def test_express_does_not_modify_its_input(meshes):
    mesh = meshes[0]
    before = mesh.vertices.copy()
    express(mesh, [5, 5, 5, 5, 5, 1], nuisance={"AU26": 5})
    assert np.array_equal(mesh.vertices, before)


CONFIGS = [aus(**{a: (1 if a == "AU43" else 5)}) for a in AU_NAMES] + [
    np.array([5, 5, 5, 5, 5, 1.0]),
    np.array([5, 5, 5, 5, 5, 0.0]),
    aus(AU6=5, AU43=1),
    aus(AU6=5, AU7=5),
]


def _visible_faces(mesh) -> np.ndarray:
    """Faces not in the eye sockets (which fold shut, hidden, behind closed lids)."""
    tpl = head_template()
    part = np.concatenate([tpl.fine_part, np.zeros(mesh.n_vertices - tpl.n_fine, np.int8)])
    return (part[mesh.faces] != 1).all(1)


def test_no_triangle_flips_at_full_intensity(meshes):
    for mesh in meshes:
        visible = _visible_faces(mesh)
        n0 = face_normals(mesh)[visible]
        for cfg in CONFIGS:
            for nuisance in (None, {"AU25": 5, "AU26": 5, "AU12": 5, "AU1": 5, "AU2": 5}):
                n1 = face_normals(express(mesh, cfg, nuisance=nuisance))[visible]
                cos = (n0 * n1).sum(1) / np.maximum(
                    np.linalg.norm(n0, axis=1) * np.linalg.norm(n1, axis=1), 1e-30
                )
                assert cos.min() > 0.0, (cfg, nuisance)


def test_lid_margins_never_cross(meshes):
    tpl = head_template()
    for mesh in meshes:
        for cfg in CONFIGS:
            v = express(mesh, cfg).vertices
            for key in ("r", "l"):
                upper, lower = tpl.fine_eye_loops[key]
                assert np.all(v[upper[1:-1], 1] >= v[lower[1:-1], 1] - 1e-6)


def test_lids_stay_in_front_of_the_eyeballs(meshes):
    for mesh in meshes:
        rig = mesh.rig
        for cfg in CONFIGS:
            v = express(mesh, cfg).vertices
            lids = v[rig.lid_vertices]
            side = (lids[:, 0] > 0).astype(int)
            r = np.linalg.norm(lids - rig.eye_centres[side], axis=1)
            assert r.min() >= rig.eye_radius - 1e-6


def test_eye_sockets_stay_hidden_inside_the_eyeballs(meshes):
    for mesh in meshes:
        rig = mesh.rig
        for cfg in CONFIGS:
            v = express(mesh, cfg).vertices[rig.socket_vertices]
            r = np.linalg.norm(v - rig.eye_centres[(v[:, 0] > 0).astype(int)], axis=1)
            assert np.all(r <= rig.socket_radius * (1 + 1e-4))  # never further out
            if cfg[-1] == 1:  # closed lids: the whole socket sinks into the eyeball
                assert r.max() < rig.eye_radius
        ring = rig.socket_vertices[rig.socket_radius < rig.eye_radius]
        assert len(ring) >= 32  # the coarse socket rings (16 per eye) sit inside the eyeball


def test_heatmap_scale_covers_the_strongest_expression(meshes):
    for mesh in meshes:
        d = displacement(mesh, express(mesh, [5, 5, 5, 5, 5, 1]))
        assert 0.5 < d.max() / HEATMAP_SCALE_M < 1.5
        assert np.all(displacement(mesh, mesh) == 0)


def test_displacement_grows_with_pain(meshes):
    mesh = meshes[0]
    totals = [
        displacement(mesh, express(mesh, np.array([a, a, a, a, a, 0.0]))).sum() for a in LEVELS
    ]
    assert np.all(np.diff(totals) > 0)


def test_attribution_names_the_active_aus(meshes):
    mesh = meshes[0]
    parts = au_attribution(mesh, aus(AU4=3, AU9=2), nuisance={"AU26": 1})
    assert set(parts) == {"AU4", "AU9", "AU26"}
    assert all(p.shape == (mesh.n_vertices,) for p in parts.values())


def test_invalid_aus_are_rejected_with_their_name(meshes):
    with pytest.raises(ValueError, match="AU43"):
        express(meshes[0], aus(AU43=0.5))
    with pytest.raises(ValueError, match="AU5"):
        express(meshes[0], np.zeros(6), nuisance={"AU5": 1})


@pytest.mark.slow
def test_no_flips_across_many_identities():
    from pain3d.face import identity_mesh, sample_identities

    for ident in sample_identities(120, seed=11):
        mesh = identity_mesh(ident)
        visible = _visible_faces(mesh)
        n0 = face_normals(mesh)[visible]
        for cfg in CONFIGS:
            for nu in (None, {"AU25": 5, "AU26": 5, "AU12": 5, "AU1": 5, "AU2": 5}):
                n1 = face_normals(express(mesh, cfg, nuisance=nu))[visible]
                assert ((n0 * n1).sum(1) > 0).all(), (ident.index, cfg, nu)


def test_vector_norms_are_numpys_norms_exactly():
    from pain3d.face.mesh import vector_norms

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((4, 5000, 3)) * rng.uniform(0, 0.01, (4, 5000, 3))).astype(dtype)
        assert np.array_equal(vector_norms(x), np.linalg.norm(x, axis=-1))
        assert np.array_equal(vector_norms(x[0]), np.linalg.norm(x[0], axis=1))
