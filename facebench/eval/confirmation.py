"""Which recipe really wins: the statistics of the confirmation stage (top configurations re-run over seeds).

Arrays in, results out. Each recipe has one run per seed; every run was tested on the SAME test pairs, so a
run is its per-pair correctness (each run's decisions from its own per-fold thresholds, as in compare.py).

* Per recipe: test accuracy per seed (the mean over folds, the LFW number), their mean and a 95% t-interval
  over seeds.
* Each recipe against the best one, on the seeds both have: the mean over seeds of the accuracy difference,
  with a bootstrap 95% CI that resamples both the seeds (paired) and the test pairs (within folds, the same
  resample for both recipes and every seed); McNemar's test per seed, and for the comparison the test on the
  discordant pairs pooled over seeds (the Mantel-Haenszel test for matched pairs); Holm's correction across
  the comparisons.

"The best" is chosen by the caller on validation (never on test): this module only compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import DataError
from .compare import mcnemar

ALPHA = 0.05


@dataclass
class Run:
    seed: int
    correct: np.ndarray      # bool per test pair
    fold: np.ndarray         # fold id per test pair (the same array for every run)

    @property
    def accuracy(self) -> float:
        _, f_idx = np.unique(self.fold, return_inverse=True)
        return float((np.bincount(f_idx, weights=self.correct) / np.bincount(f_idx)).mean())


@dataclass
class VsBest:
    difference: float                # recipe - best, mean over common seeds (accuracy, 0-1)
    ci: tuple[float, float]
    p: float                         # pooled McNemar over seeds
    p_adjusted: float = math.nan     # Holm over the comparisons
    p_per_seed: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"difference": self.difference, "ci": list(self.ci), "p": self.p, "p_adjusted": self.p_adjusted,
                "p_per_seed": self.p_per_seed, "seeds": self.seeds}


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student's t interval over seeds; one seed gives NaN bounds."""
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    h = float(t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - h, m + h


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, made monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.full(len(p), np.nan)
    order = ok[np.argsort(p[ok], kind="stable")]
    running, m = 0.0, len(order)
    for i, j in enumerate(order):
        running = max(running, (m - i) * p[j])
        out[j] = min(1.0, running)
    return out.tolist()


def compare_to_best(runs: Sequence[Run], best: Sequence[Run], *, n_boot: int = 2000, seed: int = 0,
                    confidence: float = 0.95) -> VsBest | None:
    """``runs`` against ``best`` on their common seeds; None when they share no seed."""
    mine, theirs = {r.seed: r for r in runs}, {r.seed: r for r in best}
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return None
    fold = theirs[seeds[0]].fold
    for s in seeds:
        if len(mine[s].correct) != len(fold) or not np.array_equal(mine[s].fold, fold):
            raise DataError(f"seed {s}: the runs were not tested on the same pairs")
    diff = np.stack([mine[s].correct.astype(np.float64) - theirs[s].correct.astype(np.float64) for s in seeds])
    boots = _bootstrap(diff, fold, n_boot=n_boot, seed=seed)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    per_seed, only_a, only_b = [], 0, 0
    for s in seeds:
        a, b = mine[s].correct.astype(bool), theirs[s].correct.astype(bool)
        na, nb = int((a & ~b).sum()), int((~a & b).sum())
        per_seed.append(mcnemar(na, nb)[1])
        only_a, only_b = only_a + na, only_b + nb
    difference = float(np.mean([mine[s].accuracy - theirs[s].accuracy for s in seeds]))
    return VsBest(difference=difference, ci=(float(lo), float(hi)), p=mcnemar(only_a, only_b)[1],
                  p_per_seed=per_seed, seeds=seeds)


def _bootstrap(diff: np.ndarray, fold: np.ndarray, *, n_boot: int, seed: int) -> np.ndarray:
    """Mean-over-seeds of fold-mean differences, with seeds and pairs (within folds) resampled together."""
    rng = np.random.default_rng(seed)
    n_seeds = diff.shape[0]
    fold_ids, f_idx = np.unique(fold, return_inverse=True)
    per_seed = np.zeros((n_boot, n_seeds))
    for k in range(len(fold_ids)):
        dk = diff[:, f_idx == k]
        idx = rng.integers(0, dk.shape[1], size=(n_boot, dk.shape[1]))
        per_seed += dk[:, idx].mean(axis=2).T
    per_seed /= len(fold_ids)
    seeds = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    return np.take_along_axis(per_seed, seeds, axis=1).mean(axis=1)


def significant(v: VsBest, alpha: float = ALPHA) -> bool:
    """A difference is claimed only when both the adjusted test and the bootstrap interval agree."""
    excludes_zero = v.ci[0] > 0 or v.ci[1] < 0
    return bool(math.isfinite(v.p_adjusted) and v.p_adjusted < alpha and excludes_zero)


def verdict(name: str, best: str, v: VsBest | None) -> str:
    """One plain line: "ArcFace beats CE by 3.1 ± 1.2 points" or "CE and ArcFace are indistinguishable"."""
    if v is None:
        return f"{name} and {best} share no completed seed: not compared"
    half = 100 * (v.ci[1] - v.ci[0]) / 2
    d = 100 * v.difference
    if not significant(v):
        # The CI (seeds and pairs resampled) is the stricter check: a pooled per-pair p can be small while the
        # seed-to-seed spread still covers 0, so the sentence gives the interval, the table gives the p.
        return (f"{best} and {name} are indistinguishable (difference {d:+.1f} points, 95% CI "
                f"{100 * v.ci[0]:+.1f} to {100 * v.ci[1]:+.1f} over seeds and test pairs)")
    winner, loser = (best, name) if d < 0 else (name, best)
    return f"{winner} beats {loser} by {abs(d):.1f} ± {half:.1f} points (adjusted p = {v.p_adjusted:.2g})"
