"""LoRA adapters (peft) on a frozen backbone.

peft injects ``lora_A`` / ``lora_B`` into the named linear layers in place; ``lora_B`` starts at
zero, so a fresh adapter leaves the backbone's outputs unchanged. Everything that is not an
adapter is frozen.
"""

from __future__ import annotations

import logging

from torch import nn

from pain3d.model.config import DEFAULT_LORA_TARGETS, LoraAdapterConfig

log = logging.getLogger(__name__)

TIMM_LORA_TARGETS = r".*\.attn\.(qkv|proj)$"
"""timm DINOv3 fuses q/k/v into ``attn.qkv``; its output projection is ``attn.proj``.
Anchored so that ``patch_embed.proj`` is not adapted (the published code adapted it by
accident of peft's suffix matching)."""


def is_lora_parameter(name: str) -> bool:
    """Whether a parameter name belongs to a LoRA adapter."""
    return "lora_" in name


def apply_lora(backbone: nn.Module, settings: LoraAdapterConfig, *,
               timm: bool = False) -> nn.Module:
    """Freeze ``backbone`` and add LoRA adapters to its attention projections, in place.

    Args:
        backbone: a module whose submodules end with the names in ``settings.targets``.
        settings: rank, alpha, dropout, targets; rank 0 only freezes.
        timm: the backbone is timm's (fused ``qkv``); default targets map to qkv and proj.

    Returns:
        ``backbone`` itself (adapters injected, base weights frozen).
    """
    backbone.requires_grad_(False)
    if settings.rank == 0:
        return backbone
    from peft import LoraConfig, inject_adapter_in_model

    targets: str | list[str] = list(settings.targets)
    if timm and tuple(settings.targets) == DEFAULT_LORA_TARGETS:
        targets = TIMM_LORA_TARGETS
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        bias="none",
    )
    try:
        inject_adapter_in_model(config, backbone)
    except ValueError as exc:
        raise ValueError(
            f"LoRA targets {settings.targets} match no module of the backbone: {exc}"
        ) from exc
    for name, p in backbone.named_parameters():
        p.requires_grad_(is_lora_parameter(name))
    n = sum(p.numel() for n_, p in backbone.named_parameters() if is_lora_parameter(n_))
    log.debug("LoRA r=%d on %s: %d adapter parameters", settings.rank, targets, n)
    return backbone
