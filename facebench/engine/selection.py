"""Which epoch is the trial: the one objective a sweep ranks by, applied inside the trial.

``train.objective`` names a validation metric (with its direction) and ``train.select`` how the trial's value
is taken from its epochs: ``best`` (early stopping: the best epoch's weights are kept and that model is tested)
or ``last``. After every epoch the running value goes into the epoch's metrics as ``objective`` (with
``objective_se`` and ``objective_epoch``): that is the number Tune's scheduler compares and Optuna is told, and
the final one is what the sweep summary and the report rank. Ties keep the earlier epoch.

``objective_se`` is the metric's own ``<metric>_se`` at the chosen epoch: for ``val_accuracy`` of a face or
autoencoder trial the standard error clustered by person (pairs that share someone are not independent; see
facebench/eval/uncertainty.py), not the binomial one of earlier versions. It counts the validation people only:
seed-to-seed variance needs the other trials, so the sweep summary adds it (``objective_ci95``, ``objective_pi95``).
"""

from __future__ import annotations

import math
from typing import Any

from ..config import TrialConfig


class Selection:
    def __init__(self, cfg: TrialConfig, chosen: dict[str, Any] | None = None) -> None:
        self.metric, self.mode = cfg.objective
        self.rule = cfg.train.select
        # {"epoch", "value", "se", "model", "loss"}; weights only under "best" (under "last" the live model is it)
        self.chosen = chosen if chosen is not None and "value" in chosen else None

    def better(self, value: float) -> bool:
        if self.chosen is None or not math.isfinite(self.chosen["value"]):
            return True
        return value > self.chosen["value"] if self.mode == "max" else value < self.chosen["value"]

    def update(self, metrics: dict[str, Any], task: Any) -> dict[str, Any]:
        """Take epoch ``metrics`` into account; returns the trial's running ``objective*`` fields. ``task``
        gives a CPU copy of its weights (model and loss head) when this epoch becomes the chosen one."""
        value = float(metrics[self.metric])
        se = float(metrics.get(f"{self.metric}_se", math.nan))
        if self.rule == "last" or self.better(value):
            self.chosen = {"epoch": int(metrics["epoch"]), "value": value, "se": se, "model": None, "loss": None}
            if self.rule == "best":
                self.chosen.update(task.cpu_state_dict())
        return self.fields()

    def fields(self) -> dict[str, Any]:
        if self.chosen is None:
            return {}
        return {
            "objective": self.chosen["value"],
            "objective_se": self.chosen["se"],
            "objective_epoch": self.chosen["epoch"],
        }

    def load_chosen(self, task: Any) -> None:
        """Put the chosen epoch's weights back before testing (a no-op under ``last``)."""
        if self.chosen is not None and self.chosen.get("model") is not None:
            task.load_state_dict(self.chosen)

    def describe(self) -> dict[str, Any]:
        """result.json's ``selection``: how the objective was defined, so readers rank without guessing."""
        return {"metric": self.metric, "mode": self.mode, "select": self.rule, **self.fields()}
