"""Optional diffusion back-ends (users with a GPU and local weights).

* :class:`DepthPortrait`: a depth-conditioned portrait from a demographic prompt (stage 3 of
  the published generator), then :func:`project_to_texture` bakes it onto the mesh's UV
  texture from the camera it was made for (a simple stand-in for image-to-3D texturing).
* :class:`BackgroundInpainter`: inpaints the scene around the head from a scene prompt with
  the head mask.

diffusers (and torch) are imported only when a back-end loads its pipeline; a missing
package, missing weights or a missing GPU raise :class:`DiffusionUnavailable` with what to do.
A back-end accepts a ready ``pipeline`` object instead (any callable returning an object with
``.images``), which is how tests check the plumbing without weights. Rendering the depth
image, calling the back-ends and baking is orchestration: :mod:`pain3d.synth.diffusion`.

Image conventions: every image here is top row first, x to the right of the picture (the
subject's right eye is on the image's left in a frontal view), like :class:`RenderResult`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from pain3d.face.mesh import Mesh

log = logging.getLogger(__name__)


class DiffusionUnavailable(RuntimeError):
    """diffusers, the weights or the GPU needed by a diffusion back-end are missing.

    Attributes:
        key: the :class:`DiffusionConfig` field to change (``base_model``,
            ``depth_controlnet``, ``inpaint_model``, ``device``), or None (diffusers itself).
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class SafetyCheckerRejected(RuntimeError):
    """The pipeline's safety checker blanked every attempt for one image."""


#: Attempts (seed, then derived seeds) before a blanked result is an error.
SAFETY_ATTEMPTS = 3
_SEED_STEP = 1_000_003


@dataclass(frozen=True)
class DiffusionConfig:
    """The diffusion appearance: where the weights are, how to run them, what to ask for.

    The ``diffusion:`` block of ``pain3d generate`` (see :mod:`pain3d.synth.diffusion`); the
    back-ends here read the weights, device and sampling keys. Weights are read from a local
    folder or the local Hugging Face cache, never downloaded.

    Attributes:
        base_model: Stable Diffusion 1.5-family model id (Hugging Face cache) or folder.
        depth_controlnet: depth ControlNet id or folder for that base model (portraits).
        inpaint_model: inpainting model id or folder (used only with ``background_prompt``).
        device: torch device: ``cuda``, ``cuda:N``, ``mps`` (``cpu`` works, very slowly, in
            float32).
        dtype: ``float16`` (GPU) or ``float32``.
        steps: denoising steps per portrait / background.
        guidance: classifier-free guidance scale.
        portrait_size: side in pixels of the portrait (multiple of 8; 512 for SD 1.5),
            independent of the dataset's image size.
        portrait_prompt: appended to the demographic prompt.
        negative_prompt: what the pipelines avoid.
        background_prompt: scene prompt for inpainting the backgrounds, e.g. ``a hospital
            room, soft daylight``; None keeps the procedural (or photo) backgrounds.
    """

    base_model: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    depth_controlnet: str = "lllyasviel/control_v11f1p_sd15_depth"
    inpaint_model: str = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    device: str = "cuda"
    dtype: Literal["float16", "float32"] = "float16"
    steps: int = 30
    guidance: float = 7.0
    portrait_size: int = 512
    portrait_prompt: str = ("close-up studio portrait photo, looking straight at the camera, "
                            "even soft light, detailed natural skin")
    negative_prompt: str = ("cartoon, painting, illustration, deformed, blurry, glasses, hat, "
                            "text, watermark")
    background_prompt: str | None = None

    def __post_init__(self) -> None:
        if self.dtype not in ("float16", "float32"):
            raise ValueError(f"diffusion.dtype = {self.dtype!r}: use float16 or float32")
        if self.steps < 1:
            raise ValueError(f"diffusion.steps = {self.steps} must be >= 1")
        if self.guidance < 0:
            raise ValueError(f"diffusion.guidance = {self.guidance} must be >= 0")
        if not (self.device == "cpu" or self.device.startswith(("cuda", "mps"))):
            raise ValueError(f"diffusion.device = {self.device!r}: use cuda, cuda:N, mps or cpu")
        if self.dtype == "float16" and self.device == "cpu":
            raise ValueError("diffusion.dtype = 'float16' with device 'cpu': Stable Diffusion "
                             "does not run in half precision on a CPU; use dtype float32 on a "
                             "CPU (very slow) or device cuda with a GPU")
        if not (64 <= self.portrait_size <= 2048 and self.portrait_size % 8 == 0):
            raise ValueError(f"diffusion.portrait_size = {self.portrait_size}: use a multiple "
                             "of 8 in 64..2048 (512 for Stable Diffusion 1.5)")
        if self.background_prompt is not None and not self.background_prompt.strip():
            raise ValueError("diffusion.background_prompt is empty: give a scene description "
                             "or null for the procedural backgrounds")


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
            f"device {device!r} requested but no CUDA GPU is visible to torch; run on a GPU "
            "machine (with a CUDA build of torch) or set device 'cpu' with dtype float32 "
            "(very slow)", key="device")
    return torch


