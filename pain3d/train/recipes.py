"""Training recipes: pretraining / fine-tuning (``train``), cross-validation (``cv``) and
the production model, each writing one self-describing run folder.

Run folder::

    RUN/
      config.yaml        resolved config (pain3d version included)
      run.json           recipe, protocol, folds and their subjects, seed
      fold_K/            one fit per fold (cv): checkpoints/, logs/, model/, predictions.csv
      model/             pain3d checkpoint of the selected weights (train, production)
      predictions.csv    every fold's un-augmented train and test predictions
      report.md, report.html, metrics.json, plots/   (pain3d.evaluate)

The honest protocol is the default: epochs are selected on an inner validation split of the
training subjects, test folds are predicted with label-free references (oracle references are
predicted as well and reported separately), thresholds come from un-augmented training
predictions. ``cv.protocol = published`` selects on the test fold with oracle references and
calibrates thresholds on augmented, resampled training predictions (one epoch of the training
loader), as the published code did. ``pain3d train`` scores a held-out test set (the data's
``test`` split, or ``test_fraction`` of the subjects held out); with ``test_fraction = 0`` and
no test split it scores the validation frames it selected on, under the ``validation``
protocol, and says so in run.json, metrics.json and the reports.

Every split and fold is checked before training: no subject (and, for synthetic data, no
identity) in two of fit / val / test (:func:`pain3d.data.folds.check_disjoint`); scoring
checks the predictions again (:func:`pain3d.evaluate.protocol.check_fold_subjects`).
Predictions of frames the checkpoint was selected on carry ``used_for_selection = 1``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pain3d.config import save_config, to_dict
from pain3d.data.config import reference_policy
from pain3d.data.folds import cv_folds, inner_split
from pain3d.data.open import OpenedData, RunSplit, open_data
from pain3d.data.references import reference_label
from pain3d.evaluate.protocol import protocol_description
from pain3d.evaluate.report import Report, evaluate_run
from pain3d.io import atomic_path, atomic_write_json
from pain3d.train.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """A finished run.

    Attributes:
        run_dir: the run folder.
        checkpoint_dir: pain3d checkpoint folder of the selected model (``load_model``-able);
            for cv, fold 0's model; for production, the production model.
        metrics: headline numbers (mean over folds for cv): mae, pcc, auroc_1, f1_macro, ...
        report: the evaluation report written into the run folder (None when not evaluated).
    """

    run_dir: Path
    checkpoint_dir: Path
    metrics: dict[str, float] = field(default_factory=dict)
    report: Report | None = None


def make_run_dir(cfg: TrainConfig, kind: str) -> Path:
    """``cfg.run_dir`` or ``out_dir/<name>-<kind>-<UTC time>``; config and run.json inside."""
    if cfg.run_dir:
        rd = Path(cfg.run_dir)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        rd = Path(cfg.out_dir) / f"{cfg.name}-{kind}-{stamp}"
    rd.mkdir(parents=True, exist_ok=True)
    save_config(cfg, rd / "config.yaml")
    return rd


def _build(cfg: TrainConfig) -> Any:
    from pain3d.model import build_model, load_model

    if cfg.init:
        model = load_model(cfg.init)
        log.info("initialised from %s (its architecture replaces the model.* settings)",
                 cfg.init)
        return model
    return build_model(cfg.model)


def _model_label(cfg: TrainConfig) -> str:
    """What run.json records as the model: the init checkpoint decides when there is one."""
    return f"from {cfg.init}" if cfg.init else f"{cfg.model.preset} ({cfg.model.encoder_mode})"


def _size(cfg: TrainConfig, model: Any) -> int:
    return int(cfg.data.image_size or model.preprocessing["size"])


def _policy(cfg: TrainConfig, data: OpenedData, role: Literal["train", "eval"]) -> str:
    """The reference policy of the training set (``train``) or of validation and test
    (``eval``): :func:`pain3d.data.config.reference_policy` for this run."""
    single = cfg.model.reference == "none" and not cfg.init
    return reference_policy(cfg.data, data.kind, role, single, cfg.cv.protocol)


def _predict(model: Any, data: OpenedData, rows: np.ndarray, cfg: TrainConfig, policy: str,
             fold: str, split: str) -> pd.DataFrame:
    from pain3d.train.runner import predict_table

    ds = data.dataset(rows, _size(cfg, model), policy, n=cfg.data.references,
                      seed=cfg.trainer.seed, deterministic=True)
    df = predict_table(model, ds, cfg.trainer.eval_batch_size,
                       num_workers=cfg.trainer.num_workers)
    df.insert(0, "reference", reference_label(policy))
    df.insert(0, "split", split)
    df.insert(0, "fold", fold)
    return df


def _predict_augmented(model: Any, data: OpenedData, rows: np.ndarray, cfg: TrainConfig,
                       fold: str) -> pd.DataFrame:
    """Calibration predictions (split ``train``) of the published protocol: one epoch of
    the training loader (training references, ``trainer.pain_weight`` resampling,
    ``trainer.augment``), as the published code calibrated its F1 thresholds; the rows are
    labelled with the training reference policy."""
    from pain3d.train.runner import predict_augmented

    train_policy = _policy(cfg, data, "train")
    ds = data.dataset(rows, _size(cfg, model), train_policy, seed=cfg.trainer.seed)
    df = predict_augmented(model, ds, cfg.trainer)
    df.insert(0, "calibration", "augmented-resampled")
    df.insert(0, "reference", reference_label(train_policy))
    df.insert(0, "split", "train")
    df.insert(0, "fold", fold)
    return df


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def _fit(cfg: TrainConfig, data: OpenedData, fit_rows: np.ndarray, val_rows: np.ndarray | None,
         out: Path, callbacks: list[Any] | None = None) -> tuple[Any, Any]:
    """Build (or load) the model, fit it in ``out`` and save the selected weights there.

    Returns:
        ``(model, pain3d.train.runner.FitResult)``.
    """
    import torch

    from pain3d.model import save_checkpoint
    from pain3d.train.runner import fit_model

    torch.manual_seed(cfg.trainer.seed)  # same head initialisation in every fold
    model = _build(cfg)
    size = _size(cfg, model)
    heat = bool(cfg.data.heatmaps or cfg.distill.teacher)
    train_set = data.dataset(fit_rows, size, _policy(cfg, data, "train"), seed=cfg.trainer.seed,
                             heatmaps=heat)
    val_set = None
    if val_rows is not None and len(val_rows):
        val_set = data.dataset(val_rows, size, _policy(cfg, data, "eval"),
                               seed=cfg.trainer.seed, deterministic=True)
    res = fit_model(model, train_set, val_set, out, cfg.trainer, cfg.optim, cfg.loss,
                    resume=cfg.resume, callbacks=callbacks, distill=cfg.distill)
    save_checkpoint(model, out / "model", extra={
        "epochs": res.epochs, "val_mae": None if np.isnan(res.best_score) else res.best_score,
        "selected_from": str(res.best_path), "data": to_dict(cfg.data)})
    return model, res


def _primary_process() -> bool:
    """False on the non-zero ranks of a DDP run: only rank 0 predicts and writes reports.

    Lightning's DDP launcher runs the whole recipe in every process; fits are collective,
    everything after them happens once.
    """
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _headline(report: Report) -> dict[str, float]:
    return {k: v["mean"] for k, v in report.summary.items()
            if not k.startswith(("n_", "threshold"))}


def pretrain(cfg: TrainConfig, callbacks: list[Any] | None = None) -> RunResult:
    """Train one model (synthetic pretraining, or fine-tuning from ``cfg.init``).

    Epochs are selected on the data's ``val`` split (or ``val_fraction`` of the training
    subjects when there is none). The selected model is scored on a test set that took no
    part in training or selection (protocol ``honest``): the data's ``test`` split, or
    ``test_fraction`` of the subjects held out here. With ``test_fraction = 0`` and no test
    split the validation frames are scored instead, under the ``validation`` protocol, and
    run.json, the predictions (``used_for_selection``), metrics.json and the reports say so.
    Thresholds come from (at most ``eval_train_max``) un-augmented training predictions.
    """
    rd = make_run_dir(cfg, "train")
    data = open_data(cfg.data)
    seed = cfg.trainer.seed
    # neutral images as PSPI-0 training samples with data.include_neutral
    sp = data.split_rows(cfg.val_fraction, seed, cfg.data.include_neutral, cfg.test_fraction)
    policy = _policy(cfg, data, "eval")
    info = _train_run_info(cfg, data, sp, policy)
    atomic_write_json(rd / "run.json", info)
    model, fit = _fit(cfg, data, sp.train, sp.val, rd, callbacks)
    report = None
    if not _primary_process():
        return RunResult(rd, rd / "model")
    scored = sp.test if len(sp.test) else sp.val
    if scored is not None and len(scored):
        rng = np.random.default_rng(seed)
        cal = sp.train
        if cfg.eval_train_max and len(cal) > cfg.eval_train_max:
            cal = np.sort(rng.choice(cal, cfg.eval_train_max, replace=False))
        parts = [_predict(model, data, cal, cfg, policy, "0", "train"),
                 _predict(model, data, scored, cfg, policy, "0", "test")]
        if not len(sp.test):
            parts[1]["used_for_selection"] = 1
        if cfg.data.skip_bad:
            info["dropped"] = _dropped(data, fit, {"calibration": parts[0], "test": parts[1]})
            atomic_write_json(rd / "run.json", info)
        _write_csv(pd.concat(parts, ignore_index=True), rd / "predictions.csv")
        report = evaluate_run(rd, plots=cfg.plots)
    return RunResult(rd, rd / "model", _headline(report) if report else {}, report)


def _train_run_info(cfg: TrainConfig, data: OpenedData, sp: RunSplit, policy: str
                    ) -> dict[str, Any]:
    """run.json of ``pain3d train``: what is scored and how it was obtained."""
    if len(sp.test):
        protocol, scored = "honest", f"held-out test subjects ({sp.test_from})"
    elif sp.val is not None and len(sp.val):
        protocol = "validation"
        scored = ("validation subjects, used to select the checkpoint (no test split and "
                  "test_fraction = 0): validation numbers, not a test result")
    else:
        protocol, scored = "honest", "nothing (no test split, test_fraction = 0, no validation)"
    return {
        "recipe": "train", "protocol": protocol,
        "protocol_description": protocol_description(protocol, reference_label(policy)),
        "scored": scored, "seed": cfg.trainer.seed, "init": cfg.init,
        "model": _model_label(cfg), "data": str(cfg.data.root), "kind": data.kind,
        "input": cfg.data.input, "distill_teacher": cfg.distill.teacher,
        "frames": {"train": int(len(sp.train)),
                   "val": int(0 if sp.val is None else len(sp.val)),
                   "test": int(len(sp.test))},
        "subjects": {k: v.tolist() for k, v in sp.subjects(data.table).items()}}


def _dropped(data: OpenedData, fit: Any, predicted: dict[str, pd.DataFrame]
             ) -> dict[str, list[str]]:
    """Unreadable frames by stage (``data.skip_bad``): skipped by the reader (``index``),
    left out of training batches, of selection, and of each prediction table."""
    out = {"index": [f"{w}: {why}" for w, why in data.report.items]}
    for stage in ("train", "val"):
        out[stage] = list(fit.dropped.get(stage, []))
    for stage, df in predicted.items():
        out[stage] = list(df.attrs.get("dropped", []))
    return out


def cross_validate(cfg: TrainConfig, callbacks: list[Any] | None = None) -> RunResult:
    """K-fold / LOSO cross-validation by subject, every fold from the same initial weights.

    Every fold (stored, given or computed) is checked before training: no subject (or
    synthetic identity) in two of its fit / val / test parts. With ``cv.production`` no
    folds are run: one deployment model is trained on every subject instead
    (:func:`production`).

    Raises:
        pain3d.data.DataError: naming the fold and the subjects on both sides.
    """
    cv = cfg.cv
    if cv.production:
        return production(cfg, callbacks)
    rd = make_run_dir(cfg, "cv")
    data = open_data(cfg.data)
    folds = cv_folds(data.folds, data.subjects, cv.scheme, cv.folds, cfg.trainer.seed)
    plan = _cv_plan(cfg, data, folds)
    policy = _policy(cfg, data, "eval")
    info = {
        "recipe": "cv", "protocol": cv.protocol,
        "protocol_description": protocol_description(cv.protocol, reference_label(policy)),
        "cv": f"{cv.scheme} ({len(folds)} folds)", "seed": cfg.trainer.seed, "init": cfg.init,
        "model": _model_label(cfg), "data": str(cfg.data.root), "input": cfg.data.input,
        "distill_teacher": cfg.distill.teacher, "folds": plan}
    atomic_write_json(rd / "run.json", info)
    first_model_dir = None
    parts, dropped = [], {}
    for p in plan:
        k = p["fold"]
        out = rd / f"fold_{k}"
        pred_path = out / "predictions.csv"
        first_model_dir = first_model_dir or out / "model"
        if cfg.resume and pred_path.is_file():
            log.info("fold %d already done (%s)", k, pred_path)
            parts.append(pd.read_csv(pred_path, dtype={"fold": str, "subject": str}))
            continue
        log.info("fold %d/%d: fit %d subjects, select on %d, test %d", k + 1, len(folds),
                 len(p["fit"]), len(p["val"]), len(p["test"]))
        df, fold_dropped = _cv_fold(cfg, data, p, policy, out, callbacks)
        if df is None:
            continue  # DDP: the other ranks only join the next fit
        _write_csv(df, pred_path)
        parts.append(df)
        for stage, items in fold_dropped.items():
            dropped.setdefault(stage, []).extend(items)
    if not _primary_process():
        return RunResult(rd, first_model_dir or rd)
    if cfg.data.skip_bad:
        info["dropped"] = {"index": [f"{w}: {why}" for w, why in data.report.items], **dropped}
        atomic_write_json(rd / "run.json", info)
    _write_csv(pd.concat(parts, ignore_index=True), rd / "predictions.csv")
    report = evaluate_run(rd, protocol=cv.protocol, plots=cfg.plots)
    return RunResult(rd, first_model_dir or rd, _headline(report), report)


def _cv_plan(cfg: TrainConfig, data: OpenedData, folds: list[Any]) -> list[dict[str, Any]]:
    """The chosen folds' fit / val / test subjects (honest: an inner split of the training
    subjects selects the epoch; published: the test fold does), each checked."""
    cv, seed = cfg.cv, cfg.trainer.seed
    plan = []
    for k in range(len(folds)):
        if cv.only_folds and k not in cv.only_folds:
            continue
        train_s, test_s = folds[k]
        if cv.protocol == "honest":
            fit_s, val_s = inner_split(train_s, cv.inner_val_fraction, seed + k)
            parts = {"fit": fit_s, "val": val_s, "test": test_s}
        else:  # published: the test fold doubles as the selection set
            fit_s, val_s = train_s, test_s
            parts = {"fit": fit_s, "test": test_s}
        data.check_disjoint(parts, f"cv fold {k} ({cv.scheme}, {cv.protocol} protocol)")
        plan.append({"fold": k, "fit": fit_s.tolist(), "val": val_s.tolist(),
                     "test": test_s.tolist()})
    return plan


def _cv_fold(cfg: TrainConfig, data: OpenedData, p: dict[str, Any], policy: str, out: Path,
             callbacks: list[Any] | None) -> tuple[pd.DataFrame | None, dict[str, list[str]]]:
    """Fit one fold and predict its calibration and test frames (None on DDP ranks > 0),
    with the unreadable frames dropped at each stage (``data.skip_bad``)."""
    cv, k = cfg.cv, str(p["fold"])
    model, fit = _fit(cfg, data, data.rows(np.array(p["fit"])), data.rows(np.array(p["val"])),
                      out, callbacks)
    if not _primary_process():
        return None, {}
    train_rows = data.rows(np.array(p["fit"] + (p["val"] if cv.protocol == "honest" else [])))
    test_rows = data.rows(np.array(p["test"]))
    calibration = (_predict_augmented(model, data, train_rows, cfg, k)
                   if cv.protocol == "published" else
                   _predict(model, data, train_rows, cfg, policy, k, "train"))
    tests = [_predict(model, data, test_rows, cfg, policy, k, "test")]
    if cv.evaluate_oracle and policy != "oracle" and policy != "none" \
            and data.kind != "synthetic":
        tests.append(_predict(model, data, test_rows, cfg, "oracle", k, "test"))
    if cv.protocol == "published":  # the checkpoint was selected on these frames
        for t in tests:
            t["used_for_selection"] = 1
    dropped = _dropped(data, fit, {"calibration": calibration, "test": tests[0]})
    dropped.pop("index")
    return pd.concat([calibration, *tests], ignore_index=True), dropped


def production(cfg: TrainConfig, callbacks: list[Any] | None = None) -> RunResult:
    """Train one deployment model on every subject (``pain3d cv --production``).

    Epochs are selected on an inner validation split of the subjects, so there is no test
    set: the run reports no metrics (use ``pain3d cv`` for those). ``metrics`` holds only
    ``selection_mae``, the validation MAE the epoch was chosen on (optimistic by design).
    """
    rd = make_run_dir(cfg, "production")
    data = open_data(cfg.data)
    fit_s, val_s = inner_split(data.subjects, cfg.cv.inner_val_fraction, cfg.trainer.seed)
    data.check_disjoint({"fit": fit_s, "val": val_s}, "production split")
    atomic_write_json(rd / "run.json", {
        "recipe": "production", "protocol": cfg.cv.protocol,
        "protocol_description": "no test set: one model trained on every subject, epoch "
        "selected on an inner validation split (selection_mae is that validation MAE, "
        "optimistic by design); pain3d cv reports test numbers",
        "seed": cfg.trainer.seed, "init": cfg.init, "model": _model_label(cfg),
        "data": str(cfg.data.root), "fit": fit_s.tolist(), "val": val_s.tolist()})
    _fit(cfg, data, data.rows(fit_s), data.rows(val_s), rd, callbacks)
    fit = json.loads((rd / "fit.json").read_text()) if (rd / "fit.json").is_file() else {}
    score = fit.get("best_score")
    return RunResult(rd, rd / "model", {} if score is None else {"selection_mae": score})
