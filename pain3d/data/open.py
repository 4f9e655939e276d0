"""Opening data: one :class:`~pain3d.data.config.DataConfig` in, one :class:`OpenedData` out.

Every kind of data opens the same way: a synthetic dataset (pain3d manifest, published
``3dpain`` folder, hub shards; :mod:`pain3d.data.synthetic`), prepared UNBC data (``unbc.h5``
or the derived HDF5 trio; :mod:`pain3d.data.hdf5`) or a labelled CSV / folder
(:mod:`pain3d.data.table`) becomes a frame table, an image source and the folds stored with
it. Training cuts datasets from it by rows and reference policy
(:meth:`OpenedData.dataset`), the only place a :class:`~pain3d.data.dataset.PainDataset`
is made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pain3d.data.common import DataError, FrameTable, ImageSource, SkipReport
from pain3d.data.config import DataConfig
from pain3d.data.dataset import PainDataset
from pain3d.data.folds import Fold, check_disjoint, hold_out_test, identity_keys, inner_split
from pain3d.data.references import ReferenceConfig

log = logging.getLogger(__name__)


def data_kind(cfg: DataConfig) -> str:
    """``synthetic``, ``unbc`` or ``table``: ``cfg.kind``, or for ``auto`` what ``cfg.root``
    holds: ``.h5`` is prepared UNBC data; a ``.csv`` or a folder with ``labels.csv`` a table; a
    folder with a synthetic layout synthetic data; any other folder a table of
    ``<subject>/<image>`` files with ``.json`` labels.

    Raises:
        DataError: when ``root`` is a raw UNBC archive (prepare it first) or unrecognised.
    """
    if cfg.kind != "auto":
        return cfg.kind
    root = Path(cfg.root)
    if root.suffix.lower() in (".h5", ".hdf5"):
        return "unbc"
    if root.suffix.lower() == ".csv":
        return "table"
    if not root.is_dir():
        raise DataError(f"data.root {root}: cannot tell what kind of data this is; set "
                        "data.kind (synthetic, unbc or table)")
    if (root / "Images").is_dir() or (root / "Frame_Labels").is_dir():
        raise DataError(f"{root} is a raw UNBC archive: prepare it once with "
                        f"`pain3d prepare-unbc {root} --out unbc.h5` and use unbc.h5")
    if (root / "labels.csv").is_file():
        return "table"
    from pain3d.data.synthetic import detect_layout

    try:
        detect_layout(root)
    except DataError:
        return "table"
    return "synthetic"


def read_reference_images(path: str | Path) -> dict[str, str]:
    """``subject,path`` CSV -> {subject: absolute image path} (relative paths: to the CSV)."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"data.reference_images {p} does not exist")
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    if not {"subject", "path"} <= set(df.columns):
        raise ValueError(f"{p}: needs columns subject,path (got {list(df.columns)})")
    out = {}
    for i, (s, f) in enumerate(zip(df["subject"], df["path"], strict=True)):
        img = Path(f) if Path(f).is_absolute() else p.parent / f
        if not img.is_file():
            raise FileNotFoundError(f"{p}: row {i + 2}: image {img} does not exist")
        out[s] = str(img)
    return out


def reference_keypoints(paths: list[str]) -> dict[str, np.ndarray]:
    """Face keypoints of given neutral images, so they are cropped like every other image.

    Each image is read as training reads it, and the largest face MediaPipe finds is taken
    (:class:`~pain3d.face.tracker.FaceTracker` with the settings and face choice of
    ``pain3d predict``); its right eye, left eye and mouth centres are kept
    (:func:`pain3d.data.align.face_keypoints`), and :func:`pain3d.data.images.face_crop`
    cuts the reference with the crop geometry of :mod:`pain3d.data.align`.

    Returns:
        path -> (3, 2) float64 image pixels.

    Raises:
        DataError: naming the image when it cannot be read or holds no face.
    """
    from pain3d.data.align import face_keypoints
    from pain3d.data.images import decode_image
    from pain3d.face.tracker import FaceTracker, largest_face

    out: dict[str, np.ndarray] = {}
    if not paths:
        return out
    with FaceTracker() as tracker:
        for path in paths:
            image = decode_image(Path(path).read_bytes(), None, path)
            faces = tracker.detect(image)
            lm = (tracker.landmarks(image, largest_face(faces).box)
                  if faces else None)
            if lm is None:
                raise DataError(f"{path}: no face found in this reference image "
                                "(data.reference_images); give a neutral photo where the face "
                                "is visible and frontal, or remove its row to use the "
                                "subject's first frames")
            out[path] = face_keypoints(lm)
    log.info("aligned %d given reference image(s) like inference does", len(out))
    return out


