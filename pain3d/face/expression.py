"""Deform a neutral mesh by AUs; displacement heatmap values; AU-driven wrinkle weights.

Nuisance AUs never cancel a pain AU. Two rules: a nuisance AU that is a direct antagonist of
a pain AU (the brow raisers AU1/AU2 against the brow lowerer AU4) is weakened in proportion
to it (:func:`applied_nuisance`), and wherever a nuisance basis still pushes a vertex against
the motion the pain AUs give it, that component is dropped (:func:`compose_antagonists`).
So the labelled pain movement survives, and the nuisance AU keeps its other effects
(forehead, motion along other axes, regions the pain AUs leave still).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pain3d.face.mesh import Mesh, vector_norms
from pain3d.face.rig import (
    BASIS_AUS,
    NUISANCE_ANTAGONISTS,
    NUISANCE_AUS,
    Rig,
    closure_fractions,
)
from pain3d.facs import AU_MAX, AU_NAMES, au_vector


def _nuisance_vector(nuisance: Mapping[str, float] | np.ndarray | None) -> np.ndarray:
    out = np.zeros(len(NUISANCE_AUS))
    if nuisance is None:
        return out
    if isinstance(nuisance, Mapping):
        for name, value in nuisance.items():
            key = name.upper().replace("AU0", "AU")
            if key not in NUISANCE_AUS:
                raise ValueError(f"nuisance AU {name!r} is not one of {NUISANCE_AUS}")
            out[NUISANCE_AUS.index(key)] = float(value)
    else:
        arr = np.asarray(nuisance, dtype=np.float64)
        if arr.shape != (len(NUISANCE_AUS),):
            raise ValueError(f"nuisance must be a mapping or shape ({len(NUISANCE_AUS)},) "
                             f"in the order {NUISANCE_AUS}, got {arr.shape}")  # fmt: skip
        out[:] = arr
    if np.any(out < 0) or np.any(out > AU_MAX) or not np.all(np.isfinite(out)):
        raise ValueError(f"nuisance AUs must be in 0..{AU_MAX}, got {out.tolist()}")
    return out


def _pain_vector(aus) -> np.ndarray:
    a = au_vector(aus, fill_missing=True)
    if a.shape != (len(AU_NAMES),):
        raise ValueError(f"express takes one AU vector of {len(AU_NAMES)} values, got {a.shape}")
    return a


def _coefficients(aus: np.ndarray, nuisance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pain, nuisance) basis weights, each (len(BASIS_AUS),): intensity / 5, linear."""
    pain = np.zeros(len(BASIS_AUS), np.float32)
    nu = np.zeros(len(BASIS_AUS), np.float32)
    for i, name in enumerate(AU_NAMES):
        if name in BASIS_AUS:
            pain[BASIS_AUS.index(name)] = aus[i] / AU_MAX
    for i, name in enumerate(NUISANCE_AUS):
        nu[BASIS_AUS.index(name)] = nuisance[i] / AU_MAX
    return pain, nu


ANTAGONIST_FULL = 1.0
"""Pain-AU intensity (FACS) from which a direct nuisance antagonist is switched off: from trace
level (A = 1) on, the label says the pain AU acts, and its antagonist would hide it (at AU4 = 1
the brow drops ~1 mm, which a brow raiser at 2 would more than undo)."""

ANTAGONIST_RAMP_M = (3e-4, 1.5e-3)
"""Pain motion of a vertex along one axis (metres) over which opposing nuisance motion goes
from kept (below 0.3 mm, where the pain AUs barely act) to removed (from 1.5 mm on); a smooth
ramp, so the nuisance field stays smooth and no triangle folds where the pain field fades."""


CO_ACTION_LIMIT = 1.3
"""AUs that pull the same skin the same way (AU9 and AU10 both lift the upper lip) add up to
at most this many times the strongest one's own displacement at that vertex (soft limit)."""


