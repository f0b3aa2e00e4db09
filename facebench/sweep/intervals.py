"""Each trial's two intervals (docs/evaluation.md, "Uncertainty of the objective"), computed over the whole sweep.

A trial's ``objective_se`` (the engine's) counts the validation people; seed-to-seed variance needs the other
trials. Trials whose configurations are equal but for ``train.seed`` (Optuna proposing one twice, confirmation or
calibration runs) are one configuration: ``objective_ci95`` is the 95% confidence interval of its mean objective,
``objective_pi95`` the 95% prediction interval for its objective under a new seed (eval.uncertainty.seed_intervals).

The training part of the seed variance is the sweep's pooled within-configuration variance less the mean squared
``objective_se`` of those runs (each new seed also draws new validation people), when the repeated configurations
give at least ``MIN_SEED_DF`` degrees of freedom; otherwise the stated ``DEFAULT_SEED_SD``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..artefacts import COMPLETED, TrialDir

# Keys that tell runs of one configuration apart without changing it (confirm.NOT_RECIPE, repeated to keep
# this module free of Ray-importing ones).
NOT_CONFIG = ("name", "train.seed", "train.threads", "train.device", "data.cache_dir")
# The training part of the seed sd when the sweep cannot estimate it: the real margin sweep's objective varied by
# sd 0.03-0.04 across seeds of one configuration, of which the validation people account for ~0.015.
DEFAULT_SEED_SD = 0.03
MIN_SEED_DF = 4


def config_key(trial_dir: str) -> str:
    """What identifies a trial's configuration: its flat config without the keys of NOT_CONFIG."""
    cfg = TrialDir(trial_dir).read_config()
    return repr(sorted((k, repr(v)) for k, v in cfg.items() if k not in NOT_CONFIG))


def seed_variance(groups: Iterable[list[tuple[float, float]]]) -> dict[str, Any]:
    """``seed_variance`` of summary.json: {sd, df, source} from groups of (objective, objective_se) per config."""
    from ..eval.uncertainty import pooled_seed_variance

    groups = [g for g in groups if len(g) > 1]
    var, df = pooled_seed_variance([[v for v, _ in g] for g in groups])
    if df >= MIN_SEED_DF:
        se2 = [s * s for g in groups for _, s in g if math.isfinite(s)]
        part = max(var - (sum(se2) / len(se2) if se2 else 0.0), 0.0)
        return {
            "sd": math.sqrt(part),
            "df": df,
            "source": f"pooled within {len(groups)} configuration(s) run with "
            f"several seeds ({df} df), less the validation people's share",
        }
    return {
        "sd": DEFAULT_SEED_SD,
        "df": None,
        "source": f"stated default ({df} df of repeated configurations, fewer than {MIN_SEED_DF})",
    }


def add_intervals(rows: list[dict], extra: Iterable[dict] = ()) -> dict[str, Any]:
    """Write ``objective_ci95``, ``objective_pi95``, ``objective_config_mean`` and ``objective_config_seeds``
    into each completed row (``extra``: more completed runs, e.g. confirmation rows, that count towards their
    configuration but get no fields); returns summary.json's ``seed_variance``."""
    from ..eval.uncertainty import seed_intervals

    groups: dict[str, list[tuple[float, float]]] = {}
    keyed = []
    for r in [*rows, *extra]:
        value = _num(r.get("objective"))
        if r.get("status") != COMPLETED or not math.isfinite(value) or not r.get("trial_dir"):
            continue
        key = config_key(r["trial_dir"])
        groups.setdefault(key, []).append((value, _num(r.get("objective_se"))))
        keyed.append((r, key))
    seeds = seed_variance(groups.values())
    df = seeds["df"] if seeds["df"] is not None else math.inf
    own = {id(r) for r in rows}
    for r, key in keyed:
        if id(r) not in own:
            continue
        g = groups[key]
        se2 = [s * s for _, s in g if math.isfinite(s)]
        mean = sum(v for v, _ in g) / len(g)
        ci, pi = seed_intervals(mean, len(g), math.sqrt(sum(se2) / len(se2)) if se2 else 0.0, seeds["sd"], df)
        r.update(objective_ci95=ci, objective_pi95=pi, objective_config_mean=mean, objective_config_seeds=len(g))
    return seeds


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
