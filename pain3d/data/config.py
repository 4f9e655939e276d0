"""The one data config (``data:`` in training configs) and the reference policy it implies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pain3d.data.references import POLICIES, Policy

Kind = Literal["auto", "synthetic", "unbc", "table"]
KINDS: tuple[str, ...] = ("auto", "synthetic", "unbc", "table")


@dataclass
class DataConfig:
    """Where the data is and how samples and references are formed.

    Attributes:
        root: the data: a synthetic dataset folder (pain3d manifest, published ``3dpain``
            folder or hub shards), a prepared UNBC ``.h5`` (or the frames file of the derived
            HDF5 trio), or a labelled CSV / folder (:mod:`pain3d.data.table`).
        kind: ``synthetic``, ``unbc``, ``table`` or ``auto`` (from what ``root`` holds, see
            :func:`pain3d.data.open.data_kind`).
        layout: synthetic layout (``auto``, ``manifest``, ``3dpain``, ``hub``).
        split_csv: synthetic split file (``annotation_base_name,split``); default: found in
            ``root`` by its header.
        cache_dir: where a synthetic index (and inflated hub shards) is cached; default
            ``<root>/.pain3d_cache`` when writable.
        annotations: annotations HDF5 of the derived UNBC trio (``root`` is then its frames
            file); unset for pain3d's ``unbc.h5``.
        folds_file: folds HDF5 of the derived trio (``fold-0`` .. groups) for ``cv.scheme =
            file``.
        reference: training reference policy (``label-free`` by default; published used
            ``oracle`` on UNBC and ``same-identity`` on synthetic data).
        eval_reference: validation / test reference policy; None: label-free (honest) or
            oracle (published protocol); synthetic data uses its neutral renders. See
            :func:`reference_policy`.
        references: neutral references per sample at evaluation (multi-shot averaging).
        reference_images: CSV ``subject,path`` of given neutral images; under the
            ``label-free`` policy these subjects use them instead of first frames.
        label_free_frames: first frames of a sequence usable as label-free references.
        image_size: pixels; None takes the model's preprocessing size.
        skip_bad: skip unreadable images instead of stopping.
        include_neutral: also train on the neutral images (synthetic renders, ``neutral``
            rows of a table) as PSPI-0 samples (the published pretraining did); otherwise
            they are only references. Validation and test frames are unaffected.
        input: ``rgb`` (the photos) or ``heatmap``: synthetic data only; each sample's image
            is its pain configuration's heatmap and its reference the neutral's heatmap (all
            black). This is how the heatmap teacher of ``distill.teacher`` is trained
            (``configs/teacher_heatmap.yaml``); photometric augmentation is then replaced by
            its geometric part (``trainer.augment = geometric``).
        heatmaps: also read each training sample's heatmap (``pain3d.data.heatmaps``). Off by
            default (no cost); turned on automatically for the training set when
            ``distill.teacher`` is set.
        face_crop: synthetic data written with face keypoints (the ``lm_*`` manifest
            columns of ``pain3d generate``) is cropped around the face exactly as
            ``pain3d predict`` crops real photos; False trains on the whole render, resized.
            Data without keypoints is always resized whole.
    """

    root: str = ""
    kind: Kind = "auto"
    layout: Literal["auto", "manifest", "3dpain", "hub"] = "auto"
    split_csv: str | None = None
    cache_dir: str | None = None
    annotations: str | None = None
    folds_file: str | None = None
    reference: Policy = "label-free"
    eval_reference: Policy | None = None
    references: int = 1
    reference_images: str | None = None
    label_free_frames: int = 5
    image_size: int | None = None
    skip_bad: bool = False
    include_neutral: bool = False
    input: Literal["rgb", "heatmap"] = "rgb"
    heatmaps: bool = False
    face_crop: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"data.kind must be one of {KINDS}, got {self.kind!r}")
        for key in ("reference", "eval_reference"):
            value = getattr(self, key)
            if value is not None and value not in POLICIES:
                raise ValueError(f"data.{key} {value!r} is not one of {POLICIES}")
        if self.input not in ("rgb", "heatmap"):
            raise ValueError(f"data.input must be rgb or heatmap, got {self.input!r}")
        if self.references < 1:
            raise ValueError(f"data.references must be >= 1, got {self.references}")
        if self.label_free_frames < 1:
            raise ValueError(f"data.label_free_frames must be >= 1, got {self.label_free_frames}")
        if self.image_size is not None and self.image_size < 4:
            raise ValueError(f"data.image_size must be >= 4 pixels, got {self.image_size}")


def reference_policy(cfg: DataConfig, kind: str, role: Literal["train", "eval"],
                     single_image: bool = False, protocol: str = "honest") -> str:
    """The reference policy of the training set (``train``) or of validation and test
    (``eval``): the one place it is decided.

    Args:
        cfg: ``reference`` and ``eval_reference`` as configured.
        kind: the opened data's kind; synthetic data answers ``label-free`` with its neutral
            renders of the same identity and view (``same-identity``: they need no labels).
        role: which samples.
        single_image: the model takes no reference (``none`` everywhere).
        protocol: ``honest`` or ``published``; without ``eval_reference`` real data is
            evaluated with label-free references (honest) or oracle ones (published).
    """
    if single_image:
        return "none"
    if role == "train":
        policy = cfg.reference
    elif cfg.eval_reference:
        policy = cfg.eval_reference
    elif cfg.reference in ("other-identity", "none"):
        policy = cfg.reference
    elif kind == "synthetic":
        return "same-identity"
    else:
        return "oracle" if protocol == "published" else "label-free"
    return "same-identity" if kind == "synthetic" and policy == "label-free" else policy
