"""ViTPain forward: shapes, modes, references, cache, multi-shot, position encoding."""

from __future__ import annotations

import copy

import pytest
import torch
from model_fixtures import SIZE, tiny_config

from pain3d.facs import PSPI_MAX, pspi
from pain3d.model import ViTPainConfig, build_model
from pain3d.model.backbone import PRESETS, preset_hf_config

N_TOKENS = 1 + (SIZE // 16) ** 2


def _check_output(out, batch: int, dim: int) -> None:
    assert out.pspi.shape == out.pspi_unit.shape == out.au_pspi.shape == (batch,)
    assert out.au.shape == (batch, 6)
    assert out.binary_logits.shape == (batch, 3)
    assert out.cls.shape == (batch, dim)
    for name, value in out.to_dict().items():
        assert torch.isfinite(value).all(), name
    assert torch.allclose(out.pspi, PSPI_MAX * out.pspi_unit)
    assert ((out.pspi >= 0) & (out.pspi <= PSPI_MAX)).all()
    assert (out.au >= 0).all()


@pytest.mark.parametrize("published", [False, True])
@pytest.mark.parametrize("mode", ["separate", "shared"])
def test_every_encoder_mode_gives_finite_outputs_of_the_right_shapes(
    make_model, images, mode, published
):
    model = make_model(encoder_mode=mode, published_forward=published)
    out = model(images(2), neutral=images(2, seed=2))
    _check_output(out, 2, model.hidden_size)
    assert (model.reference_encoder is None) == (mode == "shared")


def test_model_without_reference_predicts_from_the_image_alone(make_model, images):
    model = make_model(reference="none")
    assert model.cross_attention is None and model.reference_encoder is None
    out = model(images(3))
    _check_output(out, 3, model.hidden_size)
    with pytest.raises(ValueError, match="reference='none'"):
        model.encode_reference(images(3))


def test_training_mode_forward_backward_works_for_every_mode(make_model, images):
    for kwargs in ({}, {"encoder_mode": "shared"}, {"reference": "none"},
                   {"cross_attn_layers": 2, "cross_attn_ffn": True}):
        model = make_model(**kwargs).train()
        out = model(images(2), neutral=images(2, seed=2))
        (out.pspi.sum() + out.au.sum() + out.binary_logits.sum()).backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), kwargs


def test_reference_model_without_neutral_says_what_to_pass(make_model, images):
    with pytest.raises(ValueError, match="neutral="):
        make_model()(images(1))


def test_cached_reference_gives_the_same_outputs_as_encoding_every_time(make_model, images):
    model = make_model()
    x, n = images(3), images(3, seed=2)
    direct = model(x, neutral=n)
    cached = model(x, reference=model.encode_reference(n))
    for name, value in direct.to_dict().items():
        assert torch.equal(value, getattr(cached, name)), name


