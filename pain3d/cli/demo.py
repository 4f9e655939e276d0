"""``pain3d demo``: the end-to-end main job (grows as the pipeline grows)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the end-to-end demo on the built-in generator")
    p.add_argument("--out", default="demo", help="output folder (default: ./demo)")
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from pain3d.facs import AU_NAMES, PlanConfig, plan_summary, sample_plan

    cfg = PlanConfig(identities=2500, per_identity=10, seed=0)
    rows = sample_plan(cfg)
    s = plan_summary(rows)
    print(f"Planned a 3DPain-sized dataset: {s['rows']} pain configurations, "
          f"{s['identities']} identities")
    print("PSPI histogram:", " ".join(f"{k}:{v}" for k, v in s["pspi_hist"].items()))
    print(f"chi-square uniformity over PSPI 1..16: p = {s['chi2_uniform_p']:.3f}")
    for name in AU_NAMES:
        print(f"  {name:5s} mean {s['au_mean'][name]:.2f}  present {s['au_nonzero'][name]:.0%}")
    return 0
