"""Pain-estimation metrics as pure numpy functions.

Every function takes 1-D arrays of predicted and true PSPI (float, any scale, usually 0..16)
and returns a float. Undefined cases return ``NaN`` rather than a made-up number, so means
over folds skip them explicitly (:func:`mean_ci` counts only finite values):

- constant predictions or constant targets: PCC is ``NaN`` (zero variance); ICC(3,1) is
  then 0 (no consistency), and ``NaN`` only when both sides are constant;
- a fold with a single class at a PSPI level (no frame >= level, or every frame >= level):
  AUROC is ``NaN``;
- F1 with no true and no predicted positives: ``NaN`` (0/0); with true positives present but
  none found, F1 is 0;
- empty input: every metric is ``NaN``.

Ties: AUROC uses average ranks (the Mann-Whitney statistic), so a tied positive/negative pair
counts one half, exactly as :func:`sklearn.metrics.roc_auc_score`. Binarisation always uses
``>=``: a frame is positive at level ``L`` when its true PSPI is ``>= L``; a prediction is
positive when it is ``>=`` the decision threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

PAIN_LEVELS: tuple[int, ...] = (1, 2, 3)
"""PSPI levels for the binary metrics (AUROC, F1): pain present when PSPI >= level."""

THRESHOLD_GRID: tuple[float, float, int] = (0.0, 6.0, 200)
"""Decision-threshold grid (start, stop, steps), inclusive: ``np.linspace(0, 6, 200)``.

The grid of the published protocol, used by both protocols so that F1 values compare."""


def _pair(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(true, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"pred has {p.size} values but true has {t.size}: they must pair up")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("pred and true must be finite numbers (found NaN or inf)")
    return p, t


def mae(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """Mean absolute error, in PSPI units."""
    p, t = _pair(pred, true)
    return float(np.mean(np.abs(p - t))) if p.size else math.nan


def rmse(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """Root mean squared error, in PSPI units."""
    p, t = _pair(pred, true)
    return float(np.sqrt(np.mean((p - t) ** 2))) if p.size else math.nan


def pcc(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation; ``NaN`` when either side is constant or has < 2 values."""
    p, t = _pair(pred, true)
    if p.size < 2:
        return math.nan
    # Exact constancy, tested before centring: mean subtraction leaves float noise that
    # would otherwise pass for variance.
    if np.ptp(p) == 0 or np.ptp(t) == 0:
        return math.nan
    dp, dt = p - p.mean(), t - t.mean()
    den = math.sqrt(float(dp @ dp) * float(dt @ dt))
    return float(np.clip((dp @ dt) / den, -1.0, 1.0))


