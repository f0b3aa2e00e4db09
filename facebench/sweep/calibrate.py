"""Calibration of the objective's prediction interval, measured (docs/evaluation.md, "Calibration").

``facebench confirm SWEEP --calibrate N --seeds S [--calibrate-seed R]`` picks N distinct configurations of a
finished sweep's completed trials at random (numpy's ``default_rng(R)``, recorded; not the top ones, which regress
to the mean), re-runs each with S seeds no trial used (the confirmation stage's machinery: confirm.rerun), and
writes ``calibration`` into summary.json: ``coverage``, the fraction of the new-seed objectives inside their source
trial's ``objective_pi95``; its ``ci95`` (Wilson, statsmodels' proportion_confint); ``n``; and ``runs`` (one
{source_trial_id, seed, objective, trial_id, inside} per completed re-run).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..artefacts import COMPLETED, SweepDir
from ..errors import ConfigError
from ..eval.confirmation import coverage
from .confirm import Recipe, _completed, load_finished, new_seeds, recipes_of, rerun
from .intervals import config_key
from .session import LOCAL, Placement


def pick_random(summary: dict, n: int, rng_seed: int) -> list[Recipe]:
    """``n`` completed trials of distinct configurations with an ``objective_pi95``, drawn at random."""
    import numpy as np

    if n < 1:
        raise ConfigError(f"--calibrate {n}: re-run at least 1 configuration")
    rows = [r for r in _completed(summary) if isinstance(r.get("objective_pi95"), list)]
    if not rows:
        raise ConfigError(
            "--calibrate: no completed trial has an objective_pi95 (a summary.json written before "
            "prediction intervals were recorded; re-summarise the sweep with this facebench)"
        )
    by_config: dict[str, dict] = {}
    for r in sorted(rows, key=lambda r: r["trial_id"]):
        by_config.setdefault(config_key(r["trial_dir"]), r)
    pool = list(by_config.values())
    if n > len(pool):
        raise ConfigError(f"--calibrate {n}: the sweep has {len(pool)} distinct completed configurations")
    chosen = [pool[i] for i in sorted(np.random.default_rng(rng_seed).choice(len(pool), size=n, replace=False))]
    return recipes_of(chosen)


def run_calibration(
    sweep_dir: str | os.PathLike,
    *,
    configs: int,
    seeds: int,
    rng_seed: int = 0,
    placement: Placement = LOCAL,
    verbose: int = 0,
    allow_version_change: bool = False,
) -> dict:
    from .lock import driver_lock
    from .version import check_version

    sweep = SweepDir(Path(sweep_dir).absolute())
    summary = load_finished(sweep.path)
    recipes = pick_random(summary, configs, rng_seed)  # bad input refused before the lock and before Ray
    with driver_lock(sweep.path, what="confirm"):
        check_version(sweep, allow=allow_version_change, what="confirm --calibrate")  # may write sweep.json
        summary = load_finished(sweep.path)
        seed_list = new_seeds(summary, seeds)
        print(
            f"facebench confirm --calibrate: {len(recipes)} random configuration(s) (rng seed {rng_seed}) x "
            f"{len(seed_list)} new seed(s) {seed_list}"
        )
        runs = rerun(sweep, summary, recipes, seed_list, placement=placement, verbose=verbose)
        pis = {r["trial_id"]: r["objective_pi95"] for r in summary["trials"] if r.get("objective_pi95")}
        done = [
            {
                "source_trial_id": rec.source_trial,
                "seed": run["seed"],
                "objective": run["metrics"]["objective"],
                "trial_id": run["trial_id"],
            }
            for rec, rs in zip(recipes, runs)
            for run in rs
            if run["status"] == COMPLETED and isinstance(run["metrics"].get("objective"), (int, float))
        ]
        calibration = {
            **coverage(done, pis),
            "rng_seed": rng_seed,
            "configurations": [r.source_trial for r in recipes],
            "seeds": seed_list,
            "failed": [run["trial_id"] for rs in runs for run in rs if run["status"] != COMPLETED],
            "runs": done,
        }
        summary["calibration"] = calibration
        sweep.write_summary(summary)
    print(
        f"facebench confirm --calibrate: {calibration['inside']} of {calibration['n']} new-seed objectives inside "
        f"their objective_pi95: coverage {calibration['coverage']:.3f} (95% CI {calibration['ci95'][0]:.3f}-"
        f"{calibration['ci95'][1]:.3f})"
    )
    return calibration
