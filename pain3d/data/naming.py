"""The published 3DPain naming and label conventions, as pure functions.

Image names: ``flame_sample_XXXX_pain_Y`` or ``flame_sample_XXXX_neutral`` followed by one of
the published markers (``_textured_view_``, ``_view_``, ``_bg_``, ``_render_``, ``_deform_``,
``_inpainted``, ``_textured``) and more text; annotation JSON ``<base>_annotations.json`` with
AU4..AU43 and an optional PSPI (preferred when present); split CSV
``annotation_base_name,split`` with 0/1/2 = train/val/test by identity (``FORMATS.md``
section 2). Used by every synthetic layout in :mod:`pain3d.data.synthetic`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pain3d.data.common import (
    DataError,
    FrameTable,
    SkipReport,
    checked_labels,
    fail_or_skip,
)
from pain3d.facs import AU_NAMES, AUValueError, au_vector
from pain3d.facs import pspi as pspi_of

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")
IMAGE_EXTS = (".png", ".jpg", ".jpeg")

# One compiled expression parses every published image name, e.g.
# flame_sample_0007_pain_3_textured_view_001_inpainted.jpg or flame_sample_0007_neutral_view_2.png
NAME_RE = re.compile(
    r"(?:^|/)(?P<base>flame_sample_(?P<identity>\d+)_(?:pain_(?P<config>\d+)|neutral))"
    r"(?P<rest>_[^/]*)?\.(?:png|jpe?g)$",
    re.IGNORECASE,
)
VIEW_RE = re.compile(r"view_?(\d+)", re.IGNORECASE)
ANNOTATION_SUFFIX = "_annotations.json"


def parse_names(names: Sequence[str]) -> dict[str, np.ndarray]:
    """Parse published image names (one compiled expression per name).

    Args:
        names: (N,) file or member names (a leading folder is allowed).

    Returns:
        ``ok`` (N,) bool (name follows the convention), ``base`` (N,) str
        (``flame_sample_XXXX_pain_Y`` / ``..._neutral``), ``identity`` (N,) int64,
        ``config`` (N,) int64 (0 = neutral), ``view`` (N,) int64 (0 when the name has none).
    """
    n = len(names)
    ok = np.zeros(n, bool)
    base = [""] * n
    ident = np.full(n, -1, np.int64)
    config = np.zeros(n, np.int64)
    view = np.zeros(n, np.int64)
    search, view_search = NAME_RE.search, VIEW_RE.search
    for i, name in enumerate(names):
        m = search(name)
        if m is None:
            continue
        ok[i] = True
        base[i] = m.group("base")
        ident[i] = int(m.group("identity"))
        c = m.group("config")
        if c:
            config[i] = int(c)
        rest = m.group("rest")
        if rest:
            v = view_search(rest)
            if v:
                view[i] = int(v.group(1))
    return {"ok": ok, "base": np.array(base, dtype=str), "identity": ident, "config": config,
            "view": view}


def parse_annotation(data: bytes | str, where: str) -> tuple[np.ndarray, float]:
    """Raw labels of one annotation JSON: ``(AUs (6,) float64, stored PSPI or NaN)``.

    Only the structure is checked here (valid JSON object, all six AUs present and numeric);
    ranges are checked for all annotations at once by :func:`validate_labels`.

    Raises:
        DataError: naming ``where`` for malformed JSON, a missing or non-numeric AU.
    """
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: malformed JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object with AU4..AU43, got {type(obj).__name__}")
    out = np.empty(len(AU_NAMES), np.float64)
    for j, name in enumerate(AU_NAMES):
        v = obj.get(name, obj.get(f"AU0{name[2:]}") if len(name) == 3 else None)
        if v is None:
            raise DataError(f"{where}: missing key {name!r} (need {', '.join(AU_NAMES)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DataError(f"{where}: {name} = {v!r} is not a number")
        out[j] = v
    given = obj.get("PSPI")
    if given is not None and (isinstance(given, bool) or not isinstance(given, (int, float))):
        raise DataError(f"{where}: PSPI = {given!r} is not a number")
    return out, (float("nan") if given is None else float(given))


def validate_labels(au: np.ndarray, given: np.ndarray, wheres: Sequence[str],
                    report: SkipReport | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check many annotations at once; a stored PSPI (non-NaN) is preferred, as published.

    Args:
        au: (M, 6) raw AU values.
        given: (M,) stored PSPI or NaN.
        wheres: (M,) names for messages.
        report: collects bad rows (None: raise on the first).

    Returns:
        ``au`` (M, 6) float32, ``pspi`` (M,) float32, ``ok`` (M,) bool.
    """
    ok = np.ones(len(au), bool)
    try:
        au_vector(au) if len(au) else None
        bad = np.zeros(len(au), bool)
    except AUValueError:
        bad = np.ones(len(au), bool)  # locate the offending rows one by one below
    has = ~np.isnan(given)
    bad |= has & ~((given >= 0) & (given <= 16))
    for i in np.flatnonzero(bad):
        try:
            checked_labels(au[i], None if np.isnan(given[i]) else given[i], wheres[i])
        except DataError as exc:
            fail_or_skip(report, wheres[i].rsplit("/", 1)[-1].removesuffix(ANNOTATION_SUFFIX),
                         str(exc))
            ok[i] = False
    value = pspi_of(au, validate=False) if len(au) else np.zeros(0)
    differs = has & ok & (np.abs(np.where(has, given, 0) - value) > 1e-3)
    if differs.any():
        log.warning("%d annotation(s) store a PSPI that differs from their AUs' PSPI; the "
                    "stored value is used (published convention), e.g. %s",
                    int(differs.sum()), wheres[int(np.flatnonzero(differs)[0])])
    value = np.where(has, given, value)
    return au.astype(np.float32), value.astype(np.float32), ok


