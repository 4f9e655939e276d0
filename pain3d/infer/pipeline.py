"""Videos and folders through a :class:`~pain3d.infer.predictor.Predictor`, and their outputs.

Video: pass 1 analyses the opening ``reference_seconds`` (extended until a face is found)
and, unless a reference is given, picks the reference frames by the label-free rule of
:mod:`pain3d.infer.reference`; pass 2 streams the whole video in batches with the cached
reference tokens (frames of pass 1 are not analysed twice). Memory stays bounded by the
opening window and one batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pain3d.infer.detect import BLOCKING_FLAGS
from pain3d.infer.reference import choose_reference_frames
from pain3d.infer.video import FRAME_COLUMNS, IMAGE_SUFFIXES, VideoInfo, iter_frames, video_info

if TYPE_CHECKING:
    import pandas as pd

    from pain3d.infer.predictor import AlignedFace, Predictor

log = logging.getLogger(__name__)


@dataclass
class VideoPrediction:
    """Per-frame estimates of a video.

    Attributes:
        frames: one row per analysed frame, columns ``FRAME_COLUMNS`` (empty prediction
            cells and a flag where no face was analysed).
        info: fps, size and frame count of the video.
        reference_frames: frame indices used as the neutral reference (empty when an
            explicit reference was given or no face was found).
        reference_energy: expression energy of those frames (the rule's score).
        seconds: wall time of the analysis.
    """

    frames: pd.DataFrame
    info: VideoInfo
    reference_frames: list[int] = field(default_factory=list)
    reference_energy: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fps_processed(self) -> float:
        return len(self.frames) / self.seconds if self.seconds > 0 else float("nan")


def predict_video(predictor: Predictor, path: str | Path, reference: Any = None,
                  progress: bool = False) -> VideoPrediction:
    """Per-frame pain estimates of a video (see module docstring for the passes).

    Args:
        predictor: a loaded predictor.
        path: MP4/AVI/MOV file.
        reference: neutral image(s) or tokens; None selects reference frames from the video.
        progress: log progress every ~10 % of the frames.
    """
    import time

    import pandas as pd

    from pain3d.infer.predictor import _prediction

    cfg = predictor.cfg
    info = video_info(path)
    t0 = time.perf_counter()
    det = predictor.detector
    det.reset_track()
    track = cfg.detect.select == "track"

    # Pass 1: the opening window (kept in memory) and the reference choice. A window
    # without any face is extended until ``n_references`` faces are found.
    opening: dict[int, tuple[float, AlignedFace]] = {}
    choose = reference is None and predictor.uses_reference
    n_faces = 0
    for i, t, rgb in iter_frames(path, cfg.frame_step, cfg.max_frames, info.fps) if choose else ():
        if t > cfg.reference_seconds and n_faces >= 1 and (
                n_faces >= cfg.n_references or opening[max(opening)][0] <= cfg.reference_seconds):
            break
        a = predictor.align(rgb, track=track)
        opening[i] = (t, a)
        n_faces += a.crop is not None
    ref_frames: list[int] = []
    ref_energy: list[float] = []
    tokens = None
    if not choose:
        tokens = predictor._tokens(reference)
    else:
        keys = sorted(opening)
        lms = [opening[k][1].face.landmarks if opening[k][1].crop is not None else None
               for k in keys]
        idx, energy = choose_reference_frames([opening[k][0] for k in keys], lms,
                                              [opening[k][1].flags for k in keys],
                                              cfg.n_references, cfg.reference_seconds)
        ref_frames = [keys[j] for j in idx]
        ref_energy = [float(e) for e in energy]
        if ref_frames:
            tokens = predictor.encode_crops([opening[k][1].crop for k in ref_frames])
            log.info("reference frames %s (expression energy %s)", ref_frames,
                     ", ".join(f"{e:.3f}" for e in ref_energy))
        else:
            log.warning("no face found in %s: every row is empty and flagged", path)

    # Pass 2: stream the video in batches.
    rows: list[dict[str, Any]] = []
    pending: list[tuple[int, float, AlignedFace]] = []

    def flush() -> None:
        ok = [j for j, (_, _, a) in enumerate(pending)
              if a.crop is not None and not (BLOCKING_FLAGS & set(a.flags))
              and (tokens is not None or not predictor.uses_reference)]
        raw = predictor.predict_crops([pending[j][2].crop for j in ok], tokens) if ok else None
        where = {j: n for n, j in enumerate(ok)}
        for j, (i, t, a) in enumerate(pending):
            p = _prediction(a, raw if j in where else None, where.get(j, 0))
            rows.append({"frame": i, "time_s": t, **p.as_row(), "is_reference": i in ref_frames})
        pending.clear()

    last_log = 0
    for i, t, rgb in iter_frames(path, cfg.frame_step, cfg.max_frames, info.fps):
        a = opening[i][1] if i in opening else predictor.align(rgb, track=track)
        pending.append((i, t, a))
        if len(pending) >= cfg.batch_size:
            flush()
        if progress and info.frames and (i - last_log) >= max(info.frames // 10, 1):
            last_log = i
            log.info("frame %d / %d", i, info.frames)
    flush()
    frames = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    return VideoPrediction(frames, info, ref_frames, ref_energy, time.perf_counter() - t0)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"folder {d} does not exist")
    return sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def predict_folder(predictor: Predictor, folder: str | Path, reference: Any) -> pd.DataFrame:
    """One row per image of ``folder`` (``path`` relative to it, then the prediction columns).

    The reference (one person's neutral image(s)) is encoded once for the whole folder.
    """
    import pandas as pd

    files = list_images(folder)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}")
    preds = predictor.predict_many(files, reference)
    rows = [{"path": f.name, **p.as_row()} for f, p in zip(files, preds, strict=True)]
    cols = ["path", *[c for c in FRAME_COLUMNS if c not in ("frame", "time_s", "is_reference")]]
    return pd.DataFrame(rows, columns=cols)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a prediction table as CSV (atomically); empty cells for missing predictions."""
    from pain3d.io import atomic_write_text

    p = Path(path)
    atomic_write_text(p, df.to_csv(index=False, float_format="%.4f", na_rep=""))
    return p


def summarise(result: VideoPrediction) -> dict[str, Any]:
    """Small JSON-able summary of a video prediction."""
    y = result.frames["pspi"].to_numpy(dtype=float)
    ok = np.isfinite(y)
    return {
        "frames": int(len(y)),
        "frames_with_prediction": int(ok.sum()),
        "fps_video": result.info.fps,
        "frames_per_second_processed": round(result.fps_processed, 2),
        "reference_frames": result.reference_frames,
        "reference_energy": [round(e, 4) for e in result.reference_energy],
        "pspi_mean": float(np.nanmean(y)) if ok.any() else None,
        "pspi_max": float(np.nanmax(y)) if ok.any() else None,
    }


def run_predict(input_path: str | Path, checkpoint: str | Path, out: str | Path | None = None,
                reference: Any = None, cfg: Any = None) -> dict[str, Any]:
    """``pain3d predict``: an image, a folder of images or a video, written to ``out``.

    Args:
        input_path: image file, folder of images, or video (MP4/AVI/MOV/...).
        checkpoint: model directory (``pain3d.model.save_checkpoint``).
        out: image -> CSV (optional; default none); folder -> CSV (default
            ``<folder>_pain.csv``); video -> output folder (default ``<stem>_pain/``) holding
            ``frames.csv``, ``timeline.png``, ``summary.json`` and ``predict.yaml``.
        reference: neutral image path(s) of the person; required for images and folders,
            optional for videos (label-free choice otherwise).
        cfg: :class:`~pain3d.infer.predictor.PredictConfig`.

    Returns:
        A summary dict (kind, outputs written, key numbers).
    """
    import pandas as pd

    from pain3d.config import save_config
    from pain3d.infer.predictor import PredictConfig, Predictor
    from pain3d.infer.video import VIDEO_SUFFIXES, plot_timeline
    from pain3d.io import atomic_write_json

    cfg = cfg or PredictConfig()
    src = Path(input_path)
    if not src.exists():
        raise FileNotFoundError(f"input {src} does not exist")
    predictor = Predictor.from_checkpoint(checkpoint, cfg)
    try:
        if src.is_dir():
            df = predict_folder(predictor, src, reference)
            dest = Path(out) if out else src.parent / f"{src.name}_pain.csv"
            write_table(df, dest)
            save_config(cfg, dest.with_suffix(".yaml"))
            ok = df["pspi"].notna()
            return {"kind": "folder", "csv": str(dest), "images": len(df),
                    "with_prediction": int(ok.sum()),
                    "pspi_mean": float(df.loc[ok, "pspi"].mean()) if ok.any() else None}
        if src.suffix.lower() in VIDEO_SUFFIXES:
            res = predict_video(predictor, src, reference=reference, progress=True)
            dest = Path(out) if out else src.parent / f"{src.stem}_pain"
            dest.mkdir(parents=True, exist_ok=True)
            write_table(res.frames, dest / "frames.csv")
            plot_timeline(res.frames, dest / "timeline.png", title=src.name)
            summary = {"kind": "video", "csv": str(dest / "frames.csv"),
                       "timeline": str(dest / "timeline.png"), **summarise(res)}
            atomic_write_json(dest / "summary.json", summary)
            save_config(cfg, dest / "predict.yaml")
            return summary
        pred = predictor.predict(src, reference=reference)
        summary = {"kind": "image", "path": str(src), **pred.as_row()}
        if out:
            write_table(pd.DataFrame([{"path": src.name, **pred.as_row()}]), out)
            summary["csv"] = str(out)
        return summary
    finally:
        predictor.close()
