"""Deform a neutral mesh by AUs; displacement heatmap values."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pain3d.face.mesh import Mesh
from pain3d.face.rig import BASIS_AUS, NUISANCE_AUS, Rig, closure_fractions
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


def _coefficients(aus: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
    """(len(BASIS_AUS),) basis weights: intensity / 5, linear and monotone."""
    values = {name: aus[i] for i, name in enumerate(AU_NAMES)}
    values.update({name: nuisance[i] for i, name in enumerate(NUISANCE_AUS)})
    return np.array([values[name] / AU_MAX for name in BASIS_AUS], dtype=np.float32)


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
    coef = _coefficients(a, nu)
    verts = mesh.vertices + np.tensordot(coef, rig.basis, axes=1)
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


def displacement(neutral: Mesh, expressed: Mesh) -> np.ndarray:
    """(V,) float32 per-vertex displacement magnitude, metres.

    Divide by :data:`pain3d.face.HEATMAP_SCALE_M` for heatmap values comparable across the
    dataset.
    """
    if neutral.vertices.shape != expressed.vertices.shape:
        raise ValueError(f"meshes differ in size: {neutral.vertices.shape} vs "
                         f"{expressed.vertices.shape}")  # fmt: skip
    diff = expressed.vertices.astype(np.float32) - neutral.vertices.astype(np.float32)
    return np.linalg.norm(diff, axis=1).astype(np.float32)


def au_attribution(
    mesh: Mesh,
    aus: Mapping[str, float] | np.ndarray | list[float],
    nuisance: Mapping[str, float] | np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-AU displacement magnitude (V,) float32 metres, each AU applied alone.

    Keys are the pain AUs with a nonzero value (and nuisance AUs given). Lid closure is
    non-additive (fractions combine as ``1 - prod(1 - c)``), so the parts need not sum to
    :func:`displacement` of the full expression.
    """
    a = _pain_vector(aus)
    nu = _nuisance_vector(nuisance)
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(AU_NAMES):
        if a[i] > 0:
            single = np.zeros(len(AU_NAMES))
            single[i] = a[i]
            out[name] = displacement(mesh, express(mesh, single))
    for i, name in enumerate(NUISANCE_AUS):
        if nu[i] > 0:
            single = np.zeros(len(NUISANCE_AUS))
            single[i] = nu[i]
            out[name] = displacement(mesh, express(mesh, np.zeros(len(AU_NAMES)), single))
    return out
