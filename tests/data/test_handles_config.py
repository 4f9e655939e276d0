"""Per-worker handles, configs, and the GPU path of the augmentation."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from pain3d.config import ConfigError, from_dict, load_config
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


def test_data_config_reads_every_shipped_config_and_rejects_bad_values():
    import yaml

    configs = Path(__file__).resolve().parents[2] / "configs"
    sections = {p.name: (yaml.safe_load(p.read_text()) or {}).get("data")
                for p in sorted(configs.glob("*.yaml"))}
    assert sum(v is not None for v in sections.values()) >= 5
    for name, data in sections.items():
        if data is not None:
            from_dict(DataConfig, data, where=name)
    with pytest.raises(ConfigError, match="kind"):
        load_config(DataConfig, None, {"kind": "video"})
    with pytest.raises(ValueError, match="eval_reference 'magic'"):
        DataConfig(eval_reference="magic")  # type: ignore[arg-type]


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
