"""UNBC-McMaster raw archive -> one aligned, labelled HDF5 file (``pain3d prepare-unbc``).

Every frame of the archive (read by :mod:`pain3d.data.unbc_archive`) is labelled, checked and
cropped around its face. Black frames (seven of ``095-tv095/tv095t2aeunaff``, 001-007) are
skipped and reported; frames without AAM landmarks (or with a malformed file) are aligned
from MediaPipe landmarks when a detector is available, otherwise skipped with that reason.

Output layout (``prepare_unbc``): ``image`` (N, S, S, 3) uint8 face crops (the geometry of
:mod:`pain3d.data.align`), ``au`` (N, 6) float32, ``pspi`` (N,) float32 (the PSPI file),
``pspi_from_aus`` (N,), ``subject`` / ``sequence`` / ``path`` / ``landmarks`` (N,) bytes,
``subject_id`` (N,) int32, ``frame`` (N,) int32, ``sequence_labels/{AFF,OPR,SEN,VAS}`` (N,)
float32 (NaN when missing), folds under ``folds/kfold5/fold-K`` and ``folds/loso/fold-K``
(``train_subjects``, ``test_subjects``: integer subject ids, :mod:`pain3d.data.folds`), and
attributes ``config``, ``report`` (JSON of what was skipped and why) and ``pain3d_version``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pain3d import __version__
from pain3d.data.align import CropGeometry, crop_from_landmarks
from pain3d.data.common import DataError, SkipReport
from pain3d.data.folds import kfold_subjects, loso_subjects, write_folds
from pain3d.data.unbc_archive import (
    SEQUENCE_SCALES,
    RawFrame,
    aam_landmarks,
    find_archive_root,
    frame_labels,
    iter_archive_frames,
    load_rgb,
    sequence_labels,
    subject_id,
)
from pain3d.facs import AU_NAMES, pspi

log = logging.getLogger(__name__)

BLACK_MAX = 8  # a frame whose brightest pixel is below this is treated as black
_STRINGS = ("subject", "sequence", "path", "landmarks")

LandmarkFn = Callable[[np.ndarray], "np.ndarray | None"]


@dataclass(frozen=True)
class PrepareConfig:
    """Options of ``pain3d prepare-unbc``.

    Attributes:
        size: side of the stored face crops in pixels.
        folds: number of subject folds (5 as published).
        fold_seed: seed of the subject-to-fold assignment.
        use_mediapipe: align frames without AAM landmarks with MediaPipe.
        skip_bad: skip unreadable images and invalid labels with a report instead of stopping.
        compression: HDF5 compression of the image dataset (``none``, ``lzf``, ``gzip``).
        limit: stop after this many frames (0 = all; for quick checks).
    """

    size: int = 224
    folds: int = 5
    fold_seed: int = 0
    use_mediapipe: bool = True
    skip_bad: bool = False
    compression: str = "lzf"
    limit: int = 0

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError(f"size must be >= 32 pixels, got {self.size}")
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, got {self.folds}")
        if self.compression not in ("none", "lzf", "gzip"):
            raise ValueError(f"compression must be none, lzf or gzip, got {self.compression!r}")
        if self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")


def mediapipe_landmarks() -> LandmarkFn:
    """A function image (H, W, 3) uint8 RGB -> (478, 2) pixels or None, using MediaPipe (the
    face mesh is created on the first call, so archives with AAM landmarks never load it)."""
    tracker = None

    def detect(image: np.ndarray) -> np.ndarray | None:
        nonlocal tracker
        if tracker is None:
            from pain3d.face.tracker import FaceTracker

            tracker = FaceTracker()
        pts = tracker.frame_landmarks(image)
        return None if pts is None else pts[:, :2]

    return detect


def prepare_unbc(raw: str | Path, out: str | Path, cfg: PrepareConfig | None = None,
                 landmark_fn: LandmarkFn | None = None) -> dict:
    """Align, crop and label every frame of a raw UNBC archive into one HDF5 file.

    Args:
        raw: the archive root (doubled folders are handled).
        out: the ``.h5`` file to write (atomically: written beside, then renamed).
        cfg: options; default :class:`PrepareConfig`.
        landmark_fn: landmark detector for frames without AAM landmarks (default MediaPipe
            when ``cfg.use_mediapipe``); returns (K, 2) pixels or None.

    Returns:
        Summary: frames written, subjects, sequences, skipped items per reason, PSPI files
        that disagree with the FACS files, and ``report`` (the :class:`SkipReport`).

    Raises:
        DataError: an unreadable image or an invalid label (unless ``cfg.skip_bad``).
    """
    import h5py

    from pain3d.io import atomic_path

    cfg = cfg or PrepareConfig()
    root = find_archive_root(Path(raw))
    if landmark_fn is None and cfg.use_mediapipe:
        landmark_fn = mediapipe_landmarks()
    report = SkipReport()  # always collects black frames / no-landmark frames
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        writer = _Writer(h5, cfg, root)
        for fr in iter_archive_frames(root):
            if cfg.limit and writer.n >= cfg.limit:
                break
            frame = _prepare_frame(root, fr, cfg, landmark_fn, report)
            if frame is not None:
                writer.add(fr, frame)
        summary = writer.finish(report)
    log.info("wrote %s: %d frames of %d subjects; skipped %d (%s)", out, summary["frames"],
             summary["subjects"], len(report), report.reasons())
    summary["report"] = report
    return summary


@dataclass
class _Frame:
    """One prepared frame: its crop, labels and where its landmarks came from."""

    where: str
    crop: np.ndarray
    au: np.ndarray
    pspi: float
    landmarks: str


def _checked(read: Callable[[], Any], where: str, reason: str, strict: bool,
             report: SkipReport) -> Any:
    """``read()``, or None with ``where`` reported under ``reason`` (``--skip-bad``)."""
    try:
        return read()
    except DataError as exc:
        if strict:
            raise DataError(f"{exc} (pass --skip-bad to skip such frames)") from exc
        report.add(where, f"{reason}: {exc}")
        return None


def _prepare_frame(root: Path, fr: RawFrame, cfg: PrepareConfig, landmark_fn: LandmarkFn | None,
                   report: SkipReport) -> _Frame | None:
    """Labels, pixels, landmarks and face crop of one frame; None when it is skipped (the
    reason is in ``report``)."""
    where = str(fr.image.relative_to(root))
    strict = not cfg.skip_bad
    labels = _checked(lambda: frame_labels(root, fr), where, "bad label", strict, report)
    if labels is None:
        return None
    img = _checked(lambda: load_rgb(fr.image), where, "unreadable image", strict, report)
    if img is None:
        return None
    if int(img.max()) < BLACK_MAX:
        report.add(where, "black frame: no face to align")
        return None
    pts, source = aam_landmarks(root, fr), "aam"
    if pts is None:
        pts, source = (landmark_fn(img) if landmark_fn is not None else None), "mediapipe"
        if pts is None:
            why = ("no AAM landmarks and MediaPipe found no face" if landmark_fn
                   else "no AAM landmarks (MediaPipe fallback disabled)")
            report.add(where, f"no landmarks: {why}")
            return None
    try:
        crop = crop_from_landmarks(img, pts, size=cfg.size)
    except ValueError as exc:
        report.add(where, f"no landmarks: degenerate landmarks ({exc})")
        return None
    return _Frame(where, crop, labels[0], labels[1], source)


class _Writer:
    """Appends prepared frames to the HDF5 file (crops in chunks of 256, labels at the end)."""

    def __init__(self, h5: Any, cfg: PrepareConfig, root: Path) -> None:
        s = cfg.size
        self.h5, self.cfg, self.root = h5, cfg, root
        self.images = h5.create_dataset(
            "image", (0, s, s, 3), dtype=np.uint8, maxshape=(None, s, s, 3),
            chunks=(1, s, s, 3), compression=None if cfg.compression == "none" else cfg.compression)
        self.crops: list[np.ndarray] = []
        self.cols: dict[str, list] = {k: [] for k in ("au", "pspi", "pspi_from_aus", "frame",
                                                      *_STRINGS, *SEQUENCE_SCALES)}
        self.seq_cache: dict[tuple[str, str], dict[str, float]] = {}
        self.mismatches: list[str] = []
        self.n = 0

    def add(self, fr: RawFrame, f: _Frame) -> None:
        from_aus = float(pspi(f.au, validate=False))
        if abs(from_aus - f.pspi) > 1e-3:
            self.mismatches.append(f.where)
        key = (fr.subject, fr.sequence)
        if key not in self.seq_cache:
            self.seq_cache[key] = sequence_labels(self.root, fr.subject, fr.sequence)
        row = {"au": f.au, "pspi": f.pspi, "pspi_from_aus": from_aus, "frame": fr.frame,
               "subject": fr.subject, "sequence": fr.sequence, "path": f.where,
               "landmarks": f.landmarks, **self.seq_cache[key]}
        for k, v in row.items():
            self.cols[k].append(v)
        self.crops.append(f.crop)
        self.n += 1
        if len(self.crops) >= 256:
            self._flush()

    def _flush(self) -> None:
        if self.crops:
            k = len(self.crops)
            self.images.resize(self.images.shape[0] + k, axis=0)
            self.images[-k:] = np.stack(self.crops)
            self.crops.clear()

    def finish(self, report: SkipReport) -> dict[str, Any]:
        """Write the label arrays, folds and attributes; the summary."""
        self._flush()
        if self.n == 0:
            raise DataError(f"{self.root}: no frame could be prepared ({report.reasons()})")
        h5, c = self.h5, self.cols
        for k in _STRINGS:
            h5.create_dataset(k, data=np.array(c[k], dtype="S"))
        ids = np.array([subject_id(x) for x in c["subject"]], np.int32)
        h5.create_dataset("subject_id", data=ids)
        h5.create_dataset("frame", data=np.array(c["frame"], np.int32))
        h5.create_dataset("au", data=np.stack(c["au"]).astype(np.float32))
        for k in ("pspi", "pspi_from_aus"):
            h5.create_dataset(k, data=np.array(c[k], np.float32))
        for scale in SEQUENCE_SCALES:
            h5.create_dataset(f"sequence_labels/{scale}", data=np.array(c[scale], np.float32))
        self._write_folds(ids)
        sources, counts = np.unique(np.array(c["landmarks"]), return_counts=True)
        summary = {
            "frames": self.n, "subjects": int(len(np.unique(ids))),
            "sequences": len(self.seq_cache), "skipped": len(report),
            "skip_reasons": report.reasons(),
            "pspi_file_differs_from_facs": len(self.mismatches),
            "landmarks": {str(k): int(v) for k, v in zip(sources, counts, strict=True)},
        }
        if self.mismatches:
            log.warning("%d frame(s) have a PSPI file that differs from PSPI of their FACS file "
                        "(the PSPI file is kept in 'pspi', the FACS value in 'pspi_from_aus'), "
                        "e.g. %s", len(self.mismatches), self.mismatches[:3])
        self._write_attrs(summary, report)
        return summary

    def _write_folds(self, ids: np.ndarray) -> None:
        k = self.cfg.folds
        if len(np.unique(ids)) >= k:
            write_folds(self.h5, f"kfold{k}", kfold_subjects(ids.astype(np.int64), k,
                                                               self.cfg.fold_seed))
        else:
            log.warning("only %d subject(s): no %d-fold split written (leave-one-subject-out "
                        "folds are)", len(np.unique(ids)), k)
        write_folds(self.h5, "loso", loso_subjects(ids.astype(np.int64)))

    def _write_attrs(self, summary: dict[str, Any], report: SkipReport) -> None:
        from pain3d.config import dump_config

        attrs = self.h5.attrs
        attrs["pain3d_version"] = __version__
        attrs["config"] = dump_config(self.cfg)
        attrs["crop_geometry"] = json.dumps(CropGeometry().__dict__)
        attrs["au_names"] = json.dumps(list(AU_NAMES))
        attrs["report"] = json.dumps({**summary, **report.to_dict(),
                                      "pspi_mismatch_examples": self.mismatches[:50]})
