"""``<out>/report.html`` of the demo: one self-contained page (PNG images embedded).

Sections: what ran (stages, times, machine), the dataset (contact sheet with heatmaps), the
training curve, the held-out evaluation (metrics table and the evaluation plots), the video
(timeline of predicted vs true PSPI and a frame strip with aligned crops), limitations.
Stages that did not run are shown as such.
"""

from __future__ import annotations

import base64
import html
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from pain3d.demo.config import DemoConfig, DemoContext, DemoResult
from pain3d.demo.photos import photo_section
from pain3d.io import atomic_write_bytes, atomic_write_text

_CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:24px auto;padding:0 16px;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0}
h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}
th{background:#f4f4f4}.ok{color:#187a2f;font-weight:600}.missing,.failed{color:#b00020;font-weight:600}
.skipped{color:#946200;font-weight:600}img{max-width:100%;border:1px solid #eee;margin:6px 0}
.grid{display:flex;flex-wrap:wrap;gap:10px}.grid figure{margin:0;flex:1 1 320px}
figcaption{font-size:.85em;color:#555}.note{background:#fff8e1;border-left:4px solid #f0b400;
padding:8px 12px}code{background:#f4f4f4;padding:1px 4px}
"""


def _img(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return f"<p><em>({html.escape(alt)}: not produced)</em></p>"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...] | None = None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return html.escape(str(v))
    if not np.isfinite(f):
        return "n/a"
    return f"{f:.{digits}f}"


def training_curve(run_dir: Path, path: Path) -> Path | None:
    """Training loss and validation MAE per epoch from the run's Lightning CSV log."""
    import pandas as pd

    logs = sorted(Path(run_dir).glob("logs/*/metrics.csv"))
    if not logs:
        return None
    df = pd.concat([pd.read_csv(p) for p in logs], ignore_index=True)
    if "epoch" not in df:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=110)
    drawn = False
    for col, colour, label in (("train/loss_epoch", "tab:blue", "training loss"),
                               ("val/loss", "tab:orange", "validation loss")):
        if col in df:
            s = df.dropna(subset=[col]).groupby("epoch")[col].mean()
            if len(s):
                ax.plot(s.index + 1, s.values, "o-", color=colour, label=label, ms=3)
                drawn = True
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if "val/mae" in df:
        s = df.dropna(subset=["val/mae"]).groupby("epoch")["val/mae"].mean()
        if len(s):
            ax2 = ax.twinx()
            ax2.plot(s.index + 1, s.values, "s--", color="tab:red", label="val MAE (PSPI)", ms=3)
            ax2.set_ylabel("validation MAE (PSPI)")
            ax2.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, frameon=False, ncol=2)
    fig.suptitle("training (val = held-out validation identities)", fontsize=9, y=0.99)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def frame_strip(frames: list[np.ndarray], crops: dict[int, np.ndarray | None], table,
                path: Path, tile: int = 128) -> Path:
    """Selected video frames (top) and their aligned crops (bottom) with predicted / true PSPI."""
    import cv2

    cols = []
    for i, crop in sorted(crops.items()):
        top = cv2.resize(frames[i], (tile, tile), interpolation=cv2.INTER_AREA)
        bot = (cv2.resize(crop, (tile, tile), interpolation=cv2.INTER_AREA) if crop is not None
               else np.full((tile, tile, 3), 30, np.uint8))
        row = table.loc[table["frame"] == i].iloc[0]
        pred = "none" if not np.isfinite(row["pspi"]) else f"{row['pspi']:.1f}"
        label = np.full((34, tile, 3), 255, np.uint8)
        cv2.putText(label, f"t={row['time_s']:.1f}s true {row['true_pspi']:.1f}", (3, 13),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(label, f"pred {pred}" + (" (ref)" if row["is_reference"] else ""), (3, 28),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.36, (180, 0, 0), 1, cv2.LINE_AA)
        cols.append(np.concatenate([top, bot, label], axis=0))
    strip = np.concatenate(cols, axis=1)
    atomic_write_bytes(path, cv2.imencode(".png", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))[1]
                       .tobytes())
    return path


def write_demo_report(ctx: DemoContext) -> Path:
    """Write ``<out>/report.html`` from the demo context (see :mod:`pain3d.demo.run`)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>pain3d demo</title>"
             f"<style>{_CSS}</style></head><body>", "<h1>pain3d demo report</h1>",
             *_stages_section(ctx.result), *_dataset_section(ctx), *_training_section(ctx),
             *_metrics_section(ctx), *_video_section(ctx), *photo_section(ctx, _img),
             _limitations(ctx.cfg)]
    if ctx.tracebacks:
        parts.append("<h2>Errors</h2>")
        for name, tb in ctx.tracebacks.items():
            parts.append(f"<h3>{html.escape(name)}</h3><pre>{html.escape(tb)}</pre>")
    parts.append("</body></html>")
    path = ctx.out / "report.html"
    atomic_write_text(path, "\n".join(p for p in parts if p))
    return path


def _stages_section(res: DemoResult | None) -> list[str]:
    """The machine line, what the numbers are, and the table of stages."""
    import torch

    from pain3d import __version__

    parts = [f"<p>pain3d {__version__} &middot; {html.escape(platform.platform())} &middot; "
             f"{os.cpu_count()} CPU cores &middot; torch {torch.__version__} &middot; "
             f"total {res.seconds:.0f} s</p>" if res else "",
             "<p>Everything below was produced by this run from nothing: a synthetic "
             "dataset from pain3d's built-in generator, a <b>tiny</b> ViTPain trained on "
             "the CPU for a few epochs from a <b>randomly initialised</b> backbone (no "
             "pretrained DINOv3 weights), evaluated on identities it never saw. The "
             "numbers are real and modest by design: they show the pipeline working and "
             "learning, not the accuracy of a full model.</p>"]
    if res:
        rows = [(s.name, f"<span class='{s.status}'>{s.status}</span>", f"{s.seconds:.1f}",
                 html.escape(s.message)) for s in res.stages.values()]
        parts += ["<h2>Stages</h2>", _table(rows, ("stage", "status", "seconds", "result"))]
        bad = [s for s in res.stages.values() if s.status != "ok" and s.name != "report"]
        if bad:
            parts.append("<p class='note'>Not every stage ran: "
                         + "; ".join(f"<b>{s.name}</b> {s.status} ({html.escape(s.message)})"
                                     for s in bad) + ". Their sections are left empty.</p>")
    return parts


def _dataset_section(ctx: DemoContext) -> list[str]:
    parts = ["<h2>1. Synthetic dataset</h2>"]
    ds, cfg = ctx.numbers.get("dataset"), ctx.cfg
    if ds:
        sp = ds["identities_by_split"]
        parts.append(f"<p>{ds['images']} images ({cfg.views} view(s), {cfg.image_size} px) and "
                     f"{ds['heatmaps']} pain heatmaps of {ds['identities']} identities, split by "
                     f"identity: {sp['train']} train, {sp['val']} val, {sp['test']} test; "
                     f"generated in {ds['seconds']} s ({ds['images_per_s']} images/s). Each row "
                     "below: one identity's neutral face then its pain configurations by PSPI; "
                     "under each, the heatmap of the vertex displacement neutral &rarr; pain.</p>")
        parts.append(_img(ctx.out / "dataset_sheet.png", "contact sheet with heatmaps"))
    return parts


def _training_section(ctx: DemoContext) -> list[str]:
    parts = ["<h2>2. Training and held-out evaluation</h2>"]
    cfg = ctx.cfg
    if ctx.run is not None:
        curve = training_curve(ctx.run.run_dir, ctx.out / "training_curve.png")
        bb = ("randomly initialised backbone trained whole" if cfg.train_backbone else
              f"frozen random backbone + LoRA rank {cfg.lora_rank}")
        neu = ("neutral references also trained on as PSPI-0 samples" if cfg.include_neutral
               else "neutral references used only as references")
        if cfg.reference_variation and cfg.neutral_sessions:
            neu += (f", {cfg.neutral_sessions} neutral session(s) per identity and view as "
                    "PSPI-0 samples")
        parts.append(f"<p>Tiny ViTPain ({bb}, {cfg.model_size} px input, {neu}, "
                     f"{cfg.encoder_mode} encoder, reference cross-attention, PSPI/AU/binary "
                     f"heads), {cfg.epochs} epochs, "
                     f"batch {cfg.batch_size}, on CPU. The epoch is chosen on the validation "
                     "identities; the test identities are used only below.</p>")
        parts.append(_img(curve, "training curve"))
    return parts


_METRIC_NAMES = {"mae": "MAE (PSPI)", "rmse": "RMSE", "pcc": "Pearson r", "icc": "ICC(3,1)",
                 "auroc_1": "AUROC PSPI&ge;1", "auroc_2": "AUROC PSPI&ge;2",
                 "auroc_3": "AUROC PSPI&ge;3", "f1_1": "F1 PSPI&ge;1", "f1_2": "F1 PSPI&ge;2",
                 "f1_3": "F1 PSPI&ge;3", "f1_macro": "macro F1"}


def _metrics_section(ctx: DemoContext) -> list[str]:
    """Held-out metrics of ViTPain beside the baselines, the verdict, and the plots."""
    parts: list[str] = []
    tm, cmp_, ds = (ctx.numbers.get(k) for k in ("test_metrics", "comparison", "dataset"))
    if tm:
        n_test = ds["identities_by_split"]["test"] if ds else "?"
        sessions = (f"{ctx.cfg.neutral_sessions} neutral session(s) per identity and view "
                    "(separate neutral captures, PSPI 0) beside its pain images"
                    if ctx.cfg.reference_variation and ctx.cfg.neutral_sessions else
                    "its pain images only (no PSPI-0 test samples)")
        parts.append(f"<p>Test split: {n_test} held-out identities, {sessions}, each compared "
                     "with the neutral reference of the same identity and view (scored as "
                     f"<code>{html.escape(str(tm['reference']))}</code>)"
                     + (", a separate capture with its own head pose, light and camera"
                        if ctx.cfg.reference_variation else "") +
                     ". F1 thresholds are calibrated on each model's own training predictions "
                     "(honest protocol).</p>")
        if cmp_:
            names = [k for k in ("vitpain", "ridge", "constant") if k in cmp_]
            rows = [(_METRIC_NAMES.get(k, k), *[_num(cmp_[n].get(k)) + (
                        " (by definition)" if (n, k) == ("constant", "auroc_1") else "")
                for n in names]) for k in ("mae", "pcc", "auroc_1", "f1_1")]
            parts.append(_table(rows, ("metric", *[_SYSTEMS[n] for n in names])))
            parts.append("<p>The <i>pixel-difference ridge</i> regresses PSPI on the pooled "
                         "absolute difference between each image and its neutral reference "
                         "and ranks frames by its predicted PSPI; the <i>constant</i> predicts "
                         "the training mean (AUROC 0.5, Pearson r undefined) "
                         "(<code>pain3d.demo.baseline</code>).</p>")
        rest = [(_METRIC_NAMES.get(k, html.escape(k)), _num(v)) for k, v in tm.items()
                if k in _METRIC_NAMES and k not in ("mae", "pcc", "auroc_1", "f1_1")]
        parts.append("<p>More ViTPain metrics on the same samples:</p>"
                     + _table(rest, ("metric", "ViTPain (tiny)")))
        parts.append(_verdict(tm, cmp_))
        if tm.get("auroc_1") is None:
            parts.append("<p class='note'>The test samples hold no PSPI-0 frame, so PSPI&ge;1 "
                         "detection is not measured (AUROC/F1 at PSPI&ge;1 n/a): generate "
                         "with neutral sessions (<code>neutral_sessions</code>).</p>")
    ev = ctx.eval
    if ev is not None:
        figs = "".join(f"<figure>{_img(p, k)}<figcaption>{html.escape(k)}</figcaption></figure>"
                       for k, p in ev.plots.items())
        parts.append(f"<div class='grid'>{figs}</div>")
        parts.append(f"<p>Full evaluation report: <code>{html.escape(str(ev.html))}</code></p>")
    return parts


_SYSTEMS = {"vitpain": "ViTPain (tiny)", "ridge": "pixel-difference ridge",
            "constant": "constant (training mean)"}


def _verdict(tm: dict[str, Any], cmp_: dict[str, Any] | None) -> str:
    r, m = tm.get("pcc"), tm.get("mae")
    ridge = (cmp_ or {}).get("ridge") or {}
    if r is None or r < 0.2:
        return ("<p class='note'><b>Verdict:</b> in this run the tiny ViTPain did "
                f"<b>not</b> learn to rank pain on new identities (Pearson r = {_num(r)}, "
                f"MAE {_num(m)}). A tiny randomly initialised backbone trained for a few "
                "hundred CPU steps on a few hundred images can fail this way; this is not a "
                "result about ViTPain.</p>")
    text = (f"<p><b>Verdict:</b> the tiny ViTPain learned a usable ranking on new identities "
            f"(Pearson r = {_num(r)}, MAE {_num(m)}, AUROC PSPI&ge;1 {_num(tm.get('auroc_1'))})")
    if ridge:
        beats = [name for key, name, better in (("mae", "MAE", lambda a, b: a < b),
                                                ("pcc", "Pearson r", lambda a, b: a > b))
                 if m is not None and ridge.get(key) is not None
                 and better(tm.get(key), ridge[key])]
        text += ("; it beats the pixel-difference ridge on " + " and ".join(beats) if beats
                 else "; it does <b>not</b> beat the pixel-difference ridge on MAE or Pearson r")
    return text + ".</p>"


def _video_section(ctx: DemoContext) -> list[str]:
    parts = ["<h2>3. Video: neutral &rarr; pain &rarr; neutral</h2>"]
    vn, pn = ctx.numbers.get("video"), ctx.numbers.get("video_prediction")
    if vn:
        parts.append(f"<p>{vn['frames']} frames ({vn['seconds']:g} s at {vn['fps']:g} fps) of "
                     f"held-out test identity {vn['identity']}, rendered with continuous AU "
                     f"intensities rising to PSPI {vn['peak_pspi']:g} and back, the head turning "
                     "slightly. File: <code>video/pain_video.mp4</code>.</p>")
    if not pn:
        return parts
    parts.append("<p>Run through <code>pain3d predict</code>: mediapipe face detection, "
                 "478 landmarks, alignment to the training crop geometry, reference frames "
                 "chosen without labels (lowest landmark expression energy in the first "
                 f"seconds: frames {pn['reference_frames']}), the checkpoint above. "
                 f"{pn['frames_with_prediction']} of {pn['frames']} frames predicted, "
                 f"{pn['frames_per_second_processed']} frames/s end to end.</p>")
    parts.append(_table([("MAE vs true PSPI", _num(pn.get("mae"))),
                         ("Pearson r vs true PSPI", _num(pn.get("pcc"))),
                         (f"mean P(PSPI&ge;1), {pn.get('n_neutral_frames', '?')} truly neutral "
                          "frames", _num(pn.get("pain_prob_neutral_frames"))),
                         (f"mean P(PSPI&ge;1), {pn.get('n_neutral_unseen_frames', '?')} "
                          "of them not reference frames",
                          _num(pn.get("pain_prob_neutral_unseen_frames"))),
                         (f"mean P(PSPI&ge;1), {pn.get('n_pain_frames', '?')} frames with "
                          "PSPI&ge;1", _num(pn.get("pain_prob_pain_frames"))),
                         ("mean predicted PSPI", _num(pn.get("pspi_mean"))),
                         ("max predicted PSPI", _num(pn.get("pspi_max")))],
                        ("video metric", "value")))
    parts.append(_img(ctx.out / "timeline.png", "predicted vs true PSPI over time"))
    if ctx.frames is not None:
        y = ctx.frames["pspi"].to_numpy(dtype=float)
        if np.isfinite(y).sum() > 1 and np.nanstd(y) < 0.5:
            parts.append("<p class='note'>The predicted timeline is flat (standard "
                         f"deviation {np.nanstd(y):.2f} PSPI): the model of this run "
                         "predicts nearly the same value for every face (see the verdict "
                         "above). The detection, alignment, reference choice and per-frame "
                         "table work; the model does not yet.</p>")
        strip = frame_strip(ctx.video_frames, ctx.crops, ctx.frames, ctx.out / "video_strip.png")
        parts.append("<p>Frames (top), the aligned crops the model saw (middle), predicted "
                     "and true PSPI (bottom; <i>ref</i> = a reference frame).</p>")
        parts.append(_img(strip, "video frames and aligned crops"))
    return parts


def _limitations(cfg: DemoConfig) -> str:
    return ("<h2>Limitations</h2><ul>"
            "<li>The backbone is randomly initialised and tiny; with real DINOv3 weights "
            "(<code>model.backbone_weights</code>) and the published 150 epochs on "
            "82,500 images the model is a different thing. These numbers show the pipeline "
            "learning on a few hundred synthetic faces, not the accuracy of ViTPain.</li>"
            "<li>Train and test faces come from the same built-in generator; accuracy on "
            "synthetic faces says nothing about real patients. Real-data evaluation "
            "(UNBC-McMaster, <code>pain3d cv</code>) is the measure that matters.</li>"
            "<li>The video's reference frames are chosen without labels; a face already in "
            "pain during the first seconds would bias every prediction.</li>"
            + ("<li>PSPI-0 samples are the neutral sessions: separate neutral captures of "
               "the same synthetic face with small pose, light and camera changes. Real "
               "neutral faces also talk, blink and move in ways no session here shows.</li>"
               if cfg.reference_variation and cfg.neutral_sessions else
               "<li>No neutral sessions: the test split has no PSPI-0 sample, so detecting "
               "PSPI&ge;1 is not measured.</li>") +
            "<li>Training crops are the generator's full renders; at inference faces are "
            "cropped with mediapipe landmarks (<code>pain3d.data.align</code>), which "
            "frames the face about 1.2&times; tighter (compare the two rows of the video "
            "strip).</li></ul>")
