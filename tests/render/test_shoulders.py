"""Procedural identities render as a person with shoulders in a garment, not a bust."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def portraits():
    """(rgb, mask, clothing rgb) of a frontal head-and-shoulders view of three identities."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities
    from pain3d.render import Renderer
    from pain3d.render.camera import Camera

    cam = Camera(yaw=0.0, pitch=5.0, distance=1.3, fov=20.0, target=(0.0, -0.06, -0.05))
    out = []
    with Renderer(96, auto_exposure=False) as r:
        for ident in sample_identities(3, 7):
            mesh = identity_mesh(ident)
            app = sample_appearance(ident, ident.seed, mesh=mesh, texture_size=256)
            res = r.render(mesh, app, cam)
            out.append((res.rgb, res.mask, np.asarray(app.traits.clothing_rgb)))
    return out


def test_garment_fills_the_bottom_corners_and_is_wider_than_the_neck(portraits):
    for rgb, mask, cloth in portraits:
        h, w = mask.shape
        bottom = mask[-3:] > 0
        # The shoulders reach (near) both bottom corners: main's flared neck ends mid-frame.
        assert bottom[:, : w // 6].any() and bottom[:, -w // 6:].any()
        cols = np.nonzero(mask[int(0.62 * h)] > 0)[0]  # just under the chin: the neck
        neck_w = cols.max() - cols.min() + 1
        shoulder_w = np.ptp(np.nonzero(bottom.any(0))[0]) + 1
        assert shoulder_w > 3.0 * neck_w
        # The bottom corners show the garment's hue (lit, so compared as directions).
        px = rgb[-3:, np.r_[: w // 5, -w // 5:]][bottom[:, np.r_[: w // 5, -w // 5:]]]
        d = px.astype(float).mean(0)
        cos = d @ cloth / (np.linalg.norm(d) * np.linalg.norm(cloth) + 1e-9)
        assert cos > 0.97


def test_no_gap_between_neck_and_shoulders(portraits):
    for _, mask, _ in portraits:
        h = mask.shape[0]
        rows = mask[h // 2:] > 0
        assert rows.any(1).all(), "a row of background between the head and the frame's bottom"
        for row in rows:  # one silhouette per row: no hole at a seam
            on = np.nonzero(row)[0]
            assert np.ptp(on) + 1 == len(on)
