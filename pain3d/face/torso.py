"""Shoulders and upper chest for the built-in (procedural) head, so it reads as a person, not
a bust on a pedestal.

The neck tube of :mod:`pain3d.face.head` ends in a cone (:data:`~pain3d.face.head.NECK_OUTLINE_CM`
flares below y = -16 cm). For a procedural identity :func:`add_torso` re-places the neck's
lowest three fine rows onto a torso surface and appends :data:`TORSO_ROWS` more rings below
them, stitched to the neck's bottom row: one watertight surface, so vertex normals (and the
shading) run across the join without a seam. Existing vertex indices, the rig's values on
them and the regions stay as they were; the new vertices are appended after the eyeballs,
labelled ``neck`` (part ``skin``), with zero rig displacement (the torso never moves with an
expression, so it never carries heat). The photo route does not call this.

Each column of the neck (its azimuth around the neck's axis) gets a profile from its row at
y = -16 cm (template) outward and down: over the trapezius to the shoulder and arm at the
sides, down the throat to the sternal notch and the chest at the front, down the upper back
behind (:data:`PROFILE_SIDE`, :data:`PROFILE_FRONT`, :data:`PROFILE_BACK`, blended by the
azimuth). The shoulder width is drawn per identity (:func:`torso_shape`).

UVs: the neck's annulus island (:func:`pain3d.face.head._neck_uv`) is re-laid for the neck
and torso together (:data:`ISLAND_RHO`): the hidden upper neck is squeezed so that the
throat, the neckline and the top of the garment get most of the texels; the garment further
down (plain cloth) gets few.

Units: centimetres inside, metres on the mesh; head frame (x left, y up, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from pain3d.face.head import CM, ISLAND_CENTRES, ISLAND_RADIUS, NECK_OUTLINE_CM, head_template
from pain3d.face.mesh import Mesh, region_id

BIACROMIAL_CM = {"female": (36.6, 1.6), "male": (40.6, 2.0)}
"""Mean and standard deviation of the shoulder width (acromion to acromion), cm, per sex,
hand-set from adult anthropometry (about 36-37 cm in women, 40-41 cm in men); draws are
clipped to :data:`BIACROMIAL_RANGE_CM`."""
BIACROMIAL_RANGE_CM = (36.0, 46.0)
"""Hand-set limits of the drawn shoulder width, cm."""

PROFILE_SIDE = np.array([
    # r (cm from the neck's axis; "A" rows add the half shoulder width), dy (cm below row 5)
    [9.5, -1.6], [13.5, -3.6], [-1.5, -5.6], [0.8, -7.0],
    [2.2, -9.5], [2.4, -14.0], [1.8, -21.0], [1.2, -31.0],
])  # fmt: skip
"""Hand-set profile at the sides (azimuth 0 / 180 degrees): the trapezius sloping ~20 degrees
from the neck to the shoulder, over the acromion and down the arm. Rows 2+ give r relative
to half the shoulder width (:data:`PROFILE_SIDE_RELATIVE`)."""
PROFILE_SIDE_RELATIVE = np.array([0, 0, 1, 1, 1, 1, 1, 1], bool)
"""Which rows of :data:`PROFILE_SIDE` add half the shoulder width to r."""
PROFILE_FRONT = np.array([
    [5.0, -2.2], [5.6, -4.0], [7.2, -6.0], [9.0, -8.5],
    [10.5, -11.5], [11.3, -15.0], [11.5, -21.0], [11.0, -31.0],
])  # fmt: skip
"""Hand-set profile at the front midline: down the throat to the sternal notch (~4 cm below
row 5), then forward over the upper chest (front ~1.5 cm ahead of the eyes' plane)."""
PROFILE_BACK = np.array([
    [6.0, -1.8], [7.4, -3.6], [8.8, -6.0], [9.8, -9.0],
    [10.4, -12.0], [10.8, -16.0], [10.8, -22.0], [10.5, -31.0],
])  # fmt: skip
"""Hand-set profile at the back midline: from the nape down the upper back (back ~21 cm
behind the eyes' plane, so the chest is ~22 cm deep)."""

NECK_KEEP_ROW = 5
"""Index of the last row of :data:`NECK_OUTLINE_CM` (y = -16 cm) kept as the head builds it;
the rows below it are re-placed onto the torso."""
REPLACED_AT = (0.05, 0.11, 0.18)
"""Hand-set arclength fractions along each column's profile of the re-placed neck rows."""
TORSO_ROWS = (0.26, 0.34, 0.42, 0.50, 0.60, 0.72, 0.86, 1.0)
"""Hand-set arclength fractions of the appended rings (8 x 32 vertices, 512 triangles):
closest around the shoulder's curve."""
ISLAND_RHO = np.array([0.30, 0.33, 0.36, 0.42, 0.50, 0.58, 0.65, 0.71, 0.77,
                       0.82, 0.865, 0.90, 0.93, 0.955, 0.975, 0.99, 1.0])
"""Radius in the neck island (fraction of :data:`~pain3d.face.head.ISLAND_RADIUS`) of each
row, neck rows 0-8 then the torso rings, hand-set: the neck rows inside the head squeezed,
the throat and the garment's top widest, the lower garment narrow."""


@dataclass(frozen=True)
class TorsoShape:
    """Per-identity torso proportions.

    Attributes:
        biacromial_cm: shoulder width, acromion to acromion, cm.
        depth: factor on the chest's and back's distance from the neck's axis.
        bust_cm: extra forward reach of the lower chest, cm.
    """

    biacromial_cm: float = 40.0
    depth: float = 1.0
    bust_cm: float = 0.0


def torso_shape(seed: int, sex: str) -> TorsoShape:
    """Draw the torso proportions of one identity from its own stream (no other draws move)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x70250]))
    mean, sd = BIACROMIAL_CM.get(sex, BIACROMIAL_CM["male"])
    width = float(np.clip(rng.normal(mean, sd), *BIACROMIAL_RANGE_CM))
    depth = float(np.clip(rng.normal(1.0, 0.05), 0.9, 1.12))
    bust = float(rng.uniform(0.5, 2.0)) if sex == "female" else 0.0
    return TorsoShape(biacromial_cm=width, depth=depth, bust_cm=bust)


@dataclass(frozen=True)
class _NeckRows:
    """The template's fine neck vertices by row: ``rows[k]`` (32,) indices of row k of
    :data:`NECK_OUTLINE_CM`, sorted by azimuth; ``faces`` the neck's fine triangles."""

    rows: tuple
    faces: np.ndarray


@lru_cache(maxsize=1)
def _neck_rows() -> _NeckRows:
    tpl = head_template()
    fine = tpl.subdivide @ tpl.coarse
    idx = np.nonzero(tpl.fine_part == 5)[0]
    row = np.abs(fine[idx, 1, None] - NECK_OUTLINE_CM[None, :, 0]).argmin(1)
    rows = []
    for k in range(len(NECK_OUTLINE_CM)):
        r = idx[row == k]
        phi = np.arctan2(fine[r, 2] - _axis_z(fine[r]), fine[r, 0])
        rows.append(r[np.argsort(phi)])
    faces = tpl.faces[np.isin(tpl.faces, idx).all(1)]
    return _NeckRows(rows=tuple(rows), faces=faces)


def _axis_z(p: np.ndarray) -> float:
    """Depth of a ring's centre (midway between its front and back), cm."""
    return 0.5 * float(p[:, 2].max() + p[:, 2].min())


def _profiles(phi: np.ndarray, shape: TorsoShape) -> np.ndarray:
    """(N, 8, 2) control points (r, dy) of each column's profile, blended by azimuth."""
    half = shape.biacromial_cm / 2
    side = PROFILE_SIDE + np.where(PROFILE_SIDE_RELATIVE, half, 0.0)[:, None] * [1, 0]
    front = PROFILE_FRONT.copy()
    front[:, 0] *= np.where(np.arange(len(front)) >= 2, shape.depth, 1.0)
    front[4:, 0] += shape.bust_cm * np.array([0.5, 1.0, 0.8, 0.4])
    back = PROFILE_BACK.copy()
    back[:, 0] *= np.where(np.arange(len(back)) >= 2, shape.depth, 1.0)
    s, c = np.sin(phi), np.cos(phi)
    w_side, w_front, w_back = c**2, np.maximum(s, 0) ** 2, np.maximum(-s, 0) ** 2
    return (w_side[:, None, None] * side + w_front[:, None, None] * front
            + w_back[:, None, None] * back)


def _chaikin(poly: np.ndarray, rounds: int = 3) -> np.ndarray:
    """(N, M, 2) polylines cut at their corners ``rounds`` times; end points kept."""
    for _ in range(rounds):
        a, b = poly[:, :-1], poly[:, 1:]
        cut = np.stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b], 2).reshape(len(poly), -1, 2)
        poly = np.concatenate([poly[:, :1], cut[:, 1:-1], poly[:, -1:]], 1)
    return poly


