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


def test_demo_data_holds_pspi0_samples_of_held_out_identities_that_are_separate_captures():
    """Detection is measurable: the test identities have neutral sessions (PSPI 0, not
    references), and every image has its own capture variation."""
    from pain3d.demo.run import _gen_config
    from pain3d.synth.plan import build_plan

    gen = _gen_config(DemoConfig())
    assert gen.reference_variation is not None and gen.reference_variation.neutral_sessions > 0
    test = [s for s in build_plan(gen).samples if s.identity.split == "test"]
    sessions = [s for s in test if s.session]
    assert sessions and all(s.pspi == 0 and not s.is_reference for s in sessions)
    assert all(s.variation is not None for s in test)
    with pytest.raises(ValueError, match="reference_variation"):
        DemoConfig(reference_variation=False)  # sessions without variation would be copies


def test_baselines_are_scored_for_detection_like_vitpain(tmp_path):
    """The ridge ranks frames by its predicted PSPI and the constant predicts the training
    mean; both get AUROC and F1 at PSPI >= 1 on the same held-out samples."""
    from pain3d.demo.baseline import pixel_difference_baseline
    from pain3d.synth.config import GenerateConfig, VariationConfig
    from pain3d.synth.generate import RunOptions, generate

    cfg = GenerateConfig(identities=10, per_identity=3, views=1, size=48, seed=1,
                         renderer="pain3d.synth.testing:PlainRenderer",
                         split_fractions=(0.6, 0.2, 0.2),
                         reference_variation=VariationConfig(neutral_sessions=2))
    generate(cfg, RunOptions(out=tmp_path / "ds", workers=1, progress=False))
    base = pixel_difference_baseline(tmp_path / "ds", size=32, grid=4)
    for name in ("ridge", "constant"):
        m = base[name]
        assert 0 <= m["auroc_1"] <= 1 and 0 <= m["f1_1"] <= 1 and m["n_test"] == 2 * 5
    assert base["constant"]["auroc_1"] == 0.5
    # the plain renderer brightens the face with PSPI: the ridge must rank by it
    assert base["ridge"]["auroc_1"] > 0.9 and base["ridge"]["mae"] < base["constant"]["mae"]


def test_neutral_frame_probability_is_the_mean_over_frames_with_true_pspi_0():
    import pandas as pd

    from pain3d.demo.run import _neutral_frame_numbers

    df = pd.DataFrame({"pain_prob": [0.1, 0.3, float("nan"), 0.9, 0.7],
                       "true_pspi": [0.0, 0.0, 0.0, 4.0, 0.5],
                       "is_reference": [True, False, False, False, False]})
    got = _neutral_frame_numbers(df)
    assert got["pain_prob_neutral_frames"] == pytest.approx(0.2)
    assert got["n_neutral_frames"] == 2 and got["pain_prob_pain_frames"] == pytest.approx(0.9)
    # the frames the reference was taken from are left out of the "unseen" mean
    assert got["pain_prob_neutral_unseen_frames"] == pytest.approx(0.3)
    assert got["n_neutral_unseen_frames"] == 1


_COMPARISON = {"vitpain": {"mae": 1.5, "pcc": 0.9, "auroc_1": 0.93, "f1_1": 0.91},
               "ridge": {"mae": 3.1, "pcc": 0.7, "auroc_1": 0.84, "f1_1": 0.85},
               "constant": {"mae": 4.7, "pcc": None, "auroc_1": 0.5, "f1_1": 0.86}}


def _context_with_numbers(tmp_path):
    from pain3d.demo.config import DemoContext

    ctx = DemoContext(DemoConfig(), tmp_path)
    ctx.numbers = {"dataset": {"identities_by_split": {"test": 19}},
                   "test_metrics": {"reference": "label_free", "mae": 1.5, "pcc": 0.9,
                                    "auroc_1": 0.93, "f1_1": 0.91, "icc": 0.88},
                   "comparison": _COMPARISON}
    return ctx


def test_report_shows_auroc_and_f1_of_vitpain_and_both_baselines(tmp_path):
    import re

    from pain3d.demo.report import _metrics_section

    html = "".join(_metrics_section(_context_with_numbers(tmp_path)))
    assert ("<th>ViTPain (tiny)</th><th>pixel-difference ridge</th>"
            "<th>constant (training mean)</th>") in html
    rows = dict(re.findall(r"<tr><td>([^<]*)</td>((?:<td>[^<]*</td>){3})</tr>", html))
    assert rows["AUROC PSPI&ge;1"] == ("<td>0.930</td><td>0.840</td>"
                                      "<td>0.500 (by definition)</td>")
    assert rows["F1 PSPI&ge;1"] == "<td>0.910</td><td>0.850</td><td>0.860</td>"
    assert "it beats the pixel-difference ridge on MAE and Pearson r" in html


def test_run_metrics_file_gains_the_comparison_and_the_video_numbers(tmp_path):
    from types import SimpleNamespace

    from pain3d.demo.run import _write_run_metrics

    ctx = _context_with_numbers(tmp_path)
    ctx.run = SimpleNamespace(run_dir=tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"protocol": "honest"}))
    ctx.numbers["video_prediction"] = {"pain_prob_neutral_frames": 0.12, "n_neutral_frames": 20}
    _write_run_metrics(ctx)
    got = json.loads((tmp_path / "metrics.json").read_text())
    assert got["protocol"] == "honest"  # the evaluation's own keys stay
    assert got["demo"]["held_out"] == _COMPARISON
    assert got["demo"]["video"]["pain_prob_neutral_frames"] == 0.12
    assert "0.5 by definition" in got["demo"]["note"]


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
    for name in ("vitpain", "ridge", "constant"):
        assert {"mae", "pcc", "auroc_1", "f1_1"} <= set(metrics["demo"]["held_out"][name])
    assert 0 <= metrics["demo"]["video"]["pain_prob_neutral_frames"] <= 1
    # detection is measured for ViTPain and both baselines, side by side
    summary = json.loads((out / "summary.json").read_text())
    comparison = summary["numbers"]["comparison"]
    for name in ("vitpain", "ridge", "constant"):
        assert comparison[name]["auroc_1"] is not None and comparison[name]["f1_1"] is not None
    assert 0 <= comparison["vitpain"]["pain_prob_neutral_frames"] <= 1
    assert "pixel-difference ridge" in report.read_text()
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
