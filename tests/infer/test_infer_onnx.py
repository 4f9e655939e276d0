"""ONNX export matches PyTorch (onnxruntime) on the tiny preset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pain3d.infer.onnx import check_parity, export_onnx


@pytest.mark.parametrize("references", [1, 3])
def test_onnx_outputs_match_pytorch(tiny_model, tmp_path, references):
    path = export_onnx(tiny_model, tmp_path / "vitpain.onnx", references=references)
    diffs = check_parity(tiny_model, path, batch=3)  # a batch size not used at export
    assert set(diffs) == {"pspi", "pain_prob", "au", "binary_logits"}
    assert max(diffs.values()) < 1e-3
    meta = json.loads(path.with_suffix(".preprocessing.json").read_text())
    assert meta["size"] == tiny_model.preprocessing["size"] and meta["references"] == references


def test_parity_check_catches_a_different_model(tiny_model, tmp_path):
    import copy

    import torch

    path = export_onnx(tiny_model, tmp_path / "vitpain.onnx")
    other = copy.deepcopy(tiny_model)
    with torch.no_grad():
        for p in other.pspi_head.parameters():
            p.add_(torch.from_numpy(np.full(p.shape, 0.05, np.float32)))
    with pytest.raises(ValueError, match="does not match"):
        check_parity(other, path)


def test_cli_export_onnx_writes_graph_and_reports_parity(checkpoint, tmp_path, capsys):
    from pain3d.cli import main

    out = tmp_path / "m.onnx"
    assert main(["export-onnx", "--checkpoint", str(checkpoint), "--out", str(out),
                 "--references", "2"]) == 0
    assert out.is_file() and "max |ONNX - PyTorch|" in capsys.readouterr().out
    meta = json.loads(out.with_suffix(".preprocessing.json").read_text())
    assert meta["references"] == 2 and meta["opset"] == 17
