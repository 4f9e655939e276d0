"""Per-worker handles, configs, and the GPU path of the augmentation."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest
import torch

from pain3d.config import load_config
from pain3d.data import DataConfig, GpuAugment
from pain3d.data.common import H5Source


def test_handles_are_not_pickled_and_reopen_in_a_new_process(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as h5:
        h5["image"] = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    src = H5Source(path, "image", np.array([1, 0]))
    first = src.handle.get()
    assert src.handle.get() is first  # opened once, not per sample
    np.testing.assert_array_equal(src.read(1), np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    copy = pickle.loads(pickle.dumps(src))
    assert copy.handle._handle is None
    src.handle._pid = os.getpid() + 1  # as seen from a forked worker
    assert src.handle.get() is not first
    np.testing.assert_array_equal(copy.read(0), src.read(0))


def test_data_config_loads_nested_reference_overrides(tmp_path):
    cfg = load_config(DataConfig, None, {"source": "x.h5", "reference.policy": "label-free",
                                         "eval_reference.n": 3, "sampling": "published"})
    assert cfg.reference.policy == "label-free" and cfg.eval_reference.n == 3
    assert cfg.eval_reference.deterministic
    with pytest.raises(ValueError, match="policy"):
        load_config(DataConfig, None, {"reference.policy": "magic"})


@pytest.mark.gpu
def test_augmentation_runs_on_cuda_and_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = torch.rand(4, 3, 64, 64)
    cpu = GpuAugment("synthetic", seed=3).train()
    gpu = GpuAugment("synthetic", seed=3).train().cuda()
    a, _ = cpu(x)
    b, _ = gpu(x.cuda())
    torch.testing.assert_close(b.cpu(), a, atol=1e-3, rtol=0)
