"""Verification metrics against brute force, scikit-learn and hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from facebench.errors import ConfigError, DataError
from facebench.eval.verification import evaluate, far_key, pair_scores


def _decide(s, thr, greater_is_same):
    return s > thr if greater_is_same else s < thr


def brute_best_accuracy(s, y, greater_is_same):
    """Best accuracy over every candidate threshold: each midpoint between distinct scores and both ends."""
    v = np.unique(s)
    candidates = np.concatenate(([v[0] - 1.0], (v[:-1] + v[1:]) / 2, [v[-1] + 1.0]))
    return max(np.mean(_decide(s, t, greater_is_same) == y) for t in candidates)


def brute_tar(s_train, y_train, s_test, y_test, far, greater_is_same):
    """Lowest threshold (in "same-ness" order) whose training FAR <= far, tried over every candidate."""
    u_tr = s_train if greater_is_same else -s_train
    u_te = s_test if greater_is_same else -s_test
    if not y_test.any():
        return np.nan
    for t in np.concatenate(([-np.inf], np.unique(u_tr[~y_train]))):
        if np.mean(u_tr[~y_train] > t) <= far:
            return np.mean(u_te[y_test] > t)
    raise AssertionError("unreachable: the largest negative always gives FAR 0")


def check_against_brute_force(s, y, f, greater_is_same):
    r = evaluate(s, y, f, greater_is_same=greater_is_same)
    fold_ids = np.unique(f)
    assert list(r.fold_ids) == list(fold_ids)
    for k, fid in enumerate(fold_ids):
        test = f == fid
        train = ~test if len(fold_ids) > 1 else test
        best = brute_best_accuracy(s[train], y[train], greater_is_same)
        # The fitted threshold is optimal on the training folds ...
        got_train = np.mean(_decide(s[train], r.thresholds[k], greater_is_same) == y[train])
        assert got_train == pytest.approx(best, abs=1e-15)
        assert r.train_accuracy[k] == pytest.approx(best, abs=1e-15)
        # ... and the held-out accuracy is that threshold applied to fold k, in the caller's scale.
        assert r.fold_accuracy[k] == pytest.approx(
            np.mean(_decide(s[test], r.thresholds[k], greater_is_same) == y[test]), abs=1e-15
        )
        for t in r.tar_at_far:
            want = brute_tar(s[train], y[train], s[test], y[test], t.far, greater_is_same)
            assert t.tar[k] == pytest.approx(want, abs=1e-15) or (np.isnan(want) and np.isnan(t.tar[k]))
    assert r.accuracy_mean == pytest.approx(np.mean(r.fold_accuracy))
    assert r.accuracy_std == pytest.approx(np.std(r.fold_accuracy, ddof=0))
    if y.any() and (~y).any():
        assert abs(r.auc - roc_auc_score(y, s if greater_is_same else -s)) < 1e-12
    return r


@pytest.mark.parametrize("K", [2, 3, 5, 10])
@pytest.mark.parametrize("greater_is_same", [True, False])
def test_random_scores_match_brute_force(K, greater_is_same):
    rng = np.random.default_rng(K)
    n = 60 * K
    y = rng.random(n) < 0.5
    s = rng.normal(size=n) + 1.2 * (y if greater_is_same else ~y)
    check_against_brute_force(s, y, rng.permutation(np.arange(n) % K), greater_is_same)


@pytest.mark.parametrize("seed", range(6))
def test_heavy_ties_and_unsorted_fold_ids(seed):
    rng = np.random.default_rng(100 + seed)
    n = 300
    y = rng.random(n) < 0.4
    s = rng.integers(0, 5, size=n).astype(float) + y  # five levels: most thresholds sit inside tie groups
    fold = rng.choice(np.array([17, 3, 9, 42]), size=n)
    check_against_brute_force(s, y, fold, greater_is_same=bool(seed % 2))


def test_all_equal_scores():
    y = np.array([True, False] * 10 + [True] * 4)
    f = np.arange(len(y)) % 3
    r = check_against_brute_force(np.full(len(y), 0.7), y, f, greater_is_same=False)
    assert r.auc == 0.5 and r.eer == 0.5


def test_class_absent_from_training_folds():
    # Folds 1 and 2 hold only "different" pairs, so fold 0's training data has no "same" pair at all.
    y = np.array([True] * 10 + [False] * 20)
    s = np.linspace(0.0, 1.0, 30)
    f = np.repeat([0, 1, 2], 10)
    r = check_against_brute_force(s, y, f, greater_is_same=True)
    assert r.fold_accuracy[0] == 0.0  # it can only learn "always different"
    assert r.intersection_methods[0] == "accuracy"


def test_any_scale_unlike_a_fixed_grid():
    rng = np.random.default_rng(7)
    y = rng.random(600) < 0.5
    d = (rng.normal(size=600) - 2.0 * y) * 1e6 + 5e7  # distances far outside [0, 4]
    r = check_against_brute_force(d, y, np.arange(600) % 10, greater_is_same=False)
    assert r.accuracy_mean > 0.8


def test_tie_break_known_answers():
    # Separable: the threshold is the midpoint of the gap.
    r = evaluate([1.0, 2.0, 3.0, 4.0], [0, 0, 1, 1], [0, 0, 0, 0], greater_is_same=True)
    assert r.thresholds[0] == 2.5 and r.fold_accuracy[0] == 1.0 and r.optimistic
    # Two disjoint best cuts (after 1 and after 3): the first (lowest) is taken.
    r = evaluate([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1], [0] * 4, greater_is_same=True)
    assert r.thresholds[0] == 1.5 and r.train_accuracy[0] == 0.75
    # Adjacent best cuts around a balanced tie at 2: the midpoint of the whole run (1, 3).
    r = evaluate([1.0, 2.0, 2.0, 3.0], [0, 1, 0, 1], [0] * 4, greater_is_same=True)
    assert r.thresholds[0] == 2.0 and r.train_accuracy[0] == 0.75
    # Distances report thresholds in distance units: same iff d < 2.5.
    r = evaluate([4.0, 3.0, 2.0, 1.0], [0, 0, 1, 1], [0] * 4, greater_is_same=False)
    assert r.thresholds[0] == 2.5


def test_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(3)
    y = rng.random(5000) < 0.3
    s = np.round(rng.normal(size=5000) + y, 1)
    r = evaluate(s, y, np.arange(5000) % 10, greater_is_same=True)
    assert abs(r.auc - roc_auc_score(y, s)) < 1e-12
    r = evaluate(-s, y, np.arange(5000) % 10, greater_is_same=False)
    assert abs(r.auc - roc_auc_score(y, s)) < 1e-12


def test_eer_known_answers():
    # pos .9 .8 .7 .3, neg .6 .4 .2 .1: at threshold .6 FPR = FNR = 0.25 exactly.
    s = [0.9, 0.8, 0.7, 0.3, 0.6, 0.4, 0.2, 0.1]
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    assert evaluate(s, y, [0] * 8, greater_is_same=True).eer == 0.25
    # pos 3, 1; neg 2: FNR - FPR goes .5 -> -.5 along FPR 0 -> 1, crossing at 0.5.
    assert evaluate([3.0, 1.0, 2.0], [1, 1, 0], [0] * 3, greater_is_same=True).eer == 0.5
    assert evaluate([3.0, 2.0, 1.0, 0.0], [1, 1, 0, 0], [0] * 4, greater_is_same=True).eer == 0.0


def test_eer_and_intersection_of_two_gaussians():
    # Unit-variance classes delta apart: EER = Phi(-delta/2); the densities cross at the mean midpoint.
    rng = np.random.default_rng(11)
    n, delta = 20000, 2.0
    s = np.concatenate([rng.normal(delta, 1, n), rng.normal(0, 1, n)])
    y = np.concatenate([np.ones(n, bool), np.zeros(n, bool)])
    r = evaluate(s, y, np.arange(2 * n) % 2, greater_is_same=True)
    assert r.eer == pytest.approx(0.5 * math.erfc(delta / 2 / math.sqrt(2)), abs=0.006)
    assert r.intersection_methods == ["kde", "kde"]
    assert np.allclose(r.intersection_thresholds, delta / 2, atol=0.06)
    assert abs(r.intersection_accuracy_mean - r.accuracy_mean) < 0.01
    # Negated scores as distances: the same threshold, mirrored.
    r2 = evaluate(-s, y, np.arange(2 * n) % 2, greater_is_same=False)
    assert np.allclose(r2.intersection_thresholds, -r.intersection_thresholds)


def test_tar_at_far_flags_unresolvable_targets():
    rng = np.random.default_rng(5)
    y = np.tile(np.repeat([True, False], 300), 10)  # LFW: 300 negatives per fold
    s = rng.normal(size=6000) + 2 * y
    r = evaluate(s, y, np.repeat(np.arange(10), 600), greater_is_same=True)
    flags = {t.far: t.unresolved for t in r.tar_at_far}
    assert flags == {0.1: False, 0.01: False, 0.001: True}
    assert any("1e-3" in n for n in r.notes)


def test_fold_averaged_roc_is_a_monotone_step_readout():
    rng = np.random.default_rng(9)
    y = rng.random(1000) < 0.5
    s = rng.normal(size=1000) + y
    r = evaluate(s, y, np.arange(1000) % 4, greater_is_same=True)
    assert r.mean_fpr[0] == 0 and r.mean_fpr[-1] == 1 and r.mean_tpr[-1] == 1
    assert np.all(np.diff(r.mean_tpr) >= 0)
    # Fold 0 alone at FPR 0.1: the best TPR among thresholds whose FPR <= 0.1, by brute force.
    m = np.arange(1000) % 4 == 0
    tp = [np.mean(s[m & y] >= t) for t in s[m] if np.mean(s[m & ~y] >= t) <= 0.1]
    r0 = evaluate(s[m], y[m], np.zeros(m.sum(), int), greater_is_same=True)
    assert r0.mean_tpr[10] == pytest.approx(max(tp))


def test_summary_and_json_keys():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.5
    r = evaluate(rng.normal(size=200) + y, y, np.arange(200) % 10, greater_is_same=True)
    assert set(r.summary()) == {
        "test_accuracy_mean",
        "test_accuracy_std",
        "test_accuracy_sem",
        "test_auc",
        "test_eer",
        "test_tar_far_1e-1",
        "test_tar_far_1e-2",
        "test_tar_far_1e-3",
        "test_intersection_accuracy_mean",
    }
    assert set(r.summary(prefix="val_")) == {k.replace("test_", "val_", 1) for k in r.summary()}
    j = r.to_json()
    assert {"accuracy_mean", "accuracy_std", "auc", "eer", "folds", "intersection", "tar_at_far"} <= set(j)
    assert [set(f) >= {"threshold", "accuracy"} for f in j["folds"]] == [True] * 10
    assert r.accuracy_sem == pytest.approx(np.std(r.fold_accuracy, ddof=1) / math.sqrt(10))
    assert far_key(1e-3) == "1e-3" and far_key(0.05) == "0.05"


def test_pair_scores_known_answers():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [6.0, 8.0], [-3.0, -4.0]])
    d, g = pair_scores(x, [0, 0, 0], [1, 2, 3], metric="euclidean")
    assert not g and np.allclose(d, [5.0, 5.0, 10.0])
    d2, _ = pair_scores(x, [0, 0], [1, 2], metric="sqeuclidean")
    assert np.allclose(d2, [25.0, 25.0])
    c, g = pair_scores(x, [0, 0, 0], [1, 2, 3], metric="cosine")
    assert g and np.allclose(c, [0.0, 1.0, -1.0])  # a zero vector scores 0, not NaN
    dn, _ = pair_scores(x, [0, 0], [2, 3], metric="euclidean", normalize=True)
    assert np.allclose(dn, [0.0, 2.0])


def test_bad_inputs_are_user_errors():
    with pytest.raises(ConfigError, match="manhattan.*euclidean"):
        pair_scores(np.zeros((2, 2)), [0], [1], metric="manhattan")
    with pytest.raises(DataError, match="NaN"):
        evaluate([0.1, np.nan], [1, 0], [0, 1], greater_is_same=True)
    with pytest.raises(DataError, match="length"):
        evaluate([0.1, 0.2], [1, 0, 1], [0, 1], greater_is_same=True)
    with pytest.raises(DataError, match="0/1"):
        evaluate([0.1, 0.2], [2, 0], [0, 1], greater_is_same=True)
    with pytest.raises(ConfigError, match="far_targets"):
        evaluate([0.1, 0.2], [1, 0], [0, 1], greater_is_same=True, far_targets=(0.0,))
