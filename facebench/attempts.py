"""Attempts of one trial (words in ``facebench.artefacts.SweepDir``): each run has its own id; only the current one writes.

After a node dies or a network partition cuts it off, Ray retries the trial elsewhere while the old attempt may
still be running and writing. A trial folder therefore holds a lease, ``attempt.json``::

    {"attempt_id": "3f9c2a1b-r1", "number": 2, "retry": 1, "started_at": ..., "superseded": ["a07e55d2-r0"], ...}

An attempt takes it when it starts (an atomic rename: the newest attempt always wins, since Ray starts a new one
only once it has given up on the old). Every later write of the attempt's ``TrialDir`` (config, meta, epochs,
checkpoint, result, ray.json) and every upload of its folder first checks that the lease still names it; a
superseded attempt's write raises ``StaleAttempt`` in that attempt, is logged, and overwrites nothing.
``retry`` counts the attempts before this one (Ray's retry count as this folder saw it).

The check and the rename that follows it are not one atomic step: a superseded attempt that passes the check in
the instant before the new one takes the lease can still land that one write; its next write is refused. A folder
without ``attempt.json`` (written before attempts had ids, or by ``facebench train``) reads as before, and a
``TrialDir`` without an attempt id (the CLI, the report) never checks.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any

from .io import atomic_write_json, read_json

log = logging.getLogger(__name__)
KEEP_SUPERSEDED = 20  # ids of earlier attempts kept in the lease (a trial retried more often keeps the last 20)


class StaleAttempt(RuntimeError):
    """A write of an attempt that a newer attempt of the same trial has superseded (it writes nothing)."""


def read_lease(lease: Path) -> dict[str, Any]:
    """The lease's record; empty when there is none (an old folder) or it is not a JSON object."""
    record = read_json(lease)
    return record if isinstance(record, dict) else {}


def take_lease(lease: Path, where: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start a new attempt of the trial whose lease file is ``lease``: a fresh id, recorded atomically; returns the
    record (``attempt_id``, ``number``, ``retry``, ``superseded``, and ``where``'s node, host and pid)."""
    before = read_lease(lease)
    number = before.get("number")
    number = number + 1 if isinstance(number, int) and not isinstance(number, bool) and number > 0 else 1
    superseded = [i for i in before.get("superseded", []) if isinstance(i, str)]
    if isinstance(before.get("attempt_id"), str):
        superseded.append(before["attempt_id"])
    record = {
        **(where or {}),
        "attempt_id": f"{uuid.uuid4().hex[:8]}-r{number - 1}",
        "number": number,
        "retry": number - 1,
        "started_at": time.time(),
        "superseded": superseded[-KEEP_SUPERSEDED:],
    }
    atomic_write_json(lease, record)
    return record


def check_current(lease: Path, attempt_id: str | None, what: str) -> None:
    """Raise ``StaleAttempt`` (and log it) when the lease names another attempt than ``attempt_id``; pass when
    ``attempt_id`` is None (no attempt, no check) or the folder has no lease."""
    if attempt_id is None:
        return
    current = read_lease(lease).get("attempt_id")
    if current is None or current == attempt_id:
        return
    msg = (
        f"{lease.parent}: attempt {attempt_id} was superseded by attempt {current} of the same trial; its write "
        f"of {what} is refused (the current attempt's files are kept)"
    )
    log.warning(msg)
    raise StaleAttempt(msg)