def test_one_reference_for_a_batch_projects_its_keys_and_values_once():
    from torch.overrides import TorchFunctionMode

    from pain3d.model.attention import CrossAttentionLayer

    class LinearInputs(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.shapes = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is torch.nn.functional.linear:
                self.shapes.append(tuple(args[0].shape))
            return func(*args, **(kwargs or {}))

    torch.manual_seed(0)
    layer = CrossAttentionLayer(32, heads=4).eval()
    query, reference = torch.randn(5, 7, 32), torch.randn(1, 9, 32)
    shared = reference.expand(5, -1, -1)  # stride 0: the way ViTPain.forward passes a cache
    with torch.no_grad():
        want = layer(query, shared.contiguous())  # nn.MultiheadAttention over 5 copies
        with LinearInputs() as seen:
            got = layer(query, shared)
    assert torch.allclose(got, want, atol=1e-6)
    assert (1, 9, 32) in seen.shapes and (5, 9, 32) not in seen.shapes, seen.shapes
    layer.train()  # training takes nn.MultiheadAttention (dropout, its autograd graph)
    assert torch.allclose(layer(query, shared), want, atol=1e-6)


def test_one_cached_reference_serves_a_batch_of_frames(make_model, images):
    model = make_model()
    frames, neutral = images(4), images(1, seed=2)
    ref = model.encode_reference(neutral)
    assert ref.shape == (1, N_TOKENS, model.hidden_size)
    batched = model(frames, reference=ref)
    single = [model(frames[i:i + 1], neutral=neutral) for i in range(4)]
    assert torch.allclose(batched.pspi, torch.cat([s.pspi for s in single]), atol=1e-5)


def test_multishot_averages_the_single_reference_predictions(make_model, images):
    model = make_model()
    x, refs = images(2), images(2, 3, seed=2)
    multi = model(x, neutral=refs)
    shots = [model(x, neutral=refs[:, k]) for k in range(3)]
    for name in ("pspi", "pspi_unit", "au", "binary_logits", "au_pspi", "cls"):
        mean = torch.stack([getattr(s, name) for s in shots]).mean(0)
        assert torch.allclose(getattr(multi, name), mean, atol=1e-5), name
    assert model.encode_reference(refs).shape == (2, 3, N_TOKENS, model.hidden_size)
    cached = model(x, reference=model.encode_reference(refs))
    assert torch.allclose(cached.pspi, multi.pspi)


def test_au_pspi_is_pspi_of_the_predicted_aus(make_model, images):
    out = make_model()(images(3), neutral=images(3, seed=2))
    assert torch.allclose(out.au_pspi, pspi(out.au).clamp(0, PSPI_MAX))


def _shuffle_patches(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    g = SIZE // 16
    b = x.shape[0]
    p = x.view(b, 3, g, 16, g, 16).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, 3, 16, 16)
    p = p[:, perm].view(b, g, g, 3, 16, 16).permute(0, 3, 1, 4, 2, 5)
    return p.reshape(b, 3, SIZE, SIZE)


def test_shuffling_patches_changes_the_cls_token_because_rope_is_in_effect(make_model, images):
    perm = torch.randperm((SIZE // 16) ** 2, generator=torch.Generator().manual_seed(0))
    x = images(2)
    xs = _shuffle_patches(x, perm)
    model = make_model()
    cls, cls_shuffled = model.encode(x)[:, 0], model.encode(xs)[:, 0]
    assert (cls - cls_shuffled).abs().max() > 1e-2
    # Control: the published token extraction has no position encoding, so its CLS token is
    # exactly permutation-invariant; the test above would otherwise prove nothing.
    published = make_model(published_forward=True)
    assert torch.allclose(published.encode(x)[:, 0], published.encode(xs)[:, 0], atol=1e-5)


def test_register_tokens_take_part_only_in_the_full_forward(make_model, images):
    x = images(2)
    for published in (False, True):
        model = make_model(published_forward=published)
        before = model.encode(x)
        with torch.no_grad():
            model.encoder.model.embeddings.register_tokens.add_(1.0)
        changed = not torch.allclose(before, model.encode(x))
        assert changed != published
        assert before.shape == (2, N_TOKENS, model.hidden_size)  # registers are dropped


def test_shared_encoder_halves_the_backbone_parameters(make_model):
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    separate, shared = make_model(), make_model(encoder_mode="shared")
    backbone = count(shared.encoder)
    assert count(separate) - count(shared) == backbone


def test_normalize_uses_the_model_preprocessing(make_model):
    model = make_model(mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))
    assert model.preprocessing == {"size": SIZE, "mean": [0.5] * 3, "std": [0.25, 0.5, 1.0]}
    y = model.normalize(torch.ones(2, 3, 4, 4))
    assert torch.allclose(y[0, :, 0, 0], torch.tensor([2.0, 1.0, 0.5]))


def test_default_preprocessing_is_imagenet_and_preset_size(make_model):
    prep = make_model(image_size=None).preprocessing
    assert prep["size"] == PRESETS["tiny"]["image_size"]
    assert prep["mean"] == [0.485, 0.456, 0.406]


@pytest.mark.parametrize("preset", ["small", "base", "large"])
def test_presets_have_the_dinov3_sizes(preset):
    c = preset_hf_config(ViTPainConfig(preset=preset))
    expected = {"small": (384, 12, 6), "base": (768, 12, 12), "large": (1024, 24, 16)}[preset]
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads) == expected
    assert c.patch_size == 16 and c.num_register_tokens == 4 and c.image_size == 224


def test_small_preset_builds_and_predicts_at_reduced_size():
    torch.manual_seed(0)
    model = build_model(preset="small", image_size=64, encoder_mode="shared").eval()
    x = torch.randn(1, 3, 64, 64)
    _check_output(model(x, neutral=x), 1, 384)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["base", "large"])
def test_large_presets_build_and_predict(preset):
    model = build_model(preset=preset, image_size=64, encoder_mode="shared").eval()
    x = torch.randn(1, 3, 64, 64)
    _check_output(model(x, neutral=x), 1, model.hidden_size)


def test_invalid_configs_are_rejected_with_the_offending_value():
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny_config(image_size=70)
    with pytest.raises(ValueError, match="reference='none'"):
        tiny_config(cross_attn_layers=0)
    with pytest.raises(ValueError, match="do not divide"):
        build_model(tiny_config(cross_attn_heads=5))
    with pytest.raises(ValueError, match="mean needs 3"):
        tiny_config(mean=(0.5, 0.5))


def test_config_loads_from_yaml_style_overrides():
    from pain3d.config import load_config

    cfg = load_config(ViTPainConfig, overrides={"preset": "tiny", "lora.rank": 2,
                                                "backbone_overrides.num_hidden_layers": 3,
                                                "binary_thresholds": "1,4"})
    assert cfg.lora.rank == 2 and cfg.binary_thresholds == (1.0, 4.0)
    model = build_model(cfg, image_size=SIZE, cross_attn_heads=4)
    assert len(model.encoder.model.model.layer) == 3
    assert model(torch.zeros(1, 3, SIZE, SIZE), neutral=torch.zeros(1, 3, SIZE, SIZE)
                 ).binary_logits.shape == (1, 2)


