"""AU rig: py-feat's AU-to-mesh model and FACS anchors turned into local displacement bases.

Per AU (template level, once; :func:`canonical_basis`):

1. py-feat's model change for input 1 (= FACS 5) is mapped into the canonical frame, its
   global similarity motion is removed (weighted Procrustes onto the neutral, weights on the
   vertices far from the AU's region), it is made left-right symmetric, multiplied by a
   smooth falloff around the AU's region (py-feat's ``au_region_map``) and scaled to a peak
   displacement (:data:`AU_PEAK_CM`);
2. a smooth correction field makes it meet the FACS anchors (:data:`FACS_ANCHORS`: landmark
   displacements FACS describes, and pins for landmarks the AU must not move);
3. furrows deepen (:data:`FURROW_DEPTH_CM`: the nasolabial fold with AU9/AU10/AU6, the
   infraorbital furrow and lower-lid bag with AU6/AU7);
4. the field fades out toward the lid margins (over :data:`LID_MASK_CM`; the margins move by
   lid closure only) and is carried to the skull rings, eye sockets and mouth interior.

Per identity: each basis vector is mapped through the local linear part (least-squares
Jacobian over the one-ring) of the template-to-identity deformation, then subdivided.

Eye aperture is modelled separately: lid-closure fields bring the upper and lower lid
margins to a meeting line (upper lid travels 70 %); closure fractions combine as
``1 - prod(1 - c_i)`` so they are monotone, never exceed full closure, and AU43 = 1 closes the
lids exactly. Lid vertices are kept in front of the eyeball.

Where the numbers come from (details and the measured table in ``docs/rig.md``): py-feat's
model is learned from MediaPipe landmarks of real faces against detected AUs, so it gives
real-face sizes where it is clean: AU4 lowers the brows by 5.1% of the inter-ocular distance
(IOD) at FACS 5, AU7 and AU6 narrow the eye by 1.8% and 2.1%, AU43 by 12% (closed). The
rig's AU4, AU7, AU6's eye narrowing and the lid closures are set to match those as the same
tracker sees them on renders (AU6 narrows the eye from below, as FACS has it: its lower lid
closes 80%). Its AU6, AU9 and AU10 are otherwise entangled with co-occurring AUs (AU6
carries a smile's mouth corners and narrows the eye from above, AU9 drags the nose tip down,
AU10 hardly moves the lip), so their anchors are hand-set from the FACS descriptions: the
upper lip rises 5.5-6 mm (AU9/AU10), the alae 4.5 mm (AU9), the infraorbital triangle
6-6.5 mm (AU6), at FACS 5 on the 6.3 cm-IOD template. Furrow depths (1.2-2.5 mm), AU6's
lower-lid bag, AU4's forehead (1-1.5 mm down above the brows, still at the hairline) and the
nuisance anchors are hand-set too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pain3d.assets import feat_resource
from pain3d.face import landmarks as cf
from pain3d.face.head import CM, head_template
from pain3d.facs import AU_MAX, AU_NAMES, NUISANCE_AUS
from pain3d.ramps import smoothstep

RIG_VERSION = 5
"""Bumped whenever the rig moves vertices differently (datasets record the package version,
which is bumped with it): 1 = py-feat fields with few anchors (pain3d 0.1); 2 = FACS anchors
for AU6/AU9/AU10, furrows, antagonist composition (pain3d 0.2); 3 = AU6 pushes the lower lid
up (lower-lid closure 0.45 -> 0.8, calibrated on py-feat's AU6 eye narrowing) and bunches
the skin under it (deeper lower-lid bag, the cheek's lift reaching closer to the lid); 4 =
AU4 no longer pushes the forehead forward (its top moved 7.5 mm toward the camera, the skin
above the brows 5.7 mm: py-feat's forehead depth scaled up with the brows); the forehead
now follows the brows down 1-1.5 mm and the hairline stays; 5 = the eyes' wider opening
(pain3d 0.9: lids resting on a larger eyeball) and AU7's lid closure 0.3/0.6 -> 0.23/0.47 to
keep its tracker-seen narrowing near py-feat's."""

PAIN_AUS: tuple[str, ...] = AU_NAMES

NUISANCE_ANTAGONISTS: dict[str, tuple[str, ...]] = {"AU1": ("AU4",), "AU2": ("AU4",)}
"""Pain AUs each nuisance AU directly opposes (same tissue, opposite direction). AU12, AU25
and AU26 oppose no pain AU (AU12 lifts the cheeks as AU6 does; AU25/AU26 leave the upper
lip to AU9/AU10 and do not touch the lids)."""

BASIS_AUS: tuple[str, ...] = ("AU4", "AU6", "AU7", "AU9", "AU10") + NUISANCE_AUS
"""AUs with a displacement basis (AU43 is lid closure only), order of :attr:`Rig.basis`."""

_PLS_NAME = {name: f"AU{int(name[2:]):02d}" for name in BASIS_AUS}

AU_PEAK_CM: dict[str, float] = {
    "AU4": 1.0, "AU6": 0.6, "AU7": 0.3, "AU9": 0.7, "AU10": 0.6,
    "AU1": 0.55, "AU2": 0.55, "AU12": 0.7, "AU25": 0.45, "AU26": 1.1,
}  # fmt: skip
"""Peak vertex displacement of each basis at FACS 5 on the template head, cm."""

LID_CLOSURE: dict[str, tuple[float, float]] = {
    "AU4": (0.12, 0.0), "AU6": (0.05, 0.8), "AU7": (0.23, 0.47), "AU9": (0.05, 0.15),
}  # fmt: skip
"""Lid closure per unit FACS/5 for the (upper, lower) lid: the fraction of the way to where
closed lids meet (:data:`LID_MEET`); AU43 is binary and closes fully. AU6's lower lid
(0.8: at FACS 5 the lower margin rises by 24 % of the eye's opening, ~2.3 mm on the
template) was set so that the tracker sees AU6 narrow the eye by as much more than py-feat's
real-face number (-2.1 % IOD) as it does for AU7 (x1.4; ``au_visibility.py --calibration``).
Since 0.9's wider eyes the same fractions close more millimetres, so AU7's came down from
(0.3, 0.6): the tracker sees AU7 at 1.3x py-feat's -1.8 % IOD (1.8x without) and AU6 at 1.2x;
that the narrowing comes from below is FACS's (the cheek pushes the lower lid up), py-feat's
AU6, entangled with a smile, lowers the upper lid instead."""
LID_MEET = 0.3
"""Where closed lids meet: 0 at the lower margin, 1 at the upper one."""
EYE_CLEARANCE_CM = 0.06

HEATMAP_SCALE_M = 0.012
"""Fixed dataset-wide normaliser of displacement heatmaps (metres): a displacement of this
size maps to 1, the same for every image, so heatmaps of different PSPI are comparable.
Over 100 identities the all-5 pain configuration (PSPI 16) peaks at 7.7-11.6 mm (median
9.0 mm, the upper lip lifted by AU9 and AU10 together; rig version 2); nuisance AUs (a
5-level jaw drop) can exceed the scale, so clip normalised values to [0, 1]."""


@dataclass(frozen=True, eq=False)
class Rig:
    """Per-identity AU rig, attached to its neutral :class:`~pain3d.face.mesh.Mesh`.

    Attributes:
        basis: (len(BASIS_AUS), V, 3) float32 displacement at FACS 5, metres.
        lid_upper, lid_lower: (V, 3) float32 full-closure displacement of the lids, metres.
        lid_vertices: (L,) int64 vertices the lid fields move (pushed clear of the eyeballs).
        eye_centres: (2, 3) float32 eyeball centres (right, left), metres.
        eye_radius: eyeball radius, metres.
        socket_vertices: (S,) int64 eye-socket vertices; they follow the lid margins and
            stay on a sphere of radius ``socket_radius`` (S,) around their eyeball centre.
    """

    basis: np.ndarray
    lid_upper: np.ndarray
    lid_lower: np.ndarray
    lid_vertices: np.ndarray
    eye_centres: np.ndarray
    eye_radius: float
    socket_vertices: np.ndarray
    socket_radius: np.ndarray


# FACS anchors: landmarks per AU with the displacement FACS describes at intensity 5 (cm;
# (dx, dy, dz) for the subject's right side, mirrored to the left). py-feat's model is learned
# from detector outputs and partly entangled (its AU10 barely lifts the upper lip, its AU9
# drags the nose tip down, its AU4 lifts the nose tip, its AU6 carries a smile's mouth
# corners); a smooth correction field (Gaussian RBF, sigma ANCHOR_SIGMA_CM) makes the basis
# meet these anchors exactly while keeping the learned field elsewhere. A zero anchor pins a
# landmark the AU must not move. Sizes are hand-set from the FACS descriptions (see
# ``docs/rig.md``); where py-feat's model gives a clean real-face number it is quoted there.
ANCHOR_SIGMA_CM = 0.9
_NOSE_BASE_PINS = {1: (0.0, 0.0, 0.0), 4: (0.0, 0.0, 0.0), 2: (0.0, 0.0, 0.0),
                   94: (0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0), 13: (0.0, 0.0, 0.0)}
# The forehead above the brows follows them down a little and the hairline stays (py-feat's
# AU4 field, scaled to the brows' peak, pushed the forehead top 7.5 mm forward: the depth
# MediaPipe guesses for the forehead, not a movement of it).
_FOREHEAD_AU4 = {151: (0.0, -0.1, 0.0), 108: (0.0, -0.15, 0.0), 69: (0.0, -0.15, 0.0),
                 104: (0.0, -0.15, 0.0), 10: (0.0, 0.0, 0.0), 109: (0.0, 0.0, 0.0),
                 67: (0.0, 0.0, 0.0)}
FACS_ANCHORS: dict[str, dict[int, tuple[float, float, float]]] = {
    # Brows down and together (corrugator, procerus); the nose below the bridge stays.
    "AU4": {107: (0.3, -0.75, 0.1), 55: (0.3, -0.75, 0.1), 66: (0.2, -0.7, 0.1),
            65: (0.2, -0.7, 0.1), 105: (0.1, -0.5, 0.05), 52: (0.1, -0.5, 0.05),
            9: (0.0, -0.35, 0.05), 168: (0.0, -0.3, -0.05), 6: (0.0, -0.15, -0.03),
            197: (0.0, 0.0, 0.0), 195: (0.0, 0.0, 0.0), 5: (0.0, 0.0, 0.0),
            **_NOSE_BASE_PINS, **_FOREHEAD_AU4},
    # Infraorbital triangle up and forward (to its corner beside the nose wing), lower-lid
    # skin pushed up (bunching), skin lateral to the eye pulled toward it (crow's feet),
    # lateral brow a little down; nose and mouth still.
    "AU6": {50: (0.0, 0.65, 0.2), 101: (0.0, 0.6, 0.2), 118: (0.0, 0.6, 0.18),
            117: (-0.05, 0.5, 0.12), 119: (0.0, 0.5, 0.15), 100: (0.0, 0.4, 0.12),
            123: (-0.05, 0.4, 0.08), 205: (0.0, 0.45, 0.15), 36: (0.0, 0.4, 0.12),
            203: (0.0, 0.3, 0.08), 47: (0.0, 0.3, 0.08), 126: (0.0, 0.25, 0.06),
            129: (0.0, 0.1, 0.02),
            230: (0.0, 0.3, 0.12), 229: (0.0, 0.32, 0.12), 228: (0.05, 0.25, 0.08),
            35: (0.15, 0.1, 0.0), 143: (0.15, 0.05, 0.0), 70: (0.0, -0.12, 0.0),
            46: (0.0, -0.12, 0.0), 61: (0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0),
            1: (0.0, 0.0, 0.0), 5: (0.0, 0.0, 0.0), 195: (0.0, 0.0, 0.0),
            197: (0.0, 0.0, 0.0), 6: (0.0, 0.0, 0.0), 168: (0.0, 0.0, 0.0)},
    # Nose wrinkler: alae and the skin beside the nose up, upper lip up, skin at the root of
    # the nose pulled down (it wrinkles across the bridge), the tip barely moves.
    "AU9": {129: (-0.05, 0.45, 0.05), 98: (-0.05, 0.45, 0.05), 64: (-0.05, 0.45, 0.05),
            48: (0.0, 0.4, 0.05), 102: (-0.05, 0.42, 0.05), 49: (0.0, 0.3, 0.03),
            4: (0.0, 0.05, 0.0), 1: (0.0, 0.06, 0.0), 2: (0.0, 0.3, 0.0), 94: (0.0, 0.2, 0.0),
            0: (0.0, 0.55, 0.06), 37: (0.0, 0.53, 0.06), 39: (0.0, 0.44, 0.05),
            40: (0.0, 0.3, 0.03), 13: (0.0, 0.5, 0.04), 82: (0.0, 0.47, 0.04),
            47: (0.0, 0.3, 0.08), 100: (0.0, 0.3, 0.08), 126: (0.0, 0.3, 0.06),
            6: (0.0, -0.15, -0.05), 168: (0.0, -0.2, -0.05), 197: (0.0, -0.08, -0.02),
            195: (0.0, 0.0, 0.0), 5: (0.0, 0.05, 0.0), 14: (0.0, 0.0, 0.0),
            17: (0.0, 0.0, 0.0)},
    # Upper lip raiser: the centre of the upper lip up most (the lip turns angular), the
    # philtrum shortens, the alae rise a little; nose tip and lower lip stay.
    "AU10": {0: (0.0, 0.6, 0.1), 37: (0.0, 0.6, 0.1), 39: (0.0, 0.52, 0.08),
             40: (0.0, 0.38, 0.05), 185: (0.0, 0.2, 0.02), 13: (0.0, 0.55, 0.05),
             82: (0.0, 0.53, 0.05), 81: (0.0, 0.45, 0.04), 164: (0.0, 0.25, 0.05),
             98: (0.0, 0.12, 0.02), 64: (0.0, 0.1, 0.02), 1: (0.0, 0.0, 0.0),
             4: (0.0, 0.0, 0.0), 2: (0.0, 0.05, 0.0), 14: (0.0, -0.05, 0.0),
             17: (0.0, 0.0, 0.0), 18: (0.0, 0.0, 0.0)},
    "AU12": {61: (-0.45, 0.35, -0.15), 78: (-0.45, 0.35, -0.15), 185: (-0.3, 0.25, -0.05),
             146: (-0.3, 0.25, -0.05)},
    "AU26": {14: (0.0, -0.95, -0.1), 87: (0.0, -0.9, -0.1), 17: (0.0, -1.05, -0.25),
             152: (0.0, -1.1, -0.35), 175: (0.0, -1.1, -0.3), 13: (0.0, 0.0, 0.0)},
    "AU25": {13: (0.0, 0.12, 0.0), 82: (0.0, 0.11, 0.0), 81: (0.0, 0.08, 0.0),
             0: (0.0, 0.05, 0.0), 14: (0.0, -0.22, 0.0), 87: (0.0, -0.2, 0.0),
             178: (0.0, -0.15, 0.0), 17: (0.0, -0.15, 0.0), 18: (0.0, -0.1, 0.0),
             200: (0.0, -0.05, 0.0)},
    "AU1": {107: (0.0, 0.55, 0.0), 55: (0.0, 0.5, 0.0), 66: (0.0, 0.45, 0.0),
            65: (0.0, 0.4, 0.0)},
    "AU2": {105: (0.0, 0.5, 0.0), 52: (0.0, 0.45, 0.0), 63: (0.0, 0.55, 0.0),
            53: (0.0, 0.5, 0.0), 70: (0.0, 0.45, 0.0), 46: (0.0, 0.4, 0.0)},
}  # fmt: skip

FURROW_LINES: dict[str, tuple[tuple[int, ...], bool]] = {
    "nasolabial": ((129, 203, 206, 216, 212), True),
    "infraorbital": ((111, 117, 118, 119, 120), False),
}
"""Furrows the rig deepens: canonical vertices along the subject's right furrow (mirrored to
the left) and whether only the lateral side bulges (nasolabial: the cheek overhangs the
fold) or both (infraorbital: the lower-lid "bag" above, the cheek pad below)."""
FURROW_DEPTH_CM: dict[str, dict[str, float]] = {
    "AU6": {"nasolabial": 0.12, "infraorbital": 0.22},
    "AU7": {"infraorbital": 0.05},
    "AU9": {"nasolabial": 0.15},
    "AU10": {"nasolabial": 0.25},
}
"""How far the skin beside each furrow bulges at FACS 5 (cm, hand-set; the furrow line sinks
half as much): FACS has AU9 and AU10 deepen the nasolabial furrow, AU6 its upper part and
the infraorbital furrow (with bagging below the eye: 2.2 mm since rig version 3, 1.5 mm
before), AU7 the lower-lid bulge a little."""
LID_MASK_CM: dict[str, float] = {"AU6": 0.5}
"""Distance from the lid margins over which a basis fades in (cm; default 1.5): the margins
themselves move only by lid closure. AU6 fades in closer (0.5 cm; 0.7 before rig version 3),
so the cheek's lift reaches the skin just under the lower lid, which bunches between the
raised lid margin and the raised cheek (hand-set)."""


def _anchor_targets(au: str) -> tuple[np.ndarray, np.ndarray]:
    """Anchor vertex indices (both sides) and their target displacements, cm."""
    anchors = FACS_ANCHORS.get(au, {})
    if not anchors:
        return np.zeros(0, np.int64), np.zeros((0, 3))
    mirror = cf.mirror_map()
    idx, tgt = [], []
    for i, d in anchors.items():
        idx.append(i)
        tgt.append(d)
        j = int(mirror[i])
        if j != i:
            idx.append(j)
            tgt.append((-d[0], d[1], d[2]))
    return np.asarray(idx), np.asarray(tgt, dtype=np.float64)


def _rbf_correction(points: np.ndarray, idx: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """(N, 3) smooth field equal to ``residual`` at ``points[idx]`` (Gaussian RBF)."""
    if len(idx) == 0:
        return np.zeros_like(points)
    a = points[idx]
    k = np.exp(-0.5 * ((a[:, None] - a[None]) ** 2).sum(-1) / ANCHOR_SIGMA_CM**2)
    coef = np.linalg.solve(k + 1e-6 * np.eye(len(idx)), residual)
    kall = np.exp(-0.5 * ((points[:, None] - a[None]) ** 2).sum(-1) / ANCHOR_SIGMA_CM**2)
    return kall @ coef


def _region_vertices(au: str) -> np.ndarray:
    """Canonical vertices of an AU's region (py-feat's map, completed where it is partial)."""
    if au == "AU25":
        return np.asarray(
            cf.MOUTH_UPPER + cf.MOUTH_LOWER + cf.LIPS_UPPER_OUTER + cf.LIPS_LOWER_OUTER
        )
    if au == "AU26":
        # py-feat maps AU26 to the masseter only; the jaw that drops is everything below
        # the mouth corners.
        v = cf.canonical_vertices()
        corner_y = v[list(cf.MOUTH_CORNERS), 1].mean()
        below = np.nonzero((v[:, 1] < corner_y - 0.2) & (np.abs(v[:, 0]) < 6.0))[0]
        return np.concatenate([_feat_region("AU26"), below])
    return _feat_region(au)


def _feat_region(au: str) -> np.ndarray:
    """Canonical vertices of py-feat's ``au_region_map`` entry for ``au``."""
    regions = json.loads(feat_resource("au_region_map.json").read_text())["regions"]
    key = _PLS_NAME[au]
    if key not in regions:
        raise KeyError(f"au_region_map.json has no region {key}; regions: {sorted(regions)}")
    idx = np.asarray(regions[key]["mp478_vertices"], dtype=np.int64)
    return idx[idx < cf.N_CANONICAL]


@lru_cache(maxsize=1)
def _canonical_normals() -> np.ndarray:
    """(468, 3) unit vertex normals of the canonical face (pointing out of the face)."""
    v = cf.canonical_vertices()
    tri = v[cf.canonical_triangles()]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, cf.canonical_triangles()[:, k], fn)
    vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)
    return vn if vn[cf.PRONASALE, 2] > 0 else -vn


@lru_cache(maxsize=4)
def _furrow_profile(name: str) -> np.ndarray:
    """(468, 3) unit-depth deepening of one furrow (both sides of the face), cm per cm.

    Skin beside the furrow line bulges along the surface normal (peak 0.45-0.55 cm from the
    line), the line itself sinks by half as much; strongest in the middle of the line.
    """
    line_idx, lateral_only = FURROW_LINES[name]
    v = cf.canonical_vertices()
    line = v[list(line_idx)]
    seg_a, ab = line[:-1], line[1:] - line[:-1]
    t = np.clip(((v[:, None] - seg_a[None]) * ab[None]).sum(-1) / (ab**2).sum(-1)[None], 0, 1)
    closest = seg_a[None] + t[..., None] * ab[None]
    dist = np.linalg.norm(v[:, None] - closest, axis=-1)
    k = dist.argmin(1)
    rows = np.arange(len(v))
    d, q = dist[rows, k], closest[rows, k]
    lengths = np.linalg.norm(ab, axis=1)
    along = np.concatenate([[0.0], np.cumsum(lengths)])[k] + t[rows, k] * lengths[k]
    along /= lengths.sum()
    if lateral_only:
        side = np.where(np.abs(v[:, 0]) > np.abs(q[:, 0]), d, 0.0)
        bulge = np.exp(-(((side - 0.55) / 0.4) ** 2)) * (side > 0)
        taper = smoothstep(0.0, 1.0, along / 0.2) * (
            1 - smoothstep(0.0, 1.0, (along - 0.65) / 0.35))
    else:
        bulge = np.exp(-(((d - 0.45) / 0.3) ** 2))
        taper = smoothstep(0.0, 1.0, along / 0.25) * smoothstep(0.0, 1.0, (1 - along) / 0.25)
    field = ((bulge - 0.5 * np.exp(-((d / 0.2) ** 2))) * taper)[:, None] * _canonical_normals()
    field[v[:, 0] >= 0] = 0.0  # computed on the right side, mirrored to the left
    left = v[:, 0] > 0
    field[left] = field[cf.mirror_map()[left]] * np.array([-1.0, 1.0, 1.0])
    return field


def _localised_pls(au: str, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """py-feat's field for ``au`` at FACS 5, global motion removed, symmetric, localised and
    scaled to :data:`AU_PEAK_CM` (cm), and the falloff (468,) used to localise it."""
    pls = cf.pls_model()
    neutral = pls.neutral
    canon = cf.canonical_vertices()
    raw = pls.coef[pls.columns.index(_PLS_NAME[au])]
    dist = np.linalg.norm(canon[:, None] - canon[None, region], axis=-1).min(1)
    w_fit = 0.02 + smoothstep(0.0, 1.0, (dist - 1.0) / 2.0)
    s, rot, t = cf.similarity_fit(neutral + raw, neutral, w_fit)
    disp = s * (neutral + raw) @ rot.T + t - neutral
    disp = 0.5 * (disp + disp[cf.mirror_map()] * np.array([-1.0, 1.0, 1.0]))
    falloff = 1 - smoothstep(0.0, 1.0, (dist - 0.4) / 1.8)
    disp = disp * falloff[:, None]
    peak = np.linalg.norm(disp, axis=1).max()
    return disp * AU_PEAK_CM[au] / max(peak, 1e-9), falloff


@lru_cache(maxsize=1)
def _lid_distance() -> np.ndarray:
    """(468,) distance of each canonical vertex from the nearest lid-margin vertex, cm."""
    canon = cf.canonical_vertices()
    eye_margin = np.asarray(cf.EYE_R_UPPER + cf.EYE_R_LOWER + cf.EYE_L_UPPER + cf.EYE_L_LOWER)
    return np.linalg.norm(canon[:, None] - canon[None, eye_margin], axis=-1).min(1)


def canonical_basis(au: str) -> np.ndarray:
    """(468, 3) float64 displacement of one basis AU at FACS 5 on the canonical face, cm.

    py-feat's localised field (:func:`_localised_pls`), corrected to meet the FACS anchors,
    plus the furrow deepening (:data:`FURROW_DEPTH_CM`), faded out toward the lid margins.
    """
    mirror = cf.mirror_map()
    anchor_idx, anchor_tgt = _anchor_targets(au)
    # Pins (zero anchors) hold landmarks still; they do not widen the AU's region.
    moving = anchor_idx[np.abs(anchor_tgt).sum(1) > 0]
    region = np.concatenate([_region_vertices(au), moving])
    region = np.unique(np.concatenate([region, mirror[region]]))
    disp, falloff = _localised_pls(au, region)
    # The correction is faded by the falloff too, so aim it higher where the falloff is low
    # (pins outside the region); there the learned field is faded as much, so it stays small.
    need = (anchor_tgt - disp[anchor_idx]) / np.maximum(falloff[anchor_idx], 0.05)[:, None]
    corr = _rbf_correction(cf.canonical_vertices(), anchor_idx, need)
    disp = disp + corr * falloff[:, None]
    for furrow, depth in FURROW_DEPTH_CM.get(au, {}).items():
        disp = disp + depth * _furrow_profile(furrow)
    lid_mask = smoothstep(0.0, 1.0, (_lid_distance() - 0.1) / LID_MASK_CM.get(au, 1.5))
    return disp * lid_mask[:, None]


@lru_cache(maxsize=1)
def template_bases() -> np.ndarray:
    """(len(BASIS_AUS), Vc, 3) float64 coarse-template displacement at FACS 5, cm."""
    tpl = head_template()
    out = np.zeros((len(BASIS_AUS),) + tpl.coarse.shape)
    follow = tpl.follow >= 0
    for k, au in enumerate(BASIS_AUS):
        disp = canonical_basis(au)
        out[k, : cf.N_CANONICAL] = disp
        out[k, follow] = tpl.follow_w[follow, None] * disp[tpl.follow[follow]]
    return out


@lru_cache(maxsize=1)
def _jacobian_operators() -> tuple:
    """Edge list, vertex-edge incidence (V, E) and the inverse template edge covariance."""
    import scipy.sparse as sp

    tpl = head_template()
    f = tpl.coarse_faces
    e = np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), 1), axis=0)
    n, m = len(tpl.coarse), len(e)
    inc = sp.csr_matrix((np.ones(2 * m), (e.T.ravel(), np.tile(np.arange(m), 2))), shape=(n, m))
    es = tpl.coarse[e[:, 1]] - tpl.coarse[e[:, 0]]
    lam = 1e-2 * np.mean((es**2).sum(1))
    ss = (inc @ (es[:, :, None] * es[:, None, :]).reshape(m, 9)).reshape(n, 3, 3)
    ss_inv = np.linalg.inv(ss + lam * np.eye(3))
    return e, inc, es, lam, ss_inv


