"""The shape of photo identities' hair: lumps and locks, not a smooth helmet."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

SIZE = 512


@pytest.fixture(scope="module")
def even_hair(identity):
    """A person whose outline stands evenly 25 pixels off the fitted head's (the fitted
    head's silhouette dilated): the photo's camera, the fitted coarse head, the grown one."""
    from pain3d.face.builtin import mesh_from_coarse
    from pain3d.face.photo_hair import grow_to_hair

    pose, coarse = identity.fit.pose, identity.fit.coarse
    mesh = mesh_from_coarse(coarse)
    xy = np.round(pose.project(mesh.vertices.astype(np.float64))[:, :2] * 4).astype(np.int32)
    sil = np.zeros((SIZE, SIZE), np.uint8)
    for tri in xy[mesh.faces]:
        cv2.fillConvexPoly(sil, tri, 1, shift=2)
    person = cv2.dilate(sil, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (51, 51))) > 0
    return pose, coarse, grow_to_hair(coarse, pose, person)


def test_an_even_head_of_hair_grows_in_lumps_and_locks(even_hair):
    """The even head of hair's thickness on the crown changes from one coarse vertex to
    its neighbours by a lock's worth (the helmet until 0.11: a smooth function of the
    direction, each vertex within a few per cent of its six neighbours' mean)."""
    from pain3d.face.head import head_template

    _, coarse, grown = even_hair
    skull = np.isin(head_template().part, (3, 6))
    pts = coarse[skull]
    thick = np.linalg.norm(grown[skull] - pts, axis=1)
    nb = np.argsort(np.linalg.norm(pts[:, None] - pts[None], axis=-1), axis=1)[:, 1:7]
    around = thick[nb].mean(1)
    # On the crown: above the ears and behind the forehead, where the growth is full.
    crown = (around > 0.5) & (pts[:, 1] > 3.0) & (pts[:, 2] < -4.0)
    assert crown.sum() >= 30
    rel = (thick[crown] - around[crown]) / around[crown]
    assert rel.std() > 0.15
