"""A fused CPU forward of transformers' DINOv3 ViT for prediction (LoRA merged, fp32 or bf16).

Where the time of a cached-reference fp32 pair went before (``python benchmarks/model.py
--profile``, ViT-S/16 at 224 px, 2 cores of an AMD EPYC): three quarters in the backbone's
matrix products, which PyTorch sends to MKL's ``sgemm``; on this CPU, oneDNN's fp32 matrix
products (the library PyTorch already ships for its bf16 and convolution kernels) run the
same products 1.3-1.9x faster (``benchmarks/model.py`` prints both ceilings). The rest was
attention with RoPE (concatenations and copies), GELU, LayerScale, residual adds.

:func:`fuse_for_cpu` snapshots the pain-image encoder's (merged) weights into a :class:`FusedDINOv3`
that runs the same computation with fewer, larger and fused kernels:

- q, k and v as one matrix product (weights concatenated; DINOv3's absent key bias is zero);
- LayerScale folded into the output and MLP-down weights (``W * gamma``, ``b * gamma``);
- oneDNN matrix products on weights packed once into its blocked layout, with GELU (exact,
  erf) fused into the MLP-up product and the residual add fused into the output and
  MLP-down products;
- RoPE applied in place to the patch tokens of q and k together (no ``cat`` of prefix and
  patches); in fp32 as one complex product, the q and k weights' rows reordered at fusing so
  that the dims rotate_half pairs up are neighbours (q.k is unchanged by the common
  reordering); SDPA on strided views;
- register tokens dropped before the final LayerNorm (per-token, so equal);
- a batch split over one-core worker threads (``streams``), one part per PyTorch thread,
  instead of every operator split over all threads: no fork/join per operator, and a core
  taken away by another process slows one part instead of stalling every join.

Outputs equal the eager backbone's up to float rounding (fp32: ~1e-6 relative, see
``tests/model/test_fused.py``). Where PyTorch has no oneDNN (``torch.backends.mkldnn``), the
same fused graph runs on ``F.linear`` (still fused q/k/v and LayerScale). The snapshot is
for prediction only: training mode, autograd, ``.to()`` another device or dtype, and any
in-place change of the model's weights after the snapshot (an optimizer step,
``load_state_dict``) make the encoder fall back to the eager path (:func:`unfuse` drops the
snapshot); :func:`fuse_for_cpu` refuses models whose LoRA is not merged.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

log = logging.getLogger(__name__)


def onednn_linear_available() -> bool:
    """Whether this PyTorch has oneDNN's fused linear kernels (``mkldnn._linear_pointwise``)."""
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(
            torch.ops.mkldnn, "_linear_pointwise")
    except (AttributeError, RuntimeError):
        return False


@dataclass
class _Layer:
    """One DINOv3 block's weights, fused: ``(out, in)`` matrices as ``F.linear`` takes."""

    norm1: tuple[torch.Tensor, torch.Tensor | None, float]
    qkv_w: torch.Tensor  # (3D, D)
    qkv_b: torch.Tensor  # (3D,)
    o_w: torch.Tensor  # (D, D), LayerScale 1 folded in
    o_b: torch.Tensor
    norm2: tuple[torch.Tensor, torch.Tensor | None, float]
    up_w: torch.Tensor  # (F, D)
    up_b: torch.Tensor | None
    down_w: torch.Tensor  # (D, F), LayerScale 2 folded in
    down_b: torch.Tensor
    exact_gelu: bool  # the activation is GELU(erf): fused into the up product
    act: nn.Module


def _linear(m: nn.Module) -> nn.Linear:
    """The plain linear layer behind ``m`` (a peft LoRA layer must be merged)."""
    if hasattr(m, "lora_A"):
        if not getattr(m, "merged", False):
            raise ValueError("fuse_for_cpu needs merged LoRA adapters: call "
                             "prepare_for_inference (or model.merge_lora()) first")
        m = m.base_layer
    if not isinstance(m, nn.Linear):
        raise TypeError(f"expected a linear layer, got {type(m).__name__}")
    return m


def _bias(lin: nn.Linear) -> torch.Tensor:
    b = lin.bias
    return b.detach().clone() if b is not None else lin.weight.new_zeros(lin.out_features)


def _norm(n: nn.LayerNorm) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    return n.weight.detach(), None if n.bias is None else n.bias.detach(), float(n.eps)


def _pairs_adjacent(w: torch.Tensor, head_dim: int) -> torch.Tensor:
    """Rows of a q or k projection reordered within each head so that dims ``i`` and
    ``i + head_dim/2`` (the pairs rotate_half rotates together) are neighbours: RoPE becomes a
    complex product, and q.k is unchanged (q and k are permuted alike)."""
    half = head_dim // 2
    perm = torch.stack([torch.arange(half), torch.arange(half) + half], dim=-1).flatten()
    return w.unflatten(0, (-1, head_dim))[:, perm].flatten(0, 1)