def combine_bases(coef: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(V, 3) sum of ``coef[k] * basis[k]`` with co-acting AUs softly limited.

    Where one AU acts, the sum is that AU's displacement exactly. Where several push a
    vertex, the magnitude ``m`` of the sum is compressed above a knee at 0.8 of the limit
    ``L = CO_ACTION_LIMIT * max_k |coef[k] basis[k]|`` toward ``L`` (smoothly, monotone in
    ``m``): muscles pulling one lip cannot lift it twice as far as one of them alone.

    Args:
        coef: (K,) basis weights (FACS / 5).
        basis: (K, V, 3) displacement bases, metres.
    """
    parts = coef[:, None, None] * basis
    total = parts.sum(0)
    m = vector_norms(total)
    limit = CO_ACTION_LIMIT * vector_norms(parts).max(0)
    knee = 0.8 * limit
    over = m > knee
    if not over.any():
        return total
    span = limit[over] - knee[over]
    squeezed = knee[over] + span * np.tanh((m[over] - knee[over]) / span)
    total[over] *= (squeezed / m[over])[:, None]
    return total


def applied_nuisance(aus: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
    """(len(NUISANCE_AUS),) nuisance intensities actually applied, FACS 0..5.

    A nuisance AU with pain antagonists (:data:`pain3d.face.rig.NUISANCE_ANTAGONISTS`, e.g.
    the brow raisers AU1/AU2 against the brow lowerer AU4) is scaled by
    ``max(0, 1 - p / ANTAGONIST_FULL)``, p the strongest of its antagonists: from AU4 = 1 on
    no brow raiser acts (continuous AU4 below 1 weakens them in proportion). Write these
    (not the requested values) to manifests.

    Args:
        aus: (6,) pain AUs, order of :data:`pain3d.facs.AU_NAMES`.
        nuisance: (len(NUISANCE_AUS),) requested nuisance intensities.
    """
    out = np.asarray(nuisance, np.float64).copy()
    for i, name in enumerate(NUISANCE_AUS):
        rivals = [aus[AU_NAMES.index(p)] for p in NUISANCE_ANTAGONISTS.get(name, ())]
        if rivals:
            out[i] *= max(0.0, 1.0 - max(rivals) / ANTAGONIST_FULL)
    return out


def compose_antagonists(pain: np.ndarray, nuisance: np.ndarray,
                        ramp: tuple[float, float] = ANTAGONIST_RAMP_M) -> np.ndarray:
    """The nuisance displacement with its components against the pain displacement removed.

    Per vertex and axis (head frame: lateral, vertical, depth), a nuisance component of the
    opposite sign to the pain component is removed where the pain AUs move the vertex along
    that axis (by more than ``ramp[1]``; kept below ``ramp[0]``, smoothstep in between).

    Args:
        pain: (V, 3) displacement the pain AUs give each vertex, metres.
        nuisance: (V, 3) displacement of the nuisance AUs alone, metres.
        ramp: see :data:`ANTAGONIST_RAMP_M`.

    Returns:
        (V, 3) nuisance displacement to add to ``pain``.
    """
    t = np.clip((np.abs(pain) - ramp[0]) / (ramp[1] - ramp[0]), 0.0, 1.0)
    acting = t * t * (3 - 2 * t)
    against = nuisance * pain < 0
    return (nuisance * np.where(against, 1.0 - acting, 1.0)).astype(nuisance.dtype)


def _require_rig(mesh: Mesh) -> Rig:
    if mesh.rig is None:
        raise ValueError("this mesh has no AU rig; build it with pain3d.face.identity_mesh "
                         "(or load_flame(...).identity_mesh) before calling express")  # fmt: skip
    return mesh.rig


def express(
    mesh: Mesh,
    aus: Mapping[str, float] | np.ndarray | list[float],
    nuisance: Mapping[str, float] | np.ndarray | None = None,
) -> Mesh:
    """Deform an identity mesh by pain AUs (and optional nuisance AUs).

    Pure: the input is untouched. With all AUs zero the input mesh itself is returned.
    Nuisance AUs are composed so that they cannot cancel the pain AUs' motion (module
    docstring).

    Args:
        mesh: a neutral mesh from :func:`pain3d.face.identity_mesh` (carries its rig).
        aus: pain AUs, (6,) in the order of :data:`pain3d.facs.AU_NAMES` or a mapping;
            FACS 0..5, AU43 in [0, 1] (1 closes the lids).
        nuisance: non-pain AUs (``AU1``, ``AU2``, ``AU12``, ``AU25``, ``AU26``), FACS 0..5,
            as a mapping or a (5,) array in the order of :data:`NUISANCE_AUS`.

    Returns:
        A mesh with the same topology, UVs, regions and rig; vertices in metres.
    """
    rig = _require_rig(mesh)
    a = _pain_vector(aus)
    nu = _nuisance_vector(nuisance)
    if not a.any() and not nu.any():
        return mesh
    c_pain, c_nu = _coefficients(a, applied_nuisance(a, nu))
    d_pain = combine_bases(c_pain, rig.basis)
    verts = mesh.vertices + d_pain
    if nu.any():
        verts = verts + compose_antagonists(d_pain, np.tensordot(c_nu, rig.basis, axes=1))
    cu, cl = closure_fractions(a)
    if cu > 0 or cl > 0:
        idx = rig.lid_vertices
        p = verts[idx] + cu * rig.lid_upper[idx] + cl * rig.lid_lower[idx]
        verts[idx] = _clear_of_eyeballs(p, rig)
        sock = rig.socket_vertices
        p = verts[sock] + cu * rig.lid_upper[sock] + cl * rig.lid_lower[sock]
        c = rig.eye_centres[(p[:, 0] > 0).astype(int)]
        d = p - c
        # As the lids close, the socket sinks into the eyeball (hidden behind the lids).
        k = max(cu, cl)
        radius = (1 - k) * rig.socket_radius + k * np.minimum(
            rig.socket_radius, rig.eye_radius - 0.001
        )
        verts[sock] = c + d * (radius / np.linalg.norm(d, axis=1))[:, None]
    return mesh.with_vertices(verts)


def _clear_of_eyeballs(p: np.ndarray, rig: Rig) -> np.ndarray:
    """Push points that entered an eyeball back onto a shell just outside it."""
    from pain3d.face.rig import EYE_CLEARANCE_CM

    if rig.eye_radius <= 0:  # no eyeball model (FLAME backend)
        return p
    need = rig.eye_radius + 0.01 * EYE_CLEARANCE_CM
    side = (p[:, 0] > 0).astype(int)
    c = rig.eye_centres[side]
    d = p - c
    r = np.linalg.norm(d, axis=1, keepdims=True)
    inside = (r < need)[:, 0]
    if inside.any():
        p = p.copy()
        p[inside] = c[inside] + d[inside] / r[inside] * need
    return p


def express_parts(
    mesh: Mesh,
    aus: Mapping[str, float] | np.ndarray | list[float],
    nuisance: Mapping[str, float] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The pain and the nuisance part of an expression, as vertex displacements.

    ``mesh.vertices + pain`` is ``express(mesh, aus)`` (pain AUs only: what labels and
    pain heatmaps describe) and ``mesh.vertices + pain + nuisance`` is
    ``express(mesh, aus, nuisance)``.

    Returns:
        pain, nuisance: (V, 3) float32 displacements, metres, head frame.
    """
    pain_mesh = express(mesh, aus)
    full = express(mesh, aus, nuisance)
    pain = pain_mesh.vertices.astype(np.float32) - mesh.vertices.astype(np.float32)
    return pain, full.vertices.astype(np.float32) - pain_mesh.vertices.astype(np.float32)


