"""pain3d: synthetic 3D pain faces (3DPain) and reference-based pain estimation (ViTPain)."""

from __future__ import annotations

from typing import Any

__version__ = "0.12.0"

# Heavy entry points resolve on first use, so ``import pain3d`` stays instant.
_LAZY = {"load_model": "pain3d.model.checkpoint"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pain3d' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
