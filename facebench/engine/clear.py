"""``--no-resume`` / ``--overwrite``: forget a previous attempt by removing, by name, only what the engine wrote.

A trial folder's ``artefacts/`` holds the engine's tables, arrays and pictures, and may hold a user's notes: it
is never removed whole. Each file goes only if its name is one the engine writes there (``ARTEFACT_NAMES``;
``sets/`` likewise); anything else stays, with the folder around it, and is returned so the caller can say so.
``ray.json`` (the sweep adapter's) and the marker stay too.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from ..artefacts import ARTEFACTS, CHECKPOINT, EPOCHS_LOG, NESTED, OWNED, RESULT, TrialDir

# What the engine writes in artefacts/ and its sets/ (the layout's lists, which --fresh uses too).
ARTEFACT_NAMES = OWNED[ARTEFACTS]
SUBFOLDERS = {name: OWNED[kind] for name, kind in NESTED[ARTEFACTS].items()}


def clear_trial(tdir: TrialDir) -> list[str]:
    """Remove the previous attempt's checkpoint, epochs, result and artefacts; return the files left (the user's),
    relative to the trial folder."""
    for name in (CHECKPOINT, EPOCHS_LOG, RESULT):
        (tdir.path / name).unlink(missing_ok=True)
    return [f"{tdir.artefacts.name}/{n}" for n in _remove_named(tdir.artefacts, ARTEFACT_NAMES, SUBFOLDERS)]


def _remove_named(folder: Path, patterns: tuple[str, ...], subfolders: dict[str, tuple[str, ...]]) -> list[str]:
    if folder.is_symlink() or not folder.is_dir():
        return []  # a symlink in facebench's place is neither followed nor removed
    left = []
    for entry in sorted(folder.iterdir()):
        if entry.name in subfolders and entry.is_dir() and not entry.is_symlink():
            left += [f"{entry.name}/{n}" for n in _remove_named(entry, subfolders[entry.name], {})]
        elif (entry.is_file() or entry.is_symlink()) and any(fnmatch.fnmatchcase(entry.name, p) for p in patterns):
            entry.unlink()
        else:
            left.append(entry.name)
    if not left:
        folder.rmdir()
    return left
