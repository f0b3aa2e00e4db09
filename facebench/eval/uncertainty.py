"""Standard errors of validation objectives, their intervals over seeds, and which trials are tied with the first.

A sweep ranks trials by one validation number; on a few hundred pairs two trials a point apart are often
indistinguishable. These give each objective its standard error and mark the trials whose difference from
#1 lies within the noise, so a report does not pretend the order among them means something.

Two sources of variance are counted (docs/evaluation.md, "Uncertainty of the objective"):

* **pairs share people.** ``pair_cluster_se`` is the dyadic cluster-robust standard error of a mean over
  verification pairs: any two pairs with a person in common may be correlated (Aronow, Samii & Assenova 2015,
  "Cluster-robust variance estimation for dyadic data"); pairs with no person in common are taken as independent,
  which ``draw_pairs`` makes true across folds (each identity in one fold).
* **seeds differ.** ``seed_intervals`` combines it with the seed-to-seed variance of a configuration's objective
  into a confidence interval of the configuration's mean and a prediction interval for a new seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def accuracy_se(accuracy: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on ``n`` independent decisions."""
    if n < 1 or not math.isfinite(accuracy):
        return math.nan
    p = min(max(accuracy, 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / n)


def auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC from ``n_pos`` positive and ``n_neg`` negative cases.

    Q1 = A/(2-A) and Q2 = 2A^2/(1+A) are the exponential approximation's probabilities that two positives
    (negatives) both outrank one negative (are outranked by one positive).
    """
    if n_pos < 1 or n_neg < 1 or not math.isfinite(auc):
        return math.nan
    a = min(max(auc, 0.0), 1.0)
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    var = (a * (1.0 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def mean_se(values: Sequence[float] | np.ndarray) -> float:
    """Standard error of a mean of per-sample values (e.g. a validation loss)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan


def pair_cluster_se(values: Any, person_a: Any, person_b: Any, weights: Any = None) -> float:
    """Standard error of ``sum(w * values)`` (``w`` defaults to 1/n; it is normalised to sum 1) over pairs whose
    people are ``person_a`` and ``person_b``: the dyadic cluster-robust variance, sum over every two pairs that
    share a person (a pair with itself included) of ``w_i w_j e_i e_j`` with ``e = values - estimate``, times G/(G-1)
    for G distinct people (statsmodels' small-sample factor for a one-way clustered mean, to which it reduces when
    every pair is one person's). NaN for fewer than two people."""
    v = np.asarray(values, dtype=np.float64).ravel()
    a, b = np.asarray(person_a).ravel(), np.asarray(person_b).ravel()
    w = np.full(len(v), 1.0) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (len(v) == len(a) == len(b) == len(w)) or len(v) == 0 or not np.isfinite(v).all():
        return math.nan
    w = w / w.sum()
    people, idx = np.unique(np.concatenate([a, b]), return_inverse=True)
    if len(people) < 2:
        return math.nan
    ia, ib = idx[: len(v)], idx[len(v) :]
    u = w * (v - float(w @ v))
    two = ia != ib
    # S_p: the sum of u over the pairs that involve person p (a one-person pair counted once)
    s_p = np.bincount(ia, weights=u, minlength=len(people)) + np.bincount(
        ib[two], weights=u[two], minlength=len(people)
    )
    # pairs of the same two people are counted in both S_p^2 and S_q^2: take that product out once
    lo, hi = np.minimum(ia[two], ib[two]), np.maximum(ia[two], ib[two])
    _, dyad = np.unique(lo * len(people) + hi, return_inverse=True)
    t_d = np.bincount(dyad.ravel(), weights=u[two]) if two.any() else np.zeros(0)
    var = float(s_p @ s_p - t_d @ t_d) * len(people) / (len(people) - 1)
    return math.sqrt(max(var, 0.0))


def seed_intervals(
    mean: float, k: int, se_pairs: float, seed_sd: float, seed_df: float = math.inf, confidence: float = 0.95
) -> tuple[list[float], list[float]]:
    """(confidence interval of a configuration's mean objective, prediction interval for one new seed).

    The configuration ran ``k`` seeds with mean ``mean``; each seed draws its own validation people and pairs
    (``draw_pairs`` is seeded by ``train.seed``) and its own training randomness, so one seed's objective varies by
    ``se_pairs`` (the people: ``pair_cluster_se``) and ``seed_sd`` (training), independently across seeds:

    * CI: ``mean ± q sqrt((se_pairs² + seed_sd²) / k)``
    * PI: ``mean ± q sqrt((se_pairs² + seed_sd²) (1 + 1/k))``

    ``q`` is Student's t on the Welch-Satterthwaite degrees of freedom of that sum, with ``seed_df`` the degrees of
    freedom of ``seed_sd`` (infinite: a stated value, then the normal quantile); ``se_pairs`` counts as known."""
    from scipy import stats

    a, b = max(se_pairs, 0.0) ** 2, max(seed_sd, 0.0) ** 2
    if k < 1 or not all(math.isfinite(x) for x in (mean, a, b)):
        return [math.nan, math.nan], [math.nan, math.nan]
    df = math.inf if b == 0.0 or not math.isfinite(seed_df) else max(seed_df, 1.0) * ((a + b) / b) ** 2
    q = float(stats.norm.ppf(0.5 + confidence / 2) if math.isinf(df) else stats.t.ppf(0.5 + confidence / 2, df))
    ci, pi = q * math.sqrt((a + b) / k), q * math.sqrt((a + b) * (1.0 + 1.0 / k))
    return [mean - ci, mean + ci], [mean - pi, mean + pi]


def pooled_seed_variance(groups: Sequence[Sequence[float]]) -> tuple[float, int]:
    """(pooled within-group variance, its degrees of freedom) of the groups with two or more finite values: each
    group one configuration's objectives over its seeds. (NaN, 0) when no configuration ran twice."""
    ss, df = 0.0, 0
    for g in groups:
        v = np.asarray([x for x in g if math.isfinite(x)], dtype=np.float64)
        if len(v) > 1:
            ss += float(((v - v.mean()) ** 2).sum())
            df += len(v) - 1
    return (ss / df, df) if df else (math.nan, 0)


def tie_se(ci_low: Sequence[float], ci_high: Sequence[float], se: Sequence[float]) -> np.ndarray:
    """The standard error "tied with #1" is judged by: the half-width of each trial's objective_ci95 over 1.96
    (people and seeds counted), or its objective_se where no interval was computed (NaN bounds). The sweep's
    summary and the report both rank with it, so the two never disagree."""
    half = (np.asarray(ci_high, dtype=float) - np.asarray(ci_low, dtype=float)) / (2 * Z95)
    return np.where(np.isfinite(half), half, np.asarray(se, dtype=float))


def tied_with_first(values: Sequence[float], ses: Sequence[float], *, mode: str = "max", z: float = Z95) -> list[bool]:
    """For values already ranked (first = best): is each within ``z`` standard errors of the difference of #1?

    The difference's standard error is sqrt(se_1^2 + se_i^2), which treats the two estimates as independent;
    trials judged on the same validation pairs are positively correlated, so this errs towards "tied". A
    value or SE that is missing (NaN) is never called tied; the first is tied with itself.
    """
    v = np.asarray(values, dtype=np.float64)
    s = np.asarray(ses, dtype=np.float64)
    if len(v) == 0:
        return []
    sign = 1.0 if mode == "max" else -1.0
    gap = sign * (v[0] - v)
    width = z * np.sqrt(s[0] ** 2 + s**2)
    tied = np.isfinite(gap) & np.isfinite(width) & (gap <= width)
    tied[0] = bool(np.isfinite(v[0]))
    return [bool(t) for t in tied]
