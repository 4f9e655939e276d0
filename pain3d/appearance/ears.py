"""The ear's form, painted: one island of the head's UV layout serves both ears
(:data:`pain3d.face.head.ISLAND_CENTRES` ``"ear"``; the right ear's UVs are the left one's
mirror image, so a texel is the same point of either ear). The generic ear is shaped as an
ear (:func:`pain3d.face.head._ear`: helix rim, scapha, antihelix, concha, tragus, lobule,
:func:`pain3d.face.head.ear_height_cm`), but its ~1,000 triangles round its folds off; the
same folds, at the same island coordinates, are painted on it as shading (:func:`ear_form`:
photo identities, whose ear islands are unlit, and procedural albedo: mostly the shadow of
the concha and the grooves, which the shaders' lighting does not cast, and the reddish light
through the thin rim) and as fine relief for the shader's bump mapping (:func:`ear_relief`).

Island coordinates: the polar angle from the ear's outward axis grows linearly with the
distance from the island's centre, 90 degrees at half its radius; azimuth 0 = toward the
face, 90 = up.
"""

from __future__ import annotations

import numpy as np

from pain3d.face.head import ISLAND_CENTRES, ISLAND_RADIUS, ear_arc


def _form(uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) shading factor of the ear's folds (1 = the skin's tone; above 1 raised and lit,
    below 1 in a groove or the concha) and (N,) polar angle, at (N, 2) island UVs."""
    cu, cv = ISLAND_CENTRES["ear"]
    du, dv = uv[:, 0] - cu, uv[:, 1] - cv
    theta = np.pi * np.hypot(du, dv) / ISLAND_RADIUS
    az = np.arctan2(dv, du)
    r = np.sin(np.minimum(theta, np.pi / 2))  # radius in the ear's outline, 1 at its edge
    x, y = r * np.cos(az), r * np.sin(az)  # x toward the face, y up
    deg = np.degrees(az) % 360.0

    def bump(t, c, w):
        return np.exp(-0.5 * ((t - c) / w) ** 2)

    helix = ear_arc(deg, 40.0, 255.0)  # front-top, over the top and down the back to the lobule
    # The geometry lights the raised folds; the paint mostly shades the hollows.
    f = 1.0 + 0.06 * bump(r, 0.93, 0.05) * helix  # the helix rim
    f -= 0.12 * bump(r, 0.8, 0.045) * helix  # the scapha's groove inside it
    f += 0.03 * bump(r, 0.6, 0.06) * ear_arc(deg, 70.0, 240.0)  # antihelix
    # Concha: the bowl in front of the antihelix, deepest at the ear canal.
    # A flat-bottomed bowl with a soft rim (a cone would read as a dimple).
    q = np.hypot((x - 0.26) / 0.42, (y + 0.08) / 0.5)
    rim = np.clip((1.0 - q) / 0.35, 0.0, 1.0)
    f -= 0.3 * rim * rim * (3.0 - 2.0 * rim) + 0.18 * np.exp(-0.5 * q * q / 0.05)
    f += 0.08 * np.exp(-0.5 * np.hypot((x - 0.78) / 0.1, (y + 0.12) / 0.14) ** 2)  # tragus
    f += 0.05 * bump(r, 0.8, 0.15) * ear_arc(deg, 255.0, 300.0, 15.0)  # lobule: soft, fleshy
    f -= 0.1 * bump(r, 1.0, 0.04)  # the outline, where the ear turns away
    return f, theta


EAR_RIM_RED = np.array([1.03, 0.98, 0.97])
"""Hand-set tint of the helix rim's and lobule's thin skin (light through it comes out red);
1 elsewhere."""


def ear_form(uv: np.ndarray) -> np.ndarray:
    """(N, 3) float32 multiplicative shading of an ear seen from the side, at (N, 2) UVs of
    the ear island: a dark concha bowl toward the front, a light helix rim with the scapha's
    groove inside it, the antihelix, a tragus, a lobule, a darker back facing the head, and
    the rim and lobule a little redder (:data:`EAR_RIM_RED`).

    1 is the skin's tone; shadows are redder (light scattered through skin), so the
    darkening is weaker in red than in green and blue.
    """
    f, theta = _form(uv)
    back = np.clip((theta - np.pi / 2) / (np.pi / 2), 0.0, 1.0)
    f = f * (1.0 - 0.45 * back)  # the back faces the head: in its shadow
    f = np.clip(f, 0.25, 1.2)[:, None]
    out = np.where(f < 1.0, f ** np.array([0.85, 1.1, 1.2]), f)
    r = np.sin(np.minimum(theta, np.pi / 2))
    cu, cv = ISLAND_CENTRES["ear"]
    deg = np.degrees(np.arctan2(uv[:, 1] - cv, uv[:, 0] - cu))
    helix_and_lobule = ear_arc(deg, 40.0, 300.0)
    thin = np.clip((r - 0.9) / 0.08, 0.0, 1.0) * (theta < 1.9) * helix_and_lobule
    return (out * (1.0 + thin[:, None] * (EAR_RIM_RED - 1.0))).astype(np.float32)


EAR_RELIEF = 0.2
"""Height-map units (0.5 = flat; the shader's 1.2 mm per unit) per unit of the folds'
shading: sharpens the rim and the groove the geometry rounds off (the geometry carries the
concha's depth; 0.45, all the relief there was, up to pain3d 0.11). Hand-set by eye."""


def ear_relief(uv: np.ndarray) -> np.ndarray:
    """(N,) float32 height offsets of the ear's folds on its outer side, at (N, 2) island
    UVs: raised rims, sunken groove and concha (0 on the back, which faces the head)."""
    f, theta = _form(uv)
    outer = np.clip((np.pi / 2 - theta) / 0.3, 0.0, 1.0)
    return (EAR_RELIEF * (f - 1.0) * outer).astype(np.float32)
