"""A Pareto sweep end to end on Ray: the demo sweep's smoke run with ``--second-objective params``.

summary.json's ``pareto_front`` is checked against a brute-force non-dominated filter over the completed trials'
validation objective and cost; Optuna's study has two directions and holds both values of every trial; the report
has the front's section naming every member; ``confirm --front`` picks the members; a resume tells Optuna both values
and refuses another declaration; an unknown name is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from facebench.errors import ConfigError
from facebench.pareto import dominates

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sweeps"))
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
ARGS = ["--smoke", "--second-objective", "params", "--quiet", "--local"]


@pytest.fixture(scope="module")
def pareto_sweep(ray_local, tmp_path_factory):
    import demo

    from facebench.sweep import main

    root = tmp_path_factory.mktemp("runs")
    assert main(demo.SPEC, [*ARGS, "--num-samples", "4", "--results", str(root)]) == 0
    return root


def _front_by_brute_force(rows: list[dict]) -> list[str]:
    done = [r for r in rows if r["status"] == "completed"]
    pts = {r["trial_id"]: (r["objective"], r["cost"]) for r in done}
    return sorted(t for t in pts if not any(dominates(pts[o], pts[t], ("max", "min")) for o in pts if o != t))


def test_summary_lists_the_validation_front(pareto_sweep):
    import optuna

    sweep = pareto_sweep / "demo-smoke"
    summary = json.loads((sweep / "summary.json").read_text())
    front = summary["pareto_front"]
    assert summary["second_objective"] == "params" and front
    assert sorted(f["trial_id"] for f in front) == _front_by_brute_force(summary["trials"])
    rows = {r["trial_id"]: r for r in summary["trials"]}
    for f in front:
        row = rows[f["trial_id"]]
        result = json.loads((Path(row["trial_dir"]) / "result.json").read_text())
        assert row["status"] == "completed" and result["status"] == "completed"
        assert f["objective"] == row["objective"] and f["cost"] == result["metrics"]["params"] > 0
        lo, hi = f["interval_95"]
        assert lo < f["objective"] < hi
    study = optuna.load_study(study_name="demo-smoke", storage=f"sqlite:///{sweep / 'study.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    told = {t.user_attrs["facebench_trial_id"]: t.values for t in study.trials}
    assert all(told[t] == [r["objective"], r["cost"]] for t, r in rows.items() if r["status"] == "completed")


def test_report_draws_the_front_and_names_its_members(pareto_sweep):
    page = (pareto_sweep / "demo-smoke" / "report" / "index.html").read_text()
    section = page.split('<section id="front">')[1].split("</section>")[0]
    summary = json.loads((pareto_sweep / "demo-smoke" / "summary.json").read_text())
    assert "<img" in section and "against params" in section
    for f in summary["pareto_front"]:
        assert f"<td>{f['trial_id']}</td>" in section
    dominated = {r["trial_id"] for r in summary["trials"]} - {f["trial_id"] for f in summary["pareto_front"]}
    assert not any(f"<td>{t}</td>" in section for t in dominated)


def test_confirm_front_picks_the_members(pareto_sweep):
    from facebench.sweep.confirm import load_finished, pick_recipes

    summary = load_finished(pareto_sweep / "demo-smoke")
    recipes, _ = pick_recipes(summary, top=1, front=True)
    assert [r.source_trial for r in recipes] == [f["trial_id"] for f in summary["pareto_front"]]
    with pytest.raises(ConfigError, match="one objective"):
        pick_recipes({k: v for k, v in summary.items() if k != "pareto_front"}, top=1, front=True)


def test_resume_tells_both_values_and_keeps_the_declaration(pareto_sweep):
    import demo
    import optuna

    from facebench.sweep import main

    with pytest.raises(ConfigError, match="ran with objective and params"):
        _resume_one_objective(pareto_sweep)
    assert main(demo.SPEC, [*ARGS, "--resume", "--num-samples", "5", "--results", str(pareto_sweep)]) == 0
    sweep = pareto_sweep / "demo-smoke"
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["counts"]["completed"] == 5
    assert sorted(f["trial_id"] for f in summary["pareto_front"]) == _front_by_brute_force(summary["trials"])
    study = optuna.load_study(study_name="demo-smoke", storage=f"sqlite:///{sweep / 'study.db'}")
    assert len(study.trials) == 5 and all(len(t.values) == 2 for t in study.trials)


def _resume_one_objective(root: Path) -> None:
    """The one-objective demo resumed over the Pareto sweep's folder: refused before anything runs."""
    import demo

    from facebench.sweep import Output, run_sweep

    run_sweep(demo.SPEC.smoke_variant(), output=Output(results=str(root), resume=True, verbose=0))


def test_unknown_second_objective_is_one_line_and_exit_2(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "facebench.cli",
            "sweep",
            str(ROOT / "sweeps" / "demo.py"),
            "--second-objective",
            "bogus",
            "--results",
            str(tmp_path),
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert "--second-objective 'bogus'" in lines[0] and "params, flops, latency_ms" in lines[0]
    assert not (tmp_path / "demo").exists()
