"""Tiny random Stable Diffusion models on disk, to test the diffusion plumbing offline.

:func:`save_tiny_models` writes three folders laid out like the real downloads (a Stable
Diffusion 1.5-style base model, a depth ControlNet and an inpainting model) with random
weights of a few hundred kB, built here without any download. Loaded through
:class:`pain3d.appearance.diffusion.DiffusionConfig` with ``device="cpu"``,
``dtype="float32"`` they run the real diffusers pipelines in well under a second per image at
64 px; their pictures are noise, which is all a plumbing test needs. Needs diffusers.

Their autoencoder downsamples by 2 (Stable Diffusion's by 8), so keep images small: a 512 px
portrait would mean self-attention over 65,536 latent tokens (far too slow on a CPU); use
``portrait_size: 64`` when generating with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Tiny architecture: 2 resolution levels (VAE and ControlNet downsample by 2, not 8), 8/16
# channels, one transformer layer, a 514-token character-level vocabulary.
_CHANNELS = (8, 16)
_TEXT_DIM = 16
_MAX_TOKENS = 256


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins of CLIP's byte-level BPE, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def write_tokenizer_files(folder: Path) -> dict[str, int]:
    """A character-level CLIP vocabulary: ``vocab.json`` and an empty ``merges.txt``.

    Every text tokenises into single characters (word-final ones with ``</w>``), so any
    prompt works. Returns the vocabulary.
    """
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    chars = _byte_chars()
    for suffix in ("", "</w>"):
        for c in chars:
            vocab[c + suffix] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return vocab


def save_tiny_models(root: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write ``base/`` (StableDiffusionPipeline), ``controlnet/`` and ``inpaint/`` under root.

    Returns:
        ``{"base_model": ..., "depth_controlnet": ..., "inpaint_model": ...}`` folders, the
        keys of :class:`pain3d.appearance.diffusion.DiffusionConfig`.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        ControlNetModel,
        DDIMScheduler,
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    root = Path(root)
    vocab = write_tokenizer_files(root / "tokenizer_src")
    tokenizer = CLIPTokenizer(vocab=str(root / "tokenizer_src" / "vocab.json"),
                              merges=str(root / "tokenizer_src" / "merges.txt"),
                              model_max_length=_MAX_TOKENS)
    torch.manual_seed(seed)
    blocks = dict(block_out_channels=_CHANNELS, layers_per_block=1, norm_num_groups=8,
                  down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                  cross_attention_dim=_TEXT_DIM, attention_head_dim=2)
    up = ("UpBlock2D", "CrossAttnUpBlock2D")
    unet = UNet2DConditionModel(sample_size=32, in_channels=4, out_channels=4,
                                up_block_types=up, **blocks)
    inpaint_unet = UNet2DConditionModel(sample_size=32, in_channels=9, out_channels=4,
                                        up_block_types=up, **blocks)
    controlnet = ControlNetModel(in_channels=4, conditioning_embedding_out_channels=_CHANNELS,
                                 **blocks)
    vae = AutoencoderKL(block_out_channels=_CHANNELS, in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4,
                        norm_num_groups=8)
    text = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=_TEXT_DIM,
        intermediate_size=2 * _TEXT_DIM, num_attention_heads=2, num_hidden_layers=1,
        vocab_size=len(vocab), max_position_embeddings=_MAX_TOKENS))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    parts = dict(vae=vae, text_encoder=text, tokenizer=tokenizer, scheduler=scheduler,
                 safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    out = {"base_model": root / "base", "depth_controlnet": root / "controlnet",
           "inpaint_model": root / "inpaint"}
    StableDiffusionPipeline(unet=unet, **parts).save_pretrained(out["base_model"])
    controlnet.save_pretrained(out["depth_controlnet"])
    StableDiffusionInpaintPipeline(unet=inpaint_unet, **parts).save_pretrained(
        out["inpaint_model"])
    return out


class PatternPipeline:
    """A stand-in pipeline whose "portrait" is a test pattern: left half of the picture red,
    right half blue, top third plus green. Shows where (and which way round) a portrait lands
    on the texture; needs no diffusers."""

    def __call__(self, **kwargs: Any) -> Any:
        import numpy as np

        h, w = kwargs["height"], kwargs["width"]
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : w // 2, 0] = 255
        img[:, w // 2:, 2] = 255
        img[: h // 3, :, 1] = 255

        class Out:
            images = [img]

        return Out()
