"""Curves and thresholds read from verification scores: pooled and fold-averaged ROC, AUC, EER, TAR at a
FAR, and the threshold where the same / different score densities cross. Arrays in, arrays out; ``verification.evaluate``
combines them into the k-fold protocol's result.

Scores here are "same-ness" ``u`` (higher = more likely the same identity), as in ``verification``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ROC_GRID_POINTS = 101  # fold-averaged ROC: TPR read at FPR 0.00, 0.01, ..., 1.00


def intersection_threshold(
    u: np.ndarray, y: np.ndarray, *, fallback: float, grid_points: int = 33
) -> tuple[float, str]:
    """Where the Gaussian-KDE densities of same and different training scores cross, between the class means.

    Several crossings: the one nearest the midpoint of the means. No crossing on the grid, or a class with
    fewer than two distinct scores: the midpoint of the means (``means_midpoint``); a class absent: the
    accuracy threshold (``accuracy``).
    """
    from scipy.optimize import brentq

    pos, neg = u[y], u[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float(fallback), "accuracy"
    mid = (pos.mean() + neg.mean()) / 2
    if pos.mean() == neg.mean() or np.ptp(pos) == 0 or np.ptp(neg) == 0:
        return float(mid), "means_midpoint"
    grid = np.linspace(min(pos.mean(), neg.mean()), max(pos.mean(), neg.mean()), grid_points)
    kde_pos, kde_neg = gaussian_kde_1d(pos), gaussian_kde_1d(neg)
    g = kde_pos(grid) - kde_neg(grid)
    crossings = np.flatnonzero(np.sign(g[:-1]) * np.sign(g[1:]) <= 0)
    if len(crossings) == 0:
        return float(mid), "means_midpoint"
    i = crossings[np.argmin(np.abs(grid[crossings] - mid))]
    if g[i] == 0 or g[i + 1] == 0:
        return float(grid[i] if g[i] == 0 else grid[i + 1]), "kde"
    root = brentq(
        lambda x: float(kde_pos(np.array([x]))[0] - kde_neg(np.array([x]))[0]),
        grid[i],
        grid[i + 1],
        xtol=1e-9 * (grid[-1] - grid[0]),
    )
    return float(root), "kde"


def gaussian_kde_1d(samples: np.ndarray):
    """scipy.stats.gaussian_kde's density (Scott's bandwidth, ddof=1) in 1-D, as a function of the points.

    scipy's own does triangular solves on every call, 10x the arithmetic at LFW's 5,400 training scores.
    """
    h = samples.std(ddof=1) * len(samples) ** (-1 / 5)
    scaled = samples / h
    norm = 1.0 / (len(samples) * h * math.sqrt(2 * math.pi))

    def density(at: np.ndarray) -> np.ndarray:
        z = at[:, None] / h - scaled[None, :]
        return np.exp(-0.5 * z * z).sum(axis=1) * norm

    return density


def roc_curve_auc(
    u: np.ndarray, y: np.ndarray, *, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Pooled ROC (one point per distinct score, from (0, 0)) and its trapezoidal AUC, ties counting half.

    ``order``: an ascending ``argsort`` of ``u`` already at hand (saves the sort; the order within ties does
    not matter, since only the counts at the end of each run of equal scores are used).
    """
    order = np.argsort(-u, kind="stable") if order is None else order[::-1]
    u_desc, y_desc = u[order], y[order]
    last = np.concatenate((np.flatnonzero(u_desc[1:] != u_desc[:-1]), [len(u) - 1]))
    tps = np.concatenate(([0], np.cumsum(y_desc, dtype=np.int64)[last]))
    fps = np.concatenate(([0], (last + 1) - tps[1:]))
    thresholds = np.concatenate(([np.inf], u_desc[last]))
    P, N = int(tps[-1]), int(fps[-1])
    if P == 0 or N == 0:
        return fps / max(N, 1), tps / max(P, 1), thresholds, math.nan
    # Integer trapezoids: exact up to the one final division.
    area2 = int(np.sum(np.diff(fps) * (tps[1:] + tps[:-1])))
    return fps / N, tps / P, thresholds, area2 / (2 * P * N)


