"""compose_photo's partial blend (pain3d.render.photo._blend) gives cv2.blendLinear's bytes."""

import cv2
import numpy as np

from pain3d.render.photo import BLEND_SURE, _blend


def test_blend_sure_alphas_give_blendlinear_bytes_for_every_byte_pair():
    """Every (render, backdrop) byte pair at alphas 0, 1 and within BLEND_SURE of them (the
    copied pixels), and feathered ones (the blended): the bytes of a whole-image blend."""
    top, under = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8))
    top = np.repeat(top[..., None], 3, axis=2)
    under = np.repeat(under[..., None], 3, axis=2)
    sure = np.float32(BLEND_SURE)
    feathered = np.array([np.nextafter(sure, np.float32(1)), 0.01, 0.37, 0.5, 0.999,
                          np.nextafter(np.float32(1) - sure, np.float32(0))], np.float32)
    for alpha in (0.0, 1.0, sure, np.float32(1.0) - sure):
        for start in (0, 11):  # each pair at the sure alpha in one of the two
            a = np.full(top.shape[:2], alpha, np.float32)
            a.reshape(-1)[start::23] = np.resize(feathered, a.reshape(-1)[start::23].shape)
            assert np.count_nonzero((a > sure) & (a < 1 - sure)) < a.size // 16  # gathered
            assert np.array_equal(_blend(top, under, a),
                                  cv2.blendLinear(top, under, a, 1.0 - a))


def test_widely_feathered_alpha_blends_its_box_with_blendlinear_bytes():
    rng = np.random.default_rng(0)
    top, under = (rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(2))
    a = np.zeros((256, 256), np.float32)
    a[100:150, 70:200] = rng.random((50, 130), dtype=np.float32)  # > 1/16 of the pixels
    assert np.array_equal(_blend(top, under, a), cv2.blendLinear(top, under, a, 1.0 - a))
