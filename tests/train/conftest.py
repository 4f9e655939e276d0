"""Tiny datasets written by the tests: a synthetic set in the published 3dpain layout, a
prepared UNBC file and a labelled CSV, plus the tiny model and trainer settings every
training test uses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pain3d.facs import pspi

SIZE = 32


def face(colour: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """(SIZE, SIZE, 3) uint8: an identity-coloured face whose 'brow' darkens with pain."""
    img = np.empty((SIZE, SIZE, 3), np.float32)
    img[:] = colour
    img[8:14, 6:26] *= 1.0 - 0.05 * level  # brow region: the pain signal
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def heatmap(level: float) -> np.ndarray:
    """(SIZE, SIZE, 3) uint8 heatmap of a pain configuration: black with a brow region whose
    colour runs black -> red -> yellow with PSPI (the look of a deformation heatmap)."""
    img = np.zeros((SIZE, SIZE, 3), np.uint8)
    v = 3.0 * level / 16.0
    img[8:14, 6:26] = np.round(255 * np.clip([v, v - 1.0, v - 2.0], 0, 1)).astype(np.uint8)
    return img


def random_aus(rng: np.random.Generator, n: int, p_zero: float = 0.0) -> np.ndarray:
    a = rng.integers(0, 4, (n, 6)).astype(np.float32)
    a[:, 5] = rng.integers(0, 2, n)
    a[rng.random(n) < p_zero] = 0
    return a


def write_synthetic(root: Path, identities: int = 8, configs: int = 3, seed: int = 0) -> Path:
    """A 3dpain-layout dataset: neutral + ``configs`` pain images per identity, one view,
    with a heatmap per pain configuration (``heatmaps/<base>_heatmap.png``)."""
    rng = np.random.default_rng(seed)
    (root / "meshes_inpainted").mkdir(parents=True)
    (root / "annotations").mkdir()
    (root / "heatmaps").mkdir()
    split_rows = ["annotation_base_name,split"]
    for i in range(identities):
        colour = rng.integers(80, 200, 3).astype(np.float32)
        name = f"flame_sample_{i:04d}"
        Image.fromarray(face(colour, 0, rng)).save(
            root / "meshes_inpainted" / f"{name}_neutral_view_000.png")
        split = 0 if i < identities - 2 else (1 if i == identities - 2 else 2)
        for k, aus in enumerate(random_aus(rng, configs), start=1):
            base = f"{name}_pain_{k}"
            Image.fromarray(face(colour, float(pspi(aus)), rng)).save(
                root / "meshes_inpainted" / f"{base}_textured_view_000_inpainted.png")
            Image.fromarray(heatmap(float(pspi(aus)))).save(
                root / "heatmaps" / f"{base}_heatmap.png")
            (root / "annotations" / f"{base}_annotations.json").write_text(json.dumps(
                {n: float(v) for n, v in zip(("AU4", "AU6", "AU7", "AU9", "AU10", "AU43"),
                                              aus, strict=True)}))
            split_rows.append(f"{base},{split}")
    (root / "splits.csv").write_text("\n".join(split_rows) + "\n")
    return root


def write_unbc(path: Path, subjects: int = 10, sequences: int = 2, frames: int = 8,
               seed: int = 0) -> Path:
    """A prepared UNBC file (``pain3d prepare-unbc`` layout) with stored 5-fold folds."""
    import h5py

    rng = np.random.default_rng(seed)
    imgs, aus, subj, sid, seqs, frs, paths = [], [], [], [], [], [], []
    for s in range(subjects):
        ident = 40 + s
        name = f"{ident:03d}-xx{ident:03d}"
        colour = rng.integers(80, 200, 3).astype(np.float32)
        for q in range(sequences):
            seq = f"xx{ident:03d}t{q + 1}aaaff"
            a = random_aus(rng, frames, p_zero=0.5)
            a[:2] = 0  # sequences start neutral, as in the archive
            for f in range(frames):
                imgs.append(face(colour, float(pspi(a[f])), rng))
                aus.append(a[f])
                subj.append(name)
                sid.append(ident)
                seqs.append(seq)
                frs.append(f + 1)
                paths.append(f"{name}/{seq}/{seq}{f + 1:03d}.png")
    ids = np.unique(sid)
    with h5py.File(path, "w") as h5:
        h5["image"] = np.stack(imgs)
        h5["au"] = np.stack(aus).astype(np.float32)
        h5["pspi"] = pspi(np.stack(aus).astype(np.float64)).astype(np.float32)
        h5["subject"] = np.array(subj, dtype="S")
        h5["subject_id"] = np.array(sid, np.int64)
        h5["sequence"] = np.array(seqs, dtype="S")
        h5["frame"] = np.array(frs, np.int64)
        h5["path"] = np.array(paths, dtype="S")
        g = h5.create_group("folds").create_group("kfold5")
        for k in range(5):
            test = ids[k::5]
            fg = g.create_group(f"fold-{k}")
            fg["train_subjects"] = np.setdiff1d(ids, test)
            fg["test_subjects"] = test
    return path


def write_table(root: Path, subjects: int = 6, frames: int = 4, seed: int = 0) -> Path:
    """A labelled CSV (:mod:`pain3d.data.table`) without a split column: per subject one
    neutral image and ``frames`` labelled ones."""
    rng = np.random.default_rng(seed)
    rows = ["path,subject,AU4,AU6,AU7,AU9,AU10,AU43,neutral"]
    for s in range(subjects):
        colour = rng.integers(80, 200, 3).astype(np.float32)
        (root / f"s{s}").mkdir(parents=True)
        for f, aus in enumerate(np.vstack([np.zeros((1, 6)), random_aus(rng, frames)])):
            Image.fromarray(face(colour, float(pspi(aus)), rng)).save(root / f"s{s}" / f"{f}.png")
            rows.append(f"s{s}/{f}.png,s{s}," + ",".join(f"{a:g}" for a in aus) + f",{int(f == 0)}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("synthetic") / "ds")


@pytest.fixture(scope="session")
def unbc_file(tmp_path_factory) -> Path:
    return write_unbc(tmp_path_factory.mktemp("unbc") / "unbc.h5")


def tiny_overrides(**extra) -> dict:
    """Dotted overrides for a TrainConfig that trains in seconds on a CPU."""
    base = {
        "model.preset": "tiny", "model.image_size": SIZE, "model.pspi_hidden": [32],
        "model.au_hidden": 32, "model.cross_attn_heads": 2, "model.head_dropout": 0.1,
        "optim.lr_heads": 1e-3, "optim.lr_lora": 1e-3,
        "trainer.epochs": 2, "trainer.batch_size": 8, "trainer.eval_batch_size": 32,
        "trainer.num_workers": 0, "trainer.accelerator": "cpu", "trainer.devices": "1",
        "trainer.precision": "32", "trainer.augment": "none", "trainer.tensorboard": False,
        "trainer.log_every_n_steps": 1, "trainer.checkpoint_every_n_steps": 2,
        "data.label_free_frames": 2, "plots": False,
    }
    base.update(extra)
    return base


@pytest.fixture(scope="session")
def fast_config():
    """``fast_config(**overrides) -> TrainConfig``: the tiny model and a trainer that runs in
    seconds (not the tiny CPU preset of :mod:`pain3d.train.presets`)."""
    from pain3d.config import load_config
    from pain3d.train.config import TrainConfig

    def make(**extra) -> TrainConfig:
        return load_config(TrainConfig, None, tiny_overrides(**extra))

    return make


@pytest.fixture(scope="session")
def table_csv(tmp_path_factory) -> Path:
    return write_table(tmp_path_factory.mktemp("table") / "faces")


@pytest.fixture(scope="session")
def make_synthetic():
    """``write_synthetic(root, identities, configs, seed) -> root`` for tests that need
    their own synthetic set."""
    return write_synthetic


@pytest.fixture(scope="session")
def overrides():
    """``tiny_overrides(**extra) -> dict`` of dotted keys (e.g. to write a config file)."""
    return tiny_overrides
