"""DINOv3 backbones: pixels in, tokens out, with RoPE and register tokens in effect.

The transformers implementation (``DINOv3ViTModel``) is the default; a timm implementation is
optional (timm needs torchvision, which is not installed on CPU machines). Both return the
same token layout: ``(B, 1 + P, D)``, the CLS token followed by the ``P`` patch tokens in
row-major order, after the backbone's final LayerNorm. Register tokens take part in every
backbone layer and are dropped afterwards (they carry no image-location meaning).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pain3d.model.config import ViTPainConfig

log = logging.getLogger(__name__)

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

PATCH_SIZE = 16

PRESETS: dict[str, dict[str, Any]] = {
    # For tests and CPU demos only: random weights, a few seconds to build.
    "tiny": dict(hidden_size=96, intermediate_size=384, num_hidden_layers=2,
                 num_attention_heads=4, num_register_tokens=4, image_size=112),
    "small": dict(hidden_size=384, intermediate_size=1536, num_hidden_layers=12,
                  num_attention_heads=6, num_register_tokens=4, image_size=224),
    "base": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, num_register_tokens=4, image_size=224),
    "large": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                  num_attention_heads=16, num_register_tokens=4, image_size=224),
}
"""DINOv3 ViT sizes (patch 16, 4 registers) as in Meta's released LVD-1689M models."""

HUB_IDS: dict[str, str] = {
    "small": "facebook/dinov3-vits16-pretrain-lvd1689m",
    "base": "facebook/dinov3-vitb16-pretrain-lvd1689m",
    "large": "facebook/dinov3-vitl16-pretrain-lvd1689m",
}
"""Hub ids of the real weights for ``backbone_weights`` (gated on the hub: needs access)."""

SAT493M_MEAN: tuple[float, float, float] = (0.430, 0.411, 0.296)
SAT493M_STD: tuple[float, float, float] = (0.213, 0.156, 0.143)

# Meta's published normalisation of every released DINOv3 ViT, by hub id. Source: the "Image
# transforms" section of https://github.com/facebookresearch/dinov3/blob/main/README.md (web
# LVD-1689M weights: the ImageNet mean/std; satellite SAT-493M weights: mean (0.430, 0.411,
# 0.296), std (0.213, 0.156, 0.143)); the ids are those that README lists for transformers.
# The hub's preprocessor_config.json of the SAT-493M models is not trusted to say so
# (facebookresearch/dinov3#9 notes that AutoImageProcessor gives them ImageNet statistics).
# The ConvNeXt variants are left out: this backbone loads ViTs only.
PUBLISHED_STATISTICS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    **{f"facebook/dinov3-{arch}-pretrain-lvd1689m": (IMAGENET_MEAN, IMAGENET_STD)
       for arch in ("vits16", "vits16plus", "vitb16", "vitl16", "vith16plus", "vit7b16")},
    **{f"facebook/dinov3-{arch}-pretrain-sat493m": (SAT493M_MEAN, SAT493M_STD)
       for arch in ("vitl16", "vit7b16")},
}
"""``hub id -> (mean, std)`` of [0, 1] RGB for the released DINOv3 ViTs."""

TIMM_NAMES: dict[str, str] = {
    "small": "vit_small_patch16_dinov3.lvd1689m",
    "base": "vit_base_patch16_dinov3.lvd1689m",
    "large": "vit_large_patch16_dinov3.lvd1689m",
}


