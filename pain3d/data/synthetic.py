"""Readers for synthetic pain datasets: pain3d's manifest, the published ``3dpain`` folder
layout and the hub layout read straight from its ``.tar.gz`` shards.

Layouts (``FORMATS.md`` section 2):

- ``manifest``: ``<root>/manifest.parquet`` (or ``.csv``) written by ``pain3d generate``; one
  row per image with its labels and split. Images are files at ``path``, or members of
  ``<root>/images/*.tar.gz`` shards with the same base name. Face keypoint columns
  (:data:`KEYPOINT_COLUMNS`), when present, make samples face crops (see there).
- ``3dpain``: ``<root>/meshes_inpainted/*.{png,jpg,jpeg}`` with
  ``<root>/annotations/<base>_annotations.json`` (AU4..AU43 and optional PSPI; neutral images
  have none: all zeros) and a split CSV ``annotation_base_name,split`` (0/1/2 = train/val/test).
- ``hub``: ``<root>/images/*.tar.gz`` and ``<root>/annotations/*.tar.gz`` shards (same names
  and JSON inside), optional split CSV.

Heatmaps (one per pain configuration, ``heatmaps/`` or the manifest's ``heatmap_path``) are
located by :mod:`pain3d.data.heatmaps` when a dataset is asked for them.

The index is built once with vectorised steps (one directory scan or tar header listing, one
compiled regular expression over all names, one pass over the JSON files) and cached in a small
``.npz`` keyed by a signature of the inputs (directory mtimes and counts, newest JSON mtime,
shard sizes and mtimes, manifest and split file stats). Nothing is re-indexed per epoch.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np

from pain3d import __version__
from pain3d.data.common import (
    DataError,
    FileSource,
    FrameTable,
    SkipReport,
    checked_labels,
    fail_or_skip,
)
from pain3d.data.naming import (
    ANNOTATION_SUFFIX,
    IMAGE_EXTS,
    build_table,
    default_split,
    parse_annotation,
    read_split_csv,
)
from pain3d.data.shards import TarSource, index_shards, shard_signature
from pain3d.face.landmarks import KEYPOINT_COLUMNS
from pain3d.facs import AU_NAMES, AUValueError, au_vector
from pain3d.facs import pspi as pspi_of
from pain3d.io import user_cache_dir

log = logging.getLogger(__name__)

Layout = Literal["auto", "manifest", "3dpain", "hub"]
INDEX_VERSION = 3  # bump when the cached index format changes (2: face keypoints, 3: heatmaps)


# --------------------------------------------------------------------------------------------
# Index caching


def default_cache_dir(root: Path) -> Path:
    """``<root>/.pain3d_cache`` when writable, else ``~/.cache/pain3d/<hash of root>``."""
    local = root / ".pain3d_cache"
    if os.access(root, os.W_OK) or os.access(local, os.W_OK):
        return local
    tag = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return user_cache_dir() / tag


def _cache_file(cache_dir: Path, layout: str, signature: str) -> Path:
    h = hashlib.sha1(f"{INDEX_VERSION}|{__version__}|{signature}".encode()).hexdigest()[:16]
    return cache_dir / f"index-{layout}-{h}.npz"


def _load_cached(path: Path) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable index cache %s (%s)", path, exc)
        return None


def _save_cached(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from pain3d.io import atomic_path

    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
    except OSError as exc:  # a read-only cache is not fatal
        log.warning("could not write index cache %s (%s)", path, exc)


def _scan(folder: Path, exts: Iterable[str], mtimes: bool = False) -> tuple[list[str], str]:
    """Sorted names with the given extensions and a signature of the folder.

    With ``mtimes`` the signature includes the newest file mtime (one cheap ``DirEntry.stat``
    per file), so an edited annotation invalidates the cache even though the folder's own
    mtime does not change.
    """
    exts = tuple(exts)
    names: list[str] = []
    newest = 0
    with os.scandir(folder) as it:
        for e in it:
            if e.name.lower().endswith(exts) and not e.name.startswith("."):
                names.append(e.name)
                if mtimes:
                    newest = max(newest, e.stat().st_mtime_ns)
    names.sort()
    st = folder.stat()
    return names, f"{folder}:{st.st_mtime_ns}:{len(names)}:{newest}"


def _file_sig(path: Path | None) -> str:
    if path is None or not path.exists():
        return "-"
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


# --------------------------------------------------------------------------------------------
# Layouts


def find_split_csv(root: Path) -> Path | None:
    """A CSV in ``root`` whose header is ``annotation_base_name,split`` (``splits.csv`` first)."""
    cands = [root / "splits.csv", root / "split.csv"] + sorted(root.glob("*.csv"))
    for c in cands:
        if c.is_file() and c.name not in ("manifest.csv",):
            with open(c, encoding="utf-8", errors="replace") as fh:
                head = fh.readline().strip().lower().replace(" ", "")
            if head.startswith("annotation_base_name,split"):
                return c
    return None


def detect_layout(root: Path) -> str:
    """``manifest``, ``3dpain`` or ``hub`` for a dataset folder.

    Raises:
        DataError: when ``root`` holds none of them.
    """
    if (root / "manifest.parquet").is_file() or (root / "manifest.csv").is_file():
        return "manifest"
    if (root / "meshes_inpainted").is_dir():
        return "3dpain"
    if (root / "images").is_dir() and any((root / "images").glob("*.tar.gz")):
        return "hub"
    raise DataError(
        f"{root}: not a synthetic pain dataset: expected manifest.parquet / manifest.csv "
        "(pain3d generate), meshes_inpainted/ + annotations/ (3dpain layout) or "
        "images/*.tar.gz shards (hub layout)"
    )


class SyntheticIndex:
    """The cached index of a synthetic dataset: its frame table, image source and report."""

    def __init__(self, table: FrameTable, source: FileSource | TarSource, report: SkipReport,
                 layout: str, root: Path):
        self.table, self.source, self.report, self.layout, self.root = (
            table, source, report, layout, root)

    def __len__(self) -> int:
        return len(self.table)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f"t.{k}": v for k, v in self.table.arrays().items()}
        if isinstance(self.source, FileSource):
            out["src.relpaths"] = self.source.relpaths
        else:
            out.update({"src.tars": np.array([h.path for h in self.source.handles], dtype=str),
                        "src.shard": self.source.shard, "src.offset": self.source.offset,
                        "src.size": self.source.size, "src.names": self.source.names})
        out["report.where"] = np.array([w for w, _ in self.report.items], dtype=str)
        out["report.why"] = np.array([r for _, r in self.report.items], dtype=str)
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], layout: str, root: Path
                    ) -> SyntheticIndex | None:
        table = FrameTable.from_arrays({k[2:]: v for k, v in a.items() if k.startswith("t.")})
        if "src.relpaths" in a:
            source: FileSource | TarSource = FileSource(root, a["src.relpaths"])
        else:
            if not all(Path(p).exists() for p in a["src.tars"]):
                return None  # the inflated shards were removed: rebuild
            source = TarSource(a["src.tars"], a["src.shard"], a["src.offset"], a["src.size"],
                               a["src.names"])
        report = SkipReport(list(zip(a["report.where"].tolist(), a["report.why"].tolist(),
                                     strict=True)))
        return cls(table, source, report, layout, root)


def index_synthetic(
    root: str | Path,
    layout: Layout = "auto",
    split_csv: str | Path | None = None,
    cache_dir: str | Path | None = None,
    skip_bad: bool = False,
    rebuild: bool = False,
) -> SyntheticIndex:
    """Index a synthetic dataset once (or load the cached index).

    Args:
        root: dataset folder.
        layout: ``auto`` detects ``manifest`` > ``3dpain`` > ``hub``.
        split_csv: published split file; default: found in ``root`` by its header.
        cache_dir: where the index (and inflated shards) are cached; default
            :func:`default_cache_dir`.
        skip_bad: skip unreadable / invalid items with a report instead of raising.
        rebuild: ignore an existing cache.

    Raises:
        DataError: naming the file and the problem (missing or malformed JSON, label out of
            range, truncated shard, ...) unless ``skip_bad``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder does not exist")
    lay = detect_layout(root) if layout == "auto" else layout
    cache = Path(cache_dir) if cache_dir else default_cache_dir(root)
    split_path = Path(split_csv) if split_csv else find_split_csv(root)
    report = SkipReport() if skip_bad else None
    builder = {"manifest": _index_manifest, "3dpain": _index_folder, "hub": _index_hub}.get(lay)
    if builder is None:
        raise DataError(f"unknown synthetic layout {lay!r}: use auto, manifest, 3dpain or hub")
    return builder(root, split_path, cache, report, rebuild)


