"""Dataset builders: one config in, train / val / test datasets out.

``build_datasets(DataConfig(...))`` is what training code calls; the per-source functions
(:func:`synthetic_dataset`, :func:`unbc_datasets`) are there for scripts and tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from pain3d.data.common import DataError
from pain3d.data.dataset import PainDataset
from pain3d.data.references import ReferenceConfig
from pain3d.data.sampling import Scheme, sample_weights, weighted_sampler

log = logging.getLogger(__name__)

Kind = Literal["auto", "synthetic", "unbc", "unbc-trio", "table"]
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how samples are formed.

    Attributes:
        source: a synthetic dataset folder, a ``unbc.h5``, the frames file of the derived trio,
            a labelled CSV or a labelled folder.
        kind: ``auto`` guesses from ``source``.
        size: side of the square images in pixels (the model's input size).
        reference: training reference policy (``oracle``: synthetic neutral renders of the
            same view, or PSPI-0 frames of the same subject for real data).
        eval_reference: validation / test reference policy (deterministic by default).
        layout, split_csv, cache_dir, include_neutral: synthetic data options (see
            :func:`pain3d.data.synthetic.index_synthetic`); ``include_neutral`` also trains on
            the neutral renders (PSPI 0).
        annotations, folds: the other two files of the derived UNBC trio.
        protocol, fold: UNBC protocol (``kfold5``, ``loso``) and fold index.
        inner_val_fraction: UNBC training subjects held out for checkpoint selection.
        seed: seed of the inner validation split and the sampler.
        sampling: sample weighting scheme of the training set.
        pain_weight: weight of PSPI >= 1 under ``published`` sampling.
        skip_bad: skip unreadable items with a report instead of stopping.
        face_crop: synthetic datasets whose manifest records face keypoints (``pain3d
            generate``) are read as face crops with the inference geometry
            (:func:`pain3d.data.align.crop_from_landmarks`); False keeps whole renders.
            Datasets without keypoints (published 3DPain) always give whole images.
        heatmaps: synthetic data: every sample also carries its pain configuration's
            ``heatmap`` (see :mod:`pain3d.data.heatmaps`); off by default (nothing extra read).
        input: ``rgb``, or ``heatmap`` (synthetic data): the heatmap is the sample's image and
            an all-black heatmap its reference (training a heatmap teacher).
    """

    source: str = ""
    kind: Kind = "auto"
    size: int = 224
    reference: ReferenceConfig = field(
        default_factory=lambda: ReferenceConfig(policy="oracle"))
    eval_reference: ReferenceConfig = field(
        default_factory=lambda: ReferenceConfig(policy="label-free", deterministic=True))
    layout: Literal["auto", "manifest", "3dpain", "hub"] = "auto"
    split_csv: str = ""
    cache_dir: str = ""
    include_neutral: bool = True
    annotations: str = ""
    folds: str = ""
    protocol: str = "kfold5"
    fold: int = 0
    inner_val_fraction: float = 0.2
    seed: int = 42
    sampling: Scheme = "uniform"
    pain_weight: float = 2.0
    skip_bad: bool = False
    face_crop: bool = True
    heatmaps: bool = False
    input: Literal["rgb", "heatmap"] = "rgb"

    def __post_init__(self) -> None:
        if self.input not in ("rgb", "heatmap"):
            raise ValueError(f"input must be rgb or heatmap, got {self.input!r}")
        if self.size < 4:
            raise ValueError(f"size must be >= 4 pixels, got {self.size}")
        if not 0 <= self.inner_val_fraction < 1:
            raise ValueError(f"inner_val_fraction must be in [0, 1), got "
                             f"{self.inner_val_fraction}")
        if self.fold < 0:
            raise ValueError(f"fold must be >= 0, got {self.fold}")


def guess_kind(source: Path) -> str:
    """The reader for ``source`` (see :class:`DataConfig`)."""
    if source.is_dir():
        if (source / "Images").is_dir() or (source / "Frame_Labels").is_dir():
            raise DataError(f"{source} is a raw UNBC-McMaster archive: prepare it once with "
                            f"`pain3d prepare-unbc {source} --out unbc.h5` and use unbc.h5")
        if (source / "labels.csv").is_file():
            return "table"
        try:
            from pain3d.data.synthetic import detect_layout

            detect_layout(source)
            return "synthetic"
        except DataError:
            return "table"
    if source.suffix.lower() == ".csv":
        return "table"
    if source.suffix.lower() in (".h5", ".hdf5"):
        return "unbc"
    raise DataError(f"{source}: cannot tell what kind of data this is; set kind explicitly")


def synthetic_dataset(root: str | Path, split: str = "train", size: int | None = 224,
                      reference: ReferenceConfig | None = None, include_neutral: bool = True,
                      face_crop: bool = True, heatmaps: bool = False, input: str = "rgb",
                      **index_kwargs) -> PainDataset:
    """Training samples of one split (``train``/``val``/``test``/``all``) of a synthetic set
    (face crops when the manifest records keypoints and ``face_crop``; with ``heatmaps``
    or ``input="heatmap"`` the samples carry heatmaps, see :class:`DataConfig`)."""
    from pain3d.data.heatmaps import heatmap_source
    from pain3d.data.synthetic import index_synthetic

    idx = index_synthetic(root, **index_kwargs)
    t = idx.table
    mask = np.ones(len(t), bool) if split == "all" else t.split == split
    if split not in (*SPLITS, "all"):
        raise ValueError(f"split must be one of {SPLITS} or 'all', got {split!r}")
    if not include_neutral:
        mask &= ~t.neutral
    hm = (heatmap_source(t, root, index_kwargs.get("cache_dir"))
          if heatmaps or input == "heatmap" else None)
    return PainDataset(t, idx.source, np.flatnonzero(mask), size,
                       reference or ReferenceConfig(policy="same-identity"),
                       skip_bad=bool(index_kwargs.get("skip_bad")), report=idx.report,
                       face_crop=face_crop, heatmaps=hm, input=input)


