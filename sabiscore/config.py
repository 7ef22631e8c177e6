"""Configuration: one YAML file per stage in `configs/`, optionally overridden by a user file.

`load_config()` returns `{stage: dict}` for every `configs/<stage>.yaml`. A `--config FILE`
given on the command line is a YAML mapping of the same shape (`{data: {...}, ...}`) merged on
top, so a user overrides only what differs. Every file is checked against one schema, that of
the shipped configs (`sabiscore.config_schema`), as it is read: an unknown key or a value of the
wrong type is a `ConfigError` naming the file and the key, as the configs are loaded. Secrets never
live here: they come from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from sabiscore.config_schema import ConfigError, read_yaml, validate_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def configs_dir() -> Path:
    return Path(os.environ.get("SABISCORE_CONFIG_DIR", PROJECT_ROOT / "configs"))


def default_data_dir() -> Path:
    """`$SABISCORE_DATA_DIR`, else `data/` in the project (gitignored)."""
    return Path(os.environ.get("SABISCORE_DATA_DIR", PROJECT_ROOT / "data"))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; values of `override` win.

    >>> deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}})
    {'a': {'b': 1, 'c': 3}}
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def reject_unknown_keys(d: Mapping[str, Any], cls: type, what: str) -> None:
    """A settings mapping may only name fields of the dataclass it configures (typos fail)."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{what} must be a mapping, got {type(d).__name__}")
    unknown = set(d) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")


def load_config(override: Path | str | None = None) -> dict[str, Any]:
    """All stage configs, with an optional override file merged on top.

    Each file is validated on its own (the schema requires no key, so an override of a few
    settings is a config too): an error names the file it is in.
    """
    config: dict[str, Any] = {}
    for path in sorted(configs_dir().glob("*.yaml")):
        config[path.stem] = read_yaml(path) or {}
        validate_config({path.stem: config[path.stem]}, origin=str(path))
    if override:
        path = Path(override)
        if not path.exists():
            raise FileNotFoundError(f"config file not found: {path}")
        extra = read_yaml(path) or {}
        if not isinstance(extra, Mapping):
            raise ConfigError(f"{path}: expected a mapping of stage -> settings")
        validate_config(extra, origin=str(path))
        config = deep_merge(config, extra)
    return config
