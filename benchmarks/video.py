"""Video benchmark: ``pain3d predict`` on a 1,000-frame video with the face tracker in the loop.

    .venv/bin/python benchmarks/video.py            # 1,000 frames; tiny and small; follow on/off
    .venv/bin/python benchmarks/video.py --quick    # 250 frames, tiny, follow on (make bench)
    .venv/bin/python benchmarks/video.py --presets small --follow on --dtype bfloat16
    .venv/bin/python benchmarks/video.py --presets small --follow on --fuse on,off --rounds 2

The video is made here, no downloads: a generated identity (the demo video's renderer,
:func:`pain3d.demo.video.render_video_frames`) turns its head while pain rises and falls;
its rendered frames are played back and forth on a 640x480 canvas, the face drifting
across it, to the requested length (AVI/MJPG at 25 fps). Each run is the real command,
``python -m pain3d predict VIDEO --checkpoint CKPT --out DIR``, in its own process, on a
randomly initialised checkpoint of the preset (speed does not depend on the weights).

Reported per run: frames/s as the command's own summary says (``frames_per_second_processed``:
decode, detection or following, landmarks, alignment, reference choice, model), the
process's wall seconds (imports and model load included) and its CPU seconds per frame (the
better number on a loaded machine). ``follow`` on is the default of ``pain3d predict``
(``DetectConfig.follow``: the face is followed by its landmarks, the detector runs every
``redetect_every`` frames and when the face is lost); off runs the detector on every frame.
``fuse`` on is the default too (``PredictConfig.fuse``: the fused CPU backbone forward of
:mod:`pain3d.model.fused`); off runs transformers' eager forward. With ``--rounds`` the runs
alternate, round after round, so that compared settings share the machine's load.
Target (issue 16): >= 10 frames/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_FPS = 10.0
CANVAS = (480, 640)  # H, W


def make_video(path: Path, frames: int, face_px: int = 256) -> Path:
    """A ``frames``-long 640x480 AVI of a generated face (see the module docstring)."""
    from pain3d.demo.video import VideoPlan, render_video_frames
    from pain3d.infer.video import write_video
    from pain3d.synth.config import GenerateConfig

    plan = VideoPlan(fps=8.0, neutral_s=2.0, rise_s=1.5, hold_s=1.0, tail_s=1.0, sway_deg=15.0)
    faces = render_video_frames(GenerateConfig(identities=1, seed=3), 0, plan, face_px)
    cycle = faces + faces[-2:0:-1]  # back and forth: no jump between loops
    h, w = CANVAS
    out = []
    for k in range(frames):
        canvas = np.full((h, w, 3), 70, np.uint8)
        x = int((w - face_px) / 2 + (w - face_px) / 2.5 * np.sin(2 * np.pi * k / 400))
        y = int((h - face_px) / 2 + 30 * np.sin(2 * np.pi * k / 170))
        canvas[y:y + face_px, x:x + face_px] = cycle[k % len(cycle)]
        out.append(canvas)
    return write_video(path, out, fps=25.0)


def make_checkpoint(preset: str, directory: Path) -> Path:
    import torch

    from pain3d.model import build_model, save_checkpoint

    torch.manual_seed(0)
    return save_checkpoint(build_model(preset=preset), directory, include_backbone=True)


def run_predict(video: Path, ckpt: Path, out: Path, follow: bool, dtype: str,
                fuse: bool = True) -> dict:
    """One ``pain3d predict`` process: its summary, wall and CPU seconds."""
    cfg = out.parent / f"{out.name}.yaml"
    cfg.write_text(f"dtype: {dtype}\nfuse: {str(fuse).lower()}\n"
                   f"detect:\n  follow: {str(follow).lower()}\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pain3d", "predict", str(video),
                           "--checkpoint", str(ckpt), "--out", str(out), "--config", str(cfg)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"pain3d predict failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads((out / "summary.json").read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"frames": summary["frames"], "with_face": summary["frames_with_prediction"],
            "fps": summary["frames_per_second_processed"], "process_s": wall, "cpu_s": cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--presets", default="tiny,small")
    ap.add_argument("--follow", default="on,off", help="on, off or on,off")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                    help="PredictConfig.dtype (the backbone's; merged LoRA either way)")
    ap.add_argument("--fuse", default="on", help="fused CPU forward: on, off or on,off")
    ap.add_argument("--rounds", type=int, default=1, help="every setting runs this often")
    ap.add_argument("--quick", action="store_true", help="250 frames, tiny, follow on")
    ap.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.presets, args.follow = 250, "tiny", "on"
    presets = [p for p in args.presets.split(",") if p]
    follows = [f == "on" for f in args.follow.split(",") if f]
    fuses = [f == "on" for f in args.fuse.split(",") if f]
    rows = []
    with tempfile.TemporaryDirectory(prefix="pain3d_video_") as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        video = make_video(tmp / "clip.avi", args.frames)
        made_s = time.perf_counter() - t0
        ckpts = {p: make_checkpoint(p, tmp / f"ckpt-{p}") for p in presets}
        for k in range(args.rounds):
            for preset in presets:
                for follow in follows:
                    for fuse in fuses:
                        out = tmp / f"out-{preset}-{follow}-{fuse}-{k}"
                        r = run_predict(video, ckpts[preset], out, follow, args.dtype, fuse)
                        rows.append({"preset": preset, "follow": follow, "fuse": fuse,
                                     "frames": r["frames"], "with_face": r["with_face"],
                                     "fps": r["fps"], "process_s": r["process_s"],
                                     "cpu_ms_per_frame": 1000 * r["cpu_s"] / args.frames,
                                     "load": os.getloadavg()[0],
                                     "pass": r["fps"] >= TARGET_FPS
                                     and r["frames"] == args.frames})
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
          f"video {args.frames} frames 640x480 AVI/MJPG (made in {made_s:.0f} s); "
          f"pain3d predict per run, {args.dtype}, random weights")
    print(f"{'preset':<7} {'follow':<6} {'fuse':<4} {'frames':>6} {'predicted':>9} "
          f"{'frames/s':>8} {'process s':>9} {'CPU ms/frame':>12} {'load':>5}")
    for r in rows:
        print(f"{r['preset']:<7} {'on' if r['follow'] else 'off':<6} "
              f"{'on' if r['fuse'] else 'off':<4} {r['frames']:>6} {r['with_face']:>9} "
              f"{r['fps']:>8.1f} {r['process_s']:>9.1f} {r['cpu_ms_per_frame']:>12.1f} "
              f"{r['load']:>5.1f}")
    print(f"target: >= {TARGET_FPS:.0f} frames/s (frames/s = the command's own summary; "
          "process s adds imports and model load). Shared machines give pessimistic numbers.")
    if args.json:
        def name(r: dict) -> str:
            return (f"{r['preset']} {args.dtype} follow {'on' if r['follow'] else 'off'}"
                    f"{'' if r['fuse'] else ' unfused'}")

        metrics = [{"metric": f"{name(r)} frames/s",
                    "value": round(r["fps"], 2), "target": f">= {TARGET_FPS:.0f}",
                    "pass": r["pass"]} for r in rows]
        # CPU seconds of the whole process (imports and model load too) on one core: a lower
        # bound of the rate on idle cores that other jobs disturb little.
        metrics += [{"metric": f"{name(r)} frames/s on 1 idle core "
                               f"(from CPU ms/frame {r['cpu_ms_per_frame']:.0f})",
                     "value": round(1000 / r["cpu_ms_per_frame"], 1),
                     "target": f">= {TARGET_FPS:.0f}",
                     "pass": 1000 / r["cpu_ms_per_frame"] >= TARGET_FPS} for r in rows]
        args.json.write_text(json.dumps({"benchmark": "video", "load": load, "rows": rows,
                                         "metrics": metrics}, indent=1))


if __name__ == "__main__":
    main()
