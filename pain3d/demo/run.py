"""``pain3d demo``: the whole system, small and honest, from nothing, on a CPU.

Stages (each timed; a stage whose package is missing or that fails is reported as such and
the stages that need it are skipped, never faked):

1. ``generate``  a small synthetic 3DPain dataset with the built-in generator, split by
   identity into train / val / test; a contact sheet and a heatmap grid of it.
2. ``train``     a tiny ViTPain (random DINOv3-architecture backbone, cross-attention)
   pretrained on the train identities, epoch chosen on the val identities. Its backbone has
   no pretrained weights to adapt, so it is trained whole (``train_backbone``), not frozen
   with LoRA as published; neutral renders are PSPI-0 training samples.
3. ``evaluate``  the selected model on the held-out test identities (honest protocol:
   thresholds from training predictions), metrics and plots (``pain3d.evaluate``).
4. ``video``     a short video of one test identity going neutral -> pain -> neutral, with
   its true per-frame PSPI.
5. ``predict``   ``pain3d predict`` on that video (mediapipe detection and alignment,
   label-free reference from the first seconds), compared with the truth.
6. ``report``    ``<out>/report.html``, self-contained (images embedded).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

STAGES = ("generate", "train", "evaluate", "video", "predict", "report")
# What each stage needs from the rest of pain3d: (module, attribute) pairs.
_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "generate": (("pain3d.synth.generate", "generate"), ("pain3d.face", "sample_identities"),
                 ("pain3d.face", "export_obj"), ("pain3d.appearance", "sample_appearance"),
                 ("pain3d.render.renderer", "Renderer")),
    "train": (("pain3d.train.recipes", "pretrain"), ("pain3d.model", "build_model"),
              ("pain3d.data.synthetic", "index_synthetic")),
    "evaluate": (("pain3d.evaluate.report", "evaluate_run"),),
    "video": (("pain3d.synth.builtin", "BuiltinRenderer"),),
    "predict": (("pain3d.infer", "Predictor"),),
    "report": (),
}
_DEPENDS = {"generate": (), "train": ("generate",), "evaluate": ("train",),
            "video": ("generate",), "predict": ("train", "video"), "report": ()}
_MARKER = "demo.yaml"


@dataclass
class DemoConfig:
    """Sizes of the demo (defaults: the full demo, about 10 minutes on 2 CPU cores).

    Attributes:
        out: output folder (created; a previous demo there is replaced).
        identities: synthetic identities (split 60 / 20 / 20 % train / val / test).
        per_identity: pain configurations per identity (plus one neutral).
        views: camera views per expression.
        image_size: rendered image side in pixels.
        epochs: training epochs (about 1000 steps of 16 at the default sizes; more
            identities rather than more epochs: they make the epoch choice on val stable).
        batch_size: training batch size.
        lr_heads, lr_lora: learning rates of the heads and of the backbone (or adapters).
        train_backbone: train every weight of the random backbone (a frozen random backbone
            with LoRA does not learn: held-out PCC about 0 on the demo data).
        include_neutral: train on the neutral renders too, as PSPI-0 samples.
        lora_rank: LoRA rank (0: no adapters, as with ``train_backbone``).
        lora_targets: adapted modules when ``lora_rank`` > 0.
        encoder_mode: ``shared`` (one encoder for pain and neutral images: half the CPU
            time of the published ``separate``).
        model_size: model input side in pixels (multiple of 16).
        augment: training augmentation preset (``synthetic``, ``unbc``, ``none``); ``none``
            by default: on this little data the ``synthetic`` preset stops the tiny model
            from learning within the budget (held-out PCC 0.2 against 0.76).
        video_fps: frames per second of the demo video (its timing is fixed:
            :class:`pain3d.demo.video.VideoPlan`, 10 s).
        video_size: video frame side in pixels.
        seed: seed of the dataset, the training and the video.
        workers: generation worker processes.
        renderer: dataset renderer (``builtin``; tests may pass another ``module:Class``).
    """

    out: str = "demo"
    identities: int = 96
    per_identity: int = 6
    views: int = 2
    image_size: int = 128
    epochs: int = 30
    batch_size: int = 16
    lr_heads: float = 3e-4
    lr_lora: float = 3e-4
    train_backbone: bool = True
    include_neutral: bool = True
    lora_rank: int = 0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "up_proj",
                                     "down_proj", "patch_embeddings")
    encoder_mode: str = "shared"
    model_size: int = 64
    augment: str = "none"
    video_fps: float = 6.0
    video_size: int = 256
    seed: int = 0
    workers: int = 2
    renderer: str = "builtin"

    def __post_init__(self) -> None:
        if self.identities < 5:
            raise ValueError(f"identities must be >= 5 (train, val and test need people), "
                             f"got {self.identities}")
        if self.lora_rank < 0:
            raise ValueError(f"lora_rank must be >= 0, got {self.lora_rank}")
        for k in ("per_identity", "views", "epochs", "batch_size", "workers"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.image_size < 64 or self.video_size < 128:
            raise ValueError("image_size must be >= 64 and video_size >= 128 pixels")
        if self.model_size < 32 or self.model_size % 16:
            raise ValueError(f"model_size must be a multiple of 16 >= 32, got {self.model_size}")
        if self.augment not in ("synthetic", "unbc", "none"):
            raise ValueError(f"augment must be synthetic, unbc or none, got {self.augment!r}")
        if self.encoder_mode not in ("shared", "separate"):
            raise ValueError(f"encoder_mode must be shared or separate, got {self.encoder_mode!r}")
        self.lora_targets = tuple(self.lora_targets)
        if self.video_fps <= 0:
            raise ValueError(f"video_fps must be > 0, got {self.video_fps}")

    @classmethod
    def small(cls, **overrides: Any) -> DemoConfig:
        """A reduced demo for tests (about a minute or two)."""
        base = dict(identities=8, per_identity=3, views=1, image_size=96, epochs=2,
                    batch_size=8, video_fps=2.0, video_size=192)
        return cls(**{**base, **overrides})


@dataclass
class StageResult:
    name: str
    status: str = "pending"  # ok | missing | failed | skipped
    seconds: float = 0.0
    message: str = ""


@dataclass
class DemoResult:
    """What the demo did: stage results, key numbers, the report path."""

    out: Path
    stages: dict[str, StageResult]
    numbers: dict[str, Any] = field(default_factory=dict)
    report: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in self.stages.values())


def missing_parts(stage: str) -> list[str]:
    """``module.attribute`` names a stage needs that this checkout lacks."""
    out = []
    for mod, attr in _NEEDS[stage]:
        try:
            m = importlib.import_module(mod)
        except ImportError:
            out.append(f"{mod}.{attr}")
            continue
        if not hasattr(m, attr):
            out.append(f"{mod}.{attr}")
    return out


def _prepare_out(out: Path) -> None:
    """Create ``out``; replace a previous demo there; refuse a folder holding other files."""
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"demo output {out} is a file; choose another --out")
        contents = list(out.iterdir())
        if contents and not (out / _MARKER).is_file():
            raise FileExistsError(f"{out} is not empty and holds no previous demo ({_MARKER}); "
                                  "choose another --out")
        for p in contents:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def run_demo(cfg: DemoConfig) -> DemoResult:
    """Run every stage (see module docstring) into ``cfg.out`` and write the report."""
    from pain3d.config import save_config

    t_start = time.perf_counter()
    out = Path(cfg.out)
    _prepare_out(out)
    save_config(cfg, out / _MARKER)
    res = DemoResult(out, {s: StageResult(s) for s in STAGES})
    ctx: dict[str, Any] = {"cfg": cfg, "out": out}
    steps: dict[str, Callable[[dict[str, Any]], str]] = {
        "generate": _generate, "train": _train, "evaluate": _evaluate, "video": _video,
        "predict": _predict, "report": _report,
    }
    for name in STAGES:
        st = res.stages[name]
        blocked = [d for d in _DEPENDS[name] if res.stages[d].status != "ok"]
        if blocked:
            st.status, st.message = "skipped", f"needs stage(s) {', '.join(blocked)}"
            log.warning("demo stage %s skipped: %s", name, st.message)
            continue
        missing = missing_parts(name)
        if missing:
            st.status = "missing"
            st.message = f"this checkout lacks {', '.join(missing)}"
            log.warning("demo stage %s cannot run: %s", name, st.message)
            continue
        if name == "report":
            ctx["result"] = res
            res.seconds = time.perf_counter() - t_start
        t0 = time.perf_counter()
        try:
            st.message = steps[name](ctx) or ""
            st.status = "ok"
        except Exception as exc:  # a failing stage is reported, the others still run
            st.status = "failed"
            st.message = f"{type(exc).__name__}: {exc}"
            ctx.setdefault("tracebacks", {})[name] = traceback.format_exc()
            log.error("demo stage %s failed: %s", name, st.message)
            log.debug("%s", ctx["tracebacks"][name])
        st.seconds = time.perf_counter() - t0
        log.info("demo stage %s: %s in %.1f s %s", name, st.status, st.seconds, st.message)
    res.numbers = ctx.get("numbers", {})
    res.report = ctx.get("report_path")
    res.seconds = time.perf_counter() - t_start
    if res.report is not None:  # final timings into the report
        ctx["result"] = res
        _report(ctx)
    from pain3d.io import atomic_write_json

    atomic_write_json(out / "summary.json", {
        "seconds": round(res.seconds, 1),
        "stages": {k: dataclasses.asdict(v) for k, v in res.stages.items()},
        "numbers": res.numbers}, default=str)
    return res


# ----------------------------------------------------------------------------- stages

def _gen_config(cfg: DemoConfig):
    from pain3d.synth.spec import GenerateConfig

    return GenerateConfig(identities=cfg.identities, per_identity=cfg.per_identity,
                          views=cfg.views, size=cfg.image_size, seed=cfg.seed,
                          renderer=cfg.renderer, split_fractions=(0.6, 0.2, 0.2),
                          jpeg_quality=92)


def _generate(ctx: dict[str, Any]) -> str:
    import cv2

    from pain3d.io import atomic_write_bytes
    from pain3d.synth.generate import RunOptions, generate
    from pain3d.synth.inspect import contact_sheet
    from pain3d.synth.manifest import read_manifest

    cfg: DemoConfig = ctx["cfg"]
    out: Path = ctx["out"]
    gen = _gen_config(cfg)
    data = out / "data"
    summary = generate(gen, RunOptions(out=data, workers=cfg.workers, progress=False))
    rows = read_manifest(data).to_dict("records")
    sheet = contact_sheet(data, rows, identities=4, tile=112)
    atomic_write_bytes(out / "dataset_sheet.png", cv2.imencode(".png", sheet)[1].tobytes())
    splits = {s: len({r["identity"] for r in rows if r["split"] == s})
              for s in ("train", "val", "test")}
    ctx["gen"], ctx["data"], ctx["rows"] = gen, data, rows
    ctx.setdefault("numbers", {})["dataset"] = {
        "images": summary.images, "heatmaps": summary.heatmaps, "identities": cfg.identities,
        "identities_by_split": splits, "images_per_s": round(summary.images_per_s, 1),
        "seconds": round(summary.seconds, 1)}
    return (f"{summary.images} images, {summary.heatmaps} heatmaps, identities "
            f"{splits['train']} train / {splits['val']} val / {splits['test']} test")


def train_config(cfg: DemoConfig, data: Path, run_dir: Path) -> Any:
    """The ``pain3d.train.TrainConfig`` of the demo's training stage: the tiny CPU recipe
    (:func:`pain3d.train.presets.tiny_config`) with the demo's own settings."""
    from pain3d.train.presets import tiny_config

    return tiny_config(
        data, run_dir, name="demo", resume=False, data__kind="synthetic",
        data__include_neutral=cfg.include_neutral,
        model__image_size=cfg.model_size, model__encoder_mode=cfg.encoder_mode,
        model__train_backbone=cfg.train_backbone, model__lora__rank=cfg.lora_rank,
        model__lora__alpha=2.0 * max(cfg.lora_rank, 1),
        model__lora__targets=list(cfg.lora_targets),
        optim__lr_heads=cfg.lr_heads, optim__lr_lora=cfg.lr_lora,
        optim__min_lr=cfg.lr_heads / 20,
        trainer__epochs=cfg.epochs, trainer__batch_size=cfg.batch_size,
        trainer__seed=cfg.seed + 42, trainer__augment=cfg.augment)


