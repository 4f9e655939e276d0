"""``pain3d train``, ``pain3d cv``, ``pain3d evaluate``, ``pain3d ablate``, and the published
``python train.py`` command line (:func:`published_main`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

# Flags shared by train / cv / ablate -> dotted TrainConfig keys.
COMMON_FLAGS: dict[str, str] = {
    "data": "data.root",
    "init": "init",
    "out": "out_dir",
    "run_dir": "run_dir",
    "name": "name",
    "epochs": "trainer.epochs",
    "batch_size": "trainer.batch_size",
    "precision": "trainer.precision",
    "accelerator": "trainer.accelerator",
    "devices": "trainer.devices",
    "num_nodes": "trainer.num_nodes",
    "strategy": "trainer.strategy",
    "num_workers": "trainer.num_workers",
    "seed": "trainer.seed",
    "preset": "model.preset",
    "backbone_weights": "model.backbone_weights",
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config (defaults); flags override it")
    p.add_argument("--data", help="dataset: synthetic folder, prepared UNBC .h5 or labelled "
                   "CSV / folder")
    p.add_argument("--init", help="checkpoint folder to start from (e.g. synthetic-pretrained)")
    p.add_argument("--out", help="parent folder of run folders (default runs/)")
    p.add_argument("--run-dir", dest="run_dir",
                   help="exact run folder; an interrupted run there resumes from last.ckpt")
    p.add_argument("--name", help="run name prefix")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int, help="per device")
    p.add_argument("--precision", help="auto, 32, bf16-mixed, 16-mixed, bf16-true")
    p.add_argument("--accelerator", help="auto, cpu, gpu")
    p.add_argument("--devices", help="auto, a count (4) or ids (0,1); >1 uses DDP")
    p.add_argument("--num-nodes", dest="num_nodes", type=int, help="machines for multi-node DDP")
    p.add_argument("--strategy", help="auto or ddp")
    p.add_argument("--num-workers", dest="num_workers", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--preset", help="model size: tiny, small, base, large")
    p.add_argument("--backbone-weights", dest="backbone_weights",
                   help="local DINOv3 weights folder (nothing is downloaded)")
    p.add_argument("--no-resume", dest="no_resume", action="store_true",
                   help="start over even if the run folder holds a last.ckpt")
    p.add_argument("--wandb", action="store_true", help="also log to Weights & Biases")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set optim.lr_heads=3e-4 (repeatable)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train one model (synthetic pretraining or fine-tuning)",
        description="Example: pain3d train --config configs/pretrain_synthetic.yaml "
        "--data data/3dpain. Writes a run folder with config.yaml, checkpoints, logs, model/, "
        "predictions.csv and report.md.")
    _common(p)
    p.set_defaults(handler=_train)

    c = sub.add_parser(
        "cv", help="cross-validate by subject on prepared UNBC data (honest protocol)",
        description="Example: pain3d cv --config configs/unbc_5fold.yaml --init CKPT. Every "
        "fold starts from the same checkpoint; epochs are selected on an inner validation "
        "split of the training subjects; test folds use label-free references (oracle "
        "references are reported separately).")
    _common(c)
    c.add_argument("--protocol", help="honest (default) or published; 5fold, loso or file "
                   "choose the folds; combine with commas, e.g. loso,published")
    c.add_argument("--folds", help="run only these fold indices, e.g. 0,2")
    c.add_argument("--production", action="store_true",
                   help="train one deployment model on all subjects instead of the folds "
                   "(epochs selected on an inner validation split; RUN/model)")
    c.set_defaults(handler=_cv)

    e = sub.add_parser(
        "evaluate", help="score a run folder or a predictions CSV; write report.md/.html",
        description="pain3d evaluate RUN_DIR recomputes every number from the run's saved "
        "predictions; pain3d evaluate --predictions FILE.csv scores any model's predictions "
        "(columns fold, split=train/test, subject, pred, true; optional reference, "
        "pred_AU4.., true_AU4..) under the same protocol.")
    e.add_argument("run_dir", nargs="?", help="run folder of pain3d train / cv")
    e.add_argument("--predictions", help="predictions CSV instead of a run folder")
    e.add_argument("--out", help="report folder (default: the run folder, or "
                   "<csv stem>_report beside the CSV)")
    e.add_argument("--protocol", choices=["honest", "published", "validation"],
                   help="protocol written in the report (default: the run's own, or honest). "
                   "All calibrate F1 thresholds on each fold's train rows over the published "
                   "grid np.linspace(0, 6, 200); published makes oracle references the "
                   "headline when present; validation says the checkpoint was selected on the "
                   "scored frames. Rows marked used_for_selection cannot be scored as honest")
    e.add_argument("--no-plots", dest="no_plots", action="store_true")
    e.set_defaults(handler=_evaluate)

    a = sub.add_parser(
        "ablate", help="run and tabulate the standard ablations (one cv per variant)",
        description="Axes: reference {label-free, oracle, other-identity, none}, pretraining "
        "{synthetic, none}, encoders {shared, separate}, distillation {on, off} (heatmap "
        "teacher: during the training on synthetic data, during the synthetic pretraining of "
        "--pretrain-config on real data). Writes ablation.md and ablation.csv in the output "
        "folder; running it again reuses finished variants.")
    _common(a)
    a.add_argument("--axes", default="reference,pretraining,encoders,distillation",
                   help="comma-separated axes to run")
    a.add_argument("--protocol", help="as for pain3d cv")
    a.add_argument("--folds", help="run only these fold indices in every variant, e.g. 0")
    a.add_argument("--pretrain-config", dest="pretrain_config",
                   help="real data: a synthetic pretraining config (YAML with data.root); the "
                   "distillation axis pretrains with it without / with the heatmap teacher "
                   "(trained first when distill.teacher is unset) and cross-validates from each")
    a.set_defaults(handler=_ablate)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from pain3d.cli import CLIError

    out: dict[str, Any] = {}
    for flag, key in COMMON_FLAGS.items():
        v = getattr(args, flag, None)
        if v is not None:
            out[key] = v
    if getattr(args, "no_resume", False):
        out["resume"] = False
    if getattr(args, "wandb", False):
        out["trainer.wandb"] = True
    for item in getattr(args, "overrides", []) or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--set {item!r}: use KEY=VALUE, e.g. --set trainer.epochs=10")
        out[key.strip()] = value.strip()
    protocol = getattr(args, "protocol", None)
    if protocol:
        for part in (p.strip() for p in protocol.split(",") if p.strip()):
            if part in ("honest", "published"):
                out["cv.protocol"] = part
            elif part in ("5fold", "loso", "file"):
                out["cv.scheme"] = part
            else:
                raise CLIError(f"--protocol {part!r}: use honest, published, 5fold, loso or file")
    if getattr(args, "folds", None):
        out["cv.only_folds"] = args.folds
    if getattr(args, "production", False):
        out["cv.production"] = True
    if getattr(args, "pretrain_config", None):
        out["ablate.pretrain_config"] = args.pretrain_config
    return out


def load_train_config(args: argparse.Namespace) -> Any:
    """The resolved TrainConfig of a train / cv / ablate command line."""
    from pain3d.config import load_config
    from pain3d.train.config import TrainConfig

    return load_config(TrainConfig, args.config, _overrides(args))


def _summary(metrics: dict[str, float]) -> str:
    keys = ("mae", "rmse", "pcc", "icc", "auroc_1", "f1_1", "f1_macro")
    return "  ".join(f"{k} {metrics[k]:.3f}" for k in keys if k in metrics)


def _train(args: argparse.Namespace) -> int:
    from pain3d.train.recipes import pretrain

    res = pretrain(load_train_config(args))
    print(f"run folder: {res.run_dir}\nmodel: {res.checkpoint_dir}")
    if res.metrics and res.report is not None:
        scored = ("VALIDATION split (the checkpoint was selected on it; not a test result)"
                  if res.report.scores.protocol == "validation" else
                  "held-out test split (not used for training or selection)")
        print(f"{scored}: {_summary(res.metrics)}\nreport: {res.run_dir / 'report.md'}")
    return 0


def _cv(args: argparse.Namespace) -> int:
    from pain3d.train.recipes import cross_validate

    cfg = load_train_config(args)
    res = cross_validate(cfg)
    if cfg.cv.production:
        print(f"run folder: {res.run_dir}\nproduction model: {res.checkpoint_dir}")
        return 0
    print(f"run folder: {res.run_dir} ({cfg.cv.scheme}, {cfg.cv.protocol} protocol)")
    print(f"mean over folds: {_summary(res.metrics)}\nreport: {res.run_dir / 'report.md'}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from pain3d.cli import CLIError
    from pain3d.evaluate.report import evaluate_predictions, evaluate_run

    if bool(args.run_dir) == bool(args.predictions):
        raise CLIError("give either a RUN_DIR or --predictions FILE.csv")
    if args.predictions:
        rep = evaluate_predictions(args.predictions, args.out, args.protocol or "honest",
                                   plots=not args.no_plots)
    else:
        if args.out:
            raise CLIError("--out applies to --predictions; a run's report goes in its folder")
        rep = evaluate_run(args.run_dir, protocol=args.protocol, plots=not args.no_plots)
    s = rep.summary
    print(f"{rep.scores.protocol} protocol, {len(rep.scores.primary.folds)} fold(s), "
          f"reference {rep.scores.primary.reference}")
    for k in ("mae", "pcc", "icc", "auroc_1", "f1_1", "f1_macro"):
        m, h = s[k]["mean"], s[k]["ci95"]
        print(f"  {k:9s} {m:.3f}" + (f" ± {h:.3f}" if h == h else ""))
    print(f"report: {rep.markdown} (and {rep.html.name}, {rep.json.name})")
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from pain3d.train.ablate import ablate

    axes = tuple(a.strip() for a in args.axes.split(",") if a.strip())
    table = ablate(load_train_config(args), axes=axes)
    print(table.markdown.read_text())
    return 0


def published_main(argv: Sequence[str] | None = None) -> int:
    """``python train.py --config configs/vit_pain.yaml --batch_size 32`` (the published
    command line, keys in :data:`pain3d.train.compat.ALIASES`): :func:`pain3d.train.pretrain`
    with the file's values, then the flags, then ``--set KEY=VALUE`` as overrides."""
    import logging
    import sys

    from pain3d.config import ConfigError, load_config, read_config_file
    from pain3d.train.compat import ALIASES, flatten, translate
    from pain3d.train.config import TrainConfig
    from pain3d.train.recipes import pretrain

    parser = argparse.ArgumentParser(
        prog="train.py", description="Published-style entry point (same as pain3d train).")
    parser.add_argument("--config", help="YAML config (pain3d or published flat keys)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE")
    for flag in sorted(ALIASES):
        parser.add_argument(f"--{flag}", dest=flag, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        # The file's values become overrides of the defaults; flags come after them.
        overrides = flatten(translate(read_config_file(args.config), str(args.config))
                            ) if args.config else {}
        overrides.update({ALIASES[f]: getattr(args, f) for f in ALIASES
                          if getattr(args, f) is not None})
        for item in args.overrides:
            k, _, v = item.partition("=")
            overrides[k.strip()] = v.strip()
        cfg = load_config(TrainConfig, None, overrides)
        if not cfg.data.root:
            raise ConfigError("no dataset: pass --data_dir PATH (a synthetic dataset folder) "
                              "or set data_dir / data.root in the config file")
        res = pretrain(cfg)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    print(f"run folder: {res.run_dir}\nmodel: {res.checkpoint_dir}")
    return 0
