"""Neutral-reference policies: which image(s) of which person a sample is paired with.

Policies (``ReferenceConfig.policy``):

- ``oracle``: same subject, a frame whose ground-truth PSPI is 0 (as published; uses labels,
  so it is not usable in a clinic and is reported separately at evaluation).
- ``label-free``: same subject without using labels: for synthetic data the neutral renders
  (known by name), for video data the first ``label_free_frames`` frames of the same
  sequence, or a user-given neutral image per subject (``user_images``).
- ``same-identity``: synthetic data only, a neutral render of the same identity from the same
  view (``view="same"``) or any view (``view="any"``).
- ``other-identity``: ablation, a neutral (or PSPI-0) image of a *different* subject.
- ``none``: no reference; samples carry no ``neutral`` key.

Every policy except ``other-identity`` only ever returns rows of the sample's own subject.
Selection is a pure function of the table, the row and a random generator, so evaluation is
deterministic given a seed (``deterministic=True`` seeds with ``(seed, row)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pain3d.data.common import DataError, FrameTable

Policy = Literal["oracle", "label-free", "same-identity", "other-identity", "none"]
POLICIES: tuple[str, ...] = ("oracle", "label-free", "same-identity", "other-identity", "none")


def reference_label(policy: str) -> str:
    """The predictions-CSV name of a reference policy (``label-free`` -> ``label_free``).

    Synthetic ``same-identity`` references need no labels, so they count as label-free.
    """
    return {"same-identity": "label_free"}.get(policy, policy.replace("-", "_"))


@dataclass(frozen=True)
class ReferenceConfig:
    """How neutral references are chosen.

    Attributes:
        policy: one of :data:`POLICIES`.
        n: references per sample; ``n == 1`` gives ``neutral`` (3, H, W), more give
            (n, 3, H, W) for multi-shot averaging.
        view: ``same`` or ``any`` camera view (synthetic data; ``same`` falls back to any
            view only when the identity has no neutral render in that view).
        label_free_frames: how many first frames of a sequence are label-free references.
        seed: seed of deterministic selection.
        deterministic: the same references for a row every time (evaluation); otherwise a
            fresh draw per access (training).
        user_images: subject -> image path used by ``label-free`` instead of first frames.
    """

    policy: Policy = "oracle"
    n: int = 1
    view: Literal["same", "any"] = "same"
    label_free_frames: int = 5
    seed: int = 0
    deterministic: bool = False
    user_images: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"reference policy {self.policy!r} is not one of {POLICIES}")
        if self.n < 1:
            raise ValueError(f"references per sample must be >= 1, got {self.n}")
        if self.view not in ("same", "any"):
            raise ValueError(f"reference view must be 'same' or 'any', got {self.view!r}")
        if self.label_free_frames < 1:
            raise ValueError(f"label_free_frames must be >= 1, got {self.label_free_frames}")


def _groups(keys: np.ndarray, rows: np.ndarray) -> dict[object, np.ndarray]:
    """Map each distinct key to the (sorted) rows that have it."""
    if len(rows) == 0:
        return {}
    order = np.argsort(keys, kind="stable")
    sk, sr = keys[order], rows[order]
    cuts = np.flatnonzero(sk[1:] != sk[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(sk)]])
    return {sk[a].item(): np.sort(sr[a:b]) for a, b in zip(starts, ends, strict=True)}


class ReferenceSampler:
    """Candidate reference rows per subject, built once over a table.

    Args:
        table: the full frame table (candidates may be rows that are not samples themselves,
            e.g. neutral renders when only pain images are trained on).
        cfg: the policy.
    """

    def __init__(self, table: FrameTable, cfg: ReferenceConfig):
        self.cfg = cfg
        self.table = table
        rows = np.arange(len(table))
        has_neutral_renders = bool(table.neutral.any())
        self.subjects = table.subject
        p = cfg.policy
        if p == "none":
            return
        if p == "same-identity" and not has_neutral_renders:
            raise DataError(
                "reference policy 'same-identity' needs neutral renders (synthetic data); "
                "use 'oracle' or 'label-free' for real data"
            )
        if has_neutral_renders:
            pool = rows[table.neutral]
        elif p == "label-free":
            pool = self._first_frames(table)
        else:
            pool = rows[table.pspi == 0]
        if p == "label-free" and cfg.user_images:
            self.user_subjects = set(cfg.user_images)
        else:
            self.user_subjects = set()
        self.by_subject = _groups(table.subject[pool], pool)
        self.by_subject_view: dict[object, np.ndarray] = {}
        if has_neutral_renders and cfg.view == "same" and p != "other-identity":
            sv = np.char.add(np.char.add(table.subject[pool], "|"), table.view[pool].astype(str))
            self.by_subject_view = _groups(sv, pool)
        self.by_sequence: dict[object, np.ndarray] = {}
        if p == "label-free" and not has_neutral_renders:
            ss = np.char.add(np.char.add(table.subject[pool], "|"), table.sequence[pool])
            self.by_sequence = _groups(ss, pool)
        self.subject_list = np.array(sorted(self.by_subject))

    @staticmethod
    def _first_frames_rows(table: FrameTable, k: int) -> np.ndarray:
        rows = np.arange(len(table))
        order = np.lexsort((table.frame, table.sequence))
        seq = table.sequence[order]
        start = np.r_[0, np.flatnonzero(seq[1:] != seq[:-1]) + 1]
        rank = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
        return np.sort(rows[order][rank < k])

    def _first_frames(self, table: FrameTable) -> np.ndarray:
        return self._first_frames_rows(table, self.cfg.label_free_frames)

    def missing_subjects(self, rows: np.ndarray) -> list[str]:
        """Subjects among ``rows`` that have no reference candidate under this policy."""
        if self.cfg.policy in ("none",):
            return []
        subj = set(np.unique(self.subjects[rows]).tolist())
        if self.cfg.policy == "other-identity":
            return sorted(subj) if len(self.by_subject) < 2 else []
        return sorted(s for s in subj if s not in self.by_subject and s not in self.user_subjects)

    def rng_for(self, row: int, salt: int = 0) -> np.random.Generator:
        if self.cfg.deterministic:
            return np.random.default_rng([self.cfg.seed, int(row)])
        return np.random.default_rng([self.cfg.seed, int(row), salt])

    def select(self, row: int, rng: np.random.Generator) -> np.ndarray | str:
        """Reference rows for sample ``row`` (``(n,)`` int64), or a user image path.

        Raises:
            DataError: when the subject has no candidate under the policy.
        """
        cfg = self.cfg
        if cfg.policy == "none":
            return np.empty(0, np.int64)
        subject = str(self.subjects[row])
        if subject in self.user_subjects:
            return str(cfg.user_images[subject])
        if cfg.policy == "other-identity":
            others = self.subject_list[self.subject_list != subject]
            if len(others) == 0:
                raise DataError("reference policy 'other-identity' needs at least two subjects "
                                "with neutral images")
            cand = self.by_subject[str(others[rng.integers(len(others))])]
        else:
            cand = None
            if self.by_sequence:
                cand = self.by_sequence.get(f"{subject}|{self.table.sequence[row]}")
            elif self.by_subject_view:
                cand = self.by_subject_view.get(f"{subject}|{int(self.table.view[row])}")
            if cand is None:
                cand = self.by_subject.get(subject)
            if cand is None or len(cand) == 0:
                raise DataError(f"subject {subject!r} has no reference image under policy "
                                f"{cfg.policy!r} (row {row}: {self.table.key[row]})")
            if len(cand) > 1 and cfg.policy == "oracle":
                # Prefer another frame over the sample itself when there is a choice.
                cand = cand[cand != row]
        replace = len(cand) < cfg.n
        return np.asarray(rng.choice(cand, size=cfg.n, replace=replace), dtype=np.int64)
