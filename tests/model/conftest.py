"""Tiny ViTPain fixtures: random DINOv3 backbones of a few layers on 64 px images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from model_fixtures import SIZE, tiny_config

from pain3d.model import ViTPain, build_model


@pytest.fixture
def make_model() -> Callable[..., ViTPain]:
    """Build a tiny model with a fixed seed, in eval mode."""

    def make(seed: int = 0, **overrides: Any) -> ViTPain:
        torch.manual_seed(seed)
        return build_model(tiny_config(**overrides)).eval()

    return make


@pytest.fixture
def images() -> Callable[..., torch.Tensor]:
    """Random normalised images ``(*lead, 3, SIZE, SIZE)``."""

    def make(*lead: int, seed: int = 1) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(*lead, 3, SIZE, SIZE, generator=g)

    return make
