"""The predictions-CSV protocol and the scoring of a cross-validation from it.

A predictions file has one row per (fold, split, frame) with the columns

=============  ==================================================================
``fold``       fold id (int or text); LOSO uses one fold per test subject
``split``      ``train`` (un-augmented predictions on that fold's training frames,
               used only to calibrate thresholds) or ``test``
``subject``    subject id (text)
``pred``       predicted PSPI (float, 0..16)
``true``       ground-truth PSPI
=============  ==================================================================

and optional columns: ``reference`` (how the neutral reference was chosen: ``label_free``
(default when absent), ``oracle``, ``other_identity``, ``none``), ``pred_AU4`` ...
``pred_AU43`` and ``true_AU4`` ... ``true_AU43`` (per-AU errors), ``used_for_selection``
(1 on test rows the checkpoint was selected on: refused under the honest protocol), and any
metadata (``sequence``, ``frame``, ``path``) which is carried but not scored.

Every file is checked before scoring (:func:`check_fold_subjects`): a subject with test rows
has no train rows in the same fold, and a test frame (``path``) is scored once per fold and
reference kind.

Scoring (:func:`score_predictions`) is the same for every model, so methods compare on equal
terms: per fold, thresholds are calibrated on that fold's ``train`` rows and applied to its
``test`` rows; folds are summarised by mean and t-distribution 95% CI; per-subject PCC is
computed on each subject's test rows. Each reference kind is scored separately and labelled.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pain3d.evaluate import metrics as M
from pain3d.facs import AU_NAMES

log = logging.getLogger(__name__)

Protocol = Literal["honest", "published", "validation"]
PROTOCOLS: tuple[str, ...] = ("honest", "published", "validation")
_PROTOCOL_TEMPLATES: dict[str, str] = {
    "honest": "checkpoint selected on an inner validation split of the training subjects; "
    "{references} at test; thresholds calibrated on un-augmented training predictions",
    "validation": "VALIDATION numbers, not a held-out test: the checkpoint was selected on "
    "the very frames scored here (optimistic by design; hold out test subjects for a test "
    "result); {references}; thresholds calibrated on un-augmented training predictions",
    "published": "reproduces the published choices for comparison: checkpoint selected on "
    "the test fold, {references} at test; thresholds calibrated over the published grid on "
    "augmented, resampled training predictions (one epoch of the training loader, as the "
    "published code; pain3d cv writes them under this protocol)",
}
TEST_REFERENCE_PHRASES: dict[str, str] = {
    "label_free": "label-free neutral references",
    "oracle": "oracle references (ground-truth PSPI 0)",
    "other_identity": "neutral references of another identity (ablation)",
    "none": "no reference (single-image model)",
}
"""How the headline's test references were chosen, as the protocol description says it."""
HEADLINE_REFERENCE: dict[str, str] = {"honest": "label_free", "published": "oracle",
                                      "validation": "label_free"}
"""The reference kind each protocol heads its report with, when the predictions have it."""


