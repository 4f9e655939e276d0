"""The built-in head: the canonical face completed into a whole head, built once.

Construction (all in centimetres, head frame, origin between the eye centres):

1. The canonical face with its eye and mouth openings cut open.
2. Eye sockets: each lid margin is extruded back onto the eyeball so that no gap shows.
3. Mouth interior: the inner lip line is extruded into a closed oral cavity.
4. Skull shell: rings from the face outline back to a pole at the occiput, blending from
   the face outline onto an ellipsoid skull.
5. Ears (closed surfaces shaped as ears: helix rim, concha, antihelix, tragus, lobule,
   :func:`_ear`) and the neck (a tube shaped to :data:`NECK_OUTLINE_CM`), separate surfaces
   that sink into the head.
6. One level of Loop subdivision (sharp lid margins and lip line), regions kept.
7. Eyeballs are added per identity (they are rigid spheres placed behind the lids).

UV layout (defined once, per vertex, no seams on the head): the head uses an azimuthal
chart around the forward axis from :data:`UV_CHART_CENTRE_CM` inside the skull,
``rho = 0.5 (alpha / pi)^0.6`` (alpha is the angle from +z), ``u = 0.5 + rho cos(beta)``,
``v = 0.5 + rho sin(beta)`` (beta the azimuth in the x-y plane), so the face appears as in a
frontal photo in the middle of the texture (subject's left at u > 0.5) and the occiput lies
on the rim. It is computed on the canonical face before the lips are closed, so the lip slit
and the eye openings are texture areas no skin uses; the mouth interior and the eye sockets
map into them (shrunk toward their centres). The corners hold separate islands, discs of radius
:data:`ISLAND_RADIUS` centred at :data:`ISLAND_CENTRES`: the subject's right eyeball at
top-left and left eyeball at top-right (pupil at the disc centre, ``rho = R (theta /
pi)^0.5`` with theta the angle from the gaze axis, so the iris edge at ~30 degrees lies at
~0.41 R), and both ears at bottom-right (``rho = R theta / pi`` around the ear's outward
axis), and the neck at bottom-left (the tube unrolled into an annulus: top edge at 0.3 R,
bottom edge at R, angle = azimuth around the neck axis, so it has no seam). The chart
itself is seam-free except at the occiput pole (a few hair-covered triangles there span
the rim).

Units here are centimetres; :func:`pain3d.face.identity_mesh` converts to metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from pain3d.face import landmarks as lm
from pain3d.face.mesh import REGIONS, region_id
from pain3d.face.subdivision import loop_subdivision
from pain3d.ramps import smoothstep

CM = 0.01
"""Metres per canonical unit (the canonical face is in centimetres)."""

ISLAND_RADIUS = 0.07
ISLAND_CENTRES: dict[str, tuple[float, float]] = {
    "eye_r": (0.075, 0.925),
    "eye_l": (0.925, 0.925),
    "ear": (0.925, 0.075),
    "neck": (0.075, 0.075),
}
UV_CHART_CENTRE_CM = np.array([0.0, 1.0, -7.0])
"""Centre of the head chart, on the line from the skull centre to the occiput pole, so the
chart's one singular direction falls inside the occiput cap."""
EYEBALL_RADIUS_CM = 1.5
"""Eyeball radius on the template head, cm, scaled per identity with the lid opening's width
(hand-set; 1.2, a real globe's, up to pain3d 0.8): the sphere spans the whole opening, lid
margins resting on it (:func:`pain3d.face.builtin.rest_lids_on_eyeballs`), where a real eye
shows a smaller globe and the caruncle; the renderer keeps the iris a real one's size."""
EYEBALL_RINGS, EYEBALL_SEGMENTS = 12, 20

NEUTRAL_EYE_OPENING = -0.6
"""Lid closure applied to the canonical face for the neutral pose (negative opens)."""

EAR_CENTRE_CM = np.array([8.4, -2.0, -8.0])
"""Centre of the subject's left ear (the right one is mirrored in x), cm."""

NECK_AXIS_Z_CM = -9.0
"""Depth of the plain neck tube's axis, cm: the centre its UVs unroll around and the
``neck_width`` shape field scales about (the shaped neck's axis leans, see
:data:`NECK_OUTLINE_CM`)."""
NECK_TOP_CM, NECK_BOTTOM_CM = -4.5, -24.0
"""Heights of the plain tube's top and bottom rows, cm: the neck's UVs unroll that tube."""
NECK_OUTLINE_CM = np.array([
    # y,  half-width, front z, back z (midline)
    [-4.5, 4.9, -3.9, -13.0],  # inside the head
    [-7.0, 4.8, -3.9, -13.1],
    [-9.5, 4.65, -3.9, -13.4],
    [-12.0, 4.65, -4.0, -13.8],  # just under the jaw: narrowest
    [-14.0, 5.1, -4.7, -14.2],
    [-16.0, 6.3, -5.0, -15.0],
    [-18.0, 8.3, -4.9, -16.4],  # the trapezius slopes and the chest begin
    [-21.0, 11.0, -4.0, -18.3],
    [-24.0, 13.5, -2.5, -19.6],
])  # fmt: skip
"""The neck's outline at the heights of the subdivided tube's rows, top to bottom, cm,
hand-set: a row's y, its half-width (x) and its midline front and back z; each row is the
ellipse through them. Narrowest just under the jaw and about as deep as wide there, its
axis leaning ~10 degrees forward from the base up, flaring at the base sideways and back into
the trapezius slopes and forward into the chest, so the nape is a concave curve;
:func:`_neck_outline` adds a low sternocleidomastoid ridge on each side (a plain cylinder of
radius 5.2 with a 1.3x flare below the frame up to pain3d 0.8)."""

SKULL_CENTRE_CM = np.array([0.0, 1.0, -7.5])
SKULL_AXES_CM = {"x": 8.0, "up": 10.5, "down": 8.0, "back": 9.5, "front": 9.5}


