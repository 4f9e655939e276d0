"""Cross-modal distillation end to end: a heatmap teacher is trained with ``data.input =
heatmap``, then guides the RGB model during training, and ``pain3d ablate`` tabulates
distillation off / on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pain3d.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--config", str(ROOT / "configs" / "tiny_cpu.yaml")]
FAST = ["--set", "model.image_size=32", "--set", "data.label_free_frames=2",
        "--set", "trainer.max_steps_per_epoch=3", "--set", "plots=false"]


@pytest.fixture(scope="module")
def teacher_dir(synthetic_root, tmp_path_factory, fast_config):
    """A (barely trained) heatmap teacher of the tiny model: what distillation loads."""
    from pain3d.train.recipes import pretrain

    rd = tmp_path_factory.mktemp("teacher") / "run"
    cfg = fast_config(**{"data.root": str(synthetic_root), "data.input": "heatmap",
                         "run_dir": str(rd), "trainer.epochs": 1})
    return pretrain(cfg).checkpoint_dir


@pytest.mark.slow
def test_heatmap_teacher_learns_pspi_from_heatmaps(tmp_path, fast_config, make_synthetic):
    """The teacher recipe is `pain3d train` with data.input=heatmap: on held-out identities
    it beats the constant predictor by far (the heatmaps' colour encodes PSPI)."""
    from pain3d.train.recipes import pretrain

    root = make_synthetic(tmp_path / "ds", identities=16, configs=6, seed=3)
    cfg = fast_config(**{"data.root": str(root), "data.input": "heatmap",
                         "run_dir": str(tmp_path / "run"), "model.train_backbone": True,
                         "model.lora.rank": 0, "optim.weight_decay": 0.0,
                         "model.pspi_hidden": [64], "model.au_hidden": 64,
                         "trainer.epochs": 20})
    assert cfg.trainer.augment == "none"
    res = pretrain(cfg)
    df = pd.read_csv(res.run_dir / "predictions.csv")
    train, test = df[df.split == "train"], df[df.split == "test"]
    constant = np.abs(train.true.mean() - test.true).mean()
    mae = np.abs(test.pred - test.true).mean()
    assert len(test) == 6  # the test identity's 6 pain configurations
    assert mae < 0.5 * constant, (mae, constant)
    val_mae = json.loads((res.run_dir / "fit.json").read_text())["best_score"]
    assert val_mae < 0.5 * constant, (val_mae, constant)  # the val identity too


def test_photometric_augmentation_becomes_geometric_for_heatmap_inputs(fast_config):
    from pain3d.config import dump_config

    cfg = fast_config(**{"data.input": "heatmap", "trainer.augment": "synthetic"})
    assert cfg.trainer.augment == "geometric"
    assert "augment: geometric" in dump_config(cfg)  # the saved config says what was used
    assert fast_config(**{"trainer.augment": "synthetic"}).trainer.augment == "synthetic"
    with pytest.raises(ValueError, match="heatmap teacher"):
        fast_config(**{"data.input": "heatmap", "distill.teacher": "t"})


def test_distillation_loss_reaches_the_student_and_not_the_teacher(synthetic_root, teacher_dir,
                                                                    fast_config):
    from pain3d.data import DataConfig, open_data
    from pain3d.data.common import collate
    from pain3d.model import build_model, load_model
    from pain3d.model.distill import DistillConfig, HeatmapTeacher
    from pain3d.model.loss import LossWeights
    from pain3d.train.module import PainModule

    cfg = fast_config()
    data = open_data(DataConfig(root=str(synthetic_root)))
    ds = data.dataset(data.rows(split="train")[:4], 32, "same-identity", heatmaps=True)
    batch = collate([ds[i] for i in range(4)])
    assert batch["heatmap"].shape == batch["image"].shape
    torch.manual_seed(0)
    student = build_model(cfg.model)
    teacher = HeatmapTeacher(load_model(teacher_dir), DistillConfig(feature_weight=1.0))
    # every supervised term off: the loss is the distillation term alone
    module = PainModule(student, cfg.optim, LossWeights(pspi=0.0, au=0.0, binary=0.0),
                        teacher=teacher)
    module.train()
    loss = module.training_step(batch, 0)
    assert float(loss.detach()) > 0
    loss.backward()
    grads = [p.grad for p in student.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in teacher.teacher.parameters())
    assert not any(k.startswith("teacher") for k in module.state_dict())


def test_training_with_a_teacher_logs_the_distillation_loss(synthetic_root, teacher_dir,
                                                            tmp_path, fast_config):
    from pain3d.train.recipes import pretrain

    cfg = fast_config(**{"data.root": str(synthetic_root), "run_dir": str(tmp_path / "run"),
                         "distill.teacher": str(teacher_dir), "trainer.epochs": 1})
    res = pretrain(cfg)
    log = pd.read_csv(res.run_dir / "logs" / "csv" / "metrics.csv")
    d = log["train/distill_step"].dropna()
    assert len(d) >= 2 and np.isfinite(d).all() and (d > 0).all()


def test_real_data_cannot_carry_heatmaps(unbc_file):
    from pain3d.data import DataConfig, open_data

    data = open_data(DataConfig(root=str(unbc_file)))
    with pytest.raises(ValueError, match="synthetic data only"):
        data.dataset(data.rows()[:2], 32, "label-free", heatmaps=True)


def _table(out) -> pd.DataFrame:
    df = pd.read_csv(out / "ablation.csv")
    return df[df.axis == "distillation"].set_index("variant")


def test_ablate_distillation_on_synthetic_data_trains_the_teacher_and_both_variants(
        synthetic_root, tmp_path):
    out = tmp_path / "abl"
    argv = ["ablate", "--data", str(synthetic_root), "--run-dir", str(out), "--axes",
            "distillation", "--folds", "0", "--epochs", "1", *TINY, *FAST]
    assert main(argv) == 0
    df = _table(out)
    assert set(df.index) == {"off", "on"}
    assert df[["mae", "pcc"]].notna().all().all()
    assert not df.note.fillna("").str.contains("skipped").any()
    assert (out / "teacher" / "model").is_dir()
    assert str(out / "teacher" / "model") in df.loc["on", "note"]
    cfg_on = yaml.safe_load((out / "distillation-on" / "config.yaml").read_text())
    assert cfg_on["distill"]["teacher"] == str(out / "teacher" / "model")
    assert yaml.safe_load((out / "distillation-off" / "config.yaml").read_text()
                          )["distill"]["teacher"] is None
    files = [out / "distillation-on" / "fold_0" / "predictions.csv",
             out / "teacher" / "fit.json", out / "teacher" / "stage.json"]
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert main(argv) == 0  # finished variants and the cached teacher are reused
    assert [f.stat().st_mtime_ns for f in files] == mtimes


def test_ablate_distillation_on_real_data_runs_in_the_synthetic_pretraining(
        synthetic_root, unbc_file, tmp_path, overrides):
    pre = tmp_path / "pretrain.yaml"
    over = overrides(**{"trainer.max_steps_per_epoch": 3, "trainer.epochs": 1})
    nested: dict = {"data": {"root": str(synthetic_root)}}
    for k, v in over.items():
        d = nested
        *parents, leaf = k.split(".")
        for p in parents:
            d = d.setdefault(p, {})
        d[leaf] = v
    pre.write_text(yaml.safe_dump(nested))
    out = tmp_path / "abl"
    assert main(["ablate", "--data", str(unbc_file), "--run-dir", str(out), "--axes",
                 "pretraining,distillation", "--folds", "0", "--epochs", "1", *TINY,
                 "--pretrain-config", str(pre), *FAST]) == 0
    df = _table(out)
    assert df[["mae", "pcc"]].notna().all().all()
    for stage in ("teacher", "pretrain-distill-off", "pretrain-distill-on"):
        assert (out / stage / "model").is_dir()
    on = yaml.safe_load((out / "pretrain-distill-on" / "config.yaml").read_text())
    assert on["distill"]["teacher"] == str(out / "teacher" / "model")
    cv_on = yaml.safe_load((out / "distillation-on" / "config.yaml").read_text())
    assert cv_on["init"] == str(out / "pretrain-distill-on" / "model")
    assert cv_on["distill"]["teacher"] is None  # real data: no heatmaps in the fine-tuning
    full = pd.read_csv(out / "ablation.csv").set_index(["axis", "variant"])
    # pretraining=synthetic is the distillation-off pretraining: computed once, same numbers
    assert full.loc[("pretraining", "synthetic"), "mae"] == full.loc[("distillation", "off"),
                                                                     "mae"]


def test_teacher_config_trains_on_heatmaps_from_the_command_line(synthetic_root, tmp_path):
    rd = tmp_path / "teacher"
    assert main(["train", "--config", str(ROOT / "configs" / "teacher_heatmap.yaml"),
                 "--data", str(synthetic_root), "--run-dir", str(rd), "--preset", "tiny",
                 "--epochs", "1", "--batch-size", "4", "--num-workers", "0",
                 "--accelerator", "cpu", "--precision", "32", *FAST]) == 0
    saved = yaml.safe_load((rd / "config.yaml").read_text())
    assert saved["data"]["input"] == "heatmap" and saved["trainer"]["augment"] == "geometric"
    run = json.loads((rd / "run.json").read_text())
    assert run["input"] == "heatmap" and (rd / "model" / "config.json").is_file()
    assert len(pd.read_csv(rd / "predictions.csv")) > 0  # evaluated on heatmaps too
