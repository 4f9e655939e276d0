"""Does MediaPipe face mesh find a face in the renders? Rates per view and demographic group.

    .venv/bin/python scripts/detectability.py --identities 72 --size 512 --out out/detect.csv

Renders every identity in the default three views at neutral, mid and high pain (see
:data:`pain3d.render.quality.PAIN_LEVELS`), composited like dataset images, and runs the
detector in static-image mode. Prints the rate per view, sex, age band, ancestry, expression
and Monk tone, and flags any group below the 95% target. Exit status 1 when one is below.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

from pain3d.render.quality import detection_rates, detection_records, quality_renders

TARGET = 0.95


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=72)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="CSV of every image's record")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    recs = detection_records(quality_renders(args.identities, args.seed, args.size))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(recs[0]))
            w.writeheader()
            w.writerows(recs)
    rates = detection_rates(recs, by=("view", "expression", "sex", "age_band", "ancestry",
                                      "monk_tone"))
    total = sum(r["detected"] for r in recs) / len(recs)
    print(f"images: {len(recs)}  detected: {total:.1%}  (target >= {TARGET:.0%} per group)")
    bad = 0
    for key, groups in rates.items():
        cells = []
        for value, (rate, n) in groups.items():
            flag = "" if rate >= TARGET else " <"
            bad += rate < TARGET
            cells.append(f"{value}: {rate:.0%} ({n}){flag}")
        print(f"{key:>10}  " + "  ".join(cells))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
