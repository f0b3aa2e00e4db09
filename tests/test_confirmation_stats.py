"""The confirmation stage's statistics: known answers against scipy / statsmodels, the wider of two intervals, the
four verdict forms, and the choice of the reference on validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

from facebench.eval.compare import mcnemar
from facebench.eval.confirmation import (
    BOOT_METHOD,
    T_METHOD,
    Run,
    accuracy_interval,
    bootstrap_interval,
    compare_to_reference,
    detectable_difference,
    holm,
    seed_interval,
    verdict,
)


def test_holm_known_answer_and_against_multipletests():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(.03, 2 * .03), max(.06, 1 * .04); NaN stays out of the count
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.5, float("nan"), 0.2])
    assert out[0] == pytest.approx(0.5) and np.isnan(out[1]) and out[2] == pytest.approx(0.4)
    p = np.random.default_rng(3).random(7) ** 3
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())


def test_seed_interval_known_answer_against_scipy():
    mean, lo, hi = seed_interval([0.80, 0.82, 0.84])
    h = 4.302652729911275 * 0.02 / np.sqrt(3)  # t(0.975, 2) * sd(ddof=1) / sqrt(n)
    assert (mean, lo, hi) == pytest.approx((0.82, 0.82 - h, 0.82 + h))
    v = [0.61, 0.64, 0.58, 0.66, 0.60]
    ci = sps.ttest_1samp(v, 0.0).confidence_interval(0.95)
    assert seed_interval(v)[1:] == pytest.approx((ci.low, ci.high))
    assert np.isnan(seed_interval([0.7])[1])


def test_exact_mcnemar_per_seed_never_pooled():
    assert mcnemar(50, 50)[1] == 1.0
    rng = np.random.default_rng(0)
    fold = np.repeat(np.arange(5), 100)
    a = [Run(s, rng.random(500) < 0.8, fold) for s in (1, 2, 3)]
    b = [Run(s, rng.random(500) < 0.7, fold) for s in (1, 2, 3)]
    v = compare_to_reference(a, b, margin=0.02, n_boot=200)
    for p, x, y in zip(v.p_mcnemar_per_seed, a, b):
        table = [[0, int((x.correct & ~y.correct).sum())], [int((~x.correct & y.correct).sum()), 0]]
        assert p == pytest.approx(sm_mcnemar(table, exact=True).pvalue)
    assert len(v.p_mcnemar_per_seed) == 3 and not hasattr(v, "p_pooled")


def _runs(accuracies, *, folds=10, per_fold=300, seed=0):
    """One run per seed whose per-fold accuracy is exactly the given one (first k items right in each fold)."""
    fold = np.repeat(np.arange(folds), per_fold)
    out = []
    for s, acc in enumerate(accuracies, 1):
        rng = np.random.default_rng(seed + s)
        correct = np.concatenate([rng.permutation(np.arange(per_fold) < round(acc * per_fold)) for _ in range(folds)])
        out.append(Run(s, correct, fold))
    return out


def test_paired_t_tost_power_and_the_wider_interval():
    a, b = [0.81, 0.84, 0.80, 0.85, 0.83], [0.80, 0.80, 0.81, 0.82, 0.80]
    v = compare_to_reference(_runs(a), _runs(b, seed=50), margin=0.02, n_boot=500)
    d = np.array(a) - np.array(b)
    assert v.difference == pytest.approx(d.mean()) and v.sd == pytest.approx(d.std(ddof=1))
    assert v.p == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert v.tost_p == pytest.approx(ttost_paired(np.array(a), np.array(b), -0.02, 0.02)[0])
    d80 = TTestPower().solve_power(effect_size=None, nobs=5, alpha=0.05, power=0.8)
    assert v.detectable == pytest.approx(d80 * d.std(ddof=1)) and detectable_difference(0.01, 1) != 0.01
    ci = sps.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert v.ci_t == pytest.approx((ci.low, ci.high))
    width = {T_METHOD: v.ci_t[1] - v.ci_t[0], BOOT_METHOD: v.ci_bootstrap[1] - v.ci_bootstrap[0]}
    assert v.ci_method == max(width, key=width.get) and v.ci[1] - v.ci[0] == pytest.approx(max(width.values()))


def test_bootstrap_over_seeds_and_folds_sees_a_fold_that_differs():
    """A matrix whose seeds agree but folds disagree: the t-interval over seeds is 0 wide, the bootstrap is not,
    so the wider (the bootstrap) is reported."""
    m = np.tile(np.linspace(-0.1, 0.1, 10), (5, 1))
    lo, hi = bootstrap_interval(m, n_boot=1000)
    assert lo < -0.02 and hi > 0.02
    runs = _runs([0.8] * 3)
    out = accuracy_interval(runs, n_boot=200)
    assert out["mean"] == pytest.approx(0.8) and out["ci_method"] in (T_METHOD, BOOT_METHOD)


def _vs(diffs, *, ref=0.80, margin=0.02):
    a = [ref + d for d in diffs]
    v = compare_to_reference(_runs(a), _runs([ref] * len(diffs), seed=90), margin=margin, n_boot=500)
    v.p_adjusted = holm([v.p])[0]
    return v


def test_the_four_verdict_forms_agree_with_their_numbers():
    better = _vs([0.05, 0.06, 0.04, 0.05, 0.07])
    assert verdict(better).startswith("better by 5.4 points (CI +") and better.ci[0] > 0 and better.p_adjusted < 0.05
    worse = _vs([-0.05, -0.06, -0.04, -0.05, -0.07])
    assert verdict(worse).startswith("worse by 5.4 points (CI -") and worse.ci[1] < 0
    same = _vs([0.0, 0.0033, -0.0033, 0.0, 0.0033])
    assert verdict(same).startswith("equivalent within ±2.0 points (CI ") and same.tost_p < 0.05
    assert -0.02 < same.ci[0] and same.ci[1] < 0.02
    noisy = _vs([0.06, -0.05, 0.03, -0.04, 0.07])
    assert verdict(noisy).startswith("inconclusive: CI ") and verdict(noisy).endswith("is wider than the margin")
    # a small adjusted p never stands beside "equivalent"/"inconclusive": the words follow the numbers
    for v in (same, noisy):
        assert not (v.p_adjusted < 0.05 and (v.ci[0] > 0 or v.ci[1] < 0))
    assert compare_to_reference(_runs([0.8]), _runs([0.8, 0.7])[1:], margin=0.02) is None  # no common seed


def test_one_seed_is_inconclusive():
    v = _vs([0.05])
    assert math.isnan(v.p) and math.isnan(v.detectable) and v.ci_method == BOOT_METHOD
    assert verdict(v).startswith("inconclusive")


def test_confirmation_picks_its_reference_on_validation_never_on_test(tmp_path):
    """The reference is the best mean validation objective over the new seeds, even when another recipe tests
    better; summary.json's rows carry every per-seed value (without artefacts there is no paired test)."""
    from facebench.sweep.confirm import Recipe, summarize_confirmation

    def run(seed, objective, test):
        return {
            "trial_id": f"t{seed}{objective}",
            "seed": seed,
            "status": "completed",
            "metrics": {"objective": objective, "test_accuracy_mean": test},
            "trial_dir": str(tmp_path / "none"),
        }

    recipes = [Recipe("CE", "a", {}, 0.7), Recipe("ArcFace", "b", {}, 0.8)]
    runs = [[run(1, 0.9, 0.60), run(2, 0.9, 0.62)], [run(1, 0.8, 0.90), run(2, 0.8, 0.92)]]
    out = summarize_confirmation(recipes, runs, mode="max", margin=0.02)
    assert [e["recipe"] for e in out] == ["CE", "ArcFace"] and out[0]["best"] and out[0]["verdict"] == "reference"
    assert out[0]["test_accuracy_mean"] == pytest.approx(0.61) and out[1]["vs_best"] is None
    assert out[0]["per_seed"] == [
        {"seed": 1, "objective": 0.9, "test_accuracy": 0.60},
        {"seed": 2, "objective": 0.9, "test_accuracy": 0.62},
    ]
    assert out[1]["source_trial_ids"] == ["b"] and out[1]["seeds"] == [1, 2] and len(out[1]["ci95"]) == 2
    assert "no paired test" in out[1]["verdict"]


