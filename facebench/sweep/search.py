"""OptunaSearch that keeps its study honest across a driver crash."""

from __future__ import annotations

import logging

from ray.tune.search.optuna import OptunaSearch

log = logging.getLogger(__name__)


class StudySearch(OptunaSearch):
    """On resume, an Optuna trial left RUNNING by a killed driver that Tune no longer knows about is marked
    FAIL; otherwise it stays RUNNING in the database forever and skews TPE and optuna-dashboard.

    ``start_points``: parameter values of the first trials (a smoke run's covering points), queued in the
    study once, when it is new: a study reopened by a later run already holds them."""

    def __init__(self, *args, start_points: tuple = (), **kwargs) -> None:
        self._start_points = list(start_points)
        super().__init__(*args, **kwargs)

    def _setup_study(self, mode) -> None:
        super()._setup_study(mode)
        if self._start_points and not self._ot_study.get_trials(deepcopy=False):
            for point in self._start_points:
                self._ot_study.enqueue_trial(point)
        self._start_points = []

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
