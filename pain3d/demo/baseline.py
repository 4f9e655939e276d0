"""Transparent reference points for the demo's numbers: a pixel-difference ridge and a
constant.

Ridge: features are the absolute difference between the image and its neutral reference
(grey, average-pooled to ``grid x grid`` cells), the model ridge regression (regularisation
chosen by leave-one-out on the training identities); its predicted PSPI (clipped to 0..16) is
also its score for ranking frames (AUROC) and, at a threshold calibrated on its training
predictions, its decision (F1), exactly as ViTPain is scored. Constant: the training mean
for every frame (AUROC 0.5, Pearson r undefined). Both are scored on the same held-out test
identities and samples as ViTPain (pain images and neutral sessions alike). The ridge shows
how much pain signal the images carry for a method told where to look (the paired neutral
of the same view); with ``reference_variation`` that neutral is a separate capture, so
pixel differences carry pose and light changes too, as they would in a clinic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

REPORTED = ("mae", "rmse", "pcc", "icc", "auroc_1", "f1_1", "threshold_1", "auroc_2", "f1_2",
            "auroc_3", "f1_3", "n_test", "n_train")
"""Keys of each baseline's metrics (those of :func:`pain3d.evaluate.metrics.fold_metrics`)."""


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
                              seed: int = 0, split: str = "test"
                              ) -> dict[str, dict[str, float]]:
    """Fit on the ``train`` split, score on ``split``.

    Args:
        data_root: synthetic dataset folder (with train/test identity splits).
        size: image side the samples are read at.
        grid: pooling cells per side.
        seed: reference sampling seed.
        split: the scored split (``test``; ``val`` to choose a recipe without the test set).

    Returns:
        ``{"ridge": metrics, "constant": metrics}``, each with the keys of :data:`REPORTED`
        (AUROC and F1 ``NaN`` when the test split has a single class).
    """
    from sklearn.linear_model import RidgeCV

    from pain3d.data import DataConfig, open_data
    from pain3d.evaluate.metrics import fold_metrics

    data = open_data(DataConfig(root=str(data_root), kind="synthetic"))
    sets = {}
    for part in ("train", split):
        rows = data.rows(split=part)
        sets[part] = _features(data.dataset(rows, size, "same-identity", seed=seed,
                                            deterministic=True), grid)
    (x_train, y_train), (x_test, y_test) = sets["train"], sets[split]
    model = RidgeCV(alphas=np.logspace(-3, 4, 15)).fit(x_train, y_train)
    predict = {"ridge": lambda x: np.clip(model.predict(x), 0, 16),
               "constant": lambda x: np.full(len(x), float(y_train.mean()))}
    out = {}
    for name, f in predict.items():
        m = fold_metrics(f(x_test), y_test, f(x_train), y_train)
        out[name] = {k: float(m[k]) for k in REPORTED}
    return out
