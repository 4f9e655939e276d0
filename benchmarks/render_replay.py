"""The GL stage of `pain3d generate` alone: its draws replayed, CPU split by thread.

    cd /tmp && PYTHONPATH=CHECKOUT python CHECKOUT/benchmarks/render_replay.py
    python benchmarks/render_replay.py --identities 2 --rounds 8 --size 512

Records the :meth:`pain3d.render.Renderer.render` calls that generation makes for
``--identities`` procedural identities (33 images each, default 512 px, one llvmpipe rasterizer
thread, so its time can be told from the calling thread's; pool workers rasterise in the
calling thread, LP_NUM_THREADS=0, which gives the same bytes), then draws them again
``--rounds`` times on the same renderer (the textures and geometry uploaded anew each round,
as for a fresh identity). Per round it
measures the process CPU time and how much of it the llvmpipe rasterizer threads took
(``/proc/self/task/*/schedstat``): the rest is the calling thread (Python, vertex shading and
binning, read-back). Prints the minimum and median over rounds, which makes two checkouts
comparable on a shared machine when they are run back to back, and a SHA-256 of the RGB,
part and heat passes of the first round: equal digests mean the same rendered bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import threading
import time

os.environ.setdefault("LP_NUM_THREADS", "1")  # before any GL context: one rasterizer thread


def _other_threads_ms() -> float:
    """CPU milliseconds of this process's threads other than the calling one."""
    me, total = str(threading.get_native_id()), 0
    for tid in os.listdir("/proc/self/task"):
        if tid != me:
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:  # the thread ended meanwhile
                pass
    return total / 1e6


def _record(identities: int, size: int):
    """The generation's renderer and its draws (args, kwargs) for ``identities`` identities
    after the first (the first identity warms up imports and shader compiles)."""
    from pain3d.render.renderer import Renderer
    from pain3d.synth.builtin import BuiltinRenderer
    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.plan import build_plan

    cfg = GenerateConfig(identities=identities + 1, size=size)
    builtin = BuiltinRenderer(cfg)
    draws: list = []
    render = Renderer.render

    def record(self, *args, **kwargs):
        draws.append((args, kwargs))
        return render(self, *args, **kwargs)

    Renderer.render = record
    warm_up = 0
    try:
        for unit in build_plan(cfg).units:
            state = builtin.prepare(unit.identity)
            for sample in unit.samples:
                builtin.render(state, sample, mask=False, depth=False)
            warm_up = warm_up or len(draws)
    finally:
        Renderer.render = render
    return builtin, draws[warm_up:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--identities", type=int, default=2)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--size", type=int, default=512)
    a = p.parse_args()
    builtin, draws = _record(a.identities, a.size)
    r = builtin.renderer
    digest = hashlib.sha256()
    total, raster = [], []
    for round_ in range(a.rounds):
        r._tex_token = r._topo_token = None  # upload textures and geometry again
        r._last_upload = (None, None, None)
        o0, c0 = _other_threads_ms(), time.process_time()
        for args, kwargs in draws:
            res = r.render(*args, **kwargs)
            if round_ == 0:
                for x in (res.rgb, res.parts, res.heat):
                    if x is not None:
                        digest.update(x.tobytes())
        total.append(1000 * (time.process_time() - c0) / len(draws))
        raster.append((_other_threads_ms() - o0) / len(draws))
    builtin.release()
    main_ms = [t - r_ for t, r_ in zip(total, raster, strict=True)]
    print(f"{len(draws)} draws at {a.size} px, {a.rounds} rounds (load average "
          f"{os.getloadavg()[0]:.1f}); CPU ms per image, min / median over rounds:")
    for label, v in (("render() total", total), ("  llvmpipe threads", raster),
                     ("  calling thread", main_ms)):
        print(f"{label:20s} {min(v):7.2f} {statistics.median(v):7.2f}")
    print(f"sha256 of rgb, parts, heat: {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
