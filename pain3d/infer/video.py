"""Video I/O (OpenCV), the per-frame CSV and the timeline plot.

Frames are (H, W, 3) uint8 RGB; times are seconds from the first frame (frame / fps).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pain3d.facs import AU_NAMES, PSPI_MAX

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")

# Per-frame CSV columns, in order. Prediction columns are empty when no face was analysed.
FRAME_COLUMNS: tuple[str, ...] = (
    "frame", "time_s", "pspi", "pain_prob", *AU_NAMES, "x0", "y0", "x1", "y1",
    "yaw_deg", "pitch_deg", "is_reference", "flags",
)


@dataclass(frozen=True)
class VideoInfo:
    """What OpenCV reports about a video file."""

    path: Path
    fps: float
    frames: int  # container's count; may be approximate for some codecs
    width: int
    height: int


def _open(path: str | Path):
    import cv2

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"video {p} does not exist")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise ValueError(f"OpenCV cannot open video {p}; is it an MP4/AVI/MOV file with a "
                         "codec FFmpeg supports? Re-encode it: ffmpeg -i IN -c:v libx264 OUT.mp4")
    return cap


def video_info(path: str | Path) -> VideoInfo:
    """fps, frame count and size of a video (fps falls back to 30 when unknown)."""
    import cv2

    cap = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 0:
            log.warning("video %s reports no frame rate; assuming 30 fps", path)
            fps = 30.0
        return VideoInfo(Path(path), fps, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                         int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                         int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        cap.release()


def iter_video_frames(path: str | Path, step: int = 1, max_frames: int = 0,
                fps: float | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (frame index, time in s, (H, W, 3) uint8 RGB) for every ``step``-th frame.

    Args:
        path: MP4/AVI/MOV (anything OpenCV's FFmpeg backend reads).
        step: analyse one frame in ``step`` (skipped frames are grabbed, not decoded).
        max_frames: stop after this many frame indices (0 = whole video).
        fps: frame rate for the times (default: the container's).
    """
    import cv2

    if step < 1:
        raise ValueError(f"frame step must be >= 1, got {step}")
    rate = fps or video_info(path).fps
    cap = _open(path)
    try:
        i = 0
        while max_frames <= 0 or i < max_frames:
            if i % step:
                if not cap.grab():
                    break
            else:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield i, i / rate, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            i += 1
    finally:
        cap.release()


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 10.0) -> Path:
    """Write (H, W, 3) uint8 RGB frames to an MP4 (mp4v) or AVI (MJPG) file.

    Used by tests and the demo to build videos; all frames must have the same size.
    """
    import cv2

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fourcc = {".avi": "MJPG", ".mov": "mp4v"}.get(p.suffix.lower(), "mp4v")
    writer = None
    n = 0
    try:
        for f in frames:
            if writer is None:
                h, w = f.shape[:2]
                writer = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
                if not writer.isOpened():
                    raise ValueError(f"OpenCV cannot write {p} with codec {fourcc}")
            writer.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR))
            n += 1
    finally:
        if writer is not None:
            writer.release()
    if n == 0:
        raise ValueError(f"no frames given for video {p}")
    return p


def plot_timeline(rows, path: str | Path, truth: tuple[np.ndarray, np.ndarray] | None = None,
                  title: str = "") -> Path:
    """Predicted PSPI (and pain probability) over time, as a PNG.

    Args:
        rows: the per-frame table (pandas DataFrame with ``FRAME_COLUMNS``).
        path: PNG to write.
        truth: optional (times_s, true PSPI) drawn for comparison (synthetic videos).
        title: plot title.

    Frames without a prediction appear as gaps and grey bands; reference frames as ticks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pain3d.io import atomic_path

    t = rows["time_s"].to_numpy(dtype=float)
    y = rows["pspi"].to_numpy(dtype=float)
    prob = rows["pain_prob"].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=110)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    for ti in t[~np.isfinite(y)]:
        ax.axvspan(ti - dt / 2, ti + dt / 2, color="0.85", lw=0)
    if truth is not None:
        ax.plot(truth[0], truth[1], color="k", lw=1.5, ls="--", label="true PSPI")
    ax.plot(t, y, color="tab:red", lw=1.6, label="predicted PSPI")
    ax.set_ylim(-0.3, max(PSPI_MAX / 2, np.nanmax(np.r_[y, 0.0]) * 1.15,
                          np.nanmax(truth[1]) * 1.15 if truth is not None else 0.0))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("PSPI (0..16)")
    ref = rows["is_reference"].to_numpy(dtype=bool) if "is_reference" in rows else None
    if ref is not None and ref.any():
        ax.plot(t[ref], np.zeros(ref.sum()), "v", color="tab:blue", ms=6, label="reference frames")
    ax2 = ax.twinx()
    ax2.plot(t, prob, color="tab:orange", lw=0.9, alpha=0.7, label="P(PSPI >= 1)")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("pain probability")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    if (~np.isfinite(y)).any():
        from matplotlib.patches import Patch

        h1.append(Patch(color="0.85"))
        l1.append("no face")
    ax.legend(h1 + h2, l1 + l2, loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7,
              ncol=5, frameon=False)
    ax.set_title(title, fontsize=9, loc="right")
    fig.tight_layout()
    p = Path(path)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return p
