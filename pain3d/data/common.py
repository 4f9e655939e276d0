"""Pieces every reader shares: errors and skip reports, the frame table, image sources opened
lazily once per worker, and ``collate`` (image decoding: :mod:`pain3d.data.images`).

A reader turns a dataset on disk into a :class:`FrameTable` (one row per image, labels and
grouping columns as numpy arrays, built once and cached) and an image source (``read(row)``
returns encoded bytes or a decoded array). :class:`pain3d.data.dataset.PainDataset` then
yields training samples from any (table, source) pair.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pain3d.facs import AU_NAMES, AUValueError, au_vector, pspi

log = logging.getLogger(__name__)


class DataError(ValueError):
    """A file that cannot be read or holds an invalid label; the message names file and problem."""


@dataclass
class SkipReport:
    """What a reader skipped and why (``skip_bad=True``), or nothing."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, why: str) -> None:
        self.items.append((str(where), why))
        log.warning("skipped %s: %s", where, why)

    def __len__(self) -> int:
        return len(self.items)

    def reasons(self) -> dict[str, int]:
        """Count of skipped items per reason (the text before the first colon)."""
        out: dict[str, int] = {}
        for _, why in self.items:
            key = why.split(":", 1)[0]
            out[key] = out.get(key, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"skipped": len(self.items), "reasons": self.reasons(),
                "items": [{"item": w, "reason": r} for w, r in self.items]}


def fail_or_skip(report: SkipReport | None, where: str, why: str) -> None:
    """Raise :class:`DataError` for ``where`` unless a report collects skipped items."""
    if report is None:
        raise DataError(f"{where}: {why} (pass skip_bad / --skip-bad to skip such items)")
    report.add(where, why)


def checked_labels(aus: Any, given_pspi: float | None, where: str,
                   prefer_given: bool = True) -> tuple[np.ndarray, float]:
    """Validate an AU vector (and a stored PSPI) and return ``(au (6,) float32, pspi)``.

    Raises:
        DataError: naming ``where`` for an out-of-range AU or PSPI.
    """
    try:
        vec = au_vector(aus, fill_missing=True)
    except AUValueError as exc:
        raise DataError(f"{where}: {exc}") from exc
    value = float(pspi(vec))
    if given_pspi is not None:
        g = float(given_pspi)
        if not np.isfinite(g) or not 0 <= g <= 16:
            raise DataError(f"{where}: PSPI = {given_pspi!r} is outside 0..16")
        if abs(g - value) > 1e-3:
            log.debug("%s: stored PSPI %g differs from the AUs' PSPI %g", where, g, value)
        if prefer_given:
            value = g
    return vec.astype(np.float32), value


