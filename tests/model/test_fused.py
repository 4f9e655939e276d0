"""The fused CPU forward (pain3d.model.fused) gives the eager backbone's outputs, runs when it
applies, and falls back to the eager path wherever it does not."""

from __future__ import annotations

import copy
import os
import threading

import pytest
import torch

from pain3d.model import prepare_for_inference
from pain3d.model.fused import FusedDINOv3, fuse_for_cpu, onednn_linear_available, unfuse


def _trained(make_model, **kw):
    """A tiny model whose adapters, heads and LayerScales moved away from their initial
    values (LayerScale 1.0 would hide a wrong fold into the output weights)."""
    model = make_model(**kw)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad or name.endswith("lambda1"):
                scale = 0.3 if name.endswith("lambda1") else 0.05
                p.add_(scale * torch.randn(p.shape, generator=g))
    return model


def _spy(monkeypatch) -> list[int]:
    """Count the fused forward's calls."""
    calls: list[int] = []
    original = FusedDINOv3.__call__

    def counted(self, pixels):
        calls.append(pixels.shape[0])
        return original(self, pixels)

    monkeypatch.setattr(FusedDINOv3, "__call__", counted)
    return calls


@pytest.mark.parametrize("onednn", [True, False], ids=["onednn", "plain-linear"])
@pytest.mark.parametrize("mode", ["separate", "shared"])
def test_fused_forward_gives_the_eager_outputs(make_model, images, monkeypatch, onednn, mode):
    if onednn and not onednn_linear_available():
        pytest.skip("this PyTorch has no oneDNN linear kernels")
    eager = prepare_for_inference(_trained(make_model, encoder_mode=mode))
    x, n = images(4), images(1, seed=2)
    with torch.inference_mode():
        want_tokens = eager.encoder(x)
        want = eager(x, reference=eager.encode_reference(n))
        fused = fuse_for_cpu(copy.deepcopy(eager), onednn=onednn, reference=True)
        calls = _spy(monkeypatch)
        got_tokens = fused.encoder(x)
        got = fused(x, reference=fused.encode_reference(n))
    assert sorted(calls) == [1, 4, 4]  # the fused path ran for the pain images and reference
    assert got_tokens.shape == want_tokens.shape
    scale = want_tokens.abs().max()
    assert (got_tokens - want_tokens).abs().max() <= 1e-5 * scale
    for name, value in want.to_dict().items():  # fp32 rounding, relative to each output
        assert (getattr(got, name) - value).abs().max() <= 1e-5 * value.abs().max(), name


def test_fused_forward_falls_back_to_eager_outside_inference(make_model, images, monkeypatch):
    model = fuse_for_cpu(prepare_for_inference(_trained(make_model)))
    x = images(2)
    calls = _spy(monkeypatch)
    with torch.no_grad():
        want = model.encoder(x)
    model.train()  # training mode: eager (dropout, RoPE jitter and gradients are its job)
    with torch.no_grad():
        model.encoder(x)
    model.eval()
    with torch.enable_grad():
        model.encoder(x)  # autograd on: eager (the snapshot is detached)
    low = copy.deepcopy(model).to(torch.bfloat16)  # another dtype than the snapshot: eager
    with torch.no_grad():
        assert low.encoder(x).dtype == torch.bfloat16
    assert calls == [2]  # only the first, eval-mode fp32 call was fused
    unfuse(model)
    with torch.no_grad():
        assert torch.allclose(model.encoder(x), want, rtol=1e-5, atol=1e-5)
    assert calls == [2]


def test_fused_models_can_be_copied_and_pickled(make_model, images):
    import pickle

    model = fuse_for_cpu(prepare_for_inference(_trained(make_model)))
    x = images(2)
    with torch.inference_mode():
        want = model.encoder(x)
        for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            assert twin.encoder.fused.model is twin.encoder.model  # its own, not the original
            assert torch.equal(twin.encoder(x), want)


def test_fuse_refuses_unmerged_adapters(make_model):
    with pytest.raises(ValueError, match="merge"):
        fuse_for_cpu(_trained(make_model))


def test_fuse_leaves_the_state_dict_alone(make_model):
    model = prepare_for_inference(_trained(make_model))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fuse_for_cpu(model)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_published_forward_encoders_stay_eager(make_model, images, monkeypatch):
    model = fuse_for_cpu(prepare_for_inference(make_model(published_forward=True)))
    assert model.encoder.fused is None
    calls = _spy(monkeypatch)
    with torch.inference_mode():
        model.encoder(images(1))
    assert calls == []


def test_prepare_for_inference_fuses_on_request(make_model, images):
    model = prepare_for_inference(_trained(make_model), fuse=True)
    assert isinstance(model.encoder.fused, FusedDINOv3)
    assert model.reference_encoder.fused is None  # runs once per person: not worth a copy
    assert prepare_for_inference(_trained(make_model)).encoder.fused is None