def _train(ctx: dict[str, Any]) -> str:
    from pain3d.train.recipes import pretrain

    cfg: DemoConfig = ctx["cfg"]
    tc = train_config(cfg, ctx["data"], ctx["out"] / "run")
    result = pretrain(tc)
    ctx["run"] = result
    ctx["run_size"] = int(result_size(result.checkpoint_dir))
    ctx.setdefault("numbers", {})["training"] = {
        "epochs": cfg.epochs, "checkpoint": str(result.checkpoint_dir)}
    return f"tiny ViTPain trained {cfg.epochs} epochs; checkpoint {result.checkpoint_dir}"


def result_size(checkpoint: Path) -> int:
    """Input size of a saved checkpoint (from its config.json preprocessing)."""
    from pain3d.model import read_checkpoint_config

    return int(read_checkpoint_config(checkpoint)["preprocessing"]["size"])


def _evaluate(ctx: dict[str, Any]) -> str:
    from pain3d.demo.baseline import pixel_difference_baseline
    from pain3d.evaluate.report import evaluate_run

    report = evaluate_run(ctx["run"].run_dir)
    ctx["eval"] = report
    ref = report.scores.primary
    summary = {k: v["mean"] for k, v in ref.summary.items()}
    numbers = ctx.setdefault("numbers", {})
    numbers["test_metrics"] = {"reference": ref.reference,
                               **{k: _r(v) for k, v in summary.items()}}
    base = pixel_difference_baseline(ctx["data"], size=ctx["run_size"], seed=ctx["cfg"].seed)
    numbers["baseline"] = {k: _r(v) for k, v in base.items()}
    return (f"held-out identities: ViTPain MAE {_fmt(summary.get('mae'))}, PCC "
            f"{_fmt(summary.get('pcc'))}; pixel-difference ridge baseline MAE "
            f"{_fmt(base['mae'])}, PCC {_fmt(base['pcc'])}; constant MAE "
            f"{_fmt(base['mae_constant'])}")


