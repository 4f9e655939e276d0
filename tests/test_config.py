"""Config convention: YAML sets defaults, flags override, resolved config saved with version."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import yaml

from pain3d import __version__
from pain3d.config import ConfigError, dump_config, load_config, save_config
from pain3d.io import atomic_write_text


@dataclass
class Inner:
    rank: int = 8
    targets: tuple[str, ...] = ("q", "v")


@dataclass
class Job:
    name: str = "x"
    lr: float = 1e-4
    mode: Literal["a", "b"] = "a"
    out: Path | None = None
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def test_yaml_sets_defaults_and_flags_override(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text("lr: 0.5\ninner:\n  rank: 4\n")
    cfg = load_config(Job, p, {"inner.targets": "q,k,v", "mode": "b", "name": None})
    assert cfg.lr == 0.5 and cfg.inner.rank == 4 and cfg.inner.targets == ("q", "k", "v")
    assert cfg.mode == "b" and cfg.name == "x"


def test_saved_config_round_trips_with_version(tmp_path):
    cfg = load_config(Job, None, {"out": str(tmp_path), "inner.rank": 2})
    path = save_config(cfg, tmp_path / "config.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["pain3d_version"] == __version__
    assert load_config(Job, path) == cfg
    assert "rank: 2" in dump_config(cfg)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("lrr: 1\n", r"unknown key\(s\) \['lrr'\]"),
        ("mode: c\n", "'c' is not one of"),
        ("lr: -1\n", "lr must be > 0"),
        ("inner:\n  rank: two\n", "inner.rank: 'two' is not a valid int"),
        ("- 1\n", "top level must be a mapping"),
    ],
)
def test_bad_config_files_name_the_key(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(Job, p)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml does not exist"):
        load_config(Job, tmp_path / "nope.yaml")


def test_atomic_write_leaves_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")

    class Boom(Exception):
        pass

    from pain3d.io import atomic_path

    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise Boom
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_write_gives_normal_permissions(tmp_path):
    import os

    target = tmp_path / "b.txt"
    atomic_write_text(target, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_writes_make_missing_folders_and_leave_no_temporaries(tmp_path):
    import os

    from pain3d import io

    target = tmp_path / "a" / "b" / "c.bin"
    io.atomic_write_bytes(target, b"one")
    # A temporary a killed writer with this process id left: the next name steps past it.
    stale = target.parent / f".c.bin.{os.getpid()}.{next(io._TEMP_IDS) + 1}.tmp"
    stale.write_bytes(b"left over")
    io.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and stale.read_bytes() == b"left over"
    io.atomic_write_text(target, "three")
    assert target.read_text() == "three"
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(["c.bin", stale.name])
