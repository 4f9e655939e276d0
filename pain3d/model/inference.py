"""Fast inference of a trained ViTPain: adapters folded in, optional bf16, memory reused.

Where the time of a CPU forward goes (``python benchmarks/model.py --profile``; ViT-S/16 at
224 px, a cached reference, 2 cores): almost all of it is the backbone's matrix products
(q/k/v/o projections and the MLP), then attention, GELU and the page faults of freshly
allocated activations; preprocessing, the reference cross-attention and the heads are a
few percent. fp32 is therefore bounded by the machine's fp32 matrix-product throughput
(the benchmark prints that ceiling); bf16 weights roughly double the product throughput on
CPUs with native bf16 (AVX512-BF16 / AMX) and are the way past it.

- :func:`keep_freed_memory`: stop glibc returning freed activations to the OS between
  forward passes (each pass otherwise faults its activations in again);
- :func:`prepare_for_inference`: eval mode, LoRA adapters merged into the backbone weights
  (peft ``merge`` semantics: same outputs up to float rounding, no adapter work per frame),
  and optionally a bf16 backbone and cross-attention with fp32 heads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Literal

import torch

from pain3d.model.vitpain import ViTPain

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_kept = False

InferenceDtype = Literal["float32", "bfloat16"]


def keep_freed_memory(trim_threshold: int = 1 << 30, mmap_threshold: int = 1 << 28) -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the OS.

    PyTorch's CPU tensors come from ``malloc``. A ViT forward pass allocates and frees tens
    of MB of activations; by default glibc gives freed memory at the top of its heap back to
    the OS once it passes a (dynamic, tens of MB) trim threshold, and serves large blocks by
    ``mmap``, so the next pass page-faults its activations in again. On a 2-core VM that was
    a fifth of the CPU time of ViT-S inference. With the thresholds raised, the process keeps
    up to ``trim_threshold`` bytes of freed heap, and blocks below ``mmap_threshold`` come
    from the reusable heap. The price is memory: torch's 64-byte aligned blocks do not fit
    exactly into the ones freed before them, so the heap grows for the first few passes until
    freed neighbours merge (a 48 MB block repeated: about 8 blocks kept, then no growth).

    Process-wide and not undone: call it in processes that serve inference (the predictor,
    benchmarks), never at import. Calling it again does nothing.

    Returns:
        True when the settings took effect, False where malloc is not glibc's (macOS,
        Windows, musl), where nothing changes.
    """
    global _kept
    if _kept:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
        # glibc exposes gnu_get_libc_version; other C libraries' mallopt takes other codes.
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        version = libc.gnu_get_libc_version().decode()
    except (OSError, AttributeError):
        log.debug("keep_freed_memory: not glibc; allocator left as it is")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(
        mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
    _kept = ok
    log.debug("glibc %s malloc: mmap threshold %d, trim threshold %d (%s)", version,
              mmap_threshold, trim_threshold, "set" if ok else "refused")
    return ok


def prepare_for_inference(model: ViTPain, dtype: InferenceDtype = "float32",
                          fuse: bool = False) -> ViTPain:
    """Make ``model`` ready for fast prediction, in place.

    Eval mode, LoRA adapters merged into the frozen weights (undo with
    ``model.unmerge_lora()`` before training or saving), and with ``dtype="bfloat16"`` the
    backbone encoders and the cross-attention in bf16 while the heads stay fp32 (they are a
    negligible share of the work, and fp32 keeps PSPI from bf16's 1/32 steps near 8).
    Inputs may stay fp32: the backbone casts them. With ``fuse`` the DINOv3 encoders also
    get the fused forward of :mod:`pain3d.model.fused` (fused q/k/v, LayerScale folded in,
    oneDNN matrix products with fused GELU and residual adds, complex RoPE, batches split
    over one-core worker threads; used under ``no_grad`` / ``inference_mode`` in eval mode,
    the eager path otherwise).

    Args:
        model: a ViTPain (any device).
        dtype: ``float32`` (outputs equal to the unmerged model's up to float rounding) or
            ``bfloat16`` (about 3 significant digits; see ``tests/model/test_inference.py``
            for the tolerance held).
        fuse: add the fused forward (fp32: same outputs to ~1e-6 relative; see
            ``tests/model/test_fused.py``; for CPU prediction, where it is faster).

    Returns:
        ``model`` itself.
    """
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype {dtype!r}: use float32 or bfloat16")
    model.eval()
    model.merge_lora()
    low = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    for part in (model.encoder, model.reference_encoder, model.cross_attention):
        if part is not None:
            part.to(low)
    if fuse:
        from pain3d.model.fused import fuse_for_cpu

        fuse_for_cpu(model)
    return model
