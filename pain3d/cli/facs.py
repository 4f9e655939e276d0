"""``pain3d plan`` and ``pain3d pspi``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="draw the pain AU configurations of a dataset (CSV)",
        description="One row per pain configuration: identity, config index, six AUs, PSPI. "
        "PSPI levels are uniform over min-pspi..16 across the dataset.",
    )
    p.add_argument("--config", help="YAML file with PlanConfig defaults (flags override)")
    p.add_argument("--identities", type=int, help="number of identities (default 2500)")
    p.add_argument("--per-identity", type=int, help="pain configurations each (default 10)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--min-pspi", type=int, help="lowest PSPI level (default 1)")
    p.add_argument("--continuous", action="store_true", default=None,
                   help="float AU intensities")
    p.add_argument("--nuisance", help="comma-separated non-pain AUs, e.g. AU12,AU25")
    p.add_argument("--out", default="-", help="CSV path, or - for standard output")
    p.set_defaults(handler=_plan)

    q = sub.add_parser(
        "pspi",
        help="compute PSPI from AU values",
        description="Example: pain3d pspi AU4=2 AU6=3 AU7=1 AU9=0 AU10=2 AU43=1 "
        "(missing AUs count as 0), or six numbers in the order AU4 AU6 AU7 AU9 AU10 AU43.",
    )
    q.add_argument("values", nargs="+", help="NAME=VALUE pairs or six numbers")
    q.set_defaults(handler=_pspi)


def _plan(args: argparse.Namespace) -> int:
    import csv
    import io
    import sys
    from pathlib import Path

    from pain3d.config import load_config, save_config
    from pain3d.facs import AU_NAMES, PlanConfig, plan_summary, sample_plan
    from pain3d.io import atomic_write_text

    cfg = load_config(PlanConfig, args.config, {
        "identities": args.identities,
        "per_identity": args.per_identity,
        "seed": args.seed,
        "min_pspi": args.min_pspi,
        "continuous": args.continuous,
        "nuisance_aus": args.nuisance,
    })
    nuisance = cfg.nuisance_aus
    rows = sample_plan(cfg)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["identity", "config", *AU_NAMES, "PSPI", *[n.upper() for n in nuisance]])
    for r in rows:
        aus = [f"{a:g}" if not cfg.continuous else f"{a:.6f}" for a in r.aus]
        pspi = f"{r.pspi:g}" if not cfg.continuous else f"{r.pspi:.6f}"
        w.writerow([r.identity, r.config, *aus, pspi, *[f"{v:g}" for _, v in r.nuisance]])
    if args.out == "-":
        sys.stdout.write(buf.getvalue())
    else:
        atomic_write_text(args.out, buf.getvalue())
        save_config(cfg, Path(args.out).with_suffix(".config.yaml"))
        s = plan_summary(rows)
        print(
            f"wrote {len(rows)} configurations for {s['identities']} identities to {args.out} "
            f"(mean PSPI {s['pspi_mean']:.2f}, chi-square uniformity p = {s['chi2_uniform_p']:.3f})"
        )
    return 0


def _pspi(args: argparse.Namespace) -> int:
    from pain3d.facs import AU_NAMES, au_vector, pspi

    if all("=" in v for v in args.values):
        mapping = {}
        for item in args.values:
            key, _, value = item.partition("=")
            mapping[key] = value
        vec = au_vector(mapping, fill_missing=True)
    elif any("=" in v for v in args.values):
        raise ValueError("give either NAME=VALUE pairs or six plain numbers, not a mix")
    else:
        vec = au_vector([_number(v) for v in args.values])
    print(" ".join(f"{n}={v:g}" for n, v in zip(AU_NAMES, vec, strict=True)), f"PSPI={pspi(vec):g}")
    return 0


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a number") from exc
