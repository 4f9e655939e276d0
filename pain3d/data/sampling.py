"""Sample weights and weighted samplers over PSPI labels.

Schemes:

- ``uniform``: every sample weight 1;
- ``published``: frames with PSPI >= 1 weighted ``pain_weight`` (2, as published for UNBC);
- ``inverse-frequency``: each PSPI level (rounded to an integer 0..16) gets total weight
  1 / (number of levels present), spread evenly over its samples, so levels are drawn
  equally often in expectation.

Weights are normalised to mean 1.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Scheme = Literal["uniform", "published", "inverse-frequency"]
SCHEMES: tuple[str, ...] = ("uniform", "published", "inverse-frequency")


def sample_weights(pspi: np.ndarray, scheme: Scheme = "published", pain_weight: float = 2.0
                   ) -> np.ndarray:
    """Per-sample weights, (N,) float64 with mean 1.

    Args:
        pspi: (N,) PSPI labels 0..16.
        scheme: see the module docstring.
        pain_weight: weight of PSPI >= 1 samples under ``published``.
    """
    p = np.asarray(pspi, dtype=np.float64).ravel()
    if scheme not in SCHEMES:
        raise ValueError(f"sampling scheme {scheme!r} is not one of {SCHEMES}")
    if len(p) == 0:
        return np.zeros(0)
    if not np.isfinite(p).all():
        raise ValueError("PSPI labels contain NaN or infinite values")
    if scheme == "uniform":
        w = np.ones_like(p)
    elif scheme == "published":
        if pain_weight <= 0:
            raise ValueError(f"pain_weight must be > 0, got {pain_weight}")
        w = np.where(p >= 1, pain_weight, 1.0)
    else:
        levels = np.clip(np.rint(p), 0, 16).astype(np.int64)
        counts = np.bincount(levels, minlength=17)
        w = 1.0 / counts[levels]
    return w * (len(w) / w.sum())


def weighted_sampler(weights: np.ndarray, num_samples: int | None = None, seed: int = 0):
    """A ``torch.utils.data.WeightedRandomSampler`` (with replacement) seeded by ``seed``.

    ``num_samples`` defaults to ``len(weights)`` (one epoch of the dataset's size).
    """
    import torch
    from torch.utils.data import WeightedRandomSampler

    g = torch.Generator()
    g.manual_seed(int(seed))
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    return WeightedRandomSampler(w, int(num_samples or len(w)), replacement=True, generator=g)
