"""Benchmark ViTPain: CPU inference pairs/s (reference cache, LoRA merged or live, fp32/bf16,
allocator), where the time goes, the fp32 matrix-product ceiling; GPU training samples/s by
encoder mode when CUDA is available.

    .venv/bin/python benchmarks/model.py --quick              # < 1 min: one table (make bench)
    .venv/bin/python benchmarks/model.py --quick --json out.json
    .venv/bin/python benchmarks/model.py --cpu-only --rounds 3  # every CPU case, 3 rounds
    .venv/bin/python benchmarks/model.py --profile            # where the time of a pair goes
    .venv/bin/python benchmarks/model.py --accuracy           # fast paths vs fp32 outputs
    .venv/bin/python benchmarks/model.py --gemm               # fp32 products: MKL vs oneDNN
    .venv/bin/python benchmarks/model.py --gpu-only           # GPU section only (base, large)

Random backbone weights of the real DINOv3 architecture (speed does not depend on them).
Each CPU case runs in a fresh process, so its peak resident memory and allocator settings are
its own; with ``--rounds`` the cases run in turn, round after round, so that a baseline and a
new path share the same time windows on a shared machine. "pairs/s" counts (pain image,
reference) pairs; with the cache, one neutral reference is encoded once and its tokens serve
every frame (the video / same-person case), so a pair costs one backbone pass, not two.
Numbers on a shared, loaded machine are pessimistic and noisy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from pain3d.infer.predictor import PredictConfig

TARGET_FP32_PAIRS_S = 20.0


@dataclass(frozen=True)
class Case:
    """One CPU inference configuration."""

    cache: bool  # reference tokens encoded once (else each frame re-encodes its reference)
    dtype: str  # fp32 | bf16
    path: str  # "live": build_model, LoRA computed per call (bf16: whole model cast), default
    #            allocator -- the path before pain3d.model.inference; "prepared":
    #            keep_freed_memory + prepare_for_inference (merged LoRA; bf16 with fp32 heads);
    #            "fused": prepared + the fused backbone forward (pain3d.model.fused), the
    #            predictor's default on CPU; "fused1": the same on one stream (every
    #            operator on all threads, no batch split over one-core workers)

    @property
    def label(self) -> str:
        ref = "cached" if self.cache else "encoded/frame"
        how = {"live": "live LoRA, default malloc", "prepared": "merged, kept memory",
               "fused": "merged, fused forward", "fused1": "merged, fused, 1 stream"}[self.path]
        return f"{ref:>13} {self.dtype:>4} {how}"


ALL_CASES = [Case(False, "fp32", "live"), Case(False, "fp32", "prepared"),
             Case(True, "fp32", "live"), Case(True, "fp32", "prepared"),
             Case(True, "fp32", "fused1"), Case(True, "fp32", "fused"),
             Case(True, "bf16", "live"),
             Case(True, "bf16", "prepared"), Case(True, "bf16", "fused"),
             Case(False, "bf16", "prepared")]
QUICK_CASES = [Case(True, "fp32", "live"), Case(True, "fp32", "prepared"),
               Case(True, "fp32", "fused1"), Case(True, "fp32", "fused"),
               Case(True, "bf16", "prepared"),
               Case(True, "bf16", "fused")]


def _autocast(device: str, dtype: str):
    if dtype == "bf16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    if dtype == "fp16":
        return torch.autocast(device_type=device, dtype=torch.float16)
    return nullcontext()


def _build(preset: str, size: int, case: Case) -> Any:
    from pain3d.model import build_model, keep_freed_memory, prepare_for_inference
    from pain3d.model.fused import fuse_for_cpu

    if case.path != "live":
        keep_freed_memory()
    torch.manual_seed(0)
    model = build_model(preset=preset, image_size=size, encoder_mode="separate").eval()
    if case.path != "live":
        model = prepare_for_inference(model, "bfloat16" if case.dtype == "bf16" else "float32",
                                      fuse=case.path == "fused")
        return fuse_for_cpu(model, streams=False) if case.path == "fused1" else model
    return model.to(torch.bfloat16) if case.dtype == "bf16" else model


def _cpu_case(q: Any, preset: str, size: int, batch: int, case: Case, iters: int,
              threads: int) -> None:
    torch.set_num_threads(threads)
    model = _build(preset, size, case)
    dt = torch.bfloat16 if case.dtype == "bf16" and case.path == "live" else torch.float32
    x, neutral = torch.randn(batch, 3, size, size, dtype=dt), torch.randn(1, 3, size, size,
                                                                          dtype=dt)
    times, cpu = [], []
    with torch.inference_mode():
        ref = model.encode_reference(neutral) if case.cache else None
        n = None if case.cache else neutral.expand(batch, -1, -1, -1)
        for _ in range(2):  # warm-up: one-off kernel set-up, the allocator's first growth
            model(x, neutral=n, reference=ref)
        for _ in range(iters):
            t0, c0 = time.perf_counter(), time.process_time()
            out = model(x, neutral=n, reference=ref)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    assert torch.isfinite(out.pspi.float()).all()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    q.put({"pairs_s": batch * iters / sum(times), "best_pairs_s": batch / min(times),
           "cpu_pairs_s": batch * iters / sum(cpu), "rss_mb": rss})


def _in_process(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(q, *args))
    p.start()
    r = q.get()
    p.join()
    return r


def _linear_shapes(preset: str) -> list[tuple[int, int]]:
    """(in, out) of every matrix product of one backbone pass (q, k, v, o, MLP up/down)."""
    from pain3d.model.backbone import PRESETS

    c = PRESETS[preset]
    d, f = c["hidden_size"], c["intermediate_size"]
    return [(d, d)] * 4 * c["num_hidden_layers"] + [(d, f), (f, d)] * c["num_hidden_layers"]


def _ceilings(q: Any, preset: str, size: int, batch: int, threads: int) -> None:
    """Pairs/s if a cached-reference pair cost only its backbone's matrix products."""
    torch.set_num_threads(threads)
    from pain3d.model import keep_freed_memory

    keep_freed_memory()
    from pain3d.model.fused import onednn_linear_available

    out = {dtype: _ceiling(preset, size, batch, dtype) for dtype in ("fp32", "bf16")}
    if onednn_linear_available():
        out["fp32 oneDNN"] = _ceiling(preset, size, batch, "fp32", onednn=True)
    q.put(out)