@dataclass
class FrameTable:
    """One row per image: labels and the columns references and splits group by.

    Attributes:
        key: (N,) str, the image's path or member name (for messages and ``meta["path"]``).
        subject: (N,) str identity / subject id; references never cross it (except the
            ``other-identity`` ablation).
        au: (N, 6) float32 FACS 0..5 in :data:`pain3d.facs.AU_NAMES` order.
        pspi: (N,) float32 0..16.
        sequence: (N,) str; synthetic data uses the identity name.
        frame: (N,) int64 frame number within the sequence (synthetic: 0 neutral, k pain_k).
        view: (N,) int64 camera index (0 for real data).
        neutral: (N,) bool, a neutral render by construction (synthetic), known without labels.
        split: (N,) str ``train``/``val``/``test`` or ``""`` when unknown.
        extra: further per-row columns copied into ``meta``.
    """

    key: np.ndarray
    subject: np.ndarray
    au: np.ndarray
    pspi: np.ndarray
    sequence: np.ndarray | None = None
    frame: np.ndarray | None = None
    view: np.ndarray | None = None
    neutral: np.ndarray | None = None
    split: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.key)
        self.key = np.asarray(self.key).astype(str)
        self.subject = np.asarray(self.subject).astype(str)
        self.au = np.asarray(self.au, dtype=np.float32).reshape(n, len(AU_NAMES))
        self.pspi = np.asarray(self.pspi, dtype=np.float32).reshape(n)
        self.sequence = (self.subject.copy() if self.sequence is None
                         else np.asarray(self.sequence).astype(str))
        self.frame = (np.zeros(n, np.int64) if self.frame is None
                      else np.asarray(self.frame, dtype=np.int64))
        self.view = np.zeros(n, np.int64) if self.view is None else np.asarray(self.view, np.int64)
        self.neutral = (np.zeros(n, bool) if self.neutral is None
                        else np.asarray(self.neutral, dtype=bool))
        self.split = (np.full(n, "", dtype="<U5") if self.split is None
                      else np.asarray(self.split).astype(str))
        for name in ("subject", "au", "pspi", "sequence", "frame", "view", "neutral", "split"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"FrameTable column {name} has {len(getattr(self, name))} "
                                 f"rows, key has {n}")
        if n and (~np.isfinite(self.pspi)).any():
            raise DataError(f"{self.key[~np.isfinite(self.pspi)][0]}: PSPI is not finite")

    def __len__(self) -> int:
        return len(self.key)

    def arrays(self) -> dict[str, np.ndarray]:
        """Columns as a flat dict (for caching with ``np.savez``)."""
        out = {k: getattr(self, k) for k in ("key", "subject", "au", "pspi", "sequence",
                                             "frame", "view", "neutral", "split")}
        out.update({f"extra.{k}": v for k, v in self.extra.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FrameTable:
        base = {k: v for k, v in arrays.items() if not k.startswith("extra.")}
        extra = {k[6:]: v for k, v in arrays.items() if k.startswith("extra.")}
        return cls(**base, extra=extra)

    def take(self, rows: np.ndarray) -> FrameTable:
        """A new table with ``rows`` only."""
        rows = np.asarray(rows)
        return FrameTable.from_arrays({k: v[rows] for k, v in self.arrays().items()})


# --------------------------------------------------------------------------------------------
# Image sources


class ImageSource(Protocol):
    """Where the pixels of table rows live. ``read`` returns encoded bytes or an HWC array."""

    def read(self, row: int) -> bytes | np.ndarray: ...


class FileSource:
    """Images as files under ``root`` at the relative paths ``relpaths[row]``."""

    def __init__(self, root: str | Path, relpaths: Sequence[str]):
        self.root = Path(root)
        self.relpaths = np.asarray(relpaths).astype(str)

    def where(self, row: int) -> str:
        return str(self.root / self.relpaths[row])

    def read(self, row: int) -> bytes:
        path = self.root / self.relpaths[row]
        try:
            return path.read_bytes()
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc


class LazyHandle:
    """An open file handle created on first use in each process and never pickled.

    DataLoader workers fork or spawn copies of the dataset; a handle opened in the parent must
    not be shared (h5py and file offsets are not fork-safe), so the handle is keyed by the pid
    and reopened once in each worker, never once per sample.
    """

    def __init__(self, opener: Any, path: str | Path):
        self.opener = opener
        self.path = str(path)
        self._handle: Any = None
        self._pid: int | None = None

    def get(self) -> Any:
        if self._handle is None or self._pid != os.getpid():
            self._handle = self.opener(self.path)
            self._pid = os.getpid()
        return self._handle

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            try:
                self._handle.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._handle = None

    def __getstate__(self) -> dict[str, Any]:
        return {"opener": self.opener, "path": self.path, "_handle": None, "_pid": None}


def _open_h5(path: str) -> Any:
    import h5py

    # A small chunk cache per worker: reads are random single frames.
    return h5py.File(path, "r", rdcc_nbytes=4 * 1024 * 1024)


class H5Source:
    """Images stored as rows of an HDF5 dataset ``(N, H, W, 3) uint8``.

    Args:
        path: the HDF5 file.
        dataset: name of the image dataset inside it.
        rows: (N_table,) row in the HDF5 dataset of each table row.
    """

    def __init__(self, path: str | Path, dataset: str, rows: np.ndarray):
        self.handle = LazyHandle(_open_h5, path)
        self.dataset = dataset
        self.rows = np.asarray(rows, dtype=np.int64)

    def where(self, row: int) -> str:
        return f"{self.handle.path}:{self.dataset}[{int(self.rows[row])}]"

    def read(self, row: int) -> np.ndarray:
        try:
            return self.handle.get()[self.dataset][int(self.rows[row])]
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{self.where(row)}: cannot read ({exc})") from exc


# --------------------------------------------------------------------------------------------
# Batches


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack training samples into a batch, leaving dropped samples out.

    Samples that could not be read (``{"dropped": "<path>: <why>"}``, from
    :class:`~pain3d.data.dataset.PainDataset` with ``skip_bad``) are not in the batch; they
    are listed under ``dropped`` so training and evaluation can count them. A batch whose
    samples were all dropped holds ``dropped`` only (no ``image``): consumers skip it.

    Returns:
        ``image`` (B, 3, H, W) of the samples' dtype (uint8 from
        :func:`pain3d.data.make_loader`), ``neutral`` (B, 3, H, W) or (B, N, 3, H, W) when
        the samples have it, ``heatmap`` (B, 3, H, W) when the samples carry one (synthetic
        data read with heatmaps), ``au`` (B, 6), ``pspi`` (B,), ``subject`` list of str,
        ``meta`` list of dicts, and ``dropped`` (list of str) when any sample was dropped.
    """
    import torch

    if not samples:
        raise ValueError("cannot collate an empty list of samples")
    dropped = [s["dropped"] for s in samples if "dropped" in s]
    if dropped:
        samples = [s for s in samples if "dropped" not in s]
        if not samples:
            return {"dropped": dropped}
    out: dict[str, Any] = {
        "image": torch.stack([s["image"] for s in samples]),
        "au": torch.stack([torch.as_tensor(s["au"]) for s in samples]),
        "pspi": torch.stack([torch.as_tensor(s["pspi"]) for s in samples]),
        "subject": [s["subject"] for s in samples],
        "meta": [s["meta"] for s in samples],
    }
    has = ["neutral" in s for s in samples]
    if any(has):
        if not all(has):
            raise ValueError("some samples have a neutral reference and some do not")
        out["neutral"] = torch.stack([s["neutral"] for s in samples])
    if any("heatmap" in s for s in samples):
        if not all("heatmap" in s for s in samples):
            raise ValueError("some samples have a heatmap and some do not")
        out["heatmap"] = torch.stack([s["heatmap"] for s in samples])
    if dropped:
        out["dropped"] = dropped
    return out
