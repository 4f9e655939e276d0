"""The manifest (one row per image) and the published split file, built from the plan alone.

Columns: the shared contract (``path`` ... ``mesh_path``) followed by pain3d extras
(``config``, ``depth_path``, ``shard``, ``identity_seed``, ``light_seed``,
``background_seed``, ``appearance`` (``procedural``, ``diffusion`` or ``photo``), the face
keypoints ``lm_reye_x`` ... ``lm_mouth_y`` in pixels of the image, see
:mod:`pain3d.synth.keypoints`; NaN when the renderer gave none), then every nuisance AU as
the rig applied it (``AU1`` ... ``AU26``, FACS 0..5, 0 when not drawn; never part of PSPI),
``neutral_session`` (0, or s for the s-th neutral session of ``reference_variation``: a
PSPI-0 sample), the image's own capture variation (``var_*``,
:class:`pain3d.synth.spec.VariationSpec`: head pose offset in degrees, camera distance scale,
look-at shift in metres, light rotation in degrees and exposure gain; 0 and 1 without
``reference_variation``), and for photo identities ``source_photo`` (the photo as listed),
``source_photo_sha256``, ``source_photo_path`` (the raw photo kept in the dataset) and
``photo_warnings`` (``|``-joined; all empty for procedural identities). Paths are
relative to the dataset root and name the loose file; in the hub layout they are the paths
after extracting the shards in place, and ``shard`` names the tar.gz holding the image.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any

from pain3d.face.landmarks import KEYPOINT_COLUMNS
from pain3d.facs import AU_NAMES, NUISANCE_AUS
from pain3d.io import atomic_path, atomic_write_text
from pain3d.synth import layout
from pain3d.synth.keypoints import keypoint_columns
from pain3d.synth.photo_source import photo_columns
from pain3d.synth.spec import SPLIT_NAMES, DatasetPlan, SampleSpec, VariationSpec

_VARIATION_FIELDS = tuple(f.name for f in dataclasses.fields(VariationSpec))
VARIATION_COLUMNS: tuple[str, ...] = tuple(f"var_{k}" for k in _VARIATION_FIELDS)

COLUMNS: tuple[str, ...] = (
    "path", "identity", "identity_name", "expression", "kind", "view", "yaw", "pitch", "roll",
    "distance", *AU_NAMES, "PSPI", "sex", "age_band", "ancestry", "seed", "split",
    "heatmap_path", "mask_path", "mesh_path",
    # pain3d extras
    "config", "depth_path", "shard", "identity_seed", "light_seed", "background_seed",
    "appearance", *KEYPOINT_COLUMNS,
    # issue 14: what was applied (nuisance AUs, the image's own capture variation)
    *NUISANCE_AUS, "neutral_session", *VARIATION_COLUMNS,
    # photo identities (empty for procedural ones)
    "source_photo", "source_photo_sha256", "source_photo_path", "photo_warnings",
)
_INT_COLUMNS = {"identity", "view", "seed", "config", "identity_seed", "light_seed",
                "background_seed", "neutral_session"}
_FLOAT_COLUMNS = {"yaw", "pitch", "roll", "distance", *AU_NAMES, "PSPI", *KEYPOINT_COLUMNS,
                  *NUISANCE_AUS, *VARIATION_COLUMNS}


def variation_values(s: SampleSpec) -> dict[str, float]:
    """The ``var_*`` columns of one image (the delta its renderer applied)."""
    from pain3d.synth.variation import sample_delta

    d = sample_delta(s)
    return {f"var_{k}": float(getattr(d, k)) for k in _VARIATION_FIELDS}


def manifest_rows(plan: DatasetPlan,
                  landmarks: dict[str, list[float] | None] | None = None) -> list[dict[str, Any]]:
    """One dict per image, in plan order (identity, expression, view).

    Args:
        plan: the dataset plan.
        landmarks: image path -> face keypoints recorded by the workers
            (:func:`pain3d.synth.keypoints.keypoint_values`); images without are NaN.
    """
    landmarks = landmarks or {}
    cfg = plan.config
    hub = cfg.layout in ("hub", "both")
    rows = []
    # Columns that depend only on the expression (shared by its views and by every identity
    # with the same configuration) or on the capture variation: computed once each (2.6 of
    # the 3.4 s that 82,500 rows took).
    of_expression: dict[tuple, tuple[dict, float, dict]] = {}
    of_variation: dict = {}
    for unit in plan.units:
        mesh = layout.mesh_paths(unit.identity.index)[0]
        shard = layout.shard_path(cfg, "images", layout.shard_of(cfg, unit.identity.index))
        heat_of = {s.expression: layout.heatmap_path(s) for s in unit.heatmaps}
        for s in unit.samples:
            expr = of_expression.get((s.aus, s.nuisance))
            if expr is None:
                expr = of_expression[s.aus, s.nuisance] = (
                    {n: float(a) for n, a in zip(AU_NAMES, s.aus, strict=True)}, s.pspi,
                    s.applied_nuisance)
            var = of_variation.get(s.variation)
            if var is None:
                var = of_variation[s.variation] = variation_values(s)
            row: dict[str, Any] = {
                "path": layout.image_path(s),
                "identity": s.identity.index,
                "identity_name": s.identity.name,
                "expression": s.expression,
                "kind": "image",
                "view": s.view.index,
                "yaw": s.view.yaw,
                "pitch": s.view.pitch,
                "roll": s.view.roll,
                "distance": s.view.distance,
            }
            row.update(expr[0])
            row.update(
                PSPI=expr[1],
                sex=s.identity.sex,
                age_band=s.identity.age_band,
                ancestry=s.identity.ancestry,
                seed=s.seed,
                split=s.identity.split,
                heatmap_path=heat_of.get(s.expression, ""),
                mask_path=layout.mask_path(s) if "masks" in cfg.extras else "",
                mesh_path=mesh,
                config=s.config,
                depth_path=layout.depth_path(s) if "depth" in cfg.extras else "",
                shard=shard if hub else "",
                identity_seed=s.identity.appearance_seed,
                light_seed=s.view.light_seed,
                background_seed=s.view.background_seed,
            )
            row.update(keypoint_columns(landmarks.get(row["path"])))
            row.update(expr[2], neutral_session=s.session)
            row.update(var)
            row.update(photo_columns(s.identity, cfg))  # appearance and source_photo*
            rows.append(row)
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form: CSV and parquet agree exactly
    return str(value)


def manifest_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_fmt(r[c]) for c in COLUMNS])
    return buf.getvalue()


def write_manifest(root: Path, rows: list[dict[str, Any]]) -> None:
    """``manifest.parquet`` and ``manifest.csv`` (atomic, deterministic bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for c in COLUMNS:
        values = [r[c] for r in rows]
        tp = (pa.int64() if c in _INT_COLUMNS
              else pa.float64() if c in _FLOAT_COLUMNS else pa.string())
        arrays[c] = pa.array(values, type=tp)
    table = pa.table(arrays)
    with atomic_path(root / "manifest.parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")
    atomic_write_text(root / "manifest.csv", manifest_csv(rows))


def read_manifest(root: Path):
    """The manifest as a pandas DataFrame (parquet, else CSV).

    Raises:
        FileNotFoundError: if neither file exists.
    """
    import pandas as pd

    if (root / "manifest.parquet").is_file():
        return pd.read_parquet(root / "manifest.parquet")
    if (root / "manifest.csv").is_file():
        return pd.read_csv(root / "manifest.csv", keep_default_na=False)
    raise FileNotFoundError(f"{root} has no manifest.parquet or manifest.csv: is it a dataset "
                            f"written by pain3d generate (and did the run finish)?")


def splits_csv(plan: DatasetPlan) -> str:
    """Published split file: ``annotation_base_name,split`` per pain config, 0/1/2 by identity."""
    lines = ["annotation_base_name,split"]
    for unit in plan.units:
        code = SPLIT_NAMES.index(unit.identity.split)
        lines += [f"{s.base_name},{code}" for s in unit.heatmaps]
    return "\n".join(lines) + "\n"
