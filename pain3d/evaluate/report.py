"""Reports: ``report.md``, ``report.html`` (plots embedded) and ``metrics.json`` from predictions.

The report is built once as a list of blocks (headings, paragraphs, tables, images) and
rendered twice, so the Markdown and the HTML can never disagree. Every number in it comes
from :func:`pain3d.evaluate.protocol.score_predictions` on the saved predictions, so
``pain3d evaluate`` on a run folder recomputes exactly what the run reported.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pain3d import __version__
from pain3d.evaluate import metrics as M
from pain3d.evaluate.plots import make_plots
from pain3d.evaluate.protocol import (
    METRIC_LABELS,
    PRIMARY_METRICS,
    Protocol,
    Scores,
    read_predictions,
    score_predictions,
    validate_predictions,
)
from pain3d.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

REFERENCE_LABELS: dict[str, str] = {
    "label_free": "label-free references (first frames of each sequence, or given images)",
    "oracle": "ORACLE references (chosen with ground-truth PSPI = 0; uses test labels, "
    "not a fair test result)",
    "other_identity": "references of another identity (ablation)",
    "none": "no reference (ablation)",
}


@dataclass
class Report:
    """What :func:`write_report` wrote and computed."""

    out_dir: Path
    scores: Scores
    markdown: Path
    html: Path
    json: Path
    plots: dict[str, Path] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """Mean, 95% CI half-width and n per metric for the primary reference kind."""
        return self.scores.primary.summary


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.{digits}f}"
    return str(v)


def _mean_ci(s: dict[str, float]) -> str:
    if not math.isfinite(s["mean"]):
        return "n/a"
    if not math.isfinite(s["ci95"]):
        return f"{s['mean']:.3f}"
    return f"{s['mean']:.3f} ± {s['ci95']:.3f}"


def _blocks(df: pd.DataFrame, scores: Scores, plots: dict[str, Path], title: str,
            context: dict[str, Any]) -> list[tuple[str, Any]]:
    b: list[tuple[str, Any]] = [("h1", title)]
    ref = scores.primary
    test = df[(df["split"] == "test") & (df["reference"] == ref.reference)]
    b.append(("p", f"**Protocol: {scores.protocol}** — {scores.protocol_description}."))
    scored = "validation" if scores.protocol == "validation" else "test"
    lines = [f"pain3d {__version__}",
             f"{len(ref.folds)} folds, {test['subject'].nunique()} {scored} subjects, "
             f"{len(test)} {scored} frames",
             f"headline reference policy: {REFERENCE_LABELS.get(ref.reference, ref.reference)}",
             f"F1 thresholds calibrated per fold on that fold's training predictions over "
             f"np.linspace({scores.grid[0]:g}, {scores.grid[1]:g}, {scores.grid[2]})",
             "mean ± 95% CI half-width over folds (t distribution); n/a = undefined "
             "(single-class fold for AUROC, constant predictions or labels for PCC, both "
             "constant for ICC)"]
    lines += [f"{k}: {v}" for k, v in context.items()]
    b.append(("ul", lines))

    b.append(("h2", "Summary"))
    rows = [[METRIC_LABELS[m], _mean_ci(ref.summary[m]), str(ref.summary[m]["n"]),
             _fmt(ref.pooled.get(m, math.nan))] for m in PRIMARY_METRICS]
    rows.append(["per-subject PCC", _mean_ci(ref.per_subject_summary),
                 str(ref.per_subject_summary["n"]), ""])
    b.append(("table", (["metric", "mean ± 95% CI", "folds", "all test frames pooled"], rows)))

    for kind, rs in scores.references.items():
        if kind == ref.reference:
            continue
        b.append(("h2", f"Reference policy: {kind}"))
        b.append(("p", REFERENCE_LABELS.get(kind, kind) + "."))
        rows = [[METRIC_LABELS[m], _mean_ci(rs.summary[m])] for m in PRIMARY_METRICS]
        b.append(("table", (["metric", "mean ± 95% CI"], rows)))

    b.append(("h2", "Per fold"))
    cols = ["n_subjects", "n_test", *PRIMARY_METRICS, "threshold_1", "threshold_2", "threshold_3"]
    cols = [c for c in cols if c in ref.folds[0]]
    head = ["fold"] + [METRIC_LABELS.get(c, c) for c in cols]
    rows = [[str(f["fold"])] + [_fmt(f[c], 0 if c.startswith("n_") else 3) for c in cols]
            for f in ref.folds]
    b.append(("table", (head, rows)))

    if ref.per_au_mae:
        b.append(("h2", "Per-AU mean absolute error"))
        rows = [[a, _mean_ci(v)] for a, v in ref.per_au_mae.items()]
        b.append(("table", (["AU", "MAE mean ± 95% CI"], rows)))

    b.append(("h2", "Per-subject PCC"))
    b.append(("p", f"{ref.per_subject_summary['undefined']} subject(s) with constant labels or "
                   "predictions have no PCC (n/a) and are left out of the mean."))
    rows = [[s, _fmt(v)] for s, v in ref.per_subject_pcc.items()]
    b.append(("table", (["subject", "PCC"], rows)))

    captions = {"pred_vs_true": "Predicted vs true PSPI", "folds": "Per-fold metrics with "
                "mean ± 95% CI", "roc": "ROC curves", "calibration": "Calibration",
                "confusion": "Confusion matrices at the train-calibrated thresholds",
                "per_au": "Per-AU errors"}
    b.append(("h2", "Figures"))
    for name, path in plots.items():
        b.append(("img", (captions.get(name, name), path)))
    return b


def _to_markdown(blocks: list[tuple[str, Any]], base: Path) -> str:
    out = []
    for kind, val in blocks:
        if kind == "h1":
            out.append(f"# {val}\n")
        elif kind == "h2":
            out.append(f"## {val}\n")
        elif kind == "p":
            out.append(f"{val}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {x}" for x in val) + "\n")
        elif kind == "table":
            head, rows = val
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "|".join("---" for _ in head) + "|")
            out.extend("| " + " | ".join(r) + " |" for r in rows)
            out.append("")
        elif kind == "img":
            cap, path = val
            out.append(f"![{cap}]({path.relative_to(base).as_posix()})\n")
    return "\n".join(out)


def _inline(text: str) -> str:
    t = html.escape(text)
    while "**" in t:
        t = t.replace("**", "<strong>", 1).replace("**", "</strong>", 1)
    return t


def _to_html(blocks: list[tuple[str, Any]]) -> str:
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
           f"<title>{html.escape(str(blocks[0][1]))}</title>",
           "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
           "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
           "padding:3px 8px;text-align:right}th{background:#eee}td:first-child{text-align:left}"
           "img{max-width:100%}figure{margin:1em 0}</style></head><body>"]
    for kind, val in blocks:
        if kind in ("h1", "h2"):
            out.append(f"<{kind}>{html.escape(str(val))}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline(val)}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline(x)}</li>" for x in val) + "</ul>")
        elif kind == "table":
            head, rows = val
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)
                       + "</tr>")
            out.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                       for r in rows)
            out.append("</table>")
        elif kind == "img":
            cap, path = val
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            out.append(f"<figure><img alt='{html.escape(cap)}' src='data:image/png;base64,"
                       f"{data}'><figcaption>{html.escape(cap)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(df: pd.DataFrame, out_dir: str | Path, protocol: Protocol = "honest",
                 title: str = "pain3d evaluation", context: dict[str, Any] | None = None,
                 grid: tuple[float, float, int] = M.THRESHOLD_GRID, plots: bool = True
                 ) -> Report:
    """Score predictions and write ``report.md``, ``report.html``, ``metrics.json``, ``plots/``.

    Args:
        df: predictions (see :mod:`pain3d.evaluate.protocol`).
        out_dir: folder for the report files (created).
        protocol: which protocol produced the predictions; written in every report.
        title: report heading.
        context: extra ``key: value`` lines for the header (run folder, checkpoint, ...).
        grid: threshold grid.
        plots: draw the figures (tests of numbers alone may skip them).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = validate_predictions(df)
    scores = score_predictions(df, protocol=protocol, grid=grid)
    figs = make_plots(df, scores, out / "plots") if plots else {}
    blocks = _blocks(df, scores, figs, title, dict(context or {}))
    md, hp, jp = out / "report.md", out / "report.html", out / "metrics.json"
    atomic_write_text(md, _to_markdown(blocks, out))
    atomic_write_text(hp, _to_html(blocks))
    payload = {"pain3d_version": __version__, "title": title,
               "context": {k: str(v) for k, v in (context or {}).items()}, **scores.to_dict()}
    atomic_write_json(jp, payload)
    log.info("wrote report %s (%s protocol)", md, protocol)
    return Report(out_dir=out, scores=scores, markdown=md, html=hp, json=jp, plots=figs)