def icc31(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """ICC(3,1): two-way mixed effects, consistency, single rater.

    Shrout and Fleiss (1979) call it ICC(3,1); McGraw and Wong (1996) ICC(C,1). The two
    "raters" are the model and the ground truth; with n targets and k = 2,
    ``ICC = (MS_rows - MS_error) / (MS_rows + (k - 1) MS_error)``, which for two raters
    equals ``2 cov(pred, true) / (var(pred) + var(true))``. A constant offset between the
    raters does not lower it (consistency, not absolute agreement); a scale difference does.
    Constant predictions against varying targets give 0; ``NaN`` when both mean squares are
    zero (both sides constant) or n < 2.
    """
    p, t = _pair(pred, true)
    n, k = p.size, 2
    if n < 2:
        return math.nan
    y = np.stack([p, t], axis=1)
    grand = y.mean()
    ss_rows = k * np.sum((y.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((y.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((y - grand) ** 2) - ss_rows - ss_cols
    ms_rows = ss_rows / (n - 1)
    ms_err = max(ss_err, 0.0) / ((n - 1) * (k - 1))
    den = ms_rows + (k - 1) * ms_err
    if den <= 1e-24:
        return math.nan
    return float((ms_rows - ms_err) / den)


def auroc(score: Sequence[float] | np.ndarray, positive: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve of a continuous score for a binary label.

    Computed as the Mann-Whitney U statistic with average ranks for ties. ``NaN`` when the
    labels hold a single class.
    """
    s = np.asarray(score, dtype=np.float64).ravel()
    y = np.asarray(positive, dtype=bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"score has {s.size} values but the labels have {y.size}")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = stats.rankdata(s, method="average")
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auroc_at(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray,
             level: float) -> float:
    """AUROC of the continuous PSPI prediction for ``true >= level``."""
    p, t = _pair(pred, true)
    return auroc(p, t >= level)


def f1_binary(pred_pos: np.ndarray, true_pos: np.ndarray) -> float:
    """F1 = 2TP / (2TP + FP + FN); ``NaN`` when there are no true and no predicted positives."""
    pp = np.asarray(pred_pos, dtype=bool)
    tp_ = np.asarray(true_pos, dtype=bool)
    tp = int(np.sum(pp & tp_))
    den = 2 * tp + int(np.sum(pp & ~tp_)) + int(np.sum(~pp & tp_))
    return math.nan if den == 0 else 2.0 * tp / den


def f1_at(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray,
          level: float, threshold: float) -> float:
    """F1 for ``true >= level`` when a frame is called positive at ``pred >= threshold``."""
    p, t = _pair(pred, true)
    if not math.isfinite(threshold):
        return math.nan
    return f1_binary(p >= threshold, t >= level)


def threshold_grid(grid: tuple[float, float, int] = THRESHOLD_GRID) -> np.ndarray:
    """The candidate decision thresholds, ``np.linspace(*grid)``."""
    lo, hi, steps = grid
    if steps < 1 or not hi >= lo:
        raise ValueError(f"threshold grid {grid} must be (start, stop >= start, steps >= 1)")
    return np.linspace(float(lo), float(hi), int(steps))


def f1_curve(pred: np.ndarray, true: np.ndarray, level: float,
             thresholds: np.ndarray) -> np.ndarray:
    """F1 at every threshold (vectorised), ``(T,)``; ``NaN`` where 0/0."""
    p, t = _pair(pred, true)
    pos = t >= level
    called = p[None, :] >= np.asarray(thresholds, dtype=np.float64)[:, None]  # (T, N)
    tp = (called & pos[None, :]).sum(axis=1)
    fp = (called & ~pos[None, :]).sum(axis=1)
    fn = pos.sum() - tp
    den = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 2.0 * tp / np.maximum(den, 1), np.nan)


def calibrate_threshold(pred: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray,
                        level: float, grid: tuple[float, float, int] = THRESHOLD_GRID) -> float:
    """The threshold on the grid that maximises F1 at ``level`` on these (training) predictions.

    Ties go to the smallest threshold. When the training frames hold no positive at this
    level, F1 carries no information (0 or undefined everywhere) and the threshold falls back
    to ``level - 0.5``, the rounding boundary of an integer PSPI.
    """
    p, t = _pair(pred, true)
    ths = threshold_grid(grid)
    if not np.any(t >= level):
        return float(level) - 0.5
    f1 = f1_curve(p, t, level, ths)
    return float(ths[int(np.nanargmax(f1))])


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = 0.95
            ) -> tuple[float, float, int]:
    """Mean and t-distribution confidence half-width over folds, skipping ``NaN`` folds.

    Returns:
        ``(mean, half_width, n)`` where ``half_width = t_{(1+c)/2, n-1} * sd / sqrt(n)``
        with the sample standard deviation (ddof 1) and ``n`` the number of finite values
        (t = 2.776 for 5 folds). The half-width is ``NaN`` for ``n < 2``; the mean is ``NaN``
        for ``n == 0``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return math.nan, math.nan, 0
    m = float(v.mean())
    if n < 2:
        return m, math.nan, n
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return m, half, n


def regression_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, PCC and ICC(3,1) of one set of predictions."""
    return {"mae": mae(pred, true), "rmse": rmse(pred, true), "pcc": pcc(pred, true),
            "icc": icc31(pred, true)}


def fold_metrics(test_pred: np.ndarray, test_true: np.ndarray, train_pred: np.ndarray,
                 train_true: np.ndarray, levels: Sequence[int] = PAIN_LEVELS,
                 grid: tuple[float, float, int] = THRESHOLD_GRID) -> dict[str, float]:
    """All metrics of one fold: regression, AUROC and train-calibrated F1 at each level.

    Thresholds come from the training predictions only (:func:`calibrate_threshold`) and are
    applied unchanged to the test predictions. Keys: ``mae rmse pcc icc auroc_<L> f1_<L>
    threshold_<L> f1_macro n_test n_train``; ``f1_macro`` is the mean of the finite F1s.
    """
    out: dict[str, float] = regression_metrics(test_pred, test_true)
    f1s = []
    for lv in levels:
        th = calibrate_threshold(train_pred, train_true, lv, grid)
        out[f"auroc_{lv}"] = auroc_at(test_pred, test_true, lv)
        out[f"threshold_{lv}"] = th
        out[f"f1_{lv}"] = f1_at(test_pred, test_true, lv, th)
        f1s.append(out[f"f1_{lv}"])
    finite = [f for f in f1s if math.isfinite(f)]
    out["f1_macro"] = float(np.mean(finite)) if finite else math.nan
    out["n_test"] = float(np.asarray(test_pred).size)
    out["n_train"] = float(np.asarray(train_pred).size)
    return out


def roc_curve_points(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every distinct threshold, for plots.

    Empty arrays when the labels hold a single class.
    """
    s = np.asarray(score, dtype=np.float64).ravel()
    y = np.asarray(positive, dtype=bool).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]  # last index of each tied block
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]
