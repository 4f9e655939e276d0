"""Readers for prepared UNBC data: pain3d's ``unbc.h5`` and the derived HDF5 trio.

- ``unbc.h5`` (written by :func:`pain3d.data.unbc.prepare_unbc`): one file with crops, labels,
  subjects, sequences, frame numbers and folds (``kfold5`` and ``loso``).
- The derived trio some labs have (``FORMATS.md`` section 5): a frames file (``image``,
  ``index``), an annotations file (``index``, ``subject_name``, ``label_AU_*``, ``label_pspi``
  with NaN read as 0) and a folds file (``fold-K/train_subjects``,
  ``fold-K/validation_subjects``). It has no sequence information, so the ``label-free``
  policy uses the first frames of each subject in file order (logged).

Label arrays are read once into a :class:`~pain3d.data.common.FrameTable`; the image dataset
is opened lazily once per worker process (:class:`~pain3d.data.common.H5Source`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pain3d.data.common import DataError, FrameTable, H5Source, SkipReport, checked_labels
from pain3d.data.folds import Fold, check_folds, folds_by_name, read_folds
from pain3d.data.unbc_archive import subject_id
from pain3d.facs import AU_NAMES

log = logging.getLogger(__name__)


@dataclass
class UNBCData:
    """Prepared UNBC frames.

    Attributes:
        table: one row per frame; ``extra["subject_id"]`` holds the integer subject ids.
        source: the image dataset.
        folds: stored fold scheme (``kfold5``, ``loso``, ...) -> [(train, test)] subject names.
    """

    table: FrameTable
    source: H5Source
    folds: dict[str, list[Fold]]


def _str(a: np.ndarray) -> np.ndarray:
    return np.char.decode(a, "utf-8") if a.dtype.kind == "S" else a.astype(str)


def _check_au_range(au: np.ndarray, pspi: np.ndarray, where: str, keys: np.ndarray) -> None:
    bad = ~((au >= 0) & (au <= 5)).all(axis=1) | (au[:, 5] % 1 != 0) | (au[:, 5] > 1)
    bad |= ~((pspi >= 0) & (pspi <= 16))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        checked_labels(au[i], float(pspi[i]), f"{where} row {i} ({keys[i]})")
        raise DataError(f"{where} row {i} ({keys[i]}): label out of range "
                        f"(AUs {au[i].tolist()}, PSPI {pspi[i]})")


def open_unbc(path: str | Path) -> UNBCData:
    """Read a ``unbc.h5`` written by ``pain3d prepare-unbc``."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file does not exist (run pain3d prepare-unbc RAW --out {path})")
    with h5py.File(path, "r") as h5:
        need = ("image", "au", "pspi", "subject", "subject_id", "sequence", "frame")
        missing = [k for k in need if k not in h5]
        if missing:
            raise DataError(f"{path}: not a pain3d UNBC file, missing {missing} (for the derived "
                            "trio use open_unbc_trio(frames, annotations, folds))")
        subject = _str(h5["subject"][:])
        keys = _str(h5["path"][:]) if "path" in h5 else np.char.add("frame ", np.arange(
            len(subject)).astype(str))
        au = h5["au"][:].astype(np.float32)
        pspi = h5["pspi"][:].astype(np.float32)
        _check_au_range(au, pspi, str(path), keys)
        extra = {"subject_id": h5["subject_id"][:].astype(np.int64)}
        if "sequence_labels" in h5:
            for k in h5["sequence_labels"]:
                extra[k] = h5["sequence_labels"][k][:].astype(np.float32)
        folds = {name: read_folds(h5["folds"][name]) for name in h5.get("folds", {})}
        table = FrameTable(key=keys, subject=subject, au=au, pspi=pspi,
                           sequence=_str(h5["sequence"][:]), frame=h5["frame"][:], extra=extra)
    return UNBCData(table, H5Source(path, "image", np.arange(len(table))),
                    _by_name(folds, table, f"{path}: folds/"))


