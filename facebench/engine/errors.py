"""The engine's own failures, below both the loop that raises them and the tasks and trial that do too."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import FacebenchError

OUT_OF_MEMORY = "out of memory"  # a failed trial's reason when the host or the GPU ran out (result.json)


class NonFiniteLoss(Exception):
    """A loss component became NaN/inf: the trial ends as failed with this message."""


class OutOfMemory(FacebenchError):
    """The machine's memory or the GPU's ran out: the user's to fix by asking for less (one line, exit 2)."""


def is_out_of_memory(e: BaseException) -> bool:
    """Python's MemoryError, torch's OutOfMemoryError (CUDA), or a CPU allocator's refusal (a RuntimeError)."""
    text = str(e).lower()
    return (
        isinstance(e, MemoryError)
        or type(e).__name__ == "OutOfMemoryError"
        or (isinstance(e, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text))
    )


@contextlib.contextmanager
def memory_is_users(what: str, advice: str) -> Iterator[None]:
    """Turn running out of memory while ``what`` into an ``OutOfMemory`` naming the knobs that ask for less."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - only memory errors are translated; the rest re-raised as they are
        if not is_out_of_memory(e):
            raise
        raise OutOfMemory(f"out of memory while {what}: {advice}") from None
