"""The hair volume of a photo identity: the fitted head's skull grown out to the person's
silhouette in the photo, so that turned views show a head of the photo's size, not a bald
skull under a painted cap.

The head fit (:mod:`pain3d.face.photo_fit`) places a generic skull behind the face; a full
head of hair stands centimetres off it. Around the head's centre in the photo, each
direction compares how far the fitted head reaches (face, skull and ears) with how far the
person reaches (:meth:`pain3d.face.tracker.FaceTracker.person`, at most :data:`MAX_GROWTH`
times the head's); the skull's vertices that project in that direction stand off the
skull, along its radii, by the centimetres the difference is at the head's distance,
unevenly in lumps and locks (:func:`_lumps`; the hair is no smooth helmet), fully from
:data:`FACE_CLEARANCE_CM` off the face and above the ears' top, fading out to none at the
face, toward the jaw's height (:data:`EAR_BAND_CM`) and in the directions near straight
down (:data:`NECK_WEDGE_DEG`): a bob's ends and long hair beside the jaw and neck are not
modelled. Below its widest point the hair hangs (:func:`_hang`): it tapers evenly into the
skull the neck joins, not in a shelf; below the skull's centre it drops as a curtain of
locks of their own lengths (:data:`LOCK_DROOP`), over the ears, not under a flat brim. The
back of the head, which the photo does not show, grows as the outline beside it does. The
face, ears, neck and the rig are untouched, so labels and the photo's own view do not
change.

Pure numpy and OpenCV, on the coarse head (cm) before
:func:`pain3d.face.builtin.mesh_from_coarse`.
"""

from __future__ import annotations

import cv2
import numpy as np

from pain3d.ramps import smoothstep

MAX_GROWTH = 1.5
"""Hand-set: the skull grows at most this many times its distance from its centre (an
afro's full volume is beyond what a shell of the skull can hold without folding)."""

FACE_CLEARANCE_CM = 4.0
"""Hand-set: skull vertices this far from the nearest face vertex (cm) take the full
growth, those at the face none (smoothstep between): the hairline and the temples stay
where the fit put them."""

EAR_BAND_CM = (-9.0, 3.0)
"""Hand-set head-frame heights (cm; the ears span about -5 to +1): skull vertices below the
first take no growth, above the second the full growth."""

NECK_WEDGE_DEG = (60.0, 80.0)
"""Hand-set: directions in the photo within the first angle of straight down from the head's
centre do not grow (below the ears the person goes on into the neck and the shoulders),
from the second on (10 degrees below the horizontal) they grow fully."""

LUMPS = (0.3, 25.0, 0.12, 0.3)
"""Hand-set: the hair's irregularity in its thickness (:func:`_lumps`): the spread of the
lumps (a fraction of the standoff), their width (degrees around the skull's centre, about
4 cm on the crown), the spread of each coarse vertex's own lock (a fraction of the
standoff), and the least fraction of the standoff any vertex keeps."""

LOCK_DROOP = 1.0
"""Hand-set: at the hair's lower edge each lock hangs down by up to this many times its
standoff (uniformly at random per coarse vertex, fixed seed; none where the edge's band is
full, above the ears)."""

_LUMP_COUNT = 60  # random directions the lumps are centred on

_HANG_BINS = 36
"""Azimuths (10 degrees each) around the skull's vertical axis in which the hair hangs
from its widest point (:func:`_hang`)."""
_BINS = 180  # directions around the head's centre in the photo (2 degrees each)
_SMOOTH_BINS = 3.0  # Gaussian smoothing of the growth over directions (bins)


