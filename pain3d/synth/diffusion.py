"""The diffusion appearance of ``pain3d generate`` (``appearance: diffusion``): orchestration.

Per identity, :meth:`DiffusionStage.appearance` renders the depth of the neutral mesh from a
frontal camera, asks :class:`~pain3d.appearance.diffusion.DepthPortrait` for a portrait from
the identity's demographic prompt and bakes it onto the procedural texture
(:func:`~pain3d.appearance.diffusion.bake_portrait`); every image of the identity (neutral
and pain, all views) uses that one texture, so the pairs and labels stay exact. With a
background prompt, :meth:`DiffusionStage.background` has each image's scene inpainted and
pastes the rendered head back over it (:func:`paste_head`).

Seeds come from the specs (portrait: the identity's appearance seed; background: the view's
background seed, shared by the neutral and pain images of a view), so a run is reproducible
on the same machine, weights and library versions; GPU kernels may differ in the last bits
elsewhere.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from pain3d.appearance.diffusion import DiffusionConfig
from pain3d.seeds import derive_seed
from pain3d.synth.config import GenerateConfig
from pain3d.synth.plan import TAG_PORTRAIT
from pain3d.synth.spec import IdentitySpec

# The generate flag of each DiffusionConfig key a DiffusionUnavailable can name (.key).
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

    try:
        check_available(cfg.diffusion, portrait=True,
                        inpaint=cfg.diffusion.background_prompt is not None)
    except DiffusionUnavailable as exc:
        key = exc.key
        where = f" (setting diffusion.{key}, flag {FLAGS[key]})" if key in FLAGS else ""
        raise DiffusionUnavailable(f"appearance 'diffusion': {exc}{where}; or use "
                                   "appearance: procedural", key=key) from exc


def portrait_camera(cfg: GenerateConfig):
    """The frontal camera the portrait is generated and projected from."""
    from pain3d.render.camera import Camera

    return Camera(yaw=0.0, pitch=0.0, roll=0.0, distance=cfg.distance, fov=cfg.fov)


def portrait_prompt(demographics: Any, diffusion: DiffusionConfig) -> str:
    """``Demographics.prompt`` + the configured portrait suffix."""
    return f"{demographics.prompt}, {diffusion.portrait_prompt}"


def portrait_depth(renderer: Any, mesh: Any, appearance: Any, camera: Any,
                   side: int) -> tuple[np.ndarray, np.ndarray]:
    """(side, side) float32 depth (metres) and uint8 head mask of ``mesh`` seen by ``camera``.

    The render runs at the renderer's size and is resized (nearest) to ``side``, so a small
    dataset still gets a full-resolution portrait.
    """
    from pain3d.render.lighting import Lighting

    if side % 8:
        raise ValueError(f"portrait size {side} must be a multiple of 8 for Stable Diffusion")
    result = renderer.render(mesh, appearance, camera, Lighting(), depth=True)
    depth, mask = result.depth, result.mask
    if depth.shape != (side, side):
        depth = cv2.resize(depth, (side, side), interpolation=cv2.INTER_NEAREST)
        mask = cv2.resize(mask, (side, side), interpolation=cv2.INTER_NEAREST)
    return depth, mask


def portrait_appearance(renderer: Any, mesh: Any, appearance: Any, camera: Any,
                        portrait: Any, prompt: str, seed: int,
                        size: int) -> tuple[Any, np.ndarray]:
    """The diffusion appearance of one identity: render the depth of ``mesh`` from
    ``camera``, generate a portrait that follows it, bake the portrait onto the albedo.

    Args:
        renderer: a :class:`pain3d.render.Renderer`.
        mesh: the identity's neutral mesh.
        appearance: its procedural :class:`pain3d.appearance.Appearance`.
        camera: the portrait camera (:func:`portrait_camera`).
        portrait: the :class:`~pain3d.appearance.diffusion.DepthPortrait` back-end.
        prompt: the portrait prompt (:func:`portrait_prompt`).
        seed: generator seed of the portrait.
        size: side of the portrait in pixels, a multiple of 8.

    Returns:
        (new appearance, (size, size, 3) uint8 portrait).
    """
    from pain3d.appearance.diffusion import bake_portrait

    depth, mask = portrait_depth(renderer, mesh, appearance, camera, size)
    image = portrait.generate(depth, prompt, seed=seed, mask=mask)
    return bake_portrait(appearance, mesh, image, depth, camera), image


def keep_margin(feather: float) -> int:
    """Pixels inside the mask edge that blend when pasting the head back (3 sigma)."""
    return int(np.ceil(3.0 * feather)) if feather > 0 else 0


def paste_head(image: np.ndarray, scene: np.ndarray, mask: np.ndarray,
               feather: float = 1.0) -> np.ndarray:
    """The render's head over an inpainted scene.

    Args:
        image: (H, W, 3) uint8 render.
        scene: (H, W, 3) uint8 inpainted picture of the same size.
        mask: (H, W) uint8 head mask (255 = head).
        feather: edge softening in pixels.

    Returns:
        (H, W, 3) uint8 RGB. Pixels of ``mask`` eroded by :func:`keep_margin` are exactly
        those of ``image``; the inner edge blends over the scene.
    """
    from pain3d.render.compose import soft_alpha

    keep = (mask > 127).astype(np.uint8)
    a = soft_alpha(mask, feather)
    m = keep_margin(feather)
    inner = cv2.erode(keep, np.ones((2 * m + 1, 2 * m + 1), np.uint8)) if m else keep
    a[inner > 0] = 1.0  # the head interior is the render, bit for bit
    return cv2.blendLinear(image, scene, a, 1.0 - a)


class DiffusionStage:
    """The diffusion back-ends of one worker process, loaded on first use."""

    def __init__(self, cfg: GenerateConfig) -> None:
        if cfg.diffusion is None:
            raise ValueError("DiffusionStage needs GenerateConfig(appearance='diffusion')")
        self.cfg, self.diffusion = cfg, cfg.diffusion
        self._portrait = self._inpainter = None

    @property
    def portrait(self):
        if self._portrait is None:
            from pain3d.appearance.diffusion import DepthPortrait

            self._portrait = DepthPortrait(self.diffusion)
        return self._portrait

    @property
    def inpainter(self):
        if self._inpainter is None:
            from pain3d.appearance.diffusion import BackgroundInpainter

            self._inpainter = BackgroundInpainter(self.diffusion)
        return self._inpainter

    def appearance(self, renderer: Any, mesh: Any, appearance: Any,
                   identity: IdentitySpec) -> Any:
        """The identity's procedural appearance with its portrait baked onto the albedo."""
        new, _ = portrait_appearance(
            renderer, mesh, appearance, portrait_camera(self.cfg), self.portrait,
            portrait_prompt(identity.demographics, self.diffusion),
            seed=derive_seed(identity.appearance_seed, TAG_PORTRAIT),
            size=self.diffusion.portrait_size)
        return new

    @property
    def inpaints(self) -> bool:
        return self.diffusion.background_prompt is not None

    def background(self, image: np.ndarray, mask: np.ndarray, seed: int) -> np.ndarray:
        """(H, W, 3) uint8 ``image`` with the scene outside ``mask`` inpainted."""
        side = self.diffusion.portrait_size
        scene = self.inpainter.inpaint(image, mask, self.diffusion.background_prompt,
                                       seed=seed, work_size=(side, side))
        return paste_head(image, scene, mask, feather=0.8)