def inner_split(subject_ids: np.ndarray, fraction: float, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train, val) split of subject ids; val has at least one subject."""
    ids = np.unique(subject_ids)
    if fraction <= 0 or len(ids) < 2:
        return ids, np.empty(0, ids.dtype)
    n_val = max(1, int(round(fraction * len(ids))))
    perm = np.random.default_rng([seed, 0x1A7]).permutation(ids)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def build_datasets(cfg: DataConfig) -> dict[str, PainDataset]:
    """``{"train", "val", "test"}`` datasets for ``cfg`` (a split may be empty)."""
    source = Path(cfg.source)
    kind = guess_kind(source) if cfg.kind == "auto" else cfg.kind
    train_ref, eval_ref = cfg.reference, cfg.eval_reference
    if kind == "synthetic":
        kw = dict(layout=cfg.layout, split_csv=cfg.split_csv or None,
                  cache_dir=cfg.cache_dir or None, skip_bad=cfg.skip_bad)
        return {s: synthetic_dataset(source, s, cfg.size, train_ref if s == "train" else eval_ref,
                                     cfg.include_neutral, cfg.face_crop, cfg.heatmaps,
                                     cfg.input, **kw)
                for s in SPLITS}
    if cfg.heatmaps or cfg.input == "heatmap":
        raise DataError(f"{source}: heatmaps exist for synthetic data only ({kind} data has "
                        "none); use heatmaps=False, input='rgb'")
    if kind in ("unbc", "unbc-trio"):
        from pain3d.data.hdf5 import open_unbc, open_unbc_trio

        data = (open_unbc(source) if kind == "unbc" else
                open_unbc_trio(source, cfg.annotations, cfg.folds or None))
        train_ids, test_ids = data.fold(cfg.protocol, cfg.fold)
        tr, va = inner_split(train_ids, cfg.inner_val_fraction, cfg.seed)
        log.info("UNBC %s fold %d: %d training, %d inner-validation, %d test subjects",
                 cfg.protocol, cfg.fold, len(tr), len(va), len(test_ids))
        return {"train": data.dataset(tr, cfg.size, train_ref, cfg.skip_bad),
                "val": data.dataset(va, cfg.size, eval_ref, cfg.skip_bad),
                "test": data.dataset(test_ids, cfg.size, eval_ref, cfg.skip_bad)}
    if kind == "table":
        from pain3d.data.common import SkipReport
        from pain3d.data.table import read_csv_table, read_folder_table

        report = SkipReport() if cfg.skip_bad else None
        reader = read_folder_table if source.is_dir() else read_csv_table
        table, src = reader(source, report)
        out = {}
        for s in SPLITS:
            rows = (np.flatnonzero(table.split == s) if (table.split != "").any()
                    else (np.arange(len(table)) if s == "train" else np.empty(0, np.int64)))
            out[s] = PainDataset(table, src, rows, cfg.size, train_ref if s == "train" else
                                 eval_ref, cfg.skip_bad, report)
        return out
    raise DataError(f"unknown data kind {kind!r}")


def train_sampler(dataset: PainDataset, cfg: DataConfig):
    """The training sampler of ``cfg.sampling`` (None for ``uniform``: shuffle instead)."""
    if cfg.sampling == "uniform":
        return None
    w = sample_weights(dataset.labels()["pspi"], cfg.sampling, cfg.pain_weight)
    return weighted_sampler(w, len(dataset), cfg.seed)


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one torch thread per worker (workers are the
    parallelism) and a distinct numpy seed per worker. File handles are not opened here:
    sources open them lazily on first use in each worker (see ``LazyHandle``).

    Do not call ``cv2.setNumThreads`` here: in a forked worker whose parent has already used
    OpenCV's thread pool it deadlocks (reproduced with torch 2.13 / OpenCV 4.x: the loader
    hangs forever in the first batch)."""
    import torch

    torch.set_num_threads(1)
    np.random.seed((torch.initial_seed() + worker_id) % 2**32)


def make_loader(dataset: PainDataset, batch_size: int, *, shuffle: bool = False,
                sampler=None, num_workers: int = 2, drop_last: bool = False,
                augment=None, **kwargs):
    """A ``DataLoader`` with :func:`pain3d.data.collate`, per-worker set-up and, when workers
    are used, persistent workers (handles opened once per worker for the whole run).

    ``augment`` (a :class:`~pain3d.data.augment.GpuAugment`) runs the batched augmentation in
    the workers instead of the training process: for CPU-only machines (see AugmentCollate).
    """
    from torch.utils.data import DataLoader

    from pain3d.data.augment import AugmentCollate
    from pain3d.data.common import collate

    collate_fn = AugmentCollate(augment) if augment is not None else collate
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None,
                      sampler=sampler, num_workers=num_workers, collate_fn=collate_fn,
                      worker_init_fn=worker_init, drop_last=drop_last,
                      persistent_workers=num_workers > 0, **kwargs)
