"""Adapters and training behaviour: what moves, what stays, and that the model can learn."""

from __future__ import annotations

import copy

import torch
from model_fixtures import tiny_config

from pain3d.model import LoraAdapterConfig, LossWeights, build_model, vitpain_loss
from pain3d.model.backbone import build_backbone
from pain3d.model.lora import apply_lora


def test_fresh_lora_adapter_leaves_backbone_outputs_unchanged(images):
    torch.manual_seed(0)
    backbone, _ = build_backbone(tiny_config())
    backbone.eval()
    x = images(2)
    before = backbone(x)
    adapted = apply_lora(copy.deepcopy(backbone),
                         LoraAdapterConfig(rank=4, alpha=8.0, dropout=0.0))
    assert torch.equal(adapted.eval()(x), before)
    names = [n for n, p in adapted.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
        assert any(f"attention.{proj}.lora_A" in n for n in names), proj


def test_lora_rank_zero_freezes_the_backbone_without_adapters(make_model):
    model = make_model(lora=LoraAdapterConfig(rank=0))
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert model.parameter_groups()["lora"] == []


def test_parameter_groups_hold_every_trainable_parameter_once(make_model):
    model = make_model()
    groups = model.parameter_groups()
    grouped = [id(p) for g in groups.values() for p in g]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(grouped) == sorted(trainable) and len(set(grouped)) == len(grouped)
    assert any(p is model.au_head.queries for p in groups["heads"])


def test_optimiser_steps_change_exactly_lora_cross_attention_heads_and_au_queries(
    make_model, images
):
    model = make_model().train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    groups = model.parameter_groups()
    opt = torch.optim.AdamW([{"params": groups["lora"], "lr": 1e-3},
                             {"params": groups["heads"], "lr": 1e-3}], weight_decay=0.0)
    x, n = images(4), images(4, seed=2)
    au, pspi = torch.rand(4, 6) * 3, torch.tensor([0.0, 2.0, 5.0, 9.0])
    for _ in range(3):  # lora_A only gets a gradient once lora_B has left zero
        opt.zero_grad()
        loss, _ = vitpain_loss(model(x, neutral=n), au, pspi)
        loss.backward()
        opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    assert changed == expected
    prefixes = {n.split(".")[0] for n in changed}
    assert prefixes == {"encoder", "reference_encoder", "cross_attention", "pspi_head",
                        "binary_heads", "au_head"}
    assert "au_head.queries" in changed
    assert all("lora_" in n for n in changed if n.startswith(("encoder", "reference_encoder")))


def test_tiny_model_overfits_a_batch_of_16_pairs(images):
    torch.manual_seed(0)
    # 32 px (2 x 2 patches) keeps this under a few seconds; the point is the whole pipeline.
    model = build_model(tiny_config(head_dropout=0.0, encoder_mode="shared", image_size=32))
    model.train()
    x, n = images(16)[..., :32, :32], images(16, seed=2)[..., :32, :32]
    g = torch.Generator().manual_seed(3)
    au = torch.randint(0, 4, (16, 6), generator=g).float()
    au[:, 5] = au[:, 5].clamp(max=1)
    pspi = au[:, 0] + au[:, 1:3].amax(1) + au[:, 3:5].amax(1) + au[:, 5]
    groups = model.parameter_groups()
    opt = torch.optim.AdamW([{"params": groups["lora"], "lr": 5e-3},
                             {"params": groups["heads"], "lr": 5e-3}], weight_decay=0.0)
    weights = LossWeights()
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss, _ = vitpain_loss(model(x, neutral=n), au, pspi, weights)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    model.eval()
    with torch.no_grad():
        out = model(x, neutral=n)
    assert (out.pspi - pspi).abs().mean() < 0.5, (out.pspi - pspi).abs().mean()
    assert (out.au - au).abs().mean() < 0.25
    assert ((out.binary_logits[:, 0] > 0) == (pspi >= 1)).all()
    assert vitpain_loss(out, au, pspi)[0].item() < 0.05 * first


def test_train_backbone_optimises_every_backbone_weight_in_the_lora_group(make_model, images):
    model = make_model(lora=LoraAdapterConfig(rank=0), train_backbone=True).train()
    groups = model.parameter_groups()
    backbone = {n: p for n, p in model.named_parameters() if n.startswith("encoder.")}
    # every backbone weight trains but the masked-image-modelling token no forward uses
    assert backbone and all(p.requires_grad != n.endswith("mask_token")
                            for n, p in backbone.items())
    trainable = [p for p in backbone.values() if p.requires_grad]
    assert {id(p) for p in trainable} <= {id(p) for p in groups["lora"]}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for g in groups.values() for p in g], lr=1e-3, weight_decay=0.0)
    loss, _ = vitpain_loss(model(images(4), neutral=images(4, seed=2)), torch.rand(4, 6) * 3,
                           torch.tensor([0.0, 2.0, 5.0, 9.0]))
    loss.backward()
    # DDP's condition: every trainable parameter receives a gradient
    assert not [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    opt.step()
    assert not torch.equal(model.encoder.model.embeddings.patch_embeddings.weight,
                           before["encoder.model.embeddings.patch_embeddings.weight"])