@dataclass(frozen=True)
class RunSplit:
    """The rows of one run (:meth:`OpenedData.split_rows`).

    Attributes:
        train: rows trained on.
        val: rows the epoch is selected on (None: no validation, the last epoch is kept).
        test: held-out rows that take no part in training or selection (may be empty).
        test_from: where the test subjects came from (``split column``, ``held out here:
            ...`` or ``none``).
    """

    train: np.ndarray
    val: np.ndarray | None
    test: np.ndarray
    test_from: str

    def subjects(self, table: FrameTable) -> dict[str, np.ndarray]:
        """Part name -> its sorted subjects (empty parts left out)."""
        parts = {"train": self.train, "val": self.val, "test": self.test}
        return {k: np.unique(table.subject[v]) for k, v in parts.items()
                if v is not None and len(v)}


@dataclass
class OpenedData:
    """Frames, pixels and folds of one dataset, and the config that opened it.

    Attributes:
        table: every frame (:class:`~pain3d.data.common.FrameTable`).
        source: where the pixels of the table's rows live.
        kind: ``synthetic``, ``unbc`` or ``table``.
        cfg: the data config (``skip_bad``, ``face_crop``, ``input``, ``label_free_frames``
            and ``cache_dir`` shape every dataset cut from here).
        folds: stored fold scheme -> [(train subjects, test subjects)] by subject name.
        report: what the reader skipped (``skip_bad``).
        user_images: subject -> given neutral image (``data.reference_images``).
    """

    table: FrameTable
    source: ImageSource
    kind: str
    cfg: DataConfig
    folds: dict[str, list[Fold]] = field(default_factory=dict)
    report: SkipReport = field(default_factory=SkipReport)
    user_images: dict[str, str] = field(default_factory=dict)
    _heatmaps: Any = None
    _user_keypoints: dict[str, np.ndarray] | None = None

    @property
    def subjects(self) -> np.ndarray:
        """Sorted unique subject names."""
        return np.unique(self.table.subject)

    def rows(self, subjects: np.ndarray | None = None, split: str | None = None,
             include_neutral: bool = False) -> np.ndarray:
        """Sample rows of the given subjects and split; neutral images (synthetic renders,
        ``neutral`` table rows) are references, not samples, unless ``include_neutral``."""
        t = self.table
        keep = np.ones(len(t), bool)
        if subjects is not None:
            keep &= np.isin(t.subject, np.asarray(subjects, dtype=str))
        if split is not None:
            keep &= t.split == split
        if not include_neutral:
            keep &= ~t.neutral
        return np.flatnonzero(keep)

    @property
    def persons(self) -> dict[str, frozenset]:
        """Subject -> identity numbers behind it (synthetic manifests; empty otherwise), for
        :func:`~pain3d.data.folds.check_disjoint`."""
        return identity_keys(self.table.subject, self.table.extra.get("identity")
                             if self.kind == "synthetic" else None)

    def check_disjoint(self, parts: dict[str, np.ndarray], where: str) -> None:
        """:func:`~pain3d.data.folds.check_disjoint` with this data's identities."""
        check_disjoint(parts, f"{self.cfg.root}: {where}", self.persons)

    def split_rows(self, val_fraction: float, seed: int, include_neutral: bool = False,
                   test_fraction: float = 0.0) -> RunSplit:
        """The train / val / test rows of one run (``pain3d train``), by subject.

        Each part comes from the data's ``split`` column when it has that part. Without a
        ``test`` split, ``test_fraction`` of the remaining subjects are held out as the test
        set here (:func:`~pain3d.data.folds.hold_out_test`); with ``test_fraction`` 0 there is
        no test set (the run then reports validation numbers and says so). Without a ``val``
        split, ``val_fraction`` of the training subjects are held out for epoch selection
        (:func:`~pain3d.data.folds.inner_split`; no validation when it is 0). The test rows
        are never validation rows, and no subject (or synthetic identity) is in two parts.

        Raises:
            DataError: when a subject is in two parts (a split column that is not by
                subject).
        """
        split_col = "train" if (self.table.split[self.rows()] != "").any() else None
        train = self.rows(split=split_col, include_neutral=include_neutral)
        val: np.ndarray | None = self.rows(split="val")
        test = self.rows(split="test")
        test_from = "split column" if len(test) else "none"
        subjects = np.unique(self.table.subject[self.rows(split=split_col)])
        if split_col is None:  # no split column: the val and test rows above are empty
            val = np.array([], np.int64)
        if not len(test) and test_fraction > 0:
            subjects, test_s = hold_out_test(subjects, test_fraction, seed)
            test = self.rows(test_s, split_col)
            train = self.rows(subjects, split_col, include_neutral)
            test_from = f"held out here: test_fraction {test_fraction:g} of the subjects"
        if not len(val):
            val = None
            if val_fraction > 0:
                fit_s, val_s = inner_split(subjects, val_fraction, seed)
                train = self.rows(fit_s, split_col, include_neutral)
                val = self.rows(val_s, split_col)
        out = RunSplit(train, val, test, test_from)
        self.check_disjoint(out.subjects(self.table), "the run's train / val / test split")
        return out

    def heatmap_source(self) -> Any:
        """The ``pain3d.data.heatmaps.HeatmapSource`` of synthetic data (built once).

        Raises:
            ValueError: for real data, which has no heatmaps.
        """
        if self.kind != "synthetic":
            raise ValueError(f"heatmaps exist for synthetic data only, not {self.kind} data "
                             f"({self.cfg.root}): distillation and heatmap inputs belong to "
                             "synthetic (pre)training")
        if self._heatmaps is None:
            from pain3d.data.heatmaps import heatmap_source

            self._heatmaps = heatmap_source(self.table, self.cfg.root, self.cfg.cache_dir)
        return self._heatmaps

    def dataset(self, rows: np.ndarray, size: int | None, policy: str, *, n: int = 1,
                seed: int = 0, deterministic: bool = False, view: str = "same",
                heatmaps: bool = False) -> PainDataset:
        """Training samples of ``rows`` with a reference policy.

        Args:
            rows: table rows that are samples (references may come from any row).
            size: image side in pixels, or None to keep the stored size.
            policy: reference policy (:func:`~pain3d.data.config.reference_policy` decides
                which one a run uses).
            n, seed, deterministic, view: see :class:`~pain3d.data.references.ReferenceConfig`
                (``label_free_frames`` and, under ``label-free``, the given reference images
                come from the data config).
            heatmaps: every sample also carries its ``heatmap``; ``data.input = heatmap``
                makes the heatmap the image and a black heatmap the reference.
        """
        if len(rows) == 0:
            raise ValueError("no frames selected: check the subjects / split of the data")
        cfg = self.cfg
        user = self.user_images if policy == "label-free" else {}
        ref = ReferenceConfig(policy=policy, n=n, view=view, seed=seed,  # type: ignore[arg-type]
                              deterministic=deterministic,
                              label_free_frames=cfg.label_free_frames, user_images=user)
        hm = self.heatmap_source() if heatmaps or cfg.input == "heatmap" else None
        return PainDataset(self.table, self.source, rows, size, ref, skip_bad=cfg.skip_bad,
                           report=self.report, face_crop=cfg.face_crop, heatmaps=hm,
                           input=cfg.input,
                           user_keypoints=self.user_keypoints() if user else None)

    def user_keypoints(self) -> dict[str, np.ndarray]:
        """Image path -> (3, 2) face keypoints of every given reference image
        (``data.reference_images``), found once (:func:`reference_keypoints`)."""
        if self._user_keypoints is None:
            self._user_keypoints = reference_keypoints(sorted(set(self.user_images.values())))
        return self._user_keypoints


