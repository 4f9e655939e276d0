"""Training recipes over :mod:`pain3d.model` and :mod:`pain3d.data` (Lightning underneath).

The data side (config, opening, folds, references, loader) lives in :mod:`pain3d.data`;
this package holds the training loop (:mod:`~pain3d.train.module`,
:mod:`~pain3d.train.runner`), the recipes, presets, ablations and their configs.

Public API::

    from pain3d.train import TrainConfig, pretrain, cross_validate, production
    result = pretrain(cfg)            # RunResult(run_dir, checkpoint_dir, metrics, report)
    result = cross_validate(cfg)      # k-fold / LOSO by subject, honest protocol by default

Heavy modules (lightning, the model) are imported on first use of the recipes.
"""

from __future__ import annotations

from typing import Any

from pain3d.train.config import (
    AblateConfig,
    CVConfig,
    OptimConfig,
    TeacherConfig,
    TrainConfig,
    TrainerConfig,
)

__all__ = ["AblateConfig", "CVConfig", "OptimConfig", "RunResult", "TeacherConfig",
           "TrainConfig", "TrainerConfig", "ablate", "cross_validate", "pretrain", "production"]


def __getattr__(name: str) -> Any:
    if name in ("RunResult", "cross_validate", "pretrain", "production"):
        from pain3d.train import recipes

        return getattr(recipes, name)
    if name == "ablate":
        from pain3d.train.ablate import ablate

        return ablate
    raise AttributeError(f"module 'pain3d.train' has no attribute {name!r}")
