"""One Lightning fit in one folder, and deterministic prediction into predictions tables.

``fit_model`` is the only place that builds a ``lightning.Trainer``, in named steps: a
finished fit is reused (``_finished_fit``), loaders (``_loaders``), callbacks and loggers
(``_callbacks``: ``last.ckpt`` every N steps, the best checkpoint on validation MAE), the
trainer with its precision, devices and DDP (``_trainer``), then the fit (resumed from
``last.ckpt`` when there is one) and the selection of the best epoch (``_select_best``).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from pain3d.data.loader import make_loader, pain_weights
from pain3d.facs import AU_NAMES
from pain3d.io import atomic_write_json
from pain3d.model.loss import LossWeights
from pain3d.model.vitpain import ViTPain
from pain3d.train.config import OptimConfig, TeacherConfig, TrainerConfig
from pain3d.train.module import PainModule

log = logging.getLogger(__name__)

LAST = "last.ckpt"
BEST = "best.ckpt"
FIT_DONE = "fit.json"


@dataclass
class FitResult:
    """What a fit left behind.

    Attributes:
        best_path: Lightning checkpoint with the best validation MAE (or the last epoch when
            there was no validation set).
        best_score: its validation MAE (NaN without validation).
        epochs: epochs trained in total.
        resumed: whether this call continued an interrupted fit.
        dropped: unreadable samples left out (``data.skip_bad``) while training (``train``)
            and selecting (``val``), by path (this call's epochs; a resumed fit adds to the
            lists in ``fit.json``).
    """

    best_path: Path
    best_score: float
    epochs: int
    resumed: bool
    dropped: dict[str, list[str]] = field(default_factory=dict)


def resolve_precision(p: str) -> str:
    """``auto`` -> ``bf16-mixed`` on a CUDA device with bf16, else ``32-true``."""
    if p == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return "bf16-mixed"
        return "32-true"
    return "32-true" if p == "32" else p


def _devices(spec: str) -> Any:
    if spec == "auto":
        return "auto"
    if "," in spec:
        return [int(d) for d in spec.split(",") if d.strip()]
    return int(spec)


def _n_devices(devices: Any) -> int:
    if devices == "auto":
        return max(torch.cuda.device_count(), 1)
    return len(devices) if isinstance(devices, list) else int(devices)


class _LastCheckpoint(L.Callback):
    """``last.ckpt`` every ``every`` optimiser steps (atomic), only where a resumed fit
    repeats the uninterrupted one exactly: after a batch that is not its epoch's last.

    Lightning restores a checkpoint written after an epoch's last batch, inside
    ``on_train_epoch_end`` or at the next ``on_train_epoch_start`` as one epoch further on
    (the resumed fit then trains an epoch less). A save due on an epoch's last batch is
    therefore made after the next epoch's first batch; a kill in between resumes from the
    previous save and repeats the steps since. (Epochs of a single batch never save.)
    """

    def __init__(self, path: Path, every: int) -> None:
        self.path, self.every = path, every
        self._due = False

    def _save(self, trainer: L.Trainer) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(tmp)
        if trainer.is_global_zero:
            tmp.replace(self.path)

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        self._due = self._due or trainer.global_step % self.every == 0
        if self._due and batch_idx + 1 < trainer.num_training_batches:
            self._save(trainer)
            self._due = False


def _loggers(cfg: TrainerConfig, run_dir: Path, resumed: bool) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    out: list[Any] = []
    if cfg.csv:
        # The CSV logger rewrites its folder: a resumed fit logs beside the interrupted one.
        version = "csv"
        if resumed:
            n = len(list((run_dir / "logs").glob("csv-resumed-*"))) + 1
            version = f"csv-resumed-{n}"
        out.append(CSVLogger(save_dir=str(run_dir), name="logs", version=version))
    if cfg.tensorboard:
        try:
            out.append(TensorBoardLogger(save_dir=str(run_dir), name="logs",
                                         version="tensorboard", default_hp_metric=False))
        except ModuleNotFoundError:
            log.warning("tensorboard is not installed: TensorBoard logging off (CSV still on)")
    if cfg.wandb:
        from lightning.pytorch.loggers import WandbLogger

        out.append(WandbLogger(save_dir=str(run_dir), project="pain3d", name=run_dir.name))
    return out


def fit_model(model: ViTPain, train_set: Any, val_set: Any | None, run_dir: str | Path,
              trainer_cfg: TrainerConfig, optim: OptimConfig, loss: LossWeights,
              resume: bool = True, callbacks: list[Any] | None = None,
              distill: TeacherConfig | None = None) -> FitResult:
    """Train ``model`` in place on ``train_set``; select the epoch on ``val_set``.

    On return the model holds the selected (best) weights. When ``run_dir/checkpoints``
    holds a ``last.ckpt`` and ``resume`` is set, training continues from it (same batches,
    augmentation and dropout as an uninterrupted run with the same seed); a finished fit
    (``fit.json``) is not repeated.

    Args:
        model: the network to train.
        train_set, val_set: datasets of training samples (``pain3d.data.PainDataset``).
        run_dir: folder for ``checkpoints/``, ``logs/`` and ``fit.json``.
        trainer_cfg, optim, loss: settings.
        resume: continue from ``last.ckpt`` when present.
        callbacks: extra Lightning callbacks (tests use one to simulate a crash).
        distill: heatmap-teacher distillation (off when None or without a teacher).
    """
    tc = trainer_cfg
    _quiet_lightning()
    model.train()  # load_model returns eval mode; Lightning expects training mode
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    module = PainModule(model, optim, loss, augment=tc.augment, seed=tc.seed, epochs=tc.epochs,
                        teacher=_teacher(distill))
    if resume and (run_dir / FIT_DONE).is_file():
        return _finished_fit(module, run_dir)
    L.seed_everything(tc.seed, workers=True, verbose=False)
    train_loader, val_loader = _loaders(train_set, val_set, tc)
    module.train_loader_sampler = train_loader.batch_sampler
    last = run_dir / "checkpoints" / LAST
    resumed = bool(resume and last.is_file())
    cbs, loggers = _callbacks(tc, run_dir, val_loader is not None, resumed, callbacks)
    trainer = _trainer(tc, optim, cbs, loggers, run_dir)
    if resumed:
        log.info("resuming %s from %s", run_dir, last)
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if resumed else None)
    return _select_best(trainer, module, cbs, run_dir, resumed)


def _finished_fit(module: PainModule, run_dir: Path) -> FitResult:
    """The result of a fit that already finished (``fit.json``), its weights loaded."""
    info = json.loads((run_dir / FIT_DONE).read_text())
    best = Path(info["best_path"])
    if not best.is_absolute():  # stored relative to the run folder, which may have moved
        best = run_dir / best
    _load_weights(module, best)
    log.info("fit in %s already finished; using %s", run_dir, best)
    return FitResult(best, float(info["best_score"] if info["best_score"] is not None
                                 else np.nan), int(info["epochs"]), False,
                     info.get("dropped", {}))


def _loaders(train_set: Any, val_set: Any | None, tc: TrainerConfig) -> tuple[Any, Any]:
    """The training loader (``trainer.pain_weight`` resampling) and the validation loader
    (None without validation samples).

    Each rank takes its share of one global order (EpochBatchSampler reads rank and world
    size once Lightning has started DDP); Lightning must not swap in a DistributedSampler.
    """
    labels = train_set.labels() if hasattr(train_set, "labels") else None
    weights = pain_weights(labels["pspi"], tc.pain_weight) if labels is not None else None
    pin = torch.cuda.is_available()
    train = make_loader(train_set, tc.batch_size, seed=tc.seed, train=True, weights=weights,
                        num_workers=tc.num_workers, pin_memory=pin)
    val = (make_loader(val_set, tc.eval_batch_size, seed=tc.seed, train=False,
                       num_workers=tc.num_workers, pin_memory=pin)
           if val_set is not None and len(val_set) else None)
    return train, val


def _callbacks(tc: TrainerConfig, run_dir: Path, validate: bool, resumed: bool,
               extra: list[Any] | None) -> tuple[list[Any], list[Any]]:
    """Callbacks (``last.ckpt``, best on ``val/mae``, learning rate, ``extra``) and loggers."""
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint

    ckpt_dir = run_dir / "checkpoints"
    cbs: list[Any] = [_LastCheckpoint(ckpt_dir / LAST, tc.checkpoint_every_n_steps)]
    if validate:
        cbs.append(ModelCheckpoint(dirpath=str(ckpt_dir), filename="best", monitor="val/mae",
                                   mode="min", save_top_k=1, auto_insert_metric_name=False,
                                   enable_version_counter=False))
    loggers = _loggers(tc, run_dir, resumed)
    if loggers:
        cbs.append(LearningRateMonitor(logging_interval="epoch"))
    return cbs + list(extra or []), loggers


def _trainer(tc: TrainerConfig, optim: OptimConfig, cbs: list[Any], loggers: list[Any],
             run_dir: Path) -> L.Trainer:
    """The Lightning Trainer: precision, devices and DDP, clipping, logging."""
    devices = _devices(tc.devices)
    strategy = tc.strategy
    if strategy == "auto" and (_n_devices(devices) > 1 and tc.accelerator != "cpu"
                               or tc.num_nodes > 1):
        strategy = "ddp"
    return L.Trainer(
        max_epochs=tc.epochs, accelerator=tc.accelerator, devices=devices,
        num_nodes=tc.num_nodes, strategy=strategy, precision=resolve_precision(tc.precision),
        gradient_clip_val=optim.grad_clip or None, logger=loggers or False, callbacks=cbs,
        log_every_n_steps=tc.log_every_n_steps, deterministic=tc.deterministic or None,
        use_distributed_sampler=False, default_root_dir=str(run_dir),
        enable_checkpointing=True, enable_progress_bar=sys.stderr.isatty(),
        enable_model_summary=False, num_sanity_val_steps=0,
        limit_train_batches=tc.max_steps_per_epoch or None,
    )


def _select_best(trainer: L.Trainer, module: PainModule, cbs: list[Any], run_dir: Path,
                 resumed: bool) -> FitResult:
    """Load the best checkpoint on validation MAE into the model (the last epoch without
    validation, saved as ``best.ckpt``) and record the finished fit in ``fit.json``."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / LAST
    best_path, best_score = last, float("nan")
    for cb in cbs:
        if isinstance(cb, ModelCheckpoint) and cb.best_model_path:
            best_path = Path(cb.best_model_path)
            if cb.best_model_score is not None:
                best_score = float(cb.best_model_score)
    if best_path != last:
        _load_weights(module, best_path)
    else:
        trainer.save_checkpoint(ckpt_dir / BEST)
        best_path = ckpt_dir / BEST
    dropped = {k: sorted(v) for k, v in module.dropped.items() if v}
    if trainer.is_global_zero:
        rel = best_path.relative_to(run_dir) if best_path.is_relative_to(run_dir) else best_path
        info = {"best_path": str(rel), "best_score": None if np.isnan(best_score) else best_score,
                "epochs": trainer.current_epoch, "resumed": resumed}
        if dropped:
            info["dropped"] = dropped
        atomic_write_json(run_dir / FIT_DONE, info)
    return FitResult(best_path, best_score, trainer.current_epoch, resumed, dropped)


