"""The report's plain-SQL reader of a sweep's Optuna study: its complete trials equal Optuna's own reading of the
same file, and it counts every trial."""

from __future__ import annotations

import math

import optuna

from facebench.report.history import TOTAL, read_sqlite_studies


def _view(study: optuna.Study) -> list:
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return [(t.values, t.params, t.distributions) for t in done]


def test_plain_sql_reader_equals_optunas(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    studies = {}
    for name, direction in (("a", "maximize"), ("b", "minimize")):
        study = optuna.create_study(study_name=name, storage=url, direction=direction)
        for i in range(12):
            trial = study.ask()
            trial.suggest_float("lr", 1e-4, 1e-1, log=True)
            trial.suggest_categorical("loss", ["ce", "arcface", 0.5])
            if i % 2:
                trial.suggest_int("width", 1, 8)
            trial.report(0.1 * i, 1)
            if i == 11:
                continue  # left running
            value = math.inf if i == 3 else 0.1 * i
            state = [None, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL][i % 3]
            study.tell(trial, None if state else value, state=state)  # a pruned trial keeps its last report
        studies[name] = optuna.load_study(study_name=name, storage=url)
    fast = read_sqlite_studies(str(tmp_path / "study.db"))
    assert [s.study_name for s in fast] == ["a", "b"]
    for s in fast:
        assert s.direction == studies[s.study_name].direction
        assert _view(s) == _view(studies[s.study_name]) and len(_view(s)) == 4
        assert s.user_attrs[TOTAL] == 12


def test_a_multi_objective_or_foreign_file_is_left_to_optuna(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="m", storage=url, directions=["maximize", "minimize"])
    assert read_sqlite_studies(str(tmp_path / "study.db")) is None
    (tmp_path / "other.db").write_bytes(b"not a database")
    assert read_sqlite_studies(str(tmp_path / "other.db")) is None
