"""What a running sweep shows: one progress line.

Instead of Ray's status table every 15 s (``--verbose`` brings it back), one compact line per sweep:

    vae-smoke  3/4 trials done, 1 running, 0 failed  best val_accuracy 0.6625 (trial 2b1c_00001)  12 s, ETA 4 s

On a terminal the line is rewritten in place; in a log file (CI, ``nohup``) a new line is printed only when
something changes (a trial starts or ends, the best value moves), never on a timer. Ray's own logs:
session.py; trackers (``--log``): trackers.py.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from ray.tune import Callback


class ProgressLine(Callback):
    """Tune callback: trials done / running / failed, the best objective so far (the sweep's declared metric
    and mode, the number Optuna is told) and an ETA from the mean time per finished trial.

    ``label`` is how the reported ``objective`` is shown (``val_auc (best epoch)``). With
    ``epochs`` only trials that reached their last epoch count for "best", as in Optuna's study and the summary,
    where a trial the scheduler stopped is never the best."""

    metric = "objective"  # the reported key: the one number Optuna is told and ASHA compares

    def __init__(
        self,
        *,
        name: str,
        mode: str,
        total: int,
        label: str = "objective",
        epochs: int = 0,
        stream: TextIO | None = None,
    ) -> None:
        self.name, self.mode, self.total, self.label, self.epochs = name, mode, total, label, epochs
        self._stream = stream  # None: sys.stdout at write time (Tune pickles its callbacks; a stream does not pickle)
        self.t0 = time.monotonic()
        self.best: float | None = None
        self.best_trial = ""
        self._key: tuple = ()
        self._shown = 0.0

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        value = result.get(self.metric)
        if self.epochs and int(result.get("epoch") or 0) < self.epochs:
            return
        if isinstance(value, (int, float)) and math.isfinite(value) and self._better(value):
            self.best, self.best_trial = float(value), trial.trial_id

    def _better(self, value: float) -> bool:
        return self.best is None or (value > self.best if self.mode == "max" else value < self.best)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self.show(trials)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.show(trials, final=True)

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def show(self, trials: list, *, final: bool = False) -> None:
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        states = [t.status for t in trials]
        done, running, failed = states.count("TERMINATED"), states.count("RUNNING"), states.count("ERROR")
        key = (done, running, failed, self.best)
        now = time.monotonic()
        if tty and (final or key != self._key or now - self._shown >= 1.0):
            line = self.format(done=done, running=running, failed=failed, elapsed=now - self.t0)
            self.stream.write("\r" + line + "\033[K" + ("\n" if final else ""))
        elif not tty and key != self._key:
            self.stream.write(self.format(done=done, running=running, failed=failed, elapsed=now - self.t0) + "\n")
        else:
            return
        self.stream.flush()
        self._key, self._shown = key, now

    def format(self, *, done: int, running: int, failed: int, elapsed: float) -> str:
        finished = done + failed
        best = (
            f"best {self.label} {self.best:.4f} ({self.best_trial})"
            if self.best is not None
            else f"best {self.label} -"
        )
        eta = ""
        if 0 < finished < self.total:
            eta = f", ETA {_duration(elapsed / finished * (self.total - finished))}"
        return (
            f"{self.name}  {finished}/{self.total} trials done, {running} running, {failed} failed  "
            f"{best}  {_duration(elapsed)}{eta}"
        )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