def test_rope_jitter_is_off_in_training_unless_asked(make_model, images):
    x = images(2)
    for augment in (False, True):
        model = make_model(rope_augment=augment, head_dropout=0.0).train()
        torch.manual_seed(0)
        a = model.encode(x)
        b = model.encode(x)
        assert torch.equal(a, b) != augment


def test_gradient_checkpointing_gives_the_same_gradients(make_model, images):
    x, n = images(2), images(2, seed=2)
    grads = []
    for ckpt in (False, True):
        model = make_model(gradient_checkpointing=ckpt, head_dropout=0.0).train()
        out = model(x, neutral=n)
        (out.pspi.sum() + out.au.sum() + out.binary_logits.sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_timm_backbone_without_timm_says_what_to_install():
    try:
        import timm  # noqa: F401
    except Exception:  # noqa: BLE001 - timm missing or broken (torchvision): the CPU case
        with pytest.raises(ImportError, match="timm"):
            build_model(preset="small", backbone_impl="timm")
    else:
        pytest.skip("timm is installed; the GPU test covers the timm backbone")


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["separate", "shared"])
def test_cuda_bf16_training_step_and_cached_inference(mode):
    torch.manual_seed(0)
    model = build_model(tiny_config(encoder_mode=mode)).cuda().train()
    x = torch.randn(4, 3, SIZE, SIZE, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(x, neutral=x.flip(0))
    out.pspi.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        ref = model.encode_reference(x[:1])
        assert torch.allclose(model(x, reference=ref).pspi,
                              model(x, neutral=x[:1].expand(4, -1, -1, -1)).pspi, atol=1e-4)


@pytest.mark.gpu
def test_timm_backbone_builds_and_predicts():
    pytest.importorskip("timm")
    model = build_model(preset="small", backbone_impl="timm", image_size=SIZE).cuda().eval()
    x = torch.randn(2, 3, SIZE, SIZE, device="cuda")
    with torch.no_grad():
        _check_output(model(x, neutral=x), 2, 384)
    assert any("lora_" in n for n, _ in model.encoder.named_parameters())


def test_bf16_weights_track_fp32_across_inputs(make_model, images):
    """bf16 must keep what tells inputs apart: its error is measured against the differences
    between the fp32 outputs of different inputs (a model that ignored its input, whose
    outputs would all be equal, fails here; a fixed tolerance on PSPI would not notice)."""
    model = make_model()
    x, n = images(8), images(8, seed=2)
    ref = model(x, neutral=n)
    half = copy.deepcopy(model).to(torch.bfloat16)
    got = half(x.bfloat16(), reference=half.encode_reference(n.bfloat16()))
    assert got.pspi.dtype == torch.bfloat16
    off_diagonal = ~torch.eye(8, dtype=torch.bool)
    for name in ("cls", "binary_logits"):
        want, have = getattr(ref, name), getattr(got, name).float()
        between = torch.cdist(want, want)[off_diagonal].min()
        error = (have - want).norm(dim=1).max()
        assert between > 1e-2, f"{name}: different inputs give the same output"
        assert error < 0.25 * between, (name, float(error), float(between))
    # PSPI itself is coarsely quantised in bf16 (steps of 1/32 near 8), so it is held to
    # following the fp32 predictions from input to input.
    assert ref.pspi.std() > 1e-2
    assert torch.corrcoef(torch.stack([ref.pspi, got.pspi.float()]))[0, 1] > 0.95


@pytest.mark.parametrize(("mode", "published"),
                         [("separate", False), ("shared", False), ("separate", True)])
def test_predictions_depend_on_the_neutral_reference(make_model, images, mode, published):
    model = make_model(encoder_mode=mode, published_forward=published)
    x, n1, n2 = images(4), images(4, seed=2), images(4, seed=3)
    a, b = model(x, neutral=n1), model(x, neutral=n2)
    again = model(x, neutral=n1)
    for name, value in a.to_dict().items():
        assert torch.equal(value, getattr(again, name)), name  # control: deterministic
    # Every sample's prediction moves when only its reference changes.
    assert ((a.cls - b.cls).abs().amax(dim=1) > 1e-2).all()
    assert ((a.pspi - b.pspi).abs() > 1e-5).all()
    assert ((a.binary_logits - b.binary_logits).abs().amax(dim=1) > 1e-4).all()
    # The same holds through cached reference tokens.
    cached = model(x, reference=model.encode_reference(n2))
    assert torch.allclose(cached.pspi, b.pspi) and not torch.allclose(cached.pspi, a.pspi)
