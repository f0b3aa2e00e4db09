"""No absolute machine path leaves the report: what the page, the tables and ``best.toml`` say instead.

- A run directory is named as the user typed it when that is relative (relative to where they ran the
  command); an absolute local one relative to the current directory when it is below it, else by its folder
  name; a remote URI (``s3://bucket/x``) as it is, since it names no machine.
- A trial's ``path`` is its folder relative to its sweep folder (``trials/<id>``), or its folder name.
- A config value that is an absolute local path (``data.root``, ``data.test_root``, ``data.pairs``,
  ``data.cache_dir``, the paths in ``eval.sets``) is shortened to its last component (``/data/lfw`` -> ``lfw``):
  the data root is the user's to give at run time (``--set data.root=DIR``).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlparse

PATH_KEYS = ("data.root", "data.test_root", "data.pairs", "data.cache_dir")
SETS_KEY = "eval.sets"


def is_machine_path(value: Any) -> bool:
    """An absolute local path (``/x``, ``~/x``, ``C:\\x``, ``file:///x``): it names this machine's disk."""
    if not isinstance(value, str) or not value:
        return False
    return value.startswith(("/", "~", "file:")) or (len(value) > 2 and value[1] == ":" and value[2] in "\\/")


def last_component(value: str) -> str:
    path = unquote(urlparse(value).path) if value.startswith("file:") else value
    return posixpath.basename(path.replace("\\", "/").rstrip("/")) or path


def portable_value(key: str, value: Any) -> Any:
    """A config value with any absolute local path in it shortened to its last component."""
    if key in PATH_KEYS and is_machine_path(value):
        return last_component(value)
    if key == SETS_KEY and isinstance(value, str) and value:
        return ",".join(_portable_set(item) for item in value.split(","))
    return value


def _portable_set(item: str) -> str:
    name, sep, path = item.rpartition("=")
    return name + sep + (last_component(path) if is_machine_path(path) else path)


def machine_keys(config: dict[str, Any]) -> list[str]:
    """The keys whose value names a path on the machine that ran the trial."""
    keys = [k for k in PATH_KEYS if is_machine_path(config.get(k))]
    sets = config.get(SETS_KEY)
    if isinstance(sets, str) and any(is_machine_path(i.rpartition("=")[2]) for i in sets.split(",")):
        keys.append(SETS_KEY)
    return keys


def trial_path(trial_dir: str) -> str:
    """A trial folder relative to its sweep folder: ``trials/<id>`` when it sits in one, else its folder name."""
    parts = trial_dir.rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 and parts[-2] == "trials" else parts[-1]


def shown_source(where: str, cwd: str | None = None) -> str:
    """How the page names a run directory the user gave (see the module's docstring)."""
    text = os.fspath(where)
    if "://" in text and not text.startswith("file:"):
        return text
    local = unquote(urlparse(text).path) if text.startswith("file:") else text
    if not os.path.isabs(local) and not local.startswith("~"):
        return local
    absolute = os.path.abspath(os.path.expanduser(local))
    here = os.path.abspath(cwd or os.getcwd())
    if absolute == here or absolute.startswith(here.rstrip(os.sep) + os.sep):
        return os.path.relpath(absolute, here)
    return os.path.basename(absolute.rstrip(os.sep)) or absolute


def scrubber(sources: Iterable[str], cwd: str | None = None) -> list[tuple[str, str]]:
    """(absolute text, shown text) pairs for every form an absolute run directory takes in a message, longest
    first, so that ``scrub`` replaces ``file:///a/b`` before ``/a/b``."""
    pairs = {}
    for where in sources:
        text = os.fspath(where)
        shown = shown_source(text, cwd)
        if shown == text or ("://" in text and not text.startswith("file:")):
            continue
        local = unquote(urlparse(text).path) if text.startswith("file:") else os.path.expanduser(text)
        absolute = os.path.abspath(local).rstrip(os.sep)
        for form in {text.rstrip("/"), absolute, "file://" + absolute}:
            pairs[form] = shown
    return sorted(pairs.items(), key=lambda p: -len(p[0]))


def scrub(text: str, pairs: list[tuple[str, str]]) -> str:
    for absolute, shown in pairs:
        text = text.replace(absolute, shown)
    return text


def portable_record(summary: dict[str, Any]) -> dict[str, Any]:
    """A sweep's summary.json as the report writes it beside the page: every absolute local path in it relative to
    the sweep folder (``trials/<id>``), the sweep folder itself and any path outside it by their last component."""
    root = summary.get("sweep_dir")
    root = str(root).rstrip("/") if is_machine_path(root) else None

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if is_machine_path(v):
            if root and v.startswith(root + "/"):
                return v[len(root) + 1 :]
            return last_component(v)
        return v

    return walk(summary)
