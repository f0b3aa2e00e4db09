"""Fault points for the resume and node-failure tests: the code path itself says when to die or pause.

    FACEBENCH_KILL_AT=<point>:<k>    SIGKILL the sweep's driver (and this process) the k-th time this process
                                     passes <point>: a power cut at a chosen place, not after a guessed sleep
    FACEBENCH_PAUSE_AT=<point>:<k>   at the k-th pass, write <FACEBENCH_PAUSE_DIR>/<tag>.json (pid, tag) and
                                     wait until <FACEBENCH_PAUSE_DIR>/release exists (a test kills a node meanwhile)

Points: ``told`` (driver: Optuna was told a trial's final value), ``done`` (trial: its result.json is written,
the driver does not know yet), ``mid-epoch`` (trial: half of an epoch's steps done), ``reported`` (trial: an
epoch's checkpoint is written and reported), ``write:<file name>`` (any atomic write: the temporary file is
complete but not yet renamed over ``<file name>``). Counts are per process. Unset, every call is one dict
lookup. Imports nothing of facebench, so the engine's writers may call it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

KILL, PAUSE, PAUSE_DIR, DRIVER_PID = (
    "FACEBENCH_KILL_AT",
    "FACEBENCH_PAUSE_AT",
    "FACEBENCH_PAUSE_DIR",
    "FACEBENCH_DRIVER_PID",
)
PAUSE_LIMIT_S = 300.0  # a test that never releases must not leave a trial waiting forever
_passes: dict[str, int] = {}


def _due(var: str, point: str) -> bool:
    wanted = os.environ.get(var)
    if not wanted:
        return False
    name, _, k = wanted.rpartition(":")
    if name != point:
        return False
    _passes[var + point] = _passes.get(var + point, 0) + 1
    return _passes[var + point] == int(k)


def at(point: str, tag: str = "") -> None:
    """A fault point. ``tag`` names the pausing trial in its marker file."""
    if _due(KILL, point):
        driver = int(os.environ.get(DRIVER_PID) or os.getpid())
        if driver != os.getpid():
            try:
                os.kill(driver, signal.SIGKILL)
            except ProcessLookupError:
                pass  # another trial reached its own k-th pass first: the power cut has already happened
        os.kill(os.getpid(), signal.SIGKILL)
    if _due(PAUSE, point):
        _pause(Path(os.environ[PAUSE_DIR]), tag or str(os.getpid()))


def _pause(folder: Path, tag: str) -> None:
    marker = folder / f"{tag}.json"
    tmp = folder / f".{tag}.tmp"
    tmp.write_text(json.dumps({"pid": os.getpid(), "tag": tag}))
    os.replace(tmp, marker)
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting on a condition the test sets, not guessing a duration


def arm_driver() -> None:
    """Called by the sweep driver before Ray starts: trials (which inherit the environment) know whom to kill."""
    if os.environ.get(KILL):
        os.environ[DRIVER_PID] = str(os.getpid())
