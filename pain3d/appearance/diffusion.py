"""Optional diffusion back-ends (users with a GPU and local weights).

* :class:`DepthPortrait`: a depth-conditioned portrait from a demographic prompt (stage 3 of
  the published generator), then :func:`project_to_texture` bakes it onto the mesh's UV
  texture from the camera it was made for (a simple stand-in for image-to-3D texturing).
* :class:`BackgroundInpainter`: inpaints the scene around the head from a scene prompt with
  the head mask; the face pixels are always kept from the render.

diffusers (and torch) are imported only when a back-end loads its pipeline; a missing
package, missing weights or a missing GPU raise :class:`DiffusionUnavailable` with what to do.
A back-end accepts a ready ``pipeline`` object instead (any callable returning an object with
``.images``), which is how tests check the plumbing without weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pain3d.appearance.uvmap import cached_raster
from pain3d.face.mesh import Mesh

log = logging.getLogger(__name__)


class DiffusionUnavailable(RuntimeError):
    """diffusers, the weights or the GPU needed by a diffusion back-end are missing."""


@dataclass(frozen=True)
class DiffusionConfig:
    """Where the weights are and how to run them.

    Attributes:
        base_model: Stable Diffusion 1.5-family model id or local folder.
        depth_controlnet: depth ControlNet id or local folder (portraits).
        inpaint_model: inpainting model id or local folder (backgrounds).
        device: torch device, e.g. "cuda" or "cuda:1" ("cpu" is allowed but very slow).
        dtype: "float16" or "float32".
        steps: denoising steps.
        guidance: classifier-free guidance scale.
        local_files_only: never download (weights must be in the local cache / folder).
        negative_prompt: what to avoid.
    """

    base_model: str = "runwayml/stable-diffusion-v1-5"
    depth_controlnet: str = "lllyasviel/control_v11f1p_sd15_depth"
    inpaint_model: str = "runwayml/stable-diffusion-inpainting"
    device: str = "cuda"
    dtype: str = "float16"
    steps: int = 30
    guidance: float = 7.0
    local_files_only: bool = True
    negative_prompt: str = "cartoon, painting, deformed, blurry, extra limbs, text, watermark"

    def __post_init__(self) -> None:
        if self.dtype not in ("float16", "float32"):
            raise ValueError(f"DiffusionConfig.dtype = {self.dtype!r}: use float16 or float32")
        if self.steps < 1:
            raise ValueError(f"DiffusionConfig.steps = {self.steps} must be >= 1")


def _import_diffusers():
    try:
        import diffusers
    except ImportError as exc:
        raise DiffusionUnavailable(
            "the diffusion back-ends need diffusers: pip install 'pain3d[diffusion]' "
            "(diffusers, accelerate); the procedural appearance works without it") from exc
    return diffusers


def _check_device(device: str) -> Any:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DiffusionUnavailable(
            f"device {device!r} requested but no CUDA GPU is visible; run on a GPU machine or "
            "set DiffusionConfig.device='cpu' (very slow)")
    return torch


def _load(cls_name: str, model: str, cfg: DiffusionConfig, **kwargs: Any) -> Any:
    diffusers = _import_diffusers()
    torch = _check_device(cfg.device)
    cls = getattr(diffusers, cls_name)
    try:
        pipe = cls.from_pretrained(model, torch_dtype=getattr(torch, cfg.dtype),
                                   local_files_only=cfg.local_files_only, **kwargs)
    except (OSError, ValueError) as exc:
        raise DiffusionUnavailable(
            f"cannot load {cls_name} weights from {model!r}: {exc}. Download them once "
            "(huggingface-cli download <id>) or give a local folder in DiffusionConfig") from exc
    return pipe.to(cfg.device) if hasattr(pipe, "to") else pipe


def depth_to_control(depth: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(H, W) metres (0 = background) -> (H, W, 3) uint8 control image, near = white."""
    d = np.asarray(depth, np.float32)
    valid = d > 0 if mask is None else (mask > 0) & (d > 0)
    out = np.zeros(d.shape, np.float32)
    if valid.any():
        lo, hi = float(d[valid].min()), float(d[valid].max())
        out[valid] = 1.0 - (d[valid] - lo) / max(hi - lo, 1e-6) * 0.8
    return np.repeat((out * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)


def _first_image(result: Any, size: tuple[int, int]) -> np.ndarray:
    images = getattr(result, "images", result)
    img = np.asarray(images[0])
    if img.dtype != np.uint8:
        img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
    if img.shape[:2] != (size[1], size[0]):
        img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
    return img[..., :3]


class DepthPortrait:
    """Depth-conditioned portrait generation (ControlNet depth on Stable Diffusion)."""

    def __init__(self, cfg: DiffusionConfig | None = None, pipeline: Any = None) -> None:
        self.cfg = cfg or DiffusionConfig()
        self._pipe = pipeline

    @property
    def pipeline(self) -> Any:
        if self._pipe is None:
            diffusers = _import_diffusers()
            _check_device(self.cfg.device)
            try:
                controlnet = diffusers.ControlNetModel.from_pretrained(
                    self.cfg.depth_controlnet, local_files_only=self.cfg.local_files_only)
            except (OSError, ValueError) as exc:
                raise DiffusionUnavailable(
                    f"cannot load the depth ControlNet {self.cfg.depth_controlnet!r}: {exc}. "
                    "Download it once or give a local folder") from exc
            self._pipe = _load("StableDiffusionControlNetPipeline", self.cfg.base_model,
                               self.cfg, controlnet=controlnet)
        return self._pipe

    def generate(self, depth: np.ndarray, prompt: str, seed: int = 0,
                 mask: np.ndarray | None = None) -> np.ndarray:
        """A photo-like portrait following ``depth``.

        Args:
            depth: (H, W) float32 metres from :class:`pain3d.render.RenderResult`.
            prompt: e.g. ``Demographics.prompt`` + ", studio portrait photo".
            seed: generator seed.
            mask: optional (H, W) head mask; outside it the control image is black.

        Returns:
            (H, W, 3) uint8 RGB.
        """
        h, w = depth.shape
        control = _pil(depth_to_control(depth, mask))
        kwargs: dict[str, Any] = {"prompt": prompt, "image": control,
                                  "num_inference_steps": self.cfg.steps,
                                  "guidance_scale": self.cfg.guidance,
                                  "negative_prompt": self.cfg.negative_prompt,
                                  "height": h, "width": w}
        kwargs["generator"] = _generator(self.cfg.device, seed)
        return _first_image(self.pipeline(**kwargs), (w, h))


class BackgroundInpainter:
    """Scene inpainting around the head; the head pixels always come from the render."""

    def __init__(self, cfg: DiffusionConfig | None = None, pipeline: Any = None) -> None:
        self.cfg = cfg or DiffusionConfig()
        self._pipe = pipeline

    @property
    def pipeline(self) -> Any:
        if self._pipe is None:
            self._pipe = _load("StableDiffusionInpaintPipeline", self.cfg.inpaint_model, self.cfg)
        return self._pipe

    def inpaint(self, image: np.ndarray, mask: np.ndarray, prompt: str, seed: int = 0,
                feather: float = 1.0) -> np.ndarray:
        """Replace everything outside ``mask`` with a generated scene.

        Args:
            image: (H, W, 3) uint8 render (any background).
            mask: (H, W) uint8 head mask (255 = keep).
            prompt: scene description, e.g. "a hospital room, soft daylight".
            seed: generator seed.
            feather: edge softening in pixels when pasting the head back.

        Returns:
            (H, W, 3) uint8 RGB with the head pixels of ``image`` unchanged inside the mask
            (up to the feathered inner edge).
        """
        h, w = mask.shape
        keep = (mask > 127).astype(np.uint8)
        # The pipeline repaints white pixels: everything but the (slightly grown) head.
        grown = cv2.dilate(keep, np.ones((3, 3), np.uint8))
        repaint = ((1 - grown) * 255).astype(np.uint8)
        out = _first_image(self.pipeline(
            prompt=prompt, image=_pil(image), mask_image=_pil(repaint), height=h, width=w,
            num_inference_steps=self.cfg.steps, guidance_scale=self.cfg.guidance,
            negative_prompt=self.cfg.negative_prompt,
            generator=_generator(self.cfg.device, seed)), (w, h))
        from pain3d.render.compose import soft_alpha

        a = soft_alpha(mask, feather)
        return cv2.blendLinear(image, out, a, 1.0 - a)


def _pil(array: np.ndarray) -> Any:
    """uint8 array -> PIL image (diffusers reads numpy input as floats in [0, 1])."""
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(array))


