"""Headless rendering of textured faces: cameras, lights, one-draw multi-pass renderer,
heatmap colour map and compositing.

Typical use, one :class:`Renderer` per process::

    renderer = Renderer(512)
    for cam in default_views():
        res = renderer.render(mesh, appearance, cam, sample_lighting(rng), aus=aus, heat=heat)
        photo = compose(res, procedural_background(rng, 512), sample_effects(rng), rng)
"""

from pain3d.render.camera import Camera, default_views, jitter_camera
from pain3d.render.colormap import colourise, heat_lut, normalise_heat
from pain3d.render.compose import compose, soft_alpha
from pain3d.render.lighting import Lighting, sample_lighting
from pain3d.render.renderer import Renderer, RenderError, RenderResult, wrinkle_weights

__all__ = [
    "Camera", "default_views", "jitter_camera", "Lighting", "sample_lighting", "Renderer",
    "RenderResult", "RenderError", "compose", "soft_alpha", "heat_lut", "normalise_heat",
    "colourise", "wrinkle_weights",
]