def _one_ring_jacobians(dst: np.ndarray) -> np.ndarray:
    """(Vc, 3, 3) least-squares local linear maps taking template one-ring edges to ``dst``'s.

    Regularised toward the identity where the one-ring is flat (the normal direction).
    """
    e, inc, es, lam, ss_inv = _jacobian_operators()
    ed = dst[e[:, 1]] - dst[e[:, 0]]
    ds = (inc @ (ed[:, :, None] * es[:, None, :]).reshape(len(e), 9)).reshape(-1, 3, 3)
    return (ds + lam * np.eye(3)) @ ss_inv


def transfer_bases(coarse_identity: np.ndarray) -> np.ndarray:
    """(K, Vc, 3) template bases mapped through the template-to-identity Jacobians, cm."""
    bases = template_bases()
    moving = _moving_vertices()
    jac = _one_ring_jacobians(coarse_identity)[moving]
    # Local stretch of the identity rescales AU motion only within sane bounds.
    scale = np.sqrt((jac**2).sum((1, 2)) / 3)
    jac = jac * (np.clip(scale, 0.6, 1.6) / np.maximum(scale, 1e-9))[:, None, None]
    out = np.zeros_like(bases)
    out[:, moving] = (bases[:, moving, None, :] @ jac.transpose(0, 2, 1)[None])[:, :, 0]
    return out


