"""Paired comparison: McNemar known answers, bootstrap determinism and coverage, artefact round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facebench.artefacts import read_verification_npz, write_verification_npz
from facebench.errors import ConfigError, DataError
from facebench.eval.compare import compare_verification, mcnemar, paired_comparison
from facebench.eval.verification import evaluate


def test_mcnemar_exact_known_answer():
    # 10 vs 2 discordant: two-sided exact p = 2 * P(X <= 2 | n=12, 1/2) = 2 * (1 + 12 + 66) / 4096.
    stat, p, method = mcnemar(10, 2)
    assert method == "exact" and p == pytest.approx(158 / 4096, rel=1e-12)


def test_mcnemar_is_exact_against_statsmodels():
    # Always the exact form: statsmodels' mcnemar(exact=True) is the reference; 50 vs 50 is p = 1 exactly (the
    # unclipped continuity-corrected chi-square would give 0.92).
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    for a, b in ((30, 15), (50, 50), (0, 7), (123, 88)):
        stat, p, method = mcnemar(a, b)
        assert method == "exact" and p == pytest.approx(sm_mcnemar([[0, a], [b, 0]], exact=True).pvalue, rel=1e-12)
    assert mcnemar(50, 50)[1] == 1.0
    assert mcnemar(30, 15)[1] != pytest.approx(math.erfc(math.sqrt(196 / 45 / 2)), rel=1e-3)  # not the chi-square
    assert mcnemar(0, 0) == (0.0, 1.0, "none")


def _two_classifiers(seed=0, n=6000, pa=0.9, pb=0.8):
    rng = np.random.default_rng(seed)
    return rng.random(n) < pa, rng.random(n) < pb, np.repeat(np.arange(10), n // 10)


def test_per_fold_differences_and_counts_by_brute_force():
    ca, cb, fold = _two_classifiers()
    c = paired_comparison(ca, cb, fold, n_boot=200)
    for k in range(10):
        m = fold == k
        assert c.fold_diff[k] == pytest.approx(ca[m].mean() - cb[m].mean())
    assert c.mean_diff == pytest.approx(np.mean(c.fold_diff))
    assert (c.only_a_correct, c.only_b_correct) == (int((ca & ~cb).sum()), int((~ca & cb).sum()))
    assert c.only_a_correct + c.only_b_correct + c.both_correct + c.both_wrong == 6000


def test_bootstrap_is_deterministic_and_covers_the_truth():
    ca, cb, fold = _two_classifiers(seed=3)
    c1 = paired_comparison(ca, cb, fold, n_boot=1000, seed=7)
    c2 = paired_comparison(ca, cb, fold, n_boot=1000, seed=7)
    c3 = paired_comparison(ca, cb, fold, n_boot=1000, seed=8)
    assert (c1.ci_low, c1.ci_high) == (c2.ci_low, c2.ci_high)
    assert (c1.ci_low, c1.ci_high) != (c3.ci_low, c3.ci_high)
    assert c1.ci_low <= 0.1 <= c1.ci_high  # the true accuracy difference
    assert 0.005 < c1.ci_high - c1.ci_low < 0.05
    assert c1.mcnemar_p < 1e-10
    # Identical trials: zero difference, a degenerate CI at 0, no discordant pairs.
    same = paired_comparison(ca, ca, fold, n_boot=100)
    assert (same.ci_low, same.ci_high, same.mcnemar_p) == (0.0, 0.0, 1.0)


def test_bad_arguments():
    with pytest.raises(DataError, match="same non-empty pairs"):
        paired_comparison([True], [True, False], [0])
    with pytest.raises(ConfigError, match="confidence"):
        paired_comparison([True], [True], [0], confidence=1.5)


def _trial(tmp_path, name, s, y, f):
    r = evaluate(s, y, f, greater_is_same=False)
    path = tmp_path / name / "artefacts" / "verification.npz"
    write_verification_npz(path, scores=s, same=y, fold=f, result=r, metric="euclidean")
    return r, tmp_path / name


def test_compare_trial_artefacts_uses_stored_thresholds(tmp_path):
    rng = np.random.default_rng(4)
    y = rng.random(1200) < 0.5
    f = np.arange(1200) % 10
    ra, da = _trial(tmp_path, "a", rng.normal(size=1200) - 1.5 * y, y, f)
    rb, db = _trial(tmp_path, "b", rng.normal(size=1200) - 0.5 * y, y, f)
    c = compare_verification(read_verification_npz(da), read_verification_npz(db), n_boot=100)
    assert np.allclose(c.fold_accuracy_a, ra.fold_accuracy) and np.allclose(c.fold_accuracy_b, rb.fold_accuracy)
    # Without stored thresholds the protocol is re-run and gives the same numbers.
    a = {k: v for k, v in read_verification_npz(da).items() if k not in ("thresholds", "fold_ids")}
    assert compare_verification(a, read_verification_npz(db), n_boot=100).fold_diff.tolist() == c.fold_diff.tolist()
    b = read_verification_npz(db)
    b["same"] = ~b["same"]
    with pytest.raises(DataError, match="not on the same pairs"):
        compare_verification(read_verification_npz(da), b)


def test_predict_accepts_fold_ids_in_any_order():
    from facebench.eval.verification import predict

    s = np.array([0.2, 0.8, 0.2, 0.8])
    fold = np.array([5, 5, 1, 1])
    got = predict(s, fold, thresholds=[0.5, 0.1], fold_ids=[5, 1], greater_is_same=True)
    assert got.tolist() == [False, True, True, True]
    with pytest.raises(DataError, match="no stored threshold"):
        predict(s, np.array([5, 5, 1, 2]), thresholds=[0.5, 0.1], fold_ids=[5, 1], greater_is_same=True)
