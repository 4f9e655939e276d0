"""Report figures: each function draws one PNG from validated predictions and their scores.

matplotlib is imported lazily with the non-interactive Agg backend, so plotting works on
headless machines and ``import pain3d.evaluate`` stays cheap.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pain3d.evaluate import metrics as M
from pain3d.evaluate.protocol import METRIC_LABELS, ReferenceScores, Scores, au_columns
from pain3d.io import atomic_path

FOLD_BAR_METRICS: tuple[str, ...] = ("pcc", "icc", "auroc_1", "auroc_2", "auroc_3", "f1_1",
                                     "f1_2", "f1_3", "f1_macro")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def _test(df: pd.DataFrame, ref: str) -> pd.DataFrame:
    return df[(df["split"] == "test") & (df["reference"] == ref)]


def plot_pred_vs_true(df: pd.DataFrame, ref: str, path: Path) -> Path:
    """Scatter of predicted vs true PSPI (test rows), with the per-level mean and the diagonal."""
    plt = _plt()
    te = _test(df, ref)
    t, p = te["true"].to_numpy(), te["pred"].to_numpy()
    rng = np.random.default_rng(0)  # jitter only separates overlapping integer labels
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.scatter(t + rng.uniform(-0.18, 0.18, t.size), p, s=6, alpha=0.25, color="tab:blue",
               linewidths=0, label="test frames (x jittered)")
    levels = np.unique(np.round(t))
    means = [p[np.round(t) == lv].mean() for lv in levels]
    ax.plot(levels, means, "o-", color="tab:red", ms=4, label="mean prediction per true PSPI")
    hi = max(float(t.max(initial=0)), float(p.max(initial=0)), 1.0) + 0.5
    ax.plot([0, hi], [0, hi], "--", color="0.4", lw=1, label="perfect")
    ax.set(xlim=(-0.5, hi), ylim=(-0.5, hi), xlabel="true PSPI", ylabel="predicted PSPI",
           title=f"Predicted vs true PSPI ({ref})")
    ax.legend(loc="upper left", fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_fold_bars(scores: ReferenceScores, path: Path) -> Path:
    """Per-fold bars of each metric with the mean and its 95% CI (t distribution)."""
    plt = _plt()
    names = [m for m in FOLD_BAR_METRICS if m in scores.summary]
    folds = scores.folds
    nf = len(folds)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(names) * max(nf, 3) / 3 + 2), 4.2))
    width = 0.8 / max(nf, 1)
    x = np.arange(len(names))
    cmap = plt.get_cmap("tab10" if nf <= 10 else "viridis")
    for i, f in enumerate(folds):
        vals = [f[m] if math.isfinite(f[m]) else 0.0 for m in names]
        color = cmap(i % 10) if nf <= 10 else cmap(i / max(nf - 1, 1))
        ax.bar(x - 0.4 + width * (i + 0.5), vals, width * 0.95, color=color, alpha=0.75,
               label=f"fold {f['fold']}" if nf <= 10 else None)
    means = [scores.summary[m]["mean"] for m in names]
    cis = [scores.summary[m]["ci95"] for m in names]
    ax.errorbar(x, np.nan_to_num(means), yerr=np.nan_to_num(cis), fmt="D", color="black",
                ms=5, capsize=6, lw=1.5, label="mean ± 95% CI")
    ax.set_xticks(x, [METRIC_LABELS.get(m, m) for m in names], fontsize=8)
    ax.axhline(0, color="0.3", lw=0.8)
    lows = [f[m] for f in folds for m in names if math.isfinite(f[m])]
    lows += [mu - h for mu, h in zip(means, cis, strict=True) if math.isfinite(mu - h)]
    ax.set(ylim=(min([-0.05, *lows]) - 0.05, 1.05), ylabel="score",
           title=f"Per-fold metrics ({scores.reference}; {nf} folds)")
    ax.legend(fontsize=7, ncol=min(nf + 1, 6), loc="lower center", bbox_to_anchor=(0.5, -0.22))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_roc(df: pd.DataFrame, ref: str, levels: tuple[int, ...], path: Path) -> Path:
    """ROC curves at each PSPI level: pooled test rows (bold) and each fold (thin)."""
    plt = _plt()
    te = _test(df, ref)
    fig, axes = plt.subplots(1, len(levels), figsize=(3.6 * len(levels), 3.6), squeeze=False)
    for ax, lv in zip(axes[0], levels, strict=True):
        for _, g in te.groupby("fold"):
            fpr, tpr = M.roc_curve_points(g["pred"].to_numpy(), g["true"].to_numpy() >= lv)
            if fpr.size:
                ax.plot(fpr, tpr, color="tab:blue", alpha=0.35, lw=0.8)
        fpr, tpr = M.roc_curve_points(te["pred"].to_numpy(), te["true"].to_numpy() >= lv)
        auc = M.auroc_at(te["pred"].to_numpy(), te["true"].to_numpy(), lv)
        if fpr.size:
            ax.plot(fpr, tpr, color="tab:red", lw=2, label=f"pooled AUROC {auc:.3f}")
        else:
            ax.text(0.5, 0.5, "one class only:\nAUROC undefined", ha="center", va="center")
        ax.plot([0, 1], [0, 1], "--", color="0.5", lw=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate",
               ylabel="true positive rate", title=f"PSPI ≥ {lv}")
        ax.set_aspect("equal")
        if fpr.size:
            ax.legend(loc="lower right", fontsize=7)
    fig.suptitle(f"ROC curves ({ref}; thin: folds)", fontsize=10)
    return _save(fig, path)


def plot_calibration(df: pd.DataFrame, ref: str, path: Path) -> Path:
    """Mean predicted PSPI (± sd) against the true level, and how many frames each level has."""
    plt = _plt()
    te = _test(df, ref)
    t, p = np.round(te["true"].to_numpy()), te["pred"].to_numpy()
    levels = np.unique(t)
    mean = np.array([p[t == lv].mean() for lv in levels])
    sd = np.array([p[t == lv].std() for lv in levels])
    count = np.array([(t == lv).sum() for lv in levels])
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(5.2, 5.2), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1]})
    ax.fill_between(levels, mean - sd, mean + sd, color="tab:blue", alpha=0.2, label="± 1 sd")
    ax.plot(levels, mean, "o-", color="tab:blue", ms=4, label="mean prediction")
    hi = max(float(levels.max(initial=0)), 1.0)
    ax.plot([0, hi], [0, hi], "--", color="0.4", lw=1, label="perfect calibration")
    ax.set(ylabel="predicted PSPI", title=f"Calibration ({ref})")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    bx.bar(levels, count, color="0.5")
    bx.set_yscale("log")
    bx.set(xlabel="true PSPI (rounded)", ylabel="frames")
    return _save(fig, path)


def plot_confusion(df: pd.DataFrame, scores: ReferenceScores, levels: tuple[int, ...],
                   path: Path) -> Path:
    """2x2 confusion matrices at each level, pooled over folds, each fold at its own threshold."""
    plt = _plt()
    te = _test(df, scores.reference)
    ths = {str(f["fold"]): f for f in scores.folds}
    fig, axes = plt.subplots(1, len(levels), figsize=(3.9 * len(levels), 3.3), squeeze=False,
                             gridspec_kw={"wspace": 0.55})
    for ax, lv in zip(axes[0], levels, strict=True):
        cm = np.zeros((2, 2), dtype=np.int64)
        for fold, g in te.groupby("fold"):
            th = ths[str(fold)][f"threshold_{lv}"]
            yt = g["true"].to_numpy() >= lv
            yp = g["pred"].to_numpy() >= th
            for i, a in enumerate((False, True)):
                for j, b in enumerate((False, True)):
                    cm[i, j] += int(np.sum((yt == a) & (yp == b)))
        ax.imshow(cm, cmap="Blues")
        for i in range(2):
            for j in range(2):
                ax.text(j, i, f"{cm[i, j]}", ha="center", va="center",
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
        mean_th = np.mean([f[f"threshold_{lv}"] for f in scores.folds])
        ax.set_xticks([0, 1], ["< th", "≥ th"])
        ax.set_yticks([0, 1], [f"PSPI < {lv}", f"PSPI ≥ {lv}"])
        ax.set(xlabel="predicted", title=f"PSPI ≥ {lv} (mean th {mean_th:.2f})")
    fig.suptitle(f"Confusion at train-calibrated thresholds ({scores.reference})", fontsize=10)
    return _save(fig, path)


def plot_per_au(df: pd.DataFrame, scores: ReferenceScores, path: Path) -> Path | None:
    """Per-AU mean absolute error over folds (± 95% CI); ``None`` without AU columns."""
    aus = au_columns(df)
    if not aus:
        return None
    plt = _plt()
    te = _test(df, scores.reference)
    mean = [scores.per_au_mae[a]["mean"] for a in aus]
    ci = [scores.per_au_mae[a]["ci95"] for a in aus]
    base = [float(np.mean(np.abs(te[f"true_{a}"] - te[f"true_{a}"].mean()))) for a in aus]
    x = np.arange(len(aus))
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    ax.bar(x - 0.2, np.nan_to_num(mean), 0.4, yerr=np.nan_to_num(ci), capsize=4,
           color="tab:orange", label="model MAE (mean ± 95% CI over folds)")
    ax.bar(x + 0.2, base, 0.4, color="0.7", label="predict-the-mean baseline")
    ax.set_xticks(x, aus)
    top = max([*np.nan_to_num(np.add(mean, np.nan_to_num(ci))), *base, 0.1])
    ax.set(ylim=(0, 1.35 * top), ylabel="MAE (FACS intensity)",
           title=f"Per-AU errors ({scores.reference})")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def make_plots(df: pd.DataFrame, scores: Scores, out_dir: Path) -> dict[str, Path]:
    """Every figure of a report for the primary reference kind; name -> PNG path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ref = scores.primary
    paths = {
        "pred_vs_true": plot_pred_vs_true(df, ref.reference, out_dir / "pred_vs_true.png"),
        "folds": plot_fold_bars(ref, out_dir / "folds.png"),
        "roc": plot_roc(df, ref.reference, scores.levels, out_dir / "roc.png"),
        "calibration": plot_calibration(df, ref.reference, out_dir / "calibration.png"),
        "confusion": plot_confusion(df, ref, scores.levels, out_dir / "confusion.png"),
    }
    au = plot_per_au(df, ref, out_dir / "per_au.png")
    if au is not None:
        paths["per_au"] = au
    return paths
