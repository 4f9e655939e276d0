"""Fixtures for the data tests: tiny datasets in each layout (see data_helpers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from data_helpers import write_3dpain, write_hub  # noqa: E402
from unbc_helpers import write_raw_unbc, write_trio  # noqa: E402


@pytest.fixture
def folder_ds(tmp_path) -> Path:
    """Published 3dpain folder layout: 6 identities x (3 pain + neutral) x 2 views."""
    return write_3dpain(tmp_path / "3dpain")


@pytest.fixture
def hub_ds(tmp_path) -> Path:
    """The same dataset as hub .tar.gz shards."""
    return write_hub(tmp_path / "hub")


@pytest.fixture
def raw_unbc(tmp_path) -> Path:
    """A fake raw UNBC archive with every quirk (see unbc_helpers)."""
    return write_raw_unbc(tmp_path / "UNBC")


@pytest.fixture
def trio(tmp_path) -> tuple[Path, Path, Path]:
    return write_trio(tmp_path / "trio")
