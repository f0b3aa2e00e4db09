"""One objective end to end: Optuna's best trial, summary.json's #1 and the report's #1 are the same trial with
the same value, for the demo sweep and for an ASHA sweep whose scheduler stopped trials (those are PRUNED)."""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path

import pytest

from facebench.sweep import SweepSpec, space
from facebench.sweep.presets import SMOKE_FACE

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sweeps"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local():
    from facebench.sweep.runner import RAY_ENV

    for k, v in RAY_ENV.items():
        os.environ.setdefault(k, v)
    import ray

    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def assert_one_objective(sweep_dir: Path, name: str) -> dict:
    import optuna
    import pyarrow.parquet as pq

    from facebench.report import build_report
    from facebench.report.stats import rank_trials

    summary = json.loads((sweep_dir / "summary.json").read_text())
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{sweep_dir / 'study.db'}")
    first, best = summary["trials"][0], study.best_trial
    assert first["status"] == "completed"
    assert (best.user_attrs["trial_id"], best.value) == (first["trial_id"], first["objective"])
    report = sweep_dir / "report"
    build_report([str(sweep_dir)], out=report)
    ranked = rank_trials(pq.read_table(report / "trials.parquet").to_pandas())
    assert (ranked["trial_id"].iloc[0], ranked["objective"].iloc[0]) == (first["trial_id"], best.value)
    assert f"/{first['trial_id']})" in (report / "index.html").read_text().split("best by the sweep's objective")[1][:400]
    by_id = {t.user_attrs["trial_id"]: t for t in study.trials}
    for row in summary["trials"]:
        state = by_id[row["trial_id"]].state
        if row["status"] == "completed":
            assert state == optuna.trial.TrialState.COMPLETE and by_id[row["trial_id"]].value == row["objective"]
        elif row["status"] == "stopped":
            assert state == optuna.trial.TrialState.PRUNED, row["trial_id"]
    return summary


def test_demo_sweep_has_one_objective(ray_local, tmp_path):
    import demo

    from facebench.sweep import main

    assert main(demo.SPEC, ["--smoke", "--num-samples", "3", "--results", str(tmp_path), "--quiet", "--local"]) == 0
    summary = assert_one_objective(tmp_path / "demo-smoke", "demo-smoke")
    assert summary["metric"] == "val_auc" and summary["select"] == "best"


def test_asha_sweep_with_stopped_trials_has_one_objective(ray_local, tmp_path):
    from facebench.sweep.runner import run_sweep

    # One trial at a time: ASHA's decisions then depend on the (seeded) values only, not on timing.
    spec = SweepSpec(name="asha", task="face", base={**SMOKE_FACE, "model.backbone": "cnn", "loss.name": "arcface",
                                                     "train.epochs": 4},
                     space=partial(space.fixed, values={}, lr=(1e-4, 0.3)), scheduler="asha", grace_period=1,
                     reduction_factor=2, num_samples=6, max_concurrent=1, cpus_per_trial=1, seed=3)
    summary = run_sweep(spec, results_dir=str(tmp_path), verbose=0)
    assert summary["counts"]["stopped"] >= 1 and summary["counts"]["completed"] >= 1, summary["counts"]
    assert_one_objective(tmp_path / "asha", "asha")
