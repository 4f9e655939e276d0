"""``pain3d demo``: the reduced demo runs end to end (slow), and the stage bookkeeping."""

from __future__ import annotations

import json

import pytest

from pain3d.cli import main
from pain3d.demo import STAGES, DemoConfig, missing_parts, run_demo


def test_small_preset_is_smaller_and_validated():
    small, full = DemoConfig.small(), DemoConfig()
    assert small.identities < full.identities and small.epochs < full.epochs
    with pytest.raises(ValueError, match="identities"):
        DemoConfig(identities=2)


def test_demo_trains_a_random_backbone_whole_on_pain_and_neutral_renders(tmp_path):
    from pain3d.demo.run import train_config
    from pain3d.model import build_model

    tc = train_config(DemoConfig(), tmp_path / "data", tmp_path / "run")
    assert tc.model.train_backbone and tc.model.lora.rank == 0 and tc.data.include_neutral
    model = build_model(tc.model)
    backbone = {n: p for n, p in model.named_parameters() if n.startswith("encoder.")}
    # every weight a forward pass uses trains (the masked-image-modelling token does not)
    assert backbone and all(p.requires_grad != n.endswith("mask_token")
                            for n, p in backbone.items())
    # the published frozen backbone + LoRA stays available
    lora = train_config(DemoConfig(train_backbone=False, lora_rank=8), tmp_path, tmp_path)
    model = build_model(lora.model)
    assert not any(p.requires_grad for n, p in model.named_parameters()
                   if n.startswith("encoder.") and "lora_" not in n)


def test_every_stage_declares_what_it_needs():
    for stage in STAGES:
        assert isinstance(missing_parts(stage), list)


def test_demo_refuses_a_folder_that_holds_other_files(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="choose another --out"):
        run_demo(DemoConfig.small(out=str(tmp_path)))
    assert (tmp_path / "thesis.tex").read_text() == "precious"


@pytest.mark.slow
def test_reduced_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--small", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    report = out / "report.html"
    assert f"report: {report.resolve()}" in printed
    html = report.read_text()
    for stage in STAGES:
        assert f"<td>{stage}</td><td><span class='ok'>ok</span>" in html
    assert html.count("data:image/png;base64,") >= 5
    # real numbers: the evaluation's metrics file and the video's per-frame predictions
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert metrics["protocol"] == "honest"
    import pandas as pd

    frames = pd.read_csv(out / "video" / "frames.csv")
    truth = pd.read_csv(out / "video" / "truth.csv")
    assert len(frames) == len(truth) and frames["pspi"].notna().mean() > 0.8
    assert truth["pspi"].max() > 8 and truth["pspi"].iloc[0] == 0
    # the label-free reference rule picked neutral frames of the rendered face
    summary = json.loads((out / "summary.json").read_text())
    refs = summary["numbers"]["video_prediction"]["reference_frames"]
    assert refs and (truth.loc[refs, "pspi"] == 0).all()
    # a second run replaces the first (the folder holds a previous demo)
    assert main(["demo", "--small", "--out", str(out), "--epochs", "1"]) == 0
