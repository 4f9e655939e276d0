"""Run state of an output folder: config claim, completion records, stale temporary files.

``<root>/config.yaml`` is written first and claims the folder for one config; a later run
with a different config (or package version) is refused. Under ``<root>/.pain3d/`` a record
is written after each unit's files and after each shard are complete (atomically, after the
files themselves), so a run killed at any moment resumes with exactly the missing work.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import yaml

from pain3d.io import atomic_write_text
from pain3d.synth import layout

CONFIG_NAME = "config.yaml"


def _diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} in the folder, {b!r} now")
    return out


def claim(root: Path, config_text: str) -> bool:
    """Make ``root`` the folder of this config; return True when resuming a started run.

    Raises:
        FileExistsError: if ``root`` holds another config or unrelated files.
    """
    cfg_path = root / CONFIG_NAME
    if cfg_path.is_file():
        old = cfg_path.read_text()
        if old == config_text:
            return True
        diffs = _diff(yaml.safe_load(old) or {}, yaml.safe_load(config_text) or {})
        raise FileExistsError(
            f"{root} already holds a dataset with a different config ({'; '.join(diffs)}). "
            f"Mixing two configs in one folder is refused: use another --out, delete the "
            f"folder, or re-run with the settings of {cfg_path}"
        )
    if root.exists() and any(p.name != layout.STATE_DIR for p in root.iterdir()):
        raise FileExistsError(
            f"{root} is not empty and has no {CONFIG_NAME}: it is not a pain3d dataset "
            f"being generated; choose an empty or new --out folder"
        )
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg_path, config_text)
    return False


def sweep_temporaries(root: Path) -> int:
    """Delete temporary files a killed writer left (``.<name>.<...>.tmp``); return count."""
    n = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                Path(dirpath, name).unlink(missing_ok=True)
                n += 1
    return n


def state_dir(root: Path) -> Path:
    return root / layout.STATE_DIR


def staging_dir(root: Path) -> Path:
    return state_dir(root) / "staging"


def unit_record(root: Path, identity: int) -> Path:
    return state_dir(root) / "units" / f"{identity:05d}.json"


def shard_record(root: Path, folder: str, shard: int) -> Path:
    return state_dir(root) / "shards" / f"{folder}_{shard:05d}.json"


def mark_unit(root: Path, identity: int, files: dict[str, bytes],
              landmarks: dict[str, list[float] | None] | None = None) -> None:
    """Record that all files of an identity are on disk, with their sizes and SHA-256, and
    the face keypoints of its images (image path -> six pixel values or None) for the
    manifest."""
    record = {"identity": identity,
              "files": {k: len(v) for k, v in sorted(files.items())},
              "sha256": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())},
              "landmarks": dict(sorted((landmarks or {}).items()))}
    atomic_write_text(unit_record(root, identity), json.dumps(record, indent=1))


def _read_record(root: Path, identity: int) -> dict | None:
    try:
        return json.loads(unit_record(root, identity).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_unit(root: Path, identity: int) -> dict[str, int] | None:
    """Sizes of a finished identity's files, or None if it has no (valid) record."""
    rec = _read_record(root, identity)
    return rec.get("files") if rec else None


def read_unit_hashes(root: Path, identity: int) -> dict[str, str]:
    """SHA-256 of a finished identity's files (empty if unknown)."""
    rec = _read_record(root, identity)
    return dict(rec.get("sha256", {})) if rec else {}


def read_unit_landmarks(root: Path, identity: int) -> dict[str, list[float] | None]:
    """Face keypoints of a finished identity's images (empty if unknown, e.g. a record
    written before keypoints were recorded)."""
    rec = _read_record(root, identity)
    return dict(rec.get("landmarks", {})) if rec else {}


def mark_shard(root: Path, folder: str, shard: int, members: int, size: int,
               sha256: str) -> None:
    atomic_write_text(shard_record(root, folder, shard),
                      json.dumps({"members": members, "bytes": size, "sha256": sha256}))


def shard_hash(root: Path, folder: str, shard: int) -> str:
    """SHA-256 recorded for a finished shard ("" if unknown)."""
    try:
        return str(json.loads(shard_record(root, folder, shard).read_text()).get("sha256", ""))
    except (FileNotFoundError, json.JSONDecodeError):
        return ""


def shard_done(root: Path, rel_path: str, folder: str, shard: int) -> bool:
    return shard_record(root, folder, shard).is_file() and (root / rel_path).is_file()
