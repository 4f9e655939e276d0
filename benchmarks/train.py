"""Training, prediction and evaluation throughput of pain3d.train / pain3d.evaluate.

    .venv/bin/python benchmarks/train.py            # CPU: tiny and small presets
    .venv/bin/python benchmarks/train.py --gpu      # adds small/base in bf16 on CUDA

Backbones are randomly initialised (no weights are downloaded) and samples are random
tensors held in memory, so the numbers measure the model and the training loop, not the
disk. Numbers on a shared machine are pessimistic.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch


class RandomSamples(torch.utils.data.Dataset):
    """In-memory training samples of one size (images in [0, 1], random labels)."""

    def __init__(self, n: int, size: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.image = torch.rand(n, 3, size, size, generator=g)
        self.neutral = torch.rand(n, 3, size, size, generator=g)
        self.au = torch.randint(0, 4, (n, 6), generator=g).float()
        self.au[:, 5] = self.au[:, 5].clamp(max=1)
        from pain3d.facs import pspi

        self.pspi = pspi(self.au)

    def __len__(self) -> int:
        return len(self.image)

    def labels(self) -> dict[str, np.ndarray]:
        return {"pspi": self.pspi.numpy()}

    def __getitem__(self, i: int) -> dict:
        return {"image": self.image[i], "neutral": self.neutral[i], "au": self.au[i],
                "pspi": self.pspi[i], "subject": f"s{i % 10}", "meta": {"path": str(i)}}


def bench_fit(preset: str, size: int, n: int, batch: int, device: str, precision: str,
              epochs: int = 2) -> dict[str, float]:
    from pain3d.model import LossWeights, ViTPainConfig, build_model
    from pain3d.train.config import OptimConfig, TrainerConfig
    from pain3d.train.runner import fit_model, predict_table

    torch.manual_seed(0)
    model = build_model(ViTPainConfig(preset=preset, image_size=size))
    data = RandomSamples(n, size)
    tc = TrainerConfig(epochs=epochs, batch_size=batch, eval_batch_size=batch * 2,
                       precision=precision, accelerator="gpu" if device == "cuda" else "cpu",
                       devices="1", num_workers=0, augment="synthetic", tensorboard=False,
                       csv=False, checkpoint_every_n_steps=10_000)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fit_model(model, data, None, tmp, tc, OptimConfig(), LossWeights(), resume=False)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        predict_table(model, data, batch_size=batch * 2, device=device)
        pred_s = time.perf_counter() - t0
    steps = epochs * (n // batch)
    return {"train samples/s": steps * batch / fit_s, "predict samples/s": n / pred_s,
            "fit s": fit_s}


def bench_evaluate(frames: int = 48_398) -> dict[str, float]:
    import pandas as pd

    from pain3d.evaluate.report import write_report

    rng = np.random.default_rng(0)
    true = np.where(rng.random(frames) < 0.83, 0, rng.integers(1, 12, frames)).astype(float)
    pred = np.clip(0.6 * true + rng.normal(0, 1.2, frames), 0, 16)
    fold = rng.integers(0, 5, frames)
    test = pd.DataFrame({"fold": fold, "split": "test", "subject": [f"s{i % 25}" for i in
                         range(frames)], "pred": pred, "true": true})
    train = pd.concat([test.assign(fold=k, split="train") for k in range(5)])
    df = pd.concat([test, train], ignore_index=True)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_report(df, tmp, plots=False)
        numbers = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_report(df, tmp, plots=True)
        full = time.perf_counter() - t0
    return {"rows": float(len(df)), "score s": numbers, "report+plots s": full}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="store_true", help="also run CUDA presets")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"CUDA {'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}")
    print("(shared machines give pessimistic numbers)\n")
    e = bench_evaluate()
    print(f"evaluate: {e['rows']:.0f} prediction rows (UNBC-sized 5-fold CV): scoring "
          f"{e['score s']:.2f} s, report with plots {e['report+plots s']:.2f} s\n")
    runs = [("tiny", 64, 256, 16, "cpu", "32"), ("small", 224, 32, 8, "cpu", "32")]
    if args.gpu and torch.cuda.is_available():
        runs += [("small", 224, 2048, 48, "cuda", "bf16-mixed"),
                 ("base", 224, 2048, 48, "cuda", "bf16-mixed")]
    print(f"{'preset':7s} {'size':>4s} {'device':6s} {'precision':10s} {'batch':>5s} "
          f"{'train/s':>9s} {'predict/s':>10s}")
    for preset, size, n, batch, dev, prec in runs:
        r = bench_fit(preset, size, n, batch, dev, prec)
        print(f"{preset:7s} {size:4d} {dev:6s} {prec:10s} {batch:5d} "
              f"{r['train samples/s']:9.1f} {r['predict samples/s']:10.1f}")


if __name__ == "__main__":
    main()