@lru_cache(maxsize=1)
def _moving_vertices() -> np.ndarray:
    """Coarse vertices that any AU basis moves."""
    return np.nonzero(np.abs(template_bases()).sum((0, 2)) > 0)[0]


def lid_fields(fine_cm: np.ndarray, eye_centres_cm: np.ndarray, eye_radius_cm: float):
    """Full-closure lid displacement on the fine head (cm) and the vertices it moves."""
    from pain3d.face.head import loop_closure_field
    from pain3d.face.mesh import region_id

    tpl = head_template()
    lids = np.isin(tpl.regions, [region_id("upper_eyelid"), region_id("lower_eyelid")])
    cand_all = np.nonzero(lids & (tpl.fine_part == 0))[0]
    up_f = np.zeros_like(fine_cm)
    lo_f = np.zeros_like(fine_cm)
    for key, centre in zip(("r", "l"), eye_centres_cm, strict=False):
        upper, lower = tpl.fine_eye_loops[key]
        near = np.linalg.norm(fine_cm[cand_all] - centre, axis=1) < 3.0
        width = np.linalg.norm(fine_cm[upper[0]] - fine_cm[upper[-1]])
        u, lo = loop_closure_field(
            fine_cm, upper, lower, cand_all[near], LID_MEET, 0.4 * width, 0.25 * width, 0.6
        )
        # Keep the meeting line in front of the eyeball.
        meet = fine_cm[upper] + u[upper]
        d = meet - centre
        r = np.linalg.norm(d, axis=1, keepdims=True)
        need = eye_radius_cm + EYE_CLEARANCE_CM
        push = np.where(r < need, d / r * (need - r), 0.0)
        u[upper] += push
        lo[lower] += push
        up_f += u
        lo_f += lo
    # Socket vertices (behind the margins) follow their nearest margin vertex.
    sockets, nearest = _socket_margins()
    up_f[sockets] = up_f[nearest]
    lo_f[sockets] = lo_f[nearest]
    moved = np.nonzero((np.abs(up_f) + np.abs(lo_f)).sum(1) > 0)[0]
    return up_f, lo_f, moved, sockets


