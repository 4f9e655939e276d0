"""Pain-region heatmaps of synthetic datasets, row by row (cross-modal distillation, teachers).

A synthetic dataset has one heatmap per pain configuration (``FORMATS.md`` section 2): the
per-vertex deformation neutral -> pain, colour-mapped and rendered on the head over black
by the camera of **view 0** of that configuration (``pain3d generate`` draws it in the same
pass as the view-0 image, so it has that image's size and framing). Where the files are:

- ``manifest`` layout: the ``heatmap_path`` column (relative to the dataset root); without
  the column, or for hub-only datasets, as in the other layouts;
- ``3dpain`` layout: ``<root>/heatmaps/<identity>_pain_Y_<anything>.png`` (the name's base is
  parsed like image names; ``pain3d generate`` writes ``..._pain_Y_heatmap.png``);
- ``hub`` layout: members of ``<root>/heatmaps/*.tar.gz`` (or ``<root>/hub/heatmaps/``) with
  the same names.

Every row of a pain configuration (every view) gets that configuration's heatmap, framed
like the configuration's **view-0 image** (:attr:`HeatmapSource.frame_row`): for view 0 the
heatmap lines up with the image pixel for pixel; other views get the same view-0 heatmap,
which does not line up with their own image (it describes the same expression). Neutral rows
have no heatmap: readers give them an all-black one (no deformation).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from pain3d.data.common import DataError, FrameTable
from pain3d.data.naming import IMAGE_EXTS, parse_names
from pain3d.data.shards import TarSource, index_shards

log = logging.getLogger(__name__)

HEATMAP_DIR = "heatmaps"
HEATMAP_SUFFIX = "_heatmap.png"  # what pain3d generate writes: heatmaps/<base>_heatmap.png


class HeatmapSource:
    """Where each table row's heatmap lives and which row's framing it has.

    Attributes:
        root: the dataset folder.
        keys: (N,) str per table row: the heatmap's path relative to ``root`` (loose file),
            its member name (``shards``), or ``""`` for neutral rows (black heatmap).
        member: (N,) int64 index into ``shards`` per row, -1 for loose files / neutral rows.
        shards: a :class:`~pain3d.data.shards.TarSource` over heatmap members, or None.
        frame_row: (N,) int64 the table row whose image the heatmap shares its camera with
            (view 0 of the same identity and configuration; the row itself for neutral rows),
            -1 when the dataset has no view-0 row of that configuration.
    """

    def __init__(self, root: Path, keys: np.ndarray, member: np.ndarray,
                 shards: TarSource | None, frame_row: np.ndarray):
        self.root, self.keys, self.member, self.shards, self.frame_row = (
            Path(root), np.asarray(keys).astype(str), np.asarray(member, np.int64), shards,
            np.asarray(frame_row, np.int64))

    def __len__(self) -> int:
        return len(self.keys)

    def has_heatmap(self, row: int) -> bool:
        """False for neutral rows (their heatmap is black by definition)."""
        return bool(self.keys[row])

    def where(self, row: int) -> str:
        if self.member[row] >= 0 and self.shards is not None:
            return self.shards.where(int(self.member[row]))
        return str(self.root / self.keys[row])

    def read(self, row: int, image_key: str = "") -> bytes:
        """Encoded bytes of row ``row``'s heatmap.

        Raises:
            DataError: naming the missing file (and the image it belongs to).
        """
        for_image = f" (the heatmap of {image_key})" if image_key else ""
        if not self.keys[row]:
            raise DataError(f"{image_key or row}: a neutral row has no heatmap file")
        if self.member[row] >= 0 and self.shards is not None:
            return self.shards.read(int(self.member[row]))
        path = self.root / self.keys[row]
        try:
            return path.read_bytes()
        except OSError as exc:
            raise DataError(
                f"{path}: heatmap missing or unreadable{for_image} ({exc.strerror or exc}); "
                "generate the dataset with heatmaps (pain3d generate writes them) or turn "
                "heatmaps off (data.input=rgb, no distill.teacher)") from exc


def base_names(table: FrameTable) -> np.ndarray:
    """(N,) ``<identity>_<expression>`` of every row (``flame_sample_0007_pain_3``)."""
    if "expression" in table.extra:
        expr = np.asarray(table.extra["expression"]).astype(str)
    else:
        expr = np.where(table.neutral, "neutral", np.char.add("pain_",
                                                              table.frame.astype(str)))
    return np.char.add(np.char.add(table.subject.astype(str), "_"), expr)


def view0_rows(table: FrameTable) -> np.ndarray:
    """(N,) per row, the row of the same identity and expression with the lowest view
    (-1 when that is not view 0: the heatmap's camera has no image in the table)."""
    base = base_names(table)
    order = np.lexsort((table.view, base))  # by base, then view
    first: dict[str, int] = {}
    for r in order.tolist():
        first.setdefault(str(base[r]), r)
    out = np.array([first[str(b)] for b in base], np.int64)
    out[table.view[out] != 0] = -1
    return out


def _shard_files(root: Path) -> list[Path]:
    for folder in (root / HEATMAP_DIR, root / "hub" / HEATMAP_DIR):
        if folder.is_dir():
            found = sorted(folder.glob("*.tar.gz"))
            if found:
                return found
    return []


def heatmap_source(table: FrameTable, root: str | Path, cache_dir: str | Path | None = None
                   ) -> HeatmapSource:
    """The :class:`HeatmapSource` of a synthetic dataset's frame table.

    Nothing is read here but file names (one directory scan, or one listing of the heatmap
    shards, inflated once into ``cache_dir``); a missing heatmap is reported when its sample
    is read, naming the expected file.

    Args:
        table: the dataset's frame table (``index_synthetic(root).table``).
        root: the dataset folder.
        cache_dir: where hub heatmap shards are inflated (default: as the index).
    """
    from pain3d.data.synthetic import default_cache_dir

    root = Path(root)
    base = base_names(table)
    pain = ~np.asarray(table.neutral, bool)
    keys = np.full(len(table), "", dtype=object)
    member = np.full(len(table), -1, np.int64)
    shards: TarSource | None = None
    if "heatmap_path" in table.extra:  # manifest: the generator's own record
        col = np.asarray(table.extra["heatmap_path"]).astype(str)
        keys[pain] = col[pain]
    by_base: dict[str, str] = {}
    loose = root / HEATMAP_DIR
    if loose.is_dir():
        with os.scandir(loose) as it:
            names = sorted(e.name for e in it if e.name.lower().endswith(IMAGE_EXTS))
        p = parse_names(names)
        for ok, b, n in zip(p["ok"], p["base"], names, strict=True):
            if ok:
                by_base.setdefault(str(b), f"{HEATMAP_DIR}/{n}")

    def on_disk() -> np.ndarray:  # one stat per distinct file (all views share a heatmap)
        uniq, inverse = np.unique(keys.astype(str), return_inverse=True)
        found = np.array([bool(k) and (root / k).is_file() for k in uniq], bool)
        return found[inverse]

    for r in np.flatnonzero(pain & ~on_disk()):
        keys[r] = by_base.get(str(base[r]), keys[r])
    missing = pain & ~on_disk()
    shard_files = _shard_files(root) if missing.any() else []
    if shard_files:
        cache = Path(cache_dir) if cache_dir else default_cache_dir(root)
        listed = index_shards(shard_files, cache / "shards", None)
        p = parse_names(listed["name"])
        pos = {str(b): i for i, (ok, b) in enumerate(zip(p["ok"], p["base"], strict=True))
               if ok}
        shards = TarSource(listed["tars"], listed["shard"], listed["offset"], listed["size"],
                           listed["name"])
        for r in np.flatnonzero(missing):
            i = pos.get(str(base[r]))
            if i is not None:
                keys[r], member[r] = listed["name"][i], i
    for r in np.flatnonzero(pain & (keys == "")):  # name the file that would be read
        keys[r] = f"{HEATMAP_DIR}/{base[r]}{HEATMAP_SUFFIX}"
    frame_row = view0_rows(table)
    neutral = np.flatnonzero(~pain)
    frame_row[neutral] = neutral
    if pain.any() and (frame_row[pain] < 0).any():
        log.warning("%d pain image(s) have no view-0 image of their configuration (e.g. %s): "
                    "their heatmaps are read whole, not face-cropped",
                    int((frame_row[pain] < 0).sum()), table.key[pain & (frame_row < 0)][0])
    return HeatmapSource(root, keys.astype(str), member, shards, frame_row)
