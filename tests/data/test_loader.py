"""Batch order: reproducible per (seed, epoch), resumable mid-epoch, shardable over ranks."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.data.loader import EpochBatchSampler, pain_weights


def _indices(sampler) -> list[list[int]]:
    return [[i for i, _ in b] for b in sampler]


def test_same_seed_and_epoch_give_the_same_batches_and_epochs_differ():
    a, b = EpochBatchSampler(50, 8, seed=3), EpochBatchSampler(50, 8, seed=3)
    assert _indices(a) == _indices(b)
    first = _indices(a)
    a.set_epoch(1)
    assert _indices(a) != first
    assert len(first) == len(a) == 6 and all(len(x) == 8 for x in first)


def test_resumed_sampler_yields_exactly_the_rest_of_the_epoch():
    full = EpochBatchSampler(40, 4, seed=1)
    full.set_epoch(2)
    expected = _indices(full)
    state = {"epoch": 2, "completed": 3, "seed": 1}
    resumed = EpochBatchSampler(40, 4, seed=1)
    resumed.load_state_dict(state)
    assert _indices(resumed) == expected[3:]
    assert _indices(resumed) == expected  # the skip applies to the interrupted epoch only


def test_ranks_partition_the_global_batches():
    ranks = [EpochBatchSampler(64, 4, seed=0, rank=r, world_size=4) for r in range(4)]
    got = sorted(i for s in ranks for b in _indices(s) for i in b)
    assert got == list(range(64))


def test_keys_carry_the_epoch_for_per_epoch_references():
    s = EpochBatchSampler(10, 5, seed=0)
    s.set_epoch(7)
    assert {e for b in s for _, e in b} == {7}


def test_pain_frames_are_drawn_more_often_with_a_pain_weight():
    pspi = np.array([0.0] * 80 + [3.0] * 20)
    s = EpochBatchSampler(100, 10, seed=0, weights=pain_weights(pspi, 4.0))
    drawn = np.array([i for e in range(20) for b in (s.set_epoch(e) or _indices(s)) for i in b])
    share = (drawn >= 80).mean()
    assert share == pytest.approx(80 / 160, abs=0.05)  # 20*4 / (80 + 20*4)
    assert pain_weights(pspi, 1.0) is None


def test_evaluation_order_is_the_dataset_order():
    s = EpochBatchSampler(7, 3, seed=0, shuffle=False, drop_last=False)
    assert _indices(s) == [[0, 1, 2], [3, 4, 5], [6]]
