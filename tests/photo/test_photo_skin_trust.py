"""The photo bake's skin-colour test: what the fitted jaw and cheeks reach past the real
ones (a dark shirt, black hair hanging over a cheek) is not baked as their skin."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def _lower_face_band(identity, width_iod: float) -> np.ndarray:
    """(H, W) bool: the photo's pixels within ``width_iod`` inter-ocular distances inside the
    fitted face outline, from 0.6 of them below the eyes down, on the subject's left (image right)
    only, so the mirror side keeps the photo's skin."""
    from pain3d.face.landmarks import FACE_OVAL

    mesh, pose = identity.appearance.rest_mesh, identity.fit.pose
    h, w = identity.photo.shape[:2]
    poly = pose.project(mesh.vertices[list(FACE_OVAL)].astype(np.float64))[:, :2]
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, [np.round(poly * 4).astype(np.int32)], 1, shift=2)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    eyes = pose.project(mesh.rig.eye_centres.astype(np.float64))[:, :2]
    iod = float(np.linalg.norm(eyes[0] - eyes[1]))
    rows, cols = np.mgrid[:h, :w]
    return ((depth > 0) & (depth < width_iod * iod) & (rows > eyes[:, 1].mean() + 0.6 * iod)
            & (cols > eyes[:, 0].mean()))


@pytest.mark.parametrize("rgb", [(22, 26, 48), (26, 20, 18)], ids=["navy_shirt", "black_hair"])
def test_a_dark_shirt_or_hair_inside_the_jaw_outline_is_not_baked_as_skin(identity, rgb):
    """Paint a band along one side of the lower face's outline in a dark shirt's (or black
    hair's) colour: the texels the photo shows there must not keep that colour (the mirror
    and the fill stand in for them), and the face's other texels keep the photo's."""
    from pain3d.appearance import photo as ap

    app, pose = identity.appearance, identity.fit.pose
    mesh, faces, raster = app.rest_mesh, app.raster_faces, app.raster
    band = _lower_face_band(identity, 0.1)
    photo = identity.photo.copy()
    photo[band] = rgb
    baked = ap.bake_photo(mesh, pose, photo, raster.size, person=identity.person)
    texels = ap._Texels.of(mesh, faces, raster)
    seen, xy, _, _, _ = ap._seen_texels(mesh, pose, photo, faces, mesh.vertex_normals(),
                                        raster, texels, identity.person)
    ix, iy = xy[:, 0].astype(int), xy[:, 1].astype(int)
    on = texels.face.reshape(-1)[seen] & band[iy, ix]
    assert on.sum() > 200
    albedo = baked.albedo.reshape(-1, 3).astype(np.float32)
    painted = np.abs(albedo[seen[on]] - np.float32(rgb)).max(-1) < 20
    assert painted.mean() < 0.1, f"{painted.mean():.0%} of the band's texels keep its colour"
    # Deep inside the face (the cheeks, nose and mouth, far from the band), the bake is the
    # photo's: the test does not touch skin it has no reason to doubt.
    far = texels.face.reshape(-1)[seen] & ~cv2.dilate(band.astype(np.uint8), np.ones((41, 41),
                                                                                  np.uint8)
                                                     ).astype(bool)[iy, ix]
    np.testing.assert_array_equal(baked.confidence.reshape(-1)[seen[far]],
                                  app.confidence.reshape(-1)[seen[far]])
