"""Training data: readers, references, sampling and augmentation.

Every reader yields the training sample of the architecture contract, a dict with

- ``image``: (3, H, W) float32 in [0, 1] (not normalised: :class:`GpuAugment` normalises on
  the device with the model's mean / std);
- ``neutral``: (3, H, W), or (N, 3, H, W) for N references; absent under policy ``none``;
- ``heatmap``: (3, H, W) float32 in [0, 1], only when asked for (synthetic data,
  ``heatmaps=True``): the pain configuration's heatmap framed like its view-0 image, black
  for neutral renders (:mod:`pain3d.data.heatmaps`);
- ``au``: (6,) float32 FACS 0..5 in ``[AU4, AU6, AU7, AU9, AU10, AU43]`` order;
- ``pspi``: () float32 0..16;
- ``subject``: str;
- ``meta``: dict of plain values (``path``, ``row``, ``sequence``, ``frame``, ``view``,
  ``split``, ``reference``, ``reference_subject``, ``reference_policy``, ...).

Entry points: :func:`build_datasets` (from a :class:`DataConfig`), :func:`synthetic_dataset`,
:func:`open_unbc` / :func:`open_unbc_trio`, :func:`prepare_unbc`, :func:`collate`,
:func:`sample_weights`, :class:`GpuAugment`, :func:`pain3d.data.align.crop_from_landmarks`.
"""

from pain3d.data.augment import PRESETS, AugmentConfig, GpuAugment
from pain3d.data.builders import (
    DataConfig,
    build_datasets,
    make_loader,
    synthetic_dataset,
    train_sampler,
    worker_init,
)
from pain3d.data.common import DataError, FrameTable, SkipReport, collate
from pain3d.data.dataset import PainDataset
from pain3d.data.hdf5 import UNBCData, open_unbc, open_unbc_trio
from pain3d.data.references import POLICIES, ReferenceConfig
from pain3d.data.sampling import sample_weights, weighted_sampler
from pain3d.data.synthetic import index_synthetic
from pain3d.data.unbc import PrepareConfig, kfold_subjects, loso_subjects, prepare_unbc

__all__ = [
    "PRESETS", "POLICIES", "AugmentConfig", "DataConfig", "DataError", "FrameTable",
    "GpuAugment", "PainDataset", "PrepareConfig", "ReferenceConfig", "SkipReport", "UNBCData",
    "build_datasets", "collate", "index_synthetic", "kfold_subjects", "loso_subjects",
    "make_loader", "open_unbc", "open_unbc_trio", "prepare_unbc", "sample_weights",
    "synthetic_dataset", "train_sampler", "weighted_sampler", "worker_init",
]
