"""Heatmap-teacher distillation: a frozen ViTPain trained on pain heatmaps guides the RGB student.

The teacher has the student's architecture but sees the heatmap render of the same sample
(``(B, 3, H, W)``, normalised like images) instead of the photo, and as its reference the
neutral's heatmap, which is all black (no deformation): that is how a teacher is trained
(``pain3d train`` with ``data.input = heatmap``, ``configs/teacher_heatmap.yaml``) and what
:meth:`HeatmapTeacher.distill` feeds it while the student trains. The student is pulled toward
the teacher's post-cross-attention CLS features (cosine or MSE) and, optionally, its
predictions. The teacher is frozen, stays in eval mode and is held outside the module tree,
so it is neither trained nor saved with the student (nor with a Lightning module that holds
the :class:`HeatmapTeacher`), yet ``.to(device)`` still moves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pain3d.model.vitpain import ViTPain, ViTPainOutput


@dataclass
class DistillConfig:
    """Distillation terms.

    Attributes:
        feature: ``cosine`` (1 - cosine similarity of the CLS features) or ``mse``.
        feature_weight: weight of the feature term.
        prediction_weight: weight of the prediction term (MSE of the PSPI unit output and
            the AUs, BCE of the binary logits against the teacher's probabilities); 0 = off.
    """

    feature: Literal["cosine", "mse"] = "cosine"
    feature_weight: float = 1.0
    prediction_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.feature not in ("cosine", "mse"):
            raise ValueError(f"distill feature {self.feature!r}: use cosine or mse")
        if self.feature_weight < 0 or self.prediction_weight < 0:
            raise ValueError("distillation weights must be >= 0")


def distillation_loss(
    student: ViTPainOutput, teacher: ViTPainOutput, cfg: DistillConfig | None = None
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted distillation loss and its detached parts ``{"distill", "feature", "prediction"}``.

    The teacher outputs are treated as constants (detached).
    """
    c = cfg or DistillConfig()
    t_cls = teacher.cls.detach().float()
    s_cls = student.cls.float()
    if c.feature == "cosine":
        feature = (1.0 - F.cosine_similarity(s_cls, t_cls, dim=-1)).mean()
    else:
        feature = F.mse_loss(s_cls, t_cls)
    prediction = (
        F.mse_loss(student.pspi_unit.float(), teacher.pspi_unit.detach().float())
        + F.mse_loss(student.au.float(), teacher.au.detach().float())
        + F.binary_cross_entropy_with_logits(student.binary_logits.float(),
                                             torch.sigmoid(teacher.binary_logits.detach().float()))
    )
    total = c.feature_weight * feature + c.prediction_weight * prediction
    parts = {"distill": total, "feature": feature, "prediction": prediction}
    return total, {k: v.detach() for k, v in parts.items()}


class HeatmapTeacher(nn.Module):
    """A frozen heatmap teacher that computes the distillation loss for a student output.

    Args:
        teacher: a trained ViTPain (e.g. ``load_model(dir)``) whose hidden size matches the
            student's when the feature term is on.
        cfg: distillation terms.
    """

    def __init__(self, teacher: ViTPain, cfg: DistillConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or DistillConfig()
        teacher.requires_grad_(False)
        teacher.eval()
        # A tuple hides the teacher from parameters(), state_dict() and optimisers.
        self._held = (teacher,)
        self._black: dict[tuple[str, str, int], torch.Tensor] = {}

    @property
    def teacher(self) -> ViTPain:
        return self._held[0]

    def _apply(self, fn, recurse: bool = True):  # type: ignore[override]
        self.teacher._apply(fn)
        self._black.clear()
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True) -> HeatmapTeacher:
        super().train(mode)
        self.teacher.eval()
        return self

    @torch.no_grad()
    def predict(
        self,
        heatmap: torch.Tensor,
        neutral: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
    ) -> ViTPainOutput:
        """Teacher outputs for normalised heatmap renders ``(B, 3, H, W)``."""
        return self.teacher(heatmap, neutral=neutral, reference=reference)

    def forward(
        self,
        student_out: ViTPainOutput,
        heatmap: torch.Tensor,
        neutral: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Distillation loss of ``student_out`` against the teacher on ``heatmap``.

        ``neutral`` / ``reference`` is the teacher's reference input (what it was trained
        with, e.g. the neutral image or the neutral's all-black heatmap).
        """
        if student_out.cls.shape[-1] != self.teacher.hidden_size and self.cfg.feature_weight:
            raise ValueError(
                f"student width {student_out.cls.shape[-1]} != teacher width "
                f"{self.teacher.hidden_size}: feature distillation needs equal widths "
                "(set feature_weight=0 to distil predictions only)"
            )
        return distillation_loss(student_out, self.predict(heatmap, neutral, reference), self.cfg)

    @torch.no_grad()
    def black_reference(self, like: torch.Tensor) -> torch.Tensor | None:
        """Reference tokens ``(1, S, D)`` of the all-black neutral heatmap at ``like``'s
        size, device and dtype (encoded once, then cached); None for ``reference='none'``
        teachers."""
        t = self.teacher
        if not t.config.uses_reference:
            return None
        key = (str(like.device), str(like.dtype), int(like.shape[-1]))
        if key not in self._black:
            black = torch.zeros(1, 3, *like.shape[-2:], device=like.device, dtype=like.dtype)
            self._black[key] = t.encode_reference(t.normalize(black))
        return self._black[key]

    def distill(self, student_out: ViTPainOutput, heatmap: torch.Tensor
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Distillation loss for heatmaps in [0, 1] (the batch's ``heatmap``, not normalised).

        The heatmaps are resized to the teacher's input size when it differs, normalised
        with the teacher's own mean / std, and compared with the black neutral heatmap, as
        the teacher was trained.

        Args:
            student_out: the student's outputs for the same samples.
            heatmap: ``(B, 3, H, W)`` float in [0, 1], or uint8 0..255 (training batches).
        """
        t = self.teacher
        size = int(t.preprocessing["size"])
        x = heatmap.float().div_(255.0) if heatmap.dtype == torch.uint8 else heatmap.float()
        if tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=True)
        x = t.normalize(x)
        return self(student_out, x, reference=self.black_reference(x))
