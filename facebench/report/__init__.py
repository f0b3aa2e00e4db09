"""Reports: every trial of one or more sweeps -> Parquet tables, PNG plots, one self-contained HTML page.

``build_report(run_dirs, out)`` is what ``facebench report`` and the end of every sweep call. Heavy imports
(pandas, matplotlib, optuna) happen inside it, so importing this package stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_report"]


def build_report(
    run_dirs: Sequence[str | os.PathLike] | str | os.PathLike,
    out: str | os.PathLike,
    *,
    title: str | None = None,
    references: Sequence[tuple[str, float]] = (),
    notes: Sequence[str] = (),
    target: float | None = None,
) -> Path | str:
    """Write ``<out>/index.html`` and ``<out>/<table>.parquet``; return the index's path (a URI if remote).

    ``run_dirs``: sweep directories, trial directories or folders of sweeps, local paths or URIs that
    ``pyarrow.fs`` opens. A path that is none of these is a DataError. ``references``: (label, score) pairs the
    trials are read against (floors measured elsewhere); ``notes``: lines for the summary (the budget, the machine);
    ``target``: the test score the best recipe should reach (the summary says met, or missed by how much).
    """
    from facebench.storage import check_reachable

    from .build import build
    from .section import Options

    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    for where in [*run_dirs, out]:  # a bucket that cannot be used: one line now, not a retry loop's traceback
        check_reachable(os.fspath(where))
    return build(
        list(run_dirs), out, Options(title=title, references=tuple(references), notes=tuple(notes), target=target)
    )


def __getattr__(name: str) -> Any:  # pragma: no cover - convenience re-exports without import cost
    if name in ("SCHEMA_VERSION", "TABLES", "read_table", "concat"):
        from . import tables

        return getattr(tables, name)
    raise AttributeError(name)
