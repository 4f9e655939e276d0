"""Turned views of a photo of a turned face: the background's fringe that the photo shows
beside the far cheek (colour bleeding over the face's outline, as in a JPEG's chroma) is
smeared over the texels the photo saw at a grazing angle; a view turned toward them must
not show it as streaks of the wall's colour across the cheek."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

SIZE = 512
WALL = (30, 60, 230)  # a strongly blue wall, RGB


@pytest.fixture(scope="module")
def turned_on_blue(tracker):
    """A photo identity from a procedural face turned 36 degrees, on a blue wall whose
    colour bleeds 4 px into the face (the chroma blurred, the luma kept)."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.render import Camera, Renderer, compose, sample_lighting
    from pain3d.synth.photo import PhotoConfig, photo_identity

    ident = sample_identities(1, 0)[0]
    mesh = identity_mesh(ident)
    app = sample_appearance(ident, ident.seed, mesh=mesh)
    with Renderer(SIZE) as renderer:
        res = renderer.render(mesh, app, Camera(yaw=36.0, pitch=5.0),
                              sample_lighting(np.random.default_rng(0)), depth=False)
    wall = np.empty((SIZE, SIZE, 3), np.uint8)
    wall[:] = WALL
    ycc = cv2.cvtColor(compose(res, wall), cv2.COLOR_RGB2YCrCb)
    ycc[..., 1:] = cv2.GaussianBlur(ycc[..., 1:], (0, 0), 4.0)
    photo = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    return photo_identity(photo, cfg=PhotoConfig(non_neutral="warn"), tracker=tracker)


def test_turned_view_cheek_does_not_take_the_walls_colour(turned_on_blue, renderer):
    from pain3d.face.landmarks import FACE_OVAL
    from pain3d.face.mesh import PARTS
    from pain3d.render.photo import orbit_camera
    from pain3d.synth.photo import render_photo

    ident = turned_on_blue
    out = render_photo(ident, renderer, np.zeros(6), camera=orbit_camera(ident.camera, -40.0))
    # The face inside its outline (9 px in), skin only (not the eyes, brows or lips).
    xy = out.camera.project(ident.mesh.vertices[list(FACE_OVAL)], (SIZE, SIZE))[:, :2]
    hull = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(xy).astype(np.int32)), 1)
    face = (cv2.erode(hull, np.ones((9, 9), np.uint8)) > 0) & (
        out.result.parts == PARTS.index("skin"))
    assert face.sum() > 20000
    rgb = out.rgb.astype(np.float64)
    blue = rgb[..., 2] / np.maximum(rgb.sum(-1), 1.0)
    bluer = face & (blue > np.median(blue[face]) + 0.05)
    # main: 2.9 % of the face's pixels (a streak down the far cheek); now 0.1 %.
    assert bluer.sum() < 0.005 * face.sum(), bluer.sum() / face.sum()