@dataclass(frozen=True)
class HeadTemplate:
    """The coarse head and its subdivision; eyeballs excluded.

    Attributes:
        coarse: (Vc, 3) float64 coarse vertices, cm, head frame.
        coarse_faces: (Fc, 3) int64.
        coarse_regions: (Vc,) uint8 region ids.
        part: (Vc,) int8 which construction piece: 0 face, 1 socket, 2 mouth, 3 shell,
            4 ear, 5 neck, 6 occiput cap.
        subdivide: (Vf, Vc) sparse operator, fine = subdivide @ coarse.
        faces: (Ff, 3) int64 fine triangles.
        regions: (Vf,) uint8 fine region ids.
        uv: (Vf, 2) float32 fine texture coordinates.
        eye_loops: {"r"/"l": (upper, lower)} coarse index arrays, outer to inner corner.
        fine_eye_loops: the same for the fine mesh (17 vertices per lid).
        mouth_loops: (upper, lower) coarse inner-lip index arrays, right to left corner.
        fine_mouth_loops: the same for the fine mesh.
        socket_of: (Vc,) int64, for socket vertices the lid-margin vertex they follow, else -1.
        mouth_follow: (Vc, 2) int64 / mouth_follow_w (Vc,) weight: the lip-line vertex each
            mouth-interior vertex follows and how much.
        shell_follow, shell_follow_w: the same for the first skull rings (follow the face
            outline, e.g. when the jaw drops).
        fine_part: (Vf,) int8 ``part`` of each fine vertex.
    """

    coarse: np.ndarray
    coarse_faces: np.ndarray
    coarse_regions: np.ndarray
    part: np.ndarray
    subdivide: sp.csr_matrix
    faces: np.ndarray
    regions: np.ndarray
    uv: np.ndarray
    eye_loops: dict
    fine_eye_loops: dict
    mouth_loops: tuple
    fine_mouth_loops: tuple
    socket_of: np.ndarray
    follow: np.ndarray
    follow_w: np.ndarray
    fine_part: np.ndarray

    @property
    def n_fine(self) -> int:
        return self.subdivide.shape[0]


def eye_origin_cm() -> np.ndarray:
    """(3,) canonical-frame point midway between the eye-opening centroids, cm."""
    v = lm.canonical_vertices()
    r = v[list(lm.EYE_R_UPPER + lm.EYE_R_LOWER)].mean(0)
    ell = v[list(lm.EYE_L_UPPER + lm.EYE_L_LOWER)].mean(0)
    return (r + ell) / 2


def _loop(upper: tuple[int, ...], lower: tuple[int, ...]) -> list[int]:
    """Closed loop: upper from first to last corner, then lower back (corners once)."""
    return list(upper) + list(lower[-2:0:-1])


def _directed_edges(faces: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])))


def _strip(outer: list[int], inner: list[int], existing: set) -> np.ndarray:
    """Triangles joining two closed loops of equal length, wound to match ``existing``."""
    n = len(outer)
    tris = []
    for i in range(n):
        j = (i + 1) % n
        tris += [(outer[i], outer[j], inner[j]), (outer[i], inner[j], inner[i])]
    tris = np.asarray(tris, dtype=np.int64)
    if (outer[0], outer[1]) in existing or (outer[1], outer[2]) in existing:
        tris = tris[:, ::-1]
    return tris


def _fan(loop: list[int], centre: int, existing: set) -> np.ndarray:
    n = len(loop)
    tris = np.asarray([(loop[i], loop[(i + 1) % n], centre) for i in range(n)], dtype=np.int64)
    if (loop[0], loop[1]) in existing:
        tris = tris[:, ::-1]
    return tris


def _ellipsoid_radius(d: np.ndarray) -> np.ndarray:
    """Skull radius along unit directions d (N, 3) from :data:`SKULL_CENTRE_CM`."""
    ax = SKULL_AXES_CM
    ay = np.where(d[:, 1] > 0, ax["up"], ax["down"])
    az = np.where(d[:, 2] > 0, ax["front"], ax["back"])
    return 1.0 / np.sqrt((d[:, 0] / ax["x"]) ** 2 + (d[:, 1] / ay) ** 2 + (d[:, 2] / az) ** 2)


