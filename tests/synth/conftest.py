"""Fixtures for dataset generation: tiny datasets made with the plain test renderer."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_helpers import make, tiny_generate_config

from pain3d.synth.config import GenerateConfig


@pytest.fixture(scope="session")
def dataset_both(tmp_path_factory) -> tuple[Path, GenerateConfig]:
    """A finished tiny dataset in both layouts, with masks and depth (do not modify)."""
    cfg = tiny_generate_config(layout="both", extras=("masks", "depth"))
    return make(tmp_path_factory.mktemp("both") / "ds", cfg), cfg


@pytest.fixture
def fresh_dataset(tmp_path):
    """A factory of finished tiny datasets that a test may damage."""
    counter = iter(range(100))

    def build(**kw) -> tuple[Path, GenerateConfig]:
        cfg = tiny_generate_config(**kw)
        return make(tmp_path / f"ds_{next(counter)}", cfg), cfg

    return build
