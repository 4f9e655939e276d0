"""A generic reader: a CSV of images with AU / PSPI labels and subject ids, or a folder.

CSV columns (one row per image):

- ``path`` (required): image path, relative to the CSV's folder or absolute;
- ``subject`` (required): the person; references never cross it;
- any of ``AU4, AU6, AU7, AU9, AU10, AU43`` (``AU04`` spellings accepted; absent ones are 0
  when at least one is given) and/or ``PSPI``. With AUs and PSPI both given they must agree;
  with PSPI only, ``au`` is NaN (unknown: mask the AU loss) rather than a made-up zero;
- optional ``sequence``, ``frame``, ``view``, ``split`` (train/val/test) and ``neutral``
  (1 = a neutral image of that subject, used by the ``label-free`` and ``same-identity``
  reference policies).

Folder: ``<root>/labels.csv`` in the format above, or images ``<root>/<subject>/**/*.png|jpg``
each with a sidecar ``<stem>.json`` holding the published annotation keys (AU4..AU43, optional
PSPI, optional ``"neutral": true``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from pain3d.data.common import (
    DataError,
    FileSource,
    FrameTable,
    SkipReport,
    checked_labels,
    fail_or_skip,
)
from pain3d.facs import AU_NAMES, AUValueError, canonical_au_name

log = logging.getLogger(__name__)

_IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def _truthy(values: np.ndarray) -> np.ndarray:
    return np.isin(np.char.lower(values.astype(str)), ["1", "true", "yes", "1.0"])


def read_csv_table(csv: str | Path, report: SkipReport | None = None
                   ) -> tuple[FrameTable, FileSource]:
    """Frame table and file source for a labelled CSV (format in the module docstring)."""
    import pandas as pd

    csv = Path(csv)
    try:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{csv}: unreadable CSV ({exc})") from exc
    for col in ("path", "subject"):
        if col not in df.columns:
            raise DataError(f"{csv}: missing column {col!r} (columns: {list(df.columns)})")
    au_cols: dict[str, str] = {}
    for c in df.columns:
        try:
            au_cols[canonical_au_name(c)] = c
        except AUValueError:
            pass
    has_pspi = "PSPI" in df.columns
    if not au_cols and not has_pspi:
        raise DataError(f"{csv}: needs AU columns ({', '.join(AU_NAMES)}) and/or a PSPI column")
    n = len(df)
    au = np.full((n, len(AU_NAMES)), np.nan, np.float32)
    ps = np.zeros(n, np.float32)
    keep = np.ones(n, bool)
    for i in range(n):
        where = f"{csv} row {i + 2} ({df['path'][i]})"
        try:
            given = _num(df["PSPI"][i], where, "PSPI") if has_pspi else None
            if au_cols:
                vals = {name: _num(df[c][i], where, name) for name, c in au_cols.items()}
                vec, value = checked_labels(vals, given, where, prefer_given=False)
                if given is not None and abs(given - value) > 1e-3:
                    raise DataError(f"{where}: PSPI = {given:g} but the AUs give {value:g}")
                au[i], ps[i] = vec, value
            else:
                _, ps[i] = checked_labels({}, given, where)
        except DataError as exc:
            fail_or_skip(report, where, str(exc).removeprefix(where + ": "))
            keep[i] = False
    if not au_cols:
        log.warning("%s has PSPI but no AU columns: AU targets are NaN, mask the AU loss", csv)
    df = df[keep].reset_index(drop=True)
    au, ps = au[keep], ps[keep]
    paths = df["path"].to_numpy(str)
    absolute = np.array([Path(p).is_absolute() for p in paths], bool)
    rel = np.where(absolute, paths, np.char.add(str(csv.parent) + "/", paths))
    opt = {c: df[c].to_numpy(str) for c in ("sequence", "split") if c in df.columns}
    table = FrameTable(
        key=paths, subject=df["subject"].to_numpy(str), au=au, pspi=ps,
        sequence=opt.get("sequence"),
        frame=df["frame"].astype(int).to_numpy() if "frame" in df.columns else None,
        view=df["view"].astype(int).to_numpy() if "view" in df.columns else None,
        neutral=_truthy(df["neutral"].to_numpy(str)) if "neutral" in df.columns else None,
        split=opt.get("split"),
    )
    return table, FileSource("", rel)


def _num(text: str, where: str, name: str) -> float:
    try:
        return float(text) if str(text).strip() != "" else 0.0
    except ValueError as exc:
        raise DataError(f"{where}: {name} = {text!r} is not a number") from exc


def read_folder_table(root: str | Path, report: SkipReport | None = None
                      ) -> tuple[FrameTable, FileSource]:
    """Frame table for ``<root>/labels.csv`` or ``<root>/<subject>/**/<image>`` + ``.json``."""
    root = Path(root)
    if (root / "labels.csv").is_file():
        return read_csv_table(root / "labels.csv", report)
    if not root.is_dir():
        raise DataError(f"{root}: folder does not exist")
    rows: list[tuple[str, str, np.ndarray, float, bool]] = []
    for img in sorted(p for p in root.rglob("*") if p.suffix.lower() in _IMAGE_EXTS):
        rel = img.relative_to(root)
        if len(rel.parts) < 2:
            fail_or_skip(report, str(img), "image is not inside a <subject>/ folder")
            continue
        side = img.with_suffix(".json")
        try:
            if not side.is_file():
                raise DataError(f"{side}: missing label file for {img.name}")
            try:
                obj = json.loads(side.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DataError(f"{side}: malformed JSON ({exc})") from exc
            if not isinstance(obj, dict):
                raise DataError(f"{side}: expected a JSON object")
            aus = {k: v for k, v in obj.items() if k.upper().startswith("AU")}
            vec, value = checked_labels(aus, obj.get("PSPI"), str(side))
        except DataError as exc:
            fail_or_skip(report, str(img), str(exc))
            continue
        rows.append((str(rel), rel.parts[0], vec, value, bool(obj.get("neutral", False))))
    if not rows:
        raise DataError(f"{root}: no labelled images found (labels.csv or <subject>/<image> "
                        "with a <image>.json beside it)")
    keys = np.array([r[0] for r in rows])
    table = FrameTable(key=keys, subject=np.array([r[1] for r in rows]),
                       au=np.stack([r[2] for r in rows]), pspi=np.array([r[3] for r in rows]),
                       sequence=np.array([str(Path(k).parent) for k in keys]),
                       neutral=np.array([r[4] for r in rows]))
    return table, FileSource(root, keys)