def _from_pretrained(cls: Any, model: str, cfg: DiffusionConfig, key: str,
                     **kwargs: Any) -> Any:
    """``cls.from_pretrained`` with the config's dtype; DiffusionUnavailable naming ``key``."""
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # newer diffusers rename torch_dtype to dtype
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            return cls.from_pretrained(model, torch_dtype=getattr(torch, cfg.dtype),
                                       local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise DiffusionUnavailable(
            f"cannot load {cls.__name__} weights from {key}={model!r}: {exc}. Download them "
            f"once (huggingface-cli download <id>) or give a local folder", key=key) from exc


def _load(cls_name: str, model: str, cfg: DiffusionConfig, key: str, **kwargs: Any) -> Any:
    diffusers = _import_diffusers()
    _check_device(cfg.device)
    pipe = _from_pretrained(getattr(diffusers, cls_name), model, cfg, key, **kwargs)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe.to(cfg.device) if hasattr(pipe, "to") else pipe


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def check_available(cfg: DiffusionConfig, portrait: bool = True, inpaint: bool = True) -> None:
    """Fail fast, without loading any weights: diffusers importable, the device present and
    every needed model a local folder or in the Hugging Face cache.

    Raises:
        DiffusionUnavailable: naming the config key (``base_model``, ``depth_controlnet``,
            ``inpaint_model``, ``device``) and what to do.
    """
    _import_diffusers()
    _check_device(cfg.device)
    needed = []
    if portrait:
        needed += [("base_model", cfg.base_model, "model_index.json"),
                   ("depth_controlnet", cfg.depth_controlnet, "config.json")]
    if inpaint:
        needed.append(("inpaint_model", cfg.inpaint_model, "model_index.json"))
    for key, model, marker in needed:
        if _looks_like_path(model):
            folder = Path(model).expanduser()
            if not (folder / marker).is_file():
                raise DiffusionUnavailable(
                    f"{key}={model!r}: {folder} is not a diffusers model folder (no {marker}); "
                    f"give the folder of a downloaded model or a Hugging Face model id", key=key)
        else:
            from huggingface_hub import try_to_load_from_cache

            if not isinstance(try_to_load_from_cache(model, marker), str):
                raise DiffusionUnavailable(
                    f"{key}={model!r} is not in the local Hugging Face cache; download it once "
                    f"(huggingface-cli download {model}) or give a local folder", key=key)


def depth_to_control(depth: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(H, W) metres (0 = background) -> (H, W, 3) uint8 control image, near = white."""
    d = np.asarray(depth, np.float32)
    valid = d > 0 if mask is None else (mask > 0) & (d > 0)
    out = np.zeros(d.shape, np.float32)
    if valid.any():
        lo, hi = float(d[valid].min()), float(d[valid].max())
        out[valid] = 1.0 - (d[valid] - lo) / max(hi - lo, 1e-6) * 0.8
    return np.repeat((out * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)


def _checked_call(pipeline: Any, kwargs: dict[str, Any], device: str, seed: int,
                  what: str) -> Any:
    """Run ``pipeline(**kwargs)`` with a seeded generator, retrying with derived seeds while
    the safety checker blanks the result (a blank image must never become a face texture or
    a background)."""
    for attempt in range(SAFETY_ATTEMPTS):
        s = int(seed) + attempt * _SEED_STEP
        result = pipeline(**kwargs, generator=_generator(device, s))
        if not any(getattr(result, "nsfw_content_detected", None) or []):
            return result
        log.warning("%s: the safety checker blanked the result for seed %d; retrying", what, s)
    raise SafetyCheckerRejected(
        f"{what}: the pipeline's safety checker blanked {SAFETY_ATTEMPTS} attempts (seed {seed} "
        f"and {SAFETY_ATTEMPTS - 1} derived seeds) for prompt {kwargs.get('prompt')!r}; change "
        "the prompt or negative_prompt, or load a pipeline without the checker")


def _first_image(result: Any, size: tuple[int, int]) -> np.ndarray:
    images = getattr(result, "images", result)
    img = np.asarray(images[0])
    if img.dtype != np.uint8:
        img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
    if img.shape[:2] != (size[1], size[0]):
        img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
    return img[..., :3]


class _Backend:
    """A diffusion back-end: its config and its pipeline (loaded on first use, or given)."""

    def __init__(self, cfg: DiffusionConfig | None = None, pipeline: Any = None) -> None:
        self.cfg = cfg or DiffusionConfig()
        self._pipe = pipeline

    def _run(self, kwargs: dict[str, Any], seed: int, what: str,
             size: tuple[int, int]) -> np.ndarray:
        """One (H, W, 3) uint8 image of ``size`` = (W, H): the pipeline called with
        ``kwargs`` plus the config's steps, guidance and negative prompt, seeded, a result
        blanked by the safety checker retried (:func:`_checked_call`)."""
        kwargs = {**kwargs, "num_inference_steps": self.cfg.steps,
                  "guidance_scale": self.cfg.guidance,
                  "negative_prompt": self.cfg.negative_prompt}
        return _first_image(_checked_call(self.pipeline, kwargs, self.cfg.device, seed, what),
                            size)


class DepthPortrait(_Backend):
    """Depth-conditioned portrait generation (ControlNet depth on Stable Diffusion)."""

    @property
    def pipeline(self) -> Any:
        if self._pipe is None:
            diffusers = _import_diffusers()
            _check_device(self.cfg.device)
            controlnet = _from_pretrained(diffusers.ControlNetModel, self.cfg.depth_controlnet,
                                          self.cfg, "depth_controlnet")
            self._pipe = _load("StableDiffusionControlNetPipeline", self.cfg.base_model,
                               self.cfg, "base_model", controlnet=controlnet)
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
        return self._run({"prompt": prompt, "image": control, "height": h, "width": w},
                         seed, "portrait", (w, h))


class BackgroundInpainter(_Backend):
    """Scene inpainting around the head mask."""

    @property
    def pipeline(self) -> Any:
        if self._pipe is None:
            self._pipe = _load("StableDiffusionInpaintPipeline", self.cfg.inpaint_model, self.cfg,
                               "inpaint_model")
        return self._pipe

    def inpaint(self, image: np.ndarray, mask: np.ndarray, prompt: str, seed: int = 0,
                work_size: tuple[int, int] | None = None) -> np.ndarray:
        """A generated scene around the head of ``image``.

        Args:
            image: (H, W, 3) uint8 render (any background).
            mask: (H, W) uint8 head mask (255 = head, kept; the rest is repainted).
            prompt: scene description, e.g. "a hospital room, soft daylight".
            seed: generator seed.
            work_size: (width, height) the pipeline runs at (multiples of 8; e.g. 512 x 512
                for Stable Diffusion 1.5); None = the image size (must then be multiples of 8).
                The result is resized back to (W, H).

        Returns:
            (H, W, 3) uint8 RGB: the pipeline's whole picture, the head included as it
            repainted it; paste the render's head back over it
            (:func:`pain3d.synth.diffusion.paste_head`).
        """
        h, w = mask.shape
        ww, wh = work_size or (w, h)
        if ww % 8 or wh % 8:
            raise ValueError(f"inpainting runs at {ww}x{wh} pixels; Stable Diffusion needs "
                             "multiples of 8 (give work_size)")
        keep = (mask > 127).astype(np.uint8)
        # The pipeline repaints white pixels: everything but the (slightly grown) head.
        grown = cv2.dilate(keep, np.ones((3, 3), np.uint8))
        repaint = ((1 - grown) * 255).astype(np.uint8)
        src, rep = image, repaint
        if (ww, wh) != (w, h):
            src = cv2.resize(image, (ww, wh), interpolation=cv2.INTER_CUBIC)
            rep = cv2.resize(repaint, (ww, wh), interpolation=cv2.INTER_NEAREST)
        return self._run({"prompt": prompt, "image": _pil(src), "mask_image": _pil(rep),
                          "height": wh, "width": ww}, seed, "background", (w, h))


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
                       depth_tolerance: float = 0.004,
                       vertex_weight: np.ndarray | None = None) -> np.ndarray:
    """Bake an image seen from ``camera`` onto the mesh's UV texture.

    Texels that the camera sees (depth test against the render's depth, surface facing the
    camera) take the image colour, blended by how squarely they face it (times
    ``vertex_weight``); the rest keep ``albedo``.

    Args:
        image: (H, W, 3) uint8 RGB (e.g. from :class:`DepthPortrait`).
        depth: (H, W) float32 metres of the same view (0 = background).
        camera: the :class:`pain3d.render.Camera` of that view.
        mesh: the neutral mesh the texture belongs to.
        albedo: (S, S, 3) uint8 texture to update (OpenGL row order).
        min_facing: cosine between normal and view direction below which nothing is baked.
        depth_tolerance: metres between a texel's depth and the render's for it to be seen.
        vertex_weight: optional (V,) float in [0, 1]: how much of the image each part of the
            surface takes (0 keeps the albedo, e.g. under hair), interpolated over triangles.

    Returns:
        (S, S, 3) uint8 new albedo.
    """
    from pain3d.appearance.uvmap import cached_raster

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
    if vertex_weight is not None:
        vw = np.asarray(vertex_weight, np.float32).reshape(-1, 1)
        if len(vw) != mesh.n_vertices:
            raise ValueError(f"vertex_weight has {len(vw)} values for a mesh of "
                             f"{mesh.n_vertices} vertices")
        wgt = wgt * np.clip(raster.interpolate(mesh.faces, vw).reshape(-1), 0, 1)
    colour = image[yi, xi].astype(np.float32)
    out = albedo.reshape(-1, 3).astype(np.float32)
    out += (colour - out) * wgt[:, None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8).reshape(albedo.shape)


def with_albedo(appearance: Any, albedo: np.ndarray) -> Any:
    """A copy of an :class:`pain3d.appearance.Appearance` with another albedo (and a new
    renderer cache token, so the new texture is uploaded)."""
    from pain3d.appearance import _TOKENS

    if albedo.shape != appearance.albedo.shape or albedo.dtype != np.uint8:
        raise ValueError(f"albedo must be {appearance.albedo.shape} uint8 like the "
                         f"appearance's, got {albedo.shape} {albedo.dtype}")
    return dataclasses.replace(appearance, albedo=albedo, token=next(_TOKENS))


# Regions that keep the procedural texture: the eyes and mouth interior are shaded by the
# renderer (iris, pupil, wet highlight, teeth) and move with the rig, not with the portrait.
_KEEP_REGIONS = ("eyeball", "mouth_interior")


def bake_portrait(appearance: Any, mesh: Mesh, image: np.ndarray, depth: np.ndarray,
                  camera: Any) -> Any:
    """The appearance with a portrait baked onto its albedo where ``camera`` saw the surface
    (:func:`project_to_texture` weighted by :func:`portrait_weight`).

    Args:
        appearance: the identity's procedural :class:`pain3d.appearance.Appearance` (kept
            where the camera does not see the surface: sides, back, inside the mouth).
        mesh: its neutral mesh (the texture is shared by all its expressions).
        image: (S, S, 3) uint8 portrait (:meth:`DepthPortrait.generate`).
        depth: (S, S) float32 metres of the render the portrait follows.
        camera: the camera of that render.
    """
    albedo = project_to_texture(image, depth, camera, mesh, appearance.albedo,
                                vertex_weight=portrait_weight(mesh, appearance))
    return with_albedo(appearance, albedo)


def portrait_weight(mesh: Mesh, appearance: Any) -> np.ndarray:
    """(V,) float32 share of the portrait per vertex: 0 on the eyeballs, the mouth interior
    and under the identity's scalp hair (its hair stays the same from every view), else 1."""
    from pain3d.face.mesh import region_id

    w = np.ones(mesh.n_vertices, np.float32)
    hair = getattr(appearance, "vertex_hair", None)
    if hair is not None and len(hair) == mesh.n_vertices:
        w *= 1.0 - np.clip(np.asarray(hair, np.float32), 0, 1)
    if mesh.regions is not None:
        w[np.isin(mesh.regions, [region_id(r) for r in _KEEP_REGIONS])] = 0.0
    return w