def protocol_description(protocol: Protocol, reference: str | None = None) -> str:
    """One line saying how a result was obtained: selection, test references, thresholds.

    Args:
        protocol: ``honest``, ``published`` or ``validation`` (``pain3d train`` without a
            held-out test: the scored frames are those the checkpoint was selected on).
        reference: the reference kind of the headline numbers (default: the protocol's own,
            :data:`HEADLINE_REFERENCE`). Oracle references under the honest (or validation)
            protocol are said loudly: they use the test labels, so the numbers are not
            label-free results.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r} is not one of {list(PROTOCOLS)}")
    reference = reference or HEADLINE_REFERENCE[protocol]
    phrase = TEST_REFERENCE_PHRASES.get(reference, f"{reference!r} references")
    if protocol != "published" and reference == "oracle":
        phrase = ("ORACLE references (chosen with ground-truth PSPI 0: they use the test "
                  "labels, so these are not label-free results)")
    return _PROTOCOL_TEMPLATES[protocol].format(references=phrase)


REQUIRED_COLUMNS: tuple[str, ...] = ("fold", "split", "subject", "pred", "true")
REFERENCE_KINDS: tuple[str, ...] = ("label_free", "oracle", "other_identity", "none")
PRIMARY_METRICS: tuple[str, ...] = (
    "mae", "rmse", "pcc", "icc", "auroc_1", "auroc_2", "auroc_3", "f1_1", "f1_2", "f1_3",
    "f1_macro",
)

METRIC_LABELS: dict[str, str] = {
    "mae": "MAE", "rmse": "RMSE", "pcc": "PCC", "icc": "ICC(3,1)",
    "auroc_1": "AUROC≥1", "auroc_2": "AUROC≥2", "auroc_3": "AUROC≥3",
    "f1_1": "F1≥1", "f1_2": "F1≥2", "f1_3": "F1≥3", "f1_macro": "F1 macro",
    "threshold_1": "threshold≥1", "threshold_2": "threshold≥2", "threshold_3": "threshold≥3",
}


def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read and validate a predictions CSV (see the module docstring for the columns).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: naming the file, column and row of the first problem.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"predictions file {p} does not exist")
    df = pd.read_csv(p, dtype={"fold": str, "subject": str, "split": str, "reference": str},
                     keep_default_na=False, na_values={"pred": [""], "true": [""]})
    return validate_predictions(df, where=str(p))


def validate_predictions(df: pd.DataFrame, where: str = "predictions") -> pd.DataFrame:
    """Check columns and values; return a normalised copy (``reference`` filled in)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; a predictions file needs "
            f"{list(REQUIRED_COLUMNS)} (optional: reference, pred_AU4.., true_AU4..)"
        )
    out = df.copy()
    out["fold"] = out["fold"].astype(str)
    out["subject"] = out["subject"].astype(str)
    out["split"] = out["split"].astype(str).str.strip().str.lower()
    bad = ~out["split"].isin(["train", "test"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{where}: row {i + 2}: split {out['split'].iloc[i]!r} must be "
                         "'train' or 'test'")
    for col in ("pred", "true"):
        vals = pd.to_numeric(out[col], errors="coerce")
        bad = ~np.isfinite(vals.to_numpy(dtype=np.float64))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{where}: row {i + 2}: column {col!r} = {out[col].iloc[i]!r} "
                             "is not a finite number")
        out[col] = vals.astype(np.float64)
    if "reference" not in out.columns:
        out["reference"] = "label_free"
    out["reference"] = out["reference"].astype(str).replace("", "label_free")
    if not (out["split"] == "test").any():
        raise ValueError(f"{where}: no rows with split = test: nothing to score")
    check_fold_subjects(out, where)
    return out


def _refuse_selected_rows(df: pd.DataFrame) -> None:
    """Test rows the checkpoint was selected on (``used_for_selection``, written by
    ``pain3d train`` without a held-out test and by the published protocol) are not an
    honest test."""
    if "used_for_selection" not in df.columns:
        return
    flag = df["used_for_selection"].astype(str).str.strip().str.lower()
    sel = (df["split"] == "test") & flag.isin(["1", "1.0", "true", "yes"])
    if sel.any():
        raise ValueError(
            f"{int(sel.sum())} test row(s) are marked used_for_selection: the checkpoint was "
            "selected on these frames, so they cannot be scored under the honest protocol; "
            "score them as --protocol validation (or published), or hold out test subjects")


def check_fold_subjects(df: pd.DataFrame, where: str = "predictions") -> None:
    """Every fold's test subjects take no part in its training, and no test frame is scored
    twice.

    Within a fold, a subject with ``test`` rows must have no ``train`` rows (those are the
    predictions the fold's model was trained or calibrated on); with a ``path`` column, a
    frame appears at most once among a fold's test rows of one reference kind (a frame
    scored twice would weigh double in every metric and narrow the CIs).

    Raises:
        ValueError: naming the fold, the subjects or frame, and what to do.
    """
    for fold, g in df.groupby("fold", sort=True):
        test = set(g.loc[g["split"] == "test", "subject"])
        both = sorted(test & set(g.loc[g["split"] == "train", "subject"]))
        if both:
            more = f" and {len(both) - 8} more" if len(both) > 8 else ""
            raise ValueError(
                f"{where}: fold {fold!r}: subject(s) {', '.join(both[:8])}{more} have test rows "
                "and split = train rows: the fold's model was trained (or its thresholds "
                "calibrated) on people it is tested on. Folds must be by subject: re-run with "
                "subject folds (pain3d cv makes them) or fix the fold / split columns")
    if "path" not in df.columns:
        return
    test = df[(df["split"] == "test") & (df["path"].astype(str) != "")]
    key = ["fold", "reference", "path"]
    dup = test.duplicated(key)
    if dup.any():
        r = test[dup].iloc[0]
        times = int((test[key] == r[key]).all(axis=1).sum())
        raise ValueError(
            f"{where}: frame {r['path']} is scored {times} times in fold {r['fold']!r} "
            f"({r['reference']} references): every test frame "
            "must be scored once (pain3d drops unreadable frames instead of substituting "
            "others); remove the repeated rows")


