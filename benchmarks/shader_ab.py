"""What a shader change costs: the procedural renderer's fragment shaders of two or more git
revisions, drawn interleaved in one process on the same meshes, appearances and cameras.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/shader_ab.py 1069178 HEAD
    PYTHONPATH=$PWD .venv/bin/python benchmarks/shader_ab.py 1069178 d1d99e1 HEAD --rounds 8

Only ``pain3d/render/shaders.py`` is taken from each revision (``git show REV:...``); the
renderer, meshes and textures are this checkout's, so the numbers isolate the shaders' cost
(a revision's geometry or texture changes are not in them). A revision whose shaders have
no shut-lid code draws without the shut-lid pass. Scenes: two short-, two medium- and two
long-haired built-in identities (``sample_identities(40, 0)``), neutral and a PSPI 12
expression with AU43, yaw 0 / 30 / -30, 512 px, one llvmpipe thread (as a pool worker).
Prints CPU ms per render per round (rounds alternate the order); compare within a round.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["LP_NUM_THREADS"] = "0"  # before the GL context: rasterise in this thread

REPO = Path(__file__).resolve().parent.parent


def shaders_of(rev: str, folder: Path):
    """The module ``pain3d/render/shaders.py`` as it is at git revision ``rev``."""
    src = subprocess.run(["git", "show", f"{rev}:pain3d/render/shaders.py"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    path = folder / f"shaders_{rev.replace('/', '_')}.py"
    path.write_text(src)
    name = f"_shaders_{len(sys.modules)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def renderer_for(module, size: int):
    from pain3d.render.renderer import Renderer

    attrs = {"FRAGMENT_SHADER": module.FRAGMENT,
             "SPLIT_SHADERS": (module.FRAGMENT_SKIN, module.FRAGMENT_FEATURES)}
    if "lid_shut" not in module.FRAGMENT:
        attrs["SHUT_SHADER"] = None
    return type("ShaderAB", (Renderer,), attrs)(size)


def scenes():
    """(mesh, appearance) of two short-, medium- and long-haired identities."""
    from pain3d.appearance import sample_appearance
    from pain3d.face import identity_mesh, sample_identities

    out, count = [], {"short": 0, "medium": 0, "long": 0}
    for ident in sample_identities(40, 0):
        mesh = identity_mesh(ident)
        app = sample_appearance(ident, ident.seed, mesh=mesh)
        style = app.traits.hair_style
        if count.get(style, 2) < 2:
            count[style] += 1
            out.append((mesh, app))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("revs", nargs="+", help="git revisions (HEAD: this checkout's commit)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()

    import numpy as np

    from pain3d.render import sample_lighting
    from pain3d.render.camera import Camera

    with tempfile.TemporaryDirectory() as tmp:
        renderers = {rev: renderer_for(shaders_of(rev, Path(tmp)), args.size)
                     for rev in args.revs}
    work = scenes()
    light = sample_lighting(np.random.default_rng(0))
    expressions = (np.zeros(6), np.array([3.0, 3.0, 3.0, 3.0, 3.0, 1.0]))

    def draw_all(r) -> float:
        c = time.process_time()
        for mesh, app in work:
            for aus in expressions:
                for yaw in (0.0, 30.0, -30.0):
                    r.render(mesh, app, Camera(yaw=yaw), light, aus=aus, depth=False)
        return (time.process_time() - c) / (len(work) * 6) * 1e3

    for r in renderers.values():  # compile, upload, warm
        draw_all(r)
    print(f"CPU ms per {args.size}-px render, {len(work)} identities x 2 expressions x 3 views")
    for rnd in range(args.rounds):
        order = list(renderers.items())
        order = order if rnd % 2 == 0 else order[::-1]
        times = {rev: draw_all(r) for rev, r in order}
        print(f"round {rnd}: " + "  ".join(f"{rev} {times[rev]:.2f}" for rev in args.revs))
    for r in renderers.values():
        r.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