def _cached(cache: Path, lay: str, sig: str, root: Path, rebuild: bool
            ) -> tuple[Path, SyntheticIndex | None]:
    path = _cache_file(cache, lay, sig)
    if rebuild:
        return path, None
    arrays = _load_cached(path)
    idx = SyntheticIndex.from_arrays(arrays, lay, root) if arrays is not None else None
    if idx is not None:
        log.info("loaded the index of %s from %s (%d images)", root, path, len(idx))
        if len(idx.report):
            log.warning("%s: %d item(s) were skipped when this index was built: %s", root,
                        len(idx.report), idx.report.reasons())
    return path, idx


def _finish(path: Path, idx: SyntheticIndex) -> SyntheticIndex:
    _save_cached(path, idx.to_arrays())
    log.info("indexed %s (%s layout): %d images, %d identities, %d skipped", idx.root,
             idx.layout, len(idx.table), len(np.unique(idx.table.subject)), len(idx.report))
    return idx


def _splits(split_path: Path | None) -> dict[int, str] | None:
    return read_split_csv(split_path) if split_path else None


def _index_folder(root: Path, split_path: Path | None, cache: Path, report: SkipReport | None,
                  rebuild: bool) -> SyntheticIndex:
    img_dir, ann_dir = root / "meshes_inpainted", root / "annotations"
    names, sig_i = _scan(img_dir, IMAGE_EXTS)
    ann_names, sig_a = _scan(ann_dir, (".json",), mtimes=True) if ann_dir.is_dir() else ([], "-")
    sig = f"{sig_i}|{sig_a}|{_file_sig(split_path)}|skip={report is not None}"
    path, idx = _cached(cache, "3dpain", sig, root, rebuild)
    if idx is not None:
        return idx
    ann_set = set(ann_names)

    def annotation(base: str) -> tuple[np.ndarray, float, str] | None:
        fn = base + ANNOTATION_SUFFIX
        if fn not in ann_set:
            return None
        where = os.path.join(ann_dir, fn)
        with open(where, "rb") as fh:
            return (*parse_annotation(fh.read(), where), where)

    keys = [f"meshes_inpainted/{n}" for n in names]
    table, _ = build_table(keys, annotation, _splits(split_path), report)
    return _finish(path, SyntheticIndex(table, FileSource(root, table.key), report or SkipReport(),
                                        "3dpain", root))


