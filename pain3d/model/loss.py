"""The ViTPain training loss (published form, configurable weights).

``loss = w_pspi * MSE(pspi_unit, PSPI / 16) + w_au * MSE(AU) + w_binary * mean_k BCE_k`` where
``BCE_k`` is the binary cross-entropy of the PSPI >= threshold_k logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pain3d.facs import PSPI_MAX
from pain3d.model.vitpain import ViTPainOutput


@dataclass
class LossWeights:
    """Weights of the loss terms (published: au 1.0 on synthetic data, 0.1 on UNBC)."""

    pspi: float = 1.0
    au: float = 1.0
    binary: float = 1.0
    thresholds: tuple[float, ...] = (1.0, 2.0, 3.0)

    def __post_init__(self) -> None:
        for name in ("pspi", "au", "binary"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss weight {name} must be >= 0, got {getattr(self, name)}")
        self.thresholds = tuple(float(t) for t in self.thresholds)


def vitpain_loss(
    out: ViTPainOutput,
    au: torch.Tensor,
    pspi: torch.Tensor,
    weights: LossWeights | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss and its detached parts.

    Args:
        out: model output for ``B`` samples.
        au: ``(B, 6)`` target AUs, FACS 0..5; NaN where unknown (left out of the AU term).
        pspi: ``(B,)`` target PSPI, 0..16.
        weights: term weights; thresholds must match the model's binary heads.

    Returns:
        ``(loss, {"loss", "pspi", "au", "binary"})``; the dict values are detached scalars.
    """
    w = weights or LossWeights()
    pspi = pspi.to(out.pspi_unit.dtype).reshape(-1)
    au = au.to(out.au.dtype)
    if out.binary_logits.shape[-1] != len(w.thresholds):
        raise ValueError(
            f"the model has {out.binary_logits.shape[-1]} binary heads but the loss has "
            f"thresholds {w.thresholds}; make LossWeights.thresholds match the model config"
        )
    pspi_term = F.mse_loss(out.pspi_unit.float(), (pspi / PSPI_MAX).float())
    # Datasets labelled with PSPI only carry NaN AU targets: those entries add no AU loss.
    known = torch.isfinite(au)
    if known.all():
        au_term = F.mse_loss(out.au.float(), au.float())
    elif known.any():
        au_term = F.mse_loss(out.au.float()[known], au.float()[known])
    else:
        au_term = out.au.float().sum() * 0.0
    targets = torch.stack([(pspi >= t) for t in w.thresholds], dim=-1).float()
    binary_term = F.binary_cross_entropy_with_logits(out.binary_logits.float(), targets)
    # BCE over (B, K) averages over samples and thresholds: the mean of the K per-threshold
    # BCE terms, as published.
    total = w.pspi * pspi_term + w.au * au_term + w.binary * binary_term
    parts = {"loss": total, "pspi": pspi_term, "au": au_term, "binary": binary_term}
    return total, {k: v.detach() for k, v in parts.items()}
