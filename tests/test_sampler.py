"""facebench's TPE (the history split once per proposal) proposes exactly what Optuna's own TPESampler proposes for
the same seed and history: on the margin sweep's conditional space, with completed, pruned (intermediate values)
and still-running trials (the constant liar), single- and two-objective; and a history that changes between two
proposals is split afresh."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from facebench.sweep.sampler import SplitOnceTPESampler, tpe_sampler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sweeps"))
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _history(directions: list[str], n: int, space) -> list[optuna.trial.FrozenTrial]:
    rng = np.random.default_rng(3)
    study = optuna.create_study(directions=directions, sampler=optuna.samplers.RandomSampler(seed=3))
    for i in range(n):
        t = study.ask()
        space(t)
        if i % 9 == 8:
            continue  # left RUNNING: the constant liar counts it
        epochs = int(rng.choice([4, 12, 24]))
        curve = 0.5 + 0.3 * (1 - np.exp(-np.arange(1, epochs + 1) / 6)) + rng.normal(0, 0.02, epochs)
        if len(directions) == 1:
            for e, v in enumerate(curve, 1):
                t.report(float(v), e)
            if epochs < 24:
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
                continue
        values = float(curve.max()) if len(directions) == 1 else [float(curve.max()), float(rng.uniform(1, 9))]
        study.tell(t, values)
    return study.trials


def _propose(sampler, directions, trials, space, k: int) -> list[dict]:
    study = optuna.create_study(directions=directions, sampler=sampler)
    study.add_trials(trials)
    out = []
    for i in range(k):
        t = study.ask()
        space(t)
        out.append(dict(t.params))
        if i % 2:  # every other proposal stays running for the next one
            study.tell(t, 0.6 if len(directions) == 1 else [0.6, 3.0])
    return out


@pytest.mark.parametrize("directions", [["maximize"], ["maximize", "minimize"]], ids=["one", "two"])
def test_same_proposals_as_optunas_tpe(directions):
    import margin

    space = margin.SPEC.profiles["cpu"].space
    trials = _history(directions, 120, space)
    ours = _propose(tpe_sampler(seed=5), directions, trials, space, 12)
    stock = _propose(optuna.samplers.TPESampler(seed=5), directions, trials, space, 12)
    assert ours == stock
    assert len({tuple(sorted(p.items())) for p in ours}) > 1  # TPE proposed (not a constant)


def test_the_split_is_computed_once_per_proposal_and_again_when_the_history_changes(monkeypatch):
    import margin
    from optuna.samplers._tpe import sampler as tpe

    calls = []
    real = tpe._split_trials
    monkeypatch.setattr(tpe, "_split_trials", lambda *a: calls.append(len(a[1])) or real(*a))
    space = margin.SPEC.profiles["cpu"].space
    study = optuna.create_study(direction="maximize", sampler=SplitOnceTPESampler(seed=0))
    study.add_trials(_history(["maximize"], 40, space))
    t = study.ask()
    space(t)
    assert len(calls) == 1 and len(t.params) >= 8  # one split for the proposal's every parameter
    study.tell(t, 0.7)
    t = study.ask()
    space(t)
    assert len(calls) == 2 and calls[1] == calls[0] + 1  # the told trial is in the next split
