"""Prediction heads on the fused tokens: PSPI regression, pain/no-pain, AU intensities.

Layer layouts follow the published model (so published weights map one to one), with two
fixes: the AU queries are ordinary registered parameters that every optimiser group built
from ``ViTPain.parameter_groups`` includes, and the thresholds are configurable.
"""

from __future__ import annotations

import torch
from torch import nn

from pain3d.facs import N_AUS, PSPI_MAX, pspi

LATE_DROPOUT_FACTOR = 0.6
"""Deeper head layers use 0.6 x the head dropout (published schedule)."""


def mlp_head(dim: int, hidden: tuple[int, ...], out: int, dropout: float) -> nn.Sequential:
    """``LayerNorm, Dropout, [Linear, GELU, Dropout] * len(hidden), Linear``.

    The first two dropouts use ``dropout``, later ones ``0.6 * dropout``; with hidden
    (512, 256, 128) this is the published PSPI head, index for index.
    """
    layers: list[nn.Module] = [nn.LayerNorm(dim), nn.Dropout(dropout)]
    width = dim
    for i, h in enumerate(hidden):
        p = dropout if i == 0 else dropout * LATE_DROPOUT_FACTOR
        layers += [nn.Linear(width, h), nn.GELU(), nn.Dropout(p)]
        width = h
    layers.append(nn.Linear(width, out))
    return nn.Sequential(*layers)


def threshold_key(threshold: float) -> str:
    """Module-dict key of a binary head: ``1.0 -> "1"``, ``1.5 -> "1_5"``."""
    return f"{threshold:g}".replace(".", "_")


class PSPIHead(nn.Module):
    """CLS ``(B, D)`` -> PSPI on the unit interval ``(B,)`` (sigmoid; x 16 gives PSPI)."""

    def __init__(self, dim: int, hidden: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        self.mlp = mlp_head(dim, hidden, 1, dropout)

    def forward(self, cls: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(cls).squeeze(-1))


class BinaryHeads(nn.Module):
    """CLS ``(B, D)`` -> logits ``(B, K)`` of PSPI >= threshold_k."""

    def __init__(self, dim: int, thresholds: tuple[float, ...], dropout: float) -> None:
        super().__init__()
        self.thresholds = tuple(float(t) for t in thresholds)
        self.heads = nn.ModuleDict({
            threshold_key(t): nn.Sequential(nn.LayerNorm(dim), nn.Dropout(dropout),
                                            nn.Linear(dim, 1))
            for t in self.thresholds
        })

    def forward(self, cls: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.heads[threshold_key(t)](cls) for t in self.thresholds], dim=-1)


class AUHead(nn.Module):
    """Patch tokens ``(B, P, D)`` -> AU intensities ``(B, 6)`` in AU_NAMES order, >= 0.

    Six learned queries attend over the patch tokens (scaled dot product, no projections),
    a shared MLP embeds each pooled vector, a shared linear layer reads one intensity each.
    """

    def __init__(self, dim: int, hidden: int, dropout: float, n_aus: int = N_AUS) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(n_aus, dim))
        p = dropout * LATE_DROPOUT_FACTOR
        self.shared = nn.Sequential(nn.LayerNorm(dim), nn.Dropout(p), nn.Linear(dim, hidden),
                                    nn.GELU(), nn.Dropout(p))
        self.out = nn.Linear(hidden, 1)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        d = patches.shape[-1]
        scores = torch.einsum("qd,bpd->bqp", self.queries.to(patches.dtype), patches) / d**0.5
        pooled = torch.einsum("bqp,bpd->bqd", scores.softmax(dim=-1), patches)
        return torch.relu(self.out(self.shared(pooled)).squeeze(-1))


def pspi_from_aus(au: torch.Tensor) -> torch.Tensor:
    """PSPI ``(...)`` from predicted AUs ``(..., 6)``, clipped to 0..16 (gradients flow)."""
    return pspi(au).clamp(0.0, float(PSPI_MAX))
