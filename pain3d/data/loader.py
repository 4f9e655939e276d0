"""The one data loader: reproducible, resumable batching, where the order of every epoch is a
function of (seed, epoch), and the PSPI sampling weights.

A run killed mid-epoch and resumed from its last checkpoint must see the same batches as an
uninterrupted run. Lightning saves and restores a dataloader's ``state_dict`` when it has
one, so :class:`ResumableLoader` exposes the batch sampler's position; the sampler re-draws
the epoch's order from ``(seed, epoch)`` and skips the batches already trained on, without
reading their images.

References are part of the randomness: :class:`EpochDataset` gives every epoch its own
deterministic reference draw (seed ``reference.seed + epoch``), so references still vary
from epoch to epoch but no longer depend on worker processes or call counts.

Batches carry uint8 pixels (``pixels="uint8"``): a quarter of the bytes of float32 to pass
from the workers and to the device, which scales them to [0, 1] there (``GpuAugment``,
``ViTPain.normalize``); the scaled values are bit-identical to float32 samples. Workers are
persistent: they are started once per loader, not once per epoch.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from pain3d.data.common import collate as collate_samples

log = logging.getLogger(__name__)


def pain_weights(pspi: np.ndarray, pain_weight: float) -> np.ndarray | None:
    """Sampling weights: ``pain_weight`` for frames with PSPI >= 1, 1 for the others.

    ``None`` (uniform shuffling without replacement) when ``pain_weight == 1``.
    """
    if pain_weight <= 0:
        raise ValueError(f"pain_weight must be > 0, got {pain_weight}")
    if pain_weight == 1.0:
        return None
    return np.where(np.asarray(pspi) >= 1.0, float(pain_weight), 1.0)


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(index, epoch)`` keys; the order is a pure function of (seed, epoch).

    Args:
        n: dataset length.
        batch_size: samples per batch (per process).
        seed: run seed.
        weights: ``(n,)`` sampling weights (draws with replacement, ``n`` per epoch), or None
            for a plain permutation.
        shuffle: False keeps the dataset order (evaluation).
        drop_last: drop a last partial batch (training; keeps batch statistics stable).
        rank, world_size: this process's share under DDP (each rank takes every
            ``world_size``-th batch of the same global order); None reads them from
            ``torch.distributed`` when it is initialised (Lightning starts it inside ``fit``).
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, weights: np.ndarray | None = None,
                 shuffle: bool = True, drop_last: bool = True, rank: int | None = None,
                 world_size: int | None = None) -> None:
        if n < 1:
            raise ValueError("cannot sample batches from an empty dataset")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if weights is not None and len(weights) != n:
            raise ValueError(f"{len(weights)} sampling weights for {n} samples")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.weights = None if weights is None else np.asarray(weights, np.float64)
        self.shuffle, self.drop_last = shuffle, drop_last
        self._rank, self._world = rank, world_size
        self.epoch = 0
        self.completed = 0  # batches of the current epoch already trained on (set by the module)
        self._skip = 0

    @property
    def rank(self) -> int:
        if self._rank is not None:
            return self._rank
        dist = torch.distributed
        return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0

    @property
    def world_size(self) -> int:
        if self._world is not None:
            return self._world
        dist = torch.distributed
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        if epoch != self.epoch:
            self.completed = 0
        self.epoch = int(epoch)

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.weights is None:
            return rng.permutation(self.n)
        p = self.weights / self.weights.sum()
        return rng.choice(self.n, size=self.n, replace=True, p=p)

    def _global_batches(self) -> int:
        if self.drop_last:
            return self.n // self.batch_size
        return math.ceil(self.n / self.batch_size)

    def __len__(self) -> int:
        return max(self._global_batches() // self.world_size, 1 if not self.drop_last else 0)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = self._order()
        batches = [order[i * self.batch_size:(i + 1) * self.batch_size]
                   for i in range(self._global_batches())]
        mine = batches[self.rank::self.world_size][:len(self)]
        skip, self._skip = self._skip, 0
        if skip:
            log.info("resuming epoch %d after batch %d", self.epoch, skip)
        for b in mine[skip:]:
            yield [(int(i), self.epoch) for i in b]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "completed": self.completed, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if int(state.get("seed", self.seed)) != self.seed:
            log.warning("resuming with seed %d but the checkpoint was made with seed %s",
                        self.seed, state.get("seed"))
        self.epoch = int(state["epoch"])
        self.completed = int(state["completed"])
        self._skip = self.completed


class EpochDataset(Dataset):
    """Wraps a dataset so that key ``(index, epoch)`` uses that epoch's reference draw.

    Datasets with ``with_reference`` and a ``reference`` config (``pain3d.data.PainDataset``)
    get a deterministic draw seeded by ``reference.seed + epoch``; others are indexed as is.
    Datasets with ``with_pixels`` give ``pixels`` (``uint8`` or ``float32``) samples.
    """

    def __init__(self, base: Any, pixels: str | None = None) -> None:
        if pixels is not None and hasattr(base, "with_pixels") and \
                getattr(base, "pixels", pixels) != pixels:
            base = base.with_pixels(pixels)
        self.base = base
        self._cache: tuple[int, Any] | None = None

    def __len__(self) -> int:
        return len(self.base)

    def for_epoch(self, epoch: int) -> Any:
        ref = getattr(self.base, "reference", None)
        if ref is None or not hasattr(self.base, "with_reference") or \
                getattr(ref, "policy", "none") == "none":
            return self.base
        if self._cache is None or self._cache[0] != epoch:
            cfg = dataclasses.replace(ref, seed=int(ref.seed) + int(epoch), deterministic=True)
            self._cache = (epoch, self.base.with_reference(cfg))
        return self._cache[1]

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        if isinstance(key, tuple):
            index, epoch = key
        else:
            index, epoch = key, 0
        return self.for_epoch(epoch)[int(index)]


class ResumableLoader(DataLoader):
    """A DataLoader whose position Lightning saves in checkpoints (``state_dict``)."""

    def state_dict(self) -> dict[str, int]:
        return self.batch_sampler.state_dict()  # type: ignore[union-attr]

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.batch_sampler.load_state_dict(state)  # type: ignore[union-attr]


def _seed_worker(worker_id: int) -> None:
    # Workers start from torch's per-worker seed; numpy and random follow it. Do not call
    # cv2.setNumThreads here: in a forked worker whose parent has used OpenCV's thread pool it
    # deadlocks (seen with torch 2.13 / OpenCV 4.x: the first batch never arrives).
    import random

    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def make_loader(dataset: Any, batch_size: int, *, train: bool = True, seed: int = 0,
                weights: np.ndarray | None = None, num_workers: int = 0,
                collate: Callable[[Sequence[Any]], Any] = collate_samples,
                rank: int | None = None, world_size: int | None = None,
                pin_memory: bool = False, pixels: str = "uint8") -> DataLoader:
    """A training loader or an evaluation loader (dataset order, every sample once).

    A training loader shuffles (or draws with ``weights``, e.g. :func:`pain_weights`), drops
    a last partial batch, orders each epoch by (seed, epoch) only and resumes mid-epoch
    (:class:`ResumableLoader`); ``rank`` / ``world_size`` (default: ``torch.distributed``)
    give this process its DDP share. ``collate`` defaults to
    :func:`pain3d.data.common.collate` (``pain3d.data.augment.AugmentCollate`` augments in
    the workers instead). ``pixels``: ``uint8`` (default) or ``float32`` images in the
    batches of a ``PainDataset`` (see the module docstring); other datasets give what they
    give.
    """
    wrapped = EpochDataset(dataset, pixels)
    if not train:  # evaluation: this process sees every sample, in order
        rank, world_size = 0, 1
    sampler = EpochBatchSampler(len(wrapped), batch_size, seed=seed, weights=weights if train
                                else None, shuffle=train, drop_last=train and
                                len(wrapped) >= batch_size * (world_size or 1), rank=rank,
                                world_size=world_size)
    g = torch.Generator()
    g.manual_seed(seed)
    cls = ResumableLoader if train else DataLoader
    return cls(wrapped, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers,
               worker_init_fn=_seed_worker, generator=g, pin_memory=pin_memory,
               persistent_workers=num_workers > 0)
