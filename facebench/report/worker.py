"""Run report steps in one child process beside the main one (a 2-core machine draws while it reads).

A plain ``python -m facebench.report.worker`` child, not multiprocessing: spawn would re-run the caller's
``__main__`` (a sweep file) in the child. One child serves the whole report, so its imports (pandas,
matplotlib, Optuna) are paid once: it imports the modules named on its command line at once, while the parent
reads the trials, then runs the ``("module:function", args)`` requests pickled on its stdin one after another
and writes each pickled ``(ok, value)`` on stdout. Parent and child are the same facebench, so the pickles are
trusted.
"""

from __future__ import annotations

import importlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any

_DEAD = object()


class Job:
    def __init__(self, worker: "Worker | None", func: str, args: tuple) -> None:
        self.worker, self.func, self.args = worker, func, args
        self._done, self._ok, self._value = False, False, None

    def result(self) -> Any:
        """The function's return value (inline when no child runs); a child's failure raises RuntimeError."""
        if self.worker is None:
            return _call(self.func, self.args)
        while not self._done:
            self.worker._next()
        if not self._ok:
            raise RuntimeError(self._value)
        return self._value


class Worker:
    """One child process; ``submit`` queues a call, ``Job.result`` waits for it (answers come in order)."""

    def __init__(self, *, inline: bool = False, preload: tuple[str, ...] = ()) -> None:
        self.proc: subprocess.Popen | None = None
        self._pending: deque[Job] = deque()
        self._answers: queue.Queue = queue.Queue()
        self._err: deque[str] = deque(maxlen=20)
        if inline:
            return
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "facebench.report.worker", *preload],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=env)
        except OSError:  # no child processes here: every step runs inline
            return
        # Pipes served by threads: neither side ever blocks the other on a full pipe.
        self._requests: queue.Queue = queue.Queue()
        for target in (self._write_requests, self._read_answers, self._read_errors):
            threading.Thread(target=target, daemon=True).start()

    def submit(self, func: str, *args: Any) -> Job:
        """Run ``func(*args)`` in the child (inline, when its result is asked for, if no child runs)."""
        if self.proc is None:
            return Job(None, func, args)
        try:
            data = pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # not picklable: run it here
            return Job(None, func, args)
        job = Job(self, func, args)
        self._pending.append(job)
        self._requests.put(data)  # written by a thread: the child may still be busy with the previous step
        return job

    def close(self) -> None:
        if self.proc is None:
            return
        self._requests.put(None)
        while self._pending:  # answers not waited for: read them so the child can finish
            self._next()
        self.proc.wait()

    def _write_requests(self) -> None:
        try:
            while (data := self._requests.get()) is not None:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
        except OSError:  # the child died; its jobs fail through the answer reader
            pass
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def _next(self) -> None:
        job = self._pending.popleft()
        answer = self._answers.get()
        if answer is _DEAD:
            self._answers.put(_DEAD)  # every later job fails the same way
            self.proc.wait()
            last = self._err[-1] if self._err else f"worker exit code {self.proc.returncode}"
            job._ok, job._value = False, last
        else:
            job._ok, job._value = answer
        job._done = True

    def _read_answers(self) -> None:
        try:
            while True:
                self._answers.put(pickle.load(self.proc.stdout))
        except Exception:  # EOF or a torn pickle: the child is gone
            self._answers.put(_DEAD)

    def _read_errors(self) -> None:
        for line in self.proc.stderr:
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._err.append(text)


def _call(func: str, args: tuple) -> Any:
    module, _, name = func.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def _serve() -> None:
    for module in sys.argv[1:]:  # imported before the first request arrives
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            func, args = pickle.load(stdin)
        except EOFError:  # the parent is done: skip the interpreter's teardown of Optuna and matplotlib
            stdout.flush()
            os._exit(0)
        try:
            answer = (True, _call(func, args))
        except Exception as e:  # the parent turns it into a note
            answer = (False, f"{type(e).__name__}: {e}")
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            data = pickle.dumps((False, f"unpicklable result: {type(e).__name__}: {e}"))
        stdout.write(data)
        stdout.flush()


if __name__ == "__main__":
    _serve()
