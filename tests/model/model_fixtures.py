"""Tiny ViTPain configurations shared by the model tests (imported by name: tests have no
package, and ``conftest`` is a name every test folder uses)."""

from __future__ import annotations

from typing import Any

from pain3d.model import LoraAdapterConfig, ViTPainConfig

SIZE = 64  # 4 x 4 patches of 16 px


def tiny_config(**overrides: Any) -> ViTPainConfig:
    """The tiny preset at 64 px with a rank-4 adapter (overrides replace fields)."""
    values: dict[str, Any] = dict(
        preset="tiny", image_size=SIZE,
        lora=LoraAdapterConfig(rank=4, alpha=8.0, dropout=0.0),
        cross_attn_heads=4, pspi_hidden=(32, 16), au_hidden=32,
    )
    values.update(overrides)
    return ViTPainConfig(**values)
