"""Metric functions against hand-computed cases and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score, mean_absolute_error, mean_squared_error, roc_auc_score

from pain3d.evaluate import metrics as M


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    true = rng.integers(0, 6, 200).astype(float)
    true[rng.random(200) < 0.5] = 0
    pred = np.round(np.clip(true + rng.normal(0, 1.2, 200), 0, 16), 1)  # rounding makes ties
    return pred, true


def test_regression_metrics_match_sklearn_and_scipy(pair):
    pred, true = pair
    assert M.mae(pred, true) == pytest.approx(mean_absolute_error(true, pred))
    assert M.rmse(pred, true) == pytest.approx(math.sqrt(mean_squared_error(true, pred)))
    assert M.pcc(pred, true) == pytest.approx(stats.pearsonr(pred, true)[0])


@pytest.mark.parametrize("level", [1, 2, 3])
def test_auroc_with_ties_matches_sklearn(pair, level):
    pred, true = pair
    assert len(np.unique(pred)) < pred.size  # the case really has ties
    assert M.auroc_at(pred, true, level) == pytest.approx(roc_auc_score(true >= level, pred))


def test_auroc_counts_a_tied_pair_as_one_half():
    assert M.auroc([1.0, 1.0], [False, True]) == 0.5
    assert M.auroc([0.0, 1.0, 1.0], [False, False, True]) == pytest.approx(0.75)


def test_auroc_of_a_single_class_fold_is_nan():
    assert math.isnan(M.auroc_at([0.1, 2.0, 3.0], [0, 0, 0], 1))
    assert math.isnan(M.auroc_at([0.1, 2.0, 3.0], [4, 5, 6], 1))


def test_constant_predictions_have_nan_pcc_zero_icc_and_finite_errors():
    true = np.array([0, 1, 2, 3.0])
    pred = np.full(4, 1.5)
    assert math.isnan(M.pcc(pred, true))
    assert M.mae(pred, true) == pytest.approx(1.0)
    # Constant predictions against varying truth: ICC(3,1) is defined and exactly 0.
    assert M.icc31(pred, true) == pytest.approx(0.0, abs=1e-12)
    assert M.icc31(true, pred) == pytest.approx(0.0, abs=1e-12)


def test_icc31_is_nan_only_when_both_sides_are_constant():
    assert math.isnan(M.icc31(np.zeros(4), np.zeros(4)))
    assert math.isnan(M.icc31(np.full(4, 2.0), np.full(4, 5.0)))
    assert math.isnan(M.icc31([1.0], [1.0]))


def test_icc31_is_the_two_rater_consistency_icc(pair):
    """ICC(3,1) = ICC(C,1): for two raters 2 cov / (var + var); offsets do not lower it,
    a scale difference does (unlike PCC), and absolute disagreement is not what it measures."""
    pred, true = pair
    cov = np.cov(pred, true)
    expected = 2 * cov[0, 1] / (cov[0, 0] + cov[1, 1])
    assert M.icc31(pred, true) == pytest.approx(expected)
    assert M.icc31(pred + 3.0, true) == pytest.approx(expected)  # consistency: offset-free
    assert M.icc31(2.0 * pred, true) < M.pcc(2.0 * pred, true)   # scale counts, not for PCC


def test_pcc_of_a_constant_column_is_nan_despite_centring_noise():
    col = np.full(7, 0.1)
    true = np.array([0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0])
    centred, t = col - col.mean(), true - true.mean()
    assert np.any(centred != 0)  # the float noise the check must not mistake for variance
    # The textbook formula turns that noise into a finite "correlation": the trap is real.
    assert math.isfinite(float(centred @ t) / math.sqrt(float(centred @ centred) * float(t @ t)))
    assert math.isnan(M.pcc(col, true))
    assert math.isnan(M.pcc(true, col))
    assert math.isnan(M.pcc([2.0], [3.0]))  # fewer than two values
    # A column that merely varies a little is not mistaken for a constant one.
    assert M.pcc(col + 1e-6 * true, true) == pytest.approx(1.0)


def test_icc31_matches_a_hand_computed_shrout_fleiss_table_and_ignores_an_offset():
    # Shrout & Fleiss two-way table: rows (2, 1), (4, 3), (6, 8).
    pred, true = np.array([2.0, 4.0, 6.0]), np.array([1.0, 3.0, 8.0])
    # grand mean 4; row means 1.5, 3.5, 7; col means 4, 4.
    ms_rows = 2 * ((1.5 - 4) ** 2 + (3.5 - 4) ** 2 + (7 - 4) ** 2) / 2
    ss_total = sum((v - 4) ** 2 for v in [2, 1, 4, 3, 6, 8])
    ms_err = (ss_total - 2 * ms_rows) / 2
    expected = (ms_rows - ms_err) / (ms_rows + ms_err)
    assert M.icc31(pred, true) == pytest.approx(expected)
    assert M.icc31(pred + 5.0, true) == pytest.approx(expected)
    assert M.icc31(true, true) == pytest.approx(1.0)


@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.3])
def test_f1_matches_sklearn(pair, threshold):
    pred, true = pair
    assert M.f1_at(pred, true, 2, threshold) == pytest.approx(
        f1_score(true >= 2, pred >= threshold))


def test_f1_is_nan_without_any_positive_and_zero_when_all_missed():
    assert math.isnan(M.f1_at([0.1, 0.2], [0, 0], 1, 0.5))
    assert M.f1_at([0.1, 0.2], [0, 3], 1, 0.5) == 0.0


def test_calibrated_threshold_maximises_training_f1_on_the_grid(pair):
    pred, true = pair
    th = M.calibrate_threshold(pred, true, 1)
    grid = np.linspace(0, 6, 200)
    assert th in grid
    best = max(f1_score(true >= 1, pred >= g) for g in grid)
    assert f1_score(true >= 1, pred >= th) == pytest.approx(best)
    # Ties go to the smallest threshold: everything below th scores strictly less.
    assert all(f1_score(true >= 1, pred >= g) < best for g in grid[grid < th])


def test_calibration_falls_back_to_the_rounding_boundary_without_positives():
    assert M.calibrate_threshold([0.0, 0.0], [0.0, 0.0], 2) == 1.5


def test_mean_ci_uses_the_t_distribution_and_skips_nan():
    vals = [0.5, 0.6, 0.55, 0.7, 0.45]
    m, h, n = M.mean_ci(vals)
    assert n == 5 and m == pytest.approx(0.56)
    assert h == pytest.approx(2.776 * np.std(vals, ddof=1) / math.sqrt(5), rel=1e-3)
    m2, h2, n2 = M.mean_ci([0.5, math.nan, 0.7])
    assert (m2, n2) == (pytest.approx(0.6), 2)
    assert h2 == pytest.approx(stats.t.ppf(0.975, 1) * np.std([0.5, 0.7], ddof=1) / math.sqrt(2))
    assert math.isnan(M.mean_ci([0.4])[1])
    assert M.mean_ci([math.nan])[2] == 0


def test_fold_metrics_calibrate_on_train_only(pair):
    pred, true = pair
    # Shifting the *test* predictions must not move the thresholds.
    a = M.fold_metrics(pred, true, pred, true)
    b = M.fold_metrics(pred + 3.0, true, pred, true)
    for lv in (1, 2, 3):
        assert a[f"threshold_{lv}"] == b[f"threshold_{lv}"]
    assert a["f1_macro"] == pytest.approx(np.mean([a["f1_1"], a["f1_2"], a["f1_3"]]))


def test_roc_points_integrate_to_auroc(pair):
    pred, true = pair
    fpr, tpr = M.roc_curve_points(pred, true >= 2)
    assert np.trapezoid(tpr, fpr) == pytest.approx(M.auroc_at(pred, true, 2))


def test_mismatched_or_non_finite_inputs_are_rejected():
    with pytest.raises(ValueError, match="pair up"):
        M.mae([1, 2], [1])
    with pytest.raises(ValueError, match="finite"):
        M.pcc([1, np.nan], [1, 2])
