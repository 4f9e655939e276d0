"""Fast inference: merged adapters keep the outputs, bf16 keeps what tells inputs apart,
freed activations are reused instead of faulted in again."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from pain3d.model import prepare_for_inference
from pain3d.model.lora import is_lora_parameter


def _trained(make_model, **kw):
    """A tiny model whose adapters and heads moved away from their initial values."""
    model = make_model(**kw)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def _without_adapters(model):
    bare = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in bare.named_parameters():
            if is_lora_parameter(name) and "lora_B" in name:
                p.zero_()
    return bare


@pytest.mark.parametrize("mode", ["separate", "shared"])
def test_merged_adapters_give_the_unmerged_outputs(make_model, images, mode):
    model = _trained(make_model, encoder_mode=mode)
    x, n = images(4), images(4, seed=2)
    want = model(x, neutral=n)
    # Control: the adapters matter, so "merged = unmerged" is not vacuous.
    assert (_without_adapters(model)(x, neutral=n).cls - want.cls).abs().max() > 1e-2
    fast = prepare_for_inference(copy.deepcopy(model))
    assert fast.lora_merged and not fast.training
    ref = fast.encode_reference(n)
    got = fast(x, reference=ref)
    for name, value in want.to_dict().items():
        assert torch.allclose(getattr(got, name), value, rtol=1e-4, atol=1e-5), name


def test_bf16_inference_tracks_fp32_with_fp32_heads(make_model, images):
    model = _trained(make_model)
    x, n = images(8), images(8, seed=2)
    want = model(x, neutral=n)
    fast = prepare_for_inference(copy.deepcopy(model), dtype="bfloat16")
    assert fast.encoder.model.embeddings.patch_embeddings.weight.dtype == torch.bfloat16
    assert fast.cross_attention.layers[0].attn.in_proj_weight.dtype == torch.bfloat16
    assert fast.pspi_head.mlp[-1].weight.dtype == torch.float32
    got = fast(x, reference=fast.encode_reference(n))  # fp32 inputs are accepted
    assert got.pspi.dtype == torch.float32
    off_diagonal = ~torch.eye(8, dtype=torch.bool)
    for name in ("cls", "binary_logits"):
        w, h = getattr(want, name), getattr(got, name)
        between = torch.cdist(w, w)[off_diagonal].min()
        assert between > 1e-2
        assert (h - w).norm(dim=1).max() < 0.25 * between, name
    spread = want.pspi.max() - want.pspi.min()
    assert spread > 0.05
    assert (got.pspi - want.pspi).abs().max() < 0.25 * spread
    assert torch.corrcoef(torch.stack([want.pspi, got.pspi]))[0, 1] > 0.95


def test_prepare_for_inference_rejects_an_unknown_dtype(make_model):
    with pytest.raises(ValueError, match="bfloat16"):
        prepare_for_inference(make_model(), dtype="float16")  # type: ignore[arg-type]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_kept_memory_is_reused_instead_of_faulted_in_again():
    # A 48 MB block is above glibc's largest dynamic mmap threshold (32 MB), so by default
    # every allocation maps fresh pages and faults all of them; with the setting it is served
    # from the heap and freed blocks are reused. Not from the first allocation: torch's blocks
    # are 64-byte aligned and a freed one is a few bytes short of the next request, so the
    # heap grows for the first few (measured: 7-8 of them) until freed neighbours merge into
    # blocks that fit; from then on nothing is faulted in. Fresh processes: the setting is
    # global.
    code = textwrap.dedent("""
        import resource, sys, torch
        from pain3d.model import keep_freed_memory
        if sys.argv[1] == "keep":
            assert keep_freed_memory() and keep_freed_memory()
        faults = []
        for _ in range(30):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            x = torch.ones(48 * 2**20 // 4)
            del x
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        print(" ".join(map(str, faults[20:])))
    """)
    root = str(Path(__file__).resolve().parents[2])
    env = {"PYTHONPATH": root, "PATH": "/usr/bin:/bin"}
    pages = 48 * 2**20 // 4096

    def steady_faults(arg: str) -> list[int]:
        out = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True,
                             env=env, check=True)
        return sorted(int(v) for v in out.stdout.strip().splitlines()[-1].split())

    assert steady_faults("default")[0] > 0.9 * pages  # the control: every time
    kept = steady_faults("keep")
    assert kept[len(kept) // 2] < 0.1 * pages, kept
