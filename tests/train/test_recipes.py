"""End to end on tiny data: cross-validation, reports, resume, determinism, saved config."""

from __future__ import annotations

import json

import lightning as L
import numpy as np
import pandas as pd
import pytest

from pain3d.evaluate import metrics as M
from pain3d.evaluate.protocol import read_predictions


@pytest.fixture(scope="module")
def cv_run(unbc_file, fast_config, tmp_path_factory):
    """A 5-fold honest cross-validation of the tiny model on the fake UNBC file (1 epoch)."""
    from pain3d.train.recipes import cross_validate

    cfg = fast_config(**{"data.root": str(unbc_file), "trainer.epochs": 1,
                         "trainer.max_steps_per_epoch": 3, "plots": True,
                         "run_dir": str(tmp_path_factory.mktemp("cv") / "run")})
    return cross_validate(cfg)


def test_cv_report_equals_metrics_recomputed_from_the_saved_predictions(cv_run):
    rd = cv_run.run_dir
    df = read_predictions(rd / "predictions.csv")
    data = json.loads((rd / "metrics.json").read_text())
    summary = data["references"]["label_free"]["summary"]
    maes, aucs, f1s = [], [], []
    for fold in sorted(df.fold.unique()):
        te = df[(df.fold == fold) & (df.split == "test") & (df.reference == "label_free")]
        tr = df[(df.fold == fold) & (df.split == "train")]
        maes.append(np.mean(np.abs(te.pred - te.true)))
        aucs.append(M.auroc_at(te.pred, te.true, 1))
        th = M.calibrate_threshold(tr.pred, tr.true, 1)
        f1s.append(M.f1_at(te.pred, te.true, 1, th))
    assert summary["mae"]["mean"] == pytest.approx(np.mean(maes))
    assert summary["auroc_1"]["mean"] == pytest.approx(np.nanmean(aucs))
    assert summary["f1_1"]["mean"] == pytest.approx(np.nanmean(f1s))
    assert cv_run.metrics["mae"] == pytest.approx(np.mean(maes))
    md = (rd / "report.md").read_text()
    assert "Protocol: honest" in md and "ORACLE references" in md
    assert (rd / "report.html").is_file() and (rd / "plots" / "roc.png").is_file()


def test_honest_cv_selects_on_training_subjects_and_tests_every_subject_once(cv_run, unbc_file):
    run = json.loads((cv_run.run_dir / "run.json").read_text())
    assert run["protocol"] == "honest" and len(run["folds"]) == 5
    tested = []
    for f in run["folds"]:
        assert not set(f["val"]) & set(f["test"]) and not set(f["fit"]) & set(f["test"])
        assert f["val"]  # an inner validation split exists
        tested += f["test"]
    assert len(tested) == len(set(tested)) == 10
    df = read_predictions(cv_run.run_dir / "predictions.csv")
    for f in run["folds"]:
        rows = df[df.fold == str(f["fold"])]
        assert set(rows[rows.split == "test"].subject) == set(f["test"])
        assert set(rows[rows.split == "train"].subject) == set(f["fit"]) | set(f["val"])
        # thresholds are calibrated on un-augmented predictions of every training frame once
        assert not rows[rows.split == "train"].path.duplicated().any()
        assert len(rows[rows.split == "train"]) == (len(f["fit"]) + len(f["val"])) * 2 * 8
    assert set(df.reference) == {"label_free", "oracle"}
    assert "calibration" not in df.columns


def test_every_fold_saves_a_loadable_model_logs_and_the_resolved_config(cv_run):
    from pain3d.config import load_config
    from pain3d.model import load_model
    from pain3d.train.config import TrainConfig

    rd = cv_run.run_dir
    cfg = load_config(TrainConfig, rd / "config.yaml")
    assert cfg.model.preset == "tiny" and cfg.trainer.epochs == 1
    for k in range(5):
        assert (rd / f"fold_{k}" / "logs" / "csv" / "metrics.csv").is_file()
        assert (rd / f"fold_{k}" / "checkpoints" / "last.ckpt").is_file()
    model = load_model(cv_run.checkpoint_dir)
    assert model.preprocessing["size"] == 32


