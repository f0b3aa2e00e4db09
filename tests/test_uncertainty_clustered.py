"""Known answers for the objective's uncertainty: the dyadic cluster-robust se of a mean over pairs (against a
brute-force double sum, statsmodels' clustered se and a cluster bootstrap on correlated synthetic pairs) and the
seed intervals (against scipy's t and a hand-computed pooled variance)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facebench.eval.uncertainty import Z95, accuracy_se, pair_cluster_se, pooled_seed_variance, seed_intervals


def _pairs(rng, people=60, per_person=8, folds=6, share=0.5):
    """Pairs within folds (each person in one fold, as draw_pairs): a same pair is one person's, a different pair
    two people's of one fold. A person's 'difficulty' shifts the correctness of every pair they are in."""
    fold_of = np.arange(people) % folds
    hard = rng.normal(0, 1.2, people)
    a, b = [], []
    for p in range(people):
        mates = np.flatnonzero((fold_of == fold_of[p]) & (np.arange(people) != p))
        for _ in range(per_person):
            a.append(p)
            b.append(p if rng.random() < share else int(rng.choice(mates)))
    a, b = np.array(a), np.array(b)
    logit = 1.0 + hard[a] + hard[b]
    correct = (rng.random(len(a)) < 1 / (1 + np.exp(-logit))).astype(float)
    return correct, a, b


def _brute_force(v, a, b, w=None):
    w = np.full(len(v), 1 / len(v)) if w is None else w / w.sum()
    u = w * (v - w @ v)
    share = (
        (a[:, None] == a[None, :])
        | (a[:, None] == b[None, :])
        | (b[:, None] == a[None, :])
        | (b[:, None] == b[None, :])
    )
    g = len(np.unique(np.concatenate([a, b])))
    return math.sqrt(float(u @ share @ u) * g / (g - 1))


def test_against_the_brute_force_double_sum():
    rng = np.random.default_rng(1)
    v, a, b = _pairs(rng, people=30, per_person=5)
    assert pair_cluster_se(v, a, b) == pytest.approx(_brute_force(v, a, b), rel=1e-12)
    w = rng.uniform(0.5, 2.0, len(v))
    assert pair_cluster_se(v, a, b, w) == pytest.approx(_brute_force(v, a, b, w), rel=1e-12)
    # a and b swapped within a pair is the same pair: the estimate does not depend on the order
    assert pair_cluster_se(v, b, a) == pytest.approx(pair_cluster_se(v, a, b), rel=1e-12)


def test_one_person_pairs_match_statsmodels_clustered_mean():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(2)
    v, a, _ = _pairs(rng, share=1.0)
    fit = sm.OLS(v, np.ones((len(v), 1))).fit(cov_type="cluster", cov_kwds={"groups": a})
    assert pair_cluster_se(v, a, a) == pytest.approx(float(fit.bse[0]), rel=1e-10)


def test_wider_than_binomial_and_agrees_with_a_cluster_bootstrap():
    rng = np.random.default_rng(3)
    v, a, b = _pairs(rng, people=120, per_person=10, folds=30)
    se = pair_cluster_se(v, a, b)
    binomial = accuracy_se(float(v.mean()), len(v))
    assert se > 1.4 * binomial
    # brute force: resample whole folds (every pair and every shared person lies within one fold)
    fold = a % 30
    rows = [np.flatnonzero(fold == f) for f in range(30)]
    boot = [v[np.concatenate([rows[i] for i in rng.integers(0, 30, 30)])].mean() for _ in range(3000)]
    assert se == pytest.approx(float(np.std(boot, ddof=1)), rel=0.25)


def test_calibrated_over_simulated_validation_sets():
    """Across many draws of people, the estimated se tracks the true sd of the mean; the binomial one does not."""
    rng = np.random.default_rng(4)
    means, ses, bins = [], [], []
    for _ in range(300):
        v, a, b = _pairs(rng, people=60, per_person=8)
        means.append(v.mean())
        ses.append(pair_cluster_se(v, a, b))
        bins.append(accuracy_se(float(v.mean()), len(v)))
    true_sd = float(np.std(means, ddof=1))
    assert float(np.sqrt(np.mean(np.square(ses)))) == pytest.approx(true_sd, rel=0.15)
    assert float(np.mean(bins)) < 0.75 * true_sd


def test_degenerate_inputs_are_nan():
    assert math.isnan(pair_cluster_se([1.0, 0.0], [1, 1], [1, 1]))  # one person
    assert math.isnan(pair_cluster_se([], [], []))
    assert math.isnan(pair_cluster_se([1.0, math.nan], [1, 2], [1, 2]))


def test_seed_intervals_known_answers():
    from scipy import stats

    # a stated seed sd: normal quantile; CI over k seeds, PI for one new seed
    ci, pi = seed_intervals(0.8, 4, 0.03, 0.04)
    total = math.sqrt(0.03**2 + 0.04**2)  # 0.05
    assert ci == pytest.approx([0.8 - Z95 * total / 2, 0.8 + Z95 * total / 2])
    assert pi == pytest.approx([0.8 - Z95 * total * math.sqrt(1.25), 0.8 + Z95 * total * math.sqrt(1.25)])
    # an estimated one (df 3) and no pair term: plain Student t on 3 df
    ci, pi = seed_intervals(0.5, 1, 0.0, 0.1, seed_df=3)
    q = stats.t.ppf(0.975, 3)
    assert ci == pytest.approx([0.5 - q * 0.1, 0.5 + q * 0.1])
    assert pi == pytest.approx([0.5 - q * 0.1 * math.sqrt(2), 0.5 + q * 0.1 * math.sqrt(2)])
    # Welch-Satterthwaite: df = 3 * ((a + b) / b)^2 with a = b -> 12
    ci, _ = seed_intervals(0.5, 1, 0.1, 0.1, seed_df=3)
    assert ci[1] - 0.5 == pytest.approx(stats.t.ppf(0.975, 12) * math.sqrt(0.02))
    assert all(math.isnan(x) for x in seed_intervals(math.nan, 1, 0.1, 0.1)[0])


def test_pooled_seed_variance():
    var, df = pooled_seed_variance([[0.5, 0.7], [0.1, 0.2, 0.3], [0.9]])
    assert df == 3
    assert var == pytest.approx((0.02 + 0.02) / 3)
    assert pooled_seed_variance([[0.5], []]) == (pytest.approx(math.nan, nan_ok=True), 0)


def test_tie_se_is_the_ci_half_width_over_z95_else_the_trials_se():
    from facebench.eval.uncertainty import Z95, tie_se

    got = tie_se([0.70, float("nan")], [0.70 + 2 * Z95 * 0.01, float("nan")], [0.5, 0.02])
    np.testing.assert_allclose(got, [0.01, 0.02])
