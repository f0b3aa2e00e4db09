"""Accuracy against cost without Ray: the front against a brute-force non-dominated filter, the declared names, and
the engine's cost measurement (reported every epoch, recorded in result.json, training unchanged by it)."""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

from facebench.errors import ConfigError
from facebench.pareto import COSTS, dominates, front_rows, non_dominated


def brute_force(points, modes):
    """The definition itself, O(n^2): a point is on the front when no other point dominates it."""
    ok = [i for i, p in enumerate(points) if all(isinstance(v, (int, float)) and math.isfinite(v) for v in p)]
    return [i for i in ok if not any(dominates(points[j], points[i], modes) for j in ok if j != i)]


@pytest.mark.parametrize("modes", [("max", "min"), ("min", "min"), ("max", "max"), ("min", "max")])
def test_front_matches_brute_force_on_random_points_with_ties(modes):
    rng = random.Random(0)
    for _ in range(500):
        n = rng.randint(0, 12)
        # few distinct values: equal accuracies, equal costs and identical points are common
        points = [(rng.choice([0.5, 0.6, 0.7, 0.8, math.nan]), rng.choice([1, 2, 3, None])) for _ in range(n)]
        assert non_dominated(points, modes) == brute_force(points, modes), points


def test_front_known_answers():
    assert non_dominated([]) == []
    assert non_dominated([(0.7, 10.0)]) == [0]  # a single trial is its own front
    assert non_dominated([(0.7, 10.0), (0.7, 10.0)]) == [0, 1]  # identical trials: both stay
    assert non_dominated([(0.7, 10.0), (0.6, 10.0)]) == [0]  # equal cost: the less accurate goes
    assert non_dominated([(0.7, 10.0), (0.7, 5.0)]) == [1]  # equal accuracy: the dearer goes
    assert non_dominated([(0.9, 30.0), (0.8, 20.0), (0.85, 40.0), (0.5, 1.0)]) == [0, 1, 3]
    assert non_dominated([(math.nan, 1.0), (0.5, 2.0)]) == [1]  # a missing value is never on it


def test_the_brute_force_filter_can_fail():
    """A deliberately wrong front (every point) differs from the filter wherever something is dominated."""
    points = [(0.9, 1.0), (0.8, 2.0)]
    assert brute_force(points, ("max", "min")) == [0] != list(range(len(points)))


def test_front_rows_uses_completed_trials_only_and_sorts_by_cost():
    rows = [
        {"trial_id": "a", "status": "completed", "objective": 0.7, "cost": 5.0},
        {"trial_id": "b", "status": "failed", "objective": 0.99, "cost": 1.0},  # never on the front
        {"trial_id": "c", "status": "completed", "objective": 0.9, "cost": 9.0},
        {"trial_id": "d", "status": "completed", "objective": 0.6, "cost": 9.0},
    ]
    assert [r["trial_id"] for r in front_rows(rows, mode="max")] == ["a", "c"]


def test_second_objective_names_are_checked_in_the_spec():
    from functools import partial

    from facebench.sweep import SweepSpec, space

    kw = {"name": "p", "task": "face", "base": {}, "space": partial(space.fixed, values={})}
    with pytest.raises(ConfigError, match="choose one of: params, flops, latency_ms"):
        SweepSpec(**kw, second_objective="bogus")
    spec = SweepSpec(**kw, second_objective="flops")
    assert spec.objectives == [("objective", "max"), ("cost", "min")]
    assert SweepSpec(**kw).objectives == [("objective", "max")]
    assert "second_objective" not in SweepSpec(**kw).to_json()  # a one-objective sweep.json is unchanged
    assert set(COSTS) == {"params", "flops", "latency_ms"}


TINY = {
    "task": "face",
    "data.train": "synthetic",
    "data.synthetic_identities": 12,
    "data.synthetic_images": 4,
    "data.image_size": 32,
    "data.val_pairs": 20,
    "model.backbone": "cnn",
    "model.width": 0.25,
    "model.stem": "cifar",
    "train.epochs": 2,
    "train.batch_size": 16,
    "train.threads": 1,
    "train.device": "cpu",
    "eval.batch_size": 64,
    "eval.flip": "none",
}


@pytest.mark.parametrize("cost", ["params", "flops", "latency_ms"])
def test_engine_reports_the_cost_every_epoch_and_records_it(tmp_path, cost):
    from facebench.engine import run_trial

    rows: list[dict] = []
    result = run_trial(TINY, rows.append, trial_dir=tmp_path / "t", cost=cost)
    assert result["status"] == "completed"
    values = {r["cost"] for r in rows}
    assert len(rows) == 2 and len(values) == 1  # from the first epoch, the same number every epoch
    recorded = json.loads((tmp_path / "t" / "result.json").read_text())
    assert recorded["metrics"]["cost"] == values.pop() > 0 and recorded["cost"]["name"] == cost
    assert recorded["metrics"][cost] == pytest.approx(recorded["metrics"]["cost"])
    if cost == "latency_ms":
        assert recorded["cost"]["timed"] == 30 and recorded["cost"]["statistic"] == "median"
        assert recorded["cost"]["min_ms"] <= recorded["metrics"]["cost"] <= recorded["cost"]["max_ms"]


def test_measuring_the_cost_changes_no_trained_number(tmp_path):
    from facebench.engine import run_trial

    plain, timed = [], []
    run_trial(TINY, plain.append, trial_dir=tmp_path / "a")
    run_trial(TINY, timed.append, trial_dir=tmp_path / "b", cost="latency_ms")
    keys = ("train_loss", "val_accuracy", "objective")
    assert [[r[k] for k in keys] for r in plain] == [[r[k] for k in keys] for r in timed]
    assert "cost" not in plain[0] and "cost" not in json.loads((tmp_path / "a" / "result.json").read_text())


def test_brute_force_on_every_small_grid():
    """Exhaustive over all 3-point sets on a 3x3 grid (ties and equal costs everywhere)."""
    grid = list(itertools.product([0.1, 0.2, 0.3], [1.0, 2.0, 3.0]))
    for points in itertools.product(grid, repeat=3):
        assert non_dominated(points) == brute_force(points, ("max", "min"))
