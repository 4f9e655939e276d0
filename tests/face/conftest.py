"""Shared fixtures for the geometry tests."""

from __future__ import annotations

import pytest

from pain3d.face import identity_mesh, sample_identities


@pytest.fixture(scope="session")
def identities():
    return sample_identities(4, seed=7)


@pytest.fixture(scope="session")
def meshes(identities):
    return [identity_mesh(i) for i in identities]
