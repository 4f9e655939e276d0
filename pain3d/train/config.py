"""Configs of the training jobs (``pain3d train``, ``pain3d cv``, ``pain3d ablate``).

One :class:`TrainConfig` describes a run: data (:class:`pain3d.data.DataConfig`), model,
loss, optimiser, trainer, distillation, and the cross-validation settings ``pain3d cv``
reads. YAML files under ``configs/`` set defaults and
flags override (``pain3d.config.load_config``); the resolved config is saved in every run
folder as ``config.yaml``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Literal

from pain3d.data.config import DataConfig
from pain3d.model.config import ViTPainConfig
from pain3d.model.distill import DistillConfig
from pain3d.model.loss import LossWeights

Precision = Literal["auto", "32", "32-true", "bf16-mixed", "16-mixed", "bf16-true"]

log = logging.getLogger(__name__)


@dataclass
class OptimConfig:
    """AdamW with per-group learning rates and a per-epoch schedule (published values).

    Attributes:
        lr_heads: learning rate of the heads, cross-attention and AU queries.
        lr_lora: learning rate of the LoRA adapters.
        weight_decay: AdamW weight decay.
        min_lr: floor of the cosine schedule.
        warmup_epochs: linear warm-up epochs before the cosine.
        schedule: ``cosine`` (per epoch, to ``min_lr``) or ``constant``.
        grad_clip: gradient-norm clip (0 disables).
    """

    lr_heads: float = 1e-4
    lr_lora: float = 1e-5
    weight_decay: float = 0.1
    min_lr: float = 1e-6
    warmup_epochs: int = 0
    schedule: Literal["cosine", "constant"] = "cosine"
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        for k in ("lr_heads", "lr_lora"):
            if getattr(self, k) <= 0:
                raise ValueError(f"optim.{k} must be > 0, got {getattr(self, k)}")
        if self.min_lr < 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("optim.min_lr, weight_decay and grad_clip must be >= 0")
        if self.warmup_epochs < 0:
            raise ValueError(f"optim.warmup_epochs must be >= 0, got {self.warmup_epochs}")


@dataclass
class TrainerConfig:
    """How Lightning runs: precision, devices, epochs, batching, logging, checkpoints.

    Attributes:
        epochs: training epochs (published: 150 synthetic, 50 UNBC).
        batch_size: samples per step per device (published: 48 synthetic, 100 UNBC).
        eval_batch_size: batch size of validation and prediction.
        precision: ``auto`` (bf16-mixed on a CUDA device that supports it, else 32),
            ``32``, ``bf16-mixed``, ``16-mixed``, ``bf16-true``.
        accelerator: ``auto``, ``cpu``, ``gpu``/``cuda``.
        devices: ``auto``, a count (``"4"``) or a list (``"0,1"``).
        num_nodes: machines for multi-node DDP (set MASTER_ADDR etc. or use SLURM/torchrun).
        strategy: ``auto`` or ``ddp`` (``ddp`` is chosen for more than one device).
        num_workers: data-loading processes per device.
        seed: seeds everything (data order, references, augmentation, dropout, init).
        augment: on-device augmentation preset: ``synthetic``, ``unbc``, ``geometric`` (the
            synthetic preset's flip, rotation, translation and scale without colour jitter or
            blur: for heatmap inputs) or ``none``.
        pain_weight: sampling weight of frames with PSPI >= 1 (published 2 on UNBC; 1 =
            plain shuffling).
        checkpoint_every_n_steps: write ``last.ckpt`` this often (resume after a kill).
        log_every_n_steps: logging interval.
        tensorboard, csv, wandb: loggers (wandb needs the optional package).
        deterministic: ask torch for deterministic kernels (slower on GPU).
        max_steps_per_epoch: cap on training batches per epoch (0 = all; smoke runs).
    """

    epochs: int = 150
    batch_size: int = 48
    eval_batch_size: int = 64
    precision: Precision = "auto"
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    num_workers: int = 4
    seed: int = 42
    augment: Literal["synthetic", "unbc", "geometric", "none"] = "synthetic"
    pain_weight: float = 1.0
    checkpoint_every_n_steps: int = 200
    log_every_n_steps: int = 20
    tensorboard: bool = True
    csv: bool = True
    wandb: bool = False
    deterministic: bool = False
    max_steps_per_epoch: int = 0

    def __post_init__(self) -> None:
        for k in ("epochs", "batch_size", "eval_batch_size", "num_nodes",
                  "checkpoint_every_n_steps", "log_every_n_steps"):
            if int(getattr(self, k)) < 1:
                raise ValueError(f"trainer.{k} must be >= 1, got {getattr(self, k)}")
        if self.num_workers < 0 or self.max_steps_per_epoch < 0:
            raise ValueError("trainer.num_workers and max_steps_per_epoch must be >= 0")
        if self.pain_weight <= 0:
            raise ValueError(f"trainer.pain_weight must be > 0, got {self.pain_weight}")
        self.devices = str(self.devices)


@dataclass
class TeacherConfig(DistillConfig):
    """Cross-modal distillation from a frozen heatmap teacher (``pain3d.model.distill``): the
    teacher's checkpoint and the distillation terms (``feature``, ``feature_weight``,
    ``prediction_weight`` of :class:`~pain3d.model.distill.DistillConfig`).

    The teacher sees each training sample's heatmap (``data.heatmaps`` is implied) with
    the neutral's black heatmap as its reference, exactly as it was trained
    (``data.input = heatmap``); the student sees the photo and its neutral photo.
    Heatmaps exist only for synthetic data, so distillation happens during synthetic
    (pre)training.

    Attributes:
        teacher: checkpoint folder of a ViTPain trained on heatmaps (``pain3d train
            --config configs/teacher_heatmap.yaml``, then ``RUN/model``); None = off.
    """

    teacher: str | None = None


@dataclass
class CVConfig:
    """Cross-validation on real data (``pain3d cv``).

    Attributes:
        scheme: ``5fold`` (subjects split into ``folds`` groups), ``loso`` (leave one subject
            out) or ``file`` (``data.folds_file``).
        folds: number of folds for ``5fold``.
        protocol: ``honest`` (checkpoint chosen on an inner validation split of the training
            subjects; label-free references at test) or ``published`` (checkpoint chosen on
            the test fold; oracle references), written into every report.
        inner_val_fraction: share of a fold's training subjects held out for checkpoint
            selection (honest protocol).
        production: instead of the folds, train one model on all subjects (no test set)
            for deployment.
        only_folds: run these fold indices only (empty = all).
        evaluate_oracle: also predict the test folds with oracle references (reported
            separately and labelled).
    """

    scheme: Literal["5fold", "loso", "file"] = "5fold"
    folds: int = 5
    protocol: Literal["honest", "published"] = "honest"
    inner_val_fraction: float = 0.2
    production: bool = False
    only_folds: tuple[int, ...] = ()
    evaluate_oracle: bool = True

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(f"cv.folds must be >= 2, got {self.folds}")
        if not 0.0 < self.inner_val_fraction < 1.0:
            raise ValueError(f"cv.inner_val_fraction must be in (0, 1), got "
                             f"{self.inner_val_fraction}")
        self.only_folds = tuple(int(f) for f in self.only_folds)


@dataclass
class AblateConfig:
    """``pain3d ablate`` settings.

    Attributes:
        pretrain_config: a synthetic pretraining config (YAML, e.g.
            ``configs/pretrain_synthetic.yaml`` with ``data.root`` set) for ablations on real
            data: the ``distillation`` axis runs this pretraining without and with the
            heatmap teacher (training the teacher first when ``distill.teacher`` is unset)
            and cross-validates from each; ``pretraining = synthetic`` uses its
            distillation-off model when ``init`` is not given. Not needed on synthetic data.
    """

    pretrain_config: str | None = None


@dataclass
class TrainConfig:
    """One training run (``pain3d train``) or cross-validation (``pain3d cv``).

    Attributes:
        name: run name prefix.
        out_dir: parent folder of run folders.
        run_dir: explicit run folder (resume: the same folder continues from ``last.ckpt``).
        init: checkpoint folder (``pain3d.model.save_checkpoint`` layout) to start from,
            e.g. a synthetic-pretrained model; None starts from the backbone.
        resume: continue an interrupted run in ``run_dir`` from its ``last.ckpt``.
        val_fraction: for data without a val split, the share of training subjects held
            out for checkpoint selection (0: no selection, the last epoch is kept).
        test_fraction: ``pain3d train`` on data without a test split (prepared UNBC, a
            labelled table without a ``split`` column): the share of subjects held out as
            the test set, never trained or selected on. 0 holds out none: the run then
            scores its validation frames, under the ``validation`` protocol (not a test).
        eval_train_max: at most this many training frames are predicted to calibrate
            thresholds after ``train`` (0 = all; cv always uses all of them).
        plots: draw the report figures (numbers and tables are always written).
        data, model, loss, optim, trainer, cv, distill, ablate: nested settings.
    """

    name: str = "run"
    out_dir: str = "runs"
    run_dir: str | None = None
    init: str | None = None
    resume: bool = True
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    eval_train_max: int = 5000
    plots: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    model: ViTPainConfig = field(default_factory=ViTPainConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    cv: CVConfig = field(default_factory=CVConfig)
    distill: TeacherConfig = field(default_factory=TeacherConfig)
    ablate: AblateConfig = field(default_factory=AblateConfig)

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if self.data.input == "heatmap" and self.distill.teacher:
            raise ValueError("data.input = heatmap trains a heatmap teacher: it cannot itself "
                             "be distilled from distill.teacher (unset one of them)")
        if self.data.input == "heatmap" and self.trainer.augment in ("synthetic", "unbc"):
            # Heatmap colours encode the deformation: colour jitter or blur would change the
            # label. Resolved here, so the run's saved config.yaml says what was used.
            log.info("heatmap inputs: trainer.augment %s -> geometric (no colour jitter or "
                     "blur)", self.trainer.augment)
            self.trainer = dataclasses.replace(self.trainer, augment="geometric")
