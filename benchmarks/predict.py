"""Frames per second of video inference on CPU: detection, alignment, model, end to end.

Builds a short 640x480 video of a real face (matplotlib's bundled portrait, moving a little)
and times each stage of ``pain3d predict`` on it with randomly initialised ViTPain presets
(speed does not depend on the weights). The model is prepared as for a checkpoint
(``pain3d.model.prepare_for_inference``: merged LoRA; ``--dtype bfloat16`` for the bf16
backbone) and the process keeps freed memory (``keep_freed_memory``).

    .venv/bin/python benchmarks/predict.py [--frames 60] [--presets tiny,small] [--threads 2]
    .venv/bin/python benchmarks/predict.py --quick     # < 1 min: 24 frames, small, one table
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _video(path: Path, frames: int) -> Path:
    import cv2
    import matplotlib

    from pain3d.infer.video import write_video

    img = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    face = cv2.resize(img, (320, 375))
    out = []
    for k in range(frames):
        canvas = np.full((480, 640, 3), 80, np.uint8)
        dx = int(100 + 60 * np.sin(k / 10))
        canvas[50:425, dx:dx + 320] = face
        out.append(canvas)
    return write_video(path, out, fps=25.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--presets", default="tiny,small")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--quick", action="store_true", help="24 frames of the small preset")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.presets = 24, "small"

    import logging

    import torch

    from pain3d.infer import PredictConfig, Predictor
    from pain3d.infer.align import align_face
    from pain3d.infer.video import iter_video_frames
    from pain3d.model import build_model, keep_freed_memory, prepare_for_inference

    logging.basicConfig(level=logging.WARNING)
    keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    video = _video(tmp / "bench.avi", args.frames)
    frames = [f for _, _, f in iter_video_frames(video)]
    rows = []

    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        torch.manual_seed(0)
        model = prepare_for_inference(build_model(preset=preset), args.dtype)
        pred = Predictor(model, PredictConfig(batch_size=args.batch_size))
        size = pred.size
        det = pred.detector
        det(frames[0])  # warm up mediapipe graphs
        t = time.perf_counter()
        faces = [det(f)[0] for f in frames]
        t_det = time.perf_counter() - t
        t = time.perf_counter()
        crops = [align_face(f, fc.landmarks, size) for f, fc in zip(frames, faces, strict=True)]
        t_align = time.perf_counter() - t
        tokens = pred.encode_crops(crops[:1])
        pred.predict_crops(crops[: args.batch_size], tokens)  # warm up
        t = time.perf_counter()
        pred.predict_crops(crops, tokens)
        t_model = time.perf_counter() - t
        t = time.perf_counter()
        res = pred.predict_video(video)
        t_e2e = time.perf_counter() - t
        n = len(frames)
        rows.append((preset, size, n / t_det, n / t_align, n / t_model, len(res.frames) / t_e2e))
        pred.close()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()}, torch {torch.__version__}")
    print(f"video: {args.frames} frames 640x480 (AVI/MJPG), one face; model batch "
          f"{args.batch_size}, {args.dtype}, merged LoRA; random weights; load average "
          f"{os.getloadavg()[0]:.1f} (shared machines give pessimistic, noisy numbers)")
    print("frames per second (higher is better):")
    print(f"{'preset':8s} {'input':>5s} {'detect+mesh':>11s} {'align':>9s} {'model':>8s} "
          f"{'end-to-end':>10s}")
    for preset, size, d, a, m, e in rows:
        print(f"{preset:8s} {size:5d} {d:11.1f} {a:9.0f} {m:8.1f} {e:10.1f}")
    print("end-to-end = pain3d predict on the video: decode, detect, landmarks, align, model, "
          "reference choice; shared/loaded machines give pessimistic numbers.")


if __name__ == "__main__":
    main()
