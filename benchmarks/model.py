"""Benchmark ViTPain: CPU inference pairs/s (reference cache on/off, fp32/bf16), peak memory;
GPU training samples/s by encoder mode when CUDA is available.

    .venv/bin/python benchmarks/model.py                       # CPU: small at 224 px
    .venv/bin/python benchmarks/model.py --gpu-only            # GPU section only (base, large)
    .venv/bin/python benchmarks/model.py --preset tiny --quick # smoke run

Random backbone weights (speed does not depend on them). Each CPU configuration runs in a
fresh process so its peak resident memory is its own. "pairs/s" counts (pain image,
reference) pairs; with the cache, one neutral reference is encoded once and its tokens serve
every frame (the video / same-person case), so a pair costs one backbone pass instead of two.
Numbers on a shared, loaded machine are pessimistic.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time
from contextlib import nullcontext
from typing import Any

import torch

TARGET_PAIRS_S = 10.0


def _autocast(device: str, dtype: str):
    if dtype == "bf16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    if dtype == "fp16":
        return torch.autocast(device_type=device, dtype=torch.float16)
    return nullcontext()


def _cpu_case(q: Any, preset: str, size: int, batch: int, cache: bool, dtype: str, merge: bool,
              iters: int, threads: int) -> None:
    torch.set_num_threads(threads)
    from pain3d.model import build_model

    model = build_model(preset=preset, image_size=size, encoder_mode="separate").eval()
    if merge:
        model.merge_lora()
    x = torch.randn(batch, 3, size, size)
    neutral = torch.randn(1, 3, size, size)
    if dtype == "bf16":  # bf16 weights: autocast would re-cast every weight on every call
        model, x, neutral = model.to(torch.bfloat16), x.bfloat16(), neutral.bfloat16()
    times = []
    with torch.inference_mode():
        ref = model.encode_reference(neutral) if cache else None
        n = None if cache else neutral.expand(batch, -1, -1, -1)
        for _ in range(2):  # warm-up: the first calls pay one-off kernel and cache set-up
            model(x, neutral=n, reference=ref)
        for _ in range(iters):
            t0 = time.perf_counter()
            out = model(x, neutral=n, reference=ref)
            times.append(time.perf_counter() - t0)
    assert torch.isfinite(out.pspi.float()).all()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    q.put({"pairs_s": batch * iters / sum(times), "best_pairs_s": batch / min(times),
           "rss_mb": rss})


def cpu_section(a: argparse.Namespace) -> None:
    ctx = mp.get_context("spawn")
    print(f"\nCPU inference: {a.preset} at {a.size} px, batch {a.batch}, {a.iters} timed batches, "
          f"{a.threads} threads; machine {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} (a loaded machine gives pessimistic numbers; 'best' is the "
          "fastest batch, the closest to a quiet machine)")
    print(f"{'reference':>14} {'dtype':>5} {'LoRA':>7} {'pairs/s':>8} {'best':>7} "
          f"{'peak RSS MB':>12}")
    cases = [(False, "fp32", False), (True, "fp32", False)] + [
        (cache, dtype, True) for cache in (False, True) for dtype in ("fp32", "bf16")]
    for cache, dtype, merge in cases:
        q = ctx.Queue()
        p = ctx.Process(target=_cpu_case, args=(q, a.preset, a.size, a.batch, cache, dtype, merge,
                                                a.iters, a.threads))
        p.start()
        r = q.get()
        p.join()
        label = "cached" if cache else "encoded/frame"
        flag = "  (below target 10)" if cache and r["best_pairs_s"] < TARGET_PAIRS_S else ""
        print(f"{label:>14} {dtype:>5} {'merged' if merge else 'live':>7} {r['pairs_s']:8.1f} "
              f"{r['best_pairs_s']:7.1f} {r['rss_mb']:12.0f}{flag}", flush=True)


def _gpu_train(preset: str, size: int, batch: int, steps: int, dtype: str, **cfg: Any) -> dict:
    from pain3d.model import build_model, vitpain_loss

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model = build_model(preset=preset, image_size=size, **cfg).cuda().train()
    groups = model.parameter_groups()
    opt = torch.optim.AdamW([{"params": groups["lora"], "lr": 1e-5},
                             {"params": groups["heads"], "lr": 1e-4}], weight_decay=0.1)
    x = torch.randn(batch, 3, size, size, device="cuda")
    n = torch.randn(batch, 3, size, size, device="cuda")
    au = torch.rand(batch, 6, device="cuda") * 5
    pspi = torch.rand(batch, device="cuda") * 16
    wall = 0.0
    for i in range(steps + 3):
        if i == 3:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        with _autocast("cuda", dtype):
            out = model(x, neutral=n)
        loss, _ = vitpain_loss(out, au, pspi)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in groups.values() for p in g], 1.0)
        opt.step()
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30
    del model, opt
    return {"samples_s": batch * steps / wall, "peak_gib": peak}


def _gpu_infer(preset: str, size: int, batch: int, iters: int, dtype: str, cache: bool) -> float:
    from pain3d.model import build_model

    model = build_model(preset=preset, image_size=size).cuda().eval()
    x = torch.randn(batch, 3, size, size, device="cuda")
    n = torch.randn(1, 3, size, size, device="cuda")
    with torch.inference_mode(), _autocast("cuda", dtype):
        ref = model.encode_reference(n) if cache else None
        nn_ = None if cache else n.expand(batch, -1, -1, -1)
        for i in range(iters + 3):
            if i == 3:
                torch.cuda.synchronize()
                t0 = time.perf_counter()
            model(x, neutral=nn_, reference=ref)
        torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - t0)


def gpu_section(a: argparse.Namespace) -> None:
    if not torch.cuda.is_available():
        print("\nGPU section skipped: no CUDA device")
        return
    print(f"\nGPU: {torch.cuda.get_device_name(0)}; training batch {a.gpu_batch}, {a.size} px, "
          f"{a.gpu_dtype} autocast, AdamW + clip 1.0, {a.gpu_steps} timed steps")
    designs = [
        ("published: 2 encoders, no RoPE", dict(encoder_mode="separate", published_forward=True)),
        ("separate (2 encoders)", dict(encoder_mode="separate")),
        ("shared (1 encoder)", dict(encoder_mode="shared")),
        ("no reference", dict(reference="none")),
    ]
    print(f"{'preset':>6} {'design':>32} {'train samples/s':>16} {'peak GiB':>9}")
    for preset in a.gpu_presets:
        for label, cfg in designs:
            r = _gpu_train(preset, a.size, a.gpu_batch, a.gpu_steps, a.gpu_dtype, **cfg)
            print(f"{preset:>6} {label:>32} {r['samples_s']:16.1f} {r['peak_gib']:9.2f}")
    print(f"\n{'preset':>6} {'reference':>14} {'infer pairs/s':>14}   (batch {a.gpu_batch})")
    for preset in a.gpu_presets:
        for cache in (False, True):
            r = _gpu_infer(preset, a.size, a.gpu_batch, a.gpu_steps, a.gpu_dtype, cache)
            print(f"{preset:>6} {'cached' if cache else 'encoded/frame':>14} {r:14.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small", choices=["tiny", "small", "base", "large"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=8, help="CPU frames per forward")
    p.add_argument("--iters", type=int, default=4, help="CPU timed batches per case")
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--gpu-presets", nargs="+", default=["base", "large"])
    p.add_argument("--gpu-batch", type=int, default=48)
    p.add_argument("--gpu-steps", type=int, default=10)
    p.add_argument("--gpu-dtype", default="bf16", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--gpu-only", action="store_true")
    p.add_argument("--cpu-only", action="store_true")
    p.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    a = p.parse_args()
    if a.quick:
        a.iters, a.gpu_steps, a.batch = 1, 3, 2
    if not a.gpu_only:
        cpu_section(a)
    if not a.cpu_only:
        gpu_section(a)


if __name__ == "__main__":
    main()
