"""Procedural appearance of synthetic identities, backgrounds and camera effects.

Per identity: :func:`sample_appearance` draws visible traits linked to the demographics (Monk
skin tone, eyes, brows, hair, facial hair, clothing, age cues) and paints UV textures on the
identity's neutral mesh, once; the renderer re-uses them for every expression and view.
Per image: :func:`procedural_background` or :func:`photo_background`, and
:func:`camera_effects` after compositing. Optional diffusion back-ends live in
:mod:`pain3d.appearance.diffusion` (diffusers is imported only there, lazily).
"""

from __future__ import annotations

import importlib
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pain3d.demographics import Demographics

if TYPE_CHECKING:
    from pain3d.appearance.hair import HairShell
    from pain3d.appearance.traits import Traits
    from pain3d.face.mesh import Mesh

# Imported on first use: the painting modules pull in scipy, which the diffusion settings
# (read by every GenerateConfig) and the back-ends do not need.
_EXPORTS = {
    "procedural_background": "background", "photo_background": "background",
    "CameraEffects": "effects", "camera_effects": "effects", "sample_effects": "effects",
    "HairShell": "hair", "HAIR_SHELL_REGION": "hair", "WRINKLE_CHANNELS": "wrinkles",
    "MONK_TONES": "traits", "Traits": "traits", "monk_tone_probabilities": "traits",
    "sample_traits": "traits",
}  # fmt: skip
__all__ = sorted([*_EXPORTS, "Appearance", "sample_appearance", "appearance_from_traits"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"pain3d.appearance.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'pain3d.appearance' has no attribute {name!r}")

_TOKENS = itertools.count(1)


@dataclass(frozen=True, eq=False)
class Appearance:
    """Everything the renderer needs to texture one identity.

    Textures are (S, S, C) uint8 in OpenGL row order (row 0 = v 0; flip rows to view).

    Attributes:
        demographics: who the identity is meant to look like.
        traits: visible traits (Monk tone 1..10, hair style and colour, iris colour, ...).
        albedo: (S, S, 3) sRGB skin, lips, brows, facial and scalp hair, clothing.
        height: (S, S) fine relief for bump shading, 128 = flat (age creases, pores,
            hair strands).
        wrinkles: (S, S, 4) expression-wrinkle depth for glabellar lines (AU4), nose wrinkles
            (AU9), crow's feet (AU6/AU7), infraorbital furrow + nasolabial fold (AU7/AU6/AU10).
        vertex_spec: (V,) float32 specular strength per vertex of the neutral mesh.
        vertex_hair: (V,) float32 scalp-hair coverage per vertex (parts: hair vs skin).
        hair_shell: volume geometry for the hair style, or None.
        labels: (S, S, 2) painted brow and lip coverage, so the part pass follows the painted
            brows and lips rather than triangle edges; None to label by mesh regions only.
        seed: the seed that drew it.
        rest_mesh: the neutral mesh the textures were painted on; the renderer derives its
            per-topology data (draw order, mouth faces, hair shell) from it, so a render does
            not depend on which expression was drawn first. None: the first mesh drawn.
        token: unique id used by the renderer to cache uploaded textures.
    """

    demographics: Demographics
    traits: Traits
    albedo: np.ndarray
    height: np.ndarray
    wrinkles: np.ndarray
    vertex_spec: np.ndarray
    vertex_hair: np.ndarray
    hair_shell: HairShell | None
    seed: int
    labels: np.ndarray | None = None
    rest_mesh: Mesh | None = None
    token: int = field(default_factory=lambda: next(_TOKENS))

    @property
    def monk_tone(self) -> int:
        return self.traits.monk_tone


def appearance_from_traits(mesh: Mesh, demographics: Demographics, traits: Traits, seed: int,
                           texture_size: int = 512) -> Appearance:
    """Paint textures and build hair for given traits (no random trait sampling)."""
    from pain3d.appearance.hair import build_hair_shell
    from pain3d.appearance.landmarks import face_landmarks
    from pain3d.appearance.textures import paint_textures

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA77E]))
    tex = paint_textures(mesh, traits, rng, size=texture_size, sex=demographics.sex)
    shell = build_hair_shell(mesh, face_landmarks(mesh), traits.hair_style, rng)
    return Appearance(demographics, traits, tex.albedo, tex.height, tex.wrinkles,
                      tex.vertex_spec, tex.vertex_hair, shell, seed, labels=tex.labels,
                      rest_mesh=mesh)


def sample_appearance(identity: Any, seed: int, mesh: Mesh | None = None,
                      texture_size: int = 512) -> Appearance:
    """Draw and paint the appearance of an identity.

    Args:
        identity: a :class:`pain3d.face.Identity` (uses ``.demographics``; its neutral mesh
            is built with :func:`pain3d.face.identity_mesh` unless ``mesh`` is given), or a
            bare :class:`~pain3d.demographics.Demographics` together with ``mesh``.
        seed: appearance seed; the same identity, seed and mesh give identical textures.
        mesh: the identity's neutral mesh (with uv and regions), to skip rebuilding it.
        texture_size: side of the UV textures in texels.

    Returns:
        An :class:`Appearance` for :meth:`pain3d.render.Renderer.render`.
    """
    demo = identity if isinstance(identity, Demographics) else identity.demographics
    if mesh is None:
        if isinstance(identity, Demographics):
            raise ValueError("sample_appearance(demographics, ...) needs mesh=; pass an "
                             "Identity to build its neutral mesh automatically")
        from pain3d.face import identity_mesh

        mesh = identity_mesh(identity)
    from pain3d.appearance.traits import sample_traits

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7A175]))
    traits = sample_traits(demo, rng)
    return appearance_from_traits(mesh, demo, traits, seed, texture_size)