def test_image_folds_interleave_a_test_set_stored_class_by_class():
    from facebench.eval.confirmation import Run, compare_to_reference, image_folds

    label = np.repeat(np.arange(10), 100)  # CIFAR-10's image folders: class by class
    fold = image_folds(len(label))
    for k in range(10):
        assert np.array_equal(np.bincount(label[fold == k], minlength=10), np.full(10, 10))
    # Recipe A is right on classes 0-4 and wrong on 5-9, B the reverse, every seed: the same accuracy and no
    # difference at all. Resampling class blocks (contiguous folds) would make that an interval of +-50 points.
    a = np.repeat([True, False], 500)
    runs_a = [Run(seed=s, correct=a, fold=fold) for s in range(5)]
    runs_b = [Run(seed=s, correct=~a, fold=fold) for s in range(5)]
    v = compare_to_reference(runs_a, runs_b, margin=0.02)
    assert v.difference == 0 and v.ci == (0.0, 0.0)
    blocks = np.arange(1000) * 10 // 1000
    w = compare_to_reference(
        [Run(seed=s, correct=a, fold=blocks) for s in range(5)],
        [Run(seed=s, correct=~a, fold=blocks) for s in range(5)],
        margin=0.02,
    )
    assert w.ci[1] - w.ci[0] > 0.5  # what the contiguous blocks did
