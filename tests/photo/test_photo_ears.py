"""Ears and neck of a photo identity in turned views: the tone of the photo's skin beside
them (not the face's median), an ear's form (concha darker than the helix rim) and a neck
darker under the jaw."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from photo_helpers import ears_shrunk


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float32).mean(-1)


@pytest.fixture(scope="module")
def dark_sides(identity, tracker):
    """A photo whose face darkens toward its sides (as side-lit faces and their ears do), its
    identity, and the photo's outer-cheek and face-median colours (0..255)."""
    from pain3d.synth.photo import photo_identity

    photo = identity.photo  # the fixture's crop: its pose gives the face's columns
    face = identity.fit.pose.project(identity.mesh.vertices[[234, 454]].astype(np.float64))
    cx, half = face[:, 0].mean(), abs(face[1, 0] - face[0, 0]) / 2
    cols = np.arange(photo.shape[1], dtype=np.float32)
    gain = 1.0 - 0.45 * np.clip((np.abs(cols - cx) / half - 0.3) / 0.7, 0.0, 1.0)
    dark = np.clip(photo * gain[None, :, None], 0, 255).astype(np.uint8)
    ident = photo_identity(dark, tracker=tracker)
    rgb = ident.photo.astype(np.float32)
    pts = ident.fit.pose.project(ident.mesh.vertices[[234, 454, 10, 152]].astype(np.float64))
    y0, y1 = int(pts[2, 1]), int(pts[3, 1])
    mid = int(pts[:2, 0].mean())
    centre = rgb[y0:y1, mid - 10:mid + 10].reshape(-1, 3)
    sides = []
    for k in (0, 1):  # 6-12 % of the face's width inside its outline, at the ear's height
        x, y = pts[k, :2]
        inward = np.sign(mid - x) * abs(pts[1, 0] - pts[0, 0])
        xs = sorted(int(x + f * inward) for f in (0.06, 0.12))
        sides.append(rgb[int(y) - 6:int(y) + 6, xs[0]:xs[1]].reshape(-1, 3))
    return ident, [np.median(s, 0) for s in sides], np.median(centre, 0)


def _ear_pixels(ident, renderer, yaw: float) -> np.ndarray:
    """(N, 3) rendered colours of the ear seen from a camera turned by ``yaw``: the pixels
    that change when the ears are shrunk into the head."""
    from pain3d.render.photo import orbit_camera
    from pain3d.synth.photo import render_photo

    cam = orbit_camera(ident.camera, yaw)
    aus = np.zeros(6)
    full = render_photo(ident, renderer, aus, camera=cam).rgb
    hidden = dataclasses.replace(ident, mesh=ears_shrunk(ident.mesh))
    vars(hidden)["backdrop"] = ident.backdrop  # the same background (cached_property)
    bare = render_photo(hidden, renderer, aus, camera=cam).rgb
    changed = np.abs(full.astype(np.int16) - bare).max(-1) > 12
    assert changed.sum() > 300, "the ear should cover a few hundred pixels"
    return full[changed].astype(np.float32)


@pytest.mark.parametrize("yaw, side", [(40.0, 1), (-40.0, 0)])
def test_a_turned_ear_has_the_tone_of_the_cheek_beside_it_not_the_face_median(
        dark_sides, renderer, yaw, side):
    # The photo's sides are ~40 % darker than its centre. An ear painted with the face's
    # median skin was about as bright as the face centre: paler than the cheek beside it.
    ident, cheeks, centre = dark_sides
    ear = np.median(_ear_pixels(ident, renderer, yaw), 0)
    cheek = cheeks[side]
    assert _luminance(ear) < 1.05 * _luminance(cheek)
    assert np.abs(ear - cheek).mean() < np.abs(ear - centre).mean()


def _island_uv(x: float, y: float) -> tuple[float, float]:
    """UV of the point (x toward the face, y up; 1 at the outline) of the left ear's outer
    face in the ear island."""
    from pain3d.face.head import ISLAND_CENTRES, ISLAND_RADIUS

    r, az = np.hypot(x, y), np.arctan2(y, x)
    rho = ISLAND_RADIUS * np.arcsin(min(r, 1.0)) / np.pi
    cu, cv = ISLAND_CENTRES["ear"]
    return cu + rho * np.cos(az), cv + rho * np.sin(az)


def test_the_baked_ear_has_a_dark_concha_and_a_lighter_helix_rim(identity):
    albedo = identity.appearance.albedo.astype(np.float32)
    size = albedo.shape[0]

    def at(x, y, k=2):
        u, v = _island_uv(x, y)
        c, r = int(u * size), int(v * size)
        return _luminance(albedo[r - k:r + k + 1, c - k:c + k + 1]).mean()

    concha = at(0.28, -0.1)
    rim = np.mean([at(0.9 * np.cos(a), 0.9 * np.sin(a)) for a in np.radians([90, 135, 180])])
    assert concha < 0.8 * rim  # a flat fill: equal


def test_the_neck_is_darker_just_under_the_jaw_than_lower_down(identity):
    from pain3d.face.head import head_template

    app, mesh = identity.appearance, identity.mesh
    pos = app.raster.interpolate(app.raster_faces, mesh.vertices)
    vert = app.raster.nearest_vertex(app.raster_faces)
    part = head_template().fine_part
    neck = app.raster.covered & (part[np.minimum(vert, len(part) - 1)] == 5) & (
        vert < len(part))
    lum = _luminance(app.albedo)
    v = mesh.vertices
    face = np.zeros(len(v), bool)
    face[:len(part)] = part[:len(v)] <= 2  # the eyeballs, appended, are not the jaw
    chin = float(v[face & (np.abs(v[:, 0]) < 0.015), 1].min())
    axis_z = float(pos[neck][:, 2].mean())
    front = neck & (np.abs(pos[..., 0]) < 0.025) & (pos[..., 2] > axis_z)
    below = chin - pos[..., 1]
    top = front & (below > 0.002) & (below < 0.012)
    low = front & (below > 0.035) & (below < 0.05)
    assert top.sum() > 100 and low.sum() > 100
    assert lum[top].mean() < 0.88 * lum[low].mean()  # a plain tube: about equal