def _by_name(folds: dict[str, list[Fold]], table: FrameTable, where: str
             ) -> dict[str, list[Fold]]:
    """Stored integer-id folds as folds of subject names, each checked for subjects on both
    sides (:func:`~pain3d.data.folds.check_folds`)."""
    out = {}
    for name, f in folds.items():
        out[name] = folds_by_name(f, table.extra["subject_id"], table.subject, where + name)
        check_folds(out[name], where + name)
    return out


def open_unbc_trio(frames: str | Path, annotations: str | Path, folds: str | Path | None = None,
                   report: SkipReport | None = None) -> UNBCData:
    """Read the derived HDF5 trio (frames, annotations, folds)."""
    import h5py

    frames, annotations = Path(frames), Path(annotations)
    for p in (frames, annotations) + ((Path(folds),) if folds else ()):
        if not Path(p).is_file():
            raise DataError(f"{p}: file does not exist")
    with h5py.File(annotations, "r") as h5:
        cols = ["subject_name", *[f"label_AU_{n[2:]}" for n in AU_NAMES], "label_pspi"]
        missing = [c for c in cols if c not in h5]
        if missing:
            raise DataError(f"{annotations}: missing dataset(s) {missing}")
        ann_index = h5["index"][:].astype(np.int64) if "index" in h5 else None
        subject = _str(h5["subject_name"][:].ravel())
        au = np.stack([h5[f"label_AU_{n[2:]}"][:].ravel() for n in AU_NAMES], 1)
        pspi = h5["label_pspi"][:].ravel().astype(np.float64)
    with h5py.File(frames, "r") as h5:
        if "image" not in h5:
            raise DataError(f"{frames}: missing dataset 'image' (N, H, W, 3)")
        n_frames = h5["image"].shape[0]
        frame_index = h5["index"][:].astype(np.int64) if "index" in h5 else np.arange(n_frames)
    n_pspi_nan, n_au_nan = int(np.isnan(pspi).sum()), int(np.isnan(au).sum())
    if n_pspi_nan or n_au_nan:
        log.info("%s: %d NaN PSPI and %d NaN AU value(s) read as 0 (published convention)",
                 annotations, n_pspi_nan, n_au_nan)
    pspi, au = np.nan_to_num(pspi, nan=0.0), np.nan_to_num(au, nan=0.0).astype(np.float32)
    if ann_index is None:
        ann_index = np.arange(len(subject))
    order = np.argsort(frame_index)
    pos = np.searchsorted(frame_index[order], ann_index)
    pos = np.clip(pos, 0, len(order) - 1)
    found = frame_index[order][pos] == ann_index
    if (~found).any():
        msg = f"{(~found).sum()} annotation(s) have no frame in {frames}, e.g. index " \
              f"{ann_index[~found][0]}"
        if report is None:
            raise DataError(msg)
        report.add(str(annotations), msg)
    rows = order[pos][found]
    subject, au, pspi, ann_index = subject[found], au[found], pspi[found], ann_index[found]
    keys = np.char.add("index ", ann_index.astype(str))
    _check_au_range(au, pspi.astype(np.float32), str(annotations), keys)
    ids = np.array([subject_id(s) for s in subject], np.int64)
    fold_sets: dict[str, list[Fold]] = {}
    if folds:
        with h5py.File(folds, "r") as h5:
            groups = [k for k in h5 if k.startswith("fold-")]
            if not groups:
                raise DataError(f"{folds}: no fold-K groups")
            fold_sets["kfold5" if len(groups) == 5 else f"kfold{len(groups)}"] = read_folds(
                {k: h5[k] for k in groups})
    log.info("%s: no sequence information; label-free references use each subject's first "
             "frames in file order", annotations)
    table = FrameTable(key=keys, subject=subject, au=au, pspi=pspi, sequence=subject,
                       frame=np.arange(len(subject)), extra={"subject_id": ids})
    return UNBCData(table, H5Source(frames, "image", rows),
                    _by_name(fold_sets, table, f"{folds}: "))
