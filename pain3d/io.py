"""Atomic file writes: a file is either absent or complete, never truncated."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_TEMP_IDS = itertools.count()


def user_cache_dir() -> Path:
    """pain3d's per-user cache folder: ``$XDG_CACHE_HOME/pain3d`` (``~/.cache/pain3d``)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pain3d"


def _new_temp(target: Path) -> tuple[int, Path]:
    """A new, empty file ``.<name>.<pid>.<n>.tmp`` beside ``target``, opened for writing,
    with the permissions a plain ``open()`` gives (the umask applies); parent folders are made
    when missing. Returns (file descriptor, path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    made_parent = False
    while True:
        tmp = target.parent / f".{target.name}.{os.getpid()}.{next(_TEMP_IDS)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # left by a killed writer that had the same process id
            continue
        except FileNotFoundError:
            if made_parent:
                raise
            target.parent.mkdir(parents=True, exist_ok=True)
            made_parent = True


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception (or a kill) the temporary file is removed or left under a ``.tmp`` name
    that readers ignore; ``path`` itself is never half-written.
    """
    target = Path(path)
    fd, tmp = _new_temp(target)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (one open, write, close and rename)."""
    target = Path(path)
    fd, tmp = _new_temp(target)
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, **kwargs: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, **kwargs) + "\n")
