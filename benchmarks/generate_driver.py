"""The driver's serial steps of `pain3d generate` at dataset scale: what a run spends before its
workers get their first identity and after the last one returns, while a core idles.

    cd /tmp && PYTHONPATH=CHECKOUT python CHECKOUT/benchmarks/generate_driver.py
    python benchmarks/generate_driver.py --identities 500 --tree data/3dpain

Times, in this process (wall seconds, best of ``--repeat``), for the published composition
(``--identities`` 2,500 = 82,500 images by default): the plan (``build_plan``), the
manifest's rows, its parquet and CSV files, the dataset card, and with ``--tree DATASET``
the size-on-disk walk over a dataset folder (pass a finished dataset, e.g. one
``benchmarks/generate.py --identities 2500`` would leave if it kept its output). Keypoints
are left out of the rows (NaN), which is what a run without them writes; nothing is
rendered, so the numbers do not depend on the GL stack.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=2500)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--tree", type=Path, help="a dataset folder to time the size-on-disk walk on")
    a = ap.parse_args()

    from pain3d.synth.card import dataset_card
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.generate import _disk_bytes
    from pain3d.synth.manifest import manifest_rows, write_manifest
    from pain3d.synth.plan import build_plan

    plan_s, plan = _best(lambda: build_plan(GenerateConfig(identities=a.identities)), a.repeat)
    rows_s, rows = _best(lambda: manifest_rows(plan, {}), a.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        write_s, _ = _best(lambda: write_manifest(Path(tmp), rows), a.repeat)
        written = sum(p.stat().st_size for p in Path(tmp).iterdir())
    card_s, _ = _best(lambda: dataset_card(plan, rows), a.repeat)
    print(f"{a.identities} identities, {plan.n_images} images (load average "
          f"{os.getloadavg()[0]:.1f}); wall seconds, best of {a.repeat}:")
    lines = [("plan (build_plan)", plan_s), ("manifest rows", rows_s),
             (f"manifest.parquet + manifest.csv ({written / 1e6:.0f} MB)", write_s),
             ("dataset card", card_s)]
    if a.tree:
        walk_s, size = _best(lambda: _disk_bytes(a.tree), a.repeat)
        lines.append((f"size on disk of {a.tree} ({size / 1e9:.2f} GB)", walk_s))
    for label, s in lines:
        print(f"  {label:<52} {s:6.2f}")
    print(f"  {'total':<52} {sum(s for _, s in lines):6.2f}")


if __name__ == "__main__":
    main()
