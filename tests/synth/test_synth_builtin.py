"""End to end with the real face, appearance and render stages (tiny: 2 identities, 64 px)."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from synth_helpers import make, tree_digest

from pain3d.synth.config import GenerateConfig
from pain3d.synth.generate import sample_files
from pain3d.synth.verify import verify


def tiny_builtin(**kw) -> GenerateConfig:
    base = dict(identities=2, per_identity=2, views=3, size=64, seed=11, layout="both",
                extras=("masks",), shard_identities=1)
    base.update(kw)
    return GenerateConfig(**base)


@pytest.fixture(scope="module")
def real_dataset(tmp_path_factory):
    cfg = tiny_builtin()
    return make(tmp_path_factory.mktemp("real") / "ds", cfg), cfg


def _read(root, rel):
    return cv2.imread(str(root / rel), cv2.IMREAD_UNCHANGED)


def test_real_dataset_verifies_and_matches_its_manifest(real_dataset):
    root, cfg = real_dataset
    rep = verify(root)
    assert rep.ok, rep.text()
    df = pd.read_parquet(root / "manifest.parquet")
    assert len(df) == 2 * 3 * 3
    for _, row in df.iterrows():
        img = _read(root, row["path"])
        mask = _read(root, row["mask_path"])
        assert img.shape == (64, 64, 3) and img.std() > 5, row["path"]
        # A head fills a sensible part of the frame in every view.
        assert 0.1 < (mask > 0).mean() < 0.9, row["path"]


def test_pain_changes_the_face_and_the_heatmap_lights_up(real_dataset):
    root, _ = real_dataset
    df = pd.read_parquet(root / "manifest.parquet")
    for (_ident, view), g in df.groupby(["identity", "view"]):
        neutral = _read(root, g[g.expression == "neutral"]["path"].iloc[0]).astype(int)
        for _, row in g[g.expression != "neutral"].iterrows():
            pain = _read(root, row["path"]).astype(int)
            mask = _read(root, row["mask_path"]) > 0
            assert np.abs(pain - neutral)[mask].mean() > 0.5, row["path"]
            if view == 0:
                heat = _read(root, row["heatmap_path"])
                assert heat.shape == (64, 64, 3) and heat.max() > 0, row["heatmap_path"]


def test_real_renders_regenerate_byte_for_byte(real_dataset):
    root, cfg = real_dataset
    files = sample_files(cfg, "flame_sample_0001_pain_2")
    assert len(files) == 3 + 3 + 2  # images, masks, heatmap + annotation
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel


def test_real_renders_do_not_depend_on_the_worker_count(tmp_path):
    cfg = tiny_builtin(identities=2, per_identity=1)
    one = tree_digest(make(tmp_path / "w1", cfg, workers=1))
    two = tree_digest(make(tmp_path / "w2", cfg, workers=2))
    differ = sorted(k for k in one if one[k] != two.get(k))
    assert not differ and one.keys() == two.keys(), differ[:5]


def _fake_flame_folder(folder):
    """A tiny FLAME-like model (ellipsoid with a nose bump) with the keys FLAME files have."""
    import pickle

    import scipy.sparse as sp

    from pain3d.face.head import _sphere_grid

    unit, faces, _ = _sphere_grid(16, 24)
    v = unit * np.array([0.075, 0.11, 0.095])
    v[:, 2] += 0.02 * np.exp(-((v[:, 0] / 0.015) ** 2 + ((v[:, 1] + 0.01) / 0.02) ** 2))
    n = len(v)
    rng = np.random.default_rng(0)
    data = {"v_template": v,
            "shapedirs": 0.002 * np.tanh(v[:, :, None] * rng.normal(size=(1, 3, 12)) * 20),
            "posedirs": np.zeros((n, 3, 36)), "J_regressor": sp.csc_matrix(np.full((5, n), 1 / n)),
            "weights": np.full((n, 5), 0.2), "f": faces.astype(np.uint32),
            "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]])}
    folder.mkdir()
    (folder / "generic_model.pkl").write_bytes(pickle.dumps(data, protocol=2))
    return folder


def test_flame_face_model_and_photo_backgrounds_generate_valid_datasets(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        cv2.imwrite(str(photos / f"p{i}.png"), np.full((80, 120, 3), (0, 230, 0), np.uint8))
    cfg = tiny_builtin(identities=1, per_identity=1, views=2, size=48, extras=(),
                       face_model="flame", flame_dir=str(_fake_flame_folder(tmp_path / "flame")),
                       backgrounds=str(photos))
    root = make(tmp_path / "ds", cfg)
    rep = verify(root)
    assert rep.ok, rep.text()
    corner = _read(root, "meshes_inpainted/flame_sample_0000_neutral_textured_view_000_inpainted"
                   ".jpg")[:6, :6].reshape(-1, 3).mean(0)  # BGR
    assert corner[1] > 140 and corner[0] < 60 and corner[2] < 60  # the green photo
    # FLAME keypoints from the canonical correspondences: eyes side by side, mouth below
    df = pd.read_parquet(root / "manifest.parquet")
    from pain3d.synth.keypoints import keypoints_from_row

    for _, row in df.iterrows():
        kp = keypoints_from_row(row)
        assert kp is not None and ((kp > 0) & (kp < 48)).all(), row["path"]
        assert kp[0, 0] < kp[1, 0] and kp[2, 1] > kp[:2, 1].max() + 3, kp


def test_generator_keypoints_crop_like_mediapipe_at_inference(tmp_path):
    """Training crops from the generator's keypoints match inference crops from MediaPipe's
    landmarks on the same renders: the face's eyes and mouth land within a few pixels."""
    from pain3d.data.align import alignment_matrix, face_keypoints
    from pain3d.infer.detect import FaceDetector
    from pain3d.synth.keypoints import keypoints_from_row

    cfg = tiny_builtin(identities=1, per_identity=2, size=256, layout="3dpain", extras=())
    root = make(tmp_path / "ds", cfg)
    df = pd.read_parquet(root / "manifest.parquet")
    size, dist = 128, []
    with FaceDetector() as det:
        for _, row in df.iterrows():
            img = cv2.cvtColor(_read(root, row["path"]), cv2.COLOR_BGR2RGB)
            face, _ = det(img)
            assert face is not None and face.landmarks is not None, row["path"]
            seen = face_keypoints(face.landmarks)
            ours, theirs = (alignment_matrix(k, size) for k in (keypoints_from_row(row), seen))
            # where the face's eyes and mouth land in the training and the inference crop
            a = seen @ ours[:, :2].T + ours[:, 2]
            b = seen @ theirs[:, :2].T + theirs[:, 2]
            dist.append(np.linalg.norm(a - b, axis=1))
    dist = np.array(dist)
    # measured: median 0.5 px, max 1.4 px at first; pain3d 0.9: median 0.55, max 2.8; 0.10
    # (stray hairs at the outline): median 0.65, max 3.3. The max is MediaPipe's own jitter on
    # the most closed eyes, which moves with any change of the pixels; the median is the
    # crops' agreement.
    assert len(dist) == 9 and np.median(dist) < 1.0 and dist.max() < 4.0, dist.round(2)


def test_antialias_smooths_edges_without_moving_the_face(tmp_path):
    cfg = tiny_builtin(identities=1, per_identity=1, views=1, size=96, extras=(),
                       layout="3dpain")
    plain = make(tmp_path / "aa1", cfg)
    smooth = make(tmp_path / "aa2", tiny_builtin(identities=1, per_identity=1, views=1, size=96,
                                                  extras=(), layout="3dpain", antialias=2))
    assert verify(smooth).ok
    df = pd.read_parquet(plain / "manifest.parquet")
    assert (pd.read_parquet(smooth / "manifest.parquet")["path"] == df["path"]).all()
    for rel in df["path"]:
        a = _read(plain, rel).astype(np.float32)
        b = _read(smooth, rel).astype(np.float32)
        assert np.abs(a - b).mean() < 6.0, rel  # the same picture...
        # ...with less pixel-scale contrast (edge aliasing) in it.
        lap_a = cv2.Laplacian(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var()
        lap_b = cv2.Laplacian(cv2.cvtColor(b, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var()
        assert lap_b < 0.9 * lap_a, (rel, lap_a, lap_b)
