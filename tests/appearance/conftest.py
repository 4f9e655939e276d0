"""Shared fixtures of the appearance tests: a small toy head."""

from __future__ import annotations

import pytest

from pain3d.face.mesh import Mesh
from pain3d.render.toy import toy_head


@pytest.fixture(scope="session")
def head() -> Mesh:
    return toy_head(24, 32)


@pytest.fixture
def one_torch_thread():
    """Tiny pipelines run in milliseconds on one thread; on a loaded 2-core machine torch's
    spinning thread pool makes them take seconds."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory) -> dict:
    """Folders of tiny random Stable Diffusion models (base, depth ControlNet, inpainting),
    written offline by :func:`pain3d.appearance.diffusion_testing.save_tiny_models`."""
    pytest.importorskip("diffusers", reason="the dev extra installs diffusers")
    from pain3d.appearance.diffusion_testing import save_tiny_models

    return save_tiny_models(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="session")
def tiny_cfg(tiny_sd):
    """A CPU float32 DiffusionConfig of the tiny models (2 steps)."""
    from pain3d.appearance.diffusion import DiffusionConfig

    return DiffusionConfig(**{k: str(v) for k, v in tiny_sd.items()}, device="cpu",
                           dtype="float32", steps=2)


@pytest.fixture(scope="session")
def tiny_portrait(tiny_cfg):
    """A DepthPortrait whose pipeline was loaded by the real loading code."""
    from pain3d.appearance.diffusion import DepthPortrait

    portrait = DepthPortrait(tiny_cfg)
    _ = portrait.pipeline
    return portrait


@pytest.fixture(scope="session")
def tiny_inpainter(tiny_cfg):
    """A BackgroundInpainter whose pipeline was loaded by the real loading code."""
    from pain3d.appearance.diffusion import BackgroundInpainter

    inpainter = BackgroundInpainter(tiny_cfg)
    _ = inpainter.pipeline
    return inpainter
