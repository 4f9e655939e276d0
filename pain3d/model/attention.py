"""Reference cross-attention: pain-image tokens attend to neutral-reference tokens.

Published design: one layer, 8 heads, ``LayerNorm(pain + attention(pain, neutral))``, no
feed-forward. Layers and heads are configurable; an optional feed-forward sub-layer gives a
standard post-norm transformer decoder layer without self-attention.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


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
        """``(B, T, D)`` queries attend to ``(B, S, D)`` context; returns ``(B, T, D)``.

        A context that is one reference broadcast over the batch (``expand``: batch stride 0,
        as :meth:`pain3d.model.ViTPain.forward` passes a cached reference) has its keys and
        values projected once instead of B times (in eval mode; same outputs up to float
        rounding).
        """
        if context.shape[0] > 1 and context.stride(0) == 0 and not self.training:
            out = self._attend_shared(query, context[:1])
        else:
            out, _ = self.attn(query, context, context, need_weights=False)
        x = self.norm(query + out)
        if self.ffn is not None:
            x = self.ffn_norm(x + self.ffn(x))
        return x

    def _attend_shared(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``self.attn`` for ``(B, T, D)`` queries and ONE ``(1, S, D)`` context."""
        attn = self.attn
        d, heads = attn.embed_dim, attn.num_heads
        b, t, _ = query.shape
        w_q, w_kv = attn.in_proj_weight.split((d, 2 * d))
        b_q, b_kv = attn.in_proj_bias.split((d, 2 * d))
        q = F.linear(query, w_q, b_q).view(b, t, heads, d // heads).transpose(1, 2)
        kv = F.linear(context, w_kv, b_kv).view(1, -1, 2, heads, d // heads)
        k, v = kv.permute(2, 0, 3, 1, 4).expand(2, b, -1, -1, -1)
        out = F.scaled_dot_product_attention(q, k, v)
        return attn.out_proj(out.transpose(1, 2).reshape(b, t, d))


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
