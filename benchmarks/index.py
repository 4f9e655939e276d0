"""Index benchmark: seconds and memory to open the full published composition (82,500 images).

    .venv/bin/python benchmarks/index.py            # manifest + 3dpain folder layouts
    .venv/bin/python benchmarks/index.py --quick    # manifest layout only (make bench)
    .venv/bin/python benchmarks/index.py --quick --json out.json

Two fake datasets of the published size (2,500 identities x 11 expressions x 3 views), no
pixels needed:

- ``manifest``: a ``manifest.parquet`` with every column ``pain3d generate`` writes
  (:data:`pain3d.synth.manifest.COLUMNS`) and realistic values (paths, demographics, seeds,
  face keypoints, heatmap paths);
- ``3dpain``: the published folder layout, 82,500 empty image files and 25,000 annotation
  JSONs (``--quick`` skips it: writing the files takes most of its time).

Each open runs in a fresh process (``open_data`` + a ``PainDataset`` of the training rows,
as training makes it) and reports wall seconds and the resident memory it added over the
imports (``ru_maxrss``, peak), cold (building the index, then caching it) and warm (cache
hit, what every later run pays), plus the bytes of the frame table's arrays.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

IDENTITIES, EXPRESSIONS, VIEWS = 2500, 11, 3
TARGET_MB = 300.0


def fake_manifest(root: Path, identities: int = IDENTITIES) -> Path:
    """A ``manifest.parquet`` of ``identities`` x 11 x 3 rows with the generator's columns."""
    import pandas as pd

    from pain3d.face.landmarks import KEYPOINT_COLUMNS
    from pain3d.facs import AU_NAMES, NUISANCE_AUS
    from pain3d.synth.manifest import COLUMNS, VARIATION_COLUMNS

    rng = np.random.default_rng(0)
    ident = np.repeat(np.arange(identities), EXPRESSIONS * VIEWS)
    cfg = np.tile(np.repeat(np.arange(EXPRESSIONS), VIEWS), identities)
    view = np.tile(np.arange(VIEWS), identities * EXPRESSIONS)
    name = np.char.add("flame_sample_", np.char.zfill(ident.astype(str), 4))
    expr = np.where(cfg == 0, "neutral", np.char.add("pain_", cfg.astype(str)))
    stem = np.char.add(np.char.add(name, "_"), expr)
    n = len(ident)
    aus = rng.integers(0, 6, (n, 6)).astype(float) * (cfg > 0)[:, None]
    aus[:, 5] = aus[:, 5] > 2
    split = np.array(["train", "val", "test"])[np.searchsorted([1747, 2244], ident, "right")]
    df = pd.DataFrame({
        "path": np.char.add(np.char.add(np.char.add("meshes_inpainted/", stem),
                                        np.char.add("_textured_view_", np.char.zfill(
                                            view.astype(str), 3))), "_inpainted.jpg"),
        "identity": ident, "identity_name": name, "expression": expr, "kind": "image",
        "view": view, "yaw": rng.uniform(-40, 40, n).round(3),
        "pitch": rng.uniform(-15, 15, n).round(3), "roll": rng.uniform(-5, 5, n).round(3),
        "distance": 0.8, **{a: aus[:, k] for k, a in enumerate(AU_NAMES)},
        "PSPI": aus[:, 0] + aus[:, 1:3].max(1) + aus[:, 3:5].max(1) + aus[:, 5],
        "sex": rng.choice(["female", "male"], n), "age_band": rng.choice(
            ["20-35", "36-60", "61-85"], n), "ancestry": rng.choice(
            ["african", "east_asian", "european", "south_asian", "latino", "middle_eastern"],
            n), "seed": rng.integers(0, 2**32, n), "split": split,
        "heatmap_path": np.where(cfg > 0, np.char.add(np.char.add("heatmaps/", stem),
                                                      "_heatmap.png"), ""),
        "mask_path": "", "mesh_path": np.char.add(np.char.add(np.char.add(
            "textured_meshes/", name), "/"), np.char.add(name, ".obj")),
        "config": cfg, "depth_path": "", "shard": "",
        "identity_seed": rng.integers(0, 2**32, n), "light_seed": rng.integers(0, 2**32, n),
        "background_seed": rng.integers(0, 2**32, n), "appearance": "procedural",
        **{c: rng.uniform(150, 400, n).round(3) for c in KEYPOINT_COLUMNS},
        **{a: rng.uniform(0, 2, n).round(3) for a in NUISANCE_AUS}, "neutral_session": 0,
        **{c: rng.uniform(-1, 1, n).round(4) for c in VARIATION_COLUMNS},
        "source_photo": "", "source_photo_sha256": "", "source_photo_path": "",
        "photo_warnings": "",
    })
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise RuntimeError(f"fake manifest lacks generator columns {missing}")
    root.mkdir(parents=True, exist_ok=True)
    df[list(COLUMNS)].to_parquet(root / "manifest.parquet")
    return root