def test_evaluation_of_a_checkpoint_is_deterministic(cv_run, unbc_file, fast_config):
    from pain3d.data import open_data
    from pain3d.model import load_model
    from pain3d.train.runner import predict_table

    cfg = fast_config(**{"data.root": str(unbc_file)})
    data = open_data(cfg.data)
    run = json.loads((cv_run.run_dir / "run.json").read_text())
    rows = data.rows(np.array(run["folds"][0]["test"]))
    model = load_model(cv_run.checkpoint_dir)
    runs = [predict_table(model, data.dataset(rows, 32, "label-free", seed=42,
                                              deterministic=True),
                          batch_size=16) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    saved = pd.read_csv(cv_run.run_dir / "fold_0" / "predictions.csv", dtype={"subject": str})
    saved = saved[(saved.split == "test") & (saved.reference == "label_free")]
    again = runs[0].set_index("path").loc[saved.path]
    np.testing.assert_allclose(again.pred.to_numpy(), saved.pred.to_numpy(), rtol=1e-5)


class _Crash(L.Callback):
    """Stops the process-equivalent of a kill right after step ``at`` was checkpointed."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.at:
            raise SystemExit(f"simulated kill at step {self.at}")


def test_a_run_killed_mid_epoch_resumes_to_the_same_numbers(synthetic_root, fast_config,
                                                             tmp_path):
    from pain3d.train.recipes import pretrain

    over = {"data.root": str(synthetic_root), "trainer.batch_size": 4, "trainer.epochs": 2,
            "trainer.checkpoint_every_n_steps": 1, "trainer.augment": "synthetic"}
    whole = pretrain(fast_config(**over, run_dir=str(tmp_path / "whole")))
    # 18 training frames / batch 4 = 4 steps per epoch: step 6 is inside epoch 2.
    with pytest.raises(SystemExit, match="step 6"):
        pretrain(fast_config(**over, run_dir=str(tmp_path / "killed")), callbacks=[_Crash(6)])
    assert not (tmp_path / "killed" / "fit.json").exists()
    resumed = pretrain(fast_config(**over, run_dir=str(tmp_path / "killed")))
    fit = json.loads((tmp_path / "killed" / "fit.json").read_text())
    assert fit["resumed"] is True
    a = pd.read_csv(whole.run_dir / "predictions.csv")
    b = pd.read_csv(resumed.run_dir / "predictions.csv")
    np.testing.assert_allclose(a.pred.to_numpy(), b.pred.to_numpy(), rtol=1e-5, atol=1e-6)
    assert resumed.metrics["mae"] == pytest.approx(whole.metrics["mae"], rel=1e-5)
    assert a.pred.std() > 0  # the comparison is not between two constant outputs
    # A finished fit is not repeated: running again (even from a moved folder) re-predicts.
    moved = tmp_path / "moved"
    resumed.run_dir.rename(moved)
    again = pretrain(fast_config(**over, run_dir=str(moved)))
    assert json.loads((moved / "fit.json").read_text())["resumed"] is True
    np.testing.assert_allclose(pd.read_csv(again.run_dir / "predictions.csv").pred, a.pred,
                               rtol=1e-5, atol=1e-6)


class _CrashAtEpochBoundary(L.Callback):
    """A kill at an epoch boundary after step ``at``: ``where`` is ``last-batch`` (right
    after the epoch's last batch), ``epoch-end`` or ``next-epoch-start``."""

    def __init__(self, at: int, where: str) -> None:
        self.at, self.where = at, where

    def _maybe(self, trainer, where: str) -> None:
        if where == self.where and trainer.global_step == self.at:
            raise SystemExit(f"simulated kill at step {self.at} ({where})")

    def on_train_batch_end(self, trainer, *args) -> None:
        self._maybe(trainer, "last-batch")

    def on_train_epoch_end(self, trainer, *args) -> None:
        self._maybe(trainer, "epoch-end")

    def on_train_epoch_start(self, trainer, *args) -> None:
        self._maybe(trainer, "next-epoch-start")


@pytest.mark.parametrize("where", ["last-batch", "epoch-end", "next-epoch-start"])
def test_a_run_killed_at_an_epoch_boundary_resumes_to_the_same_numbers(
        synthetic_root, fast_config, tmp_path, where):
    """Lightning restores a checkpoint written after an epoch's last batch, inside
    on_train_epoch_end or at the next epoch's start as one epoch further on; last.ckpt is
    never written there."""
    from pain3d.train.recipes import pretrain

    over = {"data.root": str(synthetic_root), "trainer.batch_size": 4, "trainer.epochs": 2,
            "trainer.checkpoint_every_n_steps": 1, "trainer.augment": "synthetic"}
    whole = pretrain(fast_config(**over, run_dir=str(tmp_path / "whole")))
    # 18 training frames / batch 4 = 4 steps per epoch: step 4 ends epoch 1.
    with pytest.raises(SystemExit, match="step 4"):
        pretrain(fast_config(**over, run_dir=str(tmp_path / "killed")),
                 callbacks=[_CrashAtEpochBoundary(4, where)])
    resumed = pretrain(fast_config(**over, run_dir=str(tmp_path / "killed")))
    assert json.loads((tmp_path / "killed" / "fit.json").read_text())["epochs"] == 2
    a = pd.read_csv(whole.run_dir / "predictions.csv")
    b = pd.read_csv(resumed.run_dir / "predictions.csv")
    np.testing.assert_allclose(a.pred.to_numpy(), b.pred.to_numpy(), rtol=1e-5, atol=1e-6)


def test_a_save_due_on_an_epochs_last_batch_is_made_after_the_next_first_batch(
        synthetic_root, fast_config, tmp_path):
    import torch

    from pain3d.train.recipes import pretrain

    over = {"data.root": str(synthetic_root), "trainer.batch_size": 4, "trainer.epochs": 2,
            "trainer.checkpoint_every_n_steps": 4, "run_dir": str(tmp_path / "run")}
    with pytest.raises(SystemExit, match="step 6"):  # 4 steps per epoch: step 4 ends epoch 1
        pretrain(fast_config(**over), callbacks=[_Crash(6)])
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=False)
    assert last["global_step"] == 5


def test_rerunning_a_finished_cv_reuses_every_fold(cv_run, unbc_file, fast_config):
    from pain3d.train.recipes import cross_validate

    stamps = {k: (cv_run.run_dir / f"fold_{k}" / "predictions.csv").stat().st_mtime_ns
              for k in range(5)}
    again = cross_validate(fast_config(**{"data.root": str(unbc_file), "trainer.epochs": 1,
                                          "trainer.max_steps_per_epoch": 3,
                                          "run_dir": str(cv_run.run_dir)}))
    assert again.metrics == pytest.approx(cv_run.metrics, nan_ok=True)
    assert all((cv_run.run_dir / f"fold_{k}" / "predictions.csv").stat().st_mtime_ns == t
               for k, t in stamps.items())


def test_a_labelled_csv_table_trains_like_any_other_data(table_csv, fast_config, tmp_path):
    from pain3d.train.recipes import pretrain

    res = pretrain(fast_config(**{"data.root": str(table_csv), "run_dir": str(tmp_path / "run"),
                                  "trainer.epochs": 1, "val_fraction": 0.2}))
    run = json.loads((res.run_dir / "run.json").read_text())
    assert run["kind"] == "table"
    # no split column: subjects are split here (one held out for test, one for selection);
    # the neutral rows are references only
    assert run["frames"] == {"train": 4 * 4, "val": 4, "test": 4}
    df = read_predictions(res.run_dir / "predictions.csv")
    assert set(df.split) == {"train", "test"} and np.isfinite(df.pred).all()
    assert df.path.str.endswith(".png").all() and (df.reference == "label_free").all()
    assert (res.checkpoint_dir / "config.json").is_file() and np.isfinite(res.metrics["mae"])


def _subjects_by_split(df: pd.DataFrame) -> dict[str, set]:
    return {k: set(df[df.split == k].subject) for k in ("train", "test")}


def test_train_without_a_test_split_scores_held_out_subjects_never_selected_on(
        unbc_file, fast_config, tmp_path):
    """pain3d train on prepared UNBC (no test split): a test set of subjects is held out;
    it takes no part in training or epoch selection, and the run says so."""
    from pain3d.train.recipes import pretrain

    res = pretrain(fast_config(**{"data.root": str(unbc_file), "run_dir": str(tmp_path / "r"),
                                  "trainer.epochs": 1, "trainer.max_steps_per_epoch": 2}))
    run = json.loads((res.run_dir / "run.json").read_text())
    subs = run["subjects"]
    assert run["protocol"] == "honest" and "held-out test" in run["scored"]
    assert subs["test"] and subs["val"]
    assert not set(subs["test"]) & (set(subs["train"]) | set(subs["val"]))
    assert run["protocol_description"].startswith("checkpoint selected on an inner validation")
    df = read_predictions(res.run_dir / "predictions.csv")
    scored = _subjects_by_split(df)
    assert scored["test"] == set(subs["test"]) and scored["train"] == set(subs["train"])
    assert "used_for_selection" not in df.columns
    assert json.loads((res.run_dir / "metrics.json").read_text())["protocol"] == "honest"


def test_train_without_a_held_out_test_reports_validation_numbers_and_says_so(
        unbc_file, fast_config, tmp_path):
    from pain3d.evaluate.protocol import score_predictions
    from pain3d.evaluate.report import evaluate_run
    from pain3d.train.recipes import pretrain

    res = pretrain(fast_config(**{"data.root": str(unbc_file), "run_dir": str(tmp_path / "r"),
                                  "trainer.epochs": 1, "trainer.max_steps_per_epoch": 2,
                                  "test_fraction": 0}))
    rd = res.run_dir
    run = json.loads((rd / "run.json").read_text())
    assert run["protocol"] == "validation" and not run["subjects"].get("test")
    assert "VALIDATION" in run["protocol_description"]
    metrics = json.loads((rd / "metrics.json").read_text())
    assert metrics["protocol"] == "validation" and "VALIDATION" in metrics["protocol_description"]
    md = (rd / "report.md").read_text()
    assert "Protocol: validation" in md and "validation subjects" in md
    assert "honest" not in md
    df = read_predictions(rd / "predictions.csv")
    assert _subjects_by_split(df)["test"] == set(run["subjects"]["val"])
    # The scored frames were selected on: they can never be relabelled an honest test.
    with pytest.raises(ValueError, match="cannot be reported as honest"):
        evaluate_run(rd, protocol="honest")
    with pytest.raises(ValueError, match="used_for_selection"):
        score_predictions(df, protocol="honest")


def test_cv_refuses_stored_folds_with_a_subject_on_both_sides(unbc_file, fast_config,
                                                                 tmp_path):
    import shutil

    import h5py

    from pain3d.data import DataError
    from pain3d.train.recipes import cross_validate

    bad = tmp_path / "bad.h5"
    shutil.copy(unbc_file, bad)
    with h5py.File(bad, "a") as h5:
        g = h5["folds/kfold5/fold-2"]
        test = g["test_subjects"][:]
        del g["train_subjects"]
        g["train_subjects"] = np.unique(h5["subject_id"][:])  # every subject, test ones too
    names = {int(i): f"{int(i):03d}-xx{int(i):03d}" for i in test}
    with pytest.raises(DataError, match="fold 2") as err:
        cross_validate(fast_config(**{"data.root": str(bad), "run_dir": str(tmp_path / "r")}))
    msg = str(err.value)
    assert all(n in msg for n in names.values()) and "both train and test" in msg
    assert str(bad) in msg and not (tmp_path / "r" / "fold_0").exists()


@pytest.mark.parametrize("batch_size", [8, 1])  # 1: a training batch of nothing but the bad frame
def test_skip_bad_drops_unreadable_frames_counts_them_and_scores_each_frame_once(
        make_synthetic, fast_config, tmp_path, batch_size):
    from pain3d.train.recipes import pretrain

    root = make_synthetic(tmp_path / "ds")
    imgs = root / "meshes_inpainted"
    bad_test = imgs / "flame_sample_0007_pain_2_textured_view_000_inpainted.png"
    bad_train = imgs / "flame_sample_0001_pain_1_textured_view_000_inpainted.png"
    for p in (bad_test, bad_train):
        p.write_bytes(b"\x89PNG garbage")
    res = pretrain(fast_config(**{"data.root": str(root), "run_dir": str(tmp_path / "r"),
                                  "data.skip_bad": True, "trainer.epochs": 1,
                                  "trainer.batch_size": batch_size}))
    run = json.loads((res.run_dir / "run.json").read_text())
    dropped = run["dropped"]
    assert len(dropped["test"]) == 1 and bad_test.name in dropped["test"][0]
    assert len(dropped["train"]) == 1 and bad_train.name in dropped["train"][0]
    assert len(dropped["calibration"]) == 1 and bad_train.name in dropped["calibration"][0]
    df = read_predictions(res.run_dir / "predictions.csv")
    test = df[df.split == "test"]
    assert not test.path.duplicated().any() and len(test) == 3 - 1
    assert not df.path.str.endswith((bad_test.name, bad_train.name)).any()
    md = (res.run_dir / "report.md").read_text()
    assert "unreadable frames dropped (data.skip_bad): 3" in md
    fit = json.loads((res.run_dir / "fit.json").read_text())
    assert fit["epochs"] == 1 and fit["dropped"]["train"] == dropped["train"]


def test_cv_refuses_a_synthetic_identity_split_across_two_subject_names(fast_config, tmp_path):
    """A manifest naming identity 2 twice (p2, p2-again): leave-one-subject-out would test
    p2 while training on p2-again, the same person. Found before any training."""
    from PIL import Image

    from pain3d.data import DataError
    from pain3d.train.recipes import cross_validate

    root = tmp_path / "ds"
    (root / "img").mkdir(parents=True)
    rows = ["path,identity,identity_name,expression,view,AU4,AU6,AU7,AU9,AU10,AU43,PSPI,split"]
    for i in range(4):
        for view in range(2):
            name = f"p{i}" if i != 2 or view == 0 else "p2-again"
            for k, expr in enumerate(("neutral", "pain_1")):
                path = f"img/{i}_{expr}_{view}.png"
                Image.fromarray(np.full((8, 8, 3), 40 * i + 10 * k, np.uint8)).save(root / path)
                au, p = ("0,0,0,0,0,0", 0) if k == 0 else ("2,1,0,0,0,0", 3)
                rows.append(f"{path},{i},{name},{expr},{view},{au},{p},train")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    cfg = fast_config(**{"data.root": str(root), "run_dir": str(tmp_path / "r"),
                         "cv.scheme": "loso", "cv.protocol": "published"})
    with pytest.raises(DataError, match=r"cv fold \d .*identit\(ies\) 2 are in both fit and "
                                        r"test .*p2"):
        cross_validate(cfg)
    assert not list((tmp_path / "r").glob("fold_*"))