def grow_to_hair(coarse: np.ndarray, pose, person: np.ndarray) -> np.ndarray:
    """(Vc, 3) cm: ``coarse`` with its skull grown out to the person's silhouette.

    Args:
        coarse: (Vc, 3) fitted coarse head, cm, head frame (:class:`HeadFit.coarse
            <pain3d.face.photo_fit.HeadFit>`).
        pose: the photo's camera (:class:`pain3d.face.photo_fit.PinholePose`).
        person: (H, W) bool, the photo's person pixels.
    """
    from pain3d.face.head import head_template

    tpl = head_template()
    out = np.array(coarse, np.float64)
    skull = np.isin(tpl.part, (3, 6))  # the shell and the occiput's cap
    centre = out[skull].mean(0)
    c2 = pose.project(centre[None] * 0.01)[0, :2]
    reach = _reach(out, pose, c2)
    # Where the hair should reach in each direction: as far as the person, at most
    # MAX_GROWTH times the fitted head; straight down (the neck, the body) no further.
    down = np.abs((np.arange(_BINS) + 0.5) / _BINS * 360.0 - 90.0)
    growth = np.clip(_person_reach(person, c2, reach) / np.maximum(reach, 1.0), 1.0,
                     MAX_GROWTH)
    growth = 1.0 + (growth - 1.0) * smoothstep(0.0, 1.0, (down - NECK_WEDGE_DEG[0])
                                                  / (NECK_WEDGE_DEG[1] - NECK_WEDGE_DEG[0]))
    target = np.maximum(_smooth_circular(growth, _SMOOTH_BINS), 1.0) * reach
    pts = out[skull]
    face = out[tpl.part == 0]
    near = np.min(np.linalg.norm(pts[:, None] - face[None], axis=-1), axis=1)
    band = smoothstep(0.0, 1.0, (pts[:, 1] - EAR_BAND_CM[0]) / (EAR_BAND_CM[1] - EAR_BAND_CM[0]))
    weight = smoothstep(0.0, 1.0, near / FACE_CLEARANCE_CM) * band
    # The hair is a layer over the skull: each direction's missing reach (pixels) becomes
    # centimetres of standoff along the skull's radii (the outline's scale at the head's
    # distance), uneven by the lumps and locks. Three rounds: the front comes nearer the
    # camera and looks larger, and the lumps' peaks reach the target, their dips not.
    unit = (pts - centre) / np.maximum(np.linalg.norm(pts - centre, axis=1, keepdims=True),
                                       1e-9)
    bins = _direction(pose.project(pts * 0.01)[:, :2], c2)
    px_per_cm = pose.focal_px * 0.01 / max(pose.distance, 1e-6)
    lumps, tips = _lumps(np.flatnonzero(skull), unit)
    standoff = np.zeros(_BINS)
    for _ in range(3):
        standoff = np.maximum(standoff + (target - _reach(out, pose, c2)) / px_per_cm, 0.0)
        grow = standoff[bins] * weight * lumps
        out[skull] = np.where(grow[:, None] > 0.0, pts + unit * grow[:, None], pts)
    out[skull] = _hang(pts, out[skull], centre, smoothstep(0.0, 1.0, near / FACE_CLEARANCE_CM))
    # Below the skull's centre the hair's underside hangs down as a curtain of locks of
    # their own lengths (a ragged lower edge over the ears, not a flat brim under a bowl):
    # each vertex drops by up to LOCK_DROOP times how far it stands out sideways.
    side = np.hypot(*(out[skull] - pts)[:, [0, 2]].T)
    drop = LOCK_DROOP * (0.5 + 0.5 * tips) * side * smoothstep(0.0, 1.0, -unit[:, 1] / 0.5)
    out[skull, 1] -= drop
    return out


