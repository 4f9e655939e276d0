"""Compositing (render over background, stray hairs, camera effects) A/B between checkouts,
in one process on the same recorded renders.

    cd /tmp && PYTHONPATH=CHECKOUT python CHECKOUT/benchmarks/compose_ab.py /work/main CHECKOUT
    python benchmarks/compose_ab.py A B --rounds 12 --identity 1

Records the :func:`pain3d.render.compose.compose` calls that generation makes for one
procedural identity (33 images at 512 px, drawn by the running checkout), then replays them
through each checkout's ``pain3d/render/compose.py`` and ``pain3d/render/strays.py`` (loaded
from their files; the camera effects are the running checkout's), alternating the order
every round. Prints per checkout the median, min and max CPU ms per image over rounds, the
paired difference to the first checkout, and a SHA-256 of the composited images: equal
digests mean the same bytes. Sub-millisecond changes drown in the noise of separate runs on
a shared machine; paired rounds in one process do not.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("LP_NUM_THREADS", "0")  # before any GL context: like a pool worker


def _record(identity: int) -> list:
    """(result, background, effects, rng state) of each compose call for one identity."""
    from pain3d.synth.builtin import BuiltinRenderer
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.plan import build_plan

    cfg = GenerateConfig(identities=identity + 1)
    builtin = BuiltinRenderer(cfg)
    unit = build_plan(cfg).units[identity]
    compose_mod = importlib.import_module("pain3d.render.compose")
    compose, calls = compose_mod.compose, []

    def record(result, background, effects=None, rng=None, feather=0.8):
        state = None if rng is None else rng.bit_generator.state
        calls.append((result, background, effects, state))
        return compose(result, background, effects, rng, feather)

    compose_mod.compose = record
    try:
        state = builtin.prepare(unit.identity)
        for sample in unit.samples:
            builtin.render(state, sample, mask=False, depth=False)
    finally:
        compose_mod.compose = compose
        builtin.release()
    if any(st is None for *_, st in calls):
        raise RuntimeError("compose was called without a generator: nothing to replay")
    return calls


def _load(checkout: str, tag: str):
    """``compose`` of a checkout's compose.py, calling that checkout's stray hairs."""
    mods = {}
    for name in ("strays", "compose"):
        path = Path(checkout) / "pain3d" / "render" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"_ab_{tag}_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods[name] = mod
    mods["compose"].add_stray_hairs = mods["strays"].add_stray_hairs
    return mods["compose"].compose


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkouts", nargs="+", help="checkout roots; the first is the reference")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--identity", type=int, default=1, help="which identity's renders")
    a = p.parse_args()
    import cv2
    import numpy as np

    cv2.setNumThreads(1)
    calls = _record(a.identity)
    composes = [_load(c, str(i)) for i, c in enumerate(a.checkouts)]
    ms: list[list[float]] = [[] for _ in composes]
    digests = [""] * len(composes)
    for round_ in range(a.rounds):
        order = range(len(composes)) if round_ % 2 == 0 else reversed(range(len(composes)))
        for k in order:
            digest = hashlib.sha256()
            c0 = time.process_time()
            for result, background, effects, state in calls:
                rng = np.random.default_rng()
                rng.bit_generator.state = state
                digest.update(composes[k](result, background, effects, rng).tobytes())
            ms[k].append(1000 * (time.process_time() - c0) / len(calls))
            digests[k] = digest.hexdigest()[:16]
    print(f"{len(calls)} images, {a.rounds} rounds (load average {os.getloadavg()[0]:.1f}); "
          "compose CPU ms per image:")
    for k, checkout in enumerate(a.checkouts):
        gain = [x - y for x, y in zip(ms[0], ms[k], strict=True)]
        print(f"{checkout:32s} median {statistics.median(ms[k]):6.3f} "
              f"[{min(ms[k]):.3f}, {max(ms[k]):.3f}]  less than the first: median "
              f"{statistics.median(gain):6.3f} [{min(gain):.3f}, {max(gain):.3f}]  "
              f"sha256 {digests[k]}")


if __name__ == "__main__":
    main()
