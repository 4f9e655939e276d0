"""The texture PNG level changes how mesh textures are compressed, never what they hold."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pain3d.synth.config import GenerateConfig
from pain3d.synth.generate import sample_files


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def test_texture_png_level_changes_only_the_texture_encoding():
    base = dict(identities=1, size=32, per_identity=1, views=1)
    fast = sample_files(GenerateConfig(**base, texture_png_level=1), "flame_sample_0000")
    small = sample_files(GenerateConfig(**base, texture_png_level=9), "flame_sample_0000")
    assert fast.keys() == small.keys()
    texture = "textured_meshes/flame_sample_0000/flame_sample_0000.png"
    assert fast[texture] != small[texture] and len(small[texture]) < len(fast[texture])
    assert np.array_equal(_decode(fast[texture]), _decode(small[texture]))
    assert all(fast[k] == small[k] for k in fast if k != texture)


def test_texture_png_level_outside_zlib_levels_is_refused():
    with pytest.raises(ValueError, match="texture_png_level"):
        GenerateConfig(texture_png_level=10)
