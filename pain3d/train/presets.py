"""Ready-made configs for code that wants a run without a YAML file (the demo, notebooks).

``tiny_cpu_config`` is the recipe with which a tiny ViTPain learns on a CPU without pretrained
weights (the demo trains with it: held-out PCC about 0.8 on its synthetic faces):

- the ``tiny`` random backbone (2 layers, 96 wide) at 64 px, trained whole
  (``model.train_backbone``; a frozen random backbone with LoRA does not learn: held-out PCC
  about 0), one ``shared`` encoder for the pain and neutral images (half the CPU time);
- heads sized for that width (``pspi_hidden = [128]``, the published 512-256-128 overfit);
- AdamW at 3e-4 with one warm-up epoch, cosine to 1/20 of it, weight decay 0.05;
- synthetic neutral renders as PSPI-0 training samples (``data.include_neutral``);
- no augmentation (on little data the ``synthetic`` preset keeps it from learning in budget);
- fp32 on one CPU, no DataLoader workers, CSV logs only.

``configs/tiny_cpu.yaml`` holds the same values for the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pain3d.config import load_config
from pain3d.train.config import TrainConfig

TINY_LR = 3e-4

TINY_CPU: dict[str, Any] = {
    "model.preset": "tiny", "model.image_size": 64, "model.encoder_mode": "shared",
    "model.train_backbone": True, "model.pspi_hidden": [128], "model.au_hidden": 128,
    "model.cross_attn_heads": 4, "model.head_dropout": 0.1,
    # LoRA off (the backbone trains whole); these targets apply when model.lora.rank > 0
    # with train_backbone false (the published frozen backbone + LoRA).
    "model.lora.rank": 0, "model.lora.alpha": 2.0, "model.lora.dropout": 0.0,
    "model.lora.targets": ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj",
                           "patch_embeddings"],
    "optim.lr_heads": TINY_LR, "optim.lr_lora": TINY_LR, "optim.weight_decay": 0.05,
    "optim.min_lr": 1.5e-5, "optim.warmup_epochs": 1,
    "trainer.epochs": 30, "trainer.batch_size": 16, "trainer.eval_batch_size": 32,
    "trainer.precision": "32", "trainer.accelerator": "cpu", "trainer.devices": "1",
    "trainer.num_workers": 0, "trainer.augment": "none", "trainer.tensorboard": False,
    "trainer.csv": True, "trainer.log_every_n_steps": 5,
    "data.include_neutral": True, "eval_train_max": 2000,
}


def tiny_cpu_config(data_root: str | Path, run_dir: str | Path | None = None,
                **overrides: Any) -> TrainConfig:
    """A TrainConfig of the tiny CPU recipe (:data:`TINY_CPU`) on ``data_root``.

    Args:
        data_root: synthetic dataset folder or prepared UNBC ``.h5``.
        run_dir: the run folder (default: ``runs/tiny-<kind>-<time>``).
        **overrides: dotted keys with ``__`` for dots, e.g. ``trainer__epochs=1``, or plain
            top-level keys such as ``init="runs/pretrain/model"``; None values are ignored.
    """
    over = dict(TINY_CPU)
    over["data.root"] = str(data_root)
    over["name"] = "tiny"
    if run_dir is not None:
        over["run_dir"] = str(run_dir)
    over.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_config(TrainConfig, None, over)
