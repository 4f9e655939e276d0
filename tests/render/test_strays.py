"""Stray hairs: compositing draws faint strands out of the scalp hair's outline over the
background (the shell alone ends in a clean curve), the same ones for the neutral and pain
images of a pair, and none off a bald outline."""

from __future__ import annotations

import numpy as np
import pytest


def _head(hair_part: int, face_value: int = 200):
    """A 256-px render: a disc of head, its top half scalp hair (dark) or skin."""
    from pain3d.render import default_views
    from pain3d.render.renderer import RenderResult

    yy, xx = np.mgrid[:256, :256]
    inside = (yy - 140) ** 2 + (xx - 128) ** 2 < 80 ** 2
    top = inside & (yy < 120)
    rgb = np.zeros((256, 256, 3), np.uint8)
    rgb[inside] = face_value
    rgb[top] = 30
    parts = np.where(inside, 1, 0).astype(np.uint8)
    parts[top] = hair_part
    return RenderResult(rgb=rgb, mask=(inside * 255).astype(np.uint8), parts=parts, depth=None,
                        heatmap=None, heat=None, camera=default_views()[0]), inside


def _ring(inside: np.ndarray, lo: int, hi: int) -> np.ndarray:
    import cv2

    out = ~inside
    near = cv2.dilate(inside.astype(np.uint8), np.ones((2 * hi + 1,) * 2, np.uint8)) > 0
    far = cv2.dilate(inside.astype(np.uint8), np.ones((2 * lo + 1,) * 2, np.uint8)) > 0
    return out & near & ~far


def test_strands_grow_out_of_the_hair_outline_over_the_background():
    from pain3d.face.mesh import PARTS
    from pain3d.render.compose import compose

    res, inside = _head(PARTS.index("hair"))
    background = np.full((256, 256, 3), 220, np.uint8)
    out = compose(res, background)
    hair_side = np.zeros_like(inside)
    hair_side[:110] = True  # beside the hair, not the skin
    ring = _ring(inside, 1, 6) & hair_side
    darker = out[ring].mean(-1) < 215
    # Without strays every pixel of the ring is the background's 220.
    assert 0.08 < darker.mean() < 0.7, darker.mean()
    assert (out[_ring(inside, 20, 40)] == 220).all()  # nothing far from the head
    below = _ring(inside, 1, 6) & ~hair_side
    below[:130] = False
    assert (out[below] == 220).all()  # nothing beside the skin


@pytest.mark.parametrize("face_value", [150, 250])
def test_a_pair_whose_hair_does_not_move_gets_the_same_strands(face_value):
    from pain3d.face.mesh import PARTS
    from pain3d.render.compose import compose

    background = np.full((256, 256, 3), 220, np.uint8)
    neutral, inside = _head(PARTS.index("hair"))
    pain, _ = _head(PARTS.index("hair"), face_value)
    a, b = compose(neutral, background), compose(pain, background)
    np.testing.assert_array_equal(a[~inside], b[~inside])


def test_a_bald_outline_has_no_strands():
    from pain3d.render.compose import compose

    res, inside = _head(1)
    background = np.full((256, 256, 3), 220, np.uint8)
    out = compose(res, background)
    assert (out[~inside] == 220).all()


@pytest.mark.parametrize("shape", [(1, 1), (7, 1), (1, 9), (40, 33), (256, 300)])
def test_pixels_are_numpys_nonzero(shape):
    from pain3d.render.strays import pixels

    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    alpha = (rng.uniform(size=shape) * 255).astype(np.uint8) * (rng.uniform(size=shape) < 0.3)
    for mask in (rng.uniform(size=shape) < 0.1, np.zeros(shape, bool), np.ones(shape, bool),
                 alpha):
        want, got = np.nonzero(mask), pixels(mask)
        for w, g in zip(want, got, strict=True):
            assert g.dtype == w.dtype and g.flags.c_contiguous
            np.testing.assert_array_equal(g, w)
