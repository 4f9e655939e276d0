"""Import published ViTPain checkpoints (Lightning ``.ckpt`` with timm DINOv3 + peft LoRA).

Supported key patterns (``<enc>`` is ``vit_model`` for the pain encoder and
``neutral_encoder`` for the reference encoder; the peft wrapper ``base_model.model.`` and
the ``.base_layer`` infix are optional; ``<a>`` is any single adapter name, e.g. ``default``)::

    <enc>.cls_token                          (1, 1, D)
    <enc>.reg_token                          (1, R, D)          optional (R = 0 without)
    <enc>.patch_embed.proj.{weight,bias}     (D, 3, 16, 16)     + optional conv LoRA
    <enc>.blocks.N.norm1.{weight,bias}
    <enc>.blocks.N.attn.qkv.weight           (3D, D)            + optional LoRA (split to q/k/v)
    <enc>.blocks.N.attn.qkv.bias | attn.q_bias, attn.v_bias    optional
    <enc>.blocks.N.attn.proj.{weight,bias}                      + optional LoRA (-> o_proj)
    <enc>.blocks.N.gamma_1, gamma_2          (D,)               optional layer scale
    <enc>.blocks.N.norm2.{weight,bias}
    <enc>.blocks.N.mlp.fc1.{weight,bias}, mlp.fc2.{weight,bias}
    <enc>.norm.{weight,bias}
    <enc>...<module>.lora_A.<a>.weight / lora_B.<a>.weight      LoRA of the modules above
    <enc>.rope.*, <enc>.mask_token, <enc>.head.*                ignored
    neutral_cross_attn.{in_proj_weight,in_proj_bias,out_proj.weight,out_proj.bias}
    neutral_norm.{weight,bias}
    pspi_head.{0,2,5,8,...}.*                LayerNorm then Linear layers (sizes from weights)
    pspi_binary_heads.<T>.{0,2}.*            one head per PSPI threshold T
    au_queries                               (6, D)
    au_shared_features.{0,2}.*, au_head.{weight,bias}

Sizes (width, depth, MLP width, registers, LoRA rank, head widths, thresholds) are read from
the weights; attention heads are not recoverable from weights and come from the
hyper-parameters' timm model name (or D / 64, or ``num_heads=``). Not supported: SwiGLU
backbones (``vit_*plus*``/``huge``), absolute position embeddings.

Mapping: the fused ``qkv`` weight is split into q/k/v; its LoRA update ``B @ A`` is split
exactly into three adapters sharing ``A`` (rows of ``B``); ``attn.proj`` LoRA becomes the
``o_proj`` adapter; LoRA on ``patch_embed.proj`` (peft's suffix match caught it in the
published code) is merged into the patch-embedding weights. The published model normalised
inputs with ImageNet statistics, so the imported model keeps them.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pain3d.model.backbone import IMAGENET_MEAN, IMAGENET_STD
from pain3d.model.config import LoraAdapterConfig, ViTPainConfig
from pain3d.model.vitpain import ViTPain

log = logging.getLogger(__name__)

ENCODERS = {"vit_model": "encoder", "neutral_encoder": "reference_encoder"}
HEAD_PREFIXES = ("neutral_cross_attn.", "neutral_norm.", "pspi_head.", "pspi_binary_heads.",
                 "au_queries", "au_shared_features.", "au_head.")
_IGNORED = re.compile(r"^(rope\.|mask_token$|head\.|fc_norm\.|pos_drop|norm_pre\.)")
_LORA = re.compile(r"^(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$")
_TIMM_HEADS = {"small": 6, "base": 12, "large": 16, "huge": 20, "giant": 24, "7b": 32}
_PRESET_BY_WIDTH = {384: "small", 768: "base", 1024: "large"}


def load_lightning_checkpoint(
    path: str | Path, *, trust_pickle: bool = False
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and hyper-parameters of a Lightning checkpoint (or a bare state dict).

    Args:
        path: ``.ckpt`` / ``.pt`` file.
        trust_pickle: allow full unpickling when the safe (weights-only) load fails. Only for
            files from a source you trust: unpickling can run code.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the unpickler raises many types
        if not trust_pickle:
            raise ValueError(
                f"{p} holds Python objects beyond tensors (safe loading failed: {exc}); if you "
                "trust its source, pass --trust-pickle (trust_pickle=True)"
            ) from exc
        obj = torch.load(p, map_location="cpu", weights_only=False)
    if not isinstance(obj, dict):
        raise ValueError(f"{p}: expected a dict, got {type(obj).__name__}")
    state = obj.get("state_dict", obj)
    hparams = dict(obj.get("hyper_parameters") or {})
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{p}: no tensors found (keys: {sorted(obj)[:10]})")
    return tensors, hparams


def _split_encoder(state: dict[str, torch.Tensor], prefix: str):
    """Base weights and LoRA pairs of one encoder, keyed by timm names."""
    base: dict[str, torch.Tensor] = {}
    lora: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    adapters: set[str] = set()
    for key, value in state.items():
        if not key.startswith(prefix + "."):
            continue
        name = key[len(prefix) + 1:]
        name = name.removeprefix("base_model.model.")
        m = _LORA.match(name)
        if m:
            lora[m["module"]][m["ab"]] = value
            adapters.add(m["adapter"] or "")
            continue
        if ".lora_" in name:
            continue  # lora_embedding_*, lora_magnitude_*: not produced by the published code
        base[name.replace(".base_layer.", ".")] = value
    if len(adapters) > 1:
        raise ValueError(f"{prefix}: several LoRA adapters {sorted(adapters)}; expected one")
    return base, dict(lora)


def _heads_from_hparams(hparams: dict[str, Any], width: int) -> int:
    name = str(hparams.get("model_name", ""))
    m = re.search(r"vit_(small|base|large|huge|giant|7b)", name)
    if m:
        return _TIMM_HEADS[m.group(1)]
    return max(1, width // 64)


def _backbone_sizes(base: dict[str, torch.Tensor], heads: int) -> dict[str, Any]:
    if any("fc1_g" in k or "fc1_x" in k for k in base) or "pos_embed" in base:
        raise ValueError("SwiGLU or absolute-position backbones are not supported for import")
    width = int(base["cls_token"].shape[-1])
    layers = 1 + max(int(k.split(".")[1]) for k in base if k.startswith("blocks."))
    fc1 = base["blocks.0.mlp.fc1.weight"]
    if fc1.shape[0] != 4 * width and fc1.shape[0] == 8 * width:
        raise ValueError("packed GLU MLP (fc1 = 8 D) is not supported for import")
    qkv_bias = "blocks.0.attn.qkv.bias" in base
    qv_bias = "blocks.0.attn.q_bias" in base
    return dict(
        hidden_size=width,
        intermediate_size=int(fc1.shape[0]),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_register_tokens=int(base["reg_token"].shape[1]) if "reg_token" in base else 0,
        patch_size=int(base["patch_embed.proj.weight"].shape[-1]),
        query_bias=qkv_bias or qv_bias,
        key_bias=qkv_bias,
        value_bias=qkv_bias or qv_bias,
        proj_bias="blocks.0.attn.proj.bias" in base,
        mlp_bias="blocks.0.mlp.fc1.bias" in base,
        layer_norm_eps=1e-5,
        image_size=224,
    )


def published_config(
    state: dict[str, torch.Tensor],
    hparams: dict[str, Any] | None = None,
    *,
    published_forward: bool = True,
    num_heads: int | None = None,
    cross_attn_heads: int = 8,
) -> ViTPainConfig:
    """The :class:`ViTPainConfig` that fits a published state dict (sizes from weights)."""
    hp = hparams or {}
    if not any(k.startswith("vit_model.") for k in state):
        raise ValueError("no 'vit_model.*' keys: this is not a published ViTPain state dict")
    base, lora = _split_encoder(state, "vit_model")
    width = int(base["cls_token"].shape[-1])
    sizes = _backbone_sizes(base, num_heads or _heads_from_hparams(hp, width))
    ranks = {int(ab["A"].shape[0]) for ab in lora.values() if "A" in ab}
    if len(ranks) > 1:
        raise ValueError(f"LoRA ranks differ across modules: {sorted(ranks)}")
    rank = ranks.pop() if ranks else 0
    alpha = float(hp.get("lora_alpha", 2 * rank if rank else 16))
    has_ref = "neutral_cross_attn.in_proj_weight" in state
    if has_ref != any(k.startswith("neutral_encoder.") for k in state):
        raise ValueError("neutral_encoder and neutral_cross_attn must both be present or absent")
    n_linear = sorted({int(k.split(".")[1]) for k in state
                       if k.startswith("pspi_head.") and k.endswith(".weight")
                       and state[k].ndim == 2})
    pspi_hidden = tuple(int(state[f"pspi_head.{i}.weight"].shape[0]) for i in n_linear[:-1])
    thresholds = sorted({float(k.split(".")[1].replace("_", "."))
                         for k in state if k.startswith("pspi_binary_heads.")})
    return ViTPainConfig(
        preset=_PRESET_BY_WIDTH.get(width, "small"),  # type: ignore[arg-type]
        backbone_overrides=sizes,
        image_size=int(hp.get("image_size", 224)),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        lora=LoraAdapterConfig(rank=rank, alpha=alpha, dropout=0.1),
        encoder_mode="separate",
        reference="cross_attention" if has_ref else "none",
        cross_attn_layers=1,
        cross_attn_heads=cross_attn_heads,
        head_dropout=float(hp.get("dropout_rate", 0.5)),
        pspi_hidden=pspi_hidden,
        au_hidden=int(state["au_shared_features.2.weight"].shape[0]),
        binary_thresholds=tuple(thresholds),
        published_forward=published_forward,
    )


def _encoder_state(base, lora, scaling: float, prefix: str, layers: int) -> dict[str, Any]:
    """timm names -> pain3d names (``<prefix>model.…`` of DINOv3Backbone, plain .weight)."""
    out: dict[str, torch.Tensor] = {}
    lora_out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    hf = prefix + "model."
    patch_w = base["patch_embed.proj.weight"].clone()
    if "patch_embed.proj" in lora:
        a, b = lora["patch_embed.proj"]["A"], lora["patch_embed.proj"]["B"]
        patch_w += scaling * torch.einsum("or,rckl->ockl", b[:, :, 0, 0], a)
    out[hf + "embeddings.patch_embeddings.weight"] = patch_w
    if "patch_embed.proj.bias" in base:
        out[hf + "embeddings.patch_embeddings.bias"] = base["patch_embed.proj.bias"]
    out[hf + "embeddings.cls_token"] = base["cls_token"]
    if "reg_token" in base:
        out[hf + "embeddings.register_tokens"] = base["reg_token"]
    out[hf + "norm.weight"], out[hf + "norm.bias"] = base["norm.weight"], base["norm.bias"]
    used = {"patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "reg_token",
            "norm.weight", "norm.bias"}
    for i in range(layers):
        t, h = f"blocks.{i}.", f"{hf}model.layer.{i}."
        simple = {"norm1": "norm1", "norm2": "norm2", "attn.proj": "attention.o_proj",
                  "mlp.fc1": "mlp.up_proj", "mlp.fc2": "mlp.down_proj"}
        for src, dst in simple.items():
            for kind in ("weight", "bias"):
                if t + f"{src}.{kind}" in base:
                    out[h + f"{dst}.{kind}"] = base[t + f"{src}.{kind}"]
                    used.add(t + f"{src}.{kind}")
        for g, dst in (("gamma_1", "layer_scale1.lambda1"), ("gamma_2", "layer_scale2.lambda1")):
            if t + g in base:
                out[h + dst] = base[t + g]
                used.add(t + g)
        q, k, v = base[t + "attn.qkv.weight"].chunk(3, dim=0)
        used.add(t + "attn.qkv.weight")
        for name, w in zip("qkv", (q, k, v), strict=True):
            out[h + f"attention.{name}_proj.weight"] = w
        if t + "attn.qkv.bias" in base:
            for name, b in zip("qkv", base[t + "attn.qkv.bias"].chunk(3), strict=True):
                out[h + f"attention.{name}_proj.bias"] = b
            used.add(t + "attn.qkv.bias")
        for name in "qv":
            if t + f"attn.{name}_bias" in base:
                out[h + f"attention.{name}_proj.bias"] = base[t + f"attn.{name}_bias"]
                used.add(t + f"attn.{name}_bias")
        if t + "attn.qkv" in lora:
            a, b = lora[t + "attn.qkv"]["A"], lora[t + "attn.qkv"]["B"]
            for name, bb in zip("qkv", b.chunk(3, dim=0), strict=True):
                lora_out[h + f"attention.{name}_proj"] = (a, bb)
        if t + "attn.proj" in lora:
            ab = lora[t + "attn.proj"]
            lora_out[h + "attention.o_proj"] = (ab["A"], ab["B"])
    unknown = sorted(k for k in set(base) - used if not _IGNORED.match(k))
    if unknown:
        raise ValueError(f"unsupported backbone keys, e.g. {unknown[:5]}")
    odd = sorted(set(lora) - {"patch_embed.proj"} - {f"blocks.{i}.attn.{m}" for i in range(layers)
                                                     for m in ("qkv", "proj")})
    if odd:
        raise ValueError(f"LoRA on modules pain3d cannot map: {odd[:5]}")
    return {"base": out, "lora": lora_out}


def _head_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("neutral_cross_attn."):
            out["cross_attention.layers.0.attn." + key[len("neutral_cross_attn."):]] = value
        elif key.startswith("neutral_norm."):
            out["cross_attention.layers.0.norm." + key[len("neutral_norm."):]] = value
        elif key.startswith("pspi_head."):
            out["pspi_head.mlp." + key[len("pspi_head."):]] = value
        elif key.startswith("pspi_binary_heads."):
            out["binary_heads.heads." + key[len("pspi_binary_heads."):]] = value
        elif key == "au_queries":
            out["au_head.queries"] = value
        elif key.startswith("au_shared_features."):
            out["au_head.shared." + key[len("au_shared_features."):]] = value
        elif key.startswith("au_head."):
            out["au_head.out." + key[len("au_head."):]] = value
    return out


def import_published(
    state: dict[str, torch.Tensor],
    hparams: dict[str, Any] | None = None,
    *,
    published_forward: bool = True,
    num_heads: int | None = None,
    cross_attn_heads: int = 8,
) -> ViTPain:
    """A pain3d model carrying the weights of a published ViTPain state dict (eval mode).

    Args:
        state: the Lightning ``state_dict`` (see the module docstring for the key patterns).
        hparams: the Lightning ``hyper_parameters`` (model_name, lora_alpha, dropout_rate).
        published_forward: reproduce the published token extraction (no RoPE, no registers),
            which is what the weights were trained with.
        num_heads: backbone attention heads, when the hyper-parameters do not name the model.
        cross_attn_heads: heads of the published cross-attention (8 in the released code).
    """
    cfg = published_config(state, hparams, published_forward=published_forward,
                           num_heads=num_heads, cross_attn_heads=cross_attn_heads)
    model = ViTPain(cfg)
    target = model.state_dict()
    scaling = cfg.lora.alpha / cfg.lora.rank if cfg.lora.rank else 0.0
    layers = cfg.backbone_overrides["num_hidden_layers"]
    mapped = _head_state(state)
    lora_pairs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for src, dst in ENCODERS.items():
        if not any(k.startswith(src + ".") for k in state):
            continue
        base, lora = _split_encoder(state, src)
        enc = _encoder_state(base, lora, scaling, dst + ".", layers)
        for k, v in enc["base"].items():
            mapped[k if k in target else k.replace(".weight", ".base_layer.weight")
                   .replace(".bias", ".base_layer.bias")] = v
        lora_pairs.update(enc["lora"])
    if cfg.lora.rank:
        # Adapted modules without a published adapter get B = 0: an exact no-op.
        for key in target:
            m = re.match(r"(.+)\.lora_A\.default\.weight$", key)
            if m:
                a, b = lora_pairs.get(m[1], (target[key], torch.zeros_like(
                    target[f"{m[1]}.lora_B.default.weight"])))
                mapped[key], mapped[f"{m[1]}.lora_B.default.weight"] = a, b
    unexpected = sorted(set(mapped) - set(target))
    if unexpected:
        raise ValueError(f"published weights do not fit the rebuilt model, e.g. {unexpected[:5]}")
    for k, v in mapped.items():
        if v.shape != target[k].shape:
            raise ValueError(f"{k}: published shape {tuple(v.shape)} != {tuple(target[k].shape)}")
    left = sorted(k for k in set(target) - set(mapped)
                  if not k.endswith("mask_token") and target[k].numel())  # 0 registers
    if left:
        raise ValueError(f"published state dict lacks weights for {left[:5]} ({len(left)} in all)")
    model.load_state_dict(mapped, strict=False)
    ignored = sorted({k.split(".")[0] for k in state
                      if not k.startswith((*ENCODERS, *HEAD_PREFIXES))})
    if ignored:
        log.info("ignored non-model entries of the published state dict: %s", ignored)
    return model.eval()


@dataclass
class ConvertConfig:
    """``pain3d convert-checkpoint`` settings.

    Attributes:
        checkpoint: the published Lightning ``.ckpt`` file.
        out: the pain3d checkpoint folder to write.
        published_forward: run the backbone as the published code did (no RoPE, no
            registers): reproduces the published predictions.
        trust_pickle: allow full unpickling if safe loading fails (trusted files only).
        num_heads: backbone attention heads (default: from the model name, else D / 64).
        cross_attn_heads: heads of the published cross-attention.
    """

    checkpoint: str = ""
    out: str = ""
    published_forward: bool = False
    trust_pickle: bool = False
    num_heads: int | None = None
    cross_attn_heads: int = 8

    def __post_init__(self) -> None:
        if self.num_heads is not None and self.num_heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {self.num_heads}")
        if self.cross_attn_heads < 1:
            raise ValueError(f"cross_attn_heads must be >= 1, got {self.cross_attn_heads}")


def convert_checkpoint(cfg: ConvertConfig) -> Path:
    """Convert a published ViTPain ``.ckpt`` into a self-contained pain3d checkpoint folder
    (backbone included, since the published file carries its own backbone weights)."""
    from pain3d.model.checkpoint import save_checkpoint

    if not cfg.checkpoint or not cfg.out:
        raise ValueError("convert_checkpoint needs both checkpoint and out")
    state, hparams = load_lightning_checkpoint(cfg.checkpoint, trust_pickle=cfg.trust_pickle)
    model = import_published(state, hparams, published_forward=cfg.published_forward,
                             num_heads=cfg.num_heads, cross_attn_heads=cfg.cross_attn_heads)
    if not cfg.published_forward:
        log.warning("converted without --published-forward: the imported weights were trained "
                    "without RoPE and register tokens, so predictions differ until fine-tuned")
    plain = {k: v for k, v in hparams.items() if isinstance(v, (str, int, float, bool))}
    extra = {"converted_from": str(cfg.checkpoint), "published_hparams": plain}
    return save_checkpoint(model, cfg.out, include_backbone=True, extra=extra)
