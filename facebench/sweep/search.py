"""OptunaSearch that names every trial's folder in the study and hands resumed trials back their own proposal."""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from typing import Any

from ray.tune.search.optuna import OptunaSearch

from .. import faults
from .resume import TRIAL_ATTR, TRIAL_KEY, Continuation
from .studycache import WriteThroughStorage

log = logging.getLogger(__name__)


class StudySearch(OptunaSearch):
    """Continuations first (in order), then new proposals from the study's sampler. Each new Optuna trial gets
    the id of its folder as a user attribute before Tune starts it, so a later resume can match the two.

    ``start_points``: parameter values of the first trials (a smoke run's covering points), queued in the
    study once, when it is new: a study reopened by a later run already holds them.

    ``epochs``: a trial that ends before its last epoch without an error was stopped by the scheduler; it is told
    to the study as PRUNED (its per-epoch objectives stay as intermediate values), so the study's best trial is
    always a completed one, the same trial the sweep summary and the report rank first.

    A Pareto sweep (``metric`` and ``mode`` lists: objective and cost) tells Optuna both values when a trial ends;
    Optuna keeps no intermediate values for a multi-objective study, so nothing is reported per epoch."""

    def __init__(
        self,
        *args: Any,
        start_points: tuple = (),
        continuations: list[Continuation] | tuple = (),
        epochs: int = 0,
        timing_log: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._start_points = list(start_points)
        self._timing_log = timing_log  # one line per new proposal: wall and CPU milliseconds (docs/scale.md)
        super().__init__(*args, **kwargs)
        self._continuations = list(continuations)
        self._epochs = epochs

    def _setup_study(self, mode) -> None:
        super()._setup_study(mode)
        known = self._ot_study.get_trials(deepcopy=False)  # also fills a write-through cache (studycache.py)
        if self._start_points and not known:
            for point in self._start_points:
                self._ot_study.enqueue_trial(point)
        self._start_points = []

    def suggest(self, trial_id: str) -> dict | None:
        import optuna

        if self._continuations:
            c = self._continuations.pop(0)
            self._ot_trials[trial_id] = optuna.trial.Trial(self._ot_study, c.storage_id)
            if c.told:
                self._completed_trials.add(trial_id)  # its value is in the study: tell nothing again
            return {**c.config, TRIAL_KEY: c.trial_id}
        t0, cpu0 = time.perf_counter(), time.thread_time()
        storage = self._ot_study._storage
        with storage.one_commit() if isinstance(storage, WriteThroughStorage) else nullcontext():
            config = super().suggest(trial_id)  # its parameters and folder name: one database commit
            if config is None:
                return None
            self._ot_trials[trial_id].set_user_attr(TRIAL_ATTR, trial_id)
        if self._timing_log:
            with open(self._timing_log, "a") as f:
                f.write(f"{(time.perf_counter() - t0) * 1000:.3f} {(time.thread_time() - cpu0) * 1000:.3f}\n")
        return {**config, TRIAL_KEY: trial_id}

    def save(self, checkpoint_path: str) -> None:
        """Tune pickles its searcher into every experiment checkpoint; OptunaSearch's pickle holds the whole study,
        a cost that grows with every trial. Nothing reads it back (resume.py rebuilds the search from the study and
        the trial folders), so an empty file is written."""
        with open(checkpoint_path, "wb"):
            pass

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """The step is the trial's epoch, not Tune's iteration count, which restarts at 1 for a continued trial."""
        if isinstance(self.metric, list) or trial_id in self._completed_trials or self.metric not in result:
            return
        self._ot_trials[trial_id].report(result[self.metric], int(result.get("epoch") or result["training_iteration"]))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials:
            return
        if not error and result is not None and 0 < int(result.get("epoch") or 0) < self._epochs:
            import optuna

            self._ot_study.tell(self._ot_trials[trial_id], None, state=optuna.trial.TrialState.PRUNED)
            self._completed_trials.add(trial_id)
        else:
            super().on_trial_complete(trial_id, result=result, error=error)
        faults.at("told")
