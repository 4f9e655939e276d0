"""Checkpoints: safetensors + JSON, only trained parameters, backbone by reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from model_fixtures import tiny_config
from safetensors.torch import load_file

import pain3d
from pain3d.model import LoraAdapterConfig, build_model, load_model, save_checkpoint
from pain3d.model.backbone import preset_hf_config


def _perturb_trained(model) -> None:
    """Give every trained parameter a non-initial value (as training would)."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn(p.shape, generator=g))


def test_save_then_load_reproduces_outputs_exactly(tmp_path, make_model, images):
    model = make_model()
    _perturb_trained(model)
    x, n = images(2), images(2, seed=2)
    expected = model(x, neutral=n)
    save_checkpoint(model, tmp_path / "ck", extra={"epoch": 3})
    loaded = load_model(tmp_path / "ck")
    assert not loaded.training
    got = loaded(x, neutral=n)
    for name, value in expected.to_dict().items():
        assert torch.equal(value, getattr(got, name)), name
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert meta["extra"] == {"epoch": 3} and meta["pain3d_version"] == pain3d.__version__
    assert meta["preprocessing"] == model.preprocessing
    assert meta["lora"]["rank"] == 4


def test_every_mode_round_trips(tmp_path, make_model, images):
    for i, kw in enumerate(({"encoder_mode": "shared"}, {"reference": "none"},
                            {"published_forward": True, "cross_attn_layers": 2})):
        model = make_model(**kw)
        _perturb_trained(model)
        x = images(1)
        save_checkpoint(model, tmp_path / str(i))
        loaded = pain3d.load_model(tmp_path / str(i))
        assert loaded.config == model.config
        assert torch.equal(model(x, neutral=x).pspi, loaded(x, neutral=x).pspi), kw


@pytest.fixture
def backbone_dir(tmp_path):
    """A tiny DINOv3 in save_pretrained layout with its own preprocessing statistics."""
    from transformers import DINOv3ViTModel

    torch.manual_seed(5)
    folder = tmp_path / "dinov3-tiny"
    DINOv3ViTModel(preset_hf_config(tiny_config())).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_mean": [0.43, 0.411, 0.296], "image_std": [0.213, 0.156, 0.143],
        "size": {"height": 64, "width": 64}}))
    return folder


def test_checkpoint_stores_only_trained_parameters_and_a_backbone_reference(
    tmp_path, backbone_dir, images
):
    model = build_model(tiny_config(image_size=None, backbone_weights=str(backbone_dir))).eval()
    assert model.preprocessing == {"size": 64, "mean": [0.43, 0.411, 0.296],
                                   "std": [0.213, 0.156, 0.143]}
    _perturb_trained(model)
    save_checkpoint(model, tmp_path / "ck")
    assert not (tmp_path / "ck" / "backbone.safetensors").exists()
    stored = load_file(str(tmp_path / "ck" / "model.safetensors"))
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(stored) == trained
    x, n = images(2), images(2, seed=2)
    loaded = load_model(tmp_path / "ck")
    assert loaded.preprocessing == model.preprocessing
    assert torch.equal(loaded(x, neutral=n).pspi, model(x, neutral=n).pspi)


def test_loading_against_different_backbone_weights_is_refused(tmp_path, backbone_dir):
    from transformers import DINOv3ViTModel

    model = build_model(tiny_config(backbone_weights=str(backbone_dir)))
    save_checkpoint(model, tmp_path / "ck")
    other = tmp_path / "other"
    torch.manual_seed(99)
    DINOv3ViTModel(preset_hf_config(tiny_config())).save_pretrained(other)
    with pytest.raises(ValueError, match="fingerprint"):
        load_model(tmp_path / "ck", backbone_weights=str(other))
    load_model(tmp_path / "ck", backbone_weights=str(other), check_backbone=False)


def test_include_backbone_makes_a_self_contained_checkpoint(tmp_path, backbone_dir, images):
    model = build_model(tiny_config(image_size=None, backbone_weights=str(backbone_dir))).eval()
    save_checkpoint(model, tmp_path / "ck", include_backbone=True)
    for f in backbone_dir.iterdir():
        f.unlink()
    x = images(1)
    loaded = load_model(tmp_path / "ck")
    assert torch.equal(loaded(x, neutral=x).pspi, model(x, neutral=x).pspi)
    assert loaded.config.backbone_weights == str(backbone_dir)


def test_a_lightning_file_gets_a_conversion_hint(tmp_path):
    ckpt = tmp_path / "published.ckpt"
    ckpt.write_bytes(b"")
    with pytest.raises(ValueError, match="convert-checkpoint"):
        load_model(ckpt)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_model(tmp_path)


