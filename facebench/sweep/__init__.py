"""Sweeps: Ray Tune schedules the trials Optuna proposes. The only facebench package that imports Ray.

A sweep file is a module that defines ``SPEC``, a ``SweepSpec`` (spec.py); ``facebench sweep FILE`` imports it
and runs ``SPEC``, and ``python FILE`` runs it through ``main(SPEC)``. ``space`` holds the define-by-run search
spaces, ``run_sweep(spec, Placement(...), Output(...))`` (runner.py) runs or resumes one. Ray is imported
lazily, so importing this package (and ``facebench`` on start-up) stays cheap.
"""

from __future__ import annotations

import sys

from .session import DEFAULT_OUTPUT, LOCAL, Output, Placement
from .spec import Profile, SweepSpec

__all__ = ["Output", "Placement", "Profile", "SweepSpec", "main", "run_sweep"]


def run_sweep(
    spec: SweepSpec, placement: Placement = LOCAL, output: Output = DEFAULT_OUTPUT, *, num_samples: int | None = None
) -> dict:
    from .runner import run_sweep as _run

    return _run(spec, placement, output, num_samples=num_samples)


def main(spec: SweepSpec, argv: list[str] | None = None) -> int:
    """Entry point of a sweep file run as a script: parse the shared flags and run ``spec`` under facebench's
    error policy (facebench.cli.run_command); returns the exit code."""
    from ..cli import run_command
    from .cli import parse_sweep_args, run_from_args

    args = parse_sweep_args(argv, prog=sys.argv[0] if sys.argv else None)
    return run_command(lambda a: run_from_args(spec, a), args)
