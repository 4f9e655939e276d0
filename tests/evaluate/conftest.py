"""Predictions tables built in memory for the evaluate tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pain3d.facs import AU_NAMES, pspi


def make_predictions(folds: int = 5, test_subjects: int = 2, train_subjects: int = 4,
                     frames: int = 30, seed: int = 0, oracle: bool = False,
                     aus: bool = True) -> pd.DataFrame:
    """A cross-validation's predictions: skewed PSPI (many zeros), noisy predictions."""
    rng = np.random.default_rng(seed)
    rows = []
    for fold in range(folds):
        for split, ns in (("train", train_subjects), ("test", test_subjects)):
            for s in range(ns):
                subject = f"{fold}{s}{'t' if split == 'test' else 'r'}"
                a = rng.integers(0, 4, (frames, 6)).astype(float)
                a[:, 5] = rng.integers(0, 2, frames)
                a[rng.random(frames) < 0.6] = 0
                true = pspi(a)
                pred = np.clip(0.8 * true + rng.normal(0, 1.0, frames) + 0.2, 0, 16)
                for i in range(frames):
                    r = {"fold": fold, "split": split, "subject": subject,
                         "pred": float(pred[i]), "true": float(true[i])}
                    if aus:
                        for j, n in enumerate(AU_NAMES):
                            r[f"pred_{n}"] = float(max(0.0, a[i, j] + rng.normal(0, 0.4)))
                            r[f"true_{n}"] = float(a[i, j])
                    rows.append(r)
                    if oracle and split == "test":
                        rows.append({**r, "reference": "oracle", "pred": r["pred"] * 0.9})
    df = pd.DataFrame(rows)
    if oracle:
        df["reference"] = df.get("reference").fillna("label_free")
    return df


@pytest.fixture
def predictions() -> pd.DataFrame:
    return make_predictions()


@pytest.fixture
def predictions_factory():
    """:func:`make_predictions`, for tests that need variants."""
    return make_predictions