def evaluate_predictions(path: str | Path, out_dir: str | Path | None = None,
                         protocol: Protocol = "honest", plots: bool = True) -> Report:
    """Score any model's predictions CSV (``pain3d evaluate --predictions FILE.csv``).

    The file's folds are checked (:func:`~pain3d.evaluate.protocol.check_fold_subjects`);
    how its model was selected is the caller's declaration (``protocol``), which the report
    says it did not check.
    """
    p = Path(path)
    df = read_predictions(p)
    out = Path(out_dir) if out_dir is not None else p.parent / f"{p.stem}_report"
    context = {"predictions": p,
               "protocol": f"{protocol}, as declared: how this file's model was selected is "
               "not known to pain3d (test rows marked used_for_selection are refused as "
               "honest)"}
    return write_report(df, out, protocol=protocol, title=f"pain3d evaluation of {p.name}",
                        context=context, plots=plots)


def load_run_predictions(run_dir: str | Path) -> pd.DataFrame:
    """All saved predictions of a run: ``predictions.csv`` or every ``fold_*/predictions.csv``."""
    rd = Path(run_dir)
    whole = rd / "predictions.csv"
    if whole.is_file():
        return read_predictions(whole)
    parts = sorted(rd.glob("fold_*/predictions.csv"))
    if not parts:
        raise FileNotFoundError(
            f"{rd} holds no predictions.csv nor fold_*/predictions.csv: is it a pain3d run "
            "folder (from pain3d cv / train) that finished at least one fold?")
    return validate_predictions(pd.concat([read_predictions(p) for p in parts],
                                          ignore_index=True), where=str(rd))


