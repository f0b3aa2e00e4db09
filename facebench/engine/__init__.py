"""The single-trial engine: ``run_trial(config, report)``; imports no Ray.

``run_trial`` is loaded on first use so that ``facebench.engine.cli`` (imported whenever the
``facebench`` command starts) does not pay for the whole training stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_trial"]


def __getattr__(name: str) -> Any:
    if name == "run_trial":
        from .trial import run_trial

        return run_trial
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
