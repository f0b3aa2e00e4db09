"""One linear model of every factor together: aliasing found first, then OLS and a type-II ANOVA.

Optuna picks a sweep's configurations adaptively, so factors travel together (width with backbone, optimizer with
batch size). Testing one factor at a time credits a factor with its companion's effect; here every factor of a
scope is in one model, and a factor the design cannot separate from another is named as aliased with it and gets
no effect of its own.

* Design: a categorical (or two-valued) key is dummy-coded; a numeric key with more than two values is linear, in
  log10 where its values are positive and span more than a factor of 10 (learning rates).
* Aliasing: two keys whose design columns have a canonical correlation of at least ALIAS_R (0.95) are aliased;
  the key with more columns (then the later name) is named "aliased with" the other and left out. A key whose
  columns add less rank than they have to the keys before it is aliased with a combination of them.
* Model: least squares on the kept keys' columns; each key's F-test given all the others (the full model against
  the model without it: the type-II ANOVA of a main-effects model, checked against statsmodels' ``anova_lm``).
  Needs at least 2 residual degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ALIAS_R = 0.95  # canonical correlation at or above which two keys are aliased (near-perfect confounding)
MIN_RESIDUAL_DF = 2


@dataclass
class JointFit:
    n: int
    rows: list[dict] = field(default_factory=list)  # key, term, df, F, p, aliased_with, effect
    note: str = ""


def design(x: pd.Series) -> tuple[np.ndarray, str]:
    """The columns a key contributes (centered) and how it is coded ("levels" or "linear" / "linear in log10")."""
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    if numeric and x.nunique() > 2:
        v = x.to_numpy(float)
        if (v > 0).all() and v.max() / v.min() > 10:
            return (np.log10(v) - np.log10(v).mean())[:, None], "linear in log10"
        return (v - v.mean())[:, None], "linear"
    d = pd.get_dummies(x.map(str), drop_first=True).to_numpy(float)
    return d - d.mean(axis=0), "levels"


def canonical_r(a: np.ndarray, b: np.ndarray) -> float:
    """The largest canonical correlation between two centered column sets (1: one determines part of the other)."""
    qa, qb = _basis(a), _basis(b)
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        return 0.0
    return float(min(1.0, np.linalg.svd(qa.T @ qb, compute_uv=False).max()))


def _basis(m: np.ndarray) -> np.ndarray:
    u, s, _ = np.linalg.svd(m, full_matrices=False)
    return u[:, s > 1e-9 * max(1.0, s.max(initial=0.0))]


def aliases(data: pd.DataFrame, keys: list[str]) -> tuple[list[str], dict[str, str]]:
    """(keys kept, {aliased key: what it is aliased with}); ``data`` holds one column per key, no missing values."""
    cols = {k: design(data[k])[0] for k in keys}
    order = sorted(keys, key=lambda k: (cols[k].shape[1], k))
    kept: list[str] = []
    aliased: dict[str, str] = {}
    for k in order:
        partner = next((j for j in kept if canonical_r(cols[k], cols[j]) >= ALIAS_R), None)
        if partner is not None:
            aliased[k] = partner
            continue
        before = np.linalg.matrix_rank(np.hstack([cols[j] for j in kept])) if kept else 0
        after = np.linalg.matrix_rank(np.hstack([cols[j] for j in kept] + [cols[k]]))
        if after - before < cols[k].shape[1]:
            aliased[k] = "a combination of " + ", ".join(kept)
            continue
        kept.append(k)
    return kept, aliased


def joint_anova(data: pd.DataFrame, keys: list[str], y: str = "y") -> JointFit:
    """Type-II ANOVA of ``y`` on every key of ``keys`` at once (aliased keys named and left out)."""
    kept, aliased = aliases(data, keys)
    fit = JointFit(n=len(data))
    cols = {k: design(data[k])[0] for k in kept}
    params = 1 + sum(c.shape[1] for c in cols.values())
    if not kept or len(data) - params < MIN_RESIDUAL_DF:
        fit.note = (
            f"{len(data)} trials cannot fit {params} parameters with {MIN_RESIDUAL_DF} residual degrees "
            "of freedom: no joint test"
        )
        tests = {}
    else:
        tests = type2_tests(data[y].to_numpy(float), cols)
    for k in kept:
        F, p, df = tests.get(k, (math.nan, math.nan, math.nan))
        fit.rows.append(
            {
                "key": k,
                "term": design(data[k])[1],
                "df": df,
                "F": F,
                "p": p,
                "aliased_with": "",
                "effect": _effect(data[k], data[y]),
            }
        )
    for k, partner in aliased.items():
        fit.rows.append(
            {
                "key": k,
                "term": design(data[k])[1],
                "df": math.nan,
                "F": math.nan,
                "p": math.nan,
                "aliased_with": partner,
                "effect": _effect(data[k], data[y]),
            }
        )
    return fit


def type2_tests(y: np.ndarray, cols: dict[str, np.ndarray]) -> dict[str, tuple[float, float, float]]:
    """{key: (F, p, df)}: each key's F-test of the least-squares model with every key against the model without that
    key. With main effects only this is the type-II ANOVA that statsmodels' ``anova_lm(typ=2)`` gives for the same
    formula (tests/test_report_effects.py checks F, p and df against it). Written with numpy's least squares and
    scipy's F distribution: statsmodels' regression module costs a second of import on every report."""
    from scipy.special import fdtrc

    def rss(keys: list[str]) -> tuple[float, int]:
        x = np.hstack([np.ones((len(y), 1))] + [cols[k] for k in keys])
        beta, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
        return float(np.sum((y - x @ beta) ** 2)), int(rank)

    full, rank = rss(list(cols))
    resid_df = len(y) - rank
    out = {}
    for k in cols:
        reduced, reduced_rank = rss([j for j in cols if j != k])
        df = rank - reduced_rank
        F = (reduced - full) / df / (full / resid_df) if df > 0 and full > 0 and resid_df > 0 else math.nan
        p = float(fdtrc(df, resid_df, F)) if np.isfinite(F) else math.nan
        out[k] = (float(F), p, float(df) if df > 0 else math.nan)
    return out


def _effect(x: pd.Series, y: pd.Series) -> str:
    """Descriptive: the mean objective per level (numeric keys with many values: the range they took)."""
    if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x) and x.nunique() > 6:
        return f"{x.min():.3g} to {x.max():.3g}"
    means = y.groupby(x.map(lambda v: f"{v:.3g}" if isinstance(v, float) else str(v))).mean()
    return ", ".join(f"{k}: {v:.3f}" for k, v in means.sort_values(ascending=False).head(6).items())
