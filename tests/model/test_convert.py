"""Import of published ViTPain checkpoints, checked against an independent re-implementation
of the published forward pass (timm DINOv3 blocks called without RoPE, peft LoRA, heads)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pain3d.cli import main as cli_main
from pain3d.model import load_model
from pain3d.model.convert import import_published, published_config

D, HEADS, LAYERS, MLP, REG, R, ALPHA, SIZE = 64, 4, 2, 128, 4, 4, 8.0, 48
SCALING = ALPHA / R
ENCODERS = ("vit_model", "neutral_encoder")


def _fake_published_state(bias: str = "none", seed: int = 0) -> dict[str, torch.Tensor]:
    """A published-style state dict with random weights (LoRA B non-zero, as after training)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s, scale=0.1: scale * torch.randn(*s, generator=g)  # noqa: E731
    sd: dict[str, torch.Tensor] = {}
    for enc in ENCODERS:
        p = f"{enc}.base_model.model."
        sd[p + "cls_token"] = r(1, 1, D, scale=1.0)
        sd[p + "reg_token"] = r(1, REG, D, scale=1.0)
        sd[p + "patch_embed.proj.base_layer.weight"] = r(D, 3, 16, 16)
        sd[p + "patch_embed.proj.base_layer.bias"] = r(D)
        sd[p + "patch_embed.proj.lora_A.default.weight"] = r(R, 3, 16, 16)
        sd[p + "patch_embed.proj.lora_B.default.weight"] = r(D, R, 1, 1)
        sd[p + "rope.periods"] = r(D // HEADS // 4)
        for i in range(LAYERS):
            b = f"{p}blocks.{i}."
            for n in ("norm1", "norm2"):
                sd[b + f"{n}.weight"], sd[b + f"{n}.bias"] = 1 + r(D), r(D)
            sd[b + "attn.qkv.base_layer.weight"] = r(3 * D, D, scale=0.2)
            if bias == "qv":
                sd[b + "attn.q_bias"], sd[b + "attn.v_bias"] = r(D), r(D)
            sd[b + "attn.qkv.lora_A.default.weight"] = r(R, D)
            sd[b + "attn.qkv.lora_B.default.weight"] = r(3 * D, R)
            sd[b + "attn.proj.base_layer.weight"] = r(D, D, scale=0.2)
            sd[b + "attn.proj.base_layer.bias"] = r(D)
            sd[b + "attn.proj.lora_A.default.weight"] = r(R, D)
            sd[b + "attn.proj.lora_B.default.weight"] = r(D, R)
            sd[b + "gamma_1"], sd[b + "gamma_2"] = 0.5 + r(D), 0.5 + r(D)
            sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"] = r(MLP, D, scale=0.2), r(MLP)
            sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"] = r(D, MLP, scale=0.2), r(D)
        sd[p + "norm.weight"], sd[p + "norm.bias"] = 1 + r(D), r(D)
    sd["neutral_cross_attn.in_proj_weight"] = r(3 * D, D, scale=0.2)
    sd["neutral_cross_attn.in_proj_bias"] = r(3 * D)
    sd["neutral_cross_attn.out_proj.weight"] = r(D, D, scale=0.2)
    sd["neutral_cross_attn.out_proj.bias"] = r(D)
    sd["neutral_norm.weight"], sd["neutral_norm.bias"] = 1 + r(D), r(D)
    for module, prefix in ((_published_pspi_head(), "pspi_head."),
                           (_published_au_shared(), "au_shared_features.")):
        for k, v in module.state_dict().items():
            sd[prefix + k] = r(*v.shape, scale=0.3) + (1 if k.endswith("0.weight") else 0)
    for t in ("1", "2", "3"):
        sd[f"pspi_binary_heads.{t}.0.weight"] = 1 + r(D)
        sd[f"pspi_binary_heads.{t}.0.bias"] = r(D)
        sd[f"pspi_binary_heads.{t}.2.weight"] = r(1, D)
        sd[f"pspi_binary_heads.{t}.2.bias"] = r(1)
    sd["au_queries"] = r(6, D, scale=1.0)
    sd["au_head.weight"], sd["au_head.bias"] = r(1, 32, scale=0.3), r(1) + 0.5
    return sd


def _published_pspi_head() -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(D), nn.Dropout(), nn.Linear(D, 48), nn.GELU(), nn.Dropout(),
                         nn.Linear(48, 24), nn.GELU(), nn.Dropout(), nn.Linear(24, 1))


