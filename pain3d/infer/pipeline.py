"""``pain3d predict``: an image, a folder of images or a video through a
:class:`~pain3d.infer.predictor.Predictor`, and the files it writes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pain3d.infer.predictor import PredictConfig, Predictor, VideoPrediction, predict_video
from pain3d.infer.video import FRAME_COLUMNS, IMAGE_SUFFIXES

if TYPE_CHECKING:
    import pandas as pd

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
