"""Configuration convention shared by every job.

A job has one small dataclass config. A YAML file sets defaults, flags override (dotted keys
for nested configs, e.g. ``model.lora.rank=4``), and the resolved config is written next to
every output with the package version.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pain3d import __version__
from pain3d.io import atomic_write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or override that does not fit its config class."""


def to_dict(cfg: Any) -> Any:
    """A dataclass (possibly nested) as plain YAML-serialisable values."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, Mapping):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Turn a YAML/flag value into ``tp`` (nested dataclasses, tuples, Paths, Literals)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if value is None:
        return None
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where=where)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        errors = []
        for a in non_none:
            try:
                return _coerce(value, a, where)
            except (ConfigError, TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} fits none of {tp}: {'; '.join(errors)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        item = args[0] if args else Any
        seq = [_coerce(v, item, where) for v in value]
        return tuple(seq) if origin is tuple else seq
    if origin in (dict, Mapping):
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, str):
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{where}: {value!r} is not a boolean")
        return bool(value)
    if tp in (int, float, str):
        try:
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return tp(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {value!r} is not a valid {tp.__name__}") from exc
    if tp is Path:
        return Path(value)
    return value


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Build ``cls`` from a mapping, rejecting unknown keys with the list of known ones."""
    types_ = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown} for {cls.__name__}; known keys: {sorted(names)}"
        )
    kwargs = {k: _coerce(v, types_[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for p in parts[:-1]:
        if node.get(p) is None:  # an optional nested config left unset (null) gets one
            node[p] = {}
        node = node[p]
        if not isinstance(node, dict):
            raise ConfigError(f"override {key!r}: {p!r} is not a nested config")
    node[parts[-1]] = value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML config file (without the ``pain3d_version`` stamp).

    Raises:
        ConfigError: naming the file when it is missing, not YAML, or not a mapping.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    try:
        loaded = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {p}: top level must be a mapping")
    loaded.pop("pain3d_version", None)
    return loaded


def load_config(
    cls: type[T],
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Defaults of ``cls``, then the YAML file at ``path``, then ``overrides`` (dotted keys).

    ``None`` values in ``overrides`` are ignored, so argparse namespaces can be passed as-is.
    """
    tree: dict[str, Any] = to_dict(cls())  # type: ignore[call-arg]
    if path is not None:
        _merge(tree, read_config_file(path))
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(tree, key, value)
    return from_dict(cls, tree, where=str(path) if path else cls.__name__)


def _merge(base: dict[str, Any], new: Mapping[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def dump_config(cfg: Any) -> str:
    """The resolved config as YAML, with the package version."""
    data = {"pain3d_version": __version__, **to_dict(cfg)}
    return yaml.safe_dump(data, sort_keys=False)


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config (atomically) and return its path."""
    p = Path(path)
    atomic_write_text(p, dump_config(cfg))
    return p
