"""Eyebrows painted into the albedo as hairs.

A brow is a band along a gently arched centre line, from its head (over the inner corner
of the eye, near the nose) to its tail (past the outer corner). Its hairs lie along a flow:
they rise at the head, run outward (the lower ones a little up, the upper ones a little
down) along the body, and point outward and down at the tail. Each texel (about 0.9 mm
at 512 texels) holds hair where a streak noise, smeared along that flow, rises above the
local density, so the brow is densest and darkest at the body, sparse and lighter at the
head and the tail, the skin shows between hairs, and the top edge feathers out. Each
streak draws its own tone; grey brows mix grey and still-pigmented hairs.

The brow's coverage (for the part labels and the sheen) is the same soft band as before
this module; only the albedo's hairs changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from pain3d.appearance.paint import Canvas, blur_texels
from pain3d.ramps import smoothstep

BROW_HEAD = 0.021
"""Metres from an eye's centre to the head of its brow, toward the nose (hand-set)."""

BROW_TAIL = 0.024
"""Metres from an eye's centre to the tail of its brow, outward (hand-set)."""

HAIR_ANGLES = (75.0, 28.0, -18.0, -22.0)
"""Hand-set: the hairs' angle in degrees above the outward horizontal at the head, in the
body's lower half, in the body's upper half (the two halves meet in a shallow herringbone
along the centre line) and at the tail."""

STREAK_TAPS = 9
"""Hand-set: samples averaged along the hair flow per texel (0.6 texel apart: streaks about
5 texels, 4.5 mm, long at 512 texels)."""

HAIR_ALPHA = (0.55, 0.92, 0.6)
"""Hand-set: how much a texel fully covered by hair hides the skin at the head, the body
and the tail (the hairs at the ends are finer and lighter)."""

GREY_DARK_RGB = {"light": (0.16, 0.11, 0.08), "dark": (0.07, 0.06, 0.055)}
"""Hand-set: sRGB of the still-pigmented hairs among grey brows, on light skin (Monk 1-4,
dark brown) and on darker skin (near black)."""

GREY_SHARE = {"grey": (0.2, 0.4), "white": (0.4, 0.65)}
"""Hand-set: share of grey-white hairs in grey brows for grey and for white scalp hair, from
the lowest to the highest draw (brows grey later than scalp hair)."""


def brow_colour(hair_colour: str, hair_rgb: np.ndarray, u: float) -> np.ndarray:
    """(3,) mean colour of the brows (the lashes are painted from it); ``u`` in 0.7-1.6 is the
    grey brows' draw (unused for other colours)."""
    if hair_colour in ("white", "grey"):
        return np.asarray([0.16, 0.14, 0.13], np.float32) * u
    if hair_colour == "blond":
        return hair_rgb * 0.6
    return hair_rgb


def brow_centre(t: np.ndarray, brow_y: float) -> np.ndarray:
    """Height (metres) of the brow's centre line at ``t`` (0 head .. 1 tail)."""
    return brow_y + 0.004 * np.sin(np.pi * (t * 0.9 + 0.05)) - 0.002 * t


def brow_coverage(pos: np.ndarray, canvas: Canvas, lm, front: np.ndarray, eyeball: np.ndarray,
                  thick: float, density: float) -> np.ndarray:
    """(S, S) soft coverage of both brows in [0, 1] (the part labels' brow), strokes
    thinning to the tail, fading in over the head's first centimetre."""
    brow = np.zeros(pos.shape[:2], np.float32)
    for eye in (lm.eye_left, lm.eye_right):
        s = float(np.sign(eye[0]))
        xs = np.linspace(eye[0] - s * BROW_HEAD, eye[0] + s * BROW_TAIL, 9)
        t = np.linspace(0, 1, 9)
        ys = brow_centre(t, lm.brow_y)
        for i in range(8):
            width = thick * (1.0 - 0.7 * t[i]) * density
            canvas.stroke(brow, [xs[i], ys[i]], [xs[i + 1], ys[i + 1]],
                          max(width, 0.001) * 0.55, taper=0.02, mode="max")
    x = pos[..., 0]
    head = np.where(x > 0, lm.eye_left[0], -lm.eye_right[0]) - BROW_HEAD
    brow *= smoothstep(0.0, 0.011, np.abs(x) - head)
    return np.clip(brow * 1.5, 0, 1) * front * (1.0 - eyeball)


