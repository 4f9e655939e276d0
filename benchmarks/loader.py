"""Training loader benchmark: pairs/s of face-cropped (pain image, neutral) pairs on N cores.

    .venv/bin/python benchmarks/loader.py                  # 8 generated identities, 2 workers
    .venv/bin/python benchmarks/loader.py --quick          # < 1 min (make bench)
    .venv/bin/python benchmarks/loader.py --quick --json out.json
    .venv/bin/python benchmarks/loader.py --data DIR       # a dataset of `pain3d generate`
    .venv/bin/python benchmarks/loader.py --profile        # where the CPU time of a pair goes

The data are real renders of ``pain3d generate`` (512 px JPEGs with face keypoints, so every
sample is a face crop at 224 px, as training reads them), generated into a temporary folder
unless ``--data`` is given. Samples: every pain image with a same-identity neutral reference.

Loader cases (``pain3d.data.make_loader``, batch 32, ``--workers`` persistent workers):

- ``to device``: uint8 batches, as training hands them to the GPU, which augments and
  normalises them (``GpuAugment``); this is the issue-16 target (>= 300 pairs/s on 2 cores);
- ``float32 batches``: the same with float samples (what every batch was before);
- ``+ augment on CPU, main``: no GPU: ``GpuAugment`` runs on the CPU in the main process;
- ``+ augment on CPU, workers``: no GPU: the augmentation runs in the workers
  (``AugmentCollate``).

Each case reports wall pairs/s and CPU ms per pair summed over the main process and its
workers (psutil), and the pairs/s that CPU cost allows on ``--workers`` idle cores. Wall rates
on a shared machine mostly measure the other jobs; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_PAIRS_S = 300.0


def generated_dataset(out: Path, identities: int, size: int = 512) -> Path:
    """A dataset of ``identities`` x 33 renders written by ``pain3d generate``."""
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.generate import RunOptions, generate

    generate(GenerateConfig(identities=identities, size=size),
             RunOptions(out=out, workers=min(2, os.cpu_count() or 1), progress=False))
    return out


def pain_pairs(root: Path, size: int = 224, pixels: str = "float32") -> Any:
    """Every pain image of ``root`` with a same-identity neutral, face-cropped at ``size``."""
    from pain3d.data import DataConfig, open_data

    data = open_data(DataConfig(root=str(root), cache_dir=str(root / ".bench_cache")))
    ds = data.dataset(data.rows(), size, "same-identity", deterministic=True)
    return ds.with_pixels(pixels)


class CpuClock:
    """CPU seconds of this process and its live children (the DataLoader workers)."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()

    def __call__(self) -> float:
        procs = [self.me, *self.me.children(recursive=True)]
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except Exception:  # noqa: BLE001 - a worker may exit between listing and reading
                pass
        return total


def run_loader(ds: Any, workers: int, batches: int, batch_size: int, augment: str) -> dict:
    """Wall pairs/s and CPU ms per pair of one loader case (after two warm-up batches).

    Args:
        augment: ``none`` (to device), ``main`` (GpuAugment on the CPU in this process) or
            ``workers`` (AugmentCollate).
    """
    import torch

    from pain3d.data import GpuAugment, make_loader
    from pain3d.data.augment import AugmentCollate

    extra = {}
    if augment == "workers":
        extra["collate"] = AugmentCollate(GpuAugment("synthetic", seed=0, normalize=False))
    loader = make_loader(ds, batch_size, num_workers=workers, pixels=ds.pixels, **extra)
    aug = GpuAugment("synthetic", seed=0).train() if augment == "main" else None
    clock = CpuClock()
    it = iter(loader)
    n, t0, c0 = 0, 0.0, 0.0
    for k in range(batches + 2):
        try:
            b = next(it)
        except StopIteration:
            it = iter(loader)
            b = next(it)
        if aug is not None:
            with torch.no_grad():
                aug(b["image"], b["neutral"])
        if k == 1:  # warm-up done: workers started, first decodes
            t0, c0 = time.perf_counter(), clock()
        elif k > 1:
            n += len(b["image"])
    wall, cpu = time.perf_counter() - t0, clock() - c0
    del it, loader
    return {"pairs_s": n / wall, "cpu_ms": 1e3 * cpu / n}


