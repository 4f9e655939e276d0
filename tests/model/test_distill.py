"""Heatmap-teacher distillation: a frozen, unsaved teacher that guides only the student."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from pain3d.model.distill import DistillConfig, HeatmapTeacher, distillation_loss


def test_teacher_is_frozen_hidden_from_the_module_tree_and_stays_in_eval(make_model):
    student, teacher = make_model(), make_model(seed=1)
    distiller = HeatmapTeacher(teacher)
    holder = nn.ModuleDict({"student": student, "distiller": distiller}).train()
    assert not teacher.training and student.training
    assert not any(p.requires_grad for p in teacher.parameters())
    assert set(holder.state_dict()) == {f"student.{k}" for k in student.state_dict()}
    teacher_ids = {id(p) for p in teacher.parameters()}
    assert not teacher_ids & {id(p) for p in holder.parameters()}
    distiller.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in teacher.parameters())


def test_distillation_moves_the_student_toward_the_teacher_and_never_the_teacher(
    make_model, images
):
    student, teacher = make_model(), make_model(seed=1)
    distiller = HeatmapTeacher(teacher, DistillConfig(feature_weight=1.0, prediction_weight=1.0))
    frozen = copy.deepcopy(teacher.state_dict())
    student.train()
    opt = torch.optim.Adam([p for g in student.parameter_groups().values() for p in g], lr=3e-3)
    x, heat, n = images(2), images(2, seed=5), images(2, seed=2)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss, parts = distiller(student(x, neutral=n), heat, neutral=n)
        loss.backward()
        opt.step()
        losses.append(parts["feature"].item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in frozen.items())


def test_identical_student_and_teacher_give_zero_loss(make_model, images):
    model = make_model()
    distiller = HeatmapTeacher(copy.deepcopy(model), DistillConfig("mse", 1.0, 0.0))
    x, n = images(2), images(2, seed=2)
    loss, _ = distiller(model(x, neutral=n), x, neutral=n)
    assert loss.item() == pytest.approx(0.0, abs=1e-9)  # grad/no-grad kernels differ by ulps
    out = model(x, neutral=n)
    assert distillation_loss(out, out, DistillConfig("cosine"))[0].item() == pytest.approx(
        0.0, abs=1e-6)

