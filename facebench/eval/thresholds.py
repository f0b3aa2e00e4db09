"""The accuracy threshold search of the k-fold protocol: every fold's best cut of its training scores, exactly.

The rule and the choice among tied cuts are those of ``facebench.eval.verification`` (its docstring states them);
``verification`` re-exports ``fold_best_cuts``, so callers keep importing it from there.
"""

from __future__ import annotations

import numpy as np


def _interval_point(lo: float, hi: float, first: float | None, last: float | None) -> float:
    """The threshold inside the best interval ``(lo, hi)``; ``first``/``last``: the training range (None: empty)."""
    if np.isfinite(lo) and np.isfinite(hi):
        t = lo / 2 + hi / 2
        return t if lo <= t < hi else lo  # adjacent floats: lo itself is exact for the rule u > t
    if first is None or last is None:
        return 0.0
    span = float(last - first)
    pad = span / 2 if span > 0 else max(abs(float(first)), 1.0) / 2
    if np.isfinite(hi):
        return float(hi - pad)
    if np.isfinite(lo):
        return float(lo + pad)
    return float(first / 2 + last / 2)  # every cut ties: all scores equal and balanced


def fold_best_cuts(
    u_sorted: np.ndarray, y_sorted: np.ndarray, f_sorted: np.ndarray, K: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy-maximising threshold for the rule ``u > t`` on every fold's training set (the other folds; all
    pairs when K = 1), in one pass.

    ``u_sorted`` ascending, ``f_sorted`` fold indices 0..K-1. Returns ``(t, n_correct, n_train)`` per fold. Cut i
    of a training set puts its first i sorted values on the "different" side; only cuts between distinct values
    (and the two ends) are real. The cuts between distinct values of all the scores map monotonically onto every
    training set's own cuts, so the first run of best cuts and the training values either side of it are those
    of the training set alone; the counts come from one (cuts x K) table instead of K masked copies and K
    cumulative sums.
    """
    n = len(u_sorted)
    correct, n_train = _training_correct(y_sorted, f_sorted, K)
    distinct = np.flatnonzero(u_sorted[1:] != u_sorted[:-1]) + 1
    cuts = np.concatenate(([0], distinct, [n])) if len(distinct) < n - 1 else None
    if cuts is not None:  # ties: only cuts between distinct values are real
        correct = correct[:, cuts]
    best = correct.max(axis=1)
    is_best = correct == best[:, None]
    j0 = np.argmax(is_best, axis=1)
    t = np.empty(K)
    for k in range(K):
        row = is_best[k, j0[k] :]
        run = int(np.argmin(row)) if not row.all() else len(row)  # length of the first run of best cuts
        c0, c1 = j0[k], j0[k] + run - 1
        if cuts is not None:
            c0, c1 = cuts[c0], cuts[c1]
        m = f_sorted != k if K > 1 else np.ones(n, dtype=bool)
        t[k] = _run_threshold(u_sorted, m, c0, c1)
    return t, best, n_train


def _training_correct(y_sorted: np.ndarray, f_sorted: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """``(correct, n_train)``: row k of the (K, n+1) ``correct`` counts fold k's training pairs on the right side
    of every cut; ``n_train`` the size of each training set."""
    n = len(y_sorted)
    # correct(cut) = different left of it + same right of it = g(cut) + same_total, where g counts +1 for each
    # different and -1 for each same pair left of the cut; a fold's training g is all pairs' g minus its own.
    w = np.where(y_sorted, -1, 1).astype(np.int32)
    g_all = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(w, out=g_all[1:])
    n_same = (n - int(g_all[-1])) // 2
    if K == 1:
        return (g_all + n_same)[None, :], np.array([n])
    correct = np.zeros((K, n + 1), dtype=np.int32)  # row k: fold k's own g, then its training correct
    correct.ravel()[f_sorted * (n + 1) + np.arange(1, n + 1)] = w
    np.cumsum(correct, axis=1, out=correct)
    n_own = np.bincount(f_sorted, minlength=K)
    same_train = n_same - (n_own - correct[:, -1]) // 2
    np.subtract(g_all, correct, out=correct)
    correct += same_train.astype(np.int32)[:, None]
    return correct, n - n_own


def _run_threshold(u_sorted: np.ndarray, m: np.ndarray, c0: int, c1: int) -> float:
    """The threshold of a run of best cuts ``c0..c1`` of the training set ``m`` (a mask over ``u_sorted``)."""
    # The training values either side of the run: the last one before cut c0, the first one from cut c1 on.
    before = m[c0 - 1 :: -1] if c0 > 0 else m[:0]
    i = int(np.argmax(before)) if len(before) else 0
    lo = u_sorted[c0 - 1 - i] if len(before) and before[i] else -np.inf
    after = m[c1:]
    i = int(np.argmax(after)) if len(after) else 0
    hi = u_sorted[c1 + i] if len(after) and after[i] else np.inf
    first = last = None
    if not (np.isfinite(lo) and np.isfinite(hi)):  # an open run: the training range closes it
        ut = u_sorted[m]
        if len(ut):
            first, last = float(ut[0]), float(ut[-1])
    return _interval_point(lo, hi, first, last)
