"""The train / cv / evaluate / ablate commands and the published ``train.py`` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pain3d.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny_cpu.yaml")
FAST = ["--set", "model.image_size=32", "--set", "data.label_free_frames=2",
        "--set", "trainer.max_steps_per_epoch=3", "--set", "plots=false"]


@pytest.fixture(scope="module")
def cli_cv(unbc_file, tmp_path_factory):
    """``pain3d cv`` on fold 1 under the published protocol, and what it printed."""
    import contextlib
    import io

    rd = tmp_path_factory.mktemp("cli") / "cv"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["cv", "--config", TINY, "--data", str(unbc_file), "--run-dir", str(rd),
                     "--epochs", "1", "--folds", "1", "--protocol", "published", *FAST,
                     "--set", "trainer.augment=unbc", "--set", "trainer.pain_weight=2"])
    return code, rd, buf.getvalue()


def test_cv_command_runs_the_chosen_folds_and_reports(cli_cv):
    code, rd, out = cli_cv
    assert code == 0
    assert "published protocol" in out and "mean over folds" in out
    assert sorted(p.name for p in rd.glob("fold_*")) == ["fold_1"]
    run = json.loads((rd / "run.json").read_text())
    # Published protocol: the test fold doubles as the selection set (and says so).
    assert all(f["val"] == f["test"] for f in run["folds"])
    assert "Protocol: published" in (rd / "report.md").read_text()
    saved = yaml.safe_load((rd / "config.yaml").read_text())
    assert saved["trainer"]["epochs"] == 1 and saved["cv"]["protocol"] == "published"


def test_published_protocol_calibrates_on_augmented_resampled_training_predictions(
        cli_cv, unbc_file):
    """As the published code: thresholds come from one epoch of the training loader
    (pain frames drawn twice as often, with replacement; UNBC augmentation)."""
    from pain3d.evaluate import metrics as M
    from pain3d.evaluate.protocol import read_predictions

    _, rd, _ = cli_cv
    df = read_predictions(rd / "predictions.csv")
    train = df[df.split == "train"]
    fit = json.loads((rd / "run.json").read_text())["folds"][0]["fit"]
    assert (train["calibration"] == "augmented-resampled").all()
    assert set(train.subject) == set(fit)
    assert len(train) == len(fit) * 2 * 8  # one epoch: as many draws as frames (2 x 8 each)
    assert train.path.duplicated().any()  # drawn with replacement
    # the report's thresholds are the ones these rows give
    te = df[(df.split == "test") & (df.reference == "oracle")]
    want = M.fold_metrics(te.pred.to_numpy(), te.true.to_numpy(), train.pred.to_numpy(),
                          train.true.to_numpy())
    got = json.loads((rd / "metrics.json").read_text())
    fold = got["references"]["oracle"]["folds"][0]
    for lv in (1, 2, 3):
        assert fold[f"threshold_{lv}"] == pytest.approx(want[f"threshold_{lv}"])


def test_evaluate_command_rescoring_a_run_gives_the_same_json(cli_cv, capsys):
    _, rd, _ = cli_cv
    before = json.loads((rd / "metrics.json").read_text())
    (rd / "metrics.json").unlink()
    assert main(["evaluate", str(rd), "--no-plots"]) == 0
    after = json.loads((rd / "metrics.json").read_text())
    assert after["references"] == before["references"] and after["protocol"] == "published"
    assert "published protocol, 1 fold(s), reference oracle" in capsys.readouterr().out


def test_a_published_run_selected_on_its_test_fold_cannot_be_relabelled_honest(cli_cv, capsys):
    from pain3d.evaluate.protocol import read_predictions

    _, rd, _ = cli_cv
    run = json.loads((rd / "run.json").read_text())
    assert "checkpoint selected on the test fold" in run["protocol_description"]
    df = read_predictions(rd / "predictions.csv")
    assert (df[df.split == "test"].used_for_selection.astype(float) == 1).all()
    assert main(["evaluate", str(rd), "--protocol", "honest", "--no-plots"]) == 2
    assert "cannot be reported as honest" in capsys.readouterr().err
    df.to_csv(rd.parent / "published.csv", index=False)
    assert main(["evaluate", "--predictions", str(rd.parent / "published.csv"), "--no-plots"]) == 2
    assert "used_for_selection" in capsys.readouterr().err


def test_evaluate_scores_any_predictions_csv(tmp_path, capsys):
    rows = []
    for fold in range(3):
        for split in ("train", "test"):
            for i in range(12):
                rows.append({"fold": fold, "split": split, "subject": f"s{fold}{split[1]}",
                             "pred": (i % 4) + 0.1 * fold, "true": float(i % 4)})
    csv = tmp_path / "other_method.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    assert main(["evaluate", "--predictions", str(csv), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.html").is_file()
    assert "3 fold(s)" in capsys.readouterr().out


def test_evaluate_refuses_a_folder_without_predictions(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "no predictions.csv" in capsys.readouterr().err


def test_published_train_py_command_line_overrides_the_file(synthetic_root, tmp_path):
    from pain3d.cli.train import published_main as train_py

    cfg = {"batch_size": 8, "epochs": 3, "lr": 1e-3, "model_size": "tiny"}
    (tmp_path / "vit_pain.yaml").write_text(yaml.safe_dump(cfg))
    code = train_py(["--config", str(tmp_path / "vit_pain.yaml"), "--batch_size", "4",
                     "--epochs", "1", "--data_dir", str(synthetic_root), "--output_dir",
                     str(tmp_path / "runs"), "--set", "model.image_size=32",
                     "--set", "trainer.augment=none", "--set", "trainer.num_workers=0",
                     "--set", "model.pspi_hidden=32", "--set", "trainer.accelerator=cpu",
                     "--set", "plots=false"])
    assert code == 0
    (run,) = (tmp_path / "runs").iterdir()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["trainer"]["batch_size"] == 4  # the flag beats the file
    assert saved["optim"]["lr_heads"] == pytest.approx(1e-3)  # the file beats the default
    assert (run / "model" / "config.json").is_file()


def test_ablation_variants_change_one_thing_each(fast_config):
    from pain3d.train.ablate import variants

    base = fast_config(init="ckpt")
    vs = {(v.axis, v.value): v for v in variants(base, kind="synthetic")}
    assert vs[("reference", "oracle")].cfg.data.eval_reference == "oracle"
    none = vs[("reference", "none")].cfg
    assert none.model.reference == "none" and none.init is None
    assert vs[("pretraining", "synthetic")].cfg.init == "ckpt"
    assert vs[("pretraining", "none")].cfg.init is None
    assert vs[("encoders", "shared")].cfg.model.encoder_mode == "shared"
    assert vs[("distillation", "off")].cfg.distill.teacher is None
    # synthetic data: the teacher (trained by ablate when none is given) guides this training
    assert vs[("distillation", "on")].teacher_stage
    real = {(v.axis, v.value): v for v in variants(base, kind="unbc")}
    assert real[("distillation", "on")].cfg is None  # real data, no pretrain_config: named
    assert "pretrain_config" in real[("distillation", "on")].skip_reason
    with_pre = {(v.axis, v.value): v for v in variants(
        fast_config(**{"ablate.pretrain_config": "p.yaml", "distill.teacher": "t"}),
        kind="unbc")}
    # on real data the teacher serves the synthetic pretraining, never a UNBC fine-tuning
    assert all(v.cfg.distill.teacher is None for v in with_pre.values())
    assert with_pre[("distillation", "on")].init_stage == "pretrain-distill-on"
    assert with_pre[("distillation", "off")].init_stage == "pretrain-distill-off"
    assert with_pre[("pretraining", "synthetic")].init_stage == "pretrain-distill-off"
    with pytest.raises(ValueError, match="unknown ablation axis"):
        variants(base, ("colour",))


@pytest.mark.slow
def test_ablate_tabulates_variants_and_names_the_ones_it_cannot_run(unbc_file, tmp_path,
                                                                      capsys):
    out = tmp_path / "abl"
    assert main(["ablate", "--config", TINY, "--data", str(unbc_file), "--run-dir", str(out),
                 "--epochs", "1", "--folds", "0", "--axes", "pretraining", *FAST]) == 0
    table = (out / "ablation.md").read_text()
    assert "| pretraining | synthetic |" in table and "skipped: no init checkpoint" in table
    assert "| pretraining | none |" in table
    df = pd.read_csv(out / "ablation.csv")
    assert df.loc[df.variant == "none", "mae"].notna().all()


def test_production_trains_one_model_on_every_subject(unbc_file, tmp_path, capsys):
    rd = tmp_path / "prod"
    assert main(["cv", "--config", TINY, "--data", str(unbc_file), "--run-dir", str(rd),
                 "--epochs", "1", "--production", *FAST]) == 0
    assert "production model" in capsys.readouterr().out
    run = json.loads((rd / "run.json").read_text())
    assert run["recipe"] == "production" and len(run["fit"]) + len(run["val"]) == 10
    assert not set(run["fit"]) & set(run["val"]) and not list(rd.glob("fold_*"))
    assert (rd / "model" / "config.json").is_file()


def test_a_run_config_saved_by_earlier_versions_still_loads(tmp_path):
    """The data and distill sections as runs saved them before DataConfig moved to
    pain3d.data and DistillSettings became TeacherConfig."""
    from pain3d.config import load_config
    from pain3d.train.config import TrainConfig

    (tmp_path / "config.yaml").write_text(
        "pain3d_version: 0.1.0\nname: run\n"
        "data:\n  root: data/unbc.h5\n  kind: unbc\n  layout: auto\n  split_csv: null\n"
        "  annotations: null\n  folds_file: null\n  reference: label-free\n"
        "  eval_reference: oracle\n  references: 3\n  reference_images: null\n"
        "  label_free_frames: 5\n  image_size: null\n  skip_bad: false\n"
        "  include_neutral: false\n  input: rgb\n  heatmaps: false\n  face_crop: true\n"
        "distill:\n  teacher: runs/t/model\n  feature: mse\n  feature_weight: 2.0\n"
        "  prediction_weight: 0.5\n")
    cfg = load_config(TrainConfig, tmp_path / "config.yaml")
    assert (cfg.data.kind, cfg.data.eval_reference, cfg.data.references) == ("unbc", "oracle", 3)
    assert (cfg.distill.teacher, cfg.distill.feature, cfg.distill.feature_weight) == (
        "runs/t/model", "mse", 2.0)
