"""Geometry stage timings and identity distinctness.

Prints: template build time, time for one identity's neutral mesh + 10 pain meshes (target
well under 20 ms on a 2-core CPU), a breakdown, and the minimum pairwise shape distance over
2,500 sampled identities (parameter space and vertex RMS on the neutral head).

    .venv/bin/python benchmarks/geometry.py
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def _timeit(fn, repeat: int, clock=time.perf_counter) -> float:
    """Median time of ``fn()`` in milliseconds (wall clock by default)."""
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
    return float(np.median(times))


def main() -> None:
    t0 = time.perf_counter()
    from pain3d.face import express, identity_mesh, sample_identities
    from pain3d.face.head import head_template
    from pain3d.face.identity import shape_fields
    from pain3d.face.rig import template_bases
    from pain3d.facs import PlanConfig, sample_plan

    t_import = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    tpl = head_template()
    shape_fields()
    template_bases()
    t_build = (time.perf_counter() - t0) * 1e3

    ids = sample_identities(2500, seed=0)
    rows = sample_plan(PlanConfig(identities=1, per_identity=10, seed=0))
    plan = [np.asarray(r.aus, dtype=np.float64) for r in rows][:10]

    def one_identity(k=[0]):  # noqa: B006 - cycles through identities
        ident = ids[k[0] % 50]
        k[0] += 1
        neutral = identity_mesh(ident)
        for aus in plan:
            express(neutral, aus)

    one_identity()
    t_total = _timeit(one_identity, 40)
    # CPU time of the same work: less sensitive to other processes on a shared machine.
    t_cpu = _timeit(one_identity, 40, clock=time.process_time)
    t_neutral = _timeit(lambda: identity_mesh(ids[3]), 40)
    mesh = identity_mesh(ids[3])
    t_express = _timeit(lambda: express(mesh, plan[5]), 200)

    p = np.stack([i.shape for i in ids])
    d2 = (p**2).sum(1)[:, None] + (p**2).sum(1)[None] - 2 * p @ p.T
    np.fill_diagonal(d2, np.inf)
    min_param = float(np.sqrt(max(d2.min(), 0.0)))
    # Vertex RMS distance on the neutral (eyeball-free) head: linear in the parameters, so
    # |S F dp|^2 = dp' G dp with G = (S F)'(S F).
    fields = shape_fields()
    fine = np.stack([tpl.subdivide @ f for f in fields]).reshape(len(fields), -1) * 0.01
    gram = fine @ fine.T
    q = p @ np.linalg.cholesky(gram + 1e-18 * np.eye(len(gram)))
    e2 = (q**2).sum(1)[:, None] + (q**2).sum(1)[None] - 2 * q @ q.T
    np.fill_diagonal(e2, np.inf)
    i, j = np.unravel_index(np.argmin(e2), e2.shape)
    rms_mm = float(np.sqrt(max(e2[i, j], 0.0) / tpl.n_fine) * 1e3)
    full = (
        identity_mesh(ids[i]).vertices[: tpl.n_fine] - identity_mesh(ids[j]).vertices[: tpl.n_fine]
    )
    max_mm = float(np.linalg.norm(full, axis=1).max() * 1e3)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores visible, python "
        f"{platform.python_version()} (shared, loaded machine: numbers are pessimistic)"
    )
    print(f"{'measure':<52}{'value':>12}")
    for name, value in [
        ("import pain3d.face (ms)", t_import),
        ("build template + shape fields + AU bases, once (ms)", t_build),
        ("neutral + 10 pain meshes, one identity (ms, median)", t_total),
        ("  the same, CPU time (ms, median)", t_cpu),
        ("  identity_mesh alone (ms)", t_neutral),
        ("  express alone (ms)", t_express),
        ("vertices / faces of a head", f"{mesh.n_vertices} / {len(mesh.faces)}"),
        ("identities compared", len(ids)),
        ("min pairwise shape distance (parameter units)", min_param),
        ("closest pair: vertex RMS distance (mm)", rms_mm),
        ("closest pair: max vertex distance (mm)", max_mm),
    ]:
        text = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{name:<52}{text:>12}")


if __name__ == "__main__":
    main()
