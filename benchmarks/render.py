"""Benchmark the renderer: complete images/s (render + compose + effects + JPEG/PNG encode).

    .venv/bin/python benchmarks/render.py                   # 512 and 256 px, 1 and N processes
    .venv/bin/python benchmarks/render.py --sizes 512 --seconds 10
    .venv/bin/python benchmarks/render.py --sizes 512 --supersample 1 2   # anti-aliasing cost

A complete image is what the dataset writer needs per sample: one draw (RGB, mask, parts,
heat; depth is not read back), compositing over a procedural background with camera effects,
the RGB and the heatmap encoded as JPEG (quality 95), the mask as PNG (a 3-channel heatmap PNG
would add ~7 ms per image). Meshes are the real identity meshes of
:mod:`pain3d.face` when it is available (expressions prepared beforehand: geometry is
benchmarked by the face stage), else the toy head. The appearance (texture painting) costs
once per identity; it is reported separately and amortised over 33 images (11 expressions x
3 views) in the last column. "1 proc" runs one process with one llvmpipe thread
(LP_NUM_THREADS=1); "N proc" runs one such process per core. Numbers on a loaded, shared
machine are pessimistic.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time


def _meshes():
    import numpy as np

    try:
        from pain3d.face import express, identity_mesh, sample_identities

        ident = sample_identities(1, 0)[0]
        neutral = identity_mesh(ident)
        rng = np.random.default_rng(0)
        pains = [express(neutral, np.r_[rng.integers(0, 6, 5), rng.integers(0, 2)].astype(float))
                 for _ in range(4)]
        return "face", ident.demographics, neutral, pains
    except (ImportError, AttributeError):
        from pain3d.demographics import Demographics
        from pain3d.render.toy import toy_head

        neutral = toy_head(72, 96)
        return "toy", Demographics("female", "36-60", "latino"), neutral, [neutral]


def _worker(size: int, seconds: float, queue, supersample: int = 1) -> None:
    import cv2
    import numpy as np

    from pain3d.appearance import procedural_background, sample_appearance, sample_effects
    from pain3d.render import Renderer, compose, default_views, sample_lighting

    kind, demo, neutral, pains = _meshes()
    sample_appearance(demo, 0, mesh=neutral, texture_size=512)  # once: UV raster cache, imports
    c0 = time.process_time()
    app = sample_appearance(demo, 1, mesh=neutral, texture_size=512)
    t_app = time.process_time() - c0
    renderer = Renderer(size, supersample=supersample)
    views = default_views()
    rng = np.random.default_rng(0)
    aus = np.array([3, 2, 3, 1, 2, 0], float)
    heat = np.clip(rng.random(neutral.n_vertices).astype(np.float32), 0, 1)

    def one(i: int) -> None:
        mesh = pains[(i // 3) % len(pains)]  # each expression from the 3 views in a row
        res = renderer.render(mesh, app, views[i % 3], sample_lighting(rng), aus=aus, heat=heat,
                              depth=False)
        out = compose(res, procedural_background(rng, size), sample_effects(rng), rng)
        cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imencode(".png", res.mask, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        cv2.imencode(".jpg", cv2.cvtColor(res.heatmap, cv2.COLOR_RGB2BGR),
                     [cv2.IMWRITE_JPEG_QUALITY, 95])

    for i in range(5):
        one(i)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        one(n)
        n += 1
    cpu = (time.process_time() - c0) / n
    queue.put((n, time.perf_counter() - t0, t_app, kind, neutral.n_vertices, cpu))


def run(size: int, procs: int, seconds: float, supersample: int = 1) -> dict:
    os.environ["LP_NUM_THREADS"] = "1"
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ps = [ctx.Process(target=_worker, args=(size, seconds, q, supersample)) for _ in range(procs)]
    for p in ps:
        p.start()
    results = [q.get() for _ in ps]
    for p in ps:
        p.join()
    rate = sum(n / t for n, t, *_ in results)  # wall-clock rates, summed over processes
    t_app = max(r[2] for r in results)  # CPU seconds to paint one identity
    cpu = sum(r[5] for r in results) / len(results)  # CPU seconds per image
    return {"size": size, "procs": procs, "ss": supersample, "img_s": rate,
            "cpu_ms": cpu * 1e3, "app_s": t_app,
            "idle": procs / cpu, "amortised": procs / (cpu + t_app / 33.0),
            "mesh": f"{results[0][3]} ({results[0][4]} v)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 256])
    ap.add_argument("--procs", type=int, nargs="+", default=None)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--supersample", type=int, nargs="+", default=[1],
                    help="renderer supersampling factors (generate's antialias) to compare")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    procs = args.procs or sorted({1, cores})
    print(f"machine: {cores} cores (shared; numbers are pessimistic)")
    print("img/s: measured wall-clock rate; cpu ms: CPU time per complete image; idle img/s:")
    print("procs / CPU time per image, what idle cores would give; amort.: the same including")
    print("the appearance painting (CPU s per identity) spread over 33 images")
    print(f"{'size':>5} {'ss':>3} {'procs':>5} {'img/s':>7} {'cpu ms':>7} {'idle img/s':>11} "
          f"{'appear. s':>10} {'amort.':>7}  mesh")
    for size in args.sizes:
        for ss in args.supersample:
            for p in procs:
                r = run(size, p, args.seconds, ss)
                print(f"{r['size']:>5} {r['ss']:>3} {r['procs']:>5} {r['img_s']:>7.1f} "
                      f"{r['cpu_ms']:>7.1f} "
                      f"{r['idle']:>11.1f} {r['app_s']:>10.2f} {r['amortised']:>7.1f}  "
                      f"{r['mesh']}")


if __name__ == "__main__":
    main()