def _video(ctx: dict[str, Any]) -> str:
    from pain3d.demo.video import VideoPlan, render_video_frames, write_truth
    from pain3d.infer.video import write_video
    from pain3d.synth.spec import build_plan

    cfg: DemoConfig = ctx["cfg"]
    gen = ctx["gen"]
    test_ids = [u.identity.index for u in build_plan(gen).units if u.identity.split == "test"]
    if not test_ids:
        raise ValueError("the dataset has no test identity to film; raise --identities")
    ident = test_ids[0]
    plan = VideoPlan(fps=cfg.video_fps)
    frames = render_video_frames(dataclasses.replace(gen, renderer="builtin"), ident, plan,
                                 cfg.video_size)
    path = write_video(ctx["out"] / "video" / "pain_video.mp4", frames, fps=plan.fps)
    write_truth(ctx["out"] / "video" / "truth.csv", plan)
    ctx["video"] = {"path": path, "plan": plan, "identity": ident, "frames": frames}
    ctx.setdefault("numbers", {})["video"] = {
        "identity": ident, "split": "test", "frames": len(frames), "fps": plan.fps,
        "seconds": plan.seconds, "peak_pspi": float(plan.pspi().max())}
    return f"{len(frames)} frames of test identity {ident} ({plan.seconds:g} s, {plan.fps:g} fps)"


