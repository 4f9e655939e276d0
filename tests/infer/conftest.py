"""Fixtures for inference tests: a real photo, a short video with no-face and two-face
frames, and a tiny randomly initialised ViTPain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from infer_frames import blank, face_photo, shifted, two_faces


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return face_photo()


@pytest.fixture(scope="session")
def video_path(tmp_path_factory) -> Path:
    """12 frames at 4 fps: 6 face frames (small moves), 2 blank, 2 two-face, 2 face."""
    from pain3d.infer.video import write_video

    img = face_photo()
    frames = [shifted(img, 3 * k, 2 * k) for k in range(6)]
    frames += [blank(), blank()]
    frames += [two_faces(), two_faces()]
    frames += [shifted(img, -4, 0), img]
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    return write_video(path, frames, fps=4.0)


@pytest.fixture(scope="session")
def tiny_model():
    """A randomly initialised tiny ViTPain (seeded), eval mode."""
    import torch

    from pain3d.model import build_model

    torch.manual_seed(0)
    return build_model(preset="tiny").eval()


@pytest.fixture()
def predictor(tiny_model):
    from pain3d.infer.predictor import PredictConfig, Predictor

    p = Predictor(tiny_model, PredictConfig(batch_size=4))
    yield p
    p.close()


@pytest.fixture(scope="session")
def checkpoint(tiny_model, tmp_path_factory) -> Path:
    """The tiny model saved as a checkpoint folder."""
    from pain3d.model import save_checkpoint

    return save_checkpoint(tiny_model, tmp_path_factory.mktemp("ckpt") / "model")