def au_columns(df: pd.DataFrame) -> list[str]:
    """The AU names with both ``pred_<AU>`` and ``true_<AU>`` columns in ``df``."""
    return [a for a in AU_NAMES if f"pred_{a}" in df.columns and f"true_{a}" in df.columns]


def _fold_order(folds: Sequence[str]) -> list[str]:
    def key(f: str) -> tuple[int, Any]:
        try:
            return (0, int(f))
        except ValueError:
            return (1, f)
    return sorted(set(folds), key=key)


@dataclass
class ReferenceScores:
    """The scores of one reference kind (``label_free``, ``oracle``, ...)."""

    reference: str
    folds: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]
    pooled: dict[str, float]
    per_subject_pcc: dict[str, float]
    per_subject_summary: dict[str, float]
    per_au_mae: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Scores:
    """Everything :func:`score_predictions` computes, JSON-serialisable via :meth:`to_dict`."""

    protocol: str
    protocol_description: str
    grid: tuple[float, float, int]
    levels: tuple[int, ...]
    references: dict[str, ReferenceScores]

    @property
    def primary(self) -> ReferenceScores:
        """The scores of the headline reference kind (:func:`headline_kind`); the protocol
        description names it."""
        return self.references[headline_kind(self.protocol, self.references)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid"] = list(self.grid)
        d["levels"] = list(self.levels)
        return _nan_to_none(d)


def headline_kind(protocol: str, kinds: Sequence[str]) -> str:
    """The reference kind a report heads with: label-free under the honest protocol, oracle
    under the published one (when present), else the first kind scored."""
    order = ("oracle", "label_free") if protocol == "published" else ("label_free",)
    return next((k for k in order if k in kinds), next(iter(kinds)))


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _summarise(folds: list[dict[str, Any]], keys: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for k in keys:
        m, h, n = M.mean_ci([f[k] for f in folds])
        out[k] = {"mean": m, "ci95": h, "n": n}
    return out


def score_predictions(df: pd.DataFrame, protocol: Protocol = "honest",
                      levels: Sequence[int] = M.PAIN_LEVELS,
                      grid: tuple[float, float, int] = M.THRESHOLD_GRID) -> Scores:
    """Score validated predictions fold by fold, for each reference kind.

    Args:
        df: output of :func:`read_predictions` / :func:`validate_predictions`.
        protocol: recorded in the result (and reports); scoring itself is the same.
        levels: PSPI levels of the binary metrics.
        grid: threshold grid (start, stop, steps).

    Raises:
        ValueError: when a fold has test rows but no train rows (thresholds would have to be
            chosen on the test fold, which this protocol refuses to do).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r} is not one of {list(PROTOCOLS)}")
    df = validate_predictions(df)
    if protocol == "honest":
        _refuse_selected_rows(df)
    kinds = [k for k in REFERENCE_KINDS if k in set(df["reference"])]
    kinds += sorted(set(df["reference"]) - set(kinds))
    train_all = df[df["split"] == "train"]
    result: dict[str, ReferenceScores] = {}
    for kind in kinds:
        rows = df[df["reference"] == kind]
        if (rows["split"] == "test").any():
            result[kind] = _score_reference(kind, rows, train_all, au_columns(df), levels, grid)
    log.info("scored %d reference kind(s) under the %s protocol", len(result), protocol)
    # The description names the references the headline numbers were really scored with.
    description = protocol_description(protocol, headline_kind(protocol, list(result)))
    return Scores(protocol=protocol, protocol_description=description,
                  grid=tuple(grid), levels=tuple(levels), references=result)  # type: ignore[arg-type]


def _score_reference(kind: str, rows: pd.DataFrame, train_all: pd.DataFrame, aus: list[str],
                     levels: Sequence[int], grid: tuple[float, float, int]) -> ReferenceScores:
    """Every number of one reference kind: per fold, summarised, pooled, per subject."""
    test = rows[rows["split"] == "test"]
    folds, per_au = _score_folds(rows, test, train_all, aus, levels, grid)
    keys = [k for k in folds[0] if k not in ("fold",)]
    subj = {str(s): M.pcc(g["pred"].to_numpy(), g["true"].to_numpy())
            for s, g in test.groupby("subject", sort=True)}
    m, h, n = M.mean_ci(list(subj.values()))
    return ReferenceScores(
        reference=kind, folds=folds, summary=_summarise(folds, keys),
        pooled=_pooled_metrics(test, folds, levels),
        per_subject_pcc=subj,
        per_subject_summary={
            "mean": m, "ci95": h, "n": n,
            "undefined": sum(1 for v in subj.values() if not math.isfinite(v))},
        per_au_mae={a: dict(zip(("mean", "ci95", "n"), M.mean_ci(v), strict=True))
                    for a, v in per_au.items()},
    )


def _calibration_rows(rows: pd.DataFrame, train_all: pd.DataFrame, fold: str) -> pd.DataFrame:
    """A fold's ``train`` rows of this reference kind, else of any kind (train rows are often
    written once, with the training reference policy)."""
    tr = rows[(rows["split"] == "train") & (rows["fold"] == fold)]
    if tr.empty:
        tr = train_all[train_all["fold"] == fold]
    if tr.empty:
        raise ValueError(
            f"fold {fold!r} has test rows but no split = train rows: F1 thresholds are "
            "calibrated on the fold's training predictions; add them to the file"
        )
    return tr


def _score_folds(rows: pd.DataFrame, test: pd.DataFrame, train_all: pd.DataFrame,
                 aus: list[str], levels: Sequence[int], grid: tuple[float, float, int]
                 ) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """Per-fold metrics (thresholds calibrated on the fold's train rows) and per-AU MAEs."""
    folds = []
    per_au: dict[str, list[float]] = {a: [] for a in aus}
    for fold in _fold_order(test["fold"]):
        te = test[test["fold"] == fold]
        tr = _calibration_rows(rows, train_all, fold)
        fm = M.fold_metrics(te["pred"].to_numpy(), te["true"].to_numpy(),
                            tr["pred"].to_numpy(), tr["true"].to_numpy(), levels, grid)
        for a in aus:
            v = M.mae(te[f"pred_{a}"].to_numpy(np.float64), te[f"true_{a}"].to_numpy(np.float64))
            fm[f"mae_{a}"] = v
            per_au[a].append(v)
        folds.append({"fold": fold, "n_subjects": int(te["subject"].nunique()), **fm})
    return folds, per_au


def _pooled_metrics(test: pd.DataFrame, folds: list[dict[str, Any]], levels: Sequence[int]
                    ) -> dict[str, float]:
    """Metrics over all test frames together; F1 applies each fold's own threshold to its
    own test frames and counts them together."""
    pred, true = test["pred"].to_numpy(), test["true"].to_numpy()
    pooled = M.regression_metrics(pred, true)
    fold_col = test["fold"].to_numpy()
    pooled_f1 = []
    for lv in levels:
        called = np.zeros(len(test), bool)
        for f in folds:
            here = fold_col == f["fold"]
            called[here] = pred[here] >= f[f"threshold_{lv}"]
        pooled[f"auroc_{lv}"] = M.auroc_at(pred, true, lv)
        pooled[f"f1_{lv}"] = M.f1_binary(called, true >= lv)
        pooled_f1.append(pooled[f"f1_{lv}"])
    finite = [v for v in pooled_f1 if math.isfinite(v)]
    pooled["f1_macro"] = float(np.mean(finite)) if finite else math.nan
    return pooled
