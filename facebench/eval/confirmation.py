"""Which recipe really wins: the statistics of the confirmation stage (top configurations re-run over seeds).

Arrays in, results out. Each recipe has one run per seed; every run was tested on the SAME test items (pairs of
faces, or CIFAR images in test blocks), so a run is its per-item correctness (each run's decisions from its own
per-fold thresholds, as in compare.py) and its per-fold accuracy.

Test items share people (verification) and runs share items, so neither pairs nor seeds are independent
draws on their own. Every interval here is computed two ways and the WIDER is reported, with its name:

* ``t over seeds``: Student's t on the per-seed values (the recipe's accuracy, or the paired difference of
  two recipes seed by seed), scipy's t distribution, ddof=1;
* ``bootstrap over seeds and folds``: seeds and folds (the units that are independent: ``draw_pairs`` keeps
  each identity inside one fold) resampled together, the same folds for both recipes.

Tests: the per-seed paired t-test on the differences is the comparison's p (Holm over the declared family:
each rival against the reference, statsmodels ``multipletests``); McNemar, only in its exact form
(statsmodels), is shown per seed and never pooled over seeds scored on the same pairs. Equivalence within the
declared margin is TOST (statsmodels ``ttost_paired``); beside each verdict the smallest difference the seeds
could detect at 80% power (statsmodels ``TTestPower``, from the observed per-seed sd of the differences).

"The reference" is chosen by the caller on validation (never on test): this module only compares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from .compare import mcnemar

ALPHA = 0.05
POWER = 0.80
T_METHOD = "t over seeds"
BOOT_METHOD = "bootstrap over seeds and folds"


def image_folds(n: int, k: int = 10) -> np.ndarray:
    """The folds of a classification test set (one decision per image) for the bootstrap over folds: image i in
    fold i mod k. Interleaved, never contiguous: a test set stored class by class (CIFAR-10's image folders are)
    would put one class in each contiguous fold, and resampling folds would then resample classes."""
    return (np.arange(n) % k).astype(np.int16)


@dataclass
class Run:
    seed: int
    correct: np.ndarray  # bool per test item
    fold: np.ndarray  # fold (or test block) per item: the same array for every run

    def fold_accuracy(self) -> np.ndarray:
        _, f_idx = np.unique(self.fold, return_inverse=True)
        return np.bincount(f_idx, weights=self.correct) / np.bincount(f_idx)

    @property
    def accuracy(self) -> float:
        return float(self.fold_accuracy().mean())


@dataclass
class VsReference:
    difference: float  # recipe - reference, mean over common seeds (accuracy, 0-1)
    ci: tuple[float, float]  # the wider of ci_t and ci_bootstrap
    ci_method: str  # which one that was
    ci_t: tuple[float, float]
    ci_bootstrap: tuple[float, float]
    p: float  # per-seed paired t-test on the differences
    sd: float  # sd (ddof=1) of the per-seed differences
    tost_p: float  # TOST against +-margin (statsmodels ttost_paired)
    margin: float
    detectable: float  # smallest |difference| these seeds detect at 80% power (alpha 0.05)
    p_adjusted: float = math.nan  # Holm over the family
    p_mcnemar_per_seed: list[float] = field(default_factory=list)  # exact, one per seed, never pooled
    seeds: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "difference": self.difference,
            "ci": list(self.ci),
            "ci_method": self.ci_method,
            "ci_t": list(self.ci_t),
            "ci_bootstrap": list(self.ci_bootstrap),
            "p": self.p,
            "p_adjusted": self.p_adjusted,
            "test": "paired t over seeds",
            "sd": self.sd,
            "tost_p": self.tost_p,
            "margin": self.margin,
            "detectable": self.detectable,
            "p_mcnemar_per_seed": self.p_mcnemar_per_seed,
            "seeds": self.seeds,
        }


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student's t interval over seeds (ddof=1); one seed gives NaN bounds."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    if v.std(ddof=1) == 0:
        return m, m, m
    lo, hi = stats.t.interval(confidence, len(v) - 1, loc=m, scale=stats.sem(v, ddof=1))
    return m, float(lo), float(hi)


def bootstrap_interval(
    per_seed_fold: np.ndarray, *, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the mean of a (seeds x folds) matrix, seeds and folds resampled independently."""
    d = np.asarray(per_seed_fold, dtype=np.float64)
    rng = np.random.default_rng(seed)
    s = rng.integers(0, d.shape[0], size=(n_boot, d.shape[0]))
    k = rng.integers(0, d.shape[1], size=(n_boot, d.shape[1]))
    means = d[s[:, :, None], k[:, None, :]].mean(axis=(1, 2))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def wider(t: tuple[float, float], boot: tuple[float, float]) -> tuple[tuple[float, float], str]:
    """The wider of the two intervals, and its name; a t-interval that cannot be computed (one seed) loses."""
    if not all(math.isfinite(x) for x in t) or (boot[1] - boot[0]) > (t[1] - t[0]):
        return boot, BOOT_METHOD
    return t, T_METHOD


def accuracy_interval(runs: Sequence[Run], *, n_boot: int = 2000, seed: int = 0) -> dict:
    """A recipe's test accuracy over its seeds: mean, the wider 95% interval (clipped to [0, 1]) and its method."""
    if not runs:
        return {"mean": math.nan, "ci95": [math.nan, math.nan], "ci_method": ""}
    mean, lo, hi = seed_interval([r.accuracy for r in runs])
    boot = bootstrap_interval(np.stack([r.fold_accuracy() for r in runs]), n_boot=n_boot, seed=seed)
    (lo, hi), method = wider((lo, hi), boot)
    return {"mean": mean, "ci95": [max(lo, 0.0), min(hi, 1.0)], "ci_method": method}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels ``multipletests``) over the finite ones; NaN stays NaN."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out.tolist()