def preset_hf_config(cfg: ViTPainConfig) -> Any:
    """The ``DINOv3ViTConfig`` for random initialisation from ``cfg.preset`` and overrides."""
    from transformers import DINOv3ViTConfig

    values = dict(PRESETS[cfg.preset])
    values.update(patch_size=PATCH_SIZE, layerscale_value=1.0, attn_implementation="sdpa")
    values.update(cfg.backbone_overrides)
    if cfg.image_size is not None:
        values["image_size"] = cfg.image_size
    if values["hidden_size"] % values["num_attention_heads"]:
        raise ValueError(
            f"backbone hidden_size {values['hidden_size']} is not divisible by "
            f"num_attention_heads {values['num_attention_heads']}"
        )
    if (values["hidden_size"] // values["num_attention_heads"]) % 4:
        raise ValueError("backbone head size must be a multiple of 4 for DINOv3's 2-D RoPE")
    try:
        return DINOv3ViTConfig(**values)
    except TypeError as exc:
        raise ValueError(f"backbone_overrides {cfg.backbone_overrides}: {exc}") from exc


def read_preprocessing(source: str | Path) -> dict[str, Any] | None:
    """Size, mean and std from a weights folder's ``preprocessor_config.json`` (or None)."""
    path = Path(source) / "preprocessor_config.json"
    if not path.is_file():
        try:  # a hub id whose files are already in the local cache: never downloads
            from transformers.utils import cached_file

            found = cached_file(str(source), "preprocessor_config.json",
                                local_files_only=True, _raise_exceptions_for_missing_entries=False)
        except Exception:  # noqa: BLE001 - any failure just means "unknown"
            found = None
        if not found:
            return None
        path = Path(found)
    data = json.loads(path.read_text())
    size = data.get("size") or {}
    side = size.get("height") or size.get("shortest_edge") if isinstance(size, dict) else size
    out: dict[str, Any] = {}
    if data.get("image_mean"):
        out["mean"] = tuple(float(v) for v in data["image_mean"])
    if data.get("image_std"):
        out["std"] = tuple(float(v) for v in data["image_std"])
    if side:
        out["size"] = int(side)
    return out


def published_statistics(source: str | Path) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Meta's published ``(mean, std)`` for a DINOv3 hub id, or a folder named after one.

    A folder matches when one of its path parts is the hub name (``dinov3-vitl16-pretrain-
    sat493m``) or the hub cache's ``models--facebook--<name>``; anything else gives None.
    """
    text = str(source)
    if text in PUBLISHED_STATISTICS:
        return PUBLISHED_STATISTICS[text]
    parts = set(Path(text).parts)
    for hub_id, stats in PUBLISHED_STATISTICS.items():
        name = hub_id.split("/", 1)[1]
        if name in parts or f"models--facebook--{name}" in parts:
            return stats
    return None


def resolve_statistics(
    source: str | Path | None,
    mean: tuple[float, ...] | None,
    std: tuple[float, ...] | None,
    found: dict[str, Any] | None,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalisation of a backbone: ``(mean, std)`` of [0, 1] RGB.

    Precedence: the model config's own ``mean``/``std``; Meta's published statistics for a
    known DINOv3 id (:data:`PUBLISHED_STATISTICS`); the weights' ``preprocessor_config.json``
    (``found``); ImageNet. Real weights that reach the ImageNet fallback are named in a
    warning, and so is a preprocessor config that contradicts the published statistics.

    Args:
        source: the weights (folder or hub id); None for a randomly initialised backbone,
            which takes ImageNet statistics without a warning.
        mean, std: the model config's values (None = not set).
        found: what :func:`read_preprocessing` read (None = no preprocessor config).
    """
    found = found or {}
    published = published_statistics(source) if source is not None else None
    out = []
    for name, given, default in (("mean", mean, IMAGENET_MEAN), ("std", std, IMAGENET_STD)):
        if given is not None:
            out.append(tuple(given))
            continue
        if published is not None:
            value = published[0 if name == "mean" else 1]
            if name in found and not _close(found[name], value):
                log.warning("backbone %s: its preprocessor_config.json gives %s %s but Meta "
                            "publishes %s for these weights; using the published values (set "
                            "the model's mean/std to override)", source, name, found[name], value)
            out.append(tuple(value))
        elif name in found:
            out.append(tuple(found[name]))
        else:
            if source is not None:
                log.warning("backbone %s: no preprocessor_config.json and not a known DINOv3 "
                            "id; normalising with the ImageNet %s %s (set the model's mean/std "
                            "if these weights were trained with other statistics)",
                            source, name, default)
            out.append(default)
    return out[0], out[1]


def _close(a: Any, b: tuple[float, ...]) -> bool:
    return len(a) == len(b) and all(abs(float(x) - y) < 1e-6 for x, y in zip(a, b, strict=True))


class DINOv3Backbone(nn.Module):
    """transformers' ``DINOv3ViTModel`` returning CLS + patch tokens.

    Args:
        model: the wrapped ``DINOv3ViTModel``.
        published_forward: skip RoPE and register tokens like the published ViTPain code did
            (only for imported published weights).
    """

    def __init__(self, model: nn.Module, published_forward: bool = False) -> None:
        super().__init__()
        self.model = model
        self.published_forward = published_forward
        c = model.config
        self.hidden_size: int = int(c.hidden_size)
        ps = c.patch_size
        self.patch_size: int = int(ps if isinstance(ps, int) else ps[0])
        self.num_register_tokens: int = int(c.num_register_tokens)
        self.head_dim: int = self.hidden_size // int(c.num_attention_heads)
        self.fused: Any = None  # a pain3d.model.fused.FusedDINOv3 snapshot (fuse_for_cpu)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Tokens of normalised images.

        Args:
            pixels: ``(B, 3, H, W)`` normalised images, H and W multiples of the patch size.

        Returns:
            ``(B, 1 + P, D)``: CLS, then ``P = (H/16) * (W/16)`` patch tokens, row-major.
        """
        if pixels.ndim != 4 or pixels.shape[1] != 3:
            raise ValueError(f"backbone input must be (B, 3, H, W), got {tuple(pixels.shape)}")
        if pixels.shape[-1] % self.patch_size or pixels.shape[-2] % self.patch_size:
            raise ValueError(
                f"image size {tuple(pixels.shape[-2:])} is not a multiple of the patch size "
                f"{self.patch_size}; resize to the model's preprocessing size"
            )
        # In the weights' dtype (a no-op in fp32): transformers derives the RoPE tables' dtype
        # from the input, and a bf16 backbone fed fp32 pixels would mix the two.
        pixels = pixels.to(self.model.embeddings.patch_embeddings.weight.dtype)
        if self.published_forward:
            return self._published_tokens(pixels)
        if self.fused is not None and self.fused.applies(pixels):
            return self.fused(pixels)
        hidden = self.model(pixel_values=pixels).last_hidden_state
        return torch.cat([hidden[:, :1], hidden[:, 1 + self.num_register_tokens:]], dim=1)

    def _published_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        emb = self.model.embeddings
        x = emb.patch_embeddings(pixels.to(emb.patch_embeddings.weight.dtype))
        x = x.flatten(2).transpose(1, 2)
        h = torch.cat([emb.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        # An identity rotation (cos 1, sin 0) is exactly "no RoPE" in transformers' layers.
        n = x.shape[1]
        cos = torch.ones(n, self.head_dim, dtype=x.dtype, device=x.device)
        sin = torch.zeros_like(cos)
        for layer in self.model.model.layer:
            h = layer(h, position_embeddings=(cos, sin))
        return self.model.norm(h)


class TimmBackbone(nn.Module):
    """timm's DINOv3 (``Eva``) returning CLS + patch tokens (optional; needs timm)."""

    def __init__(self, model: nn.Module, published_forward: bool = False) -> None:
        super().__init__()
        self.model = model
        self.published_forward = published_forward
        self.hidden_size = int(model.embed_dim)
        self.patch_size = int(model.patch_embed.patch_size[0])
        self.num_prefix = int(getattr(model, "num_prefix_tokens", 1))
        self.num_register_tokens = self.num_prefix - 1

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        m = self.model
        if self.published_forward:
            x = m.patch_embed(pixels)
            x = x.flatten(1, 2) if x.ndim == 4 else x
            x = torch.cat([m.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
            for blk in m.blocks:
                x = blk(x)
            return m.norm(x)
        x = m.forward_features(pixels)
        return torch.cat([x[:, :1], x[:, self.num_prefix:]], dim=1)


def build_backbone(cfg: ViTPainConfig) -> tuple[nn.Module, dict[str, Any]]:
    """The backbone named by ``cfg`` and its preprocessing ``{size, mean, std}``.

    Real weights load from ``cfg.backbone_weights`` (a folder, or a hub id for users with
    access); ``None`` initialises the preset randomly.
    """
    if cfg.backbone_impl == "timm":
        return _build_timm(cfg)
    from transformers import DINOv3ViTModel

    found: dict[str, Any] | None = None
    if cfg.backbone_weights is None:
        model = DINOv3ViTModel(preset_hf_config(cfg))
    else:
        src = str(cfg.backbone_weights)
        if not Path(src).exists() and ("/" not in src or src.startswith((".", "/"))):
            raise FileNotFoundError(
                f"backbone weights {src!r}: no such folder; give a folder written by "
                f"save_pretrained or a hub id such as {HUB_IDS['small']!r}"
            )
        model = DINOv3ViTModel.from_pretrained(src, attn_implementation="sdpa")
        found = read_preprocessing(src)
    if not cfg.rope_augment:
        # DINOv3 jitters RoPE coordinates in train mode; fine-tuning should not.
        model.config.pos_embed_shift = None
        model.config.pos_embed_jitter = None
        model.config.pos_embed_rescale = None
    if cfg.gradient_checkpointing:
        enable = getattr(model, "activation_checkpointing_enable", None)
        (enable or model.gradient_checkpointing_enable)()  # renamed in transformers 5
    c = model.config
    size = int(c.image_size if isinstance(c.image_size, int) else c.image_size[0])
    mean, std = resolve_statistics(cfg.backbone_weights, cfg.mean, cfg.std, found)
    prep = {"size": cfg.image_size or (found or {}).get("size") or size, "mean": mean, "std": std}
    return DINOv3Backbone(model, published_forward=cfg.published_forward), prep


def _build_timm(cfg: ViTPainConfig) -> tuple[nn.Module, dict[str, Any]]:
    try:
        import timm
    except ImportError as exc:
        raise ImportError(
            "backbone_impl='timm' needs timm (pip install 'pain3d[timm]'), which also needs "
            "a working torchvision; use backbone_impl='transformers' on CPU machines"
        ) from exc
    if cfg.preset == "tiny":
        raise ValueError("the tiny preset exists only for backbone_impl='transformers'")
    name = cfg.backbone_weights or TIMM_NAMES[cfg.preset]
    pretrained = cfg.backbone_weights is not None
    model = timm.create_model(name, pretrained=pretrained, num_classes=0, dynamic_img_size=True)
    if cfg.gradient_checkpointing:
        model.set_grad_checkpointing(True)
    dc = getattr(model, "pretrained_cfg", {}) or {}
    mean, std = resolve_statistics(cfg.backbone_weights, cfg.mean, cfg.std,
                                   {k: dc[k] for k in ("mean", "std") if dc.get(k)})
    prep = {"size": cfg.image_size or int(dc.get("input_size", (3, 224, 224))[-1]),
            "mean": mean, "std": std}
    return TimmBackbone(model, published_forward=cfg.published_forward), prep


def hf_config_dict(backbone: nn.Module) -> dict[str, Any] | None:
    """The backbone's transformers config as a JSON-able dict (None for timm)."""
    if isinstance(backbone, DINOv3Backbone):
        d = backbone.model.config.to_dict()
        return {k: v for k, v in d.items() if not k.startswith("_") and k != "transformers_version"}
    return None


def fingerprint(backbone: nn.Module) -> str:
    """A short hash of the frozen weights, to check a checkpoint meets the same backbone."""
    h = hashlib.sha256()
    for name, p in sorted(backbone.named_parameters()):
        if "lora_" in name or p.requires_grad:
            continue
        if name.endswith(("patch_embeddings.weight", "patch_embeddings.base_layer.weight",
                          "patch_embed.proj.weight", "patch_embed.proj.base_layer.weight",
                          "norm.weight", "cls_token")):
            h.update(name.encode())
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
