"""Accuracy against cost: the second objectives a sweep may declare, and the Pareto front of two objectives.

Plain Python, no torch, no Ray: the sweep (Optuna's directions, summary.json's ``pareto_front``), the engine (what it
measures) and the report (the front it draws) all read the names and the front from here, so they cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# name -> what the engine measures once per trial (engine/cost.py); every one is minimised.
COSTS = {
    "params": "parameters of the embedding model (the backbone; the training head is not deployed)",
    "flops": "FLOPs of one image at the trial's input size (facebench.models.complexity, as `facebench list "
    "--complexity` counts them: backbone + a linear head, 2 FLOPs per multiply-add)",
    "latency_ms": "milliseconds of one batch-1 forward pass of the embedding model on the trial's device: 5 warm-up "
    "passes, then the median of 30 timed passes under torch.inference_mode (CUDA synchronised)",
}
COST_KEY = "cost"  # the reported key (every epoch's row, Tune's result, result.json's metrics)


def check_cost(name: str, *, where: str = "second_objective") -> str:
    """``name`` if it is a known cost, else one line listing the allowed ones (a ConfigError: exit 2)."""
    from .errors import ConfigError

    if name not in COSTS:
        raise ConfigError(f"{where} {name!r}: not a cost facebench measures; choose one of: {', '.join(COSTS)}")
    return name


def dominates(a: Sequence[float], b: Sequence[float], modes: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` on every objective and strictly better on one."""
    better = [x > y if m == "max" else x < y for x, y, m in zip(a, b, modes)]
    worse = [x < y if m == "max" else x > y for x, y, m in zip(a, b, modes)]
    return any(better) and not any(worse)


def non_dominated(points: Sequence[Sequence[float]], modes: Sequence[str] = ("max", "min")) -> list[int]:
    """Indices (ascending) of the points no other point dominates; points with a missing or non-finite value are
    never on the front. Two identical points do not dominate each other: both stay. O(n log n) for two objectives."""
    ok = [i for i, p in enumerate(points) if all(_finite(v) for v in p)]
    signs = [(-1.0 if m == "max" else 1.0) for m in modes]
    # Minimise both: sort by the second objective, then the first; a point is on the front when its first value
    # beats every point with a strictly smaller second value (ties in the second are one group).
    keyed = sorted(ok, key=lambda i: (signs[1] * points[i][1], signs[0] * points[i][0]))
    front, best_before, j = [], math.inf, 0
    while j < len(keyed):
        group = [i for i in keyed[j:] if signs[1] * points[i][1] == signs[1] * points[keyed[j]][1]]
        top = signs[0] * points[group[0]][0]  # the group's best first value (sorted)
        if top < best_before:
            front += [i for i in group if signs[0] * points[i][0] == top]
            best_before = top
        j += len(group)
    return sorted(front)


def front_rows(rows: Sequence[dict[str, Any]], *, mode: str) -> list[dict[str, Any]]:
    """The completed rows (dicts with ``objective`` and ``cost``) on the front, cheapest first."""
    done = [r for r in rows if r.get("status") == "completed"]
    idx = non_dominated([(_val(r.get("objective")), _val(r.get(COST_KEY))) for r in done], (mode, "min"))
    return sorted((done[i] for i in idx), key=lambda r: (_val(r.get(COST_KEY)), r.get("trial_id", "")))


def _val(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
