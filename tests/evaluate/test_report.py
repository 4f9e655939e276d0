"""Scoring a predictions file and writing reports."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import f1_score, roc_auc_score

from pain3d.evaluate import evaluate_predictions, read_predictions, score_predictions, write_report


def test_scores_equal_an_independent_recomputation_with_sklearn(predictions):
    scores = score_predictions(predictions)
    ref = scores.primary
    assert ref.reference == "label_free" and len(ref.folds) == 5
    pccs, aucs, f1s = [], [], []
    grid = np.linspace(0, 6, 200)
    for fold, te in predictions[predictions.split == "test"].groupby("fold"):
        tr = predictions[(predictions.split == "train") & (predictions.fold == fold)]
        pccs.append(stats.pearsonr(te.pred, te.true)[0])
        aucs.append(roc_auc_score(te.true >= 1, te.pred))
        train_f1 = [f1_score(tr.true >= 1, tr.pred >= g, zero_division=0) for g in grid]
        th = grid[int(np.argmax(train_f1))]
        f1s.append(f1_score(te.true >= 1, te.pred >= th))
    for key, vals in (("pcc", pccs), ("auroc_1", aucs), ("f1_1", f1s)):
        mean = np.mean(vals)
        half = stats.t.ppf(0.975, 4) * np.std(vals, ddof=1) / math.sqrt(5)
        assert ref.summary[key]["mean"] == pytest.approx(mean)
        assert ref.summary[key]["ci95"] == pytest.approx(half)


def test_a_fold_without_positives_gets_nan_auroc_and_is_left_out_of_the_mean(
        predictions_factory):
    df = predictions_factory(seed=1)
    mask = (df.fold == 2) & (df.split == "test")
    df.loc[mask, "true"] = 0.0
    ref = score_predictions(df).primary
    fold2 = next(f for f in ref.folds if f["fold"] == "2")
    assert math.isnan(fold2["auroc_1"])
    # No positive in the test fold: F1 is 0 if anything is called positive, else undefined.
    assert math.isnan(fold2["f1_1"]) or fold2["f1_1"] == 0.0
    assert ref.summary["auroc_1"]["n"] == 4
    others = [f["auroc_1"] for f in ref.folds if f["fold"] != "2"]
    assert ref.summary["auroc_1"]["mean"] == pytest.approx(np.mean(others))


def test_a_fold_without_training_predictions_is_refused(predictions):
    df = predictions[~((predictions.fold == 3) & (predictions.split == "train"))]
    with pytest.raises(ValueError, match="fold '3'.*split = train"):
        score_predictions(df)


def test_oracle_references_are_scored_separately_and_labelled(tmp_path, predictions_factory):
    df = predictions_factory(oracle=True)
    rep = write_report(df, tmp_path, plots=False)
    assert set(rep.scores.references) == {"label_free", "oracle"}
    assert rep.scores.primary.reference == "label_free"
    md = rep.markdown.read_text()
    assert "ORACLE references" in md and "Protocol: honest" in md


def test_report_numbers_equal_the_json_and_a_recomputation_from_the_csv(tmp_path, predictions):
    csv = tmp_path / "preds.csv"
    predictions.to_csv(csv, index=False)
    rep = evaluate_predictions(csv, tmp_path / "rep", protocol="published")
    data = json.loads(rep.json.read_text())
    again = score_predictions(read_predictions(csv), protocol="published").primary
    assert data["protocol"] == "published"
    assert data["references"]["label_free"]["summary"]["pcc"]["mean"] == pytest.approx(
        again.summary["pcc"]["mean"])
    s = again.summary["f1_macro"]
    assert f"| F1 macro | {s['mean']:.3f} ± {s['ci95']:.3f} |" in rep.markdown.read_text()
    html = rep.html.read_text()
    assert html.count("data:image/png;base64,") == len(rep.plots) == 6
    assert "Protocol: published" in rep.markdown.read_text()
    for p in rep.plots.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_predictions_files_name_the_row_and_column(tmp_path, predictions):
    csv = tmp_path / "bad.csv"
    bad = predictions.copy()
    bad.loc[5, "split"] = "validation"
    bad.to_csv(csv, index=False)
    with pytest.raises(ValueError, match="row 7: split 'validation'"):
        read_predictions(csv)
    predictions.drop(columns=["true"]).to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['true'\]"):
        read_predictions(csv)


def test_pooled_f1_applies_each_folds_threshold_to_its_own_frames(predictions):
    ref = score_predictions(predictions).primary
    called, positive = [], []
    for f in ref.folds:
        te = predictions[(predictions.fold.astype(str) == f["fold"])
                         & (predictions.split == "test")]
        called += list(te.pred >= f["threshold_2"])
        positive += list(te.true >= 2)
    assert ref.pooled["f1_2"] == pytest.approx(f1_score(positive, called))


def test_per_subject_pcc_is_computed_on_each_subjects_test_frames(predictions):
    ref = score_predictions(predictions).primary
    te = predictions[predictions.split == "test"]
    for subject, g in te.groupby("subject"):
        assert ref.per_subject_pcc[subject] == pytest.approx(stats.pearsonr(g.pred, g.true)[0])
    assert ref.per_subject_summary["n"] == te.subject.nunique()


def test_a_headline_scored_with_oracle_references_says_oracle_everywhere(
        tmp_path, predictions_factory):
    """Honest protocol, but the test references were chosen with the test labels: the
    headline must not claim label-free references (report.md, report.html, metrics.json)."""
    df = predictions_factory(oracle=True)
    df = df[(df.split == "train") | (df.reference == "oracle")]
    rep = write_report(df, tmp_path, protocol="honest", plots=False)
    assert rep.scores.primary.reference == "oracle"
    data = json.loads(rep.json.read_text())
    texts = {"metrics.json": data["protocol_description"], "report.md": rep.markdown.read_text(),
             "report.html": rep.html.read_text()}
    for name, text in texts.items():
        assert "label-free neutral references at test" not in text, name
        assert "ORACLE references" in text and "test labels" in text, name
    assert data["protocol"] == "honest"


def test_the_protocol_description_names_the_references_actually_scored(predictions_factory):
    label_free = predictions_factory()
    honest = score_predictions(label_free, protocol="honest")
    assert "label-free neutral references at test" in honest.protocol_description
    published = score_predictions(label_free, protocol="published")
    assert published.primary.reference == "label_free"
    assert "label-free neutral references at test" in published.protocol_description
    assert "oracle" not in published.protocol_description
    both = score_predictions(predictions_factory(oracle=True), protocol="published")
    assert both.primary.reference == "oracle"
    assert "oracle references (ground-truth PSPI 0) at test" in both.protocol_description


def test_a_test_subject_among_the_same_folds_training_rows_is_refused(tmp_path, predictions,
                                                                      capsys):
    """Scoring checks the folds again: fold 1's first test subject also has train rows."""
    from pain3d.cli import main

    df = predictions.copy()
    leak = df[(df.fold == 1) & (df.split == "test")].subject.iloc[0]
    df.loc[(df.fold == 1) & (df.split == "train") & (df.index % 2 == 0), "subject"] = leak
    with pytest.raises(ValueError, match=rf"fold '1': subject\(s\) {leak} have test rows and "
                                         "split = train rows"):
        score_predictions(df)
    # Another fold's training rows may hold the subject: that is k-fold.
    ok = predictions.copy()
    ok.loc[(ok.fold == 2) & (ok.split == "train"), "subject"] = leak
    score_predictions(ok)
    df.to_csv(tmp_path / "p.csv", index=False)
    assert main(["evaluate", "--predictions", str(tmp_path / "p.csv"), "--no-plots"]) == 2
    assert f"subject(s) {leak} have test rows" in capsys.readouterr().err


def test_a_test_frame_scored_twice_is_refused(predictions):
    df = predictions.copy()
    df["path"] = [f"img{i}.png" for i in range(len(df))]
    score_predictions(df)
    dup = df[(df.fold == 0) & (df.split == "test")].iloc[:1]
    twice = pd.concat([df, dup], ignore_index=True)
    with pytest.raises(ValueError, match=r"img\d+\.png is scored 2 times in fold '0'"):
        score_predictions(twice)


def test_test_rows_used_for_selection_are_never_scored_as_honest(predictions):
    df = predictions.copy()
    df["used_for_selection"] = np.where(df.split == "test", 1, np.nan)
    with pytest.raises(ValueError, match="used_for_selection"):
        score_predictions(df, protocol="honest")
    scores = score_predictions(df, protocol="validation")
    assert scores.protocol_description.startswith("VALIDATION numbers, not a held-out test")
    assert score_predictions(predictions, "honest").primary.summary == scores.primary.summary
