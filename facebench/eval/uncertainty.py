"""Standard errors of validation objectives and which trials are statistically tied with the first.

A sweep ranks trials by one validation number; on a few hundred pairs two trials a point apart are often
indistinguishable. These give each objective its standard error and mark the trials whose difference from
#1 lies within the noise, so a report does not pretend the order among them means something.
"""

from __future__ import annotations

import math
from typing import Sequence

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


def tied_with_first(values: Sequence[float], ses: Sequence[float], *, mode: str = "max",
                    z: float = Z95) -> list[bool]:
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
    width = z * np.sqrt(s[0] ** 2 + s ** 2)
    tied = np.isfinite(gap) & np.isfinite(width) & (gap <= width)
    tied[0] = bool(np.isfinite(v[0]))
    return [bool(t) for t in tied]
