"""Seed derivation: every random quantity of pain3d draws from its own seed.

A seed is derived from a master seed and integer keys (an identity index, a stream tag, ...),
so adding a new random quantity never shifts the values of the existing ones, and the same
keys give the same seed on every platform and numpy version.
"""

from __future__ import annotations

import numpy as np


def derive_seed(*keys: int) -> int:
    """A 32-bit seed from integer keys (stable across numpy versions and platforms)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint32)[0])
