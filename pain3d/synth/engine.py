"""Engines that run :func:`pain3d.synth.worker.render_unit` over many identities.

Workers only compute bytes; the driver writes every file. So the output cannot depend on the
engine, the worker count or the order in which units finish, and a Ray cluster needs no
shared file system.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Literal

from pain3d.synth.config import GenerateConfig
from pain3d.synth.spec import UnitSpec
from pain3d.synth.worker import UnitResult, render_unit, warm_up

log = logging.getLogger(__name__)

Engine = Literal["local", "ray"]


class EngineUnavailable(RuntimeError):
    """The chosen engine cannot run here (e.g. Ray is not installed)."""


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_THREAD_VARS = ("LP_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _single_threaded_worker() -> None:
    """Pin each worker's libraries to one thread: parallelism comes from the processes.
    llvmpipe gets ``LP_NUM_THREADS=0``: it rasterises in the calling thread instead of
    handing every draw to a rasterizer thread (same bytes, no thread switches)."""
    for key in _THREAD_VARS:
        os.environ[key] = "0" if key == "LP_NUM_THREADS" else "1"
    import cv2

    cv2.setNumThreads(1)


@contextmanager
def _single_threaded_here() -> Iterator[None]:
    """The one-worker run in this process renders single-threaded like a pool worker (so one
    worker is one core, and 1 vs N workers compare like for like); OpenCV's thread count and
    the variables are restored afterwards. llvmpipe reads ``LP_NUM_THREADS`` when this
    process first creates a GL context, so a renderer made here stays single-threaded."""
    import cv2

    old_env = {k: os.environ.get(k) for k in _THREAD_VARS}
    old_cv = cv2.getNumThreads()
    _single_threaded_worker()
    try:
        yield
    finally:
        cv2.setNumThreads(old_cv)
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _pool_worker_init() -> None:
    _single_threaded_worker()
    _exit_with_parent()


def _exit_with_parent(poll_s: float = 0.5) -> None:
    """End this worker when the driver dies (even by SIGKILL), instead of rendering on as an
    orphan: a daemon thread watches the parent process id."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="pain3d-parent-watch").start()


def run_units(
    cfg: GenerateConfig,
    units: Sequence[UnitSpec],
    *,
    engine: Engine = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    pool: WorkerPool | None = None,
) -> Iterator[UnitResult]:
    """Render ``units`` and yield their results as they finish (any order).

    Args:
        cfg: the dataset config.
        units: the identities still to do.
        engine: ``local`` (process pool; 1 worker runs in this process) or ``ray``.
        workers: processes (local) or concurrent tasks (ray); None = all cores.
        ray_address: address of a running Ray cluster; None starts a local Ray instance.
        pool: the local engine's processes, already started (:func:`worker_pool`); None
            starts and stops them here.
    """
    n = workers or default_workers()
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {n}")
    if not units:
        return iter(())
    if engine == "local":
        return _run_local(cfg, units, n, pool)
    if engine == "ray":
        return _run_ray(cfg, units, n, ray_address)
    raise ValueError(f"engine {engine!r} is not one of 'local', 'ray'")


@dataclass
class WorkerPool:
    """The local engine's started worker processes (:func:`worker_pool`)."""

    executor: ProcessPoolExecutor
    warming: list[Future] = field(default_factory=list)

    def start_cpu_seconds(self) -> float:
        """CPU seconds the workers spent starting (imports, warm-up) before their first
        unit; only the warm-ups that finished count."""
        done = [f.result() for f in self.warming if f.done() and f.exception() is None]
        return sum(dict(sorted(done, key=lambda r: r[1])).values())  # latest per process


@contextmanager
def worker_pool(cfg: GenerateConfig, engine: Engine, workers: int
                ) -> Iterator[WorkerPool | None]:
    """The local engine's worker processes, started now: each imports the renderer and
    builds its per-process tables (:func:`pain3d.synth.worker.warm_up`) while the driver
    still plans (screening photos takes ~0.05 s each), instead of after. None for one
    worker (it runs in this process) or another engine.

    On leaving, queued units are dropped (an error or Ctrl-C stops at once) and the
    processes end.
    """
    if engine != "local" or workers < 2:
        yield None
        return
    # spawn, not fork: workers own EGL contexts and threads that must not be inherited.
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                   initializer=_pool_worker_init)
    try:
        # Each submit starts a process while none is idle.
        yield WorkerPool(executor, [executor.submit(warm_up, cfg) for _ in range(workers)])
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _run_local(cfg: GenerateConfig, units: Sequence[UnitSpec], n: int,
               pool: WorkerPool | None) -> Iterator[UnitResult]:
    if n == 1:
        with _single_threaded_here():
            for unit in units:
                yield render_unit(cfg, unit)
        return
    if pool is None:
        with worker_pool(cfg, "local", n) as own:
            yield from _run_pool(cfg, units, own.executor, n)
        return
    yield from _run_pool(cfg, units, pool.executor, n)


def _run_pool(cfg: GenerateConfig, units: Sequence[UnitSpec], pool: ProcessPoolExecutor,
              n: int) -> Iterator[UnitResult]:
    todo = list(units)[::-1]
    pending: set[Future] = set()
    window = 2 * n  # bounded, so finished results never pile up in memory
    while todo or pending:
        while todo and len(pending) < window:
            pending.add(pool.submit(render_unit, cfg, todo.pop()))
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for fut in done:
            yield fut.result()


def _import_ray():
    try:
        import ray

        if not hasattr(ray, "remote"):  # e.g. a stray ./ray folder imported as a namespace
            raise ImportError(f"{getattr(ray, '__path__', ray)} is not the Ray package")
    except ImportError as exc:
        raise EngineUnavailable(
            "--engine ray needs Ray, an optional extra: pip install 'pain3d[ray]' "
            "(or use the default --engine local)"
        ) from exc
    return ray


def _ray_task(cfg: GenerateConfig, unit: UnitSpec) -> UnitResult:
    _single_threaded_worker()
    return render_unit(cfg, unit)


def _run_ray(cfg: GenerateConfig, units: Sequence[UnitSpec], n: int,
             address: str | None) -> Iterator[UnitResult]:
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        task = ray.remote(num_cpus=1)(_ray_task)
        cfg_ref = ray.put(cfg)
        todo = list(units)[::-1]
        pending: list = []
        window = 2 * n
        while todo or pending:
            while todo and len(pending) < window:
                pending.append(task.remote(cfg_ref, todo.pop()))
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()
