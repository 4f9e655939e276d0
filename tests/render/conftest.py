"""Shared fixtures of the render tests: one GL context per session and a toy head."""

from __future__ import annotations

import pytest
from scenes import DEMO

from pain3d.appearance import sample_appearance
from pain3d.face.mesh import Mesh
from pain3d.render.toy import toy_head


@pytest.fixture(scope="session")
def renderer():
    from pain3d.render import Renderer

    r = Renderer(48, auto_exposure=False)  # exact-pixel tests need the plain exposure
    yield r
    r.release()


@pytest.fixture(scope="session")
def head() -> Mesh:
    return toy_head(24, 32)


@pytest.fixture(scope="session")
def head_appearance(head):
    return sample_appearance(DEMO, seed=3, mesh=head, texture_size=64)
