"""ViTPain: a pain image and a neutral reference of the same person in, PSPI and AUs out.

``image -> encoder -> tokens -> cross-attention to reference tokens -> heads``. The reference
tokens come from the neutral image through the reference encoder (``separate`` mode) or the
same encoder (``shared``), or from a cache made once with :meth:`ViTPain.encode_reference`.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from pain3d.facs import PSPI_MAX
from pain3d.model.attention import ReferenceCrossAttention
from pain3d.model.backbone import build_backbone
from pain3d.model.config import ViTPainConfig
from pain3d.model.heads import AUHead, BinaryHeads, PSPIHead, pspi_from_aus
from pain3d.model.lora import apply_lora, is_lora_parameter

log = logging.getLogger(__name__)


@dataclass
class ViTPainOutput:
    """Predictions for a batch of ``B`` pain images (averaged over references when N > 1).

    Attributes:
        pspi: ``(B,)`` PSPI on 0..16 (``16 * pspi_unit``).
        pspi_unit: ``(B,)`` sigmoid output of the PSPI head, 0..1.
        au: ``(B, 6)`` AU intensities in AU_NAMES order, FACS 0..5 scale.
        binary_logits: ``(B, K)`` logits of PSPI >= threshold_k (default 1, 2, 3).
        au_pspi: ``(B,)`` PSPI computed from ``au`` (per reference, then averaged).
        cls: ``(B, D)`` CLS token after the cross-attention (features for distillation).
    """

    pspi: torch.Tensor
    pspi_unit: torch.Tensor
    au: torch.Tensor
    binary_logits: torch.Tensor
    au_pspi: torch.Tensor
    cls: torch.Tensor

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def detach(self) -> ViTPainOutput:
        return ViTPainOutput(**{k: v.detach() for k, v in self.to_dict().items()})


class ViTPain(nn.Module):
    """The reference-based pain model. Build it with :func:`build_model`.

    Inputs are normalised with ``model.preprocessing`` (see :meth:`normalize`).
    """

    def __init__(self, cfg: ViTPainConfig) -> None:
        super().__init__()
        encoder, prep = build_backbone(cfg)
        self.preprocessing: dict[str, Any] = {
            "size": int(prep["size"]),
            "mean": [float(v) for v in prep["mean"]],
            "std": [float(v) for v in prep["std"]],
        }
        # The config carries the resolved preprocessing, so it alone rebuilds this model.
        self.config = dataclasses.replace(
            cfg, image_size=self.preprocessing["size"], mean=tuple(self.preprocessing["mean"]),
            std=tuple(self.preprocessing["std"]))
        timm = cfg.backbone_impl == "timm"
        reference_encoder = None
        if cfg.uses_reference and cfg.encoder_mode == "separate":
            reference_encoder = copy.deepcopy(encoder)  # same initial weights, own LoRA
        self.encoder = apply_lora(encoder, cfg.lora, timm=timm)
        self.reference_encoder = (
            apply_lora(reference_encoder, cfg.lora, timm=timm) if reference_encoder else None
        )
        if cfg.train_backbone:
            for enc in (self.encoder, self.reference_encoder):
                if enc is None:
                    continue
                enc.requires_grad_(True)
                # Parameters no forward pass uses (DINOv3's mask_token serves masked-image
                # pretraining) stay frozen: they get no gradient, which DDP would refuse.
                for name, p in enc.named_parameters():
                    if name.endswith("mask_token"):
                        p.requires_grad_(False)
        dim = self.encoder.hidden_size
        self.cross_attention = (
            ReferenceCrossAttention(dim, cfg.cross_attn_heads, cfg.cross_attn_layers,
                                    cfg.cross_attn_ffn)
            if cfg.uses_reference else None
        )
        self.pspi_head = PSPIHead(dim, cfg.pspi_hidden, cfg.head_dropout)
        self.binary_heads = BinaryHeads(dim, cfg.binary_thresholds, cfg.head_dropout)
        self.au_head = AUHead(dim, cfg.au_hidden, cfg.head_dropout)
        mean = torch.tensor(self.preprocessing["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(self.preprocessing["std"]).view(1, 3, 1, 1)
        self.register_buffer("_mean", mean, persistent=False)
        self.register_buffer("_std", std, persistent=False)

    # ------------------------------------------------------------------ inputs

    @property
    def hidden_size(self) -> int:
        return self.encoder.hidden_size

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """``(..., 3, H, W)`` RGB in [0, 1] (or uint8 0..255, as training batches arrive) ->
        normalised with the model's mean and std."""
        if images.dtype == torch.uint8:  # as pain3d.data.augment.to_unit
            images = images.float().div_(255.0)
        mean, std = self._mean.to(images.dtype), self._std.to(images.dtype)
        shape = (1,) * (images.ndim - 3) + (3, 1, 1)
        return (images - mean.view(shape)) / std.view(shape)

    # ------------------------------------------------------------------ encoding

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """Pain-image tokens: ``(B, 3, H, W)`` normalised -> ``(B, 1 + P, D)``."""
        return self.encoder(image)

    def encode_reference(self, neutral: torch.Tensor) -> torch.Tensor:
        """Reference tokens to pass as ``reference=`` (a cache: encode once, reuse).

        Args:
            neutral: normalised neutral images ``(B, 3, H, W)`` or ``(B, N, 3, H, W)``.

        Returns:
            ``(B, S, D)`` or ``(B, N, S, D)`` tokens. A batch of 1 is broadcast over any
            number of pain images when passed back to :meth:`forward`.
        """
        if not self.config.uses_reference:
            raise ValueError("this model was built with reference='none'; it takes no reference")
        enc = self.reference_encoder if self.reference_encoder is not None else self.encoder
        if neutral.ndim == 5:
            b, n = neutral.shape[:2]
            tokens = enc(neutral.flatten(0, 1))
            return tokens.view(b, n, *tokens.shape[1:])
        if neutral.ndim != 4:
            raise ValueError(
                f"neutral must be (B, 3, H, W) or (B, N, 3, H, W), got {tuple(neutral.shape)}"
            )
        return enc(neutral)

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        image: torch.Tensor,
        neutral: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
    ) -> ViTPainOutput:
        """Predict pain from normalised images.

        Args:
            image: ``(B, 3, H, W)`` pain images, normalised (``model.normalize``).
            neutral: ``(B, 3, H, W)`` or ``(B, N, 3, H, W)`` neutral references of the same
                people, normalised. With N > 1 the predictions are averaged over the N
                references (multi-shot).
            reference: tokens from :meth:`encode_reference` instead of ``neutral``:
                ``(B or 1, S, D)`` or ``(B or 1, N, S, D)``.

        Returns:
            :class:`ViTPainOutput`; with ``reference='none'`` models, both are ignored.
        """
        if image.ndim != 4:
            raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
        tokens = self.encode(image)
        if self.cross_attention is None:
            if neutral is not None or reference is not None:
                log.debug("reference='none' model: neutral/reference ignored")
            return self._heads(tokens, batch=tokens.shape[0], shots=1)
        if reference is None:
            if neutral is None:
                raise ValueError(
                    "this model compares with a neutral reference: pass neutral= (images) or "
                    "reference= (from encode_reference); build with reference='none' for a "
                    "single-image model"
                )
            reference = self.encode_reference(neutral)
        b = tokens.shape[0]
        ref = reference if reference.ndim == 4 else reference.unsqueeze(1)
        if ref.ndim != 4 or ref.shape[-1] != tokens.shape[-1]:
            raise ValueError(
                f"reference tokens must be (B, S, {tokens.shape[-1]}) or (B, N, S, "
                f"{tokens.shape[-1]}), got {tuple(reference.shape)}"
            )
        if ref.shape[0] not in (1, b):
            raise ValueError(f"reference batch {ref.shape[0]} is neither 1 nor the image batch {b}")
        n = ref.shape[1]
        ref = ref.expand(b, *ref.shape[1:]).to(tokens.dtype)
        if n > 1:
            tokens = tokens.unsqueeze(1).expand(b, n, *tokens.shape[1:]).flatten(0, 1)
        fused = self.cross_attention(tokens, ref.flatten(0, 1))
        return self._heads(fused, batch=b, shots=n)

    def _heads(self, tokens: torch.Tensor, batch: int, shots: int) -> ViTPainOutput:
        # Heads kept in fp32 under a bf16 backbone (inference.prepare_for_inference) read
        # fp32 tokens; a no-op when both share a dtype.
        tokens = tokens.to(self.pspi_head.mlp[-1].weight.dtype)
        cls, patches = tokens[:, 0], tokens[:, 1:]
        unit = self.pspi_head(cls)
        au = self.au_head(patches)
        out = {
            "pspi_unit": unit,
            "au": au,
            "binary_logits": self.binary_heads(cls),
            "au_pspi": pspi_from_aus(au),
            "cls": cls,
        }
        if shots > 1:
            out = {k: v.view(batch, shots, *v.shape[1:]).mean(dim=1) for k, v in out.items()}
        return ViTPainOutput(pspi=out["pspi_unit"] * PSPI_MAX, **out)

    # ------------------------------------------------------------------ training helpers

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Every trainable parameter, split into ``lora`` (adapters, and the backbone weights
        when ``config.train_backbone``) and ``heads`` (cross-attention, heads, AU queries),
        for per-group learning rates.

        Every parameter with ``requires_grad`` lands in exactly one group, so nothing that is
        meant to train is left out of the optimiser (the published AU queries were).
        """
        groups: dict[str, list[nn.Parameter]] = {"lora": [], "heads": []}
        for name, p in self.named_parameters():
            if p.requires_grad:
                backbone = is_lora_parameter(name) or name.startswith(
                    ("encoder.", "reference_encoder."))
                groups["lora" if backbone else "heads"].append(p)
        return groups

    def _lora_layers(self) -> list[nn.Module]:
        return [m for m in self.modules() if hasattr(m, "lora_A") and hasattr(m, "merge")]

    def merge_lora(self) -> ViTPain:
        """Fold the adapters into the frozen weights for faster inference (same outputs up to
        rounding). Undo with :meth:`unmerge_lora` before training or saving."""
        for m in self._lora_layers():
            if not m.merged:
                m.merge()
        return self

    def unmerge_lora(self) -> ViTPain:
        """Undo :meth:`merge_lora`."""
        for m in self._lora_layers():
            if m.merged:
                m.unmerge()
        return self

    @property
    def lora_merged(self) -> bool:
        """Whether the adapters are currently folded into the backbone weights."""
        return any(m.merged for m in self._lora_layers())

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Everything but the frozen backbone weights: adapters, cross-attention, heads, AU
        queries (what a checkpoint must store). Decided by structure, not by the current
        ``requires_grad`` flags, so temporarily frozen parts are still saved. With
        ``config.train_backbone`` the backbone is trained too, so this is everything."""
        if self.config.train_backbone:
            return dict(self.state_dict())
        return {k: v for k, v in self.state_dict().items() if not is_frozen_backbone_key(k)}



def is_frozen_backbone_key(key: str) -> bool:
    """Whether a state-dict key is a frozen backbone weight (not an adapter)."""
    return key.startswith(("encoder.", "reference_encoder.")) and not is_lora_parameter(key)


def build_model(cfg: ViTPainConfig | None = None, **overrides: Any) -> ViTPain:
    """Build a ViTPain model (backbone weights from ``cfg.backbone_weights``, else random).

    Args:
        cfg: the architecture; default ``ViTPainConfig()`` (small preset, random backbone).
        **overrides: fields replacing those of ``cfg`` (e.g. ``preset="tiny"``).
    """
    if cfg is None:
        cfg = ViTPainConfig(**overrides)
    elif overrides:
        from dataclasses import replace

        cfg = replace(cfg, **overrides)
    return ViTPain(cfg)