def equal_error_rate(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """FPR where FPR equals FNR, linearly interpolated between the two ROC points that bracket it."""
    if len(fpr) < 2 or not (np.isfinite(fpr).all() and tpr[-1] == 1 and fpr[-1] == 1):
        return math.nan
    d = (1 - tpr) - fpr  # decreasing from 1 at (0, 0) to -1 at (1, 1)
    i = int(np.argmax(d <= 0))
    if d[i] == 0:
        return float(fpr[i])
    alpha = d[i - 1] / (d[i - 1] - d[i])
    return float(fpr[i - 1] + alpha * (fpr[i] - fpr[i - 1]))


def fold_averaged_roc(
    u: np.ndarray, y: np.ndarray, f_idx: np.ndarray, K: int, points: int = ROC_GRID_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over folds of the highest TPR each fold reaches at FPR <= each grid value (a step read-out)."""
    grid = np.linspace(0.0, 1.0, points)
    tprs = []
    for k in range(K):
        m = f_idx == k
        if not (y[m].any() and (~y[m]).any()):
            continue  # a fold with one class has no ROC
        fpr, tpr, _, _ = roc_curve_auc(u[m], y[m])
        tprs.append(tpr[np.searchsorted(fpr, grid, side="right") - 1])
    return grid, (np.mean(tprs, axis=0) if tprs else np.full(points, np.nan))


def far_key(far: float) -> str:
    """``1e-3`` -> ``"1e-3"`` (the metric-name spelling: ``test_tar_far_1e-3``)."""
    if far > 0 and abs(math.log10(far) - round(math.log10(far))) < 1e-9:
        return f"1e{int(round(math.log10(far)))}"
    return f"{far:g}"


@dataclass
class TarAtFar:
    """TAR at one FAR target: threshold fitted on the training folds' negatives, applied to the test fold."""

    far: float
    tar_mean: float
    tar: np.ndarray  # (K,) per test fold
    far_achieved: np.ndarray  # (K,) FAR actually seen on each test fold
    thresholds: np.ndarray  # (K,) in the caller's score scale
    unresolved: bool  # some test fold has n_neg * far < 1: the target is below its resolution


@dataclass(frozen=True)
class FoldedScores:
    """Pair scores ``u`` (greater = same), labels ``y`` and fold indices ``f_idx`` (0..K-1), and the same three
    sorted by score (``*_sorted``): what the per-fold threshold searches read."""

    u: np.ndarray
    y: np.ndarray
    f_idx: np.ndarray
    K: int
    u_sorted: np.ndarray
    y_sorted: np.ndarray
    f_sorted: np.ndarray

    @classmethod
    def of(cls, u: np.ndarray, y: np.ndarray, f_idx: np.ndarray, K: int, *, order: np.ndarray) -> FoldedScores:
        return cls(u, y, f_idx, K, u[order], y[order], f_idx[order])


def tar_at_far(pairs: FoldedScores, *, far: float, sign: float) -> TarAtFar:
    """Per fold: the lowest threshold whose training FAR is <= ``far`` (rule ``u > t``), then TAR on the test fold."""
    u_sorted, y_sorted, f_sorted = pairs.u_sorted, pairs.y_sorted, pairs.f_sorted
    u, y, f_idx, K = pairs.u, pairs.y, pairs.f_idx, pairs.K
    tar, far_seen, thr = np.full(K, np.nan), np.full(K, np.nan), np.full(K, np.nan)
    unresolved = False
    for k in range(K):
        train = (f_sorted != k) if K > 1 else np.ones(len(u_sorted), dtype=bool)
        neg_desc = u_sorted[train & ~y_sorted][::-1]
        test = f_idx == k
        n_neg_test = int((test & ~y).sum())
        unresolved |= n_neg_test * far < 1
        if len(neg_desc) == 0:
            continue
        allowed = int(math.floor(far * len(neg_desc) * (1 + 1e-12)))  # false accepts the target permits
        t = -np.inf if allowed >= len(neg_desc) else neg_desc[allowed]
        accept = u[test] > t
        pos_test = y[test]
        tar[k] = accept[pos_test].mean() if pos_test.any() else np.nan
        far_seen[k] = accept[~pos_test].mean() if n_neg_test else np.nan
        thr[k] = sign * t
    tar_mean = float(np.nanmean(tar)) if np.isfinite(tar).any() else math.nan
    return TarAtFar(
        far=float(far), tar_mean=tar_mean, tar=tar, far_achieved=far_seen, thresholds=thr, unresolved=bool(unresolved)
    )
