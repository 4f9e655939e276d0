"""The demo's types: its config, what the stages hand each other, and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class DemoConfig:
    """Sizes of the demo (defaults: the full demo, about 4 minutes on 2 idle CPU cores).

    Attributes:
        out: output folder (created; a previous demo there is replaced).
        identities: synthetic identities (split 60 / 20 / 20 % train / val / test).
        per_identity: pain configurations per identity (plus one neutral).
        views: camera views per expression.
        reference_variation: generate with the generator's ``reference_variation`` (every
            image its own small head pose, light and camera change; neutral references are
            separate captures, not pixel-aligned with their pain images), as a camera would.
        neutral_sessions: neutral captures per identity besides the reference (PSPI-0
            samples: without them the held-out split has no PSPI-0 frame and detection,
            AUROC/F1 at PSPI >= 1, cannot be measured); needs ``reference_variation``.
        image_size: rendered image side in pixels.
        epochs: training epochs (about 2000 steps of 16 at the default sizes: 1044 training
            samples, pain images, neutral sessions and references; more identities rather
            than more epochs: they make the epoch choice on val stable).
        batch_size: training batch size.
        lr_heads, lr_lora: learning rates of the heads and of the backbone (or adapters).
        train_backbone: train every weight of the random backbone (a frozen random backbone
            with LoRA does not learn: held-out PCC about 0 on the demo data).
        include_neutral: train on the neutral renders too, as PSPI-0 samples.
        lora_rank: LoRA rank (0: no adapters, as with ``train_backbone``).
        lora_targets: adapted modules when ``lora_rank`` > 0.
        encoder_mode: ``shared`` (one encoder for pain and neutral images: half the CPU
            time of the published ``separate``).
        model_size: model input side in pixels (multiple of 16).
        augment: training augmentation preset (``synthetic``, ``unbc``, ``none``); ``none``
            by default: on this little data the ``synthetic`` preset stops the tiny model
            from learning within the budget (held-out PCC 0.2 against 0.76).
        video_fps: frames per second of the demo video (its timing is fixed:
            :class:`pain3d.demo.video.VideoPlan`, 10 s).
        video_size: video frame side in pixels.
        seed: seed of the dataset, the training and the video.
        workers: generation worker processes.
        renderer: dataset renderer (``builtin``; tests may pass another ``module:Class``).
    """

    out: str = "demo"
    identities: int = 96
    per_identity: int = 6
    views: int = 2
    reference_variation: bool = True
    neutral_sessions: int = 2
    image_size: int = 128
    epochs: int = 30
    batch_size: int = 16
    lr_heads: float = 3e-4
    lr_lora: float = 3e-4
    train_backbone: bool = True
    include_neutral: bool = True
    lora_rank: int = 0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "up_proj",
                                     "down_proj", "patch_embeddings")
    encoder_mode: str = "shared"
    model_size: int = 64
    augment: str = "none"
    video_fps: float = 6.0
    video_size: int = 256
    seed: int = 0
    workers: int = 2
    renderer: str = "builtin"

    def __post_init__(self) -> None:
        if self.identities < 5:
            raise ValueError(f"identities must be >= 5 (train, val and test need people), "
                             f"got {self.identities}")
        if self.neutral_sessions and not self.reference_variation:
            raise ValueError("neutral_sessions need reference_variation (without it a neutral "
                             "session is a copy of its reference); set neutral_sessions: 0")
        if self.lora_rank < 0:
            raise ValueError(f"lora_rank must be >= 0, got {self.lora_rank}")
        for k in ("per_identity", "views", "epochs", "batch_size", "workers"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.image_size < 64 or self.video_size < 128:
            raise ValueError("image_size must be >= 64 and video_size >= 128 pixels")
        if self.model_size < 32 or self.model_size % 16:
            raise ValueError(f"model_size must be a multiple of 16 >= 32, got {self.model_size}")
        if self.augment not in ("synthetic", "unbc", "none"):
            raise ValueError(f"augment must be synthetic, unbc or none, got {self.augment!r}")
        if self.encoder_mode not in ("shared", "separate"):
            raise ValueError(f"encoder_mode must be shared or separate, got {self.encoder_mode!r}")
        self.lora_targets = tuple(self.lora_targets)
        if self.video_fps <= 0:
            raise ValueError(f"video_fps must be > 0, got {self.video_fps}")

    @classmethod
    def small(cls, **overrides: Any) -> DemoConfig:
        """A reduced demo for tests (about a minute or two)."""
        base = dict(identities=8, per_identity=3, views=1, image_size=96, epochs=2,
                    batch_size=8, video_fps=2.0, video_size=192)
        return cls(**{**base, **overrides})


@dataclass
class DemoContext:
    """What the stages hand each other (each field is set by the stage named after it).

    Attributes:
        cfg, out: the demo config and output folder.
        gen, data: ``generate``: the dataset's ``GenerateConfig`` and folder.
        run, run_size: ``train``: the run (``pain3d.train.RunResult``) and its input size.
        eval: ``evaluate``: the held-out evaluation report.
        video_path, video_plan, video_identity, video_frames: ``video``: the file, its
            timing and true PSPI, the filmed test identity and its frames ((H, W, 3) uint8
            RGB each).
        frames, crops: ``predict``: the per-frame table (with ``true_pspi``) and the aligned
            crops of the frame strip.
        numbers: key numbers of every stage (``summary.json``).
        result, report_path, tracebacks: the stage results, ``report.html``, and the
            traceback of every failed stage.
    """

    cfg: DemoConfig
    out: Path
    gen: Any = None
    data: Path | None = None
    run: Any = None
    run_size: int = 0
    eval: Any = None
    video_path: Path | None = None
    video_plan: Any = None
    video_identity: int = -1
    video_frames: list[np.ndarray] = field(default_factory=list)
    frames: Any = None
    crops: dict[int, Any] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    report_path: Path | None = None
    tracebacks: dict[str, str] = field(default_factory=dict)


@dataclass
class StageResult:
    name: str
    status: str = "pending"  # ok | missing | failed | skipped
    seconds: float = 0.0
    message: str = ""


@dataclass
class DemoResult:
    """What the demo did: stage results, key numbers, the report path."""

    out: Path
    stages: dict[str, StageResult]
    numbers: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in self.stages.values())
