"""The backdrop of turned views: the photo with the person's head and hair taken out and the
hole filled with the background's tone and grain, without copies of its edges or objects."""

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


def _edges(image: np.ndarray) -> np.ndarray:
    """(H, W) gradient magnitude of the luminance, after a blur that averages grain away."""
    luma = cv2.GaussianBlur(image.astype(np.float32).mean(axis=-1), (0, 0), 2.0)
    return np.hypot(cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1))


def test_the_fill_does_not_copy_edges_or_objects_beside_the_hole():
    """A plain grainy wall with a dark picture-frame edge, a diagonal line and a bright
    object beside the hole: the filled hole has the wall's tone and grain, but no copy
    (mirrored or not) of any of them."""
    from pain3d.synth.photo import smooth_fill

    rng = np.random.default_rng(5)
    wall = np.clip(150 + rng.normal(0, 6, (SIZE, SIZE, 1)) * np.ones(3), 0, 255)
    bg = wall.copy()
    bg[60:460, 110:118] = 40  # a frame's vertical edge 20 px left of the hole
    cv2.line(bg, (360, 60), (460, 300), (30, 30, 30), 4)  # a diagonal just right of it
    cv2.circle(bg, (100, 420), 25, (250, 240, 90), -1)  # a bright object below-left
    bg = bg.astype(np.uint8)
    hole = np.zeros((SIZE, SIZE), bool)
    hole[80:440, 138:350] = True
    out = smooth_fill(np.where(hole[..., None], 0, bg).astype(np.uint8), hole)
    np.testing.assert_array_equal(out[~hole], bg[~hole])
    inner = cv2.erode(hole.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    plain = _edges(wall)[inner]
    # No edge inside: the strongest gradients are those of the plain wall's grain (a copy of
    # the frame or the line would be 10x stronger).
    assert np.percentile(_edges(out)[inner], 99.5) < 2.5 * np.percentile(plain, 99.5)
    inside, around = out[hole].astype(float), wall[hole].astype(float)
    assert np.abs(inside.mean(0) - around.mean(0)).max() < 12  # the wall's tone
    grain = (out.astype(float) - cv2.GaussianBlur(out, (0, 0), 2.0))[inner].std()
    wall_grain = (wall - cv2.GaussianBlur(wall, (0, 0), 2.0))[inner].std()
    assert 0.5 * wall_grain < grain < 1.5 * wall_grain  # grainy, not a flat smear


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


def test_two_tone_hair_beyond_the_fitted_head_is_taken_out(tracker, textured):
    """Hair whose ends are not the colour it has above the forehead (dyed ends, highlights):
    the person's silhouette, not a colour, says what is head."""
    from pain3d.synth.photo import photo_identity

    bg, _ = textured
    haired = _hair(bg, (0.3, 0.18, 0.1))
    lower = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(lower, HAIR_CENTRE, HAIR_AXES, 0, 0, 360, 1, -1)
    lower[:SIZE // 2] = 0
    haired[lower > 0] = (30, 28, 40)  # near-black ends beside the face
    ident = photo_identity(procedural_photo(background=haired), tracker=tracker)
    ends = (lower > 0) & ~_silhouette(ident)
    assert ends.sum() > 3000
    left = np.linalg.norm(ident.backdrop.astype(float) - (30, 28, 40), axis=-1)
    assert (left[ends] < 40).mean() < 0.05  # the dark ends are gone from the backdrop


@pytest.fixture(scope="module")
def bob_on_dark_wall(tracker):
    """A dark wall, light shoulders and a head of light hair larger than the fitted head,
    down past the jaw on both sides (a bob), like the photos where a pale head-shaped patch
    stayed: (the photo, the hair's mask, the shoulders' mask, the identity)."""
    from pain3d.appearance.photo import hair_colour
    from pain3d.synth.photo import photo_identity

    wall = np.empty((SIZE, SIZE, 3), np.uint8)
    wall[:] = (45, 50, 70)
    plain = photo_identity(procedural_photo(background=wall), tracker=tracker)
    rgb = hair_colour(plain.mesh, plain.fit.pose, plain.photo)
    bg = wall.copy()
    hair = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(hair, (SIZE // 2, SIZE // 2 - 20), (200, 230), 0, 0, 360, 1, -1)
    shoulders = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(shoulders, (SIZE // 2, SIZE + 60), (330, 140), 0, 0, 360, 1, -1)
    bg[hair > 0] = np.asarray(rgb) * 255
    bg[shoulders > 0] = (235, 232, 225)
    ident = photo_identity(procedural_photo(background=bg), tracker=tracker)
    return wall, hair > 0, shoulders > 0, ident


def test_the_fill_where_a_larger_head_was_matches_the_wall_not_the_head(bob_on_dark_wall):
    """Where the photo's head of hair was, above the shoulders, the backdrop is the dark
    wall's tone: no pale head-shaped halo averaged from the hair, the light shoulders and
    the wall."""
    wall, hair, shoulders, ident = bob_on_dark_wall
    lum = ident.photo.astype(float).mean(axis=-1)
    assert lum[hair & ~shoulders].mean() > lum[0, 0] + 40  # the hair is lighter than the wall
    above = hair & ~cv2.dilate(shoulders.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(
        bool)
    back = ident.backdrop.astype(float)
    assert np.abs(back[above].mean(0) - wall[above].mean(0)).max() < 12
    # Nowhere a pale patch: 98 % of the pixels within 25 of the wall's colour.
    off = np.linalg.norm(back[above] - wall[above].astype(float), axis=-1)
    assert (off < 25).mean() > 0.98


def test_the_fill_continues_a_horizontal_edge_across_the_hole_without_a_seam():
    """A light wall above a dark shirt line crossing the hole: rows above the line stay
    the wall's, rows below it the shirt's (an average of both made a grey patch), and the
    fill meets the photo at the hole's edge without a step."""
    from pain3d.synth.photo import smooth_fill

    rng = np.random.default_rng(7)
    bg = np.empty((SIZE, SIZE, 3), np.float64)
    bg[:] = (200, 195, 185)
    bg[330:] = (30, 35, 60)
    bg = np.clip(bg + rng.normal(0, 5, (SIZE, SIZE, 1)), 0, 255).astype(np.uint8)
    hole = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(hole, (SIZE // 2, 260), (120, 170), 0, 0, 360, 1, -1)
    hole = hole > 0
    out = smooth_fill(np.where(hole[..., None], 128, bg).astype(np.uint8), hole).astype(float)
    rows = np.arange(SIZE)[:, None]
    for band in (hole & (rows < 300), hole & (rows > 360)):
        assert np.abs(out[band].mean(0) - bg[band].astype(float).mean(0)).max() < 12
    # No seam: the step across the hole's edge is the wall's own pixel-to-pixel step there.
    inner = hole & ~(cv2.erode(hole.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    outer = (cv2.dilate(hole.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~hole
    away = np.abs(rows - 330) > 12  # not where the shirt line itself crosses the edge
    blur = cv2.GaussianBlur(out, (0, 0), 2.0)
    ref = cv2.GaussianBlur(bg.astype(float), (0, 0), 2.0)
    step = abs(blur[inner & away].mean() - blur[outer & away].mean())
    assert step < 4 + abs(ref[inner & away].mean() - ref[outer & away].mean())
