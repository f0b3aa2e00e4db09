"""Paired comparison of two trials on the same verification pairs.

Each trial's per-pair decisions come from its OWN per-fold thresholds (fitted on its training folds), so
the comparison is of the two protocols' outcomes, not of a re-fit. The difference in mean fold accuracy
gets a paired bootstrap CI (pairs resampled with replacement within each fold, the same resample for both
trials, thresholds not re-fitted) and McNemar's exact test on the discordant pairs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..resources import check_memory


@dataclass
class Comparison:
    fold_ids: np.ndarray
    fold_accuracy_a: np.ndarray
    fold_accuracy_b: np.ndarray
    fold_diff: np.ndarray  # a - b per fold
    accuracy_a: float  # mean over folds (the LFW number)
    accuracy_b: float
    mean_diff: float  # a - b, mean over folds
    ci_low: float
    ci_high: float
    confidence: float
    n_boot: int
    seed: int
    only_a_correct: int  # McNemar's b
    only_b_correct: int  # McNemar's c
    both_correct: int
    both_wrong: int
    mcnemar_statistic: float  # the smaller discordant count (exact binomial test)
    mcnemar_p: float
    mcnemar_method: str  # exact | none (no discordant pairs)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, np.ndarray):
                out[k] = v.tolist()
        return out


def mcnemar(only_a: int, only_b: int) -> tuple[float, float, str]:
    """Two-sided McNemar test, always exact (statsmodels ``mcnemar(exact=True)``: the binomial test on the
    discordant pairs). The chi-square form is not used: its continuity correction is not clipped, so
    ``mcnemar(50, 50)`` would give p = 0.92 instead of 1. Returns ``(statistic, p_value, method)``, the statistic
    being the smaller discordant count."""
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    if only_a + only_b == 0:
        return 0.0, 1.0, "none"
    r = sm_mcnemar([[0, only_a], [only_b, 0]], exact=True)
    return float(r.statistic), float(r.pvalue), "exact"


def bootstrap_diff(
    correct_a: np.ndarray, correct_b: np.ndarray, f_idx: np.ndarray, K: int, *, n_boot: int, seed: int
) -> np.ndarray:
    """``n_boot`` resampled mean-over-folds differences; one (n_boot, n_k) index draw per fold."""
    rng = np.random.default_rng(seed)
    d = correct_a.astype(np.float64) - correct_b.astype(np.float64)
    total = np.zeros(n_boot)
    for k in range(K):
        dk = d[f_idx == k]
        idx = rng.integers(0, len(dk), size=(n_boot, len(dk)))
        total += dk[idx].mean(axis=1)
    return total / K


def paired_comparison(
    correct_a: Any, correct_b: Any, fold: Any, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95
) -> Comparison:
    """Compare per-pair correctness of trials A and B on the same pairs (``fold`` gives each pair's fold)."""
    ca = np.asarray(correct_a, dtype=bool).ravel()
    cb = np.asarray(correct_b, dtype=bool).ravel()
    f = np.asarray(fold).ravel()
    if not (len(ca) == len(cb) == len(f)) or len(ca) == 0:
        raise DataError(f"paired comparison needs the same non-empty pairs: got {len(ca)}, {len(cb)}, {len(f)}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence {confidence} is not in (0, 1)")
    if n_boot < 1:
        raise ConfigError(f"n_boot {n_boot} must be >= 1")
    fold_ids, f_idx = np.unique(f, return_inverse=True)
    K = len(fold_ids)
    counts = np.bincount(f_idx, minlength=K)
    # The bootstrap draws an (n_boot, pairs-of-a-fold) int64 index and its float64 gather per fold, plus
    # the n_boot totals and their sorted copy for the quantiles: refuse before allocating what cannot fit.
    check_memory(n_boot * (16 * int(counts.max()) + 16), f"--n-boot {n_boot}")
    acc_a = np.bincount(f_idx, weights=ca, minlength=K) / counts
    acc_b = np.bincount(f_idx, weights=cb, minlength=K) / counts
    boots = bootstrap_diff(ca, cb, f_idx, K, n_boot=n_boot, seed=seed)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    only_a, only_b = int((ca & ~cb).sum()), int((~ca & cb).sum())
    stat, p, method = mcnemar(only_a, only_b)
    return Comparison(
        fold_ids=fold_ids,
        fold_accuracy_a=acc_a,
        fold_accuracy_b=acc_b,
        fold_diff=acc_a - acc_b,
        accuracy_a=float(acc_a.mean()),
        accuracy_b=float(acc_b.mean()),
        mean_diff=float((acc_a - acc_b).mean()),
        ci_low=float(lo),
        ci_high=float(hi),
        confidence=confidence,
        n_boot=n_boot,
        seed=seed,
        only_a_correct=only_a,
        only_b_correct=only_b,
        both_correct=int((ca & cb).sum()),
        both_wrong=int((~ca & ~cb).sum()),
        mcnemar_statistic=stat,
        mcnemar_p=p,
        mcnemar_method=method,
    )


def compare_verification(a: dict, b: dict, **kwargs: Any) -> Comparison:
    """Compare two trials' verification artefacts (``facebench.artefacts.read_verification_npz`` dicts).

    Stored thresholds are used when present; otherwise the protocol is re-run on the stored scores.
    """
    for key in ("same", "fold"):
        if not np.array_equal(np.asarray(a[key]), np.asarray(b[key])):
            raise DataError(
                f"{a.get('source', 'A')} and {b.get('source', 'B')} are not on the same pairs ('{key}' arrays differ)"
            )
    return paired_comparison(correct_decisions(a, "A"), correct_decisions(b, "B"), a["fold"], **kwargs)


def correct_decisions(t: dict, name: str = "") -> np.ndarray:
    """Per pair: was the trial's same/different decision right? Its stored per-fold thresholds are used when
    present; otherwise the protocol is re-run on the stored scores. NaN/inf scores are a DataError."""
    from .verification import evaluate, predict

    for key in ("scores", "thresholds"):
        values = np.asarray(t.get(key, np.zeros(0)))
        if values.dtype.kind not in "fiu" or not np.isfinite(values.astype(np.float64)).all():
            raise DataError(
                f"{t.get('source', name)}: {key} contain NaN, inf or non-numbers; a comparison "
                "on them would be meaningless"
            )
    gis = bool(t["greater_is_same"])
    # fold_ids is optional in the artefact: thresholds are then in sorted fold-id order.
    fold_ids = t.get("fold_ids", np.unique(t["fold"]))
    if "thresholds" in t and len(t["thresholds"]) == len(fold_ids):
        pred = predict(t["scores"], t["fold"], thresholds=t["thresholds"], fold_ids=fold_ids, greater_is_same=gis)
    else:
        pred = evaluate(t["scores"], t["same"], t["fold"], greater_is_same=gis).predicted
    return pred == np.asarray(t["same"], dtype=bool)
