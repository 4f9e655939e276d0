"""Random access into ``.tar.gz`` shards (the hub layout) without extracting them.

gzip streams cannot be seeked, so random access straight into a ``.tar.gz`` would re-inflate
the shard from its start for every sample. Instead each shard is inflated **once** into an
uncompressed ``.tar`` in a cache folder (one sequential pass at gzip speed, a few hundred MB/s;
disk cost about the shard size, since JPEG/PNG members barely compress), and a member table
(name, byte offset, size) is read from the tar headers. Samples are then single ``pread``
calls on a file descriptor opened once per worker process. Nothing is extracted to loose
files, and the cache survives between runs (keyed by shard path, size and mtime); when a
shard is rewritten, its stale inflated copy is deleted as the new one is made.

A truncated or corrupt shard raises :class:`~pain3d.data.common.DataError` naming the shard;
with a skip report the members that were completely inflated before the damage are kept and
the rest is reported.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from pain3d.data.common import DataError, LazyHandle, SkipReport, fail_or_skip

log = logging.getLogger(__name__)

_CHUNK = 4 * 1024 * 1024


def shard_signature(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def _cache_stem(shard: Path) -> str:
    """``<shard name>-<hash of its path>``: shared by every cached copy of one shard file."""
    where = hashlib.sha1(str(shard.resolve()).encode()).hexdigest()[:8]
    return f"{shard.name.removesuffix('.tar.gz').removesuffix('.tgz')}-{where}"


def inflated_path(shard: Path, cache_dir: Path) -> Path:
    """Where the uncompressed copy of ``shard`` (as it is now: size and mtime) lives in
    ``cache_dir``."""
    version = hashlib.sha1(shard_signature(shard).encode()).hexdigest()[:8]
    return cache_dir / f"{_cache_stem(shard)}-{version}.tar"


def _prune_stale(shard: Path, current: Path) -> None:
    """Delete cached copies of earlier versions of ``shard`` (it was rewritten since);
    ``current`` and its ``.partial.tar`` stay."""
    keep = {current, current.with_suffix(".partial.tar")}
    for old in current.parent.glob(f"{_cache_stem(shard)}-*.tar"):
        if old not in keep:
            log.info("removing the stale inflated copy %s of %s", old, shard)
            old.unlink(missing_ok=True)


def inflate(shard: Path, cache_dir: Path, report: SkipReport | None) -> tuple[Path, bool]:
    """Inflate ``shard`` into the cache once; return (tar path, complete?)."""
    out = inflated_path(shard, cache_dir)
    partial = out.with_suffix(".partial.tar")
    if out.exists():
        return out, True
    if partial.exists() and report is not None:
        report.add(str(shard), "truncated shard: using the members before the damage (cached)")
        return partial, False
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    complete = True
    try:
        with gzip.open(shard, "rb") as src, open(tmp, "wb") as dst:
            while True:
                try:
                    buf = src.read(_CHUNK)
                except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
                    complete = False
                    fail_or_skip(report, str(shard), f"truncated or corrupt shard: {exc}")
                    break
                if not buf:
                    break
                dst.write(buf)
        os.replace(tmp, out if complete else partial)
        _prune_stale(shard, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return (out if complete else partial), complete


def list_members(tar_path: Path, shard: Path, report: SkipReport | None
                 ) -> tuple[list[str], list[int], list[int]]:
    """(names, data offsets, sizes) of the regular files in an uncompressed tar."""
    names: list[str] = []
    offsets: list[int] = []
    sizes: list[int] = []
    end = tar_path.stat().st_size
    try:
        with tarfile.open(tar_path, "r:") as tf:
            for m in tf:
                if m.isfile() and m.offset_data + m.size <= end:
                    names.append(m.name)
                    offsets.append(m.offset_data)
                    sizes.append(m.size)
    except (tarfile.TarError, OSError) as exc:
        fail_or_skip(report, str(shard), f"unreadable tar structure after {len(names)} "
                     f"members: {exc}")
    return names, offsets, sizes


def index_shards(shards: list[Path], cache_dir: Path, report: SkipReport | None
                 ) -> dict[str, np.ndarray]:
    """Inflate (once) and list every shard.

    Returns:
        ``tars`` (S,) str paths of the inflated tars, and per member: ``name`` (M,) str,
        ``shard`` (M,) int64, ``offset`` (M,) int64, ``size`` (M,) int64.
    """
    tars, names, shard_ids, offsets, sizes = [], [], [], [], []
    for i, shard in enumerate(shards):
        tar_path, complete = inflate(shard, cache_dir, report)
        n, o, s = list_members(tar_path, shard, report)
        if not complete:
            log.warning("%s: kept %d members before the damage", shard, len(n))
        tars.append(str(tar_path))
        names += n
        offsets += o
        sizes += s
        shard_ids += [i] * len(n)
    return {"tars": np.array(tars, dtype=str), "name": np.array(names, dtype=str),
            "shard": np.array(shard_ids, np.int64), "offset": np.array(offsets, np.int64),
            "size": np.array(sizes, np.int64)}


def _open_fd(path: str) -> _Fd:
    return _Fd(os.open(path, os.O_RDONLY))


class _Fd:
    def __init__(self, fd: int):
        self.fd = fd

    def close(self) -> None:
        os.close(self.fd)


class TarSource:
    """Members of inflated tars read with ``pread`` (one descriptor per tar per worker).

    Args:
        tars: (S,) paths of uncompressed tars.
        shard, offset, size: (N,) per table row.
        names: (N,) member names (for messages).
    """

    def __init__(self, tars: np.ndarray, shard: np.ndarray, offset: np.ndarray,
                 size: np.ndarray, names: np.ndarray):
        self.handles = [LazyHandle(_open_fd, p) for p in np.asarray(tars).astype(str)]
        self.shard = np.asarray(shard, np.int64)
        self.offset = np.asarray(offset, np.int64)
        self.size = np.asarray(size, np.int64)
        self.names = np.asarray(names).astype(str)

    def where(self, row: int) -> str:
        return f"{self.handles[self.shard[row]].path}:{self.names[row]}"

    def read(self, row: int) -> bytes:
        h = self.handles[int(self.shard[row])]
        n = int(self.size[row])
        try:
            data = os.pread(h.get().fd, n, int(self.offset[row]))
        except OSError as exc:
            raise DataError(f"{self.where(row)}: cannot read ({exc})") from exc
        if len(data) != n:
            raise DataError(f"{self.where(row)}: member is truncated ({len(data)} of {n} bytes)")
        return data
