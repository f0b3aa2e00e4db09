"""Trackers people already use, through Ray Tune's own logger callbacks (``--log tensorboard``, ``--log mlflow``).

TensorBoard: Tune's ``TBXLoggerCallback`` writes event files into each trial's folder under ``<sweep>/ray/``
(``tensorboard --logdir runs/<name>/ray``). MLflow: Tune's ``MLflowLoggerCallback``, one run per trial, into
``--mlflow-uri`` (a tracking server, any database) or by default a SQLite store ``<sweep>/mlflow.db``
(``mlflow ui --backend-store-uri sqlite:///runs/<name>/mlflow.db``). Imported only when ``--log`` asks for one:
the packages are the optional extra ``facebench[trackers]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ray.air.integrations.mlflow import MLflowLoggerCallback

from ..artefacts import SweepDir
from ..errors import ConfigError


def tracker_callbacks(
    trackers: tuple[str, ...],
    *,
    name: str,
    sweep: SweepDir,
    mlflow_tracking_uri: str | None,
    trial_config: Callable[[dict], dict],
) -> list:
    """Ray Tune's own logger callbacks for the trackers asked for; a missing package says which extra to install."""
    callbacks = []
    for tracker in trackers:
        try:
            if tracker == "tensorboard":
                import tensorboardX  # noqa: F401  Tune's TBX logger only warns and logs nothing without it
                from ray.tune.logger import TBXLoggerCallback

                callbacks.append(TBXLoggerCallback())
            else:
                callbacks.append(_mlflow_callback(name, mlflow_uri(sweep, mlflow_tracking_uri), trial_config))
        except ImportError as e:
            raise ConfigError(
                f"--log {tracker}: {e.name} is not installed; pip install 'facebench[trackers]'"
            ) from None
    return callbacks


def mlflow_uri(sweep: SweepDir, uri: str | None) -> str:
    """The MLflow tracking URI: ``--mlflow-uri`` (a server, a database), else a SQLite file in the sweep folder
    (MLflow 3 refuses its old ``./mlruns`` folder store unless told otherwise; SQLite is its local default)."""
    return uri or f"sqlite:///{sweep.mlflow_db.absolute()}"


class _MLflowLogger(MLflowLoggerCallback):
    """Tune's MLflow logger, logging each run's full trial config (base keys too) under the real config keys:
    the sweep's Optuna-only aliases (``optim.lr@adamw``) are not valid MLflow parameter or metric names."""

    def __init__(self, *, trial_config: Callable[[dict], dict], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trial_config = trial_config

    def log_trial_start(self, trial: Any) -> None:
        if trial not in self._trial_runs:
            run = self.mlflow_util.start_run(tags={**self.tags, "trial_name": str(trial)}, run_name=str(trial))
            self._trial_runs[trial] = run.info.run_id
        self.mlflow_util.log_params(run_id=self._trial_runs[trial], params_to_log=self.trial_config(trial.config))

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        # Tune adds the trial's config to every result; it is logged once as parameters above.
        super().log_trial_result(iteration, trial, {k: v for k, v in result.items() if k != "config"})


def _mlflow_callback(name: str, uri: str, trial_config: Callable[[dict], dict]):
    """Check the tracking store before any trial runs: an unreachable server is one line, not a traceback
    from inside Tune after the first epoch."""
    import mlflow

    try:
        mlflow.MlflowClient(uri).search_experiments(max_results=1)
    except Exception as e:  # MlflowException, a connection error, a bad URI scheme: all mean "cannot log there"
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        raise ConfigError(
            f"--mlflow-uri {uri}: MLflow cannot use this tracking store "
            f"({type(e).__name__}: {lines[0][:200] if lines else ''})"
        ) from None
    return _MLflowLogger(tracking_uri=uri, experiment_name=name, save_artifact=False, trial_config=trial_config)
