"""derive_seeds (vectorised) gives exactly derive_seed's seeds (numpy's SeedSequence)."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.seeds import derive_seed, derive_seeds


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
def test_derive_seeds_equals_derive_seed_row_by_row(k):
    rng = np.random.default_rng(k)
    keys = rng.integers(0, 2**32, size=(200, k), dtype=np.uint64)
    keys[:40] = rng.integers(0, 6, size=(40, k))  # small keys and zeros, as plans use
    keys[40] = 2**32 - 1
    got = derive_seeds(keys)
    assert got.dtype == np.uint32
    assert got.tolist() == [derive_seed(*(int(x) for x in row)) for row in keys]


def test_keys_beyond_32_bits_and_negative_keys_go_through_derive_seed():
    keys = np.array([[2**40 + 5, 3, 1], [7, 3, 1]], dtype=object)
    assert derive_seeds(keys).tolist() == [derive_seed(2**40 + 5, 3, 1), derive_seed(7, 3, 1)]
    with pytest.raises(ValueError):
        derive_seeds(np.array([[-1, 2]]))
    with pytest.raises(ValueError, match="shape"):
        derive_seeds(np.array([1, 2]))
