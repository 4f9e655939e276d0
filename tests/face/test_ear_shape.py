"""The head's ears are shaped as ears (pain3d <= 0.11: a cupped, flattened ellipsoid whose
folds were only painted): measured on the subdivided template, in the frame of the ear's
own outline, at the island coordinates the texture paints the folds at."""

from __future__ import annotations

import numpy as np


def _left_ear():
    """Fine left-ear points (cm), their outline coordinates (r, azimuth in degrees: 0 toward
    the face, 90 up; r = 1 at the outline) and their heights above the outline's plane (cm,
    outward)."""
    from pain3d.face.head import ISLAND_CENTRES, ISLAND_RADIUS, head_template

    t = head_template()
    fine = t.subdivide @ t.coarse
    ear = np.flatnonzero((t.fine_part == 4) & (fine[:, 0] > 0))
    d = t.uv[ear].astype(np.float64) - ISLAND_CENTRES["ear"]
    theta = np.pi * np.hypot(d[:, 0], d[:, 1]) / ISLAND_RADIUS
    az = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 360.0
    p = fine[ear]
    # The outline's plane: over the top and back and round the lobule (in front the ear
    # runs into the head).
    outline = (np.abs(theta - np.pi / 2) < 0.08) & (az > 60) & (az < 300)
    c = p[outline].mean(0)
    normal = np.linalg.svd(p[outline] - c)[2][2]
    normal *= np.sign(normal[0])  # outward (the left ear is at x > 0)
    r = np.where(theta < np.pi / 2, np.sin(theta), 1.0)
    return p, r, az, theta < np.pi / 2, (p - c) @ normal


def test_the_ear_has_a_concha_bowl_below_its_helix_rim():
    """The concha (the bowl in front of the ear's middle, where its texture is darkest) lies
    at least 6 mm below the helix rim over the top and back of the ear (the ellipsoid: ~4 mm,
    its middle barely cupped)."""
    p, r, az, outer, h = _left_ear()
    x, y = r * np.cos(np.radians(az)), r * np.sin(np.radians(az))
    concha = outer & (np.hypot((x - 0.26) / 0.42, (y + 0.08) / 0.5) < 0.6)
    rim = outer & (np.abs(r - 0.93) < 0.04) & (az > 80) & (az < 200)
    assert concha.sum() >= 3 and rim.sum() >= 3
    assert np.median(h[rim]) - np.median(h[concha]) > 0.6, (h[rim], h[concha])
    assert 5.3 < np.ptp(p[:, 1]) < 6.6  # an adult ear's height, cm


def test_the_helix_rim_rises_above_the_scapha_inside_it():
    """Over the top and back of the ear the rim stands at least 1 mm above the groove just
    inside it (the ellipsoid rose steadily toward its middle: no rim)."""
    p, r, az, outer, h = _left_ear()
    arc = outer & (az > 80) & (az < 200)
    crest = arc & (np.abs(r - 0.93) < 0.04)
    groove = arc & (np.abs(r - 0.8) < 0.05)
    assert crest.sum() >= 3 and groove.sum() >= 3
    assert np.median(h[crest]) - np.median(h[groove]) > 0.1, (h[crest], h[groove])

