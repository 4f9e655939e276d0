"""Does the demo video's head sway make its false alarms? The demo's video, rendered again with
the yaw sway mirrored and off, predicted with the demo's checkpoint.

    .venv/bin/python scripts/video_sway.py                 # the demo in ./demo (pain3d demo)
    .venv/bin/python scripts/video_sway.py --demo DIR --sway 4 0 -4

Per sway amplitude (degrees; the demo uses +4: the head turns one way before the pain peak
and the other way after it): mean predicted vs true PSPI over the frames at peak, and the mean
predicted PSPI and P(PSPI >= 1) over the neutral tail (its first 0.2 s left out), and the MAE
over all frames. Nothing in the predictor smooths over time, so a tail that depends on the
sway's sign is the model reading head yaw as pain, not a lag.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    from pain3d.config import load_config
    from pain3d.demo.config import DemoConfig
    from pain3d.demo.video import VideoPlan, render_video_frames
    from pain3d.infer import PredictConfig, Predictor
    from pain3d.infer.video import write_video
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.plan import build_plan

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", type=Path, default=Path("demo"), help="pain3d demo's output")
    ap.add_argument("--sway", type=float, nargs="+", default=[4.0, 0.0, -4.0])
    a = ap.parse_args()
    demo = load_config(DemoConfig, a.demo / "demo.yaml")
    gen = load_config(GenerateConfig, a.demo / "data" / "config.yaml")
    checkpoint = a.demo / "run" / "model"
    if not checkpoint.exists():
        raise SystemExit(f"{checkpoint} is missing: run `pain3d demo` first (or give --demo)")
    ident = next(u.identity.index for u in build_plan(gen).units if u.identity.split == "test")
    with tempfile.TemporaryDirectory() as tmp:
        for sway in a.sway:
            plan = VideoPlan(fps=demo.video_fps, sway_deg=sway)
            frames = render_video_frames(dataclasses.replace(gen, renderer="builtin"), ident,
                                         plan, demo.video_size)
            path = write_video(Path(tmp) / f"sway_{sway:g}.mp4", frames, fps=plan.fps)
            predictor = Predictor.from_checkpoint(checkpoint, PredictConfig(
                n_references=3, reference_seconds=min(2.0, plan.neutral_s)))
            try:
                df = predictor.predict_video(path).frames
            finally:
                predictor.close()
            k = df["frame"].to_numpy()
            truth, t = plan.pspi()[k], plan.times()[k]
            peak = truth >= truth.max() - 1e-9
            tail = t > plan.seconds - plan.tail_s + 0.2
            print(f"sway {sway:+g} deg: peak predicted {df['pspi'][peak].mean():.2f} vs true "
                  f"{truth[peak].mean():.2f}; neutral tail predicted "
                  f"{df['pspi'][tail].mean():.2f}, P(PSPI>=1) {df['pain_prob'][tail].mean():.2f}"
                  f"; MAE {np.abs(df['pspi'] - truth).mean():.2f} over {len(df)} frames")


if __name__ == "__main__":
    main()