def _predict(ctx: dict[str, Any]) -> str:
    from pain3d.evaluate.metrics import mae, pcc
    from pain3d.infer import PredictConfig, Predictor
    from pain3d.infer.pipeline import summarise, write_table
    from pain3d.infer.video import plot_timeline

    v = ctx["video"]
    plan = v["plan"]
    vdir: Path = ctx["out"] / "video"
    pcfg = PredictConfig(n_references=3, reference_seconds=min(2.0, plan.neutral_s))
    predictor = Predictor.from_checkpoint(ctx["run"].checkpoint_dir, pcfg)
    try:
        res = predictor.predict_video(v["path"])
        crops = {i: predictor.align(v["frames"][i]).crop for i in _strip_frames(len(v["frames"]))}
    finally:
        predictor.close()
    truth = plan.pspi()
    df = res.frames.copy()
    df["true_pspi"] = truth[df["frame"].to_numpy()]
    write_table(df, vdir / "frames.csv")
    plot_timeline(res.frames, ctx["out"] / "timeline.png", truth=(plan.times(), truth),
                  title=f"demo video: test identity {v['identity']}")
    ok = df["pspi"].notna().to_numpy()
    nums = {**summarise(res)}
    if ok.sum() >= 2:
        nums.update(mae=_r(mae(df.loc[ok, "pspi"], df.loc[ok, "true_pspi"])),
                    pcc=_r(pcc(df.loc[ok, "pspi"], df.loc[ok, "true_pspi"])))
    ctx["predict"] = {"frames": df, "crops": crops, "result": res}
    ctx.setdefault("numbers", {})["video_prediction"] = nums
    return (f"{int(ok.sum())}/{len(df)} frames predicted at "
            f"{nums['frames_per_second_processed']} frames/s; MAE vs true PSPI "
            f"{_fmt(nums.get('mae'))}, PCC {_fmt(nums.get('pcc'))}")


def _report(ctx: dict[str, Any]) -> str:
    from pain3d.demo.report import write_demo_report

    ctx["report_path"] = write_demo_report(ctx)
    return str(ctx["report_path"])


def _strip_frames(n: int, k: int = 8) -> list[int]:
    return sorted({int(i) for i in np.linspace(0, n - 1, min(k, n))})


def _r(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return round(f, 4) if np.isfinite(f) else None


def _fmt(v: Any) -> str:
    return "n/a" if v is None or not np.isfinite(float(v)) else f"{float(v):.3f}"
