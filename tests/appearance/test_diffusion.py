"""Diffusion back-ends: the plumbing, checked with fake pipeline objects (diffusers is an
optional extra and is not needed here)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from pain3d.appearance.diffusion import (
    BackgroundInpainter,
    DepthPortrait,
    DiffusionConfig,
    DiffusionUnavailable,
    depth_to_control,
    project_to_texture,
)


class FakePipeline:
    """Records its call and returns a constant image, like a diffusers pipeline output."""

    def __init__(self, value: int = 200) -> None:
        self.value = value
        self.kwargs: dict = {}

    def __call__(self, **kwargs):
        self.kwargs = kwargs
        h, w = kwargs.get("height", 32), kwargs.get("width", 32)

        class Out:
            images = [np.full((h, w, 3), self.value, np.uint8)]

        return Out()


def test_inpainting_repaints_all_but_the_head_and_returns_the_whole_picture():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    mask = np.zeros((32, 40), np.uint8)
    mask[8:24, 10:30] = 255
    pipe = FakePipeline(200)
    out = BackgroundInpainter(pipeline=pipe).inpaint(image, mask, "a hospital room")
    assert out.shape == image.shape and (out == 200).all()
    assert np.array_equal(np.asarray(pipe.kwargs["image"]), image)
    repaint = np.asarray(pipe.kwargs["mask_image"])
    assert repaint.shape == mask.shape and repaint[16, 20] == 0 and repaint[0, 0] == 255
    assert pipe.kwargs["prompt"] == "a hospital room"


def test_depth_portrait_sends_a_near_is_white_control_image():
    depth = np.zeros((24, 24), np.float32)
    depth[4:20, 4:20] = np.linspace(0.7, 0.8, 16)[None, :]
    pipe = FakePipeline(90)
    out = DepthPortrait(pipeline=pipe).generate(depth, "a young Latino man", seed=3)
    assert out.shape == (24, 24, 3) and (out == 90).all()
    control = np.asarray(pipe.kwargs["image"])
    assert control[10, 4, 0] == 255 and control[10, 19, 0] < control[10, 4, 0]
    assert control[0, 0].tolist() == [0, 0, 0]
    assert np.array_equal(depth_to_control(depth), control)


def test_projection_paints_only_visible_front_texels():
    from pain3d.appearance import sample_appearance
    from pain3d.demographics import Demographics
    from pain3d.render import Camera, Lighting, Renderer
    from pain3d.render.toy import toy_head

    head = toy_head(24, 32)
    app = sample_appearance(Demographics("female", "20-35", "african"), 0, mesh=head,
                            texture_size=64)
    cam = Camera(target=(0, 0, -0.02))
    with Renderer(64) as r:
        res = r.render(head, app, cam, Lighting())
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255
    new = project_to_texture(red, res.depth, cam, head, app.albedo)
    changed = np.any(new != app.albedo, axis=-1)
    assert 0.02 < changed.mean() < 0.7  # the front, not the back of the head
    assert (new[changed][:, 0] >= app.albedo[changed][:, 0]).all()


def test_missing_diffusers_or_gpu_is_a_clear_error():
    if importlib.util.find_spec("diffusers") is None:
        with pytest.raises(DiffusionUnavailable, match="pip install"):
            _ = BackgroundInpainter().pipeline
    else:
        import torch

        if not torch.cuda.is_available():
            with pytest.raises(DiffusionUnavailable, match="GPU"):
                _ = BackgroundInpainter(DiffusionConfig(device="cuda")).pipeline


def test_eyes_mouth_interior_and_scalp_hair_keep_the_procedural_texture(head):
    from pain3d.appearance import sample_appearance
    from pain3d.appearance.diffusion import portrait_weight
    from pain3d.demographics import Demographics
    from pain3d.face.mesh import region_id
    from pain3d.render import Camera, Lighting, Renderer

    app = sample_appearance(Demographics("male", "20-35", "latino"), 4, mesh=head,
                            texture_size=64)
    w = portrait_weight(head, app)
    keep = np.isin(head.regions, [region_id("eyeball"), region_id("mouth_interior")])
    assert (w[keep] == 0).all()
    assert np.allclose(w[~keep], 1 - app.vertex_hair[~keep])
    cam = Camera(target=(0, 0, -0.02))
    with Renderer(64) as r:
        res = r.render(head, app, cam, Lighting())
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255
    none = project_to_texture(red, res.depth, cam, head, app.albedo,
                              vertex_weight=np.zeros(head.n_vertices))
    assert np.array_equal(none, app.albedo)
    with pytest.raises(ValueError, match="vertex_weight"):
        project_to_texture(red, res.depth, cam, head, app.albedo, vertex_weight=np.ones(3))


class BlankingPipeline(FakePipeline):
    """Flags its first ``blank`` calls as unsafe (black image), like SD's safety checker."""

    def __init__(self, blank: int) -> None:
        super().__init__(180)
        self.blank = blank
        self.seeds: list[int] = []

    def __call__(self, **kwargs):
        self.seeds.append(kwargs["generator"].initial_seed())
        flagged = len(self.seeds) <= self.blank
        h, w = kwargs["height"], kwargs["width"]

        class Out:
            images = [np.zeros((h, w, 3), np.uint8) if flagged
                      else np.full((h, w, 3), 180, np.uint8)]
            nsfw_content_detected = [flagged]

        return Out()


def test_a_portrait_blanked_by_the_safety_checker_is_retried_with_derived_seeds():
    pipe = BlankingPipeline(blank=1)
    depth = np.full((16, 24), 0.5, np.float32)
    img = DepthPortrait(DiffusionConfig(device="cpu", dtype="float32"), pipeline=pipe).generate(
        depth, "a face", seed=7)
    assert (img == 180).all()
    assert len(pipe.seeds) == 2 and pipe.seeds[0] == 7 and pipe.seeds[1] != 7


def test_a_background_blanked_on_every_attempt_is_an_error_not_a_black_scene():
    from pain3d.appearance.diffusion import SAFETY_ATTEMPTS, SafetyCheckerRejected

    pipe = BlankingPipeline(blank=99)
    image = np.full((16, 24, 3), 90, np.uint8)
    mask = np.zeros((16, 24), np.uint8)
    mask[4:12, 8:16] = 255
    inp = BackgroundInpainter(DiffusionConfig(device="cpu", dtype="float32"), pipeline=pipe)
    with pytest.raises(SafetyCheckerRejected, match="a hospital room"):
        inp.inpaint(image, mask, "a hospital room", seed=3)
    assert len(pipe.seeds) == SAFETY_ATTEMPTS
