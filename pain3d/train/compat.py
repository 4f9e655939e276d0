"""The published entry point, ``python train.py --config configs/vit_pain.yaml --batch_size 32``.

Newcomers follow the published README; this keeps its command line working on top of
``pain3d train``. Snake-case flags (and flat keys in a published-style YAML) are translated to
pain3d config keys; anything else can still be given as ``--set KEY=VALUE``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
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


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the published command line, run :func:`pain3d.train.pretrain`, print the result."""
    from pain3d.config import ConfigError, load_config, read_config_file
    from pain3d.train.config import TrainConfig
    from pain3d.train.recipes import pretrain

    parser = argparse.ArgumentParser(
        prog="train.py", description="Published-style entry point (same as pain3d train).")
    parser.add_argument("--config", help="YAML config (pain3d or published flat keys)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE")
    for flag in sorted(ALIASES):
        parser.add_argument(f"--{flag}", dest=flag, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        overrides: dict[str, Any] = {}
        if args.config:
            raw = read_config_file(args.config)
            # The file's values become overrides of the defaults; flags come after them.
            overrides.update(flatten(translate(raw, str(args.config))))
        for flag in ALIASES:
            v = getattr(args, flag)
            if v is not None:
                overrides[ALIASES[flag]] = v
        for item in args.overrides:
            k, _, v = item.partition("=")
            overrides[k.strip()] = v.strip()
        cfg = load_config(TrainConfig, None, overrides)
        if not cfg.data.root:
            raise ConfigError("no dataset: pass --data_dir PATH (a synthetic dataset folder) "
                              "or set data_dir / data.root in the config file")
        res = pretrain(cfg)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    print(f"run folder: {res.run_dir}\nmodel: {res.checkpoint_dir}")
    return 0