def _at_fractions(poly: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """(N, K, 2) points at arclength ``fractions`` (K,) along polylines (N, M, 2)."""
    seg = np.linalg.norm(np.diff(poly, axis=1), axis=2)
    cum = np.concatenate([np.zeros((len(poly), 1)), np.cumsum(seg, 1)], 1)
    cum /= cum[:, -1:]
    out = np.empty((len(poly), len(fractions), 2))
    for i in range(len(poly)):
        for j in range(2):
            out[i, :, j] = np.interp(fractions, cum[i], poly[i, :, j])
    return out


def torso_points(top: np.ndarray, axis_z: float, phi: np.ndarray, fractions: np.ndarray,
                 shape: TorsoShape) -> np.ndarray:
    """(N, K, 3) torso points, cm, of N columns at arclength ``fractions`` (K,).

    Args:
        top: (N, 3) each column's start (on the kept neck row), cm.
        axis_z: depth of the neck's axis at that row, cm.
        phi: (N,) azimuth of each column around the axis (0 = +x, 90 degrees = +z).
        fractions: where along the profile, 0 = ``top``, 1 = the torso's lower edge.
        shape: the identity's proportions.
    """
    r0 = np.hypot(top[:, 0], top[:, 2] - axis_z)
    ctrl = _profiles(phi, shape)
    ctrl[:, :, 1] += top[:, 1, None]
    poly = _chaikin(np.concatenate([np.stack([r0, top[:, 1]], -1)[:, None], ctrl], 1))
    ry = _at_fractions(poly, np.asarray(fractions, float))
    c, s = np.cos(phi)[:, None], np.sin(phi)[:, None]
    return np.stack([ry[..., 0] * c, ry[..., 1], axis_z + ry[..., 0] * s], -1)


def add_torso(mesh: Mesh, shape: TorsoShape) -> Mesh:
    """The built-in neutral ``mesh`` (metres) with its neck's base re-placed and the torso
    appended (module docstring); rig padded with zeros for the new vertices."""
    nr = _neck_rows()
    v = mesh.vertices.astype(np.float64) / CM
    keep = v[nr.rows[NECK_KEEP_ROW]]
    axis_z = _axis_z(keep)
    phi_keep = np.arctan2(keep[:, 2] - axis_z, keep[:, 0])

    def start(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each column's azimuth and start point on the kept row (interpolated, periodic)."""
        phi = np.arctan2(p[:, 2] - axis_z, p[:, 0])
        top = np.stack([np.interp(phi, phi_keep, keep[:, j], period=2 * np.pi)
                        for j in range(3)], -1)
        top_phi = np.arctan2(top[:, 2] - axis_z, top[:, 0])
        return top_phi, top

    for k, frac in zip(range(NECK_KEEP_ROW + 1, len(NECK_OUTLINE_CM)), REPLACED_AT,
                       strict=True):
        idx = nr.rows[k]
        phi, top = start(v[idx])
        v[idx] = torso_points(top, axis_z, phi, [frac], shape)[:, 0]
    bottom = nr.rows[-1]
    phi, top = start(v[bottom])
    rings = torso_points(top, axis_z, phi, TORSO_ROWS, shape)  # (32, K, 3)
    n0, cols = len(v), len(bottom)
    new_v = rings.transpose(1, 0, 2).reshape(-1, 3)
    loops = [list(bottom)] + [list(range(n0 + k * cols, n0 + (k + 1) * cols))
                              for k in range(len(TORSO_ROWS))]
    faces = np.concatenate([_band(a, b) for a, b in zip(loops[:-1], loops[1:], strict=True)])
    faces = _wound_like(faces, nr.faces)
    uv = _island_uv(mesh.uv, nr, bottom, len(TORSO_ROWS))
    n_new = len(new_v)
    rig = mesh.rig
    if rig is not None:
        pad = lambda a: np.concatenate(  # noqa: E731
            [a, np.zeros((*a.shape[:-2], n_new, 3), a.dtype)], -2)
        rig = replace(rig, basis=pad(rig.basis), lid_upper=pad(rig.lid_upper),
                      lid_lower=pad(rig.lid_lower))
    return Mesh(
        vertices=(np.concatenate([v, new_v]) * CM).astype(np.float32),
        faces=np.concatenate([mesh.faces, faces]).astype(np.int32),
        uv=uv,
        regions=np.concatenate([mesh.regions,
                                np.full(n_new, region_id("neck"), np.uint8)]),
        rig=rig,
    )


def _band(upper: list[int], lower: list[int]) -> np.ndarray:
    """Triangles joining two closed loops of equal length (column i to column i)."""
    n = len(upper)
    tris = []
    for i in range(n):
        j = (i + 1) % n
        tris += [(upper[i], lower[i], lower[j]), (upper[i], lower[j], upper[j])]
    return np.asarray(tris, np.int64)


def _wound_like(faces: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """``faces`` flipped when their edges on the shared loop run the same way as the
    neck's (two faces sharing an edge traverse it in opposite directions)."""
    directed = set(map(tuple, np.concatenate(
        [neighbours[:, [0, 1]], neighbours[:, [1, 2]], neighbours[:, [2, 0]]])))
    mine = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    same = sum(tuple(e) in directed for e in mine.tolist())
    return faces[:, ::-1] if same else faces


def _island_uv(uv: np.ndarray, nr: _NeckRows, bottom: np.ndarray, n_rings: int) -> np.ndarray:
    """(V + new, 2) float32 UVs: neck rows re-laid at :data:`ISLAND_RHO`, the torso rings
    after them, each vertex keeping its (or its column's) angle in the island."""
    cu, cv = ISLAND_CENTRES["neck"]
    out = uv.astype(np.float64).copy()

    def at(idx: np.ndarray, rho: float) -> np.ndarray:
        ang = np.arctan2(uv[idx, 1] - cv, uv[idx, 0] - cu)
        r = ISLAND_RADIUS * rho
        return np.stack([cu + r * np.cos(ang), cv + r * np.sin(ang)], -1)

    for k, idx in enumerate(nr.rows):
        out[idx] = at(idx, ISLAND_RHO[k])
    rings = [at(bottom, ISLAND_RHO[len(nr.rows) + k]) for k in range(n_rings)]
    return np.concatenate([out, *rings]).astype(np.float32)
