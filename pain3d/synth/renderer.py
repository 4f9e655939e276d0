"""The seam between dataset generation and the geometry/appearance/render stages.

A :class:`SampleRenderer` turns specs into pixels. Generation only ever calls the four methods
below, so any renderer that is a pure function of the specs gives reproducible datasets.
``GenerateConfig.renderer`` names it: ``builtin`` (pain3d's face, appearance and render
stages) or ``module:Class`` for another one (tests use :mod:`pain3d.synth.testing`).
One renderer instance lives in each worker process and is reused for every unit it renders.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from pain3d.synth.config import GenerateConfig
from pain3d.synth.spec import IdentitySpec, SampleSpec


@dataclass(frozen=True)
class RenderedImage:
    """The passes of one rendered image.

    Attributes:
        rgb: (H, W, 3) uint8 RGB, the final composited photo.
        mask: (H, W) uint8 head mask (255 = head), or None when not asked for.
        depth: (H, W) float32 camera distance in metres (0 = background), or None.
        landmarks: (3, 2) float64 image pixels of the subject's right eye centre, left eye
            centre and mouth centre (:mod:`pain3d.synth.keypoints`), or None when the renderer
            does not know them (the dataset then has no face-crop keypoints).
    """

    rgb: np.ndarray
    mask: np.ndarray | None = None
    depth: np.ndarray | None = None
    landmarks: np.ndarray | None = None


class SampleRenderer(Protocol):
    """What generation needs from the rendering stages (all outputs pure in the specs)."""

    def __init__(self, cfg: GenerateConfig) -> None: ...

    def prepare(self, identity: IdentitySpec) -> Any:
        """Per-identity state (neutral mesh, textures); reused for all its samples."""

    def render(self, state: Any, sample: SampleSpec, *, mask: bool, depth: bool) -> RenderedImage:
        """Render one image of the identity prepared in ``state``."""

    def heatmap(self, state: Any, sample: SampleSpec) -> np.ndarray:
        """(H, W, 3) uint8 RGB heatmap of ``sample``'s pain configuration from its camera."""

    def mesh_files(self, state: Any) -> dict[str, bytes]:
        """The textured neutral mesh: suffix -> bytes for ``.obj``, ``.mtl``, ``.png``.

        The OBJ must reference the MTL and the MTL the texture by the bare file names
        ``<identity>.mtl`` and ``<identity>.png``.
        """


BUILTIN = "pain3d.synth.builtin:BuiltinRenderer"
"""What ``renderer: builtin`` names: the built-in renderer is loaded like any other."""


def renderer_class(name: str) -> type:
    """The class named by ``GenerateConfig.renderer`` (``builtin`` or ``module:Class``).

    Raises:
        ValueError: if ``module:Class`` cannot be imported, naming what was tried.
    """
    module, sep, cls = (BUILTIN if name == "builtin" else name).partition(":")
    if not sep or not module or not cls:
        raise ValueError(f"renderer {name!r}: use 'builtin' or 'package.module:ClassName'")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"renderer {name!r} cannot be loaded: {exc}") from exc


_CACHE: dict[str, Any] = {}


def get_renderer(cfg: GenerateConfig) -> SampleRenderer:
    """The renderer of ``cfg`` for this process, built once (it may own a GL context)."""
    key = repr(cfg)
    if key not in _CACHE:
        # One renderer per process: a new config replaces the old one, whose GL context is
        # released now rather than whenever the garbage collector gets to it.
        for old in _CACHE.values():
            release = getattr(old, "release", None)
            if release is not None:
                release()
        _CACHE.clear()
        _CACHE[key] = renderer_class(cfg.renderer)(cfg)
    return _CACHE[key]
