"""Reading a config file (.json, .yaml, .toml) into a flat dict, refusing what would be read ambiguously.

A key given twice (``{"train.epochs": 1, "train.epochs": 2}``, or flat and nested at once:
``{"train.epochs": 1, "train": {"epochs": 2}}``) is an error naming the file and the key, not "last one
wins". Text that is not UTF-8, nesting deeper than config keys go, and parse errors are one line each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

# Config keys are ``section.name``; a little slack for nested tables of future keys, none for pathological input.
MAX_DEPTH = 8
# Far more than there are config keys; bounds what a YAML alias bomb (a key repeated by reference) expands to.
MAX_KEYS = 10_000
FORMATS = (".json", ".yaml", ".yml", ".toml")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The flat ``{"section.key": value}`` dict of a config file, or a ConfigError naming the file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    if path.suffix not in FORMATS:
        raise ConfigError(f"{path}: unknown config format {path.suffix!r}; use .json, .yaml or .toml")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as UTF-8"
        ) from None
    if text.startswith("\ufeff"):  # TOML and JSON parsers call it an invalid statement / character
        raise ConfigError(
            f"{path}:1: starts with a byte-order mark (BOM, bytes EF BB BF); save the file as UTF-8 without BOM"
        )
    try:
        data = _parse(path.suffix, text)
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config (keys are section.name)") from None
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except Exception as e:  # noqa: BLE001 - JSONDecodeError, yaml.YAMLError, TOMLDecodeError: all a parse error
        if not _is_parse_error(e):
            raise
        raise ConfigError(f"{path}: cannot parse: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of config keys")
    try:
        return flatten_unique(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def flatten_unique(
    values: Mapping[str, Any], prefix: str = "", *, _depth: int = 0, _out: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``{"loss": {"margin": 0.5}}`` -> ``{"loss.margin": 0.5}``; a key reached twice is a ConfigError."""
    out = {} if _out is None else _out
    if _depth > MAX_DEPTH:
        raise ConfigError(f"{prefix.rstrip('.')}: nested deeper than {MAX_DEPTH} levels (keys are section.name)")
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            flatten_unique(v, key + ".", _depth=_depth + 1, _out=out)
        elif len(out) >= MAX_KEYS:
            raise ConfigError(f"more than {MAX_KEYS} keys (a YAML alias expanding into copies?); not a config")
        elif key in out:
            raise ConfigError(f"key {key!r} is given twice (flat and nested, or repeated); keep one")
        else:
            out[key] = v
    return out


def _parse(suffix: str, text: str) -> Any:
    if suffix == ".json":
        return json.loads(text, object_pairs_hook=_unique_pairs)
    if suffix in (".yaml", ".yml"):
        return _load_yaml(text) or {}
    try:
        import tomllib  # refuses a repeated key itself (Python 3.11+)
    except ModuleNotFoundError:  # Python 3.10: the same parser as the package tomli
        import tomli as tomllib

    return tomllib.loads(text)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ConfigError(f"key {k!r} is given twice in one object; keep one")
        out[k] = v
    return out


def _load_yaml(text: str) -> Any:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """PyYAML's safe loader keeps the last of two equal keys silently; this one refuses them."""

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                raise ConfigError(f"line {key_node.start_mark.line + 1}: a key must be a name, not {key!r}")
            if key in seen:
                raise ConfigError(
                    f"line {key_node.start_mark.line + 1}: key {key!r} is given twice "
                    f"(first on line {seen[key] + 1}); keep one"
                )
            seen[key] = key_node.start_mark.line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def _is_parse_error(e: Exception) -> bool:
    return isinstance(e, ValueError) or type(e).__module__.startswith("yaml")
