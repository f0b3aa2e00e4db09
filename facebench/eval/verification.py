"""Face verification metrics: LFW's k-fold protocol, computed exactly from the scores themselves.

Conventions (docs/evaluation.md states them with the numbers they produce):

* Scores are turned into "same-ness" ``u`` (``u = s`` for a similarity, ``u = -s`` for a distance); a pair is
  predicted "same" iff ``u > t``. In the caller's scale that is ``similarity > threshold`` or
  ``distance < threshold``.
* The accuracy threshold of fold k is fitted on the OTHER folds over every distinct cut of the sorted
  training scores (no grid, so any scale works). Among cuts with the highest training accuracy the first
  run of adjacent best cuts (lowest ``u``) is taken and the threshold is the midpoint of that run's
  interval; a run open to one side is closed half the score range (or half the value) beyond its edge.
* ``accuracy_std`` is ``np.std`` with ddof=0 (the LFW / InsightFace convention); ``accuracy_sem`` is the
  standard error ``std(ddof=1) / sqrt(K)``.
* With a single fold the threshold is fitted on the data it is applied to; ``optimistic`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from . import METRICS
from .curves import (
    FoldedScores,
    TarAtFar,
    equal_error_rate,
    far_key,
    fold_averaged_roc,
    intersection_threshold,
    roc_curve_auc,
    tar_at_far,
)
from .thresholds import fold_best_cuts  # re-exported: callers and benchmarks import it from here

FAR_TARGETS = (1e-1, 1e-2, 1e-3)


def pair_scores(
    embeddings: Any, a: Any, b: Any, *, metric: str = "euclidean", normalize: bool = False
) -> tuple[np.ndarray, bool]:
    """Score pairs of embedding rows; returns ``(scores, greater_is_same)`` (float64 scores).

    Distances (euclidean, sqeuclidean) are smaller for the same person, cosine similarity greater.
    ``normalize`` L2-normalises first (cosine always does). Distances come from differences, not from
    ``|x|^2 + |y|^2 - 2xy``, so near-identical embeddings keep their small distances.

    Precision: cosine and normalised embeddings are computed in float64 throughout (signed terms can cancel),
    and so is everything for float64 embeddings. Distances between float32 embeddings are computed in float32,
    as insightface does: float32 differences (each correctly rounded), then BLAS row-wise dot products of
    those differences. Every term is >= 0, so nothing cancels: the relative error is at most about
    (D/32 + 7) * 2^-24 with OpenBLAS's 32-lane sums (1.4e-6 at D = 512; 1.6e-7 seen on the benchmark) and
    D * 2^-24 in the worst case of a plain loop. The scores are float32 values (returned as float64), so
    distances closer than that can round to the same value: 4 of the benchmark's 6,000 do, and ``evaluate``
    treats ties exactly. A float64 accumulation would keep them apart at 1.2e-7 relative, for about 1 ms
    (20% of the whole protocol) per 6,000 pairs; pass float64 embeddings for exact distances.
    """
    if metric not in METRICS:
        raise ConfigError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
    x = np.asarray(embeddings)
    if x.ndim != 2:
        raise DataError(f"embeddings must be a 2-D array (N, D), got shape {x.shape}")
    a = np.asarray(a, dtype=np.int64).ravel()
    b = np.asarray(b, dtype=np.int64).ravel()
    if len(a) != len(b):
        raise DataError(f"pair index arrays differ in length: {len(a)} and {len(b)}")
    n, (rows, dim) = len(a), x.shape
    out = np.empty(n)
    if n == 0:
        return out, metric == "cosine"
    lo, hi = min(int(a.min()), int(b.min())), max(int(a.max()), int(b.max()))
    if lo < -rows or hi >= rows:
        raise DataError(f"pair index {lo if lo < -rows else hi} is out of range for {rows} embeddings")
    # Rows are gathered into buffers reused chunk after chunk: no allocation (and no page faults) per chunk.
    step = min(_CHUNK, n)
    gathered = np.empty((2, step, dim), dtype=x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # overflowed scores are redone from scaled rows
        for i in range(0, n, step):
            m = min(step, n - i)
            xa, xb = gathered[0, :m], gathered[1, :m]
            # Indices are checked above; mode="wrap" is Python's meaning of -rows..-1 and, unlike the default
            # "raise", writes straight into the buffer instead of through a temporary copy.
            np.take(x, a[i : i + m], axis=0, out=xa, mode="wrap")
            np.take(x, b[i : i + m], axis=0, out=xb, mode="wrap")
            out[i : i + m] = _score_chunk(xa, xb, metric, normalize)
        overflow = np.flatnonzero(~np.isfinite(out))  # huge rows: squares overflow, distances may not
        out[overflow] = _scaled_distance(x[a[overflow]], x[b[overflow]], metric)
        if not np.isfinite(out[overflow]).all():
            raise DataError(f"{metric} scores overflow float64 (pair {overflow[0]}); use euclidean or cosine")
    return out, metric == "cosine"


def _scaled_distance(xa: np.ndarray, xb: np.ndarray, metric: str) -> np.ndarray:
    """Distances of rows whose squares overflow: each pair divided by its largest magnitude first."""
    xa, xb = xa.astype(np.float64), xb.astype(np.float64)
    scale = np.maximum(np.abs(xa).max(axis=1), np.abs(xb).max(axis=1))
    scale[scale == 0] = 1.0
    diff = xa / scale[:, None] - xb / scale[:, None]
    d = scale * np.sqrt(_rowdot(diff, diff))
    return d * d if metric == "sqeuclidean" else d


_CHUNK = 512  # rows per step: the buffers stay in cache (3x faster than one 6,000 x 512 pass)


def _rowdot(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise dot products in the rows' precision (BLAS ``vecdot`` on numpy >= 2, else ``einsum``)."""
    return _vecdot(p, q) if _vecdot is not None else np.einsum("ij,ij->i", p, q)


