"""The engine's own failures, below both the loop that raises them and the tasks and trial that do too."""

from __future__ import annotations


class NonFiniteLoss(Exception):
    """A loss component became NaN/inf: the trial ends as failed with this message."""