def _sphere_grid(rings: int, segments: int,
                 theta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit sphere with poles on +z/-z: vertices (N, 3), faces CCW outward, polar angle (N,).
    The rings' polar angles are ``theta`` (rings - 1 values, excluding the poles) when given,
    else evenly spaced."""
    if theta is None:
        theta = np.linspace(0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    body = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, 1.0]], body, [[0, 0, -1.0]]])
    polar = np.concatenate([[0.0], t.reshape(-1), [np.pi]])
    idx = lambda r, s: 1 + r * segments + (s % segments)  # noqa: E731
    faces = []
    for s in range(segments):
        faces.append((0, idx(0, s), idx(0, s + 1)))
        for r in range(rings - 2):
            a, b, c, d = idx(r, s), idx(r + 1, s), idx(r + 1, s + 1), idx(r, s + 1)
            faces += [(a, b, c), (a, c, d)]
        last = len(verts) - 1
        faces.append((idx(rings - 2, s), last, idx(rings - 2, s + 1)))
    return verts, np.asarray(faces, dtype=np.int64), polar


@lru_cache(maxsize=1)
def unit_eyeball() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eyeball sphere with its front pole on +z: (N, 3) unit vertices, faces, polar angle."""
    return _sphere_grid(EYEBALL_RINGS, EYEBALL_SEGMENTS)


def island_uv(key: str, polar: np.ndarray, azimuth: np.ndarray, power: float = 0.5) -> np.ndarray:
    """UVs of a corner island disc: ``rho = R (polar / pi)^power`` around the island centre."""
    cu, cv = ISLAND_CENTRES[key]
    rho = ISLAND_RADIUS * np.clip(polar / np.pi, 0, 1) ** power
    return np.stack([cu + rho * np.cos(azimuth), cv + rho * np.sin(azimuth)], -1)


def head_chart_uv(points_cm: np.ndarray) -> np.ndarray:
    """(N, 2) head-chart UVs of points (N, 3), cm, head frame."""
    d = points_cm - UV_CHART_CENTRE_CM
    alpha = np.arctan2(np.hypot(d[:, 0], d[:, 1]), d[:, 2])
    beta = np.arctan2(d[:, 1], d[:, 0])
    rho = 0.5 * (alpha / np.pi) ** 0.6
    return np.stack([0.5 + rho * np.cos(beta), 0.5 + rho * np.sin(beta)], -1)


def loop_closure_field(
    points: np.ndarray,
    upper: np.ndarray,
    lower: np.ndarray,
    candidates: np.ndarray,
    mu: float,
    reach_up: float,
    reach_down: float,
    corner_mu: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Displacements that bring two margins (lids, lips) together, spread over the skin.

    The margins run corner to corner and share their corners. Pair k meets at
    ``lower_k + mu (upper_k - lower_k)``; skin above the upper margin (below the lower one)
    follows its nearest margin point with weight falling smoothly from 1 on the margin to 0
    at ``reach_up`` (``reach_down``).

    Args:
        points: (N, 3) positions.
        upper, lower: (K,) indices of the two margins, same length, same corners.
        candidates: (M,) indices allowed to move (margins included).
        mu: 0 meets at the lower margin, 1 at the upper one.
        reach_up, reach_down: falloff distances, units of ``points``.
        corner_mu: ``mu`` next to the corners (blending to ``mu`` over the outer quarters),
            so the meeting line does not dip below the corners where the skin beyond them
            would fold; default ``mu`` everywhere.

    Returns:
        upper_field, lower_field: (N, 3) displacement of full closure for each side.
    """
    up, lo = points[upper], points[lower]
    du, dl = _margin_closure(up, lo, mu, corner_mu)
    c0 = up[0]
    axis = (up[-1] - c0) / np.linalg.norm(up[-1] - c0)
    s_up, s_lo = (up - c0) @ axis, (lo - c0) @ axis
    p = points[candidates]
    s = (p - c0) @ axis
    mu_pos, ml_pos = _interp_columns(s_up, up, s), _interp_columns(s_lo, lo, s)
    fu, fl = _spread(p, s, s_up, du, mu_pos), _spread(p, s, s_lo, dl, ml_pos)
    wu, wl = _side_weights(p, mu_pos, ml_pos, axis, reach_up, reach_down)
    upper_field = np.zeros_like(points)
    lower_field = np.zeros_like(points)
    upper_field[candidates] = wu[:, None] * fu
    lower_field[candidates] = wl[:, None] * fl
    upper_field[upper] = du
    lower_field[lower] = dl
    lower_field[upper[[0, -1]]] = 0.0
    return upper_field, lower_field


def _margin_closure(up: np.ndarray, lo: np.ndarray, mu: float,
                    corner_mu: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) displacements of the upper and lower margin points to where pair k meets."""
    t = np.linspace(0.0, 1.0, len(up))
    near_corner = 1 - smoothstep(0.0, 1.0, np.minimum(t, 1 - t) / 0.25)
    mu_k = mu + ((mu if corner_mu is None else corner_mu) - mu) * near_corner
    meet = lo + mu_k[:, None] * (up - lo)
    return meet - up, meet - lo


def _interp_columns(sk: np.ndarray, vals: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(N, 3) values piecewise-linear in ``sk``, clamped at the ends (np.interp for 3 columns
    at once)."""
    order = np.argsort(sk)
    xs, vs = sk[order], vals[order]
    at = np.clip(at, xs[0], xs[-1])
    j = np.clip(np.searchsorted(xs, at, side="right") - 1, 0, len(xs) - 2)
    span = xs[j + 1] - xs[j]
    t = np.where(span > 0, (at - xs[j]) / np.where(span > 0, span, 1.0), 0.0)[:, None]
    return vs[j] * (1 - t) + vs[j + 1] * t


def _spread(p: np.ndarray, s: np.ndarray, sk: np.ndarray, vals: np.ndarray,
            margin_pos: np.ndarray) -> np.ndarray:
    """The margin's motion averaged over a window that widens with the distance from the
    margin, so skin away from the margin never shears faster than it is spaced."""
    d = np.linalg.norm(p - margin_pos, axis=1)
    offsets = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    taps = _interp_columns(sk, vals, (s[None] + offsets[:, None] * d[None]).ravel())
    return taps.reshape(len(offsets), len(s), 3).mean(0)


def _side_weights(p: np.ndarray, mu_pos: np.ndarray, ml_pos: np.ndarray, axis: np.ndarray,
                  reach_up: float, reach_down: float) -> tuple[np.ndarray, np.ndarray]:
    """How much each point follows the upper margin (above it) and the lower one (below it):
    1 on the margin, falling smoothly to 0 at the reach."""
    # "Up" is the direction from the lower margin to the upper one, per column.
    gap_dir = mu_pos - ml_pos
    gap_dir /= np.maximum(np.linalg.norm(gap_dir, axis=1, keepdims=True), 1e-9)
    fallback = np.cross(axis, [0.0, 0.0, 1.0])
    fallback = -fallback if fallback[1] < 0 else fallback
    small = np.linalg.norm(mu_pos - ml_pos, axis=1) < 1e-6
    gap_dir[small] = fallback
    above = ((p - mu_pos) * gap_dir).sum(1) >= -1e-9
    below = ((p - ml_pos) * gap_dir).sum(1) <= 1e-9
    du_dist = np.linalg.norm(p - mu_pos, axis=1)
    dl_dist = np.linalg.norm(p - ml_pos, axis=1)
    wu = np.where(above, 1 - smoothstep(0.0, 1.0, du_dist / reach_up), 0.0)
    wl = np.where(below & ~above, 1 - smoothstep(0.0, 1.0, dl_dist / reach_down), 0.0)
    return wu, wl


def _point_in_polygon(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """(N,) bool, 2D even-odd rule."""
    x, y = pts[:, 0][:, None], pts[:, 1][:, None]
    x0, y0 = poly[:, 0][None], poly[:, 1][None]
    x1, y1 = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]
    cross = (y0 > y) != (y1 > y)
    xint = x0 + (y - y0) * (x1 - x0) / np.where(y1 == y0, 1e-12, y1 - y0)
    return ((cross & (x < xint)).sum(1) % 2) == 1


def _face_regions(v: np.ndarray) -> np.ndarray:
    """(468,) region ids of the canonical face vertices v (cm, eye-origin head frame)."""
    x, y = v[:, 0], v[:, 1]
    ax = np.abs(x)
    reg = np.full(len(v), region_id("cheek"), dtype=np.uint8)
    reg[(y > 1.2) | ((ax > 5.6) & (y > -3.0))] = region_id("skin")
    reg[y > 1.9] = region_id("forehead")
    reg[(ax < 1.15) & (y > 0.75) & (y < 2.9)] = region_id("glabella")
    reg[list(lm.BROW_R + lm.BROW_L)] = region_id("brow")
    half_w = np.interp(y, [-4.9, -4.2, -3.4, -1.0, 0.8], [1.3, 2.0, 2.05, 1.2, 0.85])
    reg[(y > -4.9) & (y <= 0.75) & (ax < half_w)] = region_id("nose")
    lips_poly = v[list(lm.LIPS_UPPER_OUTER) + list(lm.LIPS_LOWER_OUTER[-2:0:-1])][:, :2]
    top = np.interp(x, lips_poly[:11, 0], lips_poly[:11, 1])
    reg[(ax < 2.9) & (y > top - 0.05) & (y <= -4.6) & ~(reg == region_id("nose"))] = region_id(
        "upper_lip_skin"
    )
    reg[(y < -8.1) | ((ax > 4.2) & (y < -6.0))] = region_id("chin_jaw")
    inside = _point_in_polygon(v[:, :2], lips_poly)
    reg[inside] = region_id("lips")
    reg[list(lm.LIPS_UPPER_OUTER + lm.LIPS_LOWER_OUTER)] = region_id("lips")
    for upper, lower in ((lm.EYE_R_UPPER, lm.EYE_R_LOWER), (lm.EYE_L_UPPER, lm.EYE_L_LOWER)):
        loop = v[list(upper + lower)]
        c = loop.mean(0)
        hw = np.linalg.norm(v[upper[0]] - v[upper[-1]]) / 2 + 0.45
        dy = y - c[1]
        inside = ((x - c[0]) / hw) ** 2 + (dy / np.where(dy > 0, 1.35, 0.85)) ** 2 < 1
        inside &= reg != region_id("brow")
        reg[inside & (dy > 0)] = region_id("upper_eyelid")
        reg[inside & (dy <= 0)] = region_id("lower_eyelid")
        reg[list(upper)] = region_id("upper_eyelid")
        reg[list(lower)] = region_id("lower_eyelid")
    return reg


# Which label a new edge vertex takes when its two ends differ: the higher rank wins, so
# small feature regions do not grow under subdivision.
_RANK = {
    "skin": 9, "neck": 9, "ear": 9, "cheek": 8, "forehead": 8, "chin_jaw": 8, "scalp": 7,
    "nose": 6, "glabella": 6, "upper_lip_skin": 6, "upper_eyelid": 6, "lower_eyelid": 6,
    "brow": 5, "lips": 5, "mouth_interior": 4, "eyeball": 3,
}  # fmt: skip
_RANK_ARR = np.array([_RANK[r] for r in REGIONS])


def _boundary_loop_from(faces: np.ndarray, start: int) -> list[int]:
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = set(map(tuple, directed))
    nxt = {int(a): int(b) for a, b in directed if (b, a) not in keys}
    loop = [start]
    while nxt[loop[-1]] != start:
        loop.append(nxt[loop[-1]])
    return loop


@lru_cache(maxsize=1)
def head_template() -> HeadTemplate:
    """Build (once per process) the coarse head, its subdivision, regions and UVs (the steps
    of the module docstring)."""
    face_v = lm.canonical_vertices() - eye_origin_cm()
    eyes = {"r": (lm.EYE_R_UPPER, lm.EYE_R_LOWER), "l": (lm.EYE_L_UPPER, lm.EYE_L_LOWER)}
    head = _Pieces(face_v, _open_face(eyes))
    _add_eye_sockets(head, face_v, eyes)
    _add_mouth_interior(head, face_v)
    cap_uv = _add_skull_shell(head, face_v)
    ear_uv = _add_ears_and_neck(head)
    head.verts[0] = _neutral_pose(face_v, head.regions[0])
    return _subdivided(head, eyes, ear_uv, cap_uv)


def _open_face(eyes: dict) -> np.ndarray:
    """(F, 3) triangles of the canonical face without those spanning the eye and mouth
    openings."""
    openings = [set(u + lo) for u, lo in eyes.values()] + [set(lm.MOUTH_UPPER + lm.MOUTH_LOWER)]
    keep = [not any(set(t) <= s for s in openings) for t in lm.canonical_triangles().tolist()]
    return lm.canonical_triangles()[np.asarray(keep)]


class _Pieces:
    """The coarse head as it is assembled: one entry per piece in each list, the vertex
    count so far, and the directed edges so far (new strips are wound to match them)."""

    def __init__(self, face_v: np.ndarray, face_tri: np.ndarray) -> None:
        n = len(face_v)
        self.face_tri = face_tri
        self.existing = _directed_edges(face_tri)
        self.verts, self.faces = [face_v], [face_tri]
        self.regions, self.parts = [_face_regions(face_v)], [np.zeros(n, np.int8)]
        self.uv_src = [face_v]  # points whose head-chart UV each vertex takes
        self.socket_of, self.follow = [np.full(n, -1)], [np.full(n, -1)]
        self.follow_w = [np.zeros(n)]
        self.n = n

    def add(self, v, f, reg, part, uv_src, sock=None, fol=None, fw=None) -> None:
        m = len(v)
        self.verts.append(v)
        self.faces.append(f)
        self.regions.append(reg)
        self.parts.append(np.full(m, part, np.int8))
        self.existing.update(_directed_edges(f))
        self.uv_src.append(uv_src)
        self.socket_of.append(np.full(m, -1) if sock is None else sock)
        self.follow.append(np.full(m, -1) if fol is None else fol)
        self.follow_w.append(np.zeros(m) if fw is None else fw)
        self.n += m

    def new_ring(self, size: int) -> list[int]:
        """Indices the next piece of ``size`` vertices will get."""
        return list(range(self.n, self.n + size))


def _add_eye_sockets(head: _Pieces, face_v: np.ndarray, eyes: dict) -> None:
    """Eye sockets: one ring just inside the eyeball, re-placed per identity."""
    for upper, lower in eyes.values():
        loop = _loop(upper, lower)
        p = face_v[loop]
        centre = p.mean(0)
        ring = centre + 0.55 * (p - centre) - np.array([0, 0, 0.5])
        idx = head.new_ring(len(loop))
        reg = np.where(np.isin(loop, upper), region_id("upper_eyelid"), region_id("lower_eyelid"))
        uv_src = centre + 0.6 * (p - centre)
        head.add(ring, _strip(loop, idx, head.existing), reg.astype(np.uint8), 1, uv_src,
                 sock=np.array(loop))


def _add_mouth_interior(head: _Pieces, face_v: np.ndarray) -> None:
    """An oral cavity behind the inner lip line (three rings and a cap). Its upper half rises
    behind the upper lip, its lower half drops behind the lower lip and follows it, so an
    open mouth shows the cavity, never the inside of the face."""
    loop = _loop(lm.MOUTH_UPPER, lm.MOUTH_LOWER)
    p = face_v[loop]
    centre = p.mean(0)
    upper_half = np.isin(loop, lm.MOUTH_UPPER[1:-1])
    lower_half = np.isin(loop, lm.MOUTH_LOWER[1:-1])
    sign = upper_half.astype(float) - lower_half.astype(float)
    interior = region_id("mouth_interior")
    prev = loop
    rings = ((0.95, 0.5, 0.5, 1.0), (0.85, 1.5, 1.3, 0.9), (0.6, 2.5, 1.5, 0.7))
    for k, (sx, depth, rise, w) in enumerate(rings):
        ring = p.copy()
        ring[:, 0] = centre[0] + sx * (p[:, 0] - centre[0])
        ring[:, 1] += sign * rise * np.cos(0.5 * np.pi * (p[:, 0] - centre[0]) / 3.0)
        ring[:, 2] = centre[2] + 0.4 * (p[:, 2] - centre[2]) - depth
        idx = head.new_ring(len(loop))
        uv_src = centre + (0.75 - 0.25 * k) * (p - centre)
        head.add(ring, _strip(prev, idx, head.existing),
                 np.full(len(loop), interior, np.uint8), 2, uv_src, fol=np.array(loop),
                 fw=np.full(len(loop), w))
        prev = idx
    cap = centre - np.array([0, 0, 2.9])
    head.add(cap[None], _fan(prev, head.n, head.existing), np.array([interior], np.uint8), 2,
             centre[None], fol=np.array([loop[0]]), fw=np.array([0.0]))


def _add_skull_shell(head: _Pieces, face_v: np.ndarray) -> np.ndarray:
    """Rings from the face outline to the occiput, blending from the outline onto the skull
    ellipsoid, then the occiput cap; returns the cap's (C, 2) UVs."""
    oval = _boundary_loop_from(head.face_tri, lm.FOREHEAD_TOP)
    d0 = face_v[oval] - SKULL_CENTRE_CM
    r0 = np.linalg.norm(d0, axis=1)
    d0 = d0 / r0[:, None]
    alpha0 = np.arccos(np.clip(d0[:, 2], -1, 1))
    beta = np.arctan2(d0[:, 1], d0[:, 0])
    excess = r0 - _ellipsoid_radius(d0)
    n_rings = 11
    prev = oval
    for j in range(1, n_rings + 1):
        # Rings crowd toward the occiput so the cap closing the last ring is tiny (~3 mm).
        t = 1 - (1 - j / (n_rings + 1)) ** 1.6
        alpha = alpha0 + (np.pi - alpha0) * t
        d = np.stack(
            [np.sin(alpha) * np.cos(beta), np.sin(alpha) * np.sin(beta), np.cos(alpha)], -1
        )
        r = _ellipsoid_radius(d) + excess * (1 - smoothstep(0.0, 1.0, t / 0.35))
        ring = SKULL_CENTRE_CM + r[:, None] * d
        idx = head.new_ring(len(oval))
        fw = np.full(len(oval), max(0.0, 1 - t / 0.3))
        head.add(ring, _strip(prev, idx, head.existing), _shell_regions(ring), 3, ring,
                 fol=np.array(oval), fw=fw)
        prev = idx
    # The occiput cap: a separate fan over duplicates of the last ring, so the head chart
    # has no singular pole (the cap's UVs sit inside the neck island's hole).
    pole = SKULL_CENTRE_CM - np.array([0, 0, SKULL_AXES_CM["back"]])
    cap_v = np.concatenate([np.concatenate(head.verts)[prev], pole[None]])
    fan = _fan(prev, -1, head.existing)  # wound as the shell continues across the last ring
    remap = {old: head.n + k for k, old in enumerate(prev)}
    remap[-1] = head.n + len(prev)
    head.add(cap_v, np.vectorize(remap.get)(fan), _shell_regions(cap_v), 6, cap_v)
    cap_uv = island_uv("neck", np.concatenate([np.full(len(prev), np.pi), [0.0]]),
                       np.concatenate([beta, [0.0]]), power=1.0)  # fmt: skip
    return ISLAND_CENTRES["neck"] + 0.25 * (cap_uv - ISLAND_CENTRES["neck"])


def _add_ears_and_neck(head: _Pieces) -> np.ndarray:
    """Both ears and the neck tube (separate surfaces sinking into the head); returns the
    ears' (E, 2) island UVs."""
    ear_uv = []
    for side in (-1.0, 1.0):
        ev, ef, uv = _ear(side)
        ear_uv.append(uv)
        head.add(ev, ef + head.n, np.full(len(ev), region_id("ear"), np.uint8), 4, ev)
    nv, nf, tube = _neck()
    head.add(nv, nf + head.n, np.full(len(nv), region_id("neck"), np.uint8), 5, tube)
    return np.concatenate(ear_uv)


def _subdivided(head: _Pieces, eyes: dict, ear_uv: np.ndarray,
                cap_uv: np.ndarray) -> HeadTemplate:
    """One level of Loop subdivision (sharp lid margins and lip line); fine regions (the
    hairline drawn at the fine resolution) and UVs (the chart subdivided linearly)."""
    coarse = np.concatenate(head.verts)
    coarse_faces = np.concatenate(head.faces)
    coarse_regions = np.concatenate(head.regions)
    part = np.concatenate(head.parts)
    uv_coarse = head_chart_uv(np.concatenate(head.uv_src))
    uv_coarse[np.nonzero(part == 4)[0]] = ear_uv
    neck_rows = np.nonzero(part == 5)[0]
    uv_coarse[neck_rows] = _neck_uv(np.concatenate(head.uv_src)[neck_rows])
    uv_coarse[part == 6] = cap_uv

    crease = []
    for upper, lower in list(eyes.values()) + [(lm.MOUTH_UPPER, lm.MOUTH_LOWER)]:
        for seq in (upper, lower):
            crease += list(zip(seq[:-1], seq[1:], strict=False))
    sub = loop_subdivision(coarse_faces, len(coarse), np.asarray(crease))
    ea, eb = sub.edges[:, 0], sub.edges[:, 1]
    ra, rb = coarse_regions[ea], coarse_regions[eb]
    edge_reg = np.where(_RANK_ARR[ra] >= _RANK_ARR[rb], ra, rb)
    fine_regions = np.concatenate([coarse_regions, edge_reg]).astype(np.uint8)
    fine_part = np.concatenate([part, np.maximum(part[ea], part[eb])]).astype(np.int8)
    # The hairline is drawn at the fine resolution (coarse labels would make it stepped).
    shell = np.nonzero((fine_part == 3) | (fine_part == 6))[0]
    fine_regions[shell] = _shell_regions((sub.matrix @ coarse)[shell])
    edge_key = {(int(a), int(b)): len(coarse) + i for i, (a, b) in enumerate(sub.edges)}

    def fine_seq(seq):
        out = [seq[0]]
        for a, b in zip(seq[:-1], seq[1:], strict=False):
            out += [edge_key[(min(a, b), max(a, b))], b]
        return np.asarray(out)

    return HeadTemplate(
        coarse=coarse, coarse_faces=coarse_faces, coarse_regions=coarse_regions, part=part,
        subdivide=sub.matrix, faces=sub.faces, regions=fine_regions,
        uv=(sub.matrix @ uv_coarse).astype(np.float32),
        eye_loops={k: (np.asarray(u), np.asarray(lo)) for k, (u, lo) in eyes.items()},
        fine_eye_loops={k: (fine_seq(u), fine_seq(lo)) for k, (u, lo) in eyes.items()},
        mouth_loops=(np.asarray(lm.MOUTH_UPPER), np.asarray(lm.MOUTH_LOWER)),
        fine_mouth_loops=(fine_seq(lm.MOUTH_UPPER), fine_seq(lm.MOUTH_LOWER)),
        socket_of=np.concatenate(head.socket_of), follow=np.concatenate(head.follow),
        follow_w=np.concatenate(head.follow_w), fine_part=fine_part,
    )


def _neutral_pose(face_v: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Canonical face -> relaxed neutral: lips closed, eyes opened a little wider.

    The canonical face has parted lips and narrow eyes; a neutral reference face has
    neither.
    """
    out = face_v.copy()
    lid_ids = [region_id("upper_eyelid"), region_id("lower_eyelid")]
    lids = np.nonzero(np.isin(regions, lid_ids))[0]
    for upper, lower in ((lm.EYE_R_UPPER, lm.EYE_R_LOWER), (lm.EYE_L_UPPER, lm.EYE_L_LOWER)):
        u, lo = loop_closure_field(
            face_v, np.asarray(upper), np.asarray(lower), lids, 0.3, 1.2, 0.7
        )
        out += NEUTRAL_EYE_OPENING * (u + lo)
    near = np.nonzero(np.abs(face_v[:, 1] + 6.9) < 2.5)[0]
    near = near[np.abs(face_v[near, 0]) < 3.5]
    u, lo = loop_closure_field(
        face_v, np.asarray(lm.MOUTH_UPPER), np.asarray(lm.MOUTH_LOWER), near, 0.5, 0.8, 1.0
    )
    return out + u + lo


def _shell_regions(p: np.ndarray) -> np.ndarray:
    """Scalp above a hairline that drops from the temples to the nape, skin below."""
    hair_y = np.interp(p[:, 2], [-13.0, -9.5, -6.5], [-6.0, 1.0, 3.0])
    return np.where(p[:, 1] > hair_y, region_id("scalp"), region_id("skin")).astype(np.uint8)


EAR_RINGS_DEG = (12.0, 24.0, 37.0, 50.0, 62.0, 72.0, 81.0, 90.0, 105.0, 140.0)
"""Polar angles of the ear's rings, degrees from its outward pole (90 = its outline), hand-set:
dense where the folds are (outline radius ``sin`` of them: 0.21 ... 0.99), two rings for the
back, which faces the head."""
EAR_SEGMENTS = 12
"""Segments around the ear (hand-set, with :data:`EAR_RINGS_DEG`: 122 vertices, 960 fine
triangles per ear; 52 and 400 for the cupped ellipsoid up to pain3d 0.11)."""
EAR_HALF_HEIGHT_CM = 3.0
"""Half the ear's height, cm (an adult ear is ~6 cm tall, ~3.3 cm wide); hand-set."""
EAR_YAW_DEG = 20.0
"""Degrees the ear's outer side faces forward of straight out (its back edge stands off the
head, ~2 cm at the helix); hand-set (25 up to pain3d 0.11)."""


def _bump(t: np.ndarray, c: float, w: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - c) / w) ** 2)


def ear_arc(deg: np.ndarray, lo: float, hi: float, soft: float = 25.0) -> np.ndarray:
    """1 for ear azimuths ``deg`` (degrees, 0 toward the face, 90 up) between ``lo`` and
    ``hi`` counter-clockwise, fading to 0 over ``soft`` degrees inside the ends."""
    span = (hi - lo) % 360.0
    t = (deg - lo) % 360.0
    edge = np.minimum(t, span - t)
    return np.where(t <= span, np.clip(edge / soft, 0.0, 1.0), 0.0)


def ear_height_cm(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N,) height of the ear's outer side above its plane, cm, at outline coordinates (x
    toward the face, y up, radius 1 at the outline): the helix rim from the front-top over
    the top and down the back, the scapha's groove inside it, the antihelix ridge, the
    concha's bowl toward the front (deepest at the ear canal), the tragus in front of it,
    the fleshy lobule, and the front dropping into the head where the ear joins it.
    Hand-set to an adult ear's proportions; the painted folds
    (:mod:`pain3d.appearance.ears`) use the same coordinates."""
    r = np.hypot(x, y)
    deg = np.degrees(np.arctan2(y, x)) % 360.0
    helix = ear_arc(deg, 40.0, 255.0)
    h = 0.12 * r * r
    h += 0.42 * _bump(r, 0.93, 0.07) * helix
    h -= 0.12 * _bump(r, 0.8, 0.06) * helix
    h += 0.22 * _bump(r, 0.6, 0.08) * ear_arc(deg, 70.0, 240.0)
    q = np.hypot((x - 0.26) / 0.42, (y + 0.08) / 0.5)
    rim = np.clip((1.0 - q) / 0.35, 0.0, 1.0)
    h -= 0.55 * rim * rim * (3.0 - 2.0 * rim) + 0.3 * np.exp(-0.5 * q * q / 0.05)
    h += 0.5 * np.exp(-0.5 * np.hypot((x - 0.76) / 0.11, (y + 0.12) / 0.12) ** 2)
    h += 0.15 * _bump(r, 0.8, 0.15) * ear_arc(deg, 255.0, 300.0, 15.0)
    # In front of the concha the ear lies on the head (the tragus stands out of it) and
    # its edge runs into the head.
    # (~1 mm above the head's surface, which rises toward the ear's front edge: level with
    # it, the two surfaces would fight for the same pixels).
    front = ear_arc(deg, 285.0, 40.0, 25.0)
    on_head = -0.5 + 0.35 * r - 0.12 * r * r
    h += front * (on_head - h) * smoothstep(0.0, 1.0, (r - 0.62) / 0.2)
    return h - 0.6 * front * smoothstep(0.0, 1.0, (r - 0.9) / 0.1)


def _ear_local(theta: np.ndarray, az: np.ndarray) -> np.ndarray:
    """(N, 3) points of the ear in its own frame (toward the face, up, outward), cm, at polar
    angles ``theta`` from its outward pole and azimuths ``az`` (0 toward the face, 90 up).
    The outer side (theta <= 90 degrees) is the plane at outline radius ``sin(theta)`` raised
    by :func:`ear_height_cm`; past the outline the surface curls back (the helix's rim) and
    runs, as the ear's back, into the head at the front of the ear."""
    cx, cy = np.cos(az), np.sin(az)
    r = np.sin(np.minimum(theta, np.pi / 2))
    s = np.clip((theta - np.pi / 2) / (np.pi / 2), 0.0, 1.0)  # 0 at the outline, 1 behind
    x, y = r * cx, r * cy
    h = ear_height_cm(x, y)
    # Behind the outline: the rim curls back, then the back narrows toward the front.
    shrink = 1.0 - 0.9 * s**1.3
    x = x * shrink + 0.45 * s
    y = y * shrink
    h = h - 0.3 * np.sin(np.minimum(s / 0.3, 1.0) * np.pi / 2) - 2.2 * s
    # A rounded-square outline, squarer over the top (the helix is broad there).
    n = 2.4 + 0.4 * smoothstep(0.0, 1.0, y / 0.5)
    wide = np.hypot(cx, cy) / (np.abs(cx) ** n + np.abs(cy) ** n) ** (1.0 / n)
    x, y = x * wide, y * wide
    half_width = (1.6 + 0.15 * y) * (1.0 - 0.2 * smoothstep(0.0, 1.0, (-y - 0.4) / 0.5))
    return np.stack([half_width * x, EAR_HALF_HEIGHT_CM * y, h], -1)


def _ear(side: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ear (cm): a closed surface shaped as an ear (:func:`_ear_local`) standing off the
    head at the back; returns vertices, faces, island UVs.

    A sphere grid (:data:`EAR_RINGS_DEG` x :data:`EAR_SEGMENTS`) whose vertices are placed
    so that, once subdivided, each fine vertex lies on the ear's surface at its own UV
    (least squares through the subdivision operator, as :func:`_neck`): the folds are where
    the texture paints them."""
    theta = np.radians(np.asarray(EAR_RINGS_DEG))
    unit, faces, polar = _sphere_grid(len(theta) + 1, EAR_SEGMENTS, theta)
    x, y = unit[:, 0], unit[:, 1]
    # Both ears share one island, the right one as the left one's mirror image: a texel is
    # the same point of either ear (x runs toward the face on both).
    uv = island_uv("ear", polar, np.arctan2(y, x), power=1.0)
    sub = loop_subdivision(faces, len(unit), np.zeros((0, 2), np.int64)).matrix
    fine_uv = sub @ uv
    d = fine_uv - np.asarray(ISLAND_CENTRES["ear"])
    f_theta = np.pi * np.hypot(d[:, 0], d[:, 1]) / ISLAND_RADIUS
    f_az = np.arctan2(d[:, 1], d[:, 0])
    # Behind the ear the island's chart folds (its back pole is a circle): the sphere's own
    # angles there.
    ball = sub @ unit
    ball /= np.linalg.norm(ball, axis=1, keepdims=True)
    back = ball[:, 2] < np.cos(np.radians(100.0))
    f_theta[back] = np.arccos(np.clip(ball[back, 2], -1.0, 1.0))
    f_az[back] = np.arctan2(ball[back, 1], ball[back, 0])
    local = np.linalg.lstsq(sub.toarray(), _ear_local(f_theta, f_az), rcond=None)[0]
    yaw, tilt = np.radians(EAR_YAW_DEG), np.radians(15.0)
    nrm = np.array([side * np.cos(yaw), 0.0, np.sin(yaw)])
    up = np.array([0.0, np.cos(tilt), -np.sin(tilt)])
    up = up - (up @ nrm) * nrm
    up /= np.linalg.norm(up)
    fwd = np.cross(nrm, up) * side
    centre = side * np.array([1.0, 0, 0]) * EAR_CENTRE_CM[0] + np.array([0, *EAR_CENTRE_CM[1:]])
    v = centre + local[:, :1] * fwd + local[:, 1:2] * up + local[:, 2:] * nrm
    # Winding: the local frame (fwd, up, nrm) is right-handed for side=+1 and mirrored for -1.
    if np.linalg.det(np.stack([fwd, up, nrm])) < 0:
        faces = faces[:, ::-1]
    return v, faces, uv


def _neck_uv(v: np.ndarray) -> np.ndarray:
    """Neck island: the tube unrolled into an annulus (top inside, bottom outside, no seam)."""
    phi = np.arctan2(v[:, 2] - NECK_AXIS_Z_CM, v[:, 0])
    t = (NECK_TOP_CM - v[:, 1]) / (NECK_TOP_CM - NECK_BOTTOM_CM)
    rho = ISLAND_RADIUS * (0.3 + 0.7 * np.clip(t, 0, 1))
    cu, cv = ISLAND_CENTRES["neck"]
    return np.stack([cu + rho * np.cos(phi), cv + rho * np.sin(phi)], -1)


def _neck() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The neck (cm), an open tube from inside the head down to the shoulders, faces outward;
    returns its vertices, faces and the plain tube its UVs unroll (:func:`_neck_uv`).

    16 segments x 5 rows (512 triangles after subdivision; 24 x 7 = 1,344 in pain3d <= 0.5):
    a smooth tube needs no more, and every triangle costs llvmpipe time. The rows are placed
    so that the subdivided tube follows :data:`NECK_OUTLINE_CM` (least squares through the
    subdivision operator): each subdivided row lies on its ellipse."""
    seg, ys = 16, np.linspace(NECK_TOP_CM, NECK_BOTTOM_CM, 5)
    phi = np.linspace(0, 2 * np.pi, seg, endpoint=False)
    tube = np.concatenate(
        [np.stack([5.3 * np.cos(phi), np.full(seg, y), NECK_AXIS_Z_CM + 5.2 * np.sin(phi)], -1)
         for y in ys]
    )  # fmt: skip
    faces = []
    for r in range(len(ys) - 1):
        for s in range(seg):
            a, b = r * seg + s, r * seg + (s + 1) % seg
            c, d = a + seg, b + seg
            faces += [(a, c, d), (a, d, b)]
    f = np.asarray(faces, dtype=np.int64)
    tri = tube[f]
    outward = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    radial = tri.mean(1) - np.array([0, 0, NECK_AXIS_Z_CM])
    radial[:, 1] = 0
    if (outward * radial).sum() < 0:
        f = f[:, ::-1]
    sub = loop_subdivision(f, len(tube), np.zeros((0, 2), np.int64)).matrix.toarray()
    v = np.linalg.lstsq(sub, _neck_outline(sub @ tube), rcond=None)[0]
    return v, f, tube


def _neck_outline(tube: np.ndarray) -> np.ndarray:
    """(N, 3) points of :data:`NECK_OUTLINE_CM` for points of the plain tube (N, 3): the height
    on the tube picks the outline's row, the azimuth around its axis the point on the row's
    ellipse."""
    t = (NECK_TOP_CM - tube[:, 1]) / (NECK_TOP_CM - NECK_BOTTOM_CM)
    phi = np.arctan2(tube[:, 2] - NECK_AXIS_Z_CM, tube[:, 0])
    knots = np.linspace(0, 1, len(NECK_OUTLINE_CM))
    y, half_w, front, back = (np.interp(t, knots, col) for col in NECK_OUTLINE_CM.T)
    # The sternocleidomastoid: a low ridge from behind the ear down to beside the throat's
    # notch (angle from the front midline: 110 degrees at y = -7 cm, 15 at y = -20 cm).
    from_front = np.degrees(np.abs(np.arctan2(np.cos(phi), np.sin(phi))))
    centre = np.interp(y, [-20.0, -7.0], [15.0, 110.0])
    ridge = 0.35 * np.exp(-(((from_front - centre) / 16.0) ** 2))
    ridge *= smoothstep(0.0, 1.0, (-y - 9.0) / 2.5) * smoothstep(0.0, 1.0, (y + 21.0) / 3.0)
    grow = 1 + ridge / np.maximum(np.hypot(half_w, (front - back) / 2), 1e-9)
    return np.stack(
        [grow * half_w * np.cos(phi), y,
         (front + back) / 2 + grow * (front - back) / 2 * np.sin(phi)], -1
    )  # fmt: skip
