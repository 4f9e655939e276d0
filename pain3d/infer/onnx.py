"""ONNX export of a ViTPain model, and the check that ONNX Runtime reproduces PyTorch.

The exported graph takes normalised tensors (the preprocessing is written beside the graph
as ``<name>.preprocessing.json``):

- ``image``   (B, 3, S, S) float32
- ``neutral`` (B, N, 3, S, S) float32, N fixed at export time (``references``; the
  multi-shot average over N is part of the graph)

and returns ``pspi`` (B,) 0..16, ``pain_prob`` (B,) P(PSPI >= 1), ``au`` (B, 6) FACS 0..5 and
``binary_logits`` (B, K). The batch is dynamic. The TorchScript-based exporter is used
(``dynamo=False``): it handles DINOv3's rotary position embedding in transformers without
changes, and the Python branch on N is resolved at trace time, which is why N is fixed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

OUTPUT_NAMES = ("pspi", "pain_prob", "au", "binary_logits")


def _wrapper(model: Any):
    import torch

    class _Export(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, image: torch.Tensor, neutral: torch.Tensor):
            o = self.m(image, neutral=neutral)
            return o.pspi, torch.sigmoid(o.binary_logits[:, 0]), o.au, o.binary_logits

    return _Export(model).eval()


def export_onnx(model: Any, path: str | Path, references: int = 1, opset: int = 17) -> Path:
    """Write ``model`` as an ONNX graph (see module docstring for inputs and outputs).

    Args:
        model: a ``ViTPain`` (eval mode is set here).
        path: ``.onnx`` file to write (atomically), plus ``<stem>.preprocessing.json``.
        references: N, the number of neutral references per query baked into the graph.
        opset: ONNX opset (>= 17: LayerNormalization is a single op).
    """
    import warnings

    import torch

    from pain3d.io import atomic_path, atomic_write_json

    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    if references < 1:
        raise ValueError(f"references must be >= 1, got {references}")
    if not getattr(getattr(model, "config", None), "uses_reference", True):
        raise ValueError("this model takes no reference (reference='none'); the export graph "
                         "expects image and neutral inputs")
    model = model.eval()
    s = int(model.preprocessing["size"])
    image = torch.zeros(2, 3, s, s)
    neutral = torch.zeros(2, references, 3, s, s)
    p = Path(path)
    with atomic_path(p) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python branches on shapes
        torch.onnx.export(
            _wrapper(model), (image, neutral), str(tmp), dynamo=False,
            input_names=["image", "neutral"], output_names=list(OUTPUT_NAMES),
            dynamic_axes={"image": {0: "batch"}, "neutral": {0: "batch"},
                          **{n: {0: "batch"} for n in OUTPUT_NAMES}},
            opset_version=opset,
        )
    atomic_write_json(p.with_suffix(".preprocessing.json"),
                      {**model.preprocessing, "references": references, "opset": opset,
                       "inputs": ["image", "neutral"], "outputs": list(OUTPUT_NAMES)})
    return p


def check_parity(model: Any, path: str | Path, batch: int = 3, seed: int = 0,
                 atol: float = 1e-3) -> dict[str, float]:
    """Max |ONNX Runtime - PyTorch| of every output on random inputs; raises when > ``atol``.

    Returns:
        {output name: max absolute difference}.
    """
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shape = sess.get_inputs()[1].shape  # (batch, N, 3, S, S)
    n, s = int(shape[1]), int(shape[3])
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(batch, 3, s, s, generator=g)
    neutral = torch.randn(batch, n, 3, s, s, generator=g)
    with torch.inference_mode():
        ref = [t.float().numpy() for t in _wrapper(model.eval())(image, neutral)]
    got = sess.run(list(OUTPUT_NAMES), {"image": image.numpy(), "neutral": neutral.numpy()})
    diffs = {name: float(np.abs(a - b).max())
             for name, a, b in zip(OUTPUT_NAMES, got, ref, strict=True)}
    bad = {k: v for k, v in diffs.items() if not v <= atol}
    if bad:
        raise ValueError(f"ONNX export {path} does not match PyTorch: max abs differences {bad} "
                         f"exceed {atol}")
    return diffs


def export_checkpoint(checkpoint: str | Path, out: str | Path, opset: int = 17,
                      references: int = 1, check: bool = True) -> dict[str, Any]:
    """``pain3d export-onnx``: load a checkpoint, export it, optionally check parity."""
    from pain3d.model import load_model

    model = load_model(checkpoint)
    path = export_onnx(model, out, references=references, opset=opset)
    report: dict[str, Any] = {"path": str(path)}
    if check:
        diffs = check_parity(model, path)
        report.update(max_abs_diff_pspi=diffs["pspi"], max_abs_diff_au=diffs["au"])
        log.info("ONNX parity: %s", diffs)
    return report
