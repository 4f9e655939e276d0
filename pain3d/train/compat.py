"""The published configuration keys, translated to pain3d's (pure; no argument parsing).

Newcomers follow the published README (``python train.py --config configs/vit_pain.yaml
--batch_size 32``); :func:`pain3d.cli.train.published_main` keeps that command line working
on top of ``pain3d train``. Snake-case flags (and flat keys in a published-style YAML) are
translated to pain3d config keys here; anything else can still be given as
``--set KEY=VALUE``.
"""

from __future__ import annotations

from typing import Any

# Published flag / flat YAML key -> pain3d dotted config key.
ALIASES: dict[str, str] = {
    "batch_size": "trainer.batch_size",
    "epochs": "trainer.epochs",
    "max_epochs": "trainer.epochs",
    "lr": "optim.lr_heads",
    "learning_rate": "optim.lr_heads",
    "head_lr": "optim.lr_heads",
    "lora_lr": "optim.lr_lora",
    "weight_decay": "optim.weight_decay",
    "min_lr": "optim.min_lr",
    "grad_clip": "optim.grad_clip",
    "gradient_clip_val": "optim.grad_clip",
    "seed": "trainer.seed",
    "precision": "trainer.precision",
    "devices": "trainer.devices",
    "gpus": "trainer.devices",
    "num_nodes": "trainer.num_nodes",
    "num_workers": "trainer.num_workers",
    "data_dir": "data.root",
    "data_root": "data.root",
    "dataset_root": "data.root",
    "split_csv": "data.split_csv",
    "split_file": "data.split_csv",
    "model_size": "model.preset",
    "backbone": "model.preset",
    "lora_r": "model.lora.rank",
    "lora_rank": "model.lora.rank",
    "lora_alpha": "model.lora.alpha",
    "lora_dropout": "model.lora.dropout",
    "au_loss_weight": "loss.au",
    "output_dir": "out_dir",
    "save_dir": "out_dir",
    "resume": "resume",
}


def translate(flat: dict[str, Any], where: str) -> dict[str, Any]:
    """Flat published keys -> dotted pain3d keys (nested pain3d keys pass through)."""
    from pain3d.config import ConfigError, to_dict
    from pain3d.train.config import TrainConfig

    known = set(to_dict(TrainConfig()))
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if key in known:
            out[key] = value
        elif key in ALIASES:
            v = value
            if ALIASES[key] == "model.preset" and isinstance(v, str):
                v = v.replace("vit_", "").replace("dinov3_", "").split("_")[0]
            out[ALIASES[key]] = v
        else:
            raise ConfigError(f"{where}: unknown key {key!r}; known published keys: "
                              f"{sorted(ALIASES)}, or pain3d keys {sorted(known)}")
    return out


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys (``{"trainer": {"epochs": 1}}`` -> ``trainer.epochs``)."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out
