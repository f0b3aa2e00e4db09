"""OptunaSearch that keeps its study honest across a driver crash."""

from __future__ import annotations

import logging
from typing import Any

from ray.tune.search.optuna import OptunaSearch

log = logging.getLogger(__name__)


class StudySearch(OptunaSearch):
    """On resume, an Optuna trial left RUNNING by a killed driver that Tune no longer knows about is marked
    FAIL; otherwise it stays RUNNING in the database forever and skews TPE and optuna-dashboard.

    A trial that ends before its last epoch without an error was stopped by the scheduler: it is told to the
    study as PRUNED (its per-epoch objectives stay as intermediate values), so the study's best trial is always
    a completed one, the same trial the sweep summary and the report rank first.
    """

    def __init__(self, *args: Any, epochs: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epochs = epochs

    def suggest(self, trial_id: str) -> dict | None:
        config = super().suggest(trial_id)
        if trial_id in self._ot_trials:   # the link from a study trial to its trial directory (trials/<trial_id>)
            self._ot_trials[trial_id].set_user_attr("trial_id", trial_id)
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        stopped = (not error and result is not None and self._epochs
                   and int(result.get("epoch", 0)) < self._epochs and trial_id in self._ot_trials
                   and trial_id not in self._completed_trials)
        if not stopped:
            super().on_trial_complete(trial_id, result, error)
            return
        import optuna

        try:
            self._ot_study.tell(self._ot_trials[trial_id], None, state=optuna.trial.TrialState.PRUNED)
        except Exception as exc:  # noqa: BLE001 - as OptunaSearch does: the study already holds this trial
            log.warning(exc)
        self._completed_trials.add(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        import optuna

        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            # The trial finished after Tune last saved its state and before the driver died; on resume the
            # trainable replays its recorded result, which the study already holds.
            log.info("optuna already holds the result of trial %s", trial_id)

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        self.fail_orphans()

    def fail_orphans(self) -> list[int]:
        import optuna

        live = {t.number for tid, t in self._ot_trials.items() if tid not in self._completed_trials}
        failed = []
        running = self._ot_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        for frozen in running:
            if frozen.number not in live:
                self._ot_study._storage.set_trial_state_values(frozen._trial_id, optuna.trial.TrialState.FAIL)
                failed.append(frozen.number)
        if failed:
            log.warning("optuna trials %s were left RUNNING by an interrupted driver; marked FAIL", failed)
        return failed
