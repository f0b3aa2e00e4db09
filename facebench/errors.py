"""User-facing errors.

A ``FacebenchError`` is a mistake in the user's input (a config key, a file, a value). The CLI prints
its message and exits non-zero without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class FacebenchError(Exception):
    """An error caused by the user's input; the message must say what and where."""


class ConfigError(FacebenchError):
    """A bad config key, type, value or combination."""


class DataError(FacebenchError):
    """A dataset, pairs file or image that cannot be read as what it claims to be."""


class LeakageError(FacebenchError):
    """Evaluation people overlap training people."""
