"""The ViTPain loss: published terms, configurable weights."""

from __future__ import annotations

import math

import pytest
import torch

from pain3d.model import LossWeights, ViTPainOutput, vitpain_loss


def _output(pspi_unit, au, logits) -> ViTPainOutput:
    pspi_unit = torch.as_tensor(pspi_unit, dtype=torch.float32)
    au = torch.as_tensor(au, dtype=torch.float32)
    return ViTPainOutput(pspi=16 * pspi_unit, pspi_unit=pspi_unit, au=au,
                         binary_logits=torch.as_tensor(logits, dtype=torch.float32),
                         au_pspi=torch.zeros_like(pspi_unit), cls=torch.zeros(len(pspi_unit), 4))


def test_loss_terms_have_the_published_values():
    au_target = torch.tensor([[1.0, 2, 0, 0, 3, 1]])
    out = _output([0.5], au_target + 1.0, [[0.0, 0.0, 0.0]])
    loss, parts = vitpain_loss(out, au_target, torch.tensor([4.0]))
    assert parts["pspi"].item() == pytest.approx((0.5 - 4 / 16) ** 2)
    assert parts["au"].item() == pytest.approx(1.0)
    assert parts["binary"].item() == pytest.approx(math.log(2))
    assert loss.item() == pytest.approx(parts["pspi"] + parts["au"] + parts["binary"])


def test_weights_scale_their_terms():
    out = _output([0.9], torch.zeros(1, 6), [[3.0, -2.0, 1.0]])
    target_au, target = torch.ones(1, 6), torch.tensor([2.0])
    _, p = vitpain_loss(out, target_au, target)
    loss, _ = vitpain_loss(out, target_au, target, LossWeights(pspi=2.0, au=0.1, binary=0.0))
    assert loss.item() == pytest.approx(2 * p["pspi"].item() + 0.1 * p["au"].item())


def test_binary_targets_follow_the_thresholds():
    # Logits far on the right side of each threshold give ~zero BCE.
    pspi = torch.tensor([0.0, 1.0, 2.0, 3.0])
    logits = torch.tensor([[-20, -20, -20], [20, -20, -20], [20, 20, -20], [20, 20, 20.0]])
    out = _output(pspi / 16, torch.zeros(4, 6), logits)
    _, parts = vitpain_loss(out, torch.zeros(4, 6), pspi)
    assert parts["binary"].item() < 1e-6 and parts["pspi"].item() == 0


def test_threshold_count_mismatch_is_an_error():
    out = _output([0.1], torch.zeros(1, 6), [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="binary heads"):
        vitpain_loss(out, torch.zeros(1, 6), torch.zeros(1), LossWeights(thresholds=(1.0,)))


def test_unknown_au_targets_are_left_out_of_the_au_term():
    au_pred = torch.tensor([[1.0, 1, 1, 1, 1, 1], [0.0, 0, 0, 0, 0, 0]], requires_grad=True)
    out = _output([0.5, 0.5], au_pred, [[0.0] * 3, [0.0] * 3])
    target = torch.tensor([[3.0, 1, 1, 1, 1, 1], [float("nan")] * 6])
    loss, parts = vitpain_loss(out, target, torch.tensor([4.0, 0.0]))
    assert parts["au"].item() == pytest.approx(4.0 / 6)  # only the labelled row counts
    loss.backward()
    assert torch.isfinite(au_pred.grad).all() and (au_pred.grad[1] == 0).all()
    _, parts = vitpain_loss(out, torch.full((2, 6), float("nan")), torch.tensor([4.0, 0.0]))
    assert parts["au"].item() == 0.0
