"""The Lightning module's optimiser recipe and the trainer settings it is run with."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pain3d.model.loss import LossWeights
from pain3d.train.config import OptimConfig, TrainerConfig
from pain3d.train.module import PainModule
from pain3d.train.runner import _devices, resolve_precision


@pytest.fixture(scope="module")
def tiny_model():
    from pain3d.model import ViTPainConfig, build_model

    torch.manual_seed(0)
    return build_model(ViTPainConfig(preset="tiny", image_size=32, pspi_hidden=(16,),
                                     au_hidden=16, cross_attn_heads=2))


def test_every_trainable_parameter_is_optimised_with_its_group_rate(tiny_model):
    module = PainModule(tiny_model, OptimConfig(lr_heads=1e-3, lr_lora=1e-4), LossWeights())
    opt = module.configure_optimizers()["optimizer"]
    in_opt = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    trainable = [(n, p) for n, p in tiny_model.named_parameters() if p.requires_grad]
    assert {id(p) for _, p in trainable} == set(in_opt)  # AU queries included
    for n, p in trainable:
        assert in_opt[id(p)] == (1e-4 if "lora_" in n else 1e-3), n
    assert all(g["weight_decay"] == 0.1 for g in opt.param_groups)


def test_cosine_schedule_runs_per_epoch_from_the_base_rate_to_min_lr(tiny_model):
    epochs = 10
    module = PainModule(tiny_model, OptimConfig(lr_heads=1e-3, lr_lora=1e-4, min_lr=1e-6),
                        LossWeights(), epochs=epochs)
    out = module.configure_optimizers()
    opt, sched = out["optimizer"], out["lr_scheduler"]["scheduler"]
    assert out["lr_scheduler"]["interval"] == "epoch"
    seen = []
    for _ in range(epochs + 1):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    assert seen[0] == pytest.approx([1e-3, 1e-4])
    assert seen[epochs] == pytest.approx([1e-6, 1e-6])
    mid = 1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert seen[5][0] == pytest.approx(mid)
    assert all(a[0] >= b[0] for a, b in zip(seen, seen[1:], strict=False))


def test_trainer_settings_resolve_for_cpu_and_multi_gpu():
    assert resolve_precision("32") == "32-true"
    if not torch.cuda.is_available():
        assert resolve_precision("auto") == "32-true"
    assert resolve_precision("bf16-mixed") == "bf16-mixed"
    assert _devices("auto") == "auto" and _devices("4") == 4 and _devices("0,1") == [0, 1]
    with pytest.raises(ValueError, match="pain_weight"):
        TrainerConfig(pain_weight=0)


def test_tiny_cpu_yaml_is_the_tiny_preset_and_the_demo_builds_on_it(tmp_path):
    from pain3d.config import load_config, to_dict
    from pain3d.demo import DemoConfig
    from pain3d.demo.run import train_config
    from pain3d.train.config import TrainConfig
    from pain3d.train.presets import tiny_cpu_config

    root = Path(__file__).resolve().parents[2]
    preset = to_dict(tiny_cpu_config("data", None))
    yaml_cfg = to_dict(load_config(TrainConfig, root / "configs" / "tiny_cpu.yaml",
                                   {"data.root": "data"}))
    assert yaml_cfg == preset
    assert preset["model"]["train_backbone"] and preset["data"]["include_neutral"]
    demo = to_dict(train_config(DemoConfig(), Path("data"), tmp_path))
    assert demo["optim"].pop("min_lr") == pytest.approx(preset["optim"].pop("min_lr"))
    # the demo changes only its name, folder, data kind and fresh start (its seed is 42 too)
    changed = {f"{s}.{k}" if isinstance(v, dict) else s
               for s, v in demo.items()
               for k in (v if isinstance(v, dict) else [None])
               if (preset[s].get(k) if isinstance(v, dict) else preset[s]) != (
                   v.get(k) if isinstance(v, dict) else v)}
    assert changed == {"name", "run_dir", "resume", "data.kind"}


def test_augmented_calibration_predictions_resample_and_augment_deterministically(
        synthetic_root, fast_config):
    from pain3d.data import DataConfig, open_data
    from pain3d.model import build_model
    from pain3d.train.runner import predict_augmented, predict_table

    cfg = fast_config()
    torch.manual_seed(0)
    model = build_model(cfg.model)
    data = open_data(DataConfig(root=str(synthetic_root)))
    ds = data.dataset(data.rows(split="train", include_neutral=True), 32, "same-identity")
    pain = ds.labels()["pspi"] >= 1
    plain = predict_table(model, ds, 8)
    tc = dataclasses.replace(cfg.trainer, augment="none", pain_weight=1000.0)
    drawn = predict_augmented(model, ds, tc)
    assert len(drawn) == len(ds)  # one epoch: as many draws as samples
    assert (drawn.true >= 1).mean() > 0.95 > pain.mean()  # pain frames drawn far more often
    # without augmentation a drawn frame gets exactly its un-augmented prediction
    same = plain.set_index("path").loc[drawn.path, "pred"].to_numpy()
    np.testing.assert_allclose(drawn.pred.to_numpy(), same, rtol=1e-5, atol=1e-5)
    aug = dataclasses.replace(tc, augment="unbc")
    a, b = predict_augmented(model, ds, aug), predict_augmented(model, ds, aug)
    pd.testing.assert_frame_equal(a, b)  # deterministic for a seed
    assert not np.allclose(a.pred.to_numpy(), drawn.pred.to_numpy())  # augmented
