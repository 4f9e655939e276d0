"""Diffusion back-ends with real diffusers pipelines: tiny random models written offline by
the ``tiny_sd`` fixture and loaded through the real loading code (CPU, float32, 2 steps)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="the dev extra installs diffusers")

from pain3d.appearance.diffusion import (  # noqa: E402
    DepthPortrait,
    DiffusionConfig,
    DiffusionUnavailable,
    check_available,
    depth_to_control,
    with_albedo,
)

H, W = 40, 56  # non-square, multiples of 8
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _head_depth() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:H, :W]
    inside = ((xx - 28) / 16.0) ** 2 + ((yy - 20) / 14.0) ** 2 < 1
    depth = np.where(inside, 0.7 + 0.0005 * (xx + yy), 0).astype(np.float32)
    return depth, (inside * 255).astype(np.uint8)


def test_portrait_has_the_asked_size_and_is_a_function_of_the_seed(tiny_portrait):
    depth, mask = _head_depth()
    a = tiny_portrait.generate(depth, "a young Latino man", seed=5, mask=mask)
    b = tiny_portrait.generate(depth, "a young Latino man", seed=5, mask=mask)
    c = tiny_portrait.generate(depth, "a young Latino man", seed=6, mask=mask)
    assert a.shape == (H, W, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 5


def test_the_depth_control_image_reaches_the_controlnet(tiny_portrait):
    depth, mask = _head_depth()
    mask[:, : W // 2] = 0  # the control must be black outside the mask, even on the head
    seen = []
    hook = tiny_portrait.pipeline.controlnet.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["controlnet_cond"].detach().clone()),
        with_kwargs=True)
    try:
        tiny_portrait.generate(depth, "a woman", seed=0, mask=mask)
    finally:
        hook.remove()
    assert len(seen) == tiny_portrait.cfg.steps
    cond = seen[0].float().numpy()  # (2, 3, H, W) in [0, 1]: negative and positive prompt
    assert cond.shape == (2, 3, H, W)
    want = depth_to_control(depth, mask).transpose(2, 0, 1) / 255.0
    assert np.abs(cond[1] - want).max() < 1.5 / 255
    assert cond[:, :, :, : W // 2].max() == 0 and cond[1, 0][mask > 0].min() > 0.15


def test_inpainting_repaints_the_background_as_a_function_of_the_seed(tiny_inpainter):
    depth, mask = _head_depth()
    image = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    out = tiny_inpainter.inpaint(image, mask, "a hospital room", seed=2)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image)[mask == 0].mean() > 20
    assert np.array_equal(out, tiny_inpainter.inpaint(image, mask, "a hospital room", seed=2))
    other = tiny_inpainter.inpaint(image, mask, "a hospital room", seed=3)
    assert np.abs(other.astype(int) - out).mean() > 1


def test_inpainting_at_another_work_size_returns_the_image_size(tiny_inpainter):
    depth, mask = _head_depth()
    image = np.full((H, W, 3), 90, np.uint8)
    out = tiny_inpainter.inpaint(image, mask, "a park", seed=0, work_size=(64, 48))
    assert out.shape == (H, W, 3)
    with pytest.raises(ValueError, match="multiples of 8"):
        tiny_inpainter.inpaint(image[:, :50], mask[:, :50], "a park")


@pytest.mark.parametrize("key", ["base_model", "depth_controlnet", "inpaint_model"])
def test_a_missing_model_folder_is_named_in_the_error(tiny_cfg, tmp_path, key):
    import dataclasses

    from pain3d.appearance.diffusion import BackgroundInpainter

    missing = str(tmp_path / "no_such_model")
    cfg = dataclasses.replace(tiny_cfg, **{key: missing})
    with pytest.raises(DiffusionUnavailable, match=f"{key}=.*no_such_model") as err:
        check_available(cfg)
    assert err.value.key == key
    backend = BackgroundInpainter(cfg) if key == "inpaint_model" else DepthPortrait(cfg)
    with pytest.raises(DiffusionUnavailable, match=f"{key}=.*no_such_model") as err:
        _ = backend.pipeline
    assert err.value.key == key
    check_available(tiny_cfg)  # the real folders pass


def test_a_model_id_not_in_the_cache_says_how_to_download_it(tiny_cfg):
    import dataclasses

    cfg = dataclasses.replace(tiny_cfg, base_model="example-org/not-downloaded-sd")
    with pytest.raises(DiffusionUnavailable, match="huggingface-cli download example-org"):
        check_available(cfg)


def test_half_precision_on_a_cpu_and_cuda_without_a_gpu_are_clear_errors(tiny_sd):
    import torch

    with pytest.raises(ValueError, match="float16.*cpu.*float32"):
        DiffusionConfig(device="cpu", dtype="float16")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: cuda is a valid device here")
    cfg = DiffusionConfig(base_model=str(tiny_sd["base_model"]),
                          depth_controlnet=str(tiny_sd["depth_controlnet"]), device="cuda")
    with pytest.raises(DiffusionUnavailable, match="no CUDA GPU") as err:
        check_available(cfg, inpaint=False)
    assert err.value.key == "device"
    with pytest.raises(DiffusionUnavailable, match="no CUDA GPU"):
        _ = DepthPortrait(cfg).pipeline


@pytest.mark.gpu
def test_tiny_portrait_runs_in_half_precision_on_the_gpu(tiny_sd):
    cfg = DiffusionConfig(**{k: str(v) for k, v in tiny_sd.items()}, device="cuda",
                          dtype="float16", steps=2)
    depth, mask = _head_depth()
    out = DepthPortrait(cfg).generate(depth, "a man", seed=0, mask=mask)
    assert out.shape == (H, W, 3) and out.dtype == np.uint8 and out.std() > 0


def test_with_albedo_gets_a_new_texture_token(head):
    from pain3d.appearance import sample_appearance
    from pain3d.demographics import Demographics

    app = sample_appearance(Demographics("male", "36-60", "european"), 1, mesh=head,
                            texture_size=32)
    new = with_albedo(app, np.zeros_like(app.albedo))
    assert new.token != app.token and new.albedo.max() == 0 and app.albedo.max() > 0
    with pytest.raises(ValueError, match="albedo"):
        with_albedo(app, np.zeros((16, 16, 3), np.uint8))
