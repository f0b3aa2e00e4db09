"""The few arrays the page reads beyond the tables: a trial's npz artefacts (``verification.npz`` for the score
histograms and the paired comparison), found through the trial's ``location`` (where its folder is; the tables keep
only its path relative to the sweep)."""

from __future__ import annotations

from collections.abc import Callable

from facebench import artefacts
from facebench.errors import DataError
from facebench.storage import resolve


def npz_loader(notes: list[str]) -> Callable[[str, str], dict | None]:
    """``load(location, name)``: a trial's ``artefacts/<name>`` as a dict of arrays, None if absent; an unreadable
    one is also a note."""

    def load(location: str, name: str) -> dict | None:
        arrays = load_npz(location, name)
        if arrays is None and resolve(location).join(artefacts.ARTEFACTS, name).info().type.name == "File":
            notes.append(f"{location}: artefacts/{name} is unreadable")  # absent artefacts are not news
        return arrays

    return load


def load_npz(location: str, name: str) -> dict | None:
    """``<location>/artefacts/<name>`` as a dict of arrays, None if absent or unreadable."""
    loc = resolve(location).join(artefacts.ARTEFACTS, name)
    try:
        return artefacts.load_npz(loc.read_bytes(), name=loc.uri)
    except (OSError, DataError):
        return None