def _fuse_layer(layer: nn.Module, head_dim: int, complex_rope: bool) -> _Layer:
    a, mlp = layer.attention, layer.mlp
    if not (hasattr(mlp, "up_proj") and hasattr(mlp, "down_proj")) or hasattr(mlp, "gate_proj"):
        raise TypeError(f"unsupported DINOv3 MLP {type(mlp).__name__} (gated MLPs are not fused)")
    q, k, v, o = (_linear(getattr(a, n)) for n in ("q_proj", "k_proj", "v_proj", "o_proj"))
    up, down = _linear(mlp.up_proj), _linear(mlp.down_proj)
    g1 = layer.layer_scale1.lambda1.detach()
    g2 = layer.layer_scale2.lambda1.detach()
    act = mlp.act_fn
    exact = (isinstance(act, nn.GELU) and act.approximate == "none") or (
        type(act).__name__ == "GELUActivation" and getattr(act, "act", None) is F.gelu)
    qw, kw, qb, kb = q.weight.detach(), k.weight.detach(), _bias(q), _bias(k)
    if complex_rope:
        qw, kw, qb, kb = (_pairs_adjacent(t, head_dim) for t in (qw, kw, qb, kb))
    return _Layer(
        norm1=_norm(layer.norm1),
        qkv_w=torch.cat([qw, kw, v.weight.detach()]).contiguous(),
        qkv_b=torch.cat([qb, kb, _bias(v)]),
        o_w=(o.weight.detach() * g1[:, None]).contiguous(), o_b=_bias(o) * g1,
        norm2=_norm(layer.norm2),
        up_w=up.weight.detach(),  # shared with the module unless packed
        up_b=None if up.bias is None else up.bias.detach(),
        down_w=(down.weight.detach() * g2[:, None]).contiguous(), down_b=_bias(down) * g2,
        exact_gelu=exact, act=act)


def _pack(layer: _Layer) -> None:
    """Weights in oneDNN's blocked layout, reordered once instead of on every call (about 5%
    faster products; valid for any number of rows). Left as they are where refused."""
    for name in ("qkv_w", "o_w", "up_w", "down_w"):
        try:
            setattr(layer, name, torch.ops.mkldnn._reorder_linear_weight(getattr(layer, name),
                                                                         None))
        except (RuntimeError, AttributeError) as exc:  # an older oneDNN build: plain layout
            log.debug("oneDNN weight packing refused (%s); plain layout", exc)
            return


def _check_rope(model: nn.Module) -> None:
    """The fused RoPE relies on transformers' DINOv3 layout: angle tables tiled twice
    (``cos[:, :hd/2] == cos[:, hd/2:]``), so that rotate_half turns pairs ``(i, i + hd/2)``."""
    ps = model.config.patch_size
    ps = int(ps if isinstance(ps, int) else ps[0])
    w = model.embeddings.patch_embeddings.weight
    cos, sin = model.rope_embeddings(w.new_zeros(1, 3, 3 * ps, 2 * ps))
    half = cos.shape[-1] // 2
    if not (torch.equal(cos[:, :half], cos[:, half:]) and torch.equal(sin[:, :half],
                                                                      sin[:, half:])):
        raise TypeError("RoPE tables whose halves differ (not transformers' DINOv3 layout)")


def _version(t: torch.Tensor) -> int:
    """In-place change counter of ``t``; -1 for tensors made under ``torch.inference_mode``
    (they keep none, so changes to them are not seen)."""
    return -1 if t.is_inference() else t._version