def _shards(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.tar.gz")) if folder.is_dir() else []


def _index_hub(root: Path, split_path: Path | None, cache: Path, report: SkipReport | None,
               rebuild: bool) -> SyntheticIndex:
    img_shards, ann_shards = _shards(root / "images"), _shards(root / "annotations")
    sig = "|".join([shard_signature(p) for p in img_shards + ann_shards]
                   + [_file_sig(split_path), f"skip={report is not None}"])
    path, idx = _cached(cache, "hub", sig, root, rebuild)
    if idx is not None:
        return idx
    imgs = index_shards(img_shards, cache / "shards", report)
    anns = index_shards(ann_shards, cache / "shards", report)
    ann_pos = {os.path.basename(n): i for i, n in enumerate(anns["name"])}
    fds: dict[int, int] = {}

    def annotation(base: str) -> tuple[np.ndarray, float, str] | None:
        i = ann_pos.get(base + ANNOTATION_SUFFIX)
        if i is None:
            return None
        s = int(anns["shard"][i])
        if s not in fds:
            fds[s] = os.open(anns["tars"][s], os.O_RDONLY)
        data = os.pread(fds[s], int(anns["size"][i]), int(anns["offset"][i]))
        where = f"{ann_shards[s]}:{anns['name'][i]}"
        return (*parse_annotation(data, where), where)

    is_img = np.char.endswith(np.char.lower(imgs["name"]), IMAGE_EXTS[0])
    for ext in IMAGE_EXTS[1:]:
        is_img |= np.char.endswith(np.char.lower(imgs["name"]), ext)
    members = np.flatnonzero(is_img)
    try:
        table, rows = build_table(imgs["name"][members], annotation, _splits(split_path), report)
    finally:
        for fd in fds.values():
            os.close(fd)
    m = members[rows]
    source = TarSource(imgs["tars"], imgs["shard"][m], imgs["offset"][m], imgs["size"][m],
                       imgs["name"][m])
    return _finish(path, SyntheticIndex(table, source, report or SkipReport(), "hub", root))


MANIFEST_REQUIRED = ("path", "identity", "expression", "view", *AU_NAMES, "PSPI")
# Optional manifest columns KEYPOINT_COLUMNS (``pain3d generate``,
# :mod:`pain3d.synth.keypoints`): the subject's right eye, left eye and mouth centres in pixels
# of the stored image. When present they are kept in the table (``extra``) and
# :class:`~pain3d.data.dataset.PainDataset` crops each image with
# :func:`pain3d.data.align.crop_from_landmarks`, like inference does.
_MANIFEST_META = ("identity", "expression", "yaw", "pitch", "roll", "sex", "age_band",
                  "ancestry", "heatmap_path")


def _read_manifest(root: Path):  # -> pandas.DataFrame
    import pandas as pd

    pq, csv = root / "manifest.parquet", root / "manifest.csv"
    path = pq if pq.is_file() else csv
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(
            path, keep_default_na=False, na_values={c: [""] for c in AU_NAMES})
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"{path}: unreadable manifest ({exc})") from exc
    missing = [c for c in MANIFEST_REQUIRED if c not in df.columns]
    if missing:
        raise DataError(f"{path}: manifest lacks column(s) {missing}")
    return path, df


