"""``pain3d ablate``: one cross-validation per variant, tabulated with 95% CIs.

Axes (each variant changes one thing relative to the base config):

- ``reference``: the reference policy used in training *and* at test: ``label-free``,
  ``oracle`` (uses labels: labelled as such), ``other-identity``, ``none`` (a single-image
  model, trained from the backbone);
- ``pretraining``: ``synthetic`` (the base config's ``init`` checkpoint) vs ``none`` (from
  the backbone);
- ``encoders``: ``separate`` vs ``shared`` encoder for the pain and the neutral image (from
  the backbone: a checkpoint fixes its encoder layout);
- ``distillation``: ``off`` vs ``on`` (heatmap teacher ``distill.teacher``; needs data that
  carries heatmaps).

Variants that cannot run with the given config (no ``init`` for ``pretraining=synthetic``, no
teacher for ``distillation=on``) are listed in the table with the reason instead of numbers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pain3d.io import atomic_write_text
from pain3d.train.config import TrainConfig

log = logging.getLogger(__name__)

AXES: tuple[str, ...] = ("reference", "pretraining", "encoders", "distillation")
TABLE_METRICS: tuple[str, ...] = ("mae", "pcc", "icc", "auroc_1", "f1_1", "f1_macro")


@dataclass
class Variant:
    axis: str
    value: str
    cfg: TrainConfig | None
    skip_reason: str = ""


@dataclass
class AblationTable:
    """Rows of the ablation (one per variant) and the files they were written to."""

    rows: list[dict[str, Any]]
    markdown: Path
    csv: Path


def _replace(cfg: TrainConfig, **sections: dict[str, Any]) -> TrainConfig:
    out = cfg
    for name, changes in sections.items():
        if name == "top":
            out = dataclasses.replace(out, **changes)
        else:
            out = dataclasses.replace(out, **{name: dataclasses.replace(getattr(out, name),
                                                                        **changes)})
    return out


def variants(cfg: TrainConfig, axes: tuple[str, ...] = AXES) -> list[Variant]:
    """The variant configs of the requested axes (run folders are set by :func:`ablate`)."""
    unknown = sorted(set(axes) - set(AXES))
    if unknown:
        raise ValueError(f"unknown ablation axis {unknown}; choose from {list(AXES)}")
    out: list[Variant] = []
    if "reference" in axes:
        for policy in ("label-free", "oracle", "other-identity"):
            out.append(Variant("reference", policy, _replace(
                cfg, data={"reference": policy, "eval_reference": policy})))
        out.append(Variant("reference", "none", _replace(
            cfg, top={"init": None}, model={"reference": "none"},
            data={"reference": "none", "eval_reference": "none"})))
    if "pretraining" in axes:
        if cfg.init:
            out.append(Variant("pretraining", "synthetic", cfg))
        else:
            out.append(Variant("pretraining", "synthetic", None,
                               "no init checkpoint given (--init a synthetic-pretrained model)"))
        out.append(Variant("pretraining", "none", _replace(cfg, top={"init": None})))
    if "encoders" in axes:
        for mode in ("separate", "shared"):
            out.append(Variant("encoders", mode, _replace(cfg, top={"init": None},
                                                          model={"encoder_mode": mode})))
    if "distillation" in axes:
        out.append(Variant("distillation", "off", _replace(cfg, distill={"teacher": None})))
        if cfg.distill.teacher:
            out.append(Variant("distillation", "on", cfg))
        else:
            out.append(Variant("distillation", "on", None,
                               "no heatmap teacher (distill.teacher) configured"))
    return out


def _fmt(s: dict[str, Any] | None) -> str:
    if not s or s.get("mean") is None or not math.isfinite(s["mean"]):
        return "n/a"
    h = s.get("ci95")
    return f"{s['mean']:.3f}" + (f" ± {h:.3f}" if h is not None and math.isfinite(h) else "")


def ablate(cfg: TrainConfig, axes: tuple[str, ...] = AXES,
           out_dir: str | Path | None = None) -> AblationTable:
    """Run every variant as a cross-validation and write ``ablation.md`` / ``ablation.csv``.

    Finished variants are reused when the command is run again (each variant's cv resumes).
    """
    import pandas as pd

    from pain3d.train.recipes import cross_validate

    base = Path(out_dir or cfg.run_dir or Path(cfg.out_dir) / f"{cfg.name}-ablation")
    base.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for v in variants(cfg, axes):
        row: dict[str, Any] = {"axis": v.axis, "variant": v.value}
        if v.cfg is None:
            row["note"] = f"skipped: {v.skip_reason}"
            rows.append(row)
            continue
        run_cfg = dataclasses.replace(v.cfg, run_dir=str(base / f"{v.axis}-{v.value}"))
        log.info("ablation %s = %s", v.axis, v.value)
        res = cross_validate(run_cfg)
        summary = res.report.summary if res.report else {}
        for m in TABLE_METRICS:
            row[m] = summary.get(m, {}).get("mean", math.nan)
            row[f"{m}_ci95"] = summary.get(m, {}).get("ci95", math.nan)
        row["text"] = {m: _fmt(summary.get(m)) for m in TABLE_METRICS}
        row["note"] = ("uses test labels (oracle)" if v.value == "oracle" else "") + \
            ("; from the backbone" if v.cfg.init is None and cfg.init else "")
        row["run"] = str(res.run_dir)
        rows.append(row)
    head = ["axis", "variant", *TABLE_METRICS, "note"]
    lines = [f"# pain3d ablation ({cfg.cv.scheme}, {cfg.cv.protocol} protocol)", "",
             "mean ± 95% CI over folds (t distribution)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["axis"], r["variant"]] + [r.get("text", {}).get(m, "") for m in TABLE_METRICS]
        lines.append("| " + " | ".join(cells + [r.get("note", "").strip("; ")]) + " |")
    md, csv = base / "ablation.md", base / "ablation.csv"
    atomic_write_text(md, "\n".join(lines) + "\n")
    flat = pd.DataFrame([{k: v for k, v in r.items() if k != "text"} for r in rows])
    atomic_write_text(csv, flat.to_csv(index=False))
    return AblationTable(rows, md, csv)
