"""Where `pain3d generate`'s time goes: CPU ms per image and s per identity of each stage.

    cd /tmp && PYTHONPATH=CHECKOUT python CHECKOUT/benchmarks/generate_profile.py --identities 8
    python benchmarks/generate_profile.py --cprofile /tmp/gen.prof   # also a cProfile dump

One worker in this process, single-threaded like a pool worker (LP_NUM_THREADS=0, OpenCV 1
thread), default composition at 512 px, after a 1-identity warm-up at 64 px (imports, GL
context), so the numbers are steady state. Stages are timed with ``time.process_time``
accumulators wrapped around the functions below (every thread of the process; nested rows
are indented and included in their parent); ``--cprofile`` additionally records a cProfile
on a CPU-time clock to find hot spots inside a stage. CPU time still grows on a loaded
machine: compare checkouts back to back and quote the load average printed.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import os
import shutil
import tempfile
import time

os.environ.setdefault("LP_NUM_THREADS", "0")  # before any GL context: like a pool worker

STAGES = [  # (module[:class], function, label); leading spaces = part of the row above
    ("pain3d.synth.builtin:BuiltinRenderer", "prepare", "identity + texture painting"),
    ("pain3d.synth.builtin:BuiltinRenderer", "render", "image (builtin render, all below)"),
    ("pain3d.synth.builtin:BuiltinRenderer", "_expressed", "  AU rig (express)"),
    ("pain3d.synth.builtin:BuiltinRenderer", "_landmarks", "  face keypoints"),
    ("pain3d.render.renderer:Renderer", "render", "  GL total"),
    ("pain3d.render.renderer:Renderer", "_read", "    GL draw finish + read-back"),
    ("pain3d.render.renderer:Renderer", "_set_uniforms", "    GL uniforms"),
    ("pain3d.appearance", "procedural_background", "  background"),
    ("pain3d.render.compose", "compose", "  compose + camera effects"),
    ("pain3d.appearance.effects", "camera_effects", "    camera effects"),
    ("pain3d.synth.worker", "encode_jpeg", "JPEG encoding"),
    ("pain3d.synth.worker", "encode_png", "PNG encoding (heatmaps)"),
    ("pain3d.synth.builtin:BuiltinRenderer", "mesh_files", "mesh export (OBJ, MTL, PNG)"),
    ("pain3d.synth.generate:_Writer", "write", "driver: atomic writes"),
    ("pain3d.synth.state", "mark_unit", "driver: unit records + SHA-256"),
    ("pain3d.synth.generate", "_write_root_files", "driver: splits, manifest, card"),
    ("pain3d.synth.generate", "_write_checksums", "driver: SHA256SUMS"),
]


def _wrap(target: str, name: str, label: str, acc: dict, calls: collections.Counter) -> None:
    module, _, cls = target.partition(":")
    owner = importlib.import_module(module)
    owner = getattr(owner, cls) if cls else owner
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        c0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[label] += time.process_time() - c0
            calls[label] += 1

    setattr(owner, name, timed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--identities", type=int, default=8)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--cprofile", default=None, help="also write a cProfile dump here")
    a = p.parse_args()
    import cv2

    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.generate import RunOptions, generate

    cv2.setNumThreads(1)
    tmp = tempfile.mkdtemp(prefix="pain3d_genprof_")
    try:
        generate(GenerateConfig(identities=1, size=64),  # warm-up: imports, GL context
                 RunOptions(out=os.path.join(tmp, "warm"), workers=1, progress=False))
        acc: dict = collections.defaultdict(float)
        calls: collections.Counter = collections.Counter()
        for target, name, label in STAGES:
            _wrap(target, name, label, acc, calls)
        prof = None
        if a.cprofile:
            import cProfile

            prof = cProfile.Profile(time.process_time)
            prof.enable()
        c0 = time.process_time()
        s = generate(GenerateConfig(identities=a.identities, size=a.size),
                     RunOptions(out=os.path.join(tmp, "ds"), workers=1, progress=False))
        cpu = time.process_time() - c0
        if prof is not None:
            prof.disable()
            prof.dump_stats(a.cprofile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n, imgs = a.identities, s.images
    print(f"{n} identities, {imgs} images at {a.size} px: {cpu:.2f} CPU s "
          f"({'with cProfile overhead, ' if prof else ''}load average "
          f"{os.getloadavg()[0]:.1f})")
    print(f"{'stage':38s} {'calls':>6s} {'CPU s':>7s} {'ms/img':>7s} {'s/identity':>10s} "
          f"{'share':>6s}")
    for _, _, label in STAGES:
        v = acc[label]
        print(f"{label:38s} {calls[label]:6d} {v:7.2f} {1000 * v / imgs:7.2f} {v / n:10.3f} "
              f"{100 * v / cpu:5.1f}%")
    print(f"{'total generate()':38s} {'':6s} {cpu:7.2f} {1000 * cpu / imgs:7.2f} "
          f"{cpu / n:10.3f}")


if __name__ == "__main__":
    main()
