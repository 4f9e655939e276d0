"""Training data: one config, readers for every kind, folds, references, the loader and
augmentation.

Every dataset is opened the same way: :func:`open_data` reads a :class:`DataConfig` (a
synthetic dataset, prepared UNBC data or a labelled CSV / folder) into an
:class:`~pain3d.data.open.OpenedData` whose ``dataset(rows, size, policy)`` yields the
training sample of the architecture contract, a dict with

- ``image``: (3, H, W) float32 in [0, 1], or uint8 0..255 in the batches of
  :func:`make_loader` (not normalised: :class:`GpuAugment` scales and normalises on the
  device with the model's mean / std);
- ``neutral``: (3, H, W), or (N, 3, H, W) for N references; absent under policy ``none``;
- ``heatmap``: (3, H, W) like ``image``, only when asked for (synthetic data,
  ``heatmaps=True``): the pain configuration's heatmap framed like its view-0 image, black
  for neutral renders (:mod:`pain3d.data.heatmaps`);
- ``au``: (6,) float32 FACS 0..5 in ``[AU4, AU6, AU7, AU9, AU10, AU43]`` order;
- ``pspi``: () float32 0..16;
- ``subject``: str;
- ``meta``: dict of plain values (``path``, ``row``, ``sequence``, ``frame``, ``view``,
  ``split``, ``reference``, ``reference_subject``, ``reference_policy``, ...).

Folds by subject come from :mod:`pain3d.data.folds`, batches from :func:`make_loader`
(resumable, reproducible per epoch), raw UNBC archives are prepared by :func:`prepare_unbc`.
"""

from pain3d.data.augment import PRESETS, AugmentConfig, GpuAugment
from pain3d.data.common import DataError, FrameTable, SkipReport, collate
from pain3d.data.config import DataConfig, reference_policy
from pain3d.data.dataset import PainDataset
from pain3d.data.folds import cv_folds, inner_split, kfold_subjects, loso_subjects
from pain3d.data.hdf5 import UNBCData, open_unbc, open_unbc_trio
from pain3d.data.loader import make_loader, pain_weights
from pain3d.data.open import OpenedData, data_kind, open_data
from pain3d.data.references import POLICIES, ReferenceConfig, reference_label
from pain3d.data.synthetic import index_synthetic
from pain3d.data.unbc import PrepareConfig, prepare_unbc

__all__ = [
    "PRESETS", "POLICIES", "AugmentConfig", "DataConfig", "DataError", "FrameTable",
    "GpuAugment", "OpenedData", "PainDataset", "PrepareConfig", "ReferenceConfig",
    "SkipReport", "UNBCData", "collate", "cv_folds", "data_kind", "index_synthetic",
    "inner_split", "kfold_subjects", "loso_subjects", "make_loader", "open_data",
    "open_unbc", "open_unbc_trio", "pain_weights", "prepare_unbc", "reference_label",
    "reference_policy",
]