def _teacher(distill: TeacherConfig | None) -> Any:
    if distill is None or not distill.teacher:
        return None
    from pain3d.model import load_model
    from pain3d.model.distill import HeatmapTeacher

    return HeatmapTeacher(load_model(distill.teacher), distill)


def _quiet_lightning() -> None:
    """Keep Lightning's per-fit banners (tips, weights_only notes) out of user logs."""
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero",
                 "lightning.pytorch.trainer.connectors.checkpoint_connector",
                 "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*The given NumPy array is not writable.*")
    # A batch of unreadable samples only (data.skip_bad) is skipped on purpose and counted.
    warnings.filterwarnings("ignore", message=".*`training_step` returned `None`.*")


def _load_weights(module: PainModule, path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    missing, unexpected = module.load_state_dict(state, strict=False)
    trainable = {f"model.{k}" for k in module.model.trainable_state_dict()}
    lost = sorted(trainable & set(missing))
    if lost or unexpected:
        raise RuntimeError(f"checkpoint {path} does not fit this model: missing {lost[:5]}, "
                           f"unexpected {list(unexpected)[:5]}")


def _predictions(model: ViTPain, loader: Any, dev: torch.device, augment: Any = None
                 ) -> pd.DataFrame:
    """Run ``loader`` through ``model`` (eval mode): the predictions table of
    :func:`predict_table`. ``augment`` (training mode) replaces plain normalisation.
    Unreadable samples (``batch["dropped"]``) have no row; they are listed in
    ``df.attrs["dropped"]``."""
    was_training = model.training
    model.eval().to(dev)
    cols: dict[str, list[Any]] = {k: [] for k in ("subject", "sequence", "frame", "path")}
    preds, trues, paus, taus = [], [], [], []
    dropped: list[str] = []
    for batch in loader:
        dropped += batch.get("dropped", [])
        if "image" not in batch:
            continue
        image = batch["image"].to(dev)
        neutral = batch.get("neutral")
        neutral = neutral.to(dev) if neutral is not None else None
        if augment is not None:
            image, neutral = augment(image, neutral)
        else:
            image = model.normalize(image)
            neutral = model.normalize(neutral) if neutral is not None else None
        out = model(image, neutral=neutral)
        preds.append(out.pspi.float().cpu().numpy())
        paus.append(out.au.float().cpu().numpy())
        trues.append(batch["pspi"].float().numpy())
        taus.append(batch["au"].float().numpy())
        cols["subject"] += list(batch["subject"])
        for m in batch["meta"]:
            cols["sequence"].append(m.get("sequence", ""))
            cols["frame"].append(m.get("frame", 0))
            cols["path"].append(m.get("path", ""))
    model.train(was_training)
    n_au = len(AU_NAMES)
    pau = np.concatenate(paus) if paus else np.zeros((0, n_au), np.float32)
    tau = np.concatenate(taus) if taus else np.zeros((0, n_au), np.float32)
    df = pd.DataFrame({"subject": cols["subject"],
                       "pred": np.concatenate(preds) if preds else np.zeros(0, np.float32),
                       "true": np.concatenate(trues) if trues else np.zeros(0, np.float32)})
    for j, a in enumerate(AU_NAMES):
        df[f"pred_{a}"] = pau[:, j]
        df[f"true_{a}"] = tau[:, j]
    for k in ("sequence", "frame", "path"):
        df[k] = cols[k]
    df.attrs["dropped"] = dropped
    if dropped:
        log.warning("%d unreadable sample(s) left out of the predictions (data.skip_bad), "
                    "e.g. %s", len(dropped), dropped[0])
    return df


def _device(device: str | torch.device | None) -> torch.device:
    return torch.device(device) if device else torch.device(
        "cuda" if torch.cuda.is_available() else "cpu")


@torch.inference_mode()
def predict_table(model: ViTPain, dataset: Any, batch_size: int = 64, num_workers: int = 0,
                  device: str | torch.device | None = None) -> pd.DataFrame:
    """Un-augmented predictions for every sample of ``dataset``, in dataset order.

    Deterministic: eval mode, fixed order, the dataset's (deterministic) references.

    Returns:
        One row per sample: ``subject``, ``pred``, ``true``, ``pred_<AU>``, ``true_<AU>``,
        ``sequence``, ``frame``, ``path``; samples that could not be read (``skip_bad``)
        have no row and are listed in ``attrs["dropped"]`` (each frame at most once).
    """
    loader = make_loader(dataset, batch_size, train=False, num_workers=num_workers)
    return _predictions(model, loader, _device(device))


@torch.inference_mode()
def predict_augmented(model: ViTPain, dataset: Any, trainer_cfg: TrainerConfig,
                      device: str | torch.device | None = None) -> pd.DataFrame:
    """Predictions on one epoch of the *training* loader: resampled with the training weights
    (``trainer.pain_weight``, with replacement) and augmented with ``trainer.augment``.

    This is how the published code calibrated its F1 thresholds; pain3d uses it only under
    ``cv.protocol = published`` (the honest protocol calibrates on :func:`predict_table`).
    Deterministic for a given seed; the model is in eval mode (no dropout).

    Returns:
        The columns of :func:`predict_table`, one row per drawn sample (a frame may appear
        several times or not at all).
    """
    from pain3d.train.module import build_augment

    tc = trainer_cfg
    dev = _device(device)
    weights = pain_weights(dataset.labels()["pspi"], tc.pain_weight)
    loader = make_loader(dataset, tc.eval_batch_size, seed=tc.seed, train=True,
                         weights=weights, num_workers=tc.num_workers, rank=0, world_size=1)
    loader.batch_sampler.drop_last = False  # every draw of the epoch is predicted
    augment = build_augment(tc.augment, model, seed=tc.seed)
    if augment is not None:
        augment = augment.to(dev).train()
    return _predictions(model, loader, dev, augment)