def fake_folder(root: Path, identities: int = IDENTITIES) -> Path:
    """The published ``3dpain`` layout: empty images, annotation JSONs and the split CSV."""
    (root / "meshes_inpainted").mkdir(parents=True)
    (root / "annotations").mkdir()
    rng = np.random.default_rng(0)
    rows = ["annotation_base_name,split"]
    for i in range(identities):
        for c in range(EXPRESSIONS):
            expr = f"pain_{c}" if c else "neutral"
            for v in range(VIEWS):
                name = f"flame_sample_{i:04d}_{expr}_textured_view_{v:03d}_inpainted.jpg"
                open(root / "meshes_inpainted" / name, "wb").close()
            if c:
                base = f"flame_sample_{i:04d}_{expr}"
                a = rng.integers(0, 6, 6).tolist()
                a[5] = int(a[5] > 2)
                obj = dict(zip(["AU4", "AU6", "AU7", "AU9", "AU10", "AU43"], a, strict=True))
                (root / "annotations" / f"{base}_annotations.json").write_text(json.dumps(obj))
                rows.append(f"{base},{0 if i < 1747 else (1 if i < 2244 else 2)}")
    (root / "splits.csv").write_text("\n".join(rows) + "\n")
    return root


def _open_once(root: str, cache: str, queue: mp.Queue) -> None:
    """In a fresh process: import, then open the data and cut the training set."""
    import pandas  # noqa: F401 - imported before the baseline, as any training run has it

    from pain3d.data import DataConfig, open_data

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    data = open_data(DataConfig(root=root, cache_dir=cache))
    ds = data.dataset(data.rows(split="train"), 224, "same-identity")
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    arrays = data.table.arrays()
    table_mb = sum(a.nbytes for a in arrays.values()) / 1e6
    src = getattr(data.source, "relpaths", None)
    queue.put({"rows": len(data.table), "train": len(ds), "s": wall,
               "added_mb": (peak - base) / 1024, "table_mb": table_mb,
               "source_mb": (src.nbytes / 1e6) if src is not None else 0.0})


def measure(root: Path, cache: Path) -> dict:
    ctx = mp.get_context("spawn")  # a fresh interpreter: nothing cached in memory
    q = ctx.Queue()
    p = ctx.Process(target=_open_once, args=(str(root), str(cache), q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="manifest layout only")
    ap.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        layouts = [("manifest", fake_manifest)] + ([] if args.quick else
                                                  [("3dpain", fake_folder)])
        for name, make in layouts:
            root = make(tmp / name)
            for when in ("cold", "warm"):
                rows.append((name, when, measure(root, tmp / f"cache-{name}")))
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
          f"{IDENTITIES * EXPRESSIONS * VIEWS:,} images, fresh process per open")
    print(f"{'layout':<9} {'open':<5} {'rows':>7} {'train pairs':>11} {'seconds':>8} "
          f"{'added RSS MB':>12} {'table MB':>9} {'paths MB':>9}")
    for name, when, r in rows:
        print(f"{name:<9} {when:<5} {r['rows']:>7,} {r['train']:>11,} {r['s']:>8.2f} "
              f"{r['added_mb']:>12.0f} {r['table_mb']:>9.1f} {r['source_mb']:>9.1f}")
    print(f"target: the index in <= {TARGET_MB:.0f} MB. 'added RSS' = peak resident memory "
          "of open_data + the training PainDataset over the imports; 'table' = the frame "
          "table's arrays; 'paths' = the image source's path array.")
    if args.json:
        metrics = [{"metric": f"{name} {when} open: added RSS MB", "value": round(r["added_mb"]),
                    "target": f"<= {TARGET_MB:.0f}", "pass": r["added_mb"] <= TARGET_MB}
                   for name, when, r in rows]
        args.json.write_text(json.dumps({"benchmark": "index", "load": load, "metrics": metrics,
                                         "rows": [{"layout": name, "open": when, **r}
                                                  for name, when, r in rows]}, indent=1))


if __name__ == "__main__":
    main()
