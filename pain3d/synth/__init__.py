"""Synthetic 3DPain-compatible datasets: plans of sample specs, a per-identity worker behind a
renderer seam, writers for the 3dpain and hub layouts, manifest, engines, verify, inspect.

Typical use::

    from pain3d.synth import GenerateConfig, RunOptions, generate_dataset, verify_dataset
    summary = generate_dataset(GenerateConfig(identities=10, size=256),
                               RunOptions(out="data/tiny"))
    assert verify_dataset("data/tiny").ok

(``generate_dataset`` and ``verify_dataset`` are :func:`pain3d.synth.generate.generate` and
:func:`pain3d.synth.verify.verify`; the short names are the modules.) Names are imported
lazily so ``import pain3d.synth`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "generate_dataset": ("pain3d.synth.generate", "generate"),
    "verify_dataset": ("pain3d.synth.verify", "verify"),
    "GenerateConfig": "pain3d.synth.config",
    "SampleSpec": "pain3d.synth.spec",
    "IdentitySpec": "pain3d.synth.spec",
    "DatasetPlan": "pain3d.synth.spec",
    "build_plan": "pain3d.synth.plan",
    "RunOptions": "pain3d.synth.generate",
    "GenerateSummary": "pain3d.synth.generate",
    "sample_files": "pain3d.synth.generate",
    "regenerate": "pain3d.synth.generate",
    "render_samples": "pain3d.synth.worker",
    "build_identity": "pain3d.synth.builtin",
    "sample_from_json": "pain3d.synth.spec",
    "VerifyReport": "pain3d.synth.verify",
    "inspect_dataset": "pain3d.synth.inspect",
    "SampleRenderer": "pain3d.synth.renderer",
    "RenderedImage": "pain3d.synth.renderer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        where = _EXPORTS[name]
        module, attr = where if isinstance(where, tuple) else (where, name)
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'pain3d.synth' has no attribute {name!r}")