def _ceiling(preset: str, size: int, batch: int, dtype: str, onednn: bool = False) -> float:
    """fp32 products through torch's ``F.linear`` (MKL on x86) or oneDNN's linear kernel on
    packed weights (the fused path's); bf16 products go to oneDNN either way."""
    from pain3d.model.backbone import PRESETS

    dt = torch.bfloat16 if dtype == "bf16" else torch.float32
    linear = (lambda a, w, b: torch.ops.mkldnn._linear_pointwise(a, w, b, "none", [], "")) \
        if onednn else torch.nn.functional.linear
    tokens = batch * (1 + PRESETS[preset]["num_register_tokens"] + (size // 16) ** 2)
    shapes = sorted(set(_linear_shapes(preset)))
    per_shape = {}
    for i, o in shapes:
        a, w, b = torch.randn(tokens, i, dtype=dt), torch.randn(o, i, dtype=dt), torch.randn(
            o, dtype=dt)
        if onednn:  # packed once, as pain3d.model.fused does
            w = torch.ops.mkldnn._reorder_linear_weight(w, None)
        for _ in range(2):
            linear(a, w, b)
        t0 = time.perf_counter()
        for _ in range(5):
            linear(a, w, b)
        per_shape[(i, o)] = (time.perf_counter() - t0) / 5
    return batch / sum(per_shape[s] for s in _linear_shapes(preset))


def cpu_section(a: argparse.Namespace, cases: list[Case]) -> list[dict[str, Any]]:
    """Run and print the CPU cases; returns one ``--json`` metric per case and ceiling."""
    print(f"\nCPU inference: {a.preset} at {a.size} px, batch {a.batch}, {a.iters} timed batches "
          f"x {a.rounds} round(s), {a.threads} threads (torch.set_num_threads in each case's "
          f"process); machine {os.cpu_count()} cores, load "
          f"average {os.getloadavg()[0]:.1f} (loaded machines give pessimistic, noisy numbers; "
          "'best' is the fastest batch; 'CPU' counts pairs per CPU-second of this process, "
          "which other jobs disturb less)")
    results: dict[Case, list[dict[str, float]]] = defaultdict(list)
    ceilings: dict[str, list[float]] = defaultdict(list)
    for _ in range(a.rounds):
        for case in cases:
            results[case].append(_in_process(_cpu_case, a.preset, a.size, a.batch, case,
                                              a.iters, a.threads))
        for dtype, pairs_s in _in_process(_ceilings, a.preset, a.size, a.batch,
                                          a.threads).items():
            ceilings[dtype].append(pairs_s)
    print(f"{'case':<45} {'pairs/s':>8} {'best':>7} {'CPU':>6} {'RSS MB':>7}")
    metrics = []
    for case, rs in results.items():
        med = statistics.median(r["pairs_s"] for r in rs)
        targeted = case.cache and case.path != "live"
        metrics.append({"metric": f"ViT-S {case.label.strip()} pairs/s", "value": round(med, 1),
                        "best": round(max(r["best_pairs_s"] for r in rs), 1),
                        "cpu_pairs_s": round(statistics.median(r["cpu_pairs_s"] for r in rs), 1),
                        "rss_mb": round(max(r["rss_mb"] for r in rs)),
                        "target": f">= {TARGET_FP32_PAIRS_S:.0f}" if targeted else "",
                        "pass": med >= TARGET_FP32_PAIRS_S if targeted else None})
        flag = "  < target 20" if case.cache and case.dtype == "fp32" and max(
            r["best_pairs_s"] for r in rs) < TARGET_FP32_PAIRS_S else ""
        print(f"{case.label:<45} {med:8.1f} {max(r['best_pairs_s'] for r in rs):7.1f} "
              f"{statistics.median(r['cpu_pairs_s'] for r in rs):6.1f} "
              f"{max(r['rss_mb'] for r in rs):7.0f}{flag}", flush=True)
    for dtype, vals in ceilings.items():
        label = f"{'ceiling':>13} {dtype:>4} matrix products only"
        label = label if "oneDNN" not in dtype else f"{'ceiling':>13} fp32 products, oneDNN packed"
        print(f"{label:<45} {statistics.median(vals):8.1f} {max(vals):7.1f}")
        metrics.append({"metric": f"ViT-S ceiling {dtype} matrix products pairs/s".replace(
                            "fp32 oneDNN matrix", "fp32 matrix (oneDNN)"),
                        "value": round(statistics.median(vals), 1), "target": "",
                        "pass": None})
    return metrics


def _profile_case(q: Any, preset: str, size: int, batch: int, threads: int, keep: bool,
                  iters: int) -> None:
    torch.set_num_threads(threads)
    from pain3d.model import build_model, keep_freed_memory, prepare_for_inference

    if keep:
        keep_freed_memory()
    torch.manual_seed(0)
    model = prepare_for_inference(build_model(preset=preset, image_size=size))
    spent, hooks = _time_modules(model)
    crops = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8)
    with torch.inference_mode():
        ref = model.encode_reference(model.normalize(torch.rand(1, 3, size, size)))
        for _ in range(2):
            model(model.normalize(crops.permute(0, 3, 1, 2).float() / 255), reference=ref)
        spent.clear()
        f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        for _ in range(iters):
            s = time.perf_counter()
            x = model.normalize(crops.permute(0, 3, 1, 2).float() / 255)  # as the predictor
            spent["preprocessing (uint8 -> normalised)"] += time.perf_counter() - s
            model(x, reference=ref)
        total = time.perf_counter() - t0
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / iters
    for h in hooks:
        h.remove()
    q.put({"spent": {k: v / iters for k, v in spent.items()}, "total": total / iters,
           "faults": faults})


def _time_modules(model: Any) -> tuple[dict[str, float], list[Any]]:
    """Forward hooks adding each module's wall time to its category (self time for
    containers: their children's time is subtracted)."""
    spent: dict[str, float] = defaultdict(float)
    stack: list[list[float]] = []
    hooks = []

    def category(name: str) -> str | None:
        rules = [("embeddings", "patch embedding"), ("rope_embeddings", "RoPE tables"),
                 ("q_proj", "q/k/v/o projections"), ("k_proj", "q/k/v/o projections"),
                 ("v_proj", "q/k/v/o projections"), ("o_proj", "q/k/v/o projections"),
                 ("up_proj", "MLP matrix products"), ("down_proj", "MLP matrix products"),
                 ("act_fn", "GELU"), ("norm1", "LayerNorm"), ("norm2", "LayerNorm"),
                 ("layer_scale1", "LayerScale"), ("layer_scale2", "LayerScale"),
                 ("attention", "attention core (RoPE, SDPA, reshapes)"),
                 ("cross_attention", "reference cross-attention"), ("pspi_head", "heads"),
                 ("binary_heads", "heads"), ("au_head", "heads")]
        last = name.split(".")[-1]
        if name.endswith("model.norm"):
            return "LayerNorm"
        if last.isdigit() and ".layer." in name + ".":
            return "residual adds (layer self time)"
        return next((c for key, c in rules if last == key), None)

    for name, module in model.named_modules():
        cat = category(name)
        if cat is None or (".lora_" in name):
            continue

        def pre(_m: Any, _i: Any) -> None:
            stack.append([time.perf_counter(), 0.0])

        def post(_m: Any, _i: Any, _o: Any, cat: str = cat) -> None:
            start, children = stack.pop()
            took = time.perf_counter() - start
            spent[cat] += took - children
            if stack:
                stack[-1][1] += took

        hooks += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    return spent, hooks


_OP_PARTS = [("matrix products", ("_linear_pointwise", "addmm", "aten::mm", "aten::bmm")),
             ("attention (SDPA kernel)", ("scaled_dot_product", "flash_attention")),
             ("RoPE (cat, neg, mul_, addcmul_)", ("aten::cat", "aten::neg", "aten::mul_",
                                                  "aten::addcmul_")),
             ("LayerNorm", ("layer_norm",)), ("patch embedding (conv)", ("convolution",)),
             ("GELU (unfused)", ("aten::gelu",))]


def _profile_fused(q: Any, preset: str, size: int, batch: int, threads: int,
                   iters: int) -> None:
    """Self CPU time by operator family of the fused path (torch.profiler)."""
    torch.set_num_threads(threads)
    from torch.profiler import ProfilerActivity, profile

    from pain3d.model import build_model, keep_freed_memory, prepare_for_inference
    from pain3d.model.fused import fuse_for_cpu

    keep_freed_memory()
    torch.manual_seed(0)
    # One stream: torch.profiler records the operators of the calling thread only.
    model = fuse_for_cpu(prepare_for_inference(build_model(preset=preset, image_size=size)),
                         streams=False)
    x = torch.randn(batch, 3, size, size)
    with torch.inference_mode():
        ref = model.encode_reference(torch.randn(1, 3, size, size))
        for _ in range(2):
            model(x, reference=ref)
        t0 = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(iters):
                model(x, reference=ref)
        total = time.perf_counter() - t0
    spent: dict[str, float] = defaultdict(float)
    for ev in prof.key_averages():
        part = next((name for name, keys in _OP_PARTS if any(k in ev.key for k in keys)),
                    "other operators")
        spent[part] += ev.self_cpu_time_total / 1e6
    q.put({"spent": {k: v / iters for k, v in spent.items()}, "total": total / iters})


def profile_section(a: argparse.Namespace) -> None:
    print(f"\nWhere the time of a cached-reference fp32 pair goes: {a.preset} at {a.size} px, "
          f"batch {a.batch}, merged LoRA, {a.threads} threads, load average "
          f"{os.getloadavg()[0]:.1f} (noisy on a shared machine)")
    runs = {keep: _in_process(_profile_case, a.preset, a.size, a.batch, a.threads, keep,
                              a.iters) for keep in (False, True)}
    r = runs[True]
    other = r["total"] - sum(r["spent"].values())
    rows = sorted(r["spent"].items(), key=lambda kv: -kv[1]) + [
        ("Python, hooks and the rest", other)]
    print(f"{'part (kept memory)':<40} {'ms/pair':>8} {'share':>6}")
    for name, sec in rows:
        print(f"{name:<40} {1e3 * sec / a.batch:8.2f} {100 * sec / r['total']:5.1f}%")
    print(f"{'total':<40} {1e3 * r['total'] / a.batch:8.2f}")
    d = runs[False]
    print(f"page faults per batch: {d['faults']:.0f} with glibc's default malloc "
          f"({1e3 * d['total'] / a.batch:.1f} ms/pair), {r['faults']:.0f} with "
          f"keep_freed_memory ({1e3 * r['total'] / a.batch:.1f} ms/pair)")
    f = _in_process(_profile_fused, a.preset, a.size, a.batch, a.threads, a.iters)
    print(f"\nThe fused forward (one stream: all threads per operator), by operator family "
          f"(torch.profiler self CPU time of {a.threads} threads, per pair; load average "
          f"{os.getloadavg()[0]:.1f})")
    print(f"{'part':<40} {'ms/pair':>8} {'share':>6}")
    cpu = sum(f["spent"].values())
    for name, sec in sorted(f["spent"].items(), key=lambda kv: -kv[1]):
        print(f"{name:<40} {1e3 * sec / a.batch:8.2f} {100 * sec / cpu:5.1f}%")
    print(f"{'wall time (profiler on)':<40} {1e3 * f['total'] / a.batch:8.2f}")


def _accuracy_case(q: Any, preset: str, size: int, batch: int) -> None:
    """Largest differences of each fast path to the unmerged fp32 model (moved adapters,
    heads and LayerScales, random backbone)."""
    import copy

    from pain3d.model import build_model, prepare_for_inference

    torch.manual_seed(0)
    model = build_model(preset=preset, image_size=size).eval()
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad or name.endswith("lambda1"):
                p.add_((0.3 if name.endswith("lambda1") else 0.05)
                       * torch.randn(p.shape, generator=g))
    x, n = torch.randn(batch, 3, size, size, generator=g), torch.randn(1, 3, size, size,
                                                                        generator=g)
    rows = {}
    with torch.inference_mode():
        want = model(x, neutral=n.expand(batch, -1, -1, -1))
        for dtype in ("float32", "bfloat16"):
            for fuse in (False, True):
                fast = prepare_for_inference(copy.deepcopy(model), dtype, fuse=fuse)
                got = fast(x, reference=fast.encode_reference(n))
                rows[f"{dtype} merged{', fused' if fuse else ''}"] = {
                    "pspi_max_abs": float((got.pspi - want.pspi).abs().max()),
                    "au_max_abs": float((got.au - want.au).abs().max()),
                    "cls_rel": float((got.cls - want.cls).norm() / want.cls.norm()),
                    "pspi_spread": float(want.pspi.max() - want.pspi.min()),
                    "pspi_corr": float(torch.corrcoef(torch.stack([want.pspi, got.pspi]))[0, 1]),
                }
    q.put(rows)


def _gemm_rates(q: Any, preset: str, size: int, batch: int) -> None:
    """GFLOP/s of one thread (CPU time, best of 6) at the backbone's product shapes."""
    torch.set_num_threads(1)
    from pain3d.model.backbone import PRESETS

    c = PRESETS[preset]
    rows = batch * (1 + c["num_register_tokens"] + (size // 16) ** 2)
    d, f = c["hidden_size"], c["intermediate_size"]
    out = {}
    for i, o in ((d, 3 * d), (d, f), (f, d)):
        x, w, b = torch.randn(rows, i), torch.randn(o, i), torch.randn(o)
        packed = torch.ops.mkldnn._reorder_linear_weight(w, None)
        pointwise = torch.ops.mkldnn._linear_pointwise
        calls = {"MKL (F.linear)": partial(torch.nn.functional.linear, x, w, b),
                 "oneDNN": partial(pointwise, x, w, b, "none", [], ""),
                 "oneDNN packed": partial(pointwise, x, packed, b, "none", [], "")}
        best: dict[str, float] = {}
        for _ in range(3):  # in turn, so that all share the machine's moods
            for name, call in calls.items():
                call()
                for _ in range(2):
                    c0 = time.process_time()
                    call()
                    best[name] = min(best.get(name, 1e9), time.process_time() - c0)
        out[f"({i}, {o})"] = {k: 2 * rows * i * o / v / 1e9 for k, v in best.items()}
    q.put(out)


def gemm_section(a: argparse.Namespace) -> None:
    print(f"\nfp32 products at the {a.preset} shapes, batch {a.batch}: GFLOP/s of one thread "
          f"(CPU time, best of 6), load average {os.getloadavg()[0]:.1f}")
    for shape, rates in _in_process(_gemm_rates, a.preset, a.size, a.batch).items():
        print(f"{shape:<12} " + "  ".join(f"{k} {v:.0f}" for k, v in rates.items()))


def accuracy_section(a: argparse.Namespace) -> None:
    print("\nDifferences to the unmerged fp32 model (random backbone, moved adapters, heads "
          f"and LayerScales; {a.batch} pain images, one reference, cached)")
    print(f"{'preset':<6} {'path':<26} {'PSPI max|d|':>11} {'AU max|d|':>10} {'CLS rel':>9} "
          f"{'PSPI spread':>11} {'PSPI corr':>9}")
    for preset, size in (("tiny", 64), (a.preset, a.size)):
        for path, r in _in_process(_accuracy_case, preset, size, a.batch).items():
            print(f"{preset:<6} {path:<26} {r['pspi_max_abs']:11.2e} {r['au_max_abs']:10.2e} "
                  f"{r['cls_rel']:9.2e} {r['pspi_spread']:11.3f} {r['pspi_corr']:9.5f}")


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


def _write_json(a: argparse.Namespace, metrics: list[dict[str, Any]]) -> None:
    if a.json:
        a.json.write_text(json.dumps({"benchmark": "model", "load": os.getloadavg(),
                                      "metrics": metrics}, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small", choices=["tiny", "small", "base", "large"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=PredictConfig.batch_size,
                   help="CPU frames per forward (default: the predictor's, PredictConfig)")
    p.add_argument("--iters", type=int, default=4, help="CPU timed batches per case")
    p.add_argument("--rounds", type=int, default=1, help="CPU cases run in turn this often")
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--gpu-presets", nargs="+", default=["base", "large"])
    p.add_argument("--gpu-batch", type=int, default=48)
    p.add_argument("--gpu-steps", type=int, default=10)
    p.add_argument("--gpu-dtype", default="bf16", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--gpu-only", action="store_true")
    p.add_argument("--cpu-only", action="store_true")
    p.add_argument("--profile", action="store_true", help="only the time breakdown")
    p.add_argument("--gemm", action="store_true",
                   help="only the fp32 product rates per core: MKL vs oneDNN (packed)")
    p.add_argument("--accuracy", action="store_true",
                   help="only the fast paths' differences to fp32 (tiny and --preset)")
    p.add_argument("--quick", action="store_true",
                   help="< 1 min: cached fp32 before/after and bf16, one table, no GPU")
    p.add_argument("--json", type=Path, default=None,
                   help="write the CPU table here as JSON (with --quick or --cpu-only)")
    a = p.parse_args()
    if a.profile:
        profile_section(a)
        return
    if a.accuracy:
        accuracy_section(a)
        return
    if a.gemm:
        gemm_section(a)
        return
    if a.quick:  # --rounds still applies: --quick --rounds 4 compares the paths in turn
        a.iters = 2
        _write_json(a, cpu_section(a, QUICK_CASES))
        return
    if not a.gpu_only:
        _write_json(a, cpu_section(a, ALL_CASES))
    if not a.cpu_only:
        gpu_section(a)


if __name__ == "__main__":
    main()
