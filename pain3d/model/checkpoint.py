"""ViTPain checkpoints: a folder with safetensors weights and a JSON description.

Layout of a checkpoint folder::

    config.json            format, package version, model config (with the resolved
                           preprocessing), LoRA settings, preprocessing, backbone reference
    model.safetensors      the trained parameters only (LoRA, cross-attention, heads, AU queries;
                           every backbone weight too when the model has train_backbone)
    backbone.safetensors   optional: the frozen backbone weights (a reference encoder equal
                           to the pain encoder is stored once), written when the backbone
                           has no loadable source (random init, imported published weights)
                           or when asked (``include_backbone=True``)

Without ``backbone.safetensors`` the backbone loads from ``backbone.weights`` in
``config.json`` (a folder or hub id) and its fingerprint is checked, so a checkpoint never
silently meets different backbone weights.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from pain3d import __version__
from pain3d.config import from_dict, to_dict
from pain3d.io import atomic_path, atomic_write_json
from pain3d.model.backbone import fingerprint, hf_config_dict
from pain3d.model.config import ViTPainConfig
from pain3d.model.vitpain import ViTPain

log = logging.getLogger(__name__)

FORMAT = "pain3d.vitpain"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
BACKBONE_FILE = "backbone.safetensors"

# DINOv3ViTConfig fields that define the architecture (what a stored backbone needs).
_ARCH_KEYS = (
    "patch_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "hidden_act", "layer_norm_eps", "rope_theta", "image_size", "num_channels", "query_bias",
    "key_bias", "value_bias", "proj_bias", "mlp_bias", "layerscale_value", "use_gated_mlp",
    "num_register_tokens",
)


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    data = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(data, str(tmp), metadata={"format": "pt", "pain3d_version": __version__})


_REF = "reference_encoder."


def _dedupe_reference(frozen: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop reference-encoder weights equal to the pain encoder's (the usual case: both start
    from the same backbone), halving a self-contained checkpoint."""
    out = {}
    for k, v in frozen.items():
        twin = "encoder." + k[len(_REF):] if k.startswith(_REF) else None
        if twin is None or twin not in frozen or not torch.equal(frozen[twin], v):
            out[k] = v
    return out


def _restore_reference(stored: dict[str, torch.Tensor],
                       expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Undo :func:`_dedupe_reference` for the keys the model expects."""
    out = dict(stored)
    for k in expected:
        if k.startswith(_REF) and k not in out and "encoder." + k[len(_REF):] in out:
            out[k] = out["encoder." + k[len(_REF):]]
    return out


def save_checkpoint(
    model: ViTPain,
    directory: str | Path,
    *,
    include_backbone: bool | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to a checkpoint folder (created if needed; files replaced atomically).

    Args:
        model: the model (any device, any mode).
        directory: the checkpoint folder.
        include_backbone: also store the frozen backbone; default: only when the backbone has
            no source to reload from (``config.backbone_weights`` is None).
        extra: JSON-able metadata to keep beside the weights (epoch, metrics, data config).

    Returns:
        The folder path.
    """
    if model.lora_merged:
        raise ValueError("the model's LoRA adapters are merged into the backbone; call "
                         "model.unmerge_lora() before saving")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    store_backbone = include_backbone if include_backbone is not None else (
        cfg.backbone_weights is None and not cfg.train_backbone)  # trained: in WEIGHTS_FILE
    trained = model.trainable_state_dict()
    _save_tensors(trained, out / WEIGHTS_FILE)
    if store_backbone:
        frozen = {k: v for k, v in model.state_dict().items() if k not in trained}
        _save_tensors(_dedupe_reference(frozen), out / BACKBONE_FILE)
    elif (out / BACKBONE_FILE).exists():
        (out / BACKBONE_FILE).unlink()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "pain3d_version": __version__,
        "model": to_dict(cfg),
        "lora": to_dict(cfg.lora),
        "preprocessing": dict(model.preprocessing),
        "backbone": {
            "weights": cfg.backbone_weights,
            "impl": cfg.backbone_impl,
            "stored": bool(store_backbone),
            "fingerprint": fingerprint(model.encoder),
            "config": hf_config_dict(model.encoder),
        },
        "parameters": {
            "trained": int(sum(v.numel() for v in trained.values())),
            "total": int(sum(p.numel() for p in model.parameters())),
        },
        "extra": extra or {},
    }
    atomic_write_json(out / CONFIG_FILE, meta)
    log.info("saved ViTPain checkpoint to %s (%d trained tensors, backbone %s)", out,
             len(trained), "stored" if store_backbone else f"from {cfg.backbone_weights}")
    return out


