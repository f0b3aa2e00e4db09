"""Run a report step in a child process beside the main one (a 2-core machine draws while it reads).

A plain ``python -m facebench.report.worker`` child, not multiprocessing: spawn would re-run the caller's
``__main__`` (a sweep file) in the child. The child gets ``("module:function", args)`` pickled on stdin
and writes the pickled return value on stdout; parent and child are the same facebench, so the pickles are
trusted.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any


class Job:
    def __init__(self, func: str, args: tuple, proc: subprocess.Popen | None) -> None:
        self.func, self.args, self.proc = func, args, proc

    def result(self) -> Any:
        """The function's return value; inline when no child could start; a child's failure raises RuntimeError."""
        if self.proc is None:
            return _call(self.func, self.args)
        out, err = self.proc.communicate()  # both pipes together: no deadlock on a chatty stderr
        if self.proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"worker exit code {self.proc.returncode}")
        return pickle.loads(out)


def start(func: str, *args: Any, inline: bool = False) -> Job:
    """Start ``func(*args)`` in a child process (or, with ``inline``, when its result is asked for)."""
    if inline:
        return Job(func, args, None)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "facebench.report.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        proc.stdin.write(pickle.dumps((func, args)))
        proc.stdin.close()
        proc.stdin = None  # so communicate() does not flush a closed pipe
    except OSError:  # no child processes here: run inline when the result is asked for
        return Job(func, args, None)
    return Job(func, args, proc)


def _call(func: str, args: tuple) -> Any:
    module, _, name = func.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


if __name__ == "__main__":
    func, args = pickle.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(pickle.dumps(_call(func, args)))