@lru_cache(maxsize=1)
def _socket_margins() -> tuple[np.ndarray, np.ndarray]:
    """Fine eye-socket vertices and, for each, its nearest lid-margin vertex (template)."""
    tpl = head_template()
    fine = tpl.subdivide @ tpl.coarse
    sockets = np.nonzero(tpl.fine_part == 1)[0]
    margins = np.concatenate([np.concatenate(tpl.fine_eye_loops[k]) for k in ("r", "l")])
    d = np.linalg.norm(fine[sockets, None] - fine[None, margins], axis=-1)
    return sockets, margins[d.argmin(1)]


def closure_fractions(aus: np.ndarray) -> tuple[float, float]:
    """(upper, lower) lid closure in [0, 1] for an AU vector (FACS, order of AU_NAMES)."""
    keep_u, keep_l = 1.0, 1.0
    for name, (cu, cl) in LID_CLOSURE.items():
        a = float(aus[AU_NAMES.index(name)]) / AU_MAX
        keep_u *= 1 - cu * a
        keep_l *= 1 - cl * a
    a43 = float(np.clip(aus[AU_NAMES.index("AU43")], 0.0, 1.0))
    keep_u *= 1 - a43
    keep_l *= 1 - a43
    return 1 - keep_u, 1 - keep_l