def evaluate_run(run_dir: str | Path, protocol: Protocol | None = None,
                 plots: bool = True) -> Report:
    """Recompute every number of a run folder from its saved predictions; report beside them.

    The protocol defaults to the one recorded in the run's ``run.json``; a run recorded
    under another protocol cannot be relabelled ``honest`` (its checkpoint was selected on
    the frames it scored). The run's folds are checked again (no test subject among the
    subjects its model was fitted or selected on), and frames dropped as unreadable
    (``data.skip_bad``) are counted in the report.

    Raises:
        ValueError: for a relabelling to ``honest`` or a fold with a subject on both sides.
    """
    rd = Path(run_dir)
    if not rd.is_dir():
        raise FileNotFoundError(f"run folder {rd} does not exist")
    info: dict[str, Any] = {}
    if (rd / "run.json").is_file():
        info = json.loads((rd / "run.json").read_text())
    recorded = info.get("protocol", "honest")
    proto = protocol or recorded
    if proto == "honest" and recorded != "honest":
        raise ValueError(f"{rd}: run.json records the {recorded} protocol (checkpoint selected "
                         "on the frames it scored); it cannot be reported as honest")
    _check_run_folds(info, rd)
    df = load_run_predictions(rd)
    context = {"run": rd}
    for k in ("recipe", "cv", "init", "model", "seed"):
        if info.get(k) is not None:
            context[k] = info[k]
    if "dropped" in info:
        context["unreadable frames dropped (data.skip_bad)"] = _dropped_line(info["dropped"])
    return write_report(df, rd, protocol=proto, title=f"pain3d evaluation: {rd.name}",
                        context=context, plots=plots)


def _check_run_folds(info: dict[str, Any], rd: Path) -> None:
    """The folds (``cv``) or split (``train``) run.json records: no test subject was fitted
    or selected on."""
    split = info.get("subjects")
    folds = list(info.get("folds", []))
    if isinstance(split, dict):
        folds.append({"fold": "of the run", "fit": split.get("train", []),
                      "val": split.get("val", []), "test": split.get("test", [])})
    for f in folds:
        test = set(f.get("test", []))
        both = sorted(test & (set(f.get("fit", [])) | (set(f.get("val", []))
                                                       if info.get("protocol") != "published"
                                                       else set())))
        if both:
            raise ValueError(f"{rd}/run.json: fold {f.get('fold')}: test subject(s) "
                             f"{both[:8]} were also fitted or selected on; these numbers are "
                             "not a test result: re-run the cross-validation with subject folds")


def _dropped_line(dropped: dict[str, Any]) -> str:
    """``N (index a, training b, ...)``: unreadable frames run.json lists, by stage."""
    counts = {k: (len(v) if isinstance(v, list) else int(v)) for k, v in dropped.items()}
    parts = ", ".join(f"{k} {n}" for k, n in counts.items())
    return f"{sum(counts.values())} ({parts}; listed in run.json)"
