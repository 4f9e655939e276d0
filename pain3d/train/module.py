"""The Lightning module: ViTPain, its loss, on-device augmentation and the optimiser recipe.

Thin over :mod:`pain3d.model`: the module owns no architecture. Batches are training samples
collated by ``pain3d.data.collate`` (images in [0, 1]); augmentation and normalisation happen
on the device. Randomness inside a step (augmentation, dropout) is re-seeded from
``(seed, global step, rank)`` so a resumed run repeats exactly what the uninterrupted run did.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning as L
import numpy as np
import torch

from pain3d.evaluate import metrics as M
from pain3d.model.loss import LossWeights, vitpain_loss
from pain3d.model.vitpain import ViTPain
from pain3d.train.config import OptimConfig

log = logging.getLogger(__name__)


def build_augment(preset: str, model: ViTPain, seed: int = 0) -> Any:
    """``pain3d.data.GpuAugment`` for ``preset`` (``synthetic``/``unbc``/``geometric``), or
    None for ``none``. It normalises with the model's own mean/std (``model.preprocessing``)."""
    if preset == "none":
        return None
    from pain3d.data import GpuAugment

    return GpuAugment.from_preprocessing(model.preprocessing, preset=preset, seed=seed)


class PainModule(L.LightningModule):
    """Training and validation of one ViTPain model.

    Args:
        model: the network (trainable parameters already chosen by its LoRA config).
        optim: optimiser and schedule settings.
        loss: loss-term weights.
        augment: ``synthetic``, ``unbc`` or ``none``.
        seed: run seed (step-level re-seeding).
        epochs: schedule length in epochs.
        teacher: a ``pain3d.model.distill.HeatmapTeacher`` for cross-modal distillation
            (batches must then carry ``heatmap``, in [0, 1]: the teacher sees it un-augmented
            with a black neutral heatmap as reference), or None.
    """

    def __init__(self, model: ViTPain, optim: OptimConfig, loss: LossWeights,
                 augment: str = "none", seed: int = 42, epochs: int = 1,
                 teacher: Any = None) -> None:
        super().__init__()
        self.model = model
        self.optim = optim
        self.loss_weights = loss
        self.seed = seed
        self.epochs = epochs
        self.augment = build_augment(augment, model, seed)
        self.teacher = teacher
        self._val: list[tuple[np.ndarray, np.ndarray]] = []
        self.train_loader_sampler: Any = None  # set by the runner: position for resume
        # Unreadable samples left out of batches (data.skip_bad), by stage: counted, never
        # replaced by other samples.
        self.dropped: dict[str, set[str]] = {"train": set(), "val": set()}

    # ------------------------------------------------------------------ steps
    def _inputs(self, batch: dict[str, Any], train: bool) -> tuple[torch.Tensor, Any]:
        image, neutral = batch["image"], batch.get("neutral")
        if train and self.augment is not None:
            image, neutral = self.augment(image, neutral)
        else:
            image = self.model.normalize(image)
            neutral = self.model.normalize(neutral) if neutral is not None else None
        return image, neutral

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Step-level seeding: a resumed run draws the same augmentation and dropout.
        step_seed = (self.seed * 1_000_003 + self.global_step * 7919 + self.global_rank) \
            % (2**63 - 1)
        torch.manual_seed(step_seed)
        if self.augment is not None:
            self.augment.gen.manual_seed(step_seed)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        self.dropped["train"].update(batch.get("dropped", ()))
        if self.train_loader_sampler is not None:
            # Recorded before the checkpoint callbacks run at the end of this batch.
            self.train_loader_sampler.completed = batch_idx + 1
        if "image" not in batch:  # every sample of the batch was unreadable: no step
            return None
        image, neutral = self._inputs(batch, train=True)
        out = self.model(image, neutral=neutral)
        loss, parts = vitpain_loss(out, batch["au"], batch["pspi"], self.loss_weights)
        if self.teacher is not None:
            if "heatmap" not in batch:
                raise ValueError("distillation is on (distill.teacher) but the training samples "
                                 "carry no 'heatmap': use a dataset written with heatmaps")
            d_loss, d_parts = self.teacher.distill(out, batch["heatmap"])
            loss = loss + d_loss
            parts = {**parts, "distill": d_parts["distill"],
                     "distill_feature": d_parts["feature"], "loss": loss.detach()}
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"non-finite training loss at step {self.global_step}: {parts}; lower the "
                "learning rate or use precision=32 / bf16-mixed instead of 16-mixed")
        bs = image.shape[0]
        self.log_dict({f"train/{k}": v for k, v in parts.items()}, on_step=True, on_epoch=True,
                      batch_size=bs, prog_bar=False, sync_dist=True)
        self.log("train/loss_step", parts["loss"], prog_bar=True, batch_size=bs,
                 on_step=True, on_epoch=False, logger=False)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.dropped["val"].update(batch.get("dropped", ()))
        if "image" not in batch:
            return
        image, neutral = self._inputs(batch, train=False)
        out = self.model(image, neutral=neutral)
        loss, _ = vitpain_loss(out, batch["au"], batch["pspi"], self.loss_weights)
        self.log("val/loss", loss, on_epoch=True, batch_size=image.shape[0], sync_dist=True)
        self._val.append((out.pspi.float().cpu().numpy(), batch["pspi"].float().cpu().numpy()))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        pred = np.concatenate([p for p, _ in self._val])
        true = np.concatenate([t for _, t in self._val])
        self._val.clear()
        values = {"val/mae": M.mae(pred, true), "val/rmse": M.rmse(pred, true)}
        r = M.pcc(pred, true)
        values["val/pcc"] = r if math.isfinite(r) else 0.0
        for k, v in values.items():
            self.log(k, torch.tensor(v, dtype=torch.float32), prog_bar=k == "val/mae",
                     sync_dist=True)

    # ------------------------------------------------------------------ optimiser
    def configure_optimizers(self) -> dict[str, Any]:
        groups = self.model.parameter_groups()
        o = self.optim
        params = [{"params": groups["heads"], "lr": o.lr_heads, "name": "heads"}]
        if groups["lora"]:
            params.append({"params": groups["lora"], "lr": o.lr_lora, "name": "lora"})
        opt = torch.optim.AdamW(params, weight_decay=o.weight_decay)
        epochs, warm = max(self.epochs, 1), o.warmup_epochs

        def factor(base_lr: float):
            floor = min(o.min_lr / base_lr, 1.0)

            def f(epoch: int) -> float:
                if warm and epoch < warm:
                    return (epoch + 1) / (warm + 1)
                if o.schedule == "constant":
                    return 1.0
                t = (epoch - warm) / max(epochs - warm, 1)
                return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
            return f

        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, [factor(g["lr"]) for g in params])
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
