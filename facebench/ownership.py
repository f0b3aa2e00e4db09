"""What facebench may delete or overwrite: only folders it created, and in them only the files it wrote.

A folder facebench creates (a sweep folder, a trial folder) gets a marker file ``.facebench`` written
before anything else. ``--fresh``, ``--overwrite`` and every cleanup go through ``remove_owned``, which
refuses a folder without the marker and removes only the names facebench writes there (``artefacts.OWNED``);
a user's ``notes.txt`` beside them stays. Names that become folder names are checked by ``check_name``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path

from .errors import ConfigError

MARKER = ".facebench"
LOCK = ".facebench.lock"  # a sweep's driver lock (facebench.sweep.lock): never removed by a cleanup of the folder
# The temporary files of facebench.io.atomic_path (``.<name>.<random>.tmp``): a write killed midway.
TEMP_PATTERN = ".*.tmp"
MARKER_TEMP = f".{MARKER}.*.tmp"  # the marker's own, from a claim killed before the marker was in place
# What facebench writes in each kind of folder is the layout's: facebench.artefacts.OWNED.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]{0,127}")


def check_name(name: str, what: str) -> str:
    """A sweep or trial name becomes a folder name: letters, digits and ``_.+=-``, not starting with a dot
    or a dash, no separators, so ``..``, ``.`` or ``a/b`` can never point outside the results folder."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{what} {name!r}: use 1-128 letters, digits or _ . + = - starting with a letter or "
            "digit (no slashes, spaces, leading dots)"
        )
    return name


def is_owned(path: str | os.PathLike) -> bool:
    return (Path(path) / MARKER).is_file()


def marker_kind(path: str | os.PathLike) -> str | None:
    try:
        return json.loads((Path(path) / MARKER).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def claim_dir(path: str | os.PathLike, kind: str) -> Path:
    """Create ``path`` (with its marker, written first) or accept it if facebench created it; a file there,
    or a non-empty folder without the marker, is the user's and is refused."""
    from .io import atomic_write_json

    path = Path(path)
    _check_is_dir(path)
    if is_owned(path):
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        entries = [p.name for p in path.iterdir()]
    except FileExistsError:
        raise ConfigError(f"{_first_file(path)}: is a file, not a folder; choose another path") from None
    except NotADirectoryError:
        raise ConfigError(f"{_first_file(path)}: is a file, not a folder; choose another path") from None
    interrupted = [n for n in entries if fnmatch.fnmatchcase(n, MARKER_TEMP) and _regular_file(path / n)]
    if entries and len(interrupted) == len(entries):
        # Only the temporary file of this marker's own atomic write: a claim killed midway (its node lost, the
        # driver SIGKILLed) before the marker was in place. facebench's, so the claim is taken up again.
        for name in interrupted:
            (path / name).unlink(missing_ok=True)
        entries = []
    if entries:
        shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
        raise ConfigError(
            f"{path}: this folder was not created by facebench (no {MARKER} marker) and is not "
            f"empty ({shown}); facebench writes only into folders it created: choose another path"
        )
    atomic_write_json(path / MARKER, {"kind": kind, "owner": "facebench"})
    return path


def remove_owned(path: str | os.PathLike, kind: str | None = None) -> list[str]:
    """Remove what facebench wrote in the marked folder ``path`` and return the names it left (the user's);
    the folder itself goes when nothing else is in it. An unmarked folder is refused, never touched."""
    path = Path(path)
    if not path.exists():
        return []
    _check_is_dir(path)
    if not is_owned(path):
        raise ConfigError(
            f"{path}: not created by facebench (no {MARKER} marker); facebench deletes only "
            "folders it created: remove it yourself or choose another name"
        )
    return _remove_named(path, kind or marker_kind(path) or "")


def _remove_named(path: Path, kind: str) -> list[str]:
    """Remove, in ``path``, the files whose names ``kind`` owns (``artefacts.OWNED``) and, recursively, what it
    owns in its subfolders: a marked one by its own kind, an unmarked one by the kind ``artefacts.NESTED`` gives
    it; an unmarked folder of no known kind is kept whole. Returns what is left, relative to ``path``; ``path``
    (and its marker) goes when nothing is left."""
    from .artefacts import NESTED, OWNED  # the layout's names (artefacts imports this module)

    patterns, nested = OWNED.get(kind, ()), NESTED.get(kind, {})
    left = []
    for entry in sorted(path.iterdir()):
        if entry.name in (MARKER, LOCK):
            continue
        if entry.is_dir() and not entry.is_symlink():
            sub = marker_kind(entry) if is_owned(entry) else _match(entry.name, nested)
            left += [f"{entry.name}/{n}" for n in _remove_named(entry, sub)] if sub else [f"{entry.name}/"]
        elif any(fnmatch.fnmatchcase(entry.name, p) for p in patterns):
            entry.unlink()  # a file, or a symlink (removed itself, never followed)
        else:
            left.append(entry.name)
    if not left and not (path / LOCK).exists():  # a locked folder stays (with its marker) for its driver
        (path / MARKER).unlink(missing_ok=True)
        path.rmdir()
    return left


def _match(name: str, nested: dict[str, str]) -> str | None:
    return next((kind for pattern, kind in nested.items() if fnmatch.fnmatchcase(name, pattern)), None)


def remove_stale_temps(path: str | os.PathLike) -> list[str]:
    """Delete the temp files of atomic writes killed midway (``.<name>.*.tmp``) in a folder facebench owns."""
    path = Path(path)
    if not is_owned(path):
        return []
    removed = []
    for entry in path.iterdir():
        if fnmatch.fnmatchcase(entry.name, TEMP_PATTERN) and _regular_file(entry):
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def _regular_file(path: Path) -> bool:
    """A plain file, not a symlink or folder: only those can be facebench's temporary files."""
    return path.is_file() and not path.is_symlink()


def _check_is_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is a file, not a folder; choose another path")


def _first_file(path: Path) -> Path:
    """The ancestor of ``path`` that exists as a file (what made mkdir fail)."""
    for p in [path, *path.parents]:
        if p.exists() and not p.is_dir():
            return p
    return path