def _index_manifest(root: Path, split_path: Path | None, cache: Path, report: SkipReport | None,
                    rebuild: bool) -> SyntheticIndex:
    mpath = root / "manifest.parquet"
    mpath = mpath if mpath.is_file() else root / "manifest.csv"
    img_shards = _shards(root / "images") or _shards(root / "hub" / "images")
    sig = "|".join([_file_sig(mpath), _file_sig(split_path), f"skip={report is not None}"]
                   + [shard_signature(p) for p in img_shards])
    path, idx = _cached(cache, "manifest", sig, root, rebuild)
    if idx is not None:
        return idx
    import pandas as pd

    mpath, df = _read_manifest(root)
    if "kind" in df.columns:
        df = df[df["kind"].astype(str).isin(["image", ""])].reset_index(drop=True)
    au = df[list(AU_NAMES)].to_numpy(np.float64)
    given = df["PSPI"].to_numpy(np.float64)
    keep = np.ones(len(df), bool)
    try:
        au_vector(au)
        bad_rows: np.ndarray = np.flatnonzero(np.abs(pspi_of(au, validate=False) - given) > 1e-3)
    except AUValueError:
        bad_rows = np.arange(len(df))  # find the offending rows one by one below
    for i in bad_rows:
        where = f"{mpath} row {i + 2} ({df['path'][i]})"
        try:
            vec, value = checked_labels(au[i], None, where)
            if abs(value - given[i]) > 1e-3:
                raise DataError(f"{where}: PSPI = {given[i]:g} but the AUs give {value:g}")
        except DataError as exc:
            fail_or_skip(report, where, str(exc).removeprefix(where + ": "))
            keep[i] = False
    df = df[keep].reset_index(drop=True)
    expr = df["expression"].astype(str).to_numpy()
    neutral = expr == "neutral"
    frame = np.zeros(len(df), np.int64)
    pain = np.char.startswith(expr.astype(str), "pain_")
    frame[pain] = np.char.replace(expr[pain].astype(str), "pain_", "").astype(np.int64)
    ident = df["identity"].to_numpy(np.int64)
    subject = (df["identity_name"].astype(str).to_numpy() if "identity_name" in df.columns
               else np.char.add("flame_sample_", np.char.zfill(ident.astype(str), 4)))
    if "split" in df.columns:
        split = df["split"].astype(str).to_numpy()
    else:
        sp = _splits(split_path) or default_split(ident)
        split = np.array([sp.get(int(i), "") for i in ident])
    keys = df["path"].astype(str).to_numpy()
    extra = {c: df[c].to_numpy() for c in _MANIFEST_META if c in df.columns}
    extra = {c: (v.astype(str) if v.dtype == object else v) for c, v in extra.items()}
    if all(c in df.columns for c in KEYPOINT_COLUMNS):
        for c in KEYPOINT_COLUMNS:  # empty / non-numeric cells (CSV) become NaN: no crop
            extra[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64)
    au_k = df[list(AU_NAMES)].to_numpy(np.float32)
    table = FrameTable(key=keys, subject=subject, au=au_k, pspi=df["PSPI"].to_numpy(np.float32),
                       sequence=subject, frame=frame, view=df["view"].to_numpy(np.int64),
                       neutral=neutral, split=split, extra=extra)
    if "shard" in df.columns and (df["shard"].astype(str) != "").any():
        listed = sorted({str(s) for s in df["shard"].astype(str) if s})
        img_shards = [root / s for s in listed if (root / s).is_file()] or img_shards
    if len(keys) == 0 or (root / keys[0]).is_file() or not img_shards:
        source: FileSource | TarSource = FileSource(root, keys)
    else:
        # Hub-only datasets: manifest paths name the loose files; the pixels are shard
        # members with the same base name.
        imgs = index_shards(img_shards, cache / "shards", report)
        pos = {os.path.basename(n): i for i, n in enumerate(imgs["name"])}
        found = np.array([os.path.basename(k) in pos for k in keys], bool)
        for k in keys[~found]:
            fail_or_skip(report, k, "image listed in the manifest is in no images/ shard")
        table = table.take(np.flatnonzero(found))
        m = np.array([pos[os.path.basename(k)] for k in table.key], np.int64)
        source = TarSource(imgs["tars"], imgs["shard"][m], imgs["offset"][m], imgs["size"][m],
                           imgs["name"][m])
    return _finish(path, SyntheticIndex(table, source, report or SkipReport(), "manifest", root))
