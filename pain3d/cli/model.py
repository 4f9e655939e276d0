"""``pain3d convert-checkpoint``: published ViTPain Lightning checkpoints -> pain3d folders."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert-checkpoint",
        help="import a published ViTPain checkpoint (.ckpt) as a pain3d checkpoint folder",
        description="Maps the published timm/peft key names onto pain3d's modules (sizes read "
        "from the weights) and writes safetensors + config.json, backbone included. Use "
        "--published-forward to reproduce the published predictions (the released weights were "
        "trained without rotary position embedding and register tokens).",
    )
    p.add_argument("checkpoint", nargs="?", default=None, help="published Lightning .ckpt file")
    p.add_argument("--out", default=None, help="output checkpoint folder")
    p.add_argument("--config", default=None, help="YAML with ConvertConfig defaults")
    p.add_argument("--published-forward", action="store_true", default=None,
                   help="no RoPE, no register tokens, as the published code ran the backbone")
    p.add_argument("--num-heads", type=int, default=None,
                   help="backbone attention heads (default: from the model name, else D/64)")
    p.add_argument("--cross-attn-heads", type=int, default=None,
                   help="heads of the published cross-attention (default 8)")
    p.add_argument("--trust-pickle", action="store_true", default=None,
                   help="allow full unpickling if safe loading fails (trusted files only)")
    p.set_defaults(handler=_convert)


def _convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pain3d.config import load_config, save_config
    from pain3d.model.convert import ConvertConfig, convert_checkpoint

    cfg = load_config(ConvertConfig, args.config, {
        "checkpoint": args.checkpoint, "out": args.out,
        "published_forward": args.published_forward, "trust_pickle": args.trust_pickle,
        "num_heads": args.num_heads, "cross_attn_heads": args.cross_attn_heads,
    })
    out = convert_checkpoint(cfg)
    save_config(cfg, Path(out) / "convert.yaml")
    print(f"wrote {out} (load with pain3d.load_model({str(out)!r}))")
    return 0
