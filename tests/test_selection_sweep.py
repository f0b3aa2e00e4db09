"""One objective end to end: Optuna's best trial, summary.json's #1 and the report's #1 are the same trial with
the same value, for the demo sweep and for an ASHA sweep whose scheduler stopped trials (those are PRUNED)."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import pytest

from facebench.sweep import SweepSpec, space
from facebench.sweep.presets import SMOKE_FACE

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sweeps"))
pytestmark = pytest.mark.slow


def assert_one_objective(sweep_dir: Path, name: str) -> dict:
    import optuna
    import pyarrow.parquet as pq

    from facebench.report import build_report
    from facebench.report.stats import rank_trials
    from facebench.sweep.resume import TRIAL_ATTR  # the study trial's link to its folder

    summary = json.loads((sweep_dir / "summary.json").read_text())
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{sweep_dir / 'study.db'}")
    first, best = summary["trials"][0], study.best_trial
    assert first["status"] == "completed"
    assert (best.user_attrs[TRIAL_ATTR], best.value) == (first["trial_id"], first["objective"])
    report = sweep_dir / "report"
    build_report([str(sweep_dir)], out=report)
    ranked = rank_trials(pq.read_table(report / "trials.parquet").to_pandas())
    assert (ranked["trial_id"].iloc[0], ranked["objective"].iloc[0]) == (first["trial_id"], best.value)
    assert (
        f"/{first['trial_id']})" in (report / "index.html").read_text().split("best by the sweep's objective")[1][:400]
    )
    by_id = {t.user_attrs[TRIAL_ATTR]: t for t in study.trials}
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
    assert summary["metric"] == "val_accuracy" and summary["select"] == "best"


def test_asha_sweep_with_stopped_trials_has_one_objective(ray_local, tmp_path):
    from facebench.sweep import Output, run_sweep

    # One trial at a time: ASHA's decisions then depend on the (seeded) values only, not on timing.
    spec = SweepSpec(
        name="asha",
        task="face",
        base={**SMOKE_FACE, "model.backbone": "cnn", "loss.name": "arcface", "train.epochs": 4},
        space=partial(space.fixed, values={}, lr=(1e-4, 0.3)),
        scheduler="asha",
        grace_period=1,
        reduction_factor=2,
        num_samples=6,
        max_concurrent=1,
        cpus_per_trial=1,
        seed=3,
    )
    summary = run_sweep(spec, output=Output(results=str(tmp_path), verbose=0))
    assert summary["counts"]["stopped"] >= 1 and summary["counts"]["completed"] >= 1, summary["counts"]
    assert_one_objective(tmp_path / "asha", "asha")


def test_demo_with_confirmation_opens_with_the_verdicts(ray_local, tmp_path, capsys):
    """--confirm K larger than the completed trials confirms them all and says so; the confirmation runs are
    trials of the same folder; the sweep's ranking is unchanged by them; the report opens with the verdicts."""
    import demo

    from facebench.cli import main as facebench
    from facebench.sweep import main

    rc = main(
        demo.SPEC,
        [
            "--smoke",
            "--num-samples",
            "2",
            "--results",
            str(tmp_path),
            "--quiet",
            "--local",
            "--confirm",
            "5",
            "--seeds",
            "2",
        ],
    )
    out = capsys.readouterr().out
    sweep_dir = tmp_path / "demo-smoke"
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert rc == 0 and "--top 5, but the sweep has 2 completed trials: confirming all 2" in out
    assert out.index("exploratory: one seed per configuration") < out.index("facebench confirm: ")
    conf = summary["confirmation"]
    assert len(conf) == 2 and conf[0]["best"] and not conf[1]["best"]
    sweep_ids = {t["trial_id"] for t in summary["trials"]}
    for c in conf:
        assert c["seeds"] == [1, 2] and len(c["trial_ids"]) == 2 and not sweep_ids & set(c["trial_ids"])
        assert c["ci95"][0] <= c["test_accuracy_mean"] <= c["ci95"][1]
        for tid in c["trial_ids"]:
            cfg = json.loads((sweep_dir / "trials" / tid / "config.json").read_text())
            assert cfg["train.seed"] in (1, 2) and "confirmation" in cfg["name"]
            assert cfg["train.threads"] == 1  # one thread per CPU the trial holds, as the sweep's trials
    vs = conf[1]["vs_best"]
    assert vs["ci"][0] <= vs["difference"] <= vs["ci"][1] and 0 <= vs["p_adjusted"] <= 1 and conf[1]["verdict"]
    assert conf[1]["verdict"] in out and conf[1]["verdict_line"] in out and conf[0]["verdict"] == "reference"
    assert conf[1]["verdict"].startswith(("better by", "worse by", "equivalent within", "inconclusive: CI"))
    assert [r["seed"] for r in conf[1]["per_seed"]] == [1, 2] and conf[1]["source_trial_ids"]
    assert "80% power" in conf[1]["verdict_line"] and len(vs["p_mcnemar_per_seed"]) == 2
    page = (sweep_dir / "report" / "index.html").read_text()
    sections = page.split('<section id="')
    assert sections[1].startswith("confirmation") and conf[1]["verdict"].split(" (")[0] in sections[1]
    assert_one_objective(sweep_dir, "demo-smoke")  # confirmation runs never displace the sweep's own #1

    # Bad input: one line, exit 2.
    assert facebench(["confirm", str(sweep_dir), "--per", "loss.nope", "--local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--per 'loss.nope'" in err[0] and "optim.lr" in err[0]  # the keys that vary
    empty = tmp_path / "empty"
    empty.mkdir()
    assert facebench(["confirm", str(empty), "--local"]) == 2
    assert "not the folder of a finished sweep" in capsys.readouterr().err


def test_confirm_on_a_sweep_without_a_completed_trial_is_one_line(ray_local, tmp_path, capsys):
    from facebench.cli import main as facebench
    from facebench.sweep import Output, run_sweep

    diverges = {"model.backbone": "cnn", "loss.name": "ce", "optim.name": "sgd", "optim.lr": 1e6, "train.epochs": 2}
    spec = SweepSpec(
        name="nothing",
        task="face",
        base={**SMOKE_FACE, **diverges},
        space=partial(space.fixed, values={}),
        scheduler="fifo",
        num_samples=1,
        cpus_per_trial=1,
    )
    assert run_sweep(spec, output=Output(results=str(tmp_path), verbose=0))["counts"]["completed"] == 0
    capsys.readouterr()
    assert facebench(["confirm", str(tmp_path / "nothing"), "--local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no completed trial to confirm" in err[0]
