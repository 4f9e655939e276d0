"""Does heatmap-teacher distillation help? Teacher and students on the demo's data, on a CPU.

    .venv/bin/python benchmarks/distill.py                       # 3 seeds, about 10 min
    .venv/bin/python benchmarks/distill.py --seeds 42 --epochs 10 # a quick look

Generates the demo's dataset (96 identities, 6 pain configurations, 2 views, 128 px), trains
the heatmap teacher with the tiny CPU recipe on the heatmaps (``data.input = heatmap``), then
for every seed the RGB student without and with the teacher
(``distill.feature_weight`` / ``distill.prediction_weight``). Prints held-out-identity MAE and
PCC (label-free references, the demo's evaluation) per run and the mean over seeds. Backbones
are random (no weights are downloaded), so this measures the method at toy scale, not what it
does for a DINOv3 model. Numbers on a shared machine are slower, not different.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path


def _train(tc) -> tuple[float, float, float]:
    from pain3d.train.recipes import pretrain

    t0 = time.perf_counter()
    res = pretrain(tc)
    summary = res.report.scores.primary.summary
    return summary["mae"]["mean"], summary["pcc"]["mean"], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--feature-weight", type=float, default=0.1)
    ap.add_argument("--prediction-weight", type=float, default=1.0)
    ap.add_argument("--out", help="work folder (default: a temporary folder)")
    args = ap.parse_args()

    import logging

    logging.disable(logging.INFO)
    from pain3d.demo.run import DemoConfig, train_config
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.generate import RunOptions, generate

    out = Path(args.out or tempfile.mkdtemp(prefix="pain3d-distill-"))
    demo = DemoConfig(epochs=args.epochs)
    data = out / "data"
    generate(GenerateConfig(identities=demo.identities, per_identity=demo.per_identity,
                            views=demo.views, size=demo.image_size, seed=demo.seed,
                            split_fractions=(0.6, 0.2, 0.2), jpeg_quality=92),
             RunOptions(out=data, workers=demo.workers, progress=False))

    def config(name: str, seed: int, **data_or_distill):
        tc = train_config(demo, data, out / name)
        tc = dataclasses.replace(tc, trainer=dataclasses.replace(tc.trainer, seed=seed))
        if "input" in data_or_distill:
            return dataclasses.replace(tc, data=dataclasses.replace(tc.data, **data_or_distill))
        if data_or_distill:
            return dataclasses.replace(
                tc, distill=dataclasses.replace(tc.distill, **data_or_distill))
        return tc

    print(f"machine: {os.cpu_count()} cores; data: {data} ({demo.identities} identities); "
          f"{args.epochs} epochs per run")
    print(f"{'run':<34} {'seed':>4} {'MAE':>6} {'PCC':>6} {'s':>6}")
    mae, pcc, sec = _train(config("teacher", args.seeds[0], input="heatmap"))
    print(f"{'heatmap teacher':<34} {args.seeds[0]:>4} {mae:>6.3f} {pcc:>6.3f} {sec:>6.0f}")
    teacher = str(out / "teacher" / "model")
    rows: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    label_on = f"student + teacher (f {args.feature_weight:g}, p {args.prediction_weight:g})"
    for seed in args.seeds:
        for key, label, extra in (
                ("off", "student, no teacher", {}),
                ("on", label_on, {"teacher": teacher, "feature_weight": args.feature_weight,
                                  "prediction_weight": args.prediction_weight})):
            mae, pcc, sec = _train(config(f"student-{key}-{seed}", seed, **extra))
            rows[key].append((mae, pcc))
            print(f"{label:<34} {seed:>4} {mae:>6.3f} {pcc:>6.3f} {sec:>6.0f}")
    for key, label in (("off", "mean: no teacher"), ("on", "mean: with teacher")):
        m = sum(r[0] for r in rows[key]) / len(rows[key])
        p = sum(r[1] for r in rows[key]) / len(rows[key])
        print(f"{label:<34} {'':>4} {m:>6.3f} {p:>6.3f}")


if __name__ == "__main__":
    main()