def test_weights_changed_after_fusing_are_used_not_the_stale_snapshot(make_model, images):
    model = fuse_for_cpu(prepare_for_inference(_trained(make_model)))
    other = prepare_for_inference(_trained(make_model))
    with torch.no_grad():
        for p in other.encoder.parameters():
            p.mul_(1.1)
    x = images(2)
    with torch.inference_mode():
        want = other.encoder(x)  # eager: never fused
    with torch.no_grad():
        model.load_state_dict(other.state_dict())  # copies in place: the snapshot is stale
        got = model.encoder(x)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)


def _forward_spy(monkeypatch) -> list[tuple[str, int, int]]:
    """(thread name, batch, that thread's torch thread count) of each fused forward."""
    seen: list[tuple[str, int, int]] = []
    original = FusedDINOv3._forward

    def spied(self, pixels):
        seen.append((threading.current_thread().name, pixels.shape[0], torch.get_num_threads()))
        return original(self, pixels)

    monkeypatch.setattr(FusedDINOv3, "_forward", spied)
    return seen


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_streams_split_the_batch_over_one_core_workers(make_model, images, monkeypatch,
                                                       two_threads):
    model = fuse_for_cpu(prepare_for_inference(_trained(make_model)))
    one = FusedDINOv3(model.encoder.model, streams=False)
    x = images(5)
    seen = _forward_spy(monkeypatch)
    with torch.inference_mode():
        want = one(x)
        assert seen == [("MainThread", 5, 2)]  # one stream: all of it here, on both threads
        seen.clear()
        got = model.encoder(x)
    assert torch.get_num_threads() == 2  # the caller's thread count is left alone
    assert sorted(n for _, n, _ in seen) == [2, 3]
    assert all(name.startswith("pain3d-fused") and threads == 1 for name, _, threads in seen)
    assert got.is_inference()  # made as the caller's mode says
    assert (got - want).abs().max() <= 1e-5 * want.abs().max()


def test_streams_keep_no_grad_outputs_ordinary_tensors(make_model, images, two_threads):
    model = fuse_for_cpu(prepare_for_inference(_trained(make_model)))
    with torch.no_grad():
        got = model.encoder(images(2))
    assert not got.is_inference()
    got.mul_(2)  # in place outside inference mode: refused for inference tensors


def test_single_images_take_no_detour_through_the_workers(make_model, images, monkeypatch,
                                                          two_threads):
    model = fuse_for_cpu(prepare_for_inference(_trained(make_model)))
    seen = _forward_spy(monkeypatch)
    with torch.inference_mode():
        model.encoder(images(1))
    assert seen == [("MainThread", 1, 2)]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_rope_in_place_is_transformers_rotate_half(make_model, images, dtype):
    from transformers.models.dinov3_vit.modeling_dinov3_vit import rotate_half

    from pain3d.model.fused import _pairs_adjacent

    model = prepare_for_inference(_trained(make_model), dtype=dtype)
    fused = FusedDINOv3(model.encoder.model)
    assert fused.complex_rope == (dtype == "float32")  # bf16 has no complex type
    pixels = images(1).to(fused.dtype)
    cos, sin = model.encoder.model.rope_embeddings(pixels)
    d = fused.heads * fused.head_dim
    q = torch.randn(2, cos.shape[0], 2, fused.heads, fused.head_dim)
    want = q * cos[:, None, None].float() + rotate_half(q) * sin[:, None, None].float()
    if fused.complex_rope:  # the fused layout: each head's rotated pairs side by side
        order = _pairs_adjacent(torch.arange(d), fused.head_dim)
        q, want = (t.flatten(-2)[..., order].view_as(t) for t in (q, want))
    got = q.to(fused.dtype, copy=True)
    fused._rope(got, fused._rope_tables(pixels))
    tol = 1e-6 if fused.complex_rope else 2e-2
    assert (got.float() - want).abs().max() <= tol * want.abs().max()
    assert (q - want).abs().max() > 0.1 * want.abs().max()  # RoPE moved them: not vacuous


def _encode_in_child(model, x, out) -> None:
    torch.set_num_threads(2)
    with torch.inference_mode():
        out.put(model.encoder(x).sum().item())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_forked_children_start_their_own_workers(make_model, images, two_threads):
    import multiprocessing as mp

    model = fuse_for_cpu(prepare_for_inference(_trained(make_model)))
    x = images(2)
    with torch.inference_mode():
        want = model.encoder(x).sum().item()  # the parent's workers exist now
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_encode_in_child, args=(model, x, out))
    child.start()
    child.join(timeout=120)  # with the parent's (absent) worker threads it would hang
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
    assert out.get(timeout=5) == pytest.approx(want, rel=1e-5)
