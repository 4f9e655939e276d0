"""The diffusion appearance of ``pain3d generate`` (``appearance: diffusion``).

Per identity, :meth:`DiffusionStage.appearance` renders the neutral mesh from a frontal
camera, generates a depth-conditioned portrait from the identity's demographic prompt and
bakes it onto the procedural texture; every image of the identity (neutral and pain, all
views) uses that one texture, so the pairs and labels stay exact. With a background prompt,
:meth:`DiffusionStage.background` inpaints each image's scene around the head mask, the
head pixels kept from the render.

Seeds come from the specs (portrait: the identity's seed; background: the view's background
seed, shared by the neutral and pain images of a view), so a run is reproducible on the same
machine, weights and library versions; GPU kernels may differ in the last bits elsewhere.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from pain3d.synth.spec import TAG_PORTRAIT, DiffusionSettings, GenerateConfig, derive_seed

log = logging.getLogger(__name__)

# The generate flag of each DiffusionSettings key a DiffusionUnavailable can name (.key).
FLAGS = {
    "base_model": "--base-model", "depth_controlnet": "--depth-controlnet",
    "inpaint_model": "--inpaint-model", "device": "--diffusion-device",
}


def check_diffusion(cfg: GenerateConfig) -> None:
    """Before any work starts: diffusers, the device and the weights of ``cfg`` are there.

    Does nothing for the procedural appearance. Loads no weights.

    Raises:
        DiffusionUnavailable: naming the ``diffusion.<key>`` setting (and flag) to change.
    """
    if cfg.appearance != "diffusion":
        return
    from pain3d.appearance.diffusion import DiffusionUnavailable, check_available

    settings = cfg.diffusion
    try:
        check_available(settings.backend(), portrait=True,
                        inpaint=settings.background_prompt is not None)
    except DiffusionUnavailable as exc:
        key = exc.key
        where = f" (setting diffusion.{key}, flag {FLAGS[key]})" if key in FLAGS else ""
        raise DiffusionUnavailable(f"appearance 'diffusion': {exc}{where}; or use "
                                   "appearance: procedural", key=key) from exc


def portrait_camera(cfg: GenerateConfig):
    """The frontal camera the portrait is generated and projected from."""
    from pain3d.render.camera import Camera

    return Camera(yaw=0.0, pitch=0.0, roll=0.0, distance=cfg.distance, fov=cfg.fov)


def portrait_prompt(demographics: Any, settings: DiffusionSettings) -> str:
    """``Demographics.prompt`` + the configured portrait suffix."""
    return f"{demographics.prompt}, {settings.portrait_prompt}"


class DiffusionStage:
    """The diffusion back-ends of one worker process, loaded on first use."""

    def __init__(self, cfg: GenerateConfig) -> None:
        if cfg.diffusion is None:
            raise ValueError("DiffusionStage needs GenerateConfig(appearance='diffusion')")
        self.cfg, self.settings = cfg, cfg.diffusion
        self._portrait = self._inpainter = None

    @property
    def portrait(self):
        if self._portrait is None:
            from pain3d.appearance.diffusion import DepthPortrait

            self._portrait = DepthPortrait(self.settings.backend())
        return self._portrait

    @property
    def inpainter(self):
        if self._inpainter is None:
            from pain3d.appearance.diffusion import BackgroundInpainter

            self._inpainter = BackgroundInpainter(self.settings.backend())
        return self._inpainter

    def appearance(self, renderer: Any, mesh: Any, appearance: Any, demographics: Any,
                   identity_seed: int) -> Any:
        """The identity's procedural appearance with its portrait baked onto the albedo."""
        from pain3d.appearance.diffusion import portrait_appearance

        new, _ = portrait_appearance(
            renderer, mesh, appearance, portrait_camera(self.cfg), self.portrait,
            portrait_prompt(demographics, self.settings),
            seed=derive_seed(identity_seed, TAG_PORTRAIT), size=self.settings.portrait_size)
        return new

    @property
    def inpaints(self) -> bool:
        return self.settings.background_prompt is not None

    def background(self, image: np.ndarray, mask: np.ndarray, seed: int) -> np.ndarray:
        """(H, W, 3) uint8 ``image`` with the scene outside ``mask`` inpainted."""
        side = self.settings.portrait_size
        return self.inpainter.inpaint(image, mask, self.settings.background_prompt, seed=seed,
                                      feather=0.8, work_size=(side, side))
