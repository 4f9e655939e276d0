"""``pain3d ablate``: one cross-validation per variant, tabulated with 95% CIs.

Axes (each variant changes one thing relative to the base config):

- ``reference``: the reference policy used in training *and* at test: ``label-free``,
  ``oracle`` (uses labels: labelled as such), ``other-identity``, ``none`` (a single-image
  model, trained from the backbone);
- ``pretraining``: ``synthetic`` (the base config's ``init`` checkpoint, or the
  distillation-off pretraining of ``ablate.pretrain_config``) vs ``none`` (from the backbone);
- ``encoders``: ``separate`` vs ``shared`` encoder for the pain and the neutral image (from
  the backbone: a checkpoint fixes its encoder layout);
- ``distillation``: ``off`` vs ``on`` (a frozen heatmap teacher guides the RGB model,
  :mod:`pain3d.model.distill`). Heatmaps exist only for synthetic data, so:

  - on **synthetic** data the variants are the cross-validation itself without / with the
    teacher (``distill.teacher``);
  - on **real** data (UNBC) distillation belongs to the synthetic pretraining: the synthetic
    config ``ablate.pretrain_config`` (``--pretrain-config``) is trained without and with the
    teacher, and each variant cross-validates from its pretrained model.

  When ``distill.teacher`` is unset, the teacher is trained first on the synthetic data's
  heatmaps (``data.input = heatmap``, the rest of the synthetic config unchanged, so its
  width matches the student) and cached in ``<ablation>/teacher``. Caveat on synthetic data:
  that teacher has seen the heatmaps of the data's ``train`` split, which the
  cross-validation folds also test on; give a teacher trained on other identities
  (``distill.teacher``) for a clean comparison.

Every stage has its own folder under the ablation folder (``teacher/``,
``pretrain-distill-off/``, ``pretrain-distill-on/``, ``<axis>-<variant>/``); running the command
again reuses finished stages and variants. Variants that cannot run with the given config (no
``init`` for ``pretraining=synthetic``, real data without ``ablate.pretrain_config`` for
``distillation``) are listed with the reason instead of numbers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pain3d.data.open import data_kind
from pain3d.io import atomic_write_json, atomic_write_text
from pain3d.train.config import TrainConfig

log = logging.getLogger(__name__)

AXES: tuple[str, ...] = ("reference", "pretraining", "encoders", "distillation")
TABLE_METRICS: tuple[str, ...] = ("mae", "pcc", "icc", "auroc_1", "f1_1", "f1_macro")
TEACHER, PRETRAIN_OFF, PRETRAIN_ON = "teacher", "pretrain-distill-off", "pretrain-distill-on"


@dataclass
class Variant:
    """One row of the ablation.

    Attributes:
        axis, value: what the row varies.
        cfg: the cross-validation config, or None when the variant cannot run.
        skip_reason: why it cannot run.
        init_stage: ``pretrain-distill-off``/``-on``: ``cfg.init`` is that stage's model
            (trained by :func:`ablate` from ``ablate.pretrain_config``).
        teacher_stage: ``cfg.distill.teacher`` is the teacher trained by :func:`ablate`.
    """

    axis: str
    value: str
    cfg: TrainConfig | None
    skip_reason: str = ""
    init_stage: str = ""
    teacher_stage: bool = False


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


def _distillation(cfg: TrainConfig, kind: str) -> list[Variant]:
    off = _replace(cfg, distill={"teacher": None})
    if kind == "synthetic":
        on = _replace(cfg, distill={"teacher": cfg.distill.teacher or "<teacher>"})
        return [Variant("distillation", "off", off),
                Variant("distillation", "on", on, teacher_stage=not cfg.distill.teacher)]
    if not cfg.ablate.pretrain_config:
        why = ("real data has no heatmaps: distillation happens in synthetic pretraining; "
               "give ablate.pretrain_config (--pretrain-config) to run it")
        return [Variant("distillation", v, None, why) for v in ("off", "on")]
    return [Variant("distillation", "off", _replace(off, top={"init": "<pretrained>"}),
                    init_stage=PRETRAIN_OFF),
            Variant("distillation", "on", _replace(off, top={"init": "<pretrained>"}),
                    init_stage=PRETRAIN_ON)]


def variants(cfg: TrainConfig, axes: tuple[str, ...] = AXES,
             kind: str | None = None) -> list[Variant]:
    """The variant configs of the requested axes (run folders, trained teachers and
    pretrained models are filled in by :func:`ablate`).

    Args:
        cfg: the base cross-validation config.
        axes: which axes.
        kind: ``synthetic`` or ``unbc`` (default: what ``cfg.data`` holds).
    """
    unknown = sorted(set(axes) - set(AXES))
    if unknown:
        raise ValueError(f"unknown ablation axis {unknown}; choose from {list(AXES)}")
    kind = kind or data_kind(cfg.data)
    if kind != "synthetic":  # real data has no heatmaps: a teacher is for the pretraining only
        cfg = _replace(cfg, distill={"teacher": None})
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
        elif cfg.ablate.pretrain_config and kind != "synthetic":
            out.append(Variant("pretraining", "synthetic",
                               _replace(cfg, top={"init": "<pretrained>"},
                                        distill={"teacher": None}), init_stage=PRETRAIN_OFF))
        else:
            out.append(Variant("pretraining", "synthetic", None,
                               "no init checkpoint given (--init a synthetic-pretrained model)"))
        out.append(Variant("pretraining", "none", _replace(cfg, top={"init": None})))
    if "encoders" in axes:
        for mode in ("separate", "shared"):
            out.append(Variant("encoders", mode, _replace(cfg, top={"init": None},
                                                          model={"encoder_mode": mode})))
    if "distillation" in axes:
        out += _distillation(cfg, kind)
    return out


def teacher_config(synthetic: TrainConfig, run_dir: Path) -> TrainConfig:
    """The heatmap teacher's training config from a synthetic (pre)training config: the same
    model, optimiser and trainer, heatmap inputs, no distillation, from the backbone."""
    return _replace(synthetic, top={"init": None, "run_dir": str(run_dir),
                                    "name": f"{synthetic.name}-teacher"},
                    data={"input": "heatmap", "heatmaps": False}, distill={"teacher": None})


def _stage(cfg: TrainConfig, run_dir: Path) -> Path:
    """Train ``cfg`` (``pain3d train`` recipe) in ``run_dir`` once; its model folder.

    A finished stage (``stage.json``) is reused; an interrupted one resumes."""
    from pain3d.train.recipes import pretrain

    done = run_dir / "stage.json"
    if cfg.resume and done.is_file():
        model = Path(json.loads(done.read_text())["model"])
        log.info("ablation stage %s already trained: %s", run_dir.name, model)
        return model
    log.info("ablation stage %s: training", run_dir.name)
    res = pretrain(dataclasses.replace(cfg, run_dir=str(run_dir)))
    atomic_write_json(done, {"model": str(res.checkpoint_dir), "metrics": res.metrics})
    return res.checkpoint_dir


class _Stages:
    """The teacher and the synthetic pretrainings an ablation needs, trained on first use."""

    def __init__(self, cfg: TrainConfig, base: Path) -> None:
        self.cfg, self.base = cfg, base
        self._pretrain: TrainConfig | None = None
        self._teacher: str | None = None

    def synthetic_config(self) -> TrainConfig:
        """The synthetic config the teacher and pretrainings come from."""
        if data_kind(self.cfg.data) == "synthetic":
            return self.cfg
        if self._pretrain is None:
            from pain3d.config import load_config

            path = self.cfg.ablate.pretrain_config
            self._pretrain = load_config(TrainConfig, path, {"resume": self.cfg.resume})
            if not self._pretrain.data.root or data_kind(self._pretrain.data) != "synthetic":
                raise ValueError(f"ablate.pretrain_config {path}: data.root must be a synthetic "
                                 f"dataset folder (got {self._pretrain.data.root!r})")
        return self._pretrain

    def teacher(self) -> str:
        if self._teacher is None:
            syn = self.synthetic_config()
            given = self.cfg.distill.teacher or syn.distill.teacher
            self._teacher = given or str(_stage(teacher_config(syn, self.base / TEACHER),
                                                self.base / TEACHER))
        return self._teacher

    def pretrained(self, stage: str) -> str:
        syn = self.synthetic_config()
        distill = {"teacher": self.teacher() if stage == PRETRAIN_ON else None}
        return str(_stage(_replace(syn, distill=distill), self.base / stage))

    def resolve(self, v: Variant) -> TrainConfig:
        cfg = v.cfg
        assert cfg is not None
        if v.teacher_stage:
            cfg = _replace(cfg, distill={"teacher": self.teacher()})
        if v.init_stage:
            cfg = _replace(cfg, top={"init": self.pretrained(v.init_stage)})
        return cfg


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

    from pain3d.config import to_dict
    from pain3d.train.recipes import cross_validate

    base = Path(out_dir or cfg.run_dir or Path(cfg.out_dir) / f"{cfg.name}-ablation")
    base.mkdir(parents=True, exist_ok=True)
    stages = _Stages(cfg, base)
    rows: list[dict[str, Any]] = []
    done: dict[str, dict[str, Any]] = {}  # identical variant configs run once
    for v in variants(cfg, axes):
        row: dict[str, Any] = {"axis": v.axis, "variant": v.value}
        if v.cfg is None:
            row["note"] = f"skipped: {v.skip_reason}"
            rows.append(row)
            continue
        run_cfg = stages.resolve(v)
        key = json.dumps(to_dict(run_cfg), sort_keys=True, default=str)
        if key in done:
            row.update({k: x for k, x in done[key].items() if k not in ("axis", "variant")})
            rows.append(row)
            continue
        run_cfg = dataclasses.replace(run_cfg, run_dir=str(base / f"{v.axis}-{v.value}"))
        log.info("ablation %s = %s", v.axis, v.value)
        res = cross_validate(run_cfg)
        summary = res.report.summary if res.report else {}
        for m in TABLE_METRICS:
            row[m] = summary.get(m, {}).get("mean", math.nan)
            row[f"{m}_ci95"] = summary.get(m, {}).get("ci95", math.nan)
        row["text"] = {m: _fmt(summary.get(m)) for m in TABLE_METRICS}
        notes = ["uses test labels (oracle)" if v.value == "oracle" else "",
                 "from the backbone" if run_cfg.init is None and cfg.init else "",
                 f"pretrained in {v.init_stage}" if v.init_stage else "",
                 f"teacher {run_cfg.distill.teacher}" if run_cfg.distill.teacher else ""]
        row["note"] = "; ".join(n for n in notes if n)
        row["run"] = str(res.run_dir)
        done[key] = row
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
