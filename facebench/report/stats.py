"""Spread, not single runs: mean ± std over folds and over seeds, ranking, the paired comparison of the top trials.

Trials are ranked by ``objective`` (the one validation number the sweep declared, the same one Optuna was told
and the sweep summary ranks), not by a test metric: the report shows test numbers but never picks the "best"
trial on the test set. Equal objectives keep trial order, never a test score.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from facebench.errors import FacebenchError

RANK_BY = "objective"
# Columns that tell repeats of one recipe apart rather than define the recipe.
NOT_RECIPE = (
    "cfg.train.seed",
    "cfg.name",
    "cfg.data.synthetic_seed",
    "cfg.data.cache_dir",
    "cfg.train.device",
    "cfg.train.threads",
)


def is_confirmation(df: pd.DataFrame) -> pd.Series:
    """Rows that are confirmation re-runs (stage "confirmation") or calibration re-runs ("calibration"): repeats of a
    configuration with new seeds, not candidates."""
    if "stage" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["stage"].isin(["confirmation", "calibration"])


INTERVALS = ("objective_ci95", "objective_pi95")


def with_intervals(trials: pd.DataFrame, sweeps: list[Any]) -> pd.DataFrame:
    """The trials table with each trial's ``objective_ci95`` / ``objective_pi95`` (low and high columns) from its
    sweep's summary.json, where the sweep computed them (people and seeds counted; facebench.sweep.intervals)."""
    found = {
        (s.name, str(r.get("trial_id"))): r
        for s in sweeps
        for r in (s.summary or {}).get("trials") or []
        if isinstance(r, dict)
    }
    out = trials.copy()
    for key in INTERVALS:
        pairs = [found.get((sw, str(t)), {}).get(key) for sw, t in zip(out["sweep"], out["trial_id"])]
        ok = [p if isinstance(p, (list, tuple)) and len(p) == 2 else (np.nan, np.nan) for p in pairs]
        if all(p == (np.nan, np.nan) for p in ok) and len(ok):
            continue  # a sweep from before intervals (or lone trials): no empty columns
        out[f"{key}_lo"] = pd.to_numeric([p[0] for p in ok], errors="coerce")
        out[f"{key}_hi"] = pd.to_numeric([p[1] for p in ok], errors="coerce")
    return out


