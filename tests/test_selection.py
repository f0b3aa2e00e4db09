"""One objective: standard errors (known answers), ties with #1, and the sweep spec declaring it once."""

from __future__ import annotations

import math
from functools import partial

import pytest

from facebench.errors import ConfigError
from facebench.eval.uncertainty import accuracy_se, auc_se, mean_se, tied_with_first
from facebench.sweep import SweepSpec, space


def test_accuracy_and_mean_standard_errors():
    assert accuracy_se(0.9, 100) == pytest.approx(0.03)  # sqrt(.9 * .1 / 100)
    assert accuracy_se(1.0, 50) == 0.0 and math.isnan(accuracy_se(0.5, 0))
    assert mean_se([1.0, 2.0, 3.0, 4.0]) == pytest.approx(math.sqrt(5 / 3) / 2)  # std(ddof=1) / sqrt(n)


def test_auc_standard_error_known_answers():
    # A = 0.9, 50 + 50 cases by hand: Q1 = .9/1.1, Q2 = 1.62/1.9,
    # var = (.09 + 49 (Q1 - .81) + 49 (Q2 - .81)) / 2500 = 0.00103194
    assert auc_se(0.9, 50, 50) == pytest.approx(math.sqrt(0.00103194), rel=1e-4)
    # At A = 0.5 Hanley-McNeil equals the exact null variance of Mann-Whitney's U / (n1 n2): (n1+n2+1)/(12 n1 n2)
    for n1, n2 in ((10, 10), (7, 300), (1000, 2000)):
        assert auc_se(0.5, n1, n2) == pytest.approx(math.sqrt((n1 + n2 + 1) / (12 * n1 * n2)))
    assert math.isnan(auc_se(0.8, 0, 10))


def test_tied_with_first():
    # 0.1 behind with se 0.06 and 0.01: within 1.96 * 0.0608 = 0.119 -> tied; 0.2 behind -> not; NaN -> not
    assert tied_with_first([0.9, 0.8, 0.7, math.nan], [0.01, 0.06, 0.01, 0.01]) == [True, True, False, False]
    assert tied_with_first([0.2, 0.25, 0.5], [0.01, 0.01, 0.01], mode="min") == [True, False, False]
    assert tied_with_first([], []) == []


def _spec(**kw):
    base = dict(name="t", task="face", base={"train.epochs": 2}, space=partial(space.fixed, values={}))
    return SweepSpec(**{**base, **kw})


def test_the_objective_is_declared_once_and_reaches_every_trial():
    spec = _spec(metric="val_accuracy", select="last")
    assert spec.objective == ("val_accuracy", "max")
    flat = spec.trial_config({"optim.lr": 0.01})
    assert flat["train.objective"] == "val_accuracy" and flat["train.select"] == "last"
    assert _spec().objective == ("val_accuracy", "max") and _spec(task="cifar").objective == ("val_accuracy", "max")
    assert _spec(metric="val_auc").objective == ("val_auc", "max")
    assert _spec(task="cifar", metric="val_loss").objective == ("val_loss", "min")
    assert spec.to_json()["metric"] == "val_accuracy" and spec.to_json()["select"] == "last"


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"base": {"train.objective": "val_accuracy"}}, "declared once"),
        ({"base": {"train.select": "last"}}, "declared once"),
        ({"metric": "val_loss"}, "reports only"),
        ({"task": "cifar", "metric": "val_auc"}, "reports only"),
        ({"metric": "val_auc", "mode": "min"}, "mode 'max'"),
        ({"select": "median"}, "select"),
    ],
)
def test_contradictory_objectives_are_refused(kw, match):
    with pytest.raises(ConfigError, match=match):
        _spec(**kw)