def read_checkpoint_config(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint folder (validated format)."""
    path = Path(directory)
    if path.is_file() and path.suffix == ".ckpt":
        raise ValueError(
            f"{path} is a Lightning checkpoint; convert it first: "
            f"pain3d convert-checkpoint {path} --out DIR"
        )
    cfg_path = path / CONFIG_FILE
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{path} is not a ViTPain checkpoint folder: {CONFIG_FILE} missing")
    meta = json.loads(cfg_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{cfg_path}: format {meta.get('format')!r} is not {FORMAT!r}")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(
            f"{cfg_path}: format version {meta['format_version']} is newer than this pain3d "
            f"({__version__}) reads ({FORMAT_VERSION}); upgrade pain3d"
        )
    return meta


def load_model(
    directory: str | Path,
    *,
    device: str | torch.device | None = None,
    backbone_weights: str | None = None,
    check_backbone: bool = True,
    merge_lora: bool = False,
) -> ViTPain:
    """Rebuild a model from a checkpoint folder, in eval mode.

    Args:
        directory: folder written by :func:`save_checkpoint` (or ``convert-checkpoint``).
        device: where to put the model (default CPU).
        backbone_weights: another location of the backbone weights named in the checkpoint
            (when the folder moved); ignored when the checkpoint stores its backbone.
        check_backbone: refuse backbone weights whose fingerprint differs from training's.
        merge_lora: fold the adapters into the backbone weights (faster inference; call
            ``model.unmerge_lora()`` before training or saving it again).

    Returns:
        The model in eval mode; call it with normalised image and reference tensors.
    """
    path = Path(directory)
    meta = read_checkpoint_config(path)
    cfg = from_dict(ViTPainConfig, meta["model"], where=f"{path / CONFIG_FILE}:model")
    bb = meta.get("backbone", {})
    stored = (path / BACKBONE_FILE).is_file()
    # A trained backbone is in WEIGHTS_FILE: rebuild its architecture, never reload weights.
    if stored or cfg.train_backbone:
        arch = {k: v for k, v in (bb.get("config") or {}).items() if k in _ARCH_KEYS}
        cfg = dataclasses.replace(
            cfg, backbone_weights=None, backbone_overrides={**cfg.backbone_overrides, **arch})
    elif backbone_weights is not None:
        cfg = dataclasses.replace(cfg, backbone_weights=str(backbone_weights))
    elif cfg.backbone_weights is None:
        raise FileNotFoundError(
            f"{path} has neither {BACKBONE_FILE} nor a backbone reference; it cannot be rebuilt"
        )
    model = ViTPain(cfg)
    if stored or cfg.train_backbone:
        # The stored config names the original weights; the architecture came from the file.
        model.config = dataclasses.replace(model.config, backbone_weights=bb.get("weights"),
                                           backbone_overrides=dict(meta["model"].get(
                                               "backbone_overrides") or {}))
    state = load_file(str(path / WEIGHTS_FILE))
    expected = model.state_dict()
    if stored:
        state.update(_restore_reference(load_file(str(path / BACKBONE_FILE)), expected))
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise ValueError(
            f"{path}: {len(unexpected)} stored tensors do not fit this model, e.g. "
            f"{unexpected[:5]}; the checkpoint was written by another model version"
        )
    missing = sorted(set(expected) - set(state))
    trained_missing = [k for k in missing if k in model.trainable_state_dict()]
    if trained_missing or (stored and missing):
        raise ValueError(f"{path}: tensors missing from the checkpoint, e.g. {missing[:5]}")
    for k, v in state.items():
        if v.shape != expected[k].shape:
            raise ValueError(f"{path}: tensor {k} has shape {tuple(v.shape)}, the model needs "
                             f"{tuple(expected[k].shape)}")
    model.load_state_dict(state, strict=False)
    if not (stored or cfg.train_backbone) and check_backbone and bb.get("fingerprint"):
        got = fingerprint(model.encoder)
        if got != bb["fingerprint"]:
            raise ValueError(
                f"{path}: backbone weights from {cfg.backbone_weights!r} differ from those used "
                f"in training (fingerprint {got} != {bb['fingerprint']}); point "
                "backbone_weights= at the right weights or pass check_backbone=False"
            )
    if merge_lora:
        model.merge_lora()
    if device is not None:
        model.to(device)
    return model.eval()
