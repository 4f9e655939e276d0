"""Data-loading benchmark: index time for 82,500 images, and sustained training pairs/s.

Run: ``.venv/bin/python benchmarks/loader.py [--identities 20] [--batches 30] [--workers 2]``

1. Index: the published composition (2,500 identities x 11 expressions x 3 views = 82,500
   names, 25,000 annotation JSONs, split CSV). Measured three ways: parsing the names alone;
   a cold folder index (82,500 empty image files + 25,000 real JSONs in a temporary folder,
   no cache); and the warm index (cache hit, what every later run pays).
2. Throughput: a small dataset of real 512 x 512 JPEGs (textured, so decoding costs what a
   real render costs), read by a DataLoader with ``--workers`` workers (decode with DCT-scaled
   JPEG draft, resize to 224, one same-identity neutral per pain image), then GpuAugment
   ("synthetic" preset) on the CPU in the main process, as training on a CPU machine would.
   Reports pairs/s for loading alone and for loading + augmentation, plus best-of-N CPU cost
   per pair of each stage and the throughput they project for an idle machine with
   ``--workers`` cores (cores / (load + augment ms)), since wall-clock rates on a shared,
   loaded machine mostly measure the other jobs.

The numbers depend heavily on how loaded the machine is; the table states the load average.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _names(n_ids: int, n_cfg: int = 10, views: int = 3) -> list[str]:
    out = []
    for i in range(n_ids):
        for c in range(n_cfg + 1):
            expr = f"pain_{c}" if c else "neutral"
            for v in range(views):
                out.append(f"flame_sample_{i:04d}_{expr}_textured_view_{v:03d}_inpainted.jpg")
    return out


def bench_index(tmp: Path) -> dict[str, float]:
    from pain3d.data.naming import parse_names
    from pain3d.data.synthetic import index_synthetic

    names = _names(2500)
    t0 = time.perf_counter()
    parse_names(names)
    parse_s = time.perf_counter() - t0

    root = tmp / "index_ds"
    (root / "meshes_inpainted").mkdir(parents=True)
    (root / "annotations").mkdir()
    t0 = time.perf_counter()
    for n in names:
        open(root / "meshes_inpainted" / n, "wb").close()
    rows = ["annotation_base_name,split"]
    rng = np.random.default_rng(0)
    for i in range(2500):
        for c in range(1, 11):
            base = f"flame_sample_{i:04d}_pain_{c}"
            a = rng.integers(0, 6, 6).tolist()
            a[5] = int(a[5] > 2)
            obj = dict(zip(["AU4", "AU6", "AU7", "AU9", "AU10", "AU43"], a, strict=True))
            (root / "annotations" / f"{base}_annotations.json").write_text(json.dumps(obj))
            rows.append(f"{base},{0 if i < 1747 else (1 if i < 2244 else 2)}")
    (root / "splits.csv").write_text("\n".join(rows) + "\n")
    make_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    idx = index_synthetic(root, cache_dir=tmp / "cache", rebuild=True)
    cold_s = time.perf_counter() - t0
    assert len(idx.table) == 82500, len(idx.table)
    t0 = time.perf_counter()
    index_synthetic(root, cache_dir=tmp / "cache")
    warm_s = time.perf_counter() - t0
    return {"parse_names_s": parse_s, "cold_index_s": cold_s, "warm_index_s": warm_s,
            "fixture_write_s": make_s}


def _texture(rng: np.random.Generator, side: int) -> np.ndarray:
    import cv2

    small = rng.integers(0, 256, (side // 16, side // 16, 3), dtype=np.uint8)
    img = cv2.resize(small, (side, side), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 12, (side, side, 3))
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def make_images(root: Path, identities: int, side: int) -> Path:
    from PIL import Image

    (root / "meshes_inpainted").mkdir(parents=True)
    (root / "annotations").mkdir()
    rng = np.random.default_rng(0)
    rows = ["annotation_base_name,split"]
    for n in _names(identities):
        buf = io.BytesIO()
        Image.fromarray(_texture(rng, side)).save(buf, format="JPEG", quality=90)
        (root / "meshes_inpainted" / n).write_bytes(buf.getvalue())
    for i in range(identities):
        for c in range(1, 11):
            base = f"flame_sample_{i:04d}_pain_{c}"
            obj = {"AU4": 1, "AU6": 2, "AU7": 0, "AU9": 1, "AU10": 0, "AU43": 0}
            (root / "annotations" / f"{base}_annotations.json").write_text(json.dumps(obj))
            rows.append(f"{base},0")
    (root / "splits.csv").write_text("\n".join(rows) + "\n")
    return root


def make_hub(src: Path, dst: Path, shards: int = 2) -> Path:
    """The same images and annotations packed as hub ``.tar.gz`` shards."""
    import tarfile

    for folder, sub in (("images", "meshes_inpainted"), ("annotations", "annotations")):
        names = sorted(os.listdir(src / sub))
        (dst / folder).mkdir(parents=True)
        for s in range(shards):
            with tarfile.open(dst / folder / f"{folder}_{s:05d}.tar.gz", "w:gz",
                              compresslevel=1) as tf:
                for n in names[s::shards]:
                    tf.add(src / sub / n, arcname=n)
    (dst / "splits.csv").write_bytes((src / "splits.csv").read_bytes())
    return dst


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_hub(root: Path, workers: int, batches: int, batch_size: int) -> dict[str, float]:
    """Inflate-once time and load-only pairs/s reading hub shards."""
    from pain3d.data import DataConfig, make_loader, open_data

    t0 = time.perf_counter()
    data = open_data(DataConfig(root=str(root), cache_dir=str(root / "cache")))
    ds = data.dataset(data.rows(split="train"), 224, "same-identity")
    first = time.perf_counter() - t0
    it = iter(make_loader(ds, batch_size, num_workers=workers))
    next(it)
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            n += len(next(it)["image"])
        except StopIteration:
            it = iter(make_loader(ds, batch_size, num_workers=workers))
    return {"hub_first_index_s": first, "hub_load_pairs_s": n / (time.perf_counter() - t0)}


def bench_throughput(root: Path, workers: int, batches: int, batch_size: int) -> dict[str, float]:
    import torch

    from pain3d.data import DataConfig, GpuAugment, make_loader, open_data
    from pain3d.data.augment import AugmentCollate

    torch.set_num_threads(1)  # the workers use the other cores
    data = open_data(DataConfig(root=str(root)))
    ds = data.dataset(data.rows(split="train"), 224, "same-identity")
    aug = GpuAugment("synthetic", seed=0).train()

    def run(augment: bool, in_workers: bool = False) -> float:
        collate = {"collate": AugmentCollate(GpuAugment("synthetic", seed=0, normalize=False))
                   } if in_workers else {}
        loader = make_loader(ds, batch_size, num_workers=workers, **collate)
        it = iter(loader)
        for _ in range(2):  # warm-up: worker start, first decodes
            b = next(it)
        t0 = time.perf_counter()
        n = 0
        for _ in range(batches):
            try:
                b = next(it)
            except StopIteration:
                it = iter(loader)
                b = next(it)
            if augment:
                aug(b["image"], b["neutral"])
            n += len(b["image"])
        dt = time.perf_counter() - t0
        del it, loader
        return n / dt

    x = torch.rand(batch_size, 3, 224, 224)
    t0 = time.perf_counter()
    for _ in range(3):
        aug(x, x)
    aug_only = 3 * batch_size / (time.perf_counter() - t0)
    # Best-of-N single-process costs: close to the idle-machine cost even when loaded.
    sample_ms = min(_timed(lambda i=i: ds[i % len(ds)]) for i in range(40)) * 1e3
    aug_ms = min(_timed(lambda: aug(x, x)) for _ in range(5)) * 1e3 / batch_size
    return {"sample_ms": sample_ms, "aug_ms_per_pair": aug_ms,
            "load_pairs_s": run(False), "load_aug_pairs_s": run(True),
            "load_aug_workers_pairs_s": run(False, in_workers=True),
            "augment_only_pairs_s": aug_only, "dataset_pairs": len(ds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--identities", type=int, default=20, help="identities of real JPEGs")
    ap.add_argument("--image-size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--skip-index", action="store_true")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = []
        if not args.skip_index:
            r = bench_index(tmp)
            rows += [("index: parse 82,500 names", f"{r['parse_names_s']:.2f} s"),
                     ("index: cold, 82,500 files + 25,000 JSON", f"{r['cold_index_s']:.2f} s"),
                     ("index: warm (cache hit)", f"{r['warm_index_s']:.3f} s")]
        root = make_images(tmp / "imgs", args.identities, args.image_size)
        r = bench_throughput(root, args.workers, args.batches, args.batch_size)
        ncpu = min(args.workers, os.cpu_count() or 1)
        h = bench_hub(make_hub(root, tmp / "hub"), args.workers, args.batches, args.batch_size)
        rows += [(f"pairs/s, load only ({args.workers} workers, {args.image_size}px JPEG->224)",
                  f"{r['load_pairs_s']:.0f}"),
                 ("pairs/s, load + GpuAugment on CPU (main process)",
                  f"{r['load_aug_pairs_s']:.0f}"),
                 ("pairs/s, load + GpuAugment in the workers (CPU-only set-up)",
                  f"{r['load_aug_workers_pairs_s']:.0f}"),
                 ("pairs/s, GpuAugment alone (1 thread)", f"{r['augment_only_pairs_s']:.0f}"),
                 ("CPU ms per pair, load (best of 40)", f"{r['sample_ms']:.2f}"),
                 ("CPU ms per pair, augment (best of 5 batches)", f"{r['aug_ms_per_pair']:.2f}"),
                 ("hub shards: first index incl. inflating (s)",
                  f"{h['hub_first_index_s']:.2f}"),
                 (f"hub shards: pairs/s, load only ({args.workers} workers)",
                  f"{h['hub_load_pairs_s']:.0f}"),
                 ("projected pairs/s on an idle machine, load only",
                  f"{ncpu * 1e3 / r['sample_ms']:.0f}"),
                 ("projected pairs/s on an idle machine, load + augment",
                  f"{ncpu * 1e3 / (r['sample_ms'] + r['aug_ms_per_pair']):.0f}")]
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (other jobs share these cores)")
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v:>10}")


if __name__ == "__main__":
    main()
