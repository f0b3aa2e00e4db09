"""The confirmation stage's statistics: known answers, and the one-seed case against compare.py's bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from facebench.eval.compare import mcnemar, paired_comparison
from facebench.eval.confirmation import Run, compare_to_best, holm, seed_interval, significant, verdict


def test_holm_known_answer():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(.03, 2 * .03), max(.06, 1 * .04); NaN stays out of the count
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.5, float("nan"), 0.2])
    assert out[0] == pytest.approx(0.5) and np.isnan(out[1]) and out[2] == pytest.approx(0.4)
    assert holm([0.9, 0.8]) == [1.0, 1.0]


def test_seed_interval_known_answer():
    mean, lo, hi = seed_interval([0.80, 0.82, 0.84])
    h = 4.302652729911275 * 0.02 / np.sqrt(3)   # t(0.975, 2) * sd / sqrt(n)
    assert (mean, lo, hi) == pytest.approx((0.82, 0.82 - h, 0.82 + h))
    assert np.isnan(seed_interval([0.7])[1])


def _runs(rng, n=600, folds=5, seeds=(1, 2, 3), p=0.8):
    fold = np.repeat(np.arange(folds), n // folds)
    return [Run(s, rng.random(n) < p, fold) for s in seeds]


def test_one_seed_equals_the_paired_comparison_of_compare_py():
    rng = np.random.default_rng(0)
    (a,), (b,) = _runs(rng, seeds=(1,)), _runs(rng, seeds=(1,), p=0.7)
    v = compare_to_best([a], [b], n_boot=500, seed=7)
    c = paired_comparison(a.correct, b.correct, a.fold, n_boot=500, seed=7)
    assert v.difference == pytest.approx(c.mean_diff) and v.ci == pytest.approx((c.ci_low, c.ci_high))
    assert v.p == c.mcnemar_p and v.p_per_seed == [c.mcnemar_p]


def test_pooled_mcnemar_and_verdicts():
    rng = np.random.default_rng(1)
    better, worse = _runs(rng, p=0.9), _runs(rng, p=0.6)
    v = compare_to_best(worse, better, n_boot=300)
    only_a = sum(int((w.correct & ~b.correct).sum()) for w, b in zip(worse, better))
    only_b = sum(int((~w.correct & b.correct).sum()) for w, b in zip(worse, better))
    assert v.p == mcnemar(only_a, only_b)[1] and v.seeds == [1, 2, 3]
    assert v.difference == pytest.approx(np.mean([w.accuracy - b.accuracy for w, b in zip(worse, better)]))
    assert v.ci[0] < v.difference < v.ci[1] < 0
    v.p_adjusted = holm([v.p])[0]
    assert significant(v) and verdict("CE", "ArcFace", v).startswith(f"ArcFace beats CE by {-100 * v.difference:.1f} ±")
    same = compare_to_best(better, better, n_boot=100)
    same.p_adjusted = 1.0
    assert same.difference == 0 and not significant(same)
    assert verdict("CurricularFace", "ArcFace", same).startswith("ArcFace and CurricularFace are indistinguishable")
    assert compare_to_best(better[:1], worse[1:]) is None      # no common seed: not compared


def test_confirmation_picks_its_best_on_validation_never_on_test(tmp_path):
    """The recipe compared against is the best mean validation objective over the new seeds, even when another
    recipe tests better (without verification artefacts there is no paired test, only the intervals)."""
    from facebench.sweep.confirm import Recipe, summarize_confirmation

    def run(seed, objective, test):
        return {"trial_id": f"t{seed}{objective}", "seed": seed, "status": "completed",
                "metrics": {"objective": objective, "test_accuracy_mean": test}, "trial_dir": str(tmp_path / "none")}

    recipes = [Recipe("CE", "a", {}, 0.7), Recipe("ArcFace", "b", {}, 0.8)]
    runs = [[run(1, 0.9, 0.60), run(2, 0.9, 0.62)], [run(1, 0.8, 0.90), run(2, 0.8, 0.92)]]
    out = summarize_confirmation(recipes, runs, mode="max")
    assert [e["recipe"] for e in out] == ["CE", "ArcFace"] and out[0]["best"]
    assert out[0]["test_accuracy_mean"] == pytest.approx(0.61) and out[1]["vs_best"] is None
    assert "no paired test" in out[1]["verdict"]
