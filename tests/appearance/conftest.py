"""Shared fixtures of the appearance tests: a small toy head."""

from __future__ import annotations

import pytest

from pain3d.face.mesh import Mesh
from pain3d.render.toy import toy_head


@pytest.fixture(scope="session")
def head() -> Mesh:
    return toy_head(24, 32)