def _frame(pos: np.ndarray, lm, thick: float, density: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per texel of ``pos`` (..., 3): the position along its brow ``t`` (0 head .. 1 tail),
    the height over the centre line in units of the local half-thickness ``u``, and the side
    ``s`` (+1 the subject's left)."""
    x, y = pos[..., 0], pos[..., 1]
    s = np.where(x > 0, 1.0, -1.0).astype(np.float32)
    eye_x = np.where(x > 0, lm.eye_left[0], lm.eye_right[0])
    t = (s * (x - eye_x) + BROW_HEAD) / (BROW_HEAD + BROW_TAIL)
    sigma = thick * (1.0 - 0.7 * np.clip(t, 0, 1)) * density * 0.55
    u = (y - brow_centre(np.clip(t, 0, 1), lm.brow_y)) / np.maximum(sigma, 1e-4)
    return t.astype(np.float32), u.astype(np.float32), s


def hair_density(t: np.ndarray, u: np.ndarray, density: float) -> np.ndarray:
    """Share of skin covered by hair at ``t`` along the brow and ``u`` over its centre line
    (see :func:`_frame`): highest at the body, falling toward the head and the tail, a firm
    lower edge and a feathered top edge."""
    along = (0.45 + 0.55 * smoothstep(0.05, 0.3, t)) * (1.0 - 0.55 * smoothstep(0.45, 1.05, t))
    # The head starts with a few fine hairs over its first 7 mm, not along a cut.
    along *= smoothstep(-0.05, 0.12, t) * (1.0 - smoothstep(0.97, 1.08, t))
    spread = np.where(u > 0, 1.75, 1.3)  # the top edge feathers over more
    across = np.exp(-0.5 * (u / spread) ** 4)  # a full body, edges thinning out
    return (along * across * (0.7 + 0.3 * density)).astype(np.float32)


def _flow(t: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Hair angle (radians above the outward horizontal) at ``t``, ``u`` (see :func:`_frame`)."""
    head, low, high, tail = np.radians(HAIR_ANGLES)
    body = low + (high - low) * smoothstep(-0.6, 0.6, u)
    ang = head + (body - head) * smoothstep(0.02, 0.25, t)
    return (ang + (tail - ang) * smoothstep(0.6, 0.95, t)).astype(np.float32)


def _streaks(fields: np.ndarray, dcol: np.ndarray, drow: np.ndarray) -> np.ndarray:
    """``fields`` (H, W, C) averaged along the per-texel step (``dcol``, ``drow``) in texels,
    :data:`STREAK_TAPS` bilinear samples centred on each texel (line-integral convolution)."""
    h, w = fields.shape[:2]
    col, row = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = np.zeros_like(fields)
    for j in range(STREAK_TAPS):
        k = (j - (STREAK_TAPS - 1) / 2) * 0.6
        out += cv2.remap(fields, col + k * dcol, row + k * drow, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT).reshape(out.shape)
    return out / STREAK_TAPS


def _uniform(z: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Streak noise to roughly uniform [0, 1] (standardised over ``mask``, logistic CDF)."""
    m, sd = float(z[mask].mean()), float(z[mask].std()) + 1e-6
    return 1.0 / (1.0 + np.exp(-1.7 * (z - m) / sd))


def paint_brow_hairs(albedo: np.ndarray, pos: np.ndarray, lm, coverage: np.ndarray,
                     follicle: np.ndarray, brow_rgb: np.ndarray,
                     hair_colour: str, hair_rgb: np.ndarray, grey_u: float, dark_skin: bool,
                     thick: float, density: float, mix) -> None:
    """Paint both brows' hairs into ``albedo`` (S, S, 3) in place.

    Args:
        pos: (S, S, 3) position map; ``lm`` the face's landmarks.
        coverage: (S, S) brow coverage (:func:`brow_coverage`): bounds where hairs go.
        follicle: (S, S) uniform noise of the identity: where the hair streaks fall and
            each streak's tone.
        brow_rgb: (3,) brow colour (:func:`brow_colour`); ``hair_colour``, ``hair_rgb`` the
            scalp hair's; ``grey_u`` the grey brows' draw in 0.7-1.6 (their grey share).
        dark_skin: the skin is Monk 5 or darker (grey brows' pigmented hairs near black).
        thick, density: the brow's thickness (metres) and density trait.
        mix: ``mix(dst, colour, alpha)`` painting (S, S, 3) or (3,) colour in place.
    """
    near = blur_texels((coverage > 0.01).astype(np.float32), 3.0) > 0.01
    rows, cols = np.nonzero(near)
    if len(rows) < 8:
        return
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    p = pos[r0:r1, c0:c1]
    ok = near[r0:r1, c0:c1] & np.isfinite(p).all(-1)
    t, u, s = _frame(np.nan_to_num(p), lm, thick, density)
    # The flow in texels: each side's texel grid fitted as an affine map of (x, y).
    ang = _flow(t, u)
    dx, dy = s * np.cos(ang), np.sin(ang)
    gc, gr = np.meshgrid(np.arange(c1 - c0, dtype=np.float32),
                         np.arange(r1 - r0, dtype=np.float32))
    dcol, drow = np.zeros_like(t), np.zeros_like(t)
    for side in (1.0, -1.0):
        m = ok & (s == side)
        if m.sum() < 8:
            continue
        xy1 = np.stack([p[..., 0][m], p[..., 1][m], np.ones(int(m.sum()), np.float32)], 1)
        a, *_ = np.linalg.lstsq(xy1.astype(np.float64),
                                np.stack([gc[m], gr[m]], 1).astype(np.float64), rcond=None)
        step = np.stack([dx, dy], -1) @ a[:2].astype(np.float32)  # texels per metre of flow
        step /= np.linalg.norm(step, axis=-1, keepdims=True) + 1e-6
        dcol = np.where(m, step[..., 0], dcol)
        drow = np.where(m, step[..., 1], drow)
    # Each streak's tone: a second white noise from the same draw (the follicle draw's
    # low digits, independent of its value at this scale).
    fol = follicle[r0:r1, c0:c1]
    noise = np.stack([fol, (fol * 97.0) % 1.0], -1).astype(np.float32)
    lic = _streaks(noise, dcol, drow)
    where = _uniform(lic[..., 0], ok)
    tone = _uniform(lic[..., 1], ok)
    dens = hair_density(t, u, density) * ok
    # A texel shows hair where the streak noise clears the local density: a soft threshold.
    hairs = smoothstep(-0.08, 0.08, where - (1.0 - dens)) * (dens > 0.02)
    alpha_max = HAIR_ALPHA[0] + (HAIR_ALPHA[1] - HAIR_ALPHA[0]) * smoothstep(0.0, 0.3, t)
    alpha_max = alpha_max + (HAIR_ALPHA[2] - alpha_max) * smoothstep(0.55, 1.0, t)
    # Under the hairs, the body's dense hairs (finer than a texel) shade the skin as a tone.
    alpha = np.clip((0.75 * hairs + 0.55 * dens ** 1.5) * alpha_max, 0, 0.95)
    colour, hide = _hair_tones(tone, t, brow_rgb, hair_colour, hair_rgb, grey_u, dark_skin)
    alpha *= hide
    sub = albedo[r0:r1, c0:c1].copy()
    mix(sub, colour, alpha.astype(np.float32))
    albedo[r0:r1, c0:c1] = sub


def _hair_tones(tone: np.ndarray, t: np.ndarray, brow_rgb: np.ndarray, hair_colour: str,
                hair_rgb: np.ndarray, grey_u: float, dark_skin: bool
                ) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) colour of the hair at each texel from its streak's ``tone`` in [0, 1], and
    (H, W) how much it hides the skin: grey brows mix pigmented hairs and finer, translucent
    grey-white ones (more the whiter the scalp hair and the larger ``grey_u``); other brows
    spread about their colour, darker at the body than at the head and the tail."""
    body = 1.0 - 0.15 * (1.0 - smoothstep(0.0, 0.3, t)) - 0.1 * smoothstep(0.6, 1.0, t)
    if hair_colour in ("white", "grey"):
        lo, hi = GREY_SHARE[hair_colour]
        share = lo + (hi - lo) * float(np.clip((grey_u - 0.7) / 0.9, 0, 1))
        grey = np.asarray(hair_rgb, np.float32) * 0.55
        dark = np.asarray(GREY_DARK_RGB["dark" if dark_skin else "light"], np.float32)
        is_grey = smoothstep(-0.05, 0.05, share - tone)
        col = (dark + (grey - dark) * is_grey[..., None]) * (0.85 + 0.3 * tone)[..., None]
        return np.clip(col, 0, 1), 1.0 - 0.6 * is_grey
    spread = 0.7 + 0.6 * tone  # dark to light hairs about the brow's colour
    shade = (spread / body)[..., None]
    return np.clip(np.asarray(brow_rgb, np.float32) * shade, 0, 1), np.ones_like(tone)
