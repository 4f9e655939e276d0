"""Backbone normalisation: published DINOv3 statistics, preprocessor configs, loud fallback."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from model_fixtures import tiny_config

from pain3d.model import build_model
from pain3d.model.backbone import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PUBLISHED_STATISTICS,
    SAT493M_MEAN,
    SAT493M_STD,
    preset_hf_config,
    resolve_statistics,
)

SAT_ID = "facebook/dinov3-vitl16-pretrain-sat493m"
LOGGER = "pain3d.model.backbone"


def _save_tiny_backbone(folder, preprocessor: dict | None = None):
    from transformers import DINOv3ViTModel

    torch.manual_seed(5)
    DINOv3ViTModel(preset_hf_config(tiny_config())).save_pretrained(folder)
    if preprocessor is not None:
        (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    return folder


def test_every_released_dinov3_vit_has_its_published_statistics():
    sat = {k for k in PUBLISHED_STATISTICS if k.endswith("sat493m")}
    web = {k for k in PUBLISHED_STATISTICS if k.endswith("lvd1689m")}
    assert sat == {"facebook/dinov3-vitl16-pretrain-sat493m",
                   "facebook/dinov3-vit7b16-pretrain-sat493m"}
    assert len(web) == 6  # ViT-S, S+, B, L, H+, 7B
    assert {PUBLISHED_STATISTICS[k] for k in sat} == {(SAT493M_MEAN, SAT493M_STD)}
    assert {PUBLISHED_STATISTICS[k] for k in web} == {(IMAGENET_MEAN, IMAGENET_STD)}


def test_a_satellite_dinov3_id_gets_the_satellite_statistics_not_imagenet(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert resolve_statistics(SAT_ID, None, None, None) == (SAT493M_MEAN, SAT493M_STD)
    assert not caplog.records
    # A hub preprocessor config with ImageNet values does not override the published ones,
    # and the contradiction is reported.
    imagenet = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert resolve_statistics(SAT_ID, None, None, imagenet) == (SAT493M_MEAN, SAT493M_STD)
    assert "publishes" in caplog.text and SAT_ID in caplog.text


def test_a_folder_named_after_a_satellite_model_is_normalised_with_its_statistics(tmp_path):
    folder = _save_tiny_backbone(tmp_path / "dinov3-vitl16-pretrain-sat493m")
    model = build_model(tiny_config(backbone_weights=str(folder)))
    assert model.preprocessing["mean"] == list(SAT493M_MEAN)
    assert model.preprocessing["std"] == list(SAT493M_STD)


def test_unknown_weights_without_a_preprocessor_config_warn_naming_them_and_the_statistics(
    tmp_path, caplog
):
    folder = _save_tiny_backbone(tmp_path / "my-own-weights")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        model = build_model(tiny_config(backbone_weights=str(folder)))
    assert model.preprocessing["mean"] == list(IMAGENET_MEAN)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2, warned  # one for the mean, one for the std
    assert all(str(folder) in w for w in warned)
    assert str(IMAGENET_MEAN) in warned[0] and str(IMAGENET_STD) in warned[1]


def test_a_preprocessor_config_or_explicit_statistics_need_no_warning(tmp_path, caplog):
    stats = {"image_mean": [0.5, 0.4, 0.3], "image_std": [0.2, 0.2, 0.2]}
    folder = _save_tiny_backbone(tmp_path / "with-config", stats)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        from_file = build_model(tiny_config(backbone_weights=str(folder)))
        explicit = build_model(tiny_config(backbone_weights=str(folder), mean=(0.1, 0.2, 0.3),
                                           std=(1.0, 1.0, 1.0)))
        random_preset = build_model(tiny_config())
    assert not caplog.records, caplog.text
    assert from_file.preprocessing["mean"] == [0.5, 0.4, 0.3]
    assert explicit.preprocessing["mean"] == [0.1, 0.2, 0.3]
    assert random_preset.preprocessing["mean"] == list(IMAGENET_MEAN)


@pytest.mark.parametrize("hub_cache_path", [
    "models--facebook--dinov3-vit7b16-pretrain-sat493m/snapshots/abc123",
    "weights/dinov3-vit7b16-pretrain-sat493m",
])
def test_local_copies_of_a_known_model_are_recognised(hub_cache_path):
    assert resolve_statistics(hub_cache_path, None, None, None) == (SAT493M_MEAN, SAT493M_STD)
