"""The report's unit: a section of the page, and what every section is computed from.

A section function takes the report's ``Inputs`` and returns one ``Section``: its key (the page anchor), title,
HTML, figures and notes, and the sentence to show when it has nothing (a heading over blank space reads as a bug).
``facebench.report.html.render`` assembles the sections into the page; no section knows about another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .collect import Collection
    from .plots import Plot


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    html: str = ""
    figures: tuple[Plot, ...] = ()
    notes: tuple[str, ...] = ()
    empty: str = "no data in these trials"  # shown where the section has neither HTML nor figures
    optional: bool = False  # left off the page (and its navigation) when it has nothing

    @property
    def is_empty(self) -> bool:
        return not self.html and not self.figures


@dataclass(frozen=True)
class Options:
    """What the caller adds to the trials: a title, reference scores (floors measured elsewhere), summary lines,
    the test score the best recipe should reach."""

    title: str | None = None
    references: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()
    target: float | None = None


@dataclass(frozen=True)
class Inputs:
    """Everything a section reads: the collected folders, the ranked trials table, the other tables as frames,
    the caller's options, how the page names the run directories, and the files written beside the page."""

    data: Collection
    ranked: pd.DataFrame
    frames: dict[str, pd.DataFrame]
    options: Options
    sources: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # "best_config": its name, "best_command": how to run it


def figure_section(
    i: Inputs, head: tuple[str, str], jobs: list[tuple[str, Callable[[list[str]], list[Any]]]], empty: str
) -> Section:
    """A section of figures: ``head`` is (key, title); each job gets the section's notes and returns figures. A job
    that raises becomes a note and the section keeps the other figures; no trials, no figures."""
    notes: list[str] = []
    figures: list[Any] = []
    for name, job in jobs if len(i.ranked) else []:
        try:
            figures += job(notes)
        except Exception as e:  # one broken figure must not lose the tables and the other figures
            notes.append(f"figure '{name}' failed: {type(e).__name__}: {e}")
    return Section(*head, figures=tuple(figures), notes=tuple(notes), empty=empty)
