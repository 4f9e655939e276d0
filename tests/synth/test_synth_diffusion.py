"""``generate`` with ``appearance: diffusion``: the orchestration of the back-ends (fake
pipelines), and end to end on tiny random diffusers models written offline (CPU, float32,
2 steps, 64 px): a verified dataset that records its models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from synth_helpers import make

from pain3d.appearance.diffusion import DepthPortrait, DiffusionConfig
from pain3d.appearance.diffusion_testing import PatternPipeline
from pain3d.synth.config import GenerateConfig
from pain3d.synth.diffusion import keep_margin, paste_head, portrait_appearance

BASE = dict(identities=1, per_identity=1, views=2, size=64, seed=3)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    pytest.importorskip("diffusers", reason="the dev extra installs diffusers")
    import torch

    from pain3d.appearance.diffusion_testing import save_tiny_models

    # Tiny models run in milliseconds on one thread; a spinning pool on a loaded machine
    # makes them take seconds.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {k: str(v) for k, v in save_tiny_models(tmp_path_factory.mktemp("sd")).items()}
    torch.set_num_threads(before)


def _settings(models: dict[str, str], **kw) -> DiffusionConfig:
    return DiffusionConfig(**models, device="cpu", dtype="float32", steps=2,
                             portrait_size=64, **kw)


@pytest.mark.parametrize("feather", [0.0, 1.0])
def test_the_pasted_head_keeps_its_pixels_over_the_inpainted_scene(feather):
    image = np.random.default_rng(0).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    scene = np.full_like(image, 200)
    mask = np.zeros((32, 40), np.uint8)
    mask[8:24, 10:30] = 255
    out = paste_head(image, scene, mask, feather)
    m = keep_margin(feather)
    inner = cv2.erode(mask, np.ones((2 * m + 1, 2 * m + 1), np.uint8)) if m else mask
    assert out.shape == image.shape and out.dtype == np.uint8
    assert inner.sum() > 0 and np.array_equal(out[inner > 0], image[inner > 0])
    assert (out[mask == 0] == 200).all()


def test_the_portrait_lands_on_the_texture_where_the_camera_saw_it_not_mirrored():
    from pain3d.appearance import sample_appearance
    from pain3d.demographics import Demographics
    from pain3d.render import Camera, Lighting, Renderer
    from pain3d.render.toy import toy_head

    head = toy_head(24, 32)

    app = sample_appearance(Demographics("female", "36-60", "east_asian"), 2, mesh=head,
                            texture_size=128)
    cam = Camera(target=(0, 0, -0.02))
    with Renderer(64) as r:
        new, portrait = portrait_appearance(r, head, app, cam, DepthPortrait(
            pipeline=PatternPipeline()), "a woman", seed=0, size=128)
        res = r.render(head, new, cam, Lighting())
    assert portrait.shape == (128, 128, 3) and new.token != app.token
    rgb = res.rgb.astype(int)
    ys, xs = np.nonzero(res.mask)
    cx, cy = xs.mean(), ys.mean()
    band = (ys > cy - 4) & (ys < cy + 8)  # mid-face, below the green top third
    left = band & (xs < cx - 4)
    right = band & (xs > cx + 4)
    red_minus_blue = rgb[..., 0] - rgb[..., 2]
    assert red_minus_blue[ys[left], xs[left]].mean() > 60  # image left stays red
    assert red_minus_blue[ys[right], xs[right]].mean() < -60  # image right stays blue
    top = ys < ys.min() + 0.2 * (ys.max() - ys.min())
    assert rgb[ys[top], xs[top], 1].mean() > rgb[ys[band], xs[band], 1].mean() + 40  # not flipped


def test_diffusion_dataset_verifies_records_its_models_and_differs_from_procedural(
        tmp_path, tiny_models):
    from pain3d.synth.generate import sample_files
    from pain3d.synth.verify import verify

    cfg = GenerateConfig(**BASE, appearance="diffusion",
                         diffusion=_settings(tiny_models, background_prompt="a hospital room"))
    root = make(tmp_path / "diffusion", cfg)
    proc = make(tmp_path / "procedural", GenerateConfig(**BASE))
    report = verify(root)
    assert report.ok, report.text()

    df = pd.read_parquet(root / "manifest.parquet")
    assert len(df) == 4 and (df["appearance"] == "diffusion").all()
    assert (pd.read_parquet(proc / "manifest.parquet")["appearance"] == "procedural").all()
    saved = yaml.safe_load((root / "config.yaml").read_text())
    assert saved["appearance"] == "diffusion"
    assert saved["diffusion"]["base_model"] == tiny_models["base_model"]
    assert saved["diffusion"]["background_prompt"] == "a hospital room"
    card = (root / "dataset_card.md").read_text()
    assert "Appearance: diffusion" in card and tiny_models["depth_controlnet"] in card
    assert tiny_models["inpaint_model"] in card

    for rel in df["path"]:
        a = cv2.imread(str(root / rel)).astype(int)
        b = cv2.imread(str(proc / rel)).astype(int)
        assert np.abs(a - b).mean() > 3, rel
    tex = "textured_meshes/flame_sample_0000/flame_sample_0000.png"
    ta, tb = (cv2.imread(str(r / tex)).astype(int) for r in (root, proc))
    changed = np.any(ta != tb, axis=-1).mean()
    assert 0.02 < changed < 0.6  # the portrait covers the front, the rest stays procedural

    # The same specs and pipeline regenerate the same bytes (what --only relies on).
    again = sample_files(cfg, "flame_sample_0000_pain_1")
    assert again and all(again[rel] == (root / rel).read_bytes() for rel in again)


def test_cli_yaml_and_flags_configure_the_diffusion_appearance(tmp_path, tiny_models, capsys):
    from pain3d.cli import main

    cfg_file = tmp_path / "gen.yaml"
    cfg_file.write_text(yaml.safe_dump({
        **BASE, "views": 1, "appearance": "diffusion",
        "diffusion": {"base_model": tiny_models["base_model"],
                      "depth_controlnet": tiny_models["depth_controlnet"], "device": "cpu",
                      "dtype": "float32", "portrait_size": 64}}))
    # A flag naming a missing model fails before the folder is claimed, naming the setting.
    bad = tmp_path / "bad"
    code = main(["generate", "--config", str(cfg_file), "--out", str(bad), "--no-progress",
                 "--background-prompt", "a park", "--inpaint-model", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 2 and "diffusion.inpaint_model" in err and "--inpaint-model" in err
    assert not bad.exists()

    out = tmp_path / "ok"
    code = main(["generate", "--config", str(cfg_file), "--out", str(out), "--no-progress",
                 "--diffusion-steps", "1"])
    assert code == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())["diffusion"]
    assert saved["steps"] == 1 and saved["base_model"] == tiny_models["base_model"]
    assert saved["background_prompt"] is None and saved["dtype"] == "float32"


def test_generate_config_validates_the_diffusion_settings():
    with pytest.raises(ValueError, match="appearance is 'procedural'"):
        GenerateConfig(diffusion=DiffusionConfig())
    with pytest.raises(ValueError, match="diffusion.dtype.*float16.*cpu"):
        DiffusionConfig(device="cpu")
    with pytest.raises(ValueError, match="portrait_size"):
        DiffusionConfig(portrait_size=100)
    with pytest.raises(ValueError, match="builtin renderer"):
        GenerateConfig(appearance="diffusion", renderer="pain3d.synth.testing:PlainRenderer")
    cfg = GenerateConfig(appearance="diffusion")
    assert cfg.diffusion == DiffusionConfig() and cfg.diffusion.device == "cuda"


def test_dotted_flags_fill_the_unset_diffusion_block():
    from pain3d.config import load_config

    cfg = load_config(GenerateConfig, None, {"appearance": "diffusion", "diffusion.steps": 3,
                                             "diffusion.device": "cuda:1"})
    assert cfg.diffusion == DiffusionConfig(steps=3, device="cuda:1")
    assert load_config(GenerateConfig, None, {"diffusion.steps": None}).diffusion is None


def test_missing_weights_fail_before_the_folder_is_claimed(tmp_path):
    from pain3d.appearance.diffusion import DiffusionUnavailable
    from pain3d.synth.generate import RunOptions, generate

    cfg = GenerateConfig(**BASE, appearance="diffusion", diffusion=DiffusionConfig(
        base_model=str(tmp_path / "no_sd"), device="cpu", dtype="float32"))
    with pytest.raises(DiffusionUnavailable, match=r"diffusion\.base_model.*--base-model"):
        generate(cfg, RunOptions(out=tmp_path / "ds", workers=1, progress=False))
    assert not Path(tmp_path / "ds").exists()


def test_a_missing_gpu_names_the_device_setting_and_flag(tiny_models):
    import torch

    from pain3d.appearance.diffusion import DiffusionUnavailable
    from pain3d.synth.diffusion import check_diffusion

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: cuda is a valid device here")
    cfg = GenerateConfig(**BASE, appearance="diffusion",
                         diffusion=DiffusionConfig(**tiny_models, device="cuda"))
    with pytest.raises(DiffusionUnavailable,
                       match=r"diffusion\.device, flag --diffusion-device") as err:
        check_diffusion(cfg)
    assert err.value.key == "device"
