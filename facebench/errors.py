"""User-facing errors.

A ``FacebenchError`` is a mistake in the user's input (a config key, a file, a value). The CLI prints
its message and exits non-zero without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno


class FacebenchError(Exception):
    """An error caused by the user's input; the message must say what and where."""


class ConfigError(FacebenchError):
    """A bad config key, type, value or combination."""


class DataError(FacebenchError):
    """A dataset, pairs file or image that cannot be read as what it claims to be."""


class LeakageError(FacebenchError):
    """Evaluation people overlap training people."""


def user_error(e: BaseException) -> str | None:
    """One line for an error the user can act on (their input, their filesystem, their machine's memory);
    None for a bug, which keeps its traceback."""
    if isinstance(e, FacebenchError):
        return str(e)
    if isinstance(e, OSError) and e.errno is not None:
        # Read-only or full filesystem, a file where a folder is expected, no permission: where and why.
        if not e.filename:  # no path to name: say which system call refused, by its errno's name
            return f"the operating system refused: {e.strerror or e} ({errno.errorcode.get(e.errno, e.errno)})"
        return f"{e.filename}: {e.strerror or e}" + (f" -> {e.filename2}" if e.filename2 else "")
    if type(e).__name__ == "OperationalError" and type(e).__module__.startswith("sqlalchemy"):
        # The Optuna study's database refused: disk full, read-only, unreachable (the SQL itself is not news).
        reason = " ".join(str(getattr(e, "orig", None) or e).split())
        return f"the sweep's study database (--study-db, default <results>/<name>/study.db): {reason}"
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError":  # torch's (CUDA) OOM, by name:
        # this module imports no torch
        return "out of memory: the request needs more memory than this machine has; ask for less"
    return None