def _lumps(index: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """(N,) factors on the hair's standoff at the coarse skull vertices ``index`` (N,) whose
    directions from the skull's centre are ``unit`` (N, 3): lumps a few centimetres across
    (:data:`LUMPS`' first two; a sum of Gaussian bumps at :data:`_LUMP_COUNT` random
    directions) and a lock's worth of its own at each vertex (its third; the subdivided
    mesh rounds it into a tuft), so that the hair is no smooth dome and its outline breaks
    into locks. Mean about 1, at least :data:`LUMPS`' fourth. Fixed seed: the same template
    vertex stands out as far, relative to the standoff, on every head."""
    from pain3d.face.head import head_template

    rng = np.random.default_rng(7)
    spread, width, lock, floor = LUMPS
    dirs = rng.standard_normal((_LUMP_COUNT, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    amp = rng.standard_normal(_LUMP_COUNT)
    bumps = np.exp((unit @ dirs.T - 1.0) / np.radians(width) ** 2) @ amp
    bumps = (bumps - bumps.mean()) / max(float(bumps.std()), 1e-9)
    own = rng.standard_normal(len(head_template().part))[index]
    return np.maximum(1.0 + spread * bumps + lock * own, floor), rng.random(len(
        head_template().part))[index]


def _hang(fitted: np.ndarray, grown: np.ndarray, centre: np.ndarray, weight: np.ndarray
          ) -> np.ndarray:
    """(N, 3) skull vertices: ``grown``'s below its widest point hung from it, so that the
    hair tapers evenly into the fitted skull (``fitted``) toward the skull's lowest grown
    height, not in a shelf just below the ears.

    Around the vertical axis through ``centre``, each of :data:`_HANG_BINS` azimuths takes
    its widest grown vertex; a vertex below it moves out horizontally (times ``weight``,
    (N,): none at the face; and in part where the widest point grew under 1 cm) to at
    least the straight line from that widest radius to its own fitted radius at the
    azimuth's lowest skull vertex (the ring the neck joins), or at :data:`EAR_BAND_CM`'s
    lower height where the skull goes lower (nothing grows there).
    """
    d = grown - centre
    r_fit = np.hypot(fitted[:, 0] - centre[0], fitted[:, 2] - centre[2])
    r = np.hypot(d[:, 0], d[:, 2])
    az = np.minimum(((np.arctan2(d[:, 0], d[:, 2]) % (2 * np.pi)) / (2 * np.pi)
                     * _HANG_BINS).astype(int), _HANG_BINS - 1)
    widest, fit_widest = np.zeros(_HANG_BINS), np.zeros(_HANG_BINS)
    np.maximum.at(widest, az, r)
    np.maximum.at(fit_widest, az, r_fit)
    at = np.full(_HANG_BINS, EAR_BAND_CM[1])
    for b in np.unique(az):  # the height of each azimuth's widest vertex
        i = np.flatnonzero(az == b)
        at[b] = grown[i[np.argmax(r[i])], 1]
    low = np.full(_HANG_BINS, np.inf)
    np.minimum.at(low, az, fitted[:, 1])
    low = np.maximum(np.where(np.isfinite(low), low, EAR_BAND_CM[0]), EAR_BAND_CM[0])
    # Hair that barely stands off the skull hangs in part (a bald head not at all): fully
    # from 1 cm of growth at the azimuth's widest point.
    weight = weight * np.clip(widest - fit_widest, 0.0, 1.0)[az]
    widest = _smooth_circular(widest, 1.0)
    at = np.maximum(at, low + 1.0)
    t = np.clip((grown[:, 1] - low[az]) / (at[az] - low[az]), 0.0, 1.0)
    line = r_fit + (widest[az] - r_fit) * t
    below = grown[:, 1] < at[az]
    scale = np.where(below & (line > r), 1.0 + (line / np.maximum(r, 1e-6) - 1.0) * weight,
                     1.0)
    out = grown.copy()
    out[:, 0] = centre[0] + d[:, 0] * scale
    out[:, 2] = centre[2] + d[:, 2] * scale
    return np.where((scale > 1.0)[:, None], out, grown)


def _reach(coarse: np.ndarray, pose, c2: np.ndarray) -> np.ndarray:
    """(_BINS,) pixels from ``c2`` to the rendered head's outline in each direction: the
    farthest of the subdivided mesh's vertices but the neck's."""
    from pain3d.face.head import head_template

    tpl = head_template()
    fine = tpl.subdivide @ coarse
    xy = pose.project(fine[tpl.fine_part != 5] * 0.01)[:, :2]
    reach = np.zeros(_BINS)
    np.maximum.at(reach, _direction(xy, c2), np.hypot(*(xy - c2).T))
    # The skull's vertices are centimetres apart: a direction between two of them takes
    # the farthest within 3 bins either side (the outline barely turns over 6 degrees).
    return np.max([np.roll(reach, k) for k in range(-3, 4)], axis=0)


def _direction(xy: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """(N,) bin of each point's direction from ``c2`` (image angle, y down, as
    ``cv2.warpPolar``'s rows)."""
    angle = np.arctan2(xy[:, 1] - c2[1], xy[:, 0] - c2[0]) % (2 * np.pi)
    return np.minimum((angle / (2 * np.pi) * _BINS).astype(int), _BINS - 1)


def _person_reach(person: np.ndarray, c2: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """(_BINS,) pixels from ``c2`` to where the person ends in each direction, looking from
    0.9 of the head's own ``reach`` outward; where the person runs out of the frame, the
    frame's edge (what the photo shows of the hair)."""
    h, w = person.shape
    radius = int(np.ceil(np.hypot(max(c2[0], w - c2[0]), max(c2[1], h - c2[1])))) + 1
    polar = cv2.warpPolar(person.astype(np.uint8), (radius, _BINS), (float(c2[0]), float(c2[1])),
                          radius, cv2.WARP_POLAR_LINEAR | cv2.INTER_NEAREST) > 0
    inside = cv2.warpPolar(np.ones((h, w), np.uint8), (radius, _BINS),
                           (float(c2[0]), float(c2[1])), radius,
                           cv2.WARP_POLAR_LINEAR | cv2.INTER_NEAREST) > 0
    r = np.arange(radius)[None, :]
    beyond = r >= (0.9 * reach)[:, None]
    # The first sample beyond the start that is not the person (background or off-frame).
    stop = beyond & ~(polar & inside)
    first = np.where(stop.any(1), np.argmax(stop, axis=1), radius)
    return first.astype(np.float64)


def _smooth_circular(x: np.ndarray, sigma: float) -> np.ndarray:
    half = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    return np.convolve(np.r_[x[-half:], x, x[:half]], k / k.sum(), "valid")
