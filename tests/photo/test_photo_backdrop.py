"""The backdrop of turned views: the photo with the person's head and hair taken out and the
background beside it continued into the hole (texture kept, not a smooth blur)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from photo_helpers import procedural_photo

SIZE = 512
HAIR_CENTRE, HAIR_AXES = (SIZE // 2, SIZE // 2 - 50), (215, 200)


def _textured_background(size: int = SIZE) -> np.ndarray:
    """A wall of vertical planks with grain: texture a smooth fill cannot have."""
    rng = np.random.default_rng(3)
    x = np.arange(size)[None, :, None]
    planks = 140 + 40 * np.sin(x / 7.0) * np.array([1.0, 0.9, 0.7])
    grain = rng.normal(0, 8, (size, size, 1))
    return np.clip(planks + grain, 0, 255).astype(np.uint8)


def _hair(background: np.ndarray, rgb) -> np.ndarray:
    """The background with a mass of hair of colour ``rgb`` (0..1) behind where the
    procedural head is."""
    out = background.copy()
    cv2.ellipse(out, HAIR_CENTRE, HAIR_AXES, 0, 0, 360, tuple(float(c) * 255 for c in rgb), -1)
    return out


@pytest.fixture(scope="module")
def textured(tracker):
    from pain3d.synth.photo import photo_identity

    bg = _textured_background()
    return bg, photo_identity(procedural_photo(background=bg), tracker=tracker)


@pytest.fixture(scope="module")
def haired(tracker, textured):
    from pain3d.appearance.photo import hair_colour
    from pain3d.synth.photo import photo_identity

    # Hair of the colour the person's hair has just above the forehead, reaching beyond the
    # fitted head.
    bg, plain = textured
    rgb = hair_colour(plain.mesh, plain.fit.pose, plain.photo)
    return photo_identity(procedural_photo(background=_hair(bg, rgb)), tracker=tracker)


def _silhouette(ident) -> np.ndarray:
    xy = ident.fit.pose.project(ident.mesh.vertices)[:, :2]
    sil = np.zeros(ident.photo.shape[:2], np.uint8)
    cv2.fillPoly(sil, list(np.round(xy[ident.mesh.faces] * 4).astype(np.int32)), 1, shift=2)
    return sil > 0


def test_mirror_fill_continues_the_texture_beside_the_hole():
    from pain3d.synth.photo import mirror_fill

    bg = _textured_background()
    hole = np.zeros((SIZE, SIZE), bool)
    hole[100:400, 150:350] = True
    out = mirror_fill(np.where(hole[..., None], 0, bg).astype(np.uint8), hole)
    assert not (out[hole] == 0).all(axis=-1).any()
    inside, outside = out[hole].astype(float), bg[~hole].astype(float)
    assert np.abs(inside.mean(0) - outside.mean(0)).max() < 8
    assert inside.std(0).min() > 0.7 * outside.std(0).min()
    np.testing.assert_array_equal(out[~hole], bg[~hole])


def test_the_backdrop_where_the_head_was_looks_like_the_background(textured):
    bg, ident = textured
    sil = _silhouette(ident)
    back = ident.backdrop.astype(float)
    wall = bg.astype(float)
    # Colour statistics of the background, not of the face or a flat, pale fill: the mean
    # colour and the plank texture (horizontal detail) are the wall's.
    assert np.abs(back[sil].mean(0) - wall[sil].mean(0)).max() < 12
    detail = np.abs(np.diff(back, axis=1))[sil[:, 1:]].mean()
    wall_detail = np.abs(np.diff(wall, axis=1))[sil[:, 1:]].mean()
    assert detail > 0.6 * wall_detail


def test_the_hair_beyond_the_fitted_head_is_taken_out_too(haired):
    ident = haired
    sil = _silhouette(ident)
    hair = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(hair, HAIR_CENTRE, HAIR_AXES, 0, 0, 360, 1, -1)
    beyond = (hair > 0) & ~sil
    assert beyond.sum() > 5000
    left = np.linalg.norm(ident.backdrop.astype(float) - ident.photo[beyond].mean(0), axis=-1)
    assert (left[beyond] < 25).mean() < 0.05  # the hair's colour is gone from the backdrop