def profile_pair(ds: Any, n: int = 200) -> list[tuple[str, float]]:
    """CPU ms per pair of each step of a sample, in one process (best of 3 passes)."""
    from pain3d.data import collate
    from pain3d.data.images import decode, decode_face_crop

    idx = [i % len(ds) for i in range(n)]
    rows = [int(ds.rows[i]) for i in idx] + [int(ds.neutral_rows(i)[0]) for i in idx]
    raw = {r: ds.source.read(r) for r in rows}

    def best(fn, items) -> float:
        out = []
        for _ in range(3):
            t = time.process_time()
            for x in items:
                fn(x)
            out.append(time.process_time() - t)
        return 1e3 * min(out) / n

    read = best(ds.source.read, rows)
    dec = best(lambda r: decode(raw[r], "x"), rows)
    crop = best(lambda r: decode_face_crop(raw[r], ds.keypoints[r], ds.size, "x"), rows)
    sample = best(ds.__getitem__, idx)
    batch = [ds[i] for i in idx[:32]]
    coll = best(lambda _: collate(batch), range(n)) / 32  # n collates of 32 pairs
    return [("read the two files", read), ("decode two 512 px JPEGs", dec),
            ("alignment + warp of two crops", crop - dec),
            ("rest of the sample (references, labels, meta, tensors)", sample - read - crop),
            ("collate (stack into the batch)", coll), ("total per pair", sample + coll)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="a generated dataset (default: generate one)")
    ap.add_argument("--identities", type=int, default=8, help="identities to generate")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="6 identities, 20 batches, 2 cases")
    ap.add_argument("--profile", action="store_true", help="CPU time of each step of a pair")
    ap.add_argument("--json", type=Path, default=None, help="write the table here as JSON")
    args = ap.parse_args()
    if args.quick:
        args.identities, args.batches = min(args.identities, 6), min(args.batches, 20)
    import logging

    import torch

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)  # the workers use the other cores
    tmp = Path(tempfile.mkdtemp(prefix="pain3d_loader_"))
    try:
        root = args.data or generated_dataset(tmp / "ds", args.identities)
        ds = pain_pairs(root)
        if args.profile:
            print(f"CPU ms per pair, one process ({len(ds)} pairs of {root}):")
            for name, ms in profile_pair(ds):
                print(f"  {name:<56} {ms:6.2f}")
        cases = [("to device (uint8 batches)", "uint8", "none"),
                 ("float32 batches", "float32", "none"),
                 ("+ augment on CPU, main process", "uint8", "main"),
                 ("+ augment on CPU, in the workers", "uint8", "workers")]
        if args.quick:
            cases = [cases[0], cases[3]]
        rows = [(name, run_loader(ds.with_pixels(px), args.workers, args.batches,
                                  args.batch_size, aug)) for name, px, aug in cases]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; {len(ds)} pairs, 512 px JPEG -> "
          f"224 px face crops, batch {args.batch_size}, {args.workers} workers")
    print(f"{'case':<36} {'pairs/s':>8} {'CPU ms/pair':>11} {'pairs/s on idle cores':>22}")
    for name, r in rows:
        idle = args.workers * 1e3 / r["cpu_ms"]
        print(f"{name:<36} {r['pairs_s']:>8.0f} {r['cpu_ms']:>11.2f} {idle:>22.0f}")
    print(f"target: >= {TARGET_PAIRS_S:.0f} pairs/s to the device on 2 cores. 'idle cores' = "
          "workers / CPU per pair (main process and workers together).")
    if args.json:
        metrics = []
        for k, (name, r) in enumerate(rows):
            metrics.append({"metric": f"{name} pairs/s", "value": round(r["pairs_s"]),
                            "target": f">= {TARGET_PAIRS_S:.0f}" if k == 0 else "",
                            "pass": r["pairs_s"] >= TARGET_PAIRS_S if k == 0 else None})
            idle = args.workers * 1e3 / r["cpu_ms"]
            metrics.append({"metric": f"{name} pairs/s on idle cores (from CPU ms/pair "
                            f"{r['cpu_ms']:.2f})", "value": round(idle),
                            "target": f">= {TARGET_PAIRS_S:.0f}" if k == 0 else "",
                            "pass": idle >= TARGET_PAIRS_S if k == 0 else None})
        args.json.write_text(json.dumps({"benchmark": "loader", "load": load,
                                         "metrics": metrics}, indent=1))


if __name__ == "__main__":
    main()