def rank_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Completed trials first, then by objective in its own direction (missing last), then in trial order; adds
    ``rank`` (1-based) and ``tied_with_first`` (completed trials within the noise of #1, facebench.eval.uncertainty)."""
    from facebench.eval.uncertainty import tie_se, tied_with_first

    df = trials.copy()
    for col in (RANK_BY, "objective_se"):
        if col not in df.columns:
            df[col] = np.nan
    mode = df["objective_mode"] if "objective_mode" in df.columns else pd.Series("max", index=df.index)
    # A sweep's own trials first: confirmation re-runs (stage "confirmation") are repeats, not candidates.
    df["_done"] = (df["status"] != "completed").astype(int) + 2 * is_confirmation(df).astype(int)
    df["_key"] = np.where(mode == "min", 1.0, -1.0) * pd.to_numeric(df[RANK_BY], errors="coerce")
    df = df.sort_values(["_done", "_key", "sweep", "trial_id"], na_position="last", kind="stable")
    df = df.drop(columns=["_done", "_key"]).reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    done = (df["status"] == "completed") & ~is_confirmation(df)
    first_mode = df.loc[done, "objective_mode"].iloc[0] if done.any() and "objective_mode" in df.columns else "max"
    rows = df.loc[done]
    nan = np.full(len(rows), np.nan)
    se = tie_se(  # objective_ci95's columns are there where the sweep computed intervals (with_intervals)
        rows["objective_ci95_lo"].to_numpy(float) if "objective_ci95_lo" in rows.columns else nan,
        rows["objective_ci95_hi"].to_numpy(float) if "objective_ci95_hi" in rows.columns else nan,
        pd.to_numeric(rows["objective_se"], errors="coerce").to_numpy(float),
    )
    tied = tied_with_first(
        pd.to_numeric(rows[RANK_BY], errors="coerce").to_numpy(float), se, mode="min" if first_mode == "min" else "max"
    )
    df["tied_with_first"] = False
    if done.any():
        df.loc[done, "tied_with_first"] = tied
    return df


def fold_summary(folds: pd.DataFrame) -> pd.DataFrame:
    """Per trial and split: mean, std (ddof=0, as facebench.eval) and count of fold accuracies."""
    if folds.empty:
        return pd.DataFrame(columns=["sweep", "trial_id", "split", "fold_mean", "fold_std", "folds"])
    g = folds.groupby(["sweep", "trial_id", "split"], sort=False)["accuracy"]
    return g.agg(fold_mean="mean", fold_std=lambda x: float(np.std(x)), folds="count").reset_index()


def recipe_columns(trials: pd.DataFrame) -> list[str]:
    """Config columns that vary between trials, leaving out the seed: what defines a recipe in this report."""
    cols = [c for c in trials.columns if c.startswith("cfg.") and c not in NOT_RECIPE]
    return [c for c in cols if trials[c].map(str).nunique(dropna=False) > 1]


def recipe_labels(trials: pd.DataFrame, cols: list[str] | None = None) -> pd.Series:
    cols = recipe_columns(trials) if cols is None else cols
    if not cols:
        return pd.Series(["(all trials)"] * len(trials), index=trials.index)
    # key=value for each varying key the trial has: floats to 4 significant digits, a key the recipe does not
    # use (loss.h of a non-AdaFace trial: NaN) left out.
    parts = [
        trials[c].map(lambda v, k=c[4:]: "" if _missing(v) else f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
        for c in cols
    ]
    out = parts[0]
    for p in parts[1:]:
        out = out + " " + p
    return out.str.split().str.join(" ")


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def seed_summary(trials: pd.DataFrame) -> pd.DataFrame:
    """Completed trials grouped by recipe (config without seed): n, mean ± sd (ddof=1) of test score and val accuracy.
    The report shows it only where some recipe ran with two seeds or more (``n_seeds``)."""
    done = trials[trials["status"] == "completed"]
    cols = ["recipe", "task", "n_seeds", "seeds", "score_mean", "score_std", "val_mean", "val_std"]
    if done.empty:
        return pd.DataFrame(columns=cols)
    done = done.assign(recipe=recipe_labels(done, recipe_columns(trials)))
    g = done.groupby(["recipe", "task"], sort=False, dropna=False)
    out = g.agg(
        n_seeds=("trial_id", "count"),
        seeds=("seed", lambda s: ",".join(str(v) for v in sorted(s.dropna()))),
        score_mean=("score", "mean"),
        score_std=("score", _sd),
        val_mean=(RANK_BY, "mean"),
        val_std=(RANK_BY, _sd),
    ).reset_index()
    return out.sort_values(["val_mean", "score_mean"], ascending=False, na_position="last")[cols]


def _sd(x: pd.Series) -> float:
    """Sample sd over seeds (ddof=1, as every interval over seeds uses); NaN for one seed."""
    v = x.dropna().to_numpy(float)
    return float(np.std(v, ddof=1)) if len(v) > 1 else float("nan")


def missing_notes(trials: pd.DataFrame) -> list[str]:
    """Plain-language notes on what is absent: no trials, no completed trials, metrics missing or NaN."""
    from .tables import CIFAR_METRICS, COMMON_METRICS, FACE_METRICS

    if trials.empty:
        return ["no trials found: the run directories hold no trial directories"]
    notes = []
    counts = trials["status"].value_counts()
    if counts.get("completed", 0) == 0:
        notes.append(f"no completed trials ({', '.join(f'{n} {s}' for s, n in counts.items())})")
    done = trials[trials["status"] == "completed"]
    is_cifar = done["task"] == "cifar"
    for metrics, rows in ((FACE_METRICS, done[~is_cifar]), (CIFAR_METRICS, done[is_cifar]), (COMMON_METRICS[:4], done)):
        for m in metrics:
            n = int(rows[m].isna().sum()) if m in rows.columns else len(rows)
            if len(rows) and n:
                notes.append(f"metric {m} missing or NaN for {n} of {len(rows)} completed trials")
    return notes


def paired_comparison(
    ranked: pd.DataFrame, load: Callable[[str, str], dict | None], *, top: int = 4
) -> tuple[pd.DataFrame | None, list[str]]:
    """The best verification trial (by validation rank) against each of the next ``top - 1``, on the test pairs.

    Uses ``facebench.eval.compare.compare_verification`` (each trial's own fold thresholds; paired bootstrap
    CI of the accuracy difference and McNemar's test). Returns (table or None, notes).
    """
    from facebench.eval.compare import compare_verification

    cand = ranked[(ranked["status"] == "completed") & (ranked["task"] != "cifar")]
    arts = []
    for _, r in cand.iterrows():
        a = load(r["location"], "verification.npz")
        if a and "scores" in a:
            arts.append((r, a))
        if len(arts) >= top:
            break
    if len(arts) < 2:
        return None, ["paired comparison needs >= 2 completed verification trials with artefacts/verification.npz"]
    rows, notes = [], []
    (ra, a), rest = arts[0], arts[1:]
    for rb, b in rest:
        try:
            c = compare_verification({**a, "source": ra["trial_id"]}, {**b, "source": rb["trial_id"]})
        except FacebenchError as e:  # e.g. two sweeps tested on different pairs
            notes.append(f"paired comparison {ra['trial_id']} vs {rb['trial_id']} skipped: {e}")
            continue
        rows.append(
            {
                "a": _label(ra),
                "b": _label(rb),
                "accuracy_a": c.accuracy_a,
                "accuracy_b": c.accuracy_b,
                "mean_diff": c.mean_diff,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "mcnemar_p": c.mcnemar_p,
                "mcnemar_method": c.mcnemar_method,
                "only_a_correct": c.only_a_correct,
                "only_b_correct": c.only_b_correct,
            }
        )
    return (pd.DataFrame(rows) if rows else None), notes


def _label(r: Any) -> str:
    return f"#{r['rank']} {r['sweep']}/{r['trial_id']}" + (
        f" ({r['name']})" if r["name"] and r["name"] != r["trial_id"] else ""
    )