_vecdot = getattr(np, "vecdot", None)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    peak = np.abs(v).max(axis=1, keepdims=True)
    v /= np.where(peak == 0, 1.0, peak)
    v /= np.maximum(np.sqrt(_rowdot(v, v)), 1e-300)[:, None]
    return v


def _score_chunk(xa: np.ndarray, xb: np.ndarray, metric: str, normalize: bool) -> np.ndarray:
    """Scores of one chunk; ``xa`` and ``xb`` are scratch buffers (overwritten). Precision: see ``pair_scores``."""
    if normalize or metric == "cosine":
        # Scale-safe: rows are divided by their largest magnitude before the norm (1e300 and 1e-300 rows
        # normalise correctly); a zero vector stays zero (cosine 0 to everything) instead of becoming NaN.
        xa = _unit_rows(xa.astype(np.float64))
        xb = _unit_rows(xb.astype(np.float64))
    if metric == "cosine":
        return _rowdot(xa, xb)
    if xa.dtype == np.float32:
        diff = np.subtract(xa, xb, out=xa)
    else:
        diff = np.subtract(xa, xb, dtype=np.float64)
    d2 = _rowdot(diff, diff)
    return d2 if metric == "sqeuclidean" else np.sqrt(d2)


@dataclass
class VerificationResult:
    greater_is_same: bool
    fold_ids: np.ndarray  # (K,) the distinct fold ids, sorted: the fold order of every array
    thresholds: np.ndarray  # (K,) accuracy thresholds, caller's scale
    fold_accuracy: np.ndarray  # (K,) held-out accuracy per fold
    train_accuracy: np.ndarray  # (K,) accuracy of that threshold on its training folds
    predicted: np.ndarray  # (P,) bool, each pair's decision by its own fold's threshold
    accuracy_mean: float
    accuracy_std: float  # ddof=0
    accuracy_sem: float  # std(ddof=1)/sqrt(K); NaN for K=1
    intersection_thresholds: np.ndarray
    intersection_accuracy: np.ndarray
    intersection_methods: list[str]  # per fold: kde | means_midpoint | accuracy (fallbacks, see below)
    intersection_accuracy_mean: float
    intersection_accuracy_std: float
    roc_fpr: np.ndarray  # pooled ROC over all pairs
    roc_tpr: np.ndarray
    roc_thresholds: np.ndarray  # accept when the score is at least as "same" as this (sklearn's rule)
    mean_fpr: np.ndarray  # fold-averaged ROC grid
    mean_tpr: np.ndarray
    auc: float
    eer: float
    tar_at_far: list[TarAtFar]
    n_pairs: int
    n_same: int
    n_diff: int
    optimistic: bool  # K == 1: thresholds fitted on the test data itself
    notes: list[str] = field(default_factory=list)

    def summary(self, prefix: str = "test_") -> dict[str, float]:
        """The flat metric names of docs/architecture.md, e.g. ``test_accuracy_mean``."""
        out = {
            "accuracy_mean": self.accuracy_mean,
            "accuracy_std": self.accuracy_std,
            "accuracy_sem": self.accuracy_sem,
            "auc": self.auc,
            "eer": self.eer,
        }
        for t in self.tar_at_far:
            out[f"tar_far_{far_key(t.far)}"] = t.tar_mean
        out["intersection_accuracy_mean"] = self.intersection_accuracy_mean
        return {prefix + k: float(v) for k, v in out.items()}

    def to_json(self) -> dict[str, Any]:
        folds = [
            {"fold": int(f), "threshold": float(t), "accuracy": float(a), "train_accuracy": float(ta)}
            for f, t, a, ta in zip(self.fold_ids, self.thresholds, self.fold_accuracy, self.train_accuracy)
        ]
        return {
            "accuracy_mean": self.accuracy_mean,
            "accuracy_std": self.accuracy_std,
            "accuracy_sem": self.accuracy_sem,
            "auc": self.auc,
            "eer": self.eer,
            "greater_is_same": self.greater_is_same,
            "optimistic": self.optimistic,
            "n_pairs": self.n_pairs,
            "n_same": self.n_same,
            "n_diff": self.n_diff,
            "folds": folds,
            "intersection": {
                "accuracy_mean": self.intersection_accuracy_mean,
                "accuracy_std": self.intersection_accuracy_std,
                "folds": [
                    {"fold": int(f), "threshold": float(t), "accuracy": float(a), "method": m}
                    for f, t, a, m in zip(
                        self.fold_ids,
                        self.intersection_thresholds,
                        self.intersection_accuracy,
                        self.intersection_methods,
                    )
                ],
            },
            "tar_at_far": [
                {
                    "far": t.far,
                    "tar_mean": t.tar_mean,
                    "unresolved": t.unresolved,
                    "tar": t.tar.tolist(),
                    "far_achieved": t.far_achieved.tolist(),
                    "thresholds": t.thresholds.tolist(),
                }
                for t in self.tar_at_far
            ],
            "mean_roc": {"fpr": self.mean_fpr.tolist(), "tpr": self.mean_tpr.tolist()},
            "notes": list(self.notes),
        }