def detectable_difference(sd: float, n: int, *, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest |mean difference| a two-sided paired t-test on ``n`` seeds detects with ``power``."""
    from statsmodels.stats.power import TTestPower

    if n < 2 or not math.isfinite(sd):
        return math.nan
    return float(TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power)) * sd


def compare_to_reference(
    runs: Sequence[Run], reference: Sequence[Run], *, margin: float, n_boot: int = 2000, seed: int = 0
) -> VsReference | None:
    """``runs`` against ``reference`` on their common seeds; None when they share no seed."""
    mine, theirs = {r.seed: r for r in runs}, {r.seed: r for r in reference}
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return None
    fold = theirs[seeds[0]].fold
    for s in seeds:
        if len(mine[s].correct) != len(fold) or not np.array_equal(mine[s].fold, fold):
            raise DataError(f"seed {s}: the runs were not tested on the same items")
    a = np.array([mine[s].accuracy for s in seeds])
    b = np.array([theirs[s].accuracy for s in seeds])
    diff = a - b
    matrix = np.stack([mine[s].fold_accuracy() - theirs[s].fold_accuracy() for s in seeds])
    _, lo, hi = seed_interval(diff)
    ci_boot = bootstrap_interval(matrix, n_boot=n_boot, seed=seed)
    ci, method = wider((lo, hi), ci_boot)
    sd = float(diff.std(ddof=1)) if len(seeds) > 1 else math.nan
    return VsReference(
        difference=float(diff.mean()),
        ci=ci,
        ci_method=method,
        ci_t=(lo, hi),
        ci_bootstrap=ci_boot,
        p=_paired_t(diff),
        sd=sd,
        tost_p=_tost(a, b, margin),
        margin=margin,
        detectable=detectable_difference(sd, len(seeds)),
        p_mcnemar_per_seed=[_exact_mcnemar(mine[s], theirs[s]) for s in seeds],
        seeds=seeds,
    )


def _paired_t(diff: np.ndarray) -> float:
    from scipy import stats

    if len(diff) < 2:
        return math.nan
    if diff.std(ddof=1) == 0:
        return 1.0 if diff.mean() == 0 else 0.0
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


def _tost(a: np.ndarray, b: np.ndarray, margin: float) -> float:
    from statsmodels.stats.weightstats import ttost_paired

    d = a - b
    if len(a) < 2 or margin <= 0:
        return math.nan
    if d.std(ddof=1) == 0:  # no spread: equivalent exactly when every difference is inside the margin
        return 0.0 if abs(d.mean()) < margin else 1.0
    return float(ttost_paired(a, b, -margin, margin)[0])


def _exact_mcnemar(a: Run, b: Run) -> float:
    ca, cb = a.correct.astype(bool), b.correct.astype(bool)
    return mcnemar(int((ca & ~cb).sum()), int((~ca & cb).sum()))[1]


def verdict(v: VsReference, alpha: float = ALPHA) -> str:
    """Exactly one of: "better by x points (CI a to b)", "worse by x points (CI a to b)", "equivalent within
    +-m points (CI a to b)", "inconclusive: CI a to b is wider than the margin" (x, a, b, m in points)."""
    lo, hi, m = 100 * v.ci[0], 100 * v.ci[1], 100 * v.margin
    ci = f"CI {lo:+.1f} to {hi:+.1f}"
    excludes_zero = v.ci[0] > 0 or v.ci[1] < 0
    if math.isfinite(v.p_adjusted) and v.p_adjusted < alpha and excludes_zero:
        return f"{'better' if v.difference > 0 else 'worse'} by {abs(100 * v.difference):.1f} points ({ci})"
    if math.isfinite(v.tost_p) and v.tost_p < alpha and -v.margin < v.ci[0] and v.ci[1] < v.margin:
        return f"equivalent within ±{m:.1f} points ({ci})"
    return f"inconclusive: {ci} is wider than the margin"


def comparison_line(recipe: str, reference: str, v: VsReference) -> str:
    """The line the console and the report print for one recipe against the reference."""
    return f"{recipe} against {reference}: {verdict(v)}; {detectable_note(v)}"


def coverage(runs: Sequence[dict], intervals: dict[str, Sequence[float]]) -> dict:
    """Calibration of the prediction intervals: the fraction of new-seed objectives ({source_trial_id, seed,
    objective}) inside their source trial's ``objective_pi95``, with its Wilson 95% interval; marks each run's
    ``inside``."""
    from statsmodels.stats.proportion import proportion_confint

    inside = [intervals[r["source_trial_id"]][0] <= r["objective"] <= intervals[r["source_trial_id"]][1] for r in runs]
    for r, ok in zip(runs, inside):
        r["inside"] = bool(ok)
    n, k = len(inside), sum(inside)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson") if n else (math.nan, math.nan)
    return {
        "coverage": k / n if n else math.nan,
        "ci95": [float(lo), float(hi)],
        "n": n,
        "inside": k,
        "interval": "objective_pi95",
        "ci_method": "Wilson (statsmodels proportion_confint)",
    }


def detectable_note(v: VsReference) -> str:
    """What the seeds could see: "5 seeds detect 2.3 points at 80% power"."""
    n = len(v.seeds)
    if not math.isfinite(v.detectable):
        return f"{n} seed{'s' if n != 1 else ''}: too few to estimate what they could detect"
    return f"{n} seeds detect {100 * v.detectable:.1f} points at 80% power"
