"""Ready-made configs for code that wants a run without a YAML file (the demo, notebooks).

``tiny_config`` trains in seconds on a CPU (a 2-layer random-weight backbone at 64 px): it
exercises the whole pipeline, it does not produce a useful model (frozen random backbone +
LoRA). For a tiny CPU model that does learn, train the random backbone whole and add the
neutral renders as PSPI-0 samples, as the demo does (``pain3d.demo.run.train_config``:
``model.train_backbone``, ``data.include_neutral``, 64 px, lr 3e-4, no augmentation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pain3d.config import load_config
from pain3d.train.config import TrainConfig

TINY_CPU: dict[str, Any] = {
    "model.preset": "tiny", "model.image_size": 64, "model.pspi_hidden": [64],
    "model.au_hidden": 64, "model.cross_attn_heads": 2, "model.head_dropout": 0.1,
    "optim.lr_heads": 1e-3, "optim.lr_lora": 1e-3,
    "trainer.epochs": 3, "trainer.batch_size": 16, "trainer.eval_batch_size": 64,
    "trainer.precision": "32", "trainer.accelerator": "cpu", "trainer.devices": "1",
    "trainer.num_workers": 0, "trainer.augment": "none", "trainer.tensorboard": False,
    "trainer.checkpoint_every_n_steps": 50, "trainer.log_every_n_steps": 5,
    "data.label_free_frames": 2,
}


def tiny_config(data_root: str | Path, run_dir: str | Path | None = None,
                **overrides: Any) -> TrainConfig:
    """A TrainConfig for the tiny CPU model on ``data_root``.

    Args:
        data_root: synthetic dataset folder or prepared UNBC ``.h5``.
        run_dir: the run folder (default: ``runs/tiny-<kind>-<time>``).
        **overrides: dotted keys with ``__`` for dots, e.g. ``trainer__epochs=1``, or plain
            top-level keys such as ``init="runs/pretrain/model"``.
    """
    over = dict(TINY_CPU)
    over["data.root"] = str(data_root)
    over["name"] = "tiny"
    if run_dir is not None:
        over["run_dir"] = str(run_dir)
    over.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_config(TrainConfig, None, over)
