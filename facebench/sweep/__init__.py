"""Sweeps: Ray Tune schedules the trials Optuna proposes. The only facebench package that imports Ray.

``SweepSpec`` (spec.py) describes a sweep, ``space`` holds the define-by-run search spaces, ``run_sweep``
(runner.py) runs or resumes it and ``main(spec)`` is what a sweep file calls. Ray is imported lazily, so
importing this package (and ``facebench`` on start-up) stays cheap.
"""

from __future__ import annotations

import sys
from typing import Any

from .spec import SweepSpec

__all__ = ["SweepSpec", "main", "run_sweep"]


def run_sweep(spec: SweepSpec, **kwargs: Any) -> dict:
    from .runner import run_sweep as _run

    return _run(spec, **kwargs)


_MAIN_CALLS = [0]


def main_calls() -> int:
    """How often ``main`` ran in this process: `facebench sweep FILE` refuses a file that never calls it."""
    return _MAIN_CALLS[0]


def main(spec: SweepSpec, argv: list[str] | None = None) -> int:
    """Entry point of a sweep file: parse the shared flags and run ``spec``; returns the exit code."""
    from .cli import parse_sweep_args, run_from_args

    _MAIN_CALLS[0] += 1

    args = parse_sweep_args(argv, prog=sys.argv[0] if sys.argv else None)
    return run_from_args(spec, args)
