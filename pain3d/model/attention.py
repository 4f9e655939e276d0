"""Reference cross-attention: pain-image tokens attend to neutral-reference tokens.

Published design: one layer, 8 heads, ``LayerNorm(pain + attention(pain, neutral))``, no
feed-forward. Layers and heads are configurable; an optional feed-forward sub-layer gives a
standard post-norm transformer decoder layer without self-attention.
"""

from __future__ import annotations

import torch
from torch import nn


class CrossAttentionLayer(nn.Module):
    """One residual cross-attention layer.

    Args:
        dim: token width ``D``.
        heads: attention heads (must divide ``D``).
        ffn: add ``LayerNorm(x + MLP(x))`` after the attention (MLP hidden 4 D, GELU).
        dropout: dropout on the attention weights.
    """

    def __init__(self, dim: int, heads: int, ffn: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"cross-attention heads {heads} do not divide the token width {dim}")
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.ffn = (
            nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
            if ffn else None
        )
        self.ffn_norm = nn.LayerNorm(dim) if ffn else None

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)`` queries attend to ``(B, S, D)`` context; returns ``(B, T, D)``."""
        out, _ = self.attn(query, context, context, need_weights=False)
        x = self.norm(query + out)
        if self.ffn is not None:
            x = self.ffn_norm(x + self.ffn(x))
        return x


class ReferenceCrossAttention(nn.Module):
    """A stack of :class:`CrossAttentionLayer` over the same reference tokens."""

    def __init__(self, dim: int, heads: int = 8, layers: int = 1, ffn: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CrossAttentionLayer(dim, heads, ffn) for _ in range(layers))

    def forward(self, tokens: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Fuse pain tokens ``(B, T, D)`` with reference tokens ``(B, S, D)``."""
        for layer in self.layers:
            tokens = layer(tokens, reference)
        return tokens