def read_split_csv(path: Path) -> dict[int, str]:
    """Published split file -> identity -> ``train``/``val``/``test``.

    Rows are ``annotation_base_name,split`` with split 0/1/2 (names also accepted); every
    configuration of an identity must carry the same split.
    """
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable split CSV ({exc})") from exc
    if "annotation_base_name" not in df.columns or "split" not in df.columns:
        raise DataError(f"{path}: split CSV needs columns annotation_base_name,split; "
                        f"found {list(df.columns)}")
    parsed = parse_names((df["annotation_base_name"].str.strip() + ".png").tolist())
    bad = np.flatnonzero(~parsed["ok"])
    if len(bad):
        raise DataError(f"{path} row {bad[0] + 2}: {df['annotation_base_name'][bad[0]]!r} is not "
                        "a flame_sample_XXXX_pain_Y name")
    codes = {"0": "train", "1": "val", "2": "test", "train": "train", "val": "val",
             "validation": "val", "test": "test"}
    out: dict[int, str] = {}
    for i, (ident, raw) in enumerate(zip(parsed["identity"], df["split"].str.strip(),
                                         strict=True)):
        if raw not in codes:
            raise DataError(f"{path} row {i + 2}: split {raw!r} is not 0/1/2 (train/val/test)")
        sp = codes[raw]
        if out.setdefault(int(ident), sp) != sp:
            raise DataError(f"{path} row {i + 2}: identity {ident} is in both {out[int(ident)]} "
                            f"and {sp}; splits must be by identity")
    return out


def default_split(identities: np.ndarray, seed: int = 0,
                  fractions: tuple[float, float, float] = (0.7, 0.2, 0.1)) -> dict[int, str]:
    """Deterministic 70/20/10 split by identity (used when a dataset has no split file)."""
    ids = np.unique(identities)
    perm = np.random.default_rng([seed, 0x5B1]).permutation(ids)
    n_train = int(round(fractions[0] * len(ids)))
    n_val = int(round(fractions[1] * len(ids)))
    out = {int(i): "train" for i in perm[:n_train]}
    out.update({int(i): "val" for i in perm[n_train:n_train + n_val]})
    out.update({int(i): "test" for i in perm[n_train + n_val:]})
    return out


def build_table(
    keys: Sequence[str],
    annotation: Callable[[str], tuple[np.ndarray, float, str] | None],
    splits: dict[int, str] | None,
    report: SkipReport | None,
) -> tuple[FrameTable, np.ndarray]:
    """Frame table from image names and an annotation lookup.

    Args:
        keys: (N,) image names or relative paths.
        annotation: base name -> ``(raw AUs (6,), stored PSPI or NaN, where)`` from
            :func:`parse_annotation`, or None when it has no JSON (an error for pain).
        splits: identity -> split; None gives the default 70/20/10 split by identity.
        report: collects skipped items (None: raise on the first problem).

    Returns:
        The table and ``(M,)`` indices into ``keys`` of the rows kept.
    """
    keys = np.asarray(keys, dtype=str)
    p = parse_names(keys)
    keep = p["ok"].copy()
    if (~keep).any():
        log.info("ignored %d file(s) that do not follow the flame_sample_XXXX naming, e.g. %s",
                 int((~keep).sum()), keys[~keep][0])
    pain = np.flatnonzero(keep & (p["config"] > 0))
    bases, inverse = np.unique(p["base"][pain], return_inverse=True)
    raw = np.zeros((len(bases), len(AU_NAMES)), np.float64)
    given = np.full(len(bases), np.nan)
    found = np.zeros(len(bases), bool)
    wheres = list(bases)
    for j, base in enumerate(bases.tolist()):
        try:
            lab = annotation(base)
        except DataError as exc:
            fail_or_skip(report, base, str(exc))
            continue
        if lab is None:
            first = keys[pain[np.flatnonzero(inverse == j)[0]]]
            fail_or_skip(report, str(first), f"missing annotation: no {base}{ANNOTATION_SUFFIX}")
            continue
        raw[j], given[j], wheres[j] = lab[0], lab[1], lab[2]
        found[j] = True
    au_b, ps_b, ok_b = validate_labels(raw[found], given[found],
                                       [w for w, f in zip(wheres, found, strict=True) if f],
                                       report)
    good = np.zeros(len(bases), bool)
    good[np.flatnonzero(found)[ok_b]] = True
    au_all = np.zeros((len(bases), len(AU_NAMES)), np.float32)
    ps_all = np.zeros(len(bases), np.float32)
    au_all[found], ps_all[found] = au_b, ps_b
    au = np.zeros((len(keys), len(AU_NAMES)), np.float32)
    ps = np.zeros(len(keys), np.float32)
    au[pain], ps[pain] = au_all[inverse], ps_all[inverse]
    keep[pain[~good[inverse]]] = False
    if splits is None:
        splits = default_split(p["identity"][keep])
        log.info("no split file: using a deterministic 70/20/10 split by identity")
    split = np.array([splits.get(int(i), "") for i in p["identity"]], dtype="<U5")
    rows = np.flatnonzero(keep)
    ident = p["identity"][rows]
    subject = np.char.add("flame_sample_", np.char.zfill(ident.astype(str), 4))
    expression = np.where(p["config"][rows] > 0,
                          np.char.add("pain_", p["config"][rows].astype(str)), "neutral")
    table = FrameTable(
        key=keys[rows], subject=subject, au=au[rows], pspi=ps[rows], sequence=subject,
        frame=p["config"][rows], view=p["view"][rows], neutral=p["config"][rows] == 0,
        split=split[rows], extra={"identity": ident, "expression": expression},
    )
    return table, rows