def _check_inputs(scores: Any, same: Any, fold: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(same).ravel()
    f = np.asarray(fold).ravel()
    if not (len(s) == len(y) == len(f)):
        raise DataError(f"scores, same and fold differ in length: {len(s)}, {len(y)}, {len(f)}")
    if len(s) == 0:
        raise DataError("no pairs to evaluate")
    bad = np.flatnonzero(~np.isfinite(s))
    if len(bad):
        raise DataError(f"{len(bad)} scores are NaN or infinite (first at pair index {bad[0]})")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise DataError("same must be boolean or 0/1")
        y = y.astype(bool)
    if not np.issubdtype(f.dtype, np.integer):
        raise DataError(f"fold ids must be integers, got dtype {f.dtype}")
    return s, y, f


def evaluate(
    scores: Any, same: Any, fold: Any, *, greater_is_same: bool, far_targets: tuple[float, ...] = FAR_TARGETS
) -> VerificationResult:
    """Run the k-fold verification protocol on precomputed pair scores (see the module docstring)."""
    s, y, f = _check_inputs(scores, same, fold)
    for far in far_targets:
        if not 0 < far <= 1:
            raise ConfigError(f"far_targets: {far} is not in (0, 1]")
    sign = 1.0 if greater_is_same else -1.0
    u = sign * s
    fold_ids, f_idx = np.unique(f, return_inverse=True)
    K = len(fold_ids)
    # Any ascending order will do: everything below reads sorted values of subsets, or counts at the ends of runs
    # of equal scores, which do not depend on the order within ties (so no stable sort is needed).
    order = np.argsort(u)
    pairs = FoldedScores.of(u, y, f_idx, K, order=order)
    notes: list[str] = []
    if K == 1:
        notes.append("single fold: thresholds fitted on the evaluated pairs themselves (optimistic)")

    t_u, n_correct, n_train = fold_best_cuts(pairs.u_sorted, pairs.y_sorted, pairs.f_sorted, K)
    inter_u, methods = _intersection_thresholds(pairs, t_u)
    predicted = u > t_u[f_idx]
    fold_acc = _per_fold_mean(predicted == y, f_idx, K)
    inter_acc = _per_fold_mean((u > inter_u[f_idx]) == y, f_idx, K)
    roc_fpr, roc_tpr, roc_thr_u, auc = roc_curve_auc(u, y, order=order)
    mean_fpr, mean_tpr = fold_averaged_roc(u, y, f_idx, K)
    tars = [tar_at_far(pairs, far=far, sign=sign) for far in far_targets]
    notes += _unresolved_notes(tars)
    return VerificationResult(
        greater_is_same=bool(greater_is_same),
        fold_ids=fold_ids,
        thresholds=sign * t_u,
        fold_accuracy=fold_acc,
        train_accuracy=n_correct / n_train,
        predicted=predicted,
        accuracy_mean=float(fold_acc.mean()),
        accuracy_std=float(fold_acc.std()),
        accuracy_sem=float(fold_acc.std(ddof=1) / math.sqrt(K)) if K > 1 else math.nan,
        intersection_thresholds=sign * inter_u,
        intersection_accuracy=inter_acc,
        intersection_methods=methods,
        intersection_accuracy_mean=float(inter_acc.mean()),
        intersection_accuracy_std=float(inter_acc.std()),
        roc_fpr=roc_fpr,
        roc_tpr=roc_tpr,
        roc_thresholds=sign * roc_thr_u,
        mean_fpr=mean_fpr,
        mean_tpr=mean_tpr,
        auc=auc,
        eer=equal_error_rate(roc_fpr, roc_tpr),
        tar_at_far=tars,
        n_pairs=len(u),
        n_same=int(y.sum()),
        n_diff=int((~y).sum()),
        optimistic=K == 1,
        notes=notes,
    )


def _intersection_thresholds(pairs: FoldedScores, t_u: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each fold's score-distribution intersection on its training pairs (same-ness scale) and how it was found;
    ``t_u``, the accuracy thresholds, is the fallback when no intersection can be fitted."""
    K = pairs.K
    inter_u = np.empty(K)
    methods = []
    for k in range(K):
        m = pairs.f_sorted != k if K > 1 else slice(None)
        inter_u[k], method = intersection_threshold(pairs.u_sorted[m], pairs.y_sorted[m], fallback=t_u[k])
        methods.append(method)
    return inter_u, methods


def _unresolved_notes(tars: list[TarAtFar]) -> list[str]:
    return [
        f"TAR@FAR={far_key(t.far)}: a test fold has fewer than {math.ceil(1 / t.far)} "
        "negative pairs, so that FAR is below its resolution"
        for t in tars
        if t.unresolved
    ]


def predict(scores: Any, fold: Any, *, thresholds: Any, fold_ids: Any, greater_is_same: bool) -> np.ndarray:
    """Per-pair decisions from stored per-fold thresholds (e.g. a trial's ``verification.npz``)."""
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(fold_ids, kind="stable")  # searchsorted needs sorted ids; evaluate's already are
    fold_ids = np.asarray(fold_ids)[order]
    thresholds = np.asarray(thresholds, dtype=np.float64)[order]
    idx = np.searchsorted(fold_ids, fold)
    if np.any(idx >= len(fold_ids)) or np.any(fold_ids[np.minimum(idx, len(fold_ids) - 1)] != fold):
        raise DataError("a pair's fold id has no stored threshold")
    t = thresholds[idx]
    return s > t if greater_is_same else s < t


def _per_fold_mean(values: np.ndarray, f_idx: np.ndarray, K: int) -> np.ndarray:
    return np.bincount(f_idx, weights=values, minlength=K) / np.bincount(f_idx, minlength=K)