def _published_au_shared() -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(D), nn.Dropout(), nn.Linear(D, 32), nn.GELU(), nn.Dropout())


def _lin(sd, key, x, bias=None):
    w = sd.get(key + ".base_layer.weight", sd.get(key + ".weight"))
    b = bias if bias is not None else sd.get(key + ".base_layer.bias", sd.get(key + ".bias"))
    y = F.linear(x, w, b)
    if key + ".lora_A.default.weight" in sd:
        a, bb = sd[key + ".lora_A.default.weight"], sd[key + ".lora_B.default.weight"]
        y = y + SCALING * F.linear(F.linear(x, a), bb)
    return y


def _published_tokens(sd, enc: str, x: torch.Tensor) -> torch.Tensor:
    """timm DINOv3 as the published _extract_tokens ran it: no RoPE, no registers."""
    p = f"{enc}.base_model.model."
    pe = p + "patch_embed.proj"
    t = F.conv2d(x, sd[pe + ".base_layer.weight"], sd[pe + ".base_layer.bias"], stride=16)
    t = t + SCALING * F.conv2d(F.conv2d(x, sd[pe + ".lora_A.default.weight"], stride=16),
                               sd[pe + ".lora_B.default.weight"])
    t = t.flatten(2).transpose(1, 2)
    h = torch.cat([sd[p + "cls_token"].expand(len(x), -1, -1), t], dim=1)
    for i in range(LAYERS):
        b = f"{p}blocks.{i}."
        y = F.layer_norm(h, (D,), sd[b + "norm1.weight"], sd[b + "norm1.bias"], 1e-5)
        qkv_bias = (torch.cat([sd[b + "attn.q_bias"], torch.zeros(D), sd[b + "attn.v_bias"]])
                    if b + "attn.q_bias" in sd else None)
        qkv = _lin(sd, b + "attn.qkv", y, qkv_bias)
        q, k, v = qkv.view(len(x), -1, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(len(x), -1, D)
        h = h + sd[b + "gamma_1"] * _lin(sd, b + "attn.proj", a)
        y = F.layer_norm(h, (D,), sd[b + "norm2.weight"], sd[b + "norm2.bias"], 1e-5)
        y = _lin(sd, b + "mlp.fc2", F.gelu(_lin(sd, b + "mlp.fc1", y)))
        h = h + sd[b + "gamma_2"] * y
    return F.layer_norm(h, (D,), sd[p + "norm.weight"], sd[p + "norm.bias"], 1e-5)


def _published_forward(sd, image, neutral=None):
    x = _published_tokens(sd, "vit_model", image)
    if neutral is not None:
        ref = _published_tokens(sd, "neutral_encoder", neutral)
        attn = nn.MultiheadAttention(D, 8, batch_first=True)
        attn.load_state_dict({k.split(".", 1)[1]: v for k, v in sd.items()
                              if k.startswith("neutral_cross_attn.")})
        out, _ = attn.eval()(x, ref, ref)
        x = F.layer_norm(x + out, (D,), sd["neutral_norm.weight"], sd["neutral_norm.bias"])
    cls, patches = x[:, 0], x[:, 1:]
    head = _published_pspi_head().eval()
    head.load_state_dict({k[len("pspi_head."):]: v for k, v in sd.items()
                          if k.startswith("pspi_head.")})
    shared = _published_au_shared().eval()
    shared.load_state_dict({k[len("au_shared_features."):]: v for k, v in sd.items()
                            if k.startswith("au_shared_features.")})
    binary = torch.stack([
        F.linear(F.layer_norm(cls, (D,), sd[f"pspi_binary_heads.{t}.0.weight"],
                              sd[f"pspi_binary_heads.{t}.0.bias"]),
                 sd[f"pspi_binary_heads.{t}.2.weight"], sd[f"pspi_binary_heads.{t}.2.bias"])[:, 0]
        for t in ("1", "2", "3")], dim=-1)
    q = sd["au_queries"].expand(len(x), -1, -1)
    w = torch.softmax(q @ patches.transpose(1, 2) / D**0.5, dim=-1)
    au = F.relu(F.linear(shared(w @ patches), sd["au_head.weight"], sd["au_head.bias"])[..., 0])
    return {"pspi_unit": torch.sigmoid(head(cls)[:, 0]), "au": au, "binary_logits": binary,
            "cls": cls}


def _images(seed: int) -> torch.Tensor:
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bias", ["none", "qv"])
def test_imported_weights_reproduce_the_published_forward_pass(bias):
    sd = _fake_published_state(bias)
    model = import_published(sd, {"lora_alpha": ALPHA, "dropout_rate": 0.5},
                             published_forward=True, num_heads=HEADS)
    x, n = _images(1), _images(2)
    expected = _published_forward(sd, x, n)
    with torch.no_grad():
        got = model(x, neutral=n)
    for name, value in expected.items():
        assert torch.allclose(getattr(got, name), value, atol=1e-4), name
    assert (got.au > 0).any() and got.pspi_unit.std() > 0  # not a degenerate comparison


def test_published_single_image_model_imports_without_a_reference():
    sd = {k: v for k, v in _fake_published_state().items()
          if not k.startswith(("neutral_encoder.", "neutral_cross_attn.", "neutral_norm."))}
    model = import_published(sd, {"lora_alpha": ALPHA}, num_heads=HEADS)
    assert model.config.reference == "none" and model.cross_attention is None
    x = _images(1)
    with torch.no_grad():
        got = model(x)
    for name, value in _published_forward(sd, x).items():
        assert torch.allclose(getattr(got, name), value, atol=1e-4), name


def test_backbone_without_register_tokens_imports():
    sd = {k: v for k, v in _fake_published_state().items() if not k.endswith("reg_token")}
    model = import_published(sd, {"lora_alpha": ALPHA}, num_heads=HEADS)
    assert model.encoder.num_register_tokens == 0
    x, n = _images(1), _images(2)
    with torch.no_grad():
        got = model(x, neutral=n).pspi_unit
    assert torch.allclose(got, _published_forward(sd, x, n)["pspi_unit"], atol=1e-4)


def test_sizes_are_read_from_the_weights():
    cfg = published_config(_fake_published_state(), {"model_name":
                                                     "timm/vit_small_patch16_dinov3.lvd1689m"})
    o = cfg.backbone_overrides
    assert (o["hidden_size"], o["num_hidden_layers"], o["intermediate_size"],
            o["num_register_tokens"], o["num_attention_heads"]) == (D, LAYERS, MLP, REG, 6)
    assert (cfg.lora.rank, cfg.lora.alpha) == (R, 2.0 * R)
    assert cfg.pspi_hidden == (48, 24) and cfg.au_hidden == 32
    assert cfg.binary_thresholds == (1.0, 2.0, 3.0) and cfg.reference == "cross_attention"
    assert cfg.mean == (0.485, 0.456, 0.406)


def test_without_published_forward_rope_and_registers_change_the_predictions():
    sd = _fake_published_state()
    x, n = _images(1), _images(2)
    full = import_published(sd, {"lora_alpha": ALPHA}, published_forward=False, num_heads=HEADS)
    with torch.no_grad():
        got = full(x, neutral=n).pspi_unit
    assert not torch.allclose(got, _published_forward(sd, x, n)["pspi_unit"], atol=1e-4)


def test_unknown_backbone_keys_are_refused():
    sd = _fake_published_state()
    sd["vit_model.base_model.model.pos_embed"] = torch.zeros(1, 10, D)
    with pytest.raises(ValueError, match="not supported"):
        import_published(sd, num_heads=HEADS)


def test_convert_checkpoint_cli_writes_a_loadable_checkpoint(tmp_path):
    sd = _fake_published_state()
    ckpt = tmp_path / "published.ckpt"
    torch.save({"state_dict": sd, "hyper_parameters": {"lora_alpha": ALPHA, "lr": 1e-4},
                "epoch": 141}, ckpt)
    out = tmp_path / "converted"
    assert cli_main(["convert-checkpoint", str(ckpt), "--out", str(out), "--published-forward",
                     "--num-heads", str(HEADS)]) == 0
    model = load_model(out)
    x, n = _images(1), _images(2)
    with torch.no_grad():
        got = model(x, neutral=n).pspi_unit
    assert torch.allclose(got, _published_forward(sd, x, n)["pspi_unit"], atol=1e-4)
    meta = json.loads((out / "config.json").read_text())
    assert meta["model"]["published_forward"] is True
    assert meta["extra"]["published_hparams"]["lora_alpha"] == ALPHA
    assert (out / "convert.yaml").is_file()