def test_merged_adapters_predict_the_same_and_refuse_to_be_saved(tmp_path, make_model, images):
    model = make_model()
    _perturb_trained(model)
    save_checkpoint(model, tmp_path / "ck")
    x, n = images(2), images(2, seed=2)
    merged = load_model(tmp_path / "ck", merge_lora=True)
    assert merged.lora_merged
    assert torch.allclose(merged(x, neutral=n).pspi, model(x, neutral=n).pspi, atol=1e-5)
    with pytest.raises(ValueError, match="unmerge_lora"):
        save_checkpoint(merged, tmp_path / "again")
    merged.unmerge_lora()
    assert not merged.lora_merged
    assert torch.allclose(merged(x, neutral=n).pspi, model(x, neutral=n).pspi, atol=1e-5)


def test_temporarily_frozen_heads_are_still_saved(tmp_path, make_model, images):
    model = make_model()
    _perturb_trained(model)
    model.pspi_head.requires_grad_(False)  # e.g. a stage that trains only the adapters
    save_checkpoint(model, tmp_path / "ck")
    x = images(1)
    assert torch.equal(load_model(tmp_path / "ck")(x, neutral=x).pspi, model(x, neutral=x).pspi)


def test_import_pain3d_stays_light_until_load_model_is_used():
    import subprocess
    import sys

    code = ("import sys, pain3d; assert 'torch' not in sys.modules; "
            "assert callable(pain3d.load_model); assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_self_contained_checkpoint_stores_a_shared_backbone_once(tmp_path, make_model, images):
    model = make_model()
    save_checkpoint(model, tmp_path / "ck")
    stored = load_file(str(tmp_path / "ck" / "backbone.safetensors"))
    assert stored and not any(k.startswith("reference_encoder.") for k in stored)
    # Different frozen weights (e.g. an imported model's merged patch embedding) are kept.
    with torch.no_grad():
        model.reference_encoder.model.embeddings.patch_embeddings.weight.mul_(2)
    save_checkpoint(model, tmp_path / "ck2")
    stored = load_file(str(tmp_path / "ck2" / "backbone.safetensors"))
    assert [k for k in stored if k.startswith("reference_encoder.")] == [
        "reference_encoder.model.embeddings.patch_embeddings.weight"]
    x, n = images(1), images(1, seed=2)
    assert torch.equal(load_model(tmp_path / "ck2")(x, neutral=n).pspi, model(x, neutral=n).pspi)


def test_adapters_on_mlp_and_patch_embedding_round_trip(tmp_path, make_model, images):
    targets = ("q_proj", "v_proj", "up_proj", "down_proj", "patch_embeddings")
    lora = LoraAdapterConfig(rank=2, alpha=4.0, dropout=0.0, targets=targets)
    for published in (False, True):
        model = make_model(lora=lora, published_forward=published)
        names = [n for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
        assert any("patch_embeddings.lora_A" in n for n in names)
        assert any("mlp.up_proj.lora_B" in n for n in names)
        _perturb_trained(model)
        save_checkpoint(model, tmp_path / str(published))
        x, n = images(1), images(1, seed=2)
        loaded = load_model(tmp_path / str(published))
        assert torch.equal(loaded(x, neutral=n).pspi, model(x, neutral=n).pspi)


def test_a_trained_backbone_is_saved_with_the_model_and_reloaded(tmp_path, make_model, images):
    model = make_model(lora=LoraAdapterConfig(rank=0), train_backbone=True)
    _perturb_trained(model)  # every backbone weight moves, as full training would
    save_checkpoint(model, tmp_path / "ck")
    assert not (tmp_path / "ck" / "backbone.safetensors").exists()
    stored = load_file(str(tmp_path / "ck" / "model.safetensors"))
    assert "encoder.model.embeddings.patch_embeddings.weight" in stored
    x, n = images(2), images(2, seed=2)
    loaded = load_model(tmp_path / "ck")
    assert loaded.config.train_backbone
    assert torch.equal(loaded(x, neutral=n).pspi, model(x, neutral=n).pspi)


def test_a_checkpoint_written_before_the_lora_config_rename_still_loads(tmp_path, images):
    """``data/checkpoint_v1_config.json`` is a config.json written by pain3d 0.1.0 while the
    LoRA config class was ``LoraSettings``: its keys must keep loading."""
    old = json.loads((Path(__file__).parent / "data" / "checkpoint_v1_config.json").read_text())
    assert old["model"]["lora"] == {"rank": 4, "alpha": 8.0, "dropout": 0.0,
                                    "targets": ["q_proj", "k_proj", "v_proj", "o_proj"]}
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    _perturb_trained(model)
    save_checkpoint(model, tmp_path / "ck")
    (tmp_path / "ck" / "config.json").write_text(json.dumps(old))  # the old description
    loaded = load_model(tmp_path / "ck")
    assert isinstance(loaded.config.lora, LoraAdapterConfig)
    assert loaded.config == model.config
    x, n = images(2), images(2, seed=2)
    assert torch.equal(loaded(x, neutral=n).pspi, model(x, neutral=n).pspi)
