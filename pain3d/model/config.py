"""Configuration of the ViTPain model: backbone preset, LoRA, encoders, cross-attention, heads.

A :class:`ViTPainConfig` plus the backbone weights it names is everything needed to rebuild a
model; checkpoints store it (with the resolved preprocessing) as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Preset = Literal["tiny", "small", "base", "large"]
EncoderMode = Literal["separate", "shared"]
ReferenceMode = Literal["cross_attention", "none"]

DEFAULT_LORA_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
"""Attention projections of transformers' DINOv3 layers (``layer.N.attention.*``)."""


@dataclass
class LoraAdapterConfig:
    """LoRA adapters (peft) on the frozen backbone.

    Named apart from peft's ``LoraConfig``, which :func:`pain3d.model.lora.apply_lora` builds
    from it. Stored under the key ``lora`` in configs and checkpoints (its field names are the
    saved keys: keep them).

    Attributes:
        rank: adapter rank ``r``; 0 disables LoRA (frozen backbone, heads only).
        alpha: peft ``lora_alpha``; the update is scaled by ``alpha / rank``.
        dropout: dropout on the adapter input.
        targets: module-name suffixes that receive adapters (peft ``target_modules``).
    """

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.1
    targets: tuple[str, ...] = DEFAULT_LORA_TARGETS

    def __post_init__(self) -> None:
        if self.rank < 0:
            raise ValueError(f"lora.rank must be >= 0, got {self.rank}")
        if self.alpha <= 0:
            raise ValueError(f"lora.alpha must be > 0, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1), got {self.dropout}")
        if self.rank > 0 and not self.targets:
            raise ValueError("lora.targets is empty; name the modules to adapt, e.g. q_proj,v_proj")
        self.targets = tuple(self.targets)


