"""A transparent reference point for the demo's numbers: ridge regression on pixel differences.

Features: the absolute difference between the pain image and its paired neutral render
(grey, average-pooled to ``grid x grid`` cells); model: ridge regression (regularisation
chosen by leave-one-out on the training identities); scored on the same held-out test
identities as ViTPain. It shows how much pain signal the synthetic images carry for a
method that is told where to look (the paired neutral of the same view), which puts the
tiny, briefly trained ViTPain's numbers in context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _features(ds: Any, grid: int) -> tuple[np.ndarray, np.ndarray]:
    import torch
    import torch.nn.functional as F

    feats, ys = [], []
    for i in range(len(ds)):
        s = ds[i]
        neutral = s["neutral"] if s["neutral"].ndim == 3 else s["neutral"][0]
        diff = (s["image"] - neutral).abs().mean(dim=0, keepdim=True)[None]
        feats.append(F.adaptive_avg_pool2d(diff, grid).flatten().numpy())
        ys.append(float(torch.as_tensor(s["pspi"])))
    return np.stack(feats), np.asarray(ys)


def pixel_difference_baseline(data_root: str | Path, size: int = 112, grid: int = 16,
                              seed: int = 0) -> dict[str, float]:
    """Fit on the ``train`` split, score on ``test``: MAE and Pearson r of PSPI.

    Args:
        data_root: synthetic dataset folder (with train/test identity splits).
        size: image side the samples are read at.
        grid: pooling cells per side.
        seed: reference sampling seed.
    """
    from sklearn.linear_model import RidgeCV

    from pain3d.data import DataConfig, open_data
    from pain3d.evaluate.metrics import mae, pcc

    data = open_data(DataConfig(root=str(data_root), kind="synthetic"))
    sets = {}
    for split in ("train", "test"):
        rows = data.rows(split=split)
        sets[split] = _features(data.dataset(rows, size, "same-identity", seed=seed,
                                             deterministic=True), grid)
    model = RidgeCV(alphas=np.logspace(-3, 4, 15)).fit(*sets["train"])
    x, y = sets["test"]
    pred = np.clip(model.predict(x), 0, 16)
    return {"mae": float(mae(pred, y)), "pcc": float(pcc(pred, y)), "n_test": int(len(y)),
            "mae_constant": float(mae(np.full_like(y, sets["train"][1].mean()), y))}