def open_data(cfg: DataConfig, rebuild: bool = False) -> OpenedData:
    """Open ``cfg.root`` (any kind, see :func:`data_kind`), with given reference images
    attached.

    Args:
        cfg: the data config.
        rebuild: synthetic data: index again even when a cached index is valid.

    Raises:
        FileNotFoundError: when ``root`` is not given or does not exist.
        DataError: naming the file and the problem when the data cannot be read.
    """
    if not cfg.root:
        raise FileNotFoundError("data.root is not set: give a synthetic dataset folder, a "
                                "prepared UNBC file or a labelled CSV / folder (--data PATH "
                                "or data.root in the config)")
    root = Path(cfg.root)
    if not root.exists():
        raise FileNotFoundError(f"data.root {root} does not exist")
    kind = data_kind(cfg)
    if kind == "synthetic":
        data = _open_synthetic(root, cfg, rebuild)
    elif kind == "unbc":
        data = _open_unbc(root, cfg)
    else:
        data = _open_table(root, cfg)
    if cfg.reference_images:
        data.user_images = read_reference_images(cfg.reference_images)
    return data


def _open_synthetic(root: Path, cfg: DataConfig, rebuild: bool) -> OpenedData:
    from pain3d.data.synthetic import index_synthetic

    idx = index_synthetic(root, layout=cfg.layout, split_csv=cfg.split_csv,
                          cache_dir=cfg.cache_dir, skip_bad=cfg.skip_bad, rebuild=rebuild)
    log.info("opened synthetic data %s (%s layout): %d images, %d identities", root,
             idx.layout, len(idx.table), len(np.unique(idx.table.subject)))
    return OpenedData(idx.table, idx.source, "synthetic", cfg, report=idx.report)


def _open_unbc(root: Path, cfg: DataConfig) -> OpenedData:
    from pain3d.data.hdf5 import open_unbc, open_unbc_trio

    d = (open_unbc_trio(root, cfg.annotations, cfg.folds_file) if cfg.annotations
         else open_unbc(root))
    log.info("opened UNBC data %s: %d frames, %d subjects, stored folds %s", root,
             len(d.table), len(np.unique(d.table.subject)), sorted(d.folds))
    return OpenedData(d.table, d.source, "unbc", cfg, d.folds)


def _open_table(root: Path, cfg: DataConfig) -> OpenedData:
    from pain3d.data.table import read_csv_table, read_folder_table

    report = SkipReport()
    reader = read_folder_table if root.is_dir() else read_csv_table
    table, source = reader(root, report if cfg.skip_bad else None)
    log.info("opened labelled table %s: %d images, %d subjects", root, len(table),
             len(np.unique(table.subject)))
    return OpenedData(table, source, "table", cfg, report=report)
