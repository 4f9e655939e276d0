"""A synthetic pain video with known PSPI: one held-out identity, neutral -> pain -> neutral.

Frames are rendered with the same renderer, lighting, background and camera model as the
dataset (``pain3d.synth`` builtin renderer), so the video's face is drawn exactly like the
dataset's faces, but with continuous AU intensities following an envelope over time:

    e(t) = 0 for the first ``neutral_s`` seconds, then a raised-cosine rise to 1 over
    ``rise_s``, a hold of ``hold_s``, a raised-cosine fall over ``rise_s``, then 0.

Each frame's AUs are ``e(t) * peak`` (AU43 is binary: 1 while e >= 0.8 when the peak has it)
and the true PSPI is computed from them with :func:`pain3d.facs.pspi`. The head also turns a
little (yaw ``sway_deg`` sine) so the detector works on a moving face.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pain3d.facs import pspi

DEFAULT_PEAK = (4.0, 4.0, 3.0, 3.0, 2.0, 0.0)  # PSPI 4 + 4 + 3 + 0 = 11


@dataclass(frozen=True)
class VideoPlan:
    """Timing and expression of the demo video.

    Attributes:
        fps: frames per second.
        neutral_s: neutral opening (the label-free reference window lies in it).
        rise_s: seconds of each ramp (up and down).
        hold_s: seconds at peak.
        tail_s: neutral seconds at the end.
        peak: (6,) AU vector at the peak, FACS 0..5.
        sway_deg: amplitude of a slow yaw oscillation of the head, degrees.
    """

    fps: float = 8.0
    neutral_s: float = 2.5
    rise_s: float = 1.5
    hold_s: float = 1.5
    tail_s: float = 1.5
    peak: tuple[float, ...] = DEFAULT_PEAK
    sway_deg: float = 4.0

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"video fps must be > 0, got {self.fps}")
        if min(self.neutral_s, self.rise_s, self.hold_s, self.tail_s) < 0:
            raise ValueError("video durations must be >= 0")
        if len(self.peak) != 6:
            raise ValueError(f"peak needs 6 AU values, got {self.peak}")

    @property
    def seconds(self) -> float:
        return self.neutral_s + 2 * self.rise_s + self.hold_s + self.tail_s

    def times(self) -> np.ndarray:
        """(T,) frame times in seconds."""
        return np.arange(int(round(self.seconds * self.fps))) / self.fps

    def envelope(self, t: np.ndarray) -> np.ndarray:
        """(T,) expression intensity 0..1 at times ``t``."""
        t = np.asarray(t, dtype=np.float64)
        a = self.neutral_s
        b, c = a + self.rise_s, a + self.rise_s + self.hold_s
        d = c + self.rise_s
        e = np.zeros_like(t)
        up = (t >= a) & (t < b)
        e[up] = 0.5 - 0.5 * np.cos(np.pi * (t[up] - a) / max(self.rise_s, 1e-9))
        e[(t >= b) & (t < c)] = 1.0
        down = (t >= c) & (t < d)
        e[down] = 0.5 + 0.5 * np.cos(np.pi * (t[down] - c) / max(self.rise_s, 1e-9))
        return e

    def aus(self) -> np.ndarray:
        """(T, 6) AU intensities per frame."""
        e = self.envelope(self.times())
        peak = np.asarray(self.peak, dtype=np.float64)
        out = e[:, None] * peak[None, :]
        out[:, 5] = np.where(e >= 0.8, peak[5], 0.0)  # AU43 is binary
        return out

    def pspi(self) -> np.ndarray:
        """(T,) true PSPI per frame."""
        return np.asarray([float(pspi(a, validate=False)) for a in self.aus()])


def render_video_frames(gen_cfg, identity: int, plan: VideoPlan, size: int) -> list[np.ndarray]:
    """Render the frames of ``plan`` for one identity of a dataset config.

    Args:
        gen_cfg: the dataset's ``pain3d.synth.config.GenerateConfig`` (renderer, lighting,
            background and camera settings are reused; ``size`` replaces its image size).
        identity: identity index in that dataset (use a held-out, test-split identity).
        plan: timing and expression.
        size: frame side in pixels (square).

    Returns:
        (T,) list of (size, size, 3) uint8 RGB frames.
    """
    from pain3d.synth.plan import build_plan
    from pain3d.synth.renderer import renderer_class
    from pain3d.synth.spec import SampleSpec

    cfg = dataclasses.replace(gen_cfg, size=size)
    dataset = build_plan(cfg)
    unit = dataset.unit(identity)
    base = next(s for s in unit.samples if s.expression == "neutral" and s.view.index == 0)
    renderer = renderer_class(cfg.renderer)(cfg)
    state = renderer.prepare(unit.identity)
    frames = []
    for k, (t, aus) in enumerate(zip(plan.times(), plan.aus(), strict=True)):
        view = dataclasses.replace(base.view, yaw=base.view.yaw + plan.sway_deg * float(
            np.sin(2 * np.pi * t / max(plan.seconds, 1e-9))))
        # A distinct expression name per frame: the renderer caches meshes by expression.
        sample = SampleSpec(identity=base.identity, expression=f"pain_{1000 + k}",
                            aus=tuple(float(a) for a in aus), nuisance=(), view=view,
                            size=size, seed=base.seed)
        frames.append(renderer.render(state, sample, mask=False, depth=False).rgb)
    return frames


def write_truth(path: str | Path, plan: VideoPlan) -> Path:
    """CSV of the true labels per frame: frame, time_s, AU4..AU43, pspi."""
    import pandas as pd

    from pain3d.facs import AU_NAMES
    from pain3d.io import atomic_write_text

    t = plan.times()
    df = pd.DataFrame(plan.aus(), columns=list(AU_NAMES))
    df.insert(0, "time_s", t)
    df.insert(0, "frame", np.arange(len(t)))
    df["pspi"] = plan.pspi()
    atomic_write_text(path, df.to_csv(index=False, float_format="%.4f"))
    return Path(path)