@dataclass
class ViTPainConfig:
    """The ViTPain architecture.

    Attributes:
        preset: backbone size for random initialisation (``tiny`` is for tests and CPU demos).
            When ``backbone_weights`` is set, the architecture comes from those weights.
        backbone_weights: local folder (``save_pretrained`` layout) or hub id of DINOv3 weights;
            ``None`` initialises the backbone randomly (tests, benchmarks). Nothing is ever
            downloaded unless a hub id is given here.
        backbone_impl: ``transformers`` (default, CPU-safe) or ``timm`` (optional; needs timm and
            therefore torchvision, so GPU machines only).
        backbone_overrides: extra ``DINOv3ViTConfig`` fields for random initialisation
            (e.g. ``{"num_hidden_layers": 3}``); imported checkpoints use it to pin sizes.
        image_size: input side in pixels (square); ``None`` takes the preset's / weights' size.
        mean, std: per-channel normalisation of [0, 1] RGB; ``None`` takes the backbone's own
            statistics: Meta's published values for a known DINOv3 id (the SAT-493M satellite
            weights differ from ImageNet), else the weights' ``preprocessor_config.json``,
            else ImageNet (with a warning naming real weights that fall back to it; the
            random presets use ImageNet silently). See ``backbone.resolve_statistics``.
        lora: adapter settings.
        encoder_mode: ``separate`` (as published: two encoders, own LoRA each) or ``shared``
            (one encoder and one LoRA for the pain and the neutral image: half the memory).
        reference: ``cross_attention`` (pain tokens attend to neutral tokens) or ``none``
            (single-image baseline, "vanilla ViT").
        cross_attn_layers, cross_attn_heads: depth and width of the reference cross-attention
            (published: 1 layer, 8 heads).
        cross_attn_ffn: add a feed-forward sub-layer to each cross-attention layer (published:
            no).
        head_dropout: dropout of the heads (published 0.5; later layers use 0.6 x this).
        pspi_hidden: hidden sizes of the PSPI regression MLP.
        au_hidden: width of the AU head's shared MLP.
        binary_thresholds: PSPI thresholds of the pain/no-pain heads.
        published_forward: reproduce the published token extraction (no rotary position
            embedding, no register tokens) so imported published weights behave as trained.
            Leave False for new models.
        rope_augment: keep DINOv3's training-time RoPE coordinate jitter. Off by default so
            training and inference see the same positions.
        gradient_checkpointing: trade compute for activation memory in the backbone.
        train_backbone: train every backbone weight too (not only the adapters). For
            randomly initialised backbones (the tiny CPU demo), whose frozen random features
            carry little a low-rank adapter can use; checkpoints then store the backbone in
            ``model.safetensors``. Default False: frozen backbone + LoRA, as published.
    """

    preset: Preset = "small"
    backbone_weights: str | None = None
    backbone_impl: Literal["transformers", "timm"] = "transformers"
    backbone_overrides: dict[str, Any] = field(default_factory=dict)
    image_size: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    lora: LoraAdapterConfig = field(default_factory=LoraAdapterConfig)
    encoder_mode: EncoderMode = "separate"
    reference: ReferenceMode = "cross_attention"
    cross_attn_layers: int = 1
    cross_attn_heads: int = 8
    cross_attn_ffn: bool = False
    head_dropout: float = 0.5
    pspi_hidden: tuple[int, ...] = (512, 256, 128)
    au_hidden: int = 512
    binary_thresholds: tuple[float, ...] = (1.0, 2.0, 3.0)
    published_forward: bool = False
    rope_augment: bool = False
    gradient_checkpointing: bool = False
    train_backbone: bool = False

    def __post_init__(self) -> None:
        if self.preset not in ("tiny", "small", "base", "large"):
            raise ValueError(f"preset {self.preset!r} is not one of tiny, small, base, large")
        if self.backbone_impl not in ("transformers", "timm"):
            raise ValueError(f"backbone_impl {self.backbone_impl!r}: use transformers or timm")
        if self.encoder_mode not in ("separate", "shared"):
            raise ValueError(f"encoder_mode {self.encoder_mode!r}: use separate or shared")
        if self.reference not in ("cross_attention", "none"):
            raise ValueError(f"reference {self.reference!r}: use cross_attention or none")
        if self.image_size is not None and (self.image_size < 16 or self.image_size % 16):
            raise ValueError(f"image_size must be a positive multiple of 16, got {self.image_size}")
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is not None:
                v = tuple(float(x) for x in v)
                if len(v) != 3:
                    raise ValueError(f"{name} needs 3 values (R, G, B), got {v}")
                if name == "std" and min(v) <= 0:
                    raise ValueError(f"std values must be > 0, got {v}")
                setattr(self, name, v)
        if self.cross_attn_layers < 1:
            raise ValueError(
                f"cross_attn_layers must be >= 1, got {self.cross_attn_layers}; "
                "use reference='none' for a model without a reference"
            )
        if self.cross_attn_heads < 1:
            raise ValueError(f"cross_attn_heads must be >= 1, got {self.cross_attn_heads}")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"head_dropout must be in [0, 1), got {self.head_dropout}")
        self.pspi_hidden = tuple(int(h) for h in self.pspi_hidden)
        if any(h < 1 for h in self.pspi_hidden):
            raise ValueError(f"pspi_hidden sizes must be >= 1, got {self.pspi_hidden}")
        if self.au_hidden < 1:
            raise ValueError(f"au_hidden must be >= 1, got {self.au_hidden}")
        self.binary_thresholds = tuple(float(t) for t in self.binary_thresholds)
        if not self.binary_thresholds:
            raise ValueError("binary_thresholds is empty; the published heads use 1,2,3")
        if isinstance(self.lora, dict):
            self.lora = LoraAdapterConfig(**self.lora)
        self.backbone_overrides = dict(self.backbone_overrides or {})

    @property
    def uses_reference(self) -> bool:
        """Whether the model attends to a neutral reference."""
        return self.reference == "cross_attention"