def displacement(neutral: Mesh, expressed: Mesh) -> np.ndarray:
    """(V,) float32 per-vertex displacement magnitude, metres.

    Divide by :data:`pain3d.face.HEATMAP_SCALE_M` for heatmap values comparable across the
    dataset.
    """
    if neutral.vertices.shape != expressed.vertices.shape:
        raise ValueError(f"meshes differ in size: {neutral.vertices.shape} vs "
                         f"{expressed.vertices.shape}")  # fmt: skip
    diff = expressed.vertices.astype(np.float32) - neutral.vertices.astype(np.float32)
    return vector_norms(diff).astype(np.float32)


def au_attribution(
    mesh: Mesh,
    aus: Mapping[str, float] | np.ndarray | list[float],
    nuisance: Mapping[str, float] | np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-AU displacement magnitude (V,) float32 metres.

    Keys are the pain AUs with a nonzero value, each applied alone, and the nuisance AUs
    given, each added alone on top of the pain AUs (what it changes on this face, after
    :func:`compose_antagonists`). Lid closure is non-additive (fractions combine as
    ``1 - prod(1 - c)``), so the parts need not sum to :func:`displacement` of the full
    expression.
    """
    a = _pain_vector(aus)
    nu = _nuisance_vector(nuisance)
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(AU_NAMES):
        if a[i] > 0:
            single = np.zeros(len(AU_NAMES))
            single[i] = a[i]
            out[name] = displacement(mesh, express(mesh, single))
    pain_only = express(mesh, a) if nu.any() else mesh
    for i, name in enumerate(NUISANCE_AUS):
        if nu[i] > 0:
            single = np.zeros(len(NUISANCE_AUS))
            single[i] = nu[i]
            out[name] = displacement(pain_only, express(mesh, a, single))
    return out
