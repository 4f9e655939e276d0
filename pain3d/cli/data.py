"""``pain3d prepare-unbc`` and ``pain3d index``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare-unbc",
        help="align, crop and label a raw UNBC-McMaster archive into one HDF5 file",
        description="Reads RAW (Images/, AAM_landmarks/, Frame_Labels/, Sequence_Labels/; "
        "doubled folders are fine), crops faces from the AAM landmarks (MediaPipe when they "
        "are missing), and writes crops, labels, subjects, sequences, frame numbers, 5-fold-"
        "by-subject and leave-one-subject-out folds to OUT, plus OUT.report.json listing what "
        "was skipped and why.",
    )
    p.add_argument("raw", help="the raw archive folder")
    p.add_argument("--out", required=True, help="output .h5 file")
    p.add_argument("--config", help="YAML file with PrepareConfig defaults")
    p.add_argument("--size", type=int, help="crop side in pixels (default 224)")
    p.add_argument("--folds", type=int, help="subject folds (default 5)")
    p.add_argument("--fold-seed", type=int, help="seed of the subject-to-fold assignment")
    p.add_argument("--no-mediapipe", dest="use_mediapipe", action="store_const", const=False,
                   help="skip frames without AAM landmarks instead of detecting them")
    p.add_argument("--skip-bad", dest="skip_bad", action="store_const", const=True,
                   help="skip unreadable images and invalid labels (listed in the report)")
    p.add_argument("--compression", choices=["none", "lzf", "gzip"])
    p.add_argument("--limit", type=int, help="only the first N frames (quick checks)")
    p.set_defaults(handler=_prepare)

    q = sub.add_parser(
        "index",
        help="index (and cache) a dataset folder; print its counts and problems",
        description="Builds the cached index of a synthetic dataset (manifest, 3dpain or hub "
        "layout), a prepared unbc.h5, or a labelled CSV / folder, and prints images, subjects, "
        "splits, PSPI histogram and skipped items. Later training runs reuse the cache.",
    )
    q.add_argument("path", help="dataset folder, unbc.h5 or labels CSV")
    q.add_argument("--layout", default="auto", choices=["auto", "manifest", "3dpain", "hub"])
    q.add_argument("--split-csv", help="published split file (default: found by its header)")
    q.add_argument("--cache-dir", help="where to cache the index and inflated shards")
    q.add_argument("--skip-bad", action="store_true", help="report bad items instead of failing")
    q.add_argument("--rebuild", action="store_true", help="ignore an existing cache")
    q.add_argument("--json", help="also write the summary as JSON to this file")
    q.set_defaults(handler=_index)


def _prepare(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from pain3d.config import load_config, save_config
    from pain3d.data.unbc import PrepareConfig, prepare_unbc
    from pain3d.io import atomic_write_json

    overrides = {k: getattr(args, k) for k in ("size", "folds", "fold_seed", "use_mediapipe",
                                               "skip_bad", "compression", "limit")}
    cfg = load_config(PrepareConfig, args.config, overrides)
    out = Path(args.out)
    summary = prepare_unbc(args.raw, out, cfg)
    report = summary.pop("report")
    save_config(cfg, out.with_name(out.name + ".config.yaml"))
    atomic_write_json(out.with_name(out.name + ".report.json"), {**summary, **report.to_dict()})
    print(f"wrote {out}: {summary['frames']} frames, {summary['subjects']} subjects, "
          f"{summary['sequences']} sequences; skipped {summary['skipped']} "
          f"{json.dumps(summary['skip_reasons'])}; landmarks {summary['landmarks']}")
    if summary["pspi_file_differs_from_facs"]:
        print(f"note: {summary['pspi_file_differs_from_facs']} frame(s) have a PSPI file that "
              "differs from their FACS file (see the report)")
    return 0


def _index(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from pain3d.data import DataConfig, open_data
    from pain3d.io import atomic_write_json

    cfg = DataConfig(root=args.path, layout=args.layout, split_csv=args.split_csv,
                     cache_dir=args.cache_dir, skip_bad=args.skip_bad)
    t0 = time.perf_counter()
    data = open_data(cfg, rebuild=args.rebuild)
    dt = time.perf_counter() - t0
    table, report = data.table, data.report
    levels = np.bincount(np.clip(np.rint(table.pspi), 0, 16).astype(int), minlength=17)
    splits = {s or "(none)": int((table.split == s).sum()) for s in np.unique(table.split)}
    summary = {"path": args.path, "kind": data.kind, "images": len(table),
               "subjects": int(len(np.unique(table.subject))), "splits": splits,
               "pspi_histogram": levels.tolist(), "seconds": round(dt, 3),
               **report.to_dict()}
    print(f"{args.path}: {data.kind}, {len(table)} images of {summary['subjects']} subjects "
          f"in {dt:.2f} s")
    print(f"  splits: {splits}")
    print(f"  PSPI 0..16: {levels.tolist()}")
    if len(report):
        print(f"  skipped {len(report)}: {report.reasons()}")
        for where, why in report.items[:10]:
            print(f"    {where}: {why}")
    if args.json:
        atomic_write_json(args.json, summary)
    return 0
