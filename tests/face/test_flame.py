"""FLAME backend on a tiny fake model pickled the way old FLAME files are (chumpy arrays)."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp

from pain3d.face import displacement, express, identity_mesh, sample_identities
from pain3d.face.flame import FLAME_KEYS, FlameError, load_flame
from pain3d.face.head import _sphere_grid


def _fake_chumpy(monkeypatch) -> type:
    """A stand-in ``chumpy.ch.Ch`` that pickles like chumpy (class path + state dict)."""
    ch_mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x)
            self._dirty_vars = set()

        def __getstate__(self):
            return {"x": self.x, "_dirty_vars": self._dirty_vars, "dterms": ()}

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch_mod.Ch = Ch
    root = types.ModuleType("chumpy")
    root.ch = ch_mod
    monkeypatch.setitem(sys.modules, "chumpy", root)
    monkeypatch.setitem(sys.modules, "chumpy.ch", ch_mod)
    return Ch


def _fake_flame_dict(ch) -> dict:
    unit, faces, _ = _sphere_grid(16, 24)
    # A head-sized ellipsoid facing +z with a nose bump.
    v = unit * np.array([0.075, 0.11, 0.095])
    v[:, 2] += 0.02 * np.exp(-((v[:, 0] / 0.015) ** 2 + ((v[:, 1] + 0.01) / 0.02) ** 2))
    rng = np.random.default_rng(0)
    n = len(v)
    shapedirs = 0.002 * np.tanh(v[:, :, None] * rng.normal(size=(1, 3, 12)) * 20)
    return {
        "v_template": ch(v),
        "shapedirs": ch(shapedirs),
        "posedirs": ch(np.zeros((n, 3, 36))),
        "J_regressor": sp.csc_matrix(np.full((5, n), 1.0 / n)),
        "weights": ch(np.full((n, 5), 0.2)),
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]]),
        "f": faces.astype(np.uint32),
        "bs_style": "lbs",
    }


@pytest.fixture
def flame_folder(tmp_path, monkeypatch):
    ch = _fake_chumpy(monkeypatch)
    data = _fake_flame_dict(ch)
    (tmp_path / "generic_model.pkl").write_bytes(pickle.dumps(data, protocol=2))
    # Loading must not need chumpy.
    monkeypatch.delitem(sys.modules, "chumpy")
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    return tmp_path


def test_chumpy_pickle_loads_without_chumpy(flame_folder):
    model = load_flame(flame_folder, n_shape=8)
    assert model.v_template.shape == (len(model.v_template), 3)
    assert model.shapedirs.shape[2] == 12
    assert model.n_shape == 8
    assert "chumpy" not in sys.modules


def test_flame_identities_express_and_stay_neutral_at_zero(flame_folder):
    model = load_flame(flame_folder, n_shape=8)
    ids = sample_identities(3, seed=1, face_model="flame", flame=model)
    assert ids == sample_identities(3, seed=1, face_model="flame", flame=model)
    a, b = (identity_mesh(i, flame=model) for i in ids[:2])
    assert not np.allclose(a.vertices, b.vertices)
    assert express(a, np.zeros(6)) is a
    d = displacement(a, express(a, [5, 5, 5, 5, 5, 1]))
    assert d.max() > 0.001
    front = a.vertices[:, 2] > np.percentile(a.vertices[:, 2], 70)
    assert d[front].sum() > d[~front].sum()  # the rig acts on the face, not the back
    assert a.uv.min() >= 0 and a.uv.max() <= 1
    assert a.regions.shape == (a.n_vertices,)


def test_missing_folder_lists_what_was_expected(tmp_path):
    with pytest.raises(FlameError, match="generic_model.pkl"):
        load_flame(tmp_path / "nowhere")
    with pytest.raises(FlameError, match="no .pkl"):
        load_flame(tmp_path)


def test_malformed_model_lists_the_expected_keys(tmp_path):
    (tmp_path / "generic_model.pkl").write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}))
    with pytest.raises(FlameError) as err:
        load_flame(tmp_path)
    for key in FLAME_KEYS:
        assert key in str(err.value)


def test_pickles_with_foreign_classes_are_refused(tmp_path):
    (tmp_path / "generic_model.pkl").write_bytes(pickle.dumps({"x": types.SimpleNamespace()}))
    with pytest.raises(FlameError, match="refusing"):
        load_flame(tmp_path)


def test_landmark_embedding_file_sets_the_correspondences(flame_folder):
    from pain3d.face.flame import EMBEDDING_NAME

    plain = load_flame(flame_folder, n_shape=4)
    faces = plain.lmk_faces[:60]
    bary = np.full((60, 3), 1 / 3)
    np.savez(flame_folder / EMBEDDING_NAME, landmark_indices=plain.landmarks[:60],
             lmk_face_idx=faces, lmk_b_coords=bary)  # fmt: skip
    model = load_flame(flame_folder, n_shape=4)
    assert len(model.landmarks) == 60
    np.testing.assert_array_equal(model.lmk_faces, faces)
    mesh = identity_mesh(sample_identities(1, face_model="flame", flame=model)[0], flame=model)
    assert displacement(mesh, express(mesh, [5, 0, 0, 0, 0, 0])).max() > 0
