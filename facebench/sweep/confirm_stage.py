"""The confirmation stage's Ray side: every (recipe, seed) cell as a Tune trial in the sweep's own ``trials/``.

Kept apart from confirm.py, which picks the recipes and judges them, so that what needs Ray (the stage's
spec, Tuner and result grid) is in one place; calibrate.py re-runs its configurations through ``rerun`` too.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artefacts import FAILED, SweepDir
from . import space
from .session import Placement, ray_session, trial_threads
from .spec import SweepSpec

if TYPE_CHECKING:  # confirm.py imports this module: its Recipe only annotates here
    from .confirm import Recipe


def confirm_trial(config: dict, setup: Any, recipes: list[dict]) -> None:
    """The Tune trainable of the stage: one (recipe, seed) cell, trained by the sweep's own trainable."""
    from .trainable import train_trial

    train_trial({**recipes[config["recipe"]], "train.seed": config["train.seed"]}, setup)


def rerun(
    sweep: SweepDir, summary: dict, recipes: list[Recipe], seed_list: list[int], *, placement: Placement, verbose: int
) -> list[list[dict]]:
    """Every (recipe, seed) cell as a Ray trial in the sweep's trials/; per recipe, its runs (``_collect``)."""
    spec = _stage_spec(sweep, summary, recipes)
    with ray_session(spec, placement, sweep, verbose=verbose):
        grid = _tuner(spec, sweep, recipes, seed_list, verbose=verbose).fit()
    return _collect(sweep, grid, len(recipes))


def _stage_spec(sweep: SweepDir, summary: dict, recipes: list[Recipe]) -> SweepSpec:
    saved = sweep.read_spec() or {}
    task = recipes[0].config.get("task", saved.get("task", "face"))
    return SweepSpec(
        name=summary["name"],
        task=task,
        base={},
        space=partial(space.fixed, values={}),
        metric=summary.get("metric", "auto"),
        select=summary.get("select", "best"),
        cpus_per_trial=float(saved.get("cpus_per_trial", 1.0)),
        gpus_per_trial=float(saved.get("gpus_per_trial", 0.0)),
        max_concurrent=int(saved.get("max_concurrent", 0)),
    )


def _tuner(spec: SweepSpec, sweep: SweepDir, recipes: list[Recipe], seed_list: list[int], *, verbose: int) -> Any:
    """A grid of (recipe, seed) cells, each trained by the sweep's own trainable in the sweep's trials/."""
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    from .progress import ProgressLine
    from .trainable import TrialSetup, trial_dirname

    configs = [
        {
            **r.config,
            "name": f"{spec.name} confirmation: {r.label}",
            "train.threads": trial_threads(spec.cpus_per_trial),
        }
        for r in recipes
    ]
    setup = TrialSetup(spec=spec, trials_root=str(sweep.trials))
    trainable = tune.with_resources(
        tune.with_parameters(confirm_trial, setup=setup, recipes=configs),
        {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial},
    )
    # Ray's status block only at verbose 2 (--verbose); otherwise the sweep's one progress line (progress.py).
    callbacks = [JsonLoggerCallback()]
    if verbose == 1:
        callbacks.append(
            ProgressLine(
                name=f"{spec.name} confirmation",
                mode=spec.objective[1],
                total=len(configs) * len(seed_list),
                label=f"{spec.objective[0]} ({spec.select} epoch)",
            )
        )
    return tune.Tuner(
        trainable,
        param_space={"recipe": tune.grid_search(list(range(len(recipes)))), "train.seed": tune.grid_search(seed_list)},
        tune_config=tune.TuneConfig(
            reuse_actors=True,
            trial_dirname_creator=trial_dirname,
            trial_name_creator=trial_dirname,
            max_concurrent_trials=spec.max_concurrent or None,
        ),
        run_config=tune.RunConfig(
            name=f"confirm-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(sweep.path),
            verbose=1 if verbose >= 2 else 0,
            callbacks=callbacks,
        ),
    )


def _collect(sweep: SweepDir, grid: Any, n_recipes: int) -> list[list[dict]]:
    """Per recipe, its runs: trial id, seed, status, the result's metrics and the trial folder."""
    runs: list[list[dict]] = [[] for _ in range(n_recipes)]
    for result in grid:
        trial = sweep.trial(Path(result.path).name)
        record = trial.read_result() or {"status": FAILED}
        runs[int(result.config["recipe"])].append(
            {
                "trial_id": trial.path.name,
                "seed": int(result.config["train.seed"]),
                "status": record.get("status"),
                "metrics": record.get("metrics") or {},
                "trial_dir": str(trial.path),
            }
        )
    for r in runs:
        r.sort(key=lambda run: run["seed"])
    return runs
