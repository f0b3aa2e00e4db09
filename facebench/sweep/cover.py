"""A smoke run that exercises the whole space: its first trials visit every choice of every categorical parameter.

A handful of TPE or random draws can miss a whole family (four VAE-sweep smoke trials that are all AEs or
denoising AEs and no VAE). ``covering_points`` finds the space's categorical parameters by asking it (a
define-by-run space declares them only when called) and lines their choices up: point ``i`` takes choice
``i mod len(choices)`` of each parameter, so ``max(len(choices))`` trials visit every value of every one.
Keys the smoke run forces anyway (the image size, the data) are left to the force.
"""

from __future__ import annotations

from typing import Any

from .spec import SweepSpec


def covering_points(spec: SweepSpec, *, probes: int = 64) -> list[dict[str, Any]]:
    """Optuna parameter values for the first trials; each point is checked through the space and the config
    validation (a ConfigError names the key), so a covering trial never fails for being an invalid combination."""
    import optuna

    from .trainable import validate_config

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.seed))
    choices: dict[str, list] = {}
    for _ in range(probes):
        trial = study.ask()
        spec.space(trial)
        for name, dist in trial.distributions.items():
            if isinstance(dist, optuna.distributions.CategoricalDistribution) and name not in spec.forced:
                choices.setdefault(name, list(dist.choices))
        study.tell(trial, 0.0)
    n = max((len(c) for c in choices.values()), default=0)
    points = [{name: c[i % len(c)] for name, c in choices.items()} for i in range(n)]
    for point in points:
        study.enqueue_trial(point)
        trial = study.ask()
        validate_config(spec.trial_config({**trial.params, **(spec.space(trial) or {})}))
        study.tell(trial, 0.0)
    return points