def rig_from_fine(basis_m, fine_m, eye_centres_m, eye_radius_m) -> Rig:
    """Assemble a :class:`Rig` from fine-level bases and eyeballs (metres)."""
    skin = np.asarray(fine_m[: head_template().n_fine], np.float64)
    up, lo, moved, sockets = lid_fields(
        skin / CM, np.asarray(eye_centres_m) / CM, eye_radius_m / CM
    )
    n = len(fine_m)
    moved = np.setdiff1d(moved, sockets)
    fine_m = np.asarray(fine_m, np.float64)
    side = (fine_m[sockets, 0] > 0).astype(int)
    centres = np.asarray(eye_centres_m, np.float64)
    socket_r = np.linalg.norm(fine_m[sockets] - centres[side], axis=1)
    return Rig(
        socket_vertices=sockets,
        socket_radius=socket_r.astype(np.float32),
        basis=np.asarray(basis_m, np.float32),
        lid_upper=(np.pad(up, ((0, n - len(up)), (0, 0))) * CM).astype(np.float32),
        lid_lower=(np.pad(lo, ((0, n - len(lo)), (0, 0))) * CM).astype(np.float32),
        lid_vertices=moved,
        eye_centres=np.asarray(eye_centres_m, np.float32),
        eye_radius=float(eye_radius_m),
    )