def _generator(device: str, seed: int) -> Any:
    try:
        import torch
    except ImportError:  # fake pipelines in tests may not need torch
        return None
    dev = device if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
    return torch.Generator(device=dev).manual_seed(int(seed))


def project_to_texture(image: np.ndarray, depth: np.ndarray, camera: Any, mesh: Mesh,
                       albedo: np.ndarray, min_facing: float = 0.25,
                       depth_tolerance: float = 0.004) -> np.ndarray:
    """Bake an image seen from ``camera`` onto the mesh's UV texture.

    Texels that the camera sees (depth test against the render's depth, surface facing the
    camera) take the image colour, blended by how squarely they face it; the rest keep
    ``albedo``.

    Args:
        image: (H, W, 3) uint8 RGB (e.g. from :class:`DepthPortrait`).
        depth: (H, W) float32 metres of the same view (0 = background).
        camera: the :class:`pain3d.render.Camera` of that view.
        mesh: the neutral mesh the texture belongs to.
        albedo: (S, S, 3) uint8 texture to update (OpenGL row order).

    Returns:
        (S, S, 3) uint8 new albedo.
    """
    s = albedo.shape[0]
    h, w = depth.shape
    raster = cached_raster(mesh.uv, mesh.faces, s)
    pos = raster.interpolate(mesh.faces, mesh.vertices).reshape(-1, 3)
    nrm = raster.interpolate(mesh.faces, mesh.vertex_normals()).reshape(-1, 3)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-9)
    pix = camera.project(pos, (w, h))
    view = camera.position[None] - pos
    view /= np.maximum(np.linalg.norm(view, axis=1, keepdims=True), 1e-9)
    facing = np.einsum("ij,ij->i", nrm, view)
    xi = np.clip(np.round(pix[:, 0] - 0.5).astype(int), 0, w - 1)
    yi = np.clip(np.round(pix[:, 1] - 0.5).astype(int), 0, h - 1)
    inside = (pix[:, 0] >= 0) & (pix[:, 0] < w) & (pix[:, 1] >= 0) & (pix[:, 1] < h)
    seen = inside & (np.abs(depth[yi, xi] - pix[:, 2]) < depth_tolerance) & (facing > min_facing)
    wgt = np.clip((facing - min_facing) / (1 - min_facing), 0, 1) * seen
    colour = image[yi, xi].astype(np.float32)
    out = albedo.reshape(-1, 3).astype(np.float32)
    out += (colour - out) * wgt[:, None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8).reshape(albedo.shape)
