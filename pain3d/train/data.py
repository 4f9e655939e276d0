"""Opening the data a run trains on, and choosing subjects for folds and validation.

A thin layer over :mod:`pain3d.data`: a synthetic dataset folder (``index_synthetic``) or a
prepared UNBC file (``open_unbc`` / ``open_unbc_trio``) becomes one :class:`RunData` (frame
table + image source + folds by subject name), from which the recipes cut datasets by subject
with a reference policy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pain3d.train.config import DataConfig

log = logging.getLogger(__name__)

Fold = tuple[np.ndarray, np.ndarray]  # (train subjects, test subjects), names as str


def reference_label(policy: str) -> str:
    """The predictions-CSV name of a reference policy (``label-free`` -> ``label_free``).

    Synthetic ``same-identity`` references need no labels, so they count as label-free.
    """
    return {"same-identity": "label_free"}.get(policy, policy.replace("-", "_"))


@dataclass
class RunData:
    """Frames, pixels and folds of one dataset.

    Attributes:
        table: ``pain3d.data.common.FrameTable`` of every frame.
        source: image source of the table's rows.
        kind: ``synthetic`` or ``unbc``.
        folds: fold scheme name -> [(train subjects, test subjects)] stored with the data.
        skip_bad: skip unreadable images.
        face_crop: crop synthetic images around their face keypoints (``lm_*`` manifest
            columns) like inference does; False resizes the whole render.
    """

    table: Any
    source: Any
    kind: str
    folds: dict[str, list[Fold]] = field(default_factory=dict)
    skip_bad: bool = False
    user_images: dict[str, str] = field(default_factory=dict)
    root: str = ""
    face_crop: bool = True
    _heatmaps: Any = None

    def heatmap_source(self) -> Any:
        """The ``pain3d.data.heatmaps.HeatmapSource`` of synthetic data (built once).

        Raises:
            ValueError: for real data, which has no heatmaps.
        """
        if self.kind != "synthetic":
            raise ValueError(f"heatmaps exist for synthetic data only, not {self.kind} data "
                             f"({self.root}): distillation and heatmap inputs belong to "
                             "synthetic (pre)training")
        if self._heatmaps is None:
            from pain3d.data.heatmaps import heatmap_source

            self._heatmaps = heatmap_source(self.table, self.root)
        return self._heatmaps

    @property
    def subjects(self) -> np.ndarray:
        """Sorted unique subject names."""
        return np.unique(self.table.subject)

    def rows(self, subjects: np.ndarray | None = None, split: str | None = None,
             include_neutral: bool = False) -> np.ndarray:
        """Sample rows of the given subjects and split; synthetic neutral renders are
        references, not samples, unless ``include_neutral``."""
        t = self.table
        keep = np.ones(len(t), bool)
        if subjects is not None:
            keep &= np.isin(t.subject, np.asarray(subjects, dtype=str))
        if split is not None:
            keep &= t.split == split
        if not include_neutral:
            keep &= ~t.neutral
        return np.flatnonzero(keep)

    def dataset(self, rows: np.ndarray, size: int | None, policy: str, n: int = 1,
                seed: int = 0, deterministic: bool = False, label_free_frames: int = 5,
                heatmaps: bool = False, input: str = "rgb") -> Any:
        """A ``pain3d.data.PainDataset`` over ``rows`` with a reference policy.

        ``heatmaps`` adds each sample's ``heatmap``; ``input="heatmap"`` makes the heatmap
        the image and a black heatmap the reference (see ``PainDataset``)."""
        from pain3d.data.dataset import PainDataset
        from pain3d.data.references import ReferenceConfig

        if len(rows) == 0:
            raise ValueError("no frames selected: check the subjects / split of the data")
        user = self.user_images if policy == "label-free" else {}
        ref = ReferenceConfig(policy=policy, n=n, seed=seed, deterministic=deterministic,
                              label_free_frames=label_free_frames,
                              user_images=user)  # type: ignore[arg-type]
        hm = self.heatmap_source() if heatmaps or input == "heatmap" else None
        return PainDataset(self.table, self.source, rows, size, ref, skip_bad=self.skip_bad,
                           face_crop=self.face_crop, heatmaps=hm, input=input)


def _ids_to_names(table: Any, folds: list[tuple[np.ndarray, np.ndarray]]) -> list[Fold]:
    ids = table.extra["subject_id"]
    name_of = {int(i): str(s) for i, s in zip(ids, table.subject, strict=True)}
    return [(np.array(sorted(name_of[int(i)] for i in tr if int(i) in name_of)),
             np.array(sorted(name_of[int(i)] for i in te if int(i) in name_of)))
            for tr, te in folds]


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


def open_data(cfg: DataConfig) -> RunData:
    """Open ``cfg.root`` as synthetic or UNBC data (see :func:`_open`), with given
    reference images attached."""
    data = _open(cfg)
    if cfg.reference_images:
        data.user_images = read_reference_images(cfg.reference_images)
    return data


def data_kind(cfg: DataConfig) -> str:
    """``unbc`` or ``synthetic``: ``cfg.kind``, or for ``auto`` what ``cfg.root`` holds (a
    ``.h5`` file is prepared UNBC data; anything else a synthetic dataset folder).

    Raises:
        ValueError: when ``root`` is a raw UNBC archive (prepare it first).
    """
    if cfg.kind != "auto":
        return cfg.kind
    root = Path(cfg.root)
    if root.suffix.lower() in (".h5", ".hdf5"):
        return "unbc"
    if root.is_dir() and ((root / "Images").exists() or (root / "Frame_Labels").exists()):
        raise ValueError(f"{root} is a raw UNBC archive: prepare it once with "
                         f"`pain3d prepare-unbc {root} --out unbc.h5` and train on unbc.h5")
    return "synthetic"


def _open(cfg: DataConfig) -> RunData:
    """Open ``cfg.root`` as synthetic or UNBC data.

    Raises:
        FileNotFoundError: when ``root`` is not given or does not exist.
        ValueError: when ``root`` is a raw UNBC archive (prepare it first) or unrecognised.
    """
    if not cfg.root:
        raise FileNotFoundError("data.root is not set: give a synthetic dataset folder or a "
                                "prepared UNBC file (--data PATH or data.root in the config)")
    root = Path(cfg.root)
    if not root.exists():
        raise FileNotFoundError(f"data.root {root} does not exist")
    if data_kind(cfg) == "unbc":
        from pain3d.data.hdf5 import open_unbc, open_unbc_trio

        if cfg.annotations:
            d = open_unbc_trio(root, cfg.annotations, cfg.folds_file)
        else:
            d = open_unbc(root)
        folds = {name: _ids_to_names(d.table, f) for name, f in d.folds.items()}
        log.info("opened UNBC data %s: %d frames, %d subjects, stored folds %s", root,
                 len(d.table), len(np.unique(d.table.subject)), sorted(folds))
        return RunData(d.table, d.source, "unbc", folds, cfg.skip_bad, root=str(root))
    from pain3d.data.synthetic import index_synthetic

    idx = index_synthetic(root, layout=cfg.layout, split_csv=cfg.split_csv,  # type: ignore[arg-type]
                          skip_bad=cfg.skip_bad)
    log.info("opened synthetic data %s (%s layout): %d images, %d identities", root,
             idx.layout, len(idx.table), len(np.unique(idx.table.subject)))
    return RunData(idx.table, idx.source, "synthetic", {}, cfg.skip_bad, root=str(root),
                   face_crop=cfg.face_crop)


def kfold(subjects: np.ndarray, k: int, seed: int) -> list[Fold]:
    """Deterministic k-fold by subject: sorted, permuted by ``seed``, dealt round-robin."""
    subs = np.unique(np.asarray(subjects, dtype=str))
    if len(subs) < k:
        raise ValueError(f"{len(subs)} subject(s) cannot make {k} folds by subject")
    perm = np.random.default_rng([seed, 0xF01D]).permutation(subs)
    return [(np.setdiff1d(subs, perm[f::k]), np.sort(perm[f::k])) for f in range(k)]


def loso(subjects: np.ndarray) -> list[Fold]:
    """Leave one subject out, in name order."""
    subs = np.unique(np.asarray(subjects, dtype=str))
    return [(subs[subs != s], np.array([s])) for s in subs]


def cv_folds(data: RunData, scheme: str, k: int, seed: int) -> list[Fold]:
    """The folds of a cross-validation: stored ``kfold5`` folds when the data has them
    (the fixed fold file) for ``5fold``, else computed; ``file`` requires stored folds."""
    if scheme == "loso":
        return loso(data.subjects)
    stored = data.folds.get("kfold5") or data.folds.get("file") or next(
        iter(data.folds.values()), None)
    if scheme == "file":
        if not stored:
            raise ValueError("cv.scheme = file but the data has no stored folds: give "
                             "data.folds_file or use cv.scheme = 5fold")
        return stored
    if stored and len(stored) == k and "kfold5" in data.folds:
        return data.folds["kfold5"]
    return kfold(data.subjects, k, seed)


def inner_split(subjects: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the training subjects (at least one) for checkpoint selection.

    Returns:
        ``(fit subjects, validation subjects)``, both sorted.
    """
    subs = np.unique(np.asarray(subjects, dtype=str))
    if len(subs) < 2:
        raise ValueError(f"{len(subs)} training subject(s): an inner validation split needs >= 2")
    n_val = min(max(1, int(round(fraction * len(subs)))), len(subs) - 1)
    perm = np.random.default_rng([seed, 0x1A1]).permutation(subs)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
