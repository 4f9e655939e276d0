"""Closed and narrowed lids of photo identities look like lids: the person's skin tone and
grain, a lash fringe along the shut margin, and narrowed eyes that keep the photo's own
margins (no lid-skin smears)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from pain3d.face.mesh import PARTS
from pain3d.synth.photo import render_photo

CLOSED = np.array([0, 0, 0, 0, 0, 1.0])


def _lum(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64).mean(-1)


def _margins(identity, aus) -> list[np.ndarray]:
    """Per eye, (17, 2) pixel positions of the expressed upper lid margin, corner to corner."""
    from pain3d.face import express
    from pain3d.face.head import head_template

    mesh = express(identity.mesh, aus)
    px = identity.camera.project(mesh.vertices, identity.photo.shape[1::-1])[:, :2]
    loops = head_template().fine_eye_loops
    return [px[loops[k][0]] for k in ("r", "l")]


@pytest.fixture(scope="module")
def closed(identity, renderer):
    """The AU43 render, its shut lids' pixels (the neutral eye opening, 3 px and more above
    the closed margin) and the skin ring 4-10 px around the opening."""
    rgb = render_photo(identity, renderer, CLOSED).rgb
    parts = render_photo(identity, renderer, np.zeros(6)).result.parts
    eyes = (parts == PARTS.index("eyes")).astype(np.uint8)
    rows, cols = np.indices(eyes.shape)
    above = np.zeros(eyes.shape, bool)
    for m in _margins(identity, CLOSED):
        y = np.interp(cols[0], m[:, 0], m[:, 1], left=-np.inf, right=-np.inf)
        above |= rows < y[None, :] - 3.0
    k = np.ones((3, 3), np.uint8)
    ring = (cv2.dilate(eyes, k, iterations=10) > 0) & ~(cv2.dilate(eyes, k, iterations=4) > 0)
    return rgb, (eyes > 0) & above, ring


def test_shut_lids_have_the_tone_of_the_skin_around_them(closed):
    rgb, lid, ring = closed
    assert lid.sum() > 100 and ring.sum() > 500
    lum = _lum(rgb)
    # Not a pale band: the shut lid is no lighter than the skin around the eye (it is a
    # little darker: it curves away toward its margin), and not much darker.
    ratio = lum[lid].mean() / lum[ring].mean()
    assert 0.8 < ratio < 0.97, ratio


def test_the_lash_bands_lid_skin_keeps_the_skins_grain(identity):
    from pain3d.appearance.photo import LASH_BAND_M, _margin_distance, _Texels
    from pain3d.face.mesh import region_id

    app = identity.appearance
    texels = _Texels.of(app.rest_mesh, app.raster_faces, app.raster)
    dist, upper = _margin_distance(app.rest_mesh, texels.pos)
    lid = (texels.region == region_id("upper_eyelid")) & upper
    band = lid & (dist > 0.001) & (dist < LASH_BAND_M - 0.001)
    beyond = lid & (dist > LASH_BAND_M + 0.001) & (dist < 2 * LASH_BAND_M)

    def fine(tex):
        lum = _lum(tex).astype(np.float32)
        return np.abs(lum - cv2.GaussianBlur(lum, (0, 0), 1.5))

    # The filled band has texel-to-texel detail like the lid skin beyond it (the photo's
    # own grain mirrored in), not a blurred tone.
    assert band.sum() > 200 and beyond.sum() > 200
    lid_skin, photo = fine(app.skin)[band].mean(), fine(app.albedo)[beyond].mean()
    assert lid_skin > 0.5 * photo, (lid_skin, photo)


def test_a_lash_fringe_darkest_at_the_margins_centre_fades_toward_the_corners(identity,
                                                                             closed):
    lum = _lum(closed[0])
    for m in _margins(identity, CLOSED):
        dark = []
        for x, y in np.round(m[1:-1]).astype(int):
            # The margin and the 3 px under it (lashes hang down) against the lower lid's
            # skin just below.
            dark.append(1.0 - lum[y - 1:y + 4, x].mean() / lum[y + 5:y + 8, x].mean())
        dark = np.array(dark)
        centre, corners = dark[5:10].mean(), dark[[0, 1, -2, -1]].mean()
        assert centre > 0.18, dark.round(2)
        assert centre > corners + 0.05, dark.round(2)


@pytest.mark.parametrize("aus", [[0, 0, 5, 0, 0, 0], [3, 3, 2, 2, 2, 0], [5, 5, 5, 5, 5, 0]])
def test_narrowed_eyes_keep_the_photos_own_lid_margins(identity, renderer, aus):
    # Narrowing (AU6/AU7) moves the photo's own lashes and margins; the lid-skin texture
    # (which fills the lash bands) is shown only where the upper lid shuts: replacing it
    # changes no pixel of a narrowed eye, and the shut one.
    other = dataclasses.replace(identity, appearance=dataclasses.replace(
        identity.appearance, skin=np.full_like(identity.appearance.skin, 255),
        token=identity.appearance.token + 10**9))
    for aus_, same in ((aus, True), (CLOSED, False)):
        a = render_photo(identity, renderer, aus_).rgb
        b = render_photo(other, renderer, aus_).rgb
        assert np.array_equal(a, b) == same, aus_


def test_the_lid_skin_is_the_photo_outside_the_lash_bands(identity):
    app = identity.appearance
    diff = np.abs(app.skin.astype(np.int16) - app.albedo.astype(np.int16)).max(-1)
    changed = diff > 2
    # Only the lash bands (about 2 x 4 mm along each margin, plus long lashes' strands)
    # differ: far less than the old smooth lid tone over the whole eye region.
    assert 0 < changed.mean() < 0.02, changed.mean()


def test_the_lid_skin_searches_only_the_margin_distances_it_uses(identity):
    """The lid skin searches the lid-margin distances of the head's lid-side texels, then of
    the other texels of their box (not of the whole eyeball islands): the values must be
    those of searching every texel, in the box every texel has."""
    from pain3d.appearance import photo as ap

    app = identity.appearance
    mesh = app.rest_mesh
    texels = ap._Texels.of(mesh, app.raster_faces, app.raster)
    head = ap._charts(app.raster.size)["head"]
    every_dist, every_upper = ap._margin_distance(mesh, texels.pos)
    some = texels.region == texels.region[texels.region.shape[0] // 2, 0]
    dist, upper = ap._margin_distance(mesh, texels.pos, where=some)
    np.testing.assert_array_equal(dist[some], every_dist[some])
    np.testing.assert_array_equal(upper[some], every_upper[some])
    assert (dist[~some] == 0.02).all() and not upper[~some].any()
    # The head's layout keeps the eyeball islands away from the lids' box; a head chart with
    # a hole along the lid margins puts texels near them in the box but off the head.
    for chart in (head, head & ~(every_dist < 0.004)):
        box, dist, upper = ap._lid_box(mesh, texels, chart)
        lidside = chart & (texels.region != ap.region_id("eyeball"))
        assert box == ap._bbox((every_dist < 0.02) & lidside, pad=16)
        np.testing.assert_array_equal(dist, every_dist[box])
        np.testing.assert_array_equal(upper, every_upper[box])
    assert (~lidside[box] & (every_dist[box] < 0.02)).any()  # the second search finds some