class FusedDINOv3:
    """The eval-mode forward of a ``DINOv3ViTModel`` on snapshotted, fused weights.

    Not an ``nn.Module`` on purpose: it holds no parameters of its own in the model's state
    dict (the original weights stay where they are, for saving and unmerging).

    Args:
        model: transformers' ``DINOv3ViTModel`` (LoRA merged, eval mode).
        onednn: use oneDNN's fused linear kernels (default: when available).
        streams: split a batch over ``torch.get_num_threads()`` worker threads of one core
            each (:func:`_one_core_workers`) instead of running each operator on all cores.
    """

    def __init__(self, model: nn.Module, onednn: bool | None = None,
                 streams: bool = True) -> None:
        c = model.config
        self.model = model  # embeddings, RoPE tables and final norm are called as they are
        self.heads = int(c.num_attention_heads)
        self.head_dim = int(c.hidden_size) // self.heads
        self.registers = int(c.num_register_tokens)
        self.onednn = onednn_linear_available() if onednn is None else bool(onednn)
        self.streams = bool(streams)
        self.dtype = model.embeddings.patch_embeddings.weight.dtype
        self.device = model.embeddings.patch_embeddings.weight.device
        _check_rope(model)
        # RoPE as one complex product on q/k dims stored in pairs (fp32, fp64); bf16 has no
        # complex twin and keeps rotate_half.
        self.complex_rope = self.dtype in (torch.float32, torch.float64)
        self.layers = [_fuse_layer(layer, self.head_dim, self.complex_rope)
                       for layer in model.model.layer]
        if self.onednn:
            for layer in self.layers:
                _pack(layer)
        # What the snapshot was taken from: any later in-place change of a weight (an
        # optimizer step, load_state_dict) bumps its version, and the snapshot stops applying.
        self._source = [(p, _version(p)) for p in model.parameters()]

    def __reduce__(self) -> tuple:
        # Packed oneDNN weights have no storage to copy or pickle: copies (copy.deepcopy,
        # pickle) rebuild the snapshot from the (copied) model instead.
        return (FusedDINOv3, (self.model, self.onednn, self.streams))

    def applies(self, pixels: torch.Tensor) -> bool:
        """Whether this snapshot can serve ``pixels``: eval mode, its own device and dtype,
        and the model's weights are still those it was taken from (same tensors, unchanged)."""
        return (not self.model.training and not torch.is_grad_enabled()
                and pixels.device == self.device and pixels.dtype == self.dtype
                and self.model.embeddings.patch_embeddings.weight.dtype == self.dtype
                and self._unchanged())

    def _unchanged(self) -> bool:
        params = list(self.model.parameters())
        return len(params) == len(self._source) and all(
            p is q and _version(p) == v for p, (q, v) in zip(params, self._source, strict=True))

    def _lin(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
             gelu: bool = False, add: torch.Tensor | None = None) -> torch.Tensor:
        """``x @ w.T + b`` [then GELU | + add]: ``x`` (N, in) -> (N, out)."""
        if self.onednn:
            if add is not None:
                return torch.ops.mkldnn._linear_pointwise.binary(x, add, w, b, "add")
            return torch.ops.mkldnn._linear_pointwise(x, w, b, "gelu" if gelu else "none", [],
                                                      "none" if gelu else "")
        y = F.linear(x, w, b)
        if gelu:
            return F.gelu(y)
        return y.add_(add) if add is not None else y

    def _rope_tables(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(cos + i sin,)`` of the first half dims (complex RoPE) or ``(cos, sin)``, each
        ``(P, 1, 1, ...)`` to broadcast over ``(B, P, 2, H, ...)``."""
        cos, sin = self.model.rope_embeddings(pixels)  # (P, hd), halves equal (_check_rope)
        if self.complex_rope:
            half = self.head_dim // 2
            return (torch.complex(cos[:, :half], sin[:, :half])[:, None, None],)
        return cos[:, None, None], sin[:, None, None]

    def _rope(self, qk: torch.Tensor, tables: tuple[torch.Tensor, ...]) -> None:
        """RoPE in place on the patch tokens of q and k, ``(B, P, 2, H, hd)``."""
        if self.complex_rope:  # dims (i, i + hd/2) stored side by side: one complex product
            torch.view_as_complex(qk.unflatten(-1, (-1, 2))).mul_(tables[0])
            return
        cos, sin = tables
        half = self.head_dim // 2
        rot = torch.cat([-qk[..., half:], qk[..., :half]], dim=-1)
        qk.mul_(cos).addcmul_(rot, sin)  # as transformers' rotate_half

    def _block(self, h: torch.Tensor, L: _Layer, rope: tuple[torch.Tensor, ...],
               shape: tuple[int, int]) -> torch.Tensor:
        """One block on flattened tokens ``h`` (B*T, D); ``rope`` from :meth:`_rope_tables`."""
        b, t = shape
        x = F.layer_norm(h, h.shape[-1:], *L.norm1[:2], eps=L.norm1[2])
        qkv = self._lin(x, L.qkv_w, L.qkv_b).view(b, t, 3, self.heads, self.head_dim)
        self._rope(qkv[:, t - rope[0].shape[0]:, :2], rope)  # patch tokens of q and k
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, H, T, hd) views
        att = F.scaled_dot_product_attention(q, k, v)
        att = att.transpose(1, 2).reshape(b * t, -1)
        h = self._lin(att, L.o_w, L.o_b, add=h)
        x = F.layer_norm(h, h.shape[-1:], *L.norm2[:2], eps=L.norm2[2])
        if L.exact_gelu:
            u = self._lin(x, L.up_w, L.up_b, gelu=True)
        else:
            u = L.act(self._lin(x, L.up_w, L.up_b))
        return self._lin(u, L.down_w, L.down_b, add=h)

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised -> ``(B, 1 + P, D)``: CLS and patch tokens, as
        :class:`pain3d.model.backbone.DINOv3Backbone` returns them."""
        n = min(torch.get_num_threads(), pixels.shape[0]) if self.streams else 1
        if n < 2:
            return self._forward(pixels)
        inference = torch.is_inference_mode_enabled()  # grad modes are per thread

        def part(chunk: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode(inference), torch.no_grad():
                return self._forward(chunk)

        return torch.cat(list(_one_core_workers(n).map(part, pixels.tensor_split(n))))

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        m = self.model
        hidden = m.embeddings(pixels)
        rope = self._rope_tables(pixels)
        b, t, d = hidden.shape
        h = hidden.reshape(b * t, d)
        for layer in self.layers:
            h = self._block(h, layer, rope, (b, t))
        h = h.view(b, t, d)
        h = torch.cat([h[:, :1], h[:, 1 + self.registers:]], dim=1)
        return m.norm(h)


_WORKERS: dict[int, ThreadPoolExecutor] = {}
_WORKERS_LOCK = threading.Lock()


def _forget_workers() -> None:
    """In a forked child: the parent's worker threads were not copied, start new ones."""
    global _WORKERS_LOCK
    _WORKERS.clear()
    _WORKERS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_workers)


def _one_core_workers(n: int) -> ThreadPoolExecutor:
    """``n`` threads whose PyTorch operators each run on one core, kept for the process.

    Why: with intra-op threads, every operator of a forward (about 150 for ViT-S) splits over
    the cores and joins again; the small ones (attention per head, LayerNorm, the 384-wide
    output product) split poorly, and on a shared machine a core taken away stalls each
    join. Parts of the batch on one core each have no joins. OpenMP and MKL thread counts are
    per thread: each worker sets its own to 1, then the caller's count is restored (it is
    also PyTorch's default for threads started later; a thread starting during the set-up,
    once per process and size, would get 1).
    """
    with _WORKERS_LOCK:
        pool = _WORKERS.get(n)
        if pool is None:
            threads = torch.get_num_threads()
            started = threading.Barrier(n)  # n distinct threads, not one reused

            def one_core(_: int) -> None:
                torch.get_num_threads()  # PyTorch's per-thread set-up first, or it undoes:
                torch.set_num_threads(1)
                started.wait()

            pool = ThreadPoolExecutor(n, thread_name_prefix="pain3d-fused")
            list(pool.map(one_core, range(n)))
            torch.set_num_threads(threads)
            _WORKERS[n] = pool
    return pool


def fuse_for_cpu(model: nn.Module, onednn: bool | None = None,
                 reference: bool = False, streams: bool = True) -> nn.Module:
    """Give ``model``'s pain-image DINOv3 encoder the fused forward (:class:`FusedDINOv3`),
    in place.

    Call after :func:`pain3d.model.inference.prepare_for_inference` (LoRA merged). Encoders
    that cannot be fused (timm, ``published_forward``, gated MLPs) keep the eager forward, with
    a log line saying why. Undo with :func:`unfuse`. The snapshot holds a second copy of the
    q/k/v, output and MLP weights (ViT-S: about 90 MB per encoder).

    Args:
        model: a :class:`pain3d.model.vitpain.ViTPain`.
        onednn: force oneDNN kernels on (True) or off (False); default: when available.
        reference: fuse the separate reference encoder too. Off by default: with cached
            reference tokens (the predictor's way) it runs once per person, not per frame,
            and is not worth its copy of the weights. (``shared`` models have one encoder.)
        streams: split batches over one-core worker threads (see :class:`FusedDINOv3`).

    Returns:
        ``model`` itself.
    """
    from pain3d.model.backbone import DINOv3Backbone

    for name in ("encoder", "reference_encoder") if reference else ("encoder",):
        enc = getattr(model, name, None)
        if enc is None:
            continue
        if not isinstance(enc, DINOv3Backbone) or enc.published_forward:
            log.info("%s: not fused (only transformers' DINOv3 with RoPE is)", name)
            continue
        try:
            enc.fused = FusedDINOv3(enc.model, onednn=onednn, streams=streams)
        except TypeError as exc:
            log.info("%s: not fused (%s)", name, exc)
    return model


def unfuse(model: nn.Module) -> nn.Module:
    """Drop the fused snapshots: the encoders run their eager forward again."""
    for name in ("encoder", "reference_encoder"):
        enc = getattr(model, name, None)
        if enc is not None and hasattr(enc, "fused"):
            enc.fused = None
    return model
