"""The long version: generate a synthetic set, pretrain, 5-fold CV on UNBC from it, report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pain3d.evaluate.protocol import read_predictions


def df_subjects(unbc_file) -> list[str]:
    import h5py

    with h5py.File(unbc_file, "r") as h5:
        return sorted({s.decode() for s in h5["subject"][:]})


@pytest.mark.slow
def test_generate_pretrain_cross_validate_and_report(unbc_file, tmp_path):
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.generate import RunOptions, generate
    from pain3d.train.presets import tiny_cpu_config
    from pain3d.train.recipes import cross_validate, pretrain

    ds = tmp_path / "synthetic"
    generate(GenerateConfig(identities=12, per_identity=4, views=1, size=64, seed=3),
             RunOptions(out=ds, workers=1, progress=False))
    pre = pretrain(tiny_cpu_config(ds, tmp_path / "pretrain", trainer__epochs=3,
                               trainer__augment="synthetic"))
    assert (pre.checkpoint_dir / "config.json").is_file() and "mae" in pre.metrics
    cv = cross_validate(tiny_cpu_config(unbc_file, tmp_path / "cv", init=str(pre.checkpoint_dir),
                                    trainer__epochs=2, data__label_free_frames=2))
    run = json.loads((cv.run_dir / "run.json").read_text())
    assert run["init"] == str(pre.checkpoint_dir) and len(run["folds"]) == 5
    prod = cross_validate(tiny_cpu_config(unbc_file, tmp_path / "prod", trainer__epochs=1,
                                      init=str(pre.checkpoint_dir), cv__production=True,
                                      data__label_free_frames=2))
    info = json.loads((prod.run_dir / "run.json").read_text())
    assert sorted(info["fit"] + info["val"]) == sorted(df_subjects(unbc_file))
    assert (prod.checkpoint_dir / "config.json").is_file() and "selection_mae" in prod.metrics
    # Independent recomputation of the pooled AUROC from the saved predictions.
    df = read_predictions(cv.run_dir / "predictions.csv")
    te = df[(df.split == "test") & (df.reference == "label_free")]
    data = json.loads((cv.run_dir / "metrics.json").read_text())
    pooled = data["references"]["label_free"]["pooled"]["auroc_1"]
    assert pooled == pytest.approx(roc_auc_score(te.true >= 1, te.pred))
    per_fold = [f["mae"] for f in data["references"]["label_free"]["folds"]]
    assert np.mean(per_fold) == pytest.approx(cv.metrics["mae"])


@pytest.mark.slow
def test_ddp_flags_train_with_two_processes_and_write_once(synthetic_root, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    rd = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "pain3d", "train", "--config",
           str(root / "configs" / "tiny_cpu.yaml"), "--data", str(synthetic_root),
           "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--epochs", "2",
           "--batch-size", "4", "--run-dir", str(rd), "--set", "model.image_size=32",
           "--set", "data.include_neutral=false"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    fit = json.loads((rd / "fit.json").read_text())
    assert fit["epochs"] == 2
    # 18 training frames, batch 4 per process, 2 processes: 2 steps per epoch, 4 in all
    # (the epoch-end rows are logged at step global_step - 1).
    import pandas as pd

    m = pd.read_csv(rd / "logs" / "csv" / "metrics.csv")
    assert m["step"].max() == 3
    assert (rd / "report.md").is_file() and (rd / "model" / "config.json").is_file()


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(synthetic_root, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import pandas as pd

    root = Path(__file__).resolve().parents[2]

    def cmd(rd: Path) -> list[str]:
        return [sys.executable, "-m", "pain3d", "train", "--config",
                str(root / "configs" / "tiny_cpu.yaml"), "--data", str(synthetic_root),
                "--epochs", "6", "--batch-size", "4", "--run-dir", str(rd),
                "--set", "model.image_size=32", "--set", "trainer.checkpoint_every_n_steps=1",
                "--set", "trainer.augment=synthetic", "--set", "data.include_neutral=false"]

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert subprocess.run(cmd(whole), capture_output=True, timeout=900).returncode == 0
    proc = subprocess.Popen(cmd(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = killed / "checkpoints" / "last.ckpt"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if last.is_file() and last.stat().st_size and time.time() - last.stat().st_mtime < 5:
            import torch

            step = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
            if step >= 6:  # inside epoch 2 of 6 (4 steps per epoch)
                os.kill(proc.pid, signal.SIGKILL)
                break
        time.sleep(0.2)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (killed / "fit.json").exists()
    assert subprocess.run(cmd(killed), capture_output=True, timeout=900).returncode == 0
    assert json.loads((killed / "fit.json").read_text())["resumed"] is True
    a = pd.read_csv(whole / "predictions.csv")
    b = pd.read_csv(killed / "predictions.csv")
    np.testing.assert_allclose(a.pred.to_numpy(), b.pred.to_numpy(), rtol=1e-5, atol=1e-6)
