"""Which hyperparameters matter, judged on every trial at one epoch they all reached.

Optuna's importances see only the trials that ran to the end; with ASHA most did not, and the ones that did were
chosen for being good. Here each sweep's trials (confirmation re-runs left out) are compared at the last epoch
*every* trial reached (ASHA's first rung at least), on the sweep's own validation objective: a numeric key by
Spearman's rank correlation, a categorical one by the Kruskal-Wallis test across its levels. A key a trial's variant
does not read (beta for a plain autoencoder) is left out for that trial. p-values are not corrected for the number
of keys tested: read them as a ranking, not as discoveries.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from . import html
from .stats import is_confirmation

MIN_TRIALS = 6
# Keys that say how or where a trial ran, not what it learned.
SKIP = {"cfg.train.seed", "cfg.name", "cfg.train.threads", "cfg.train.device", "cfg.train.objective",
        "cfg.train.select", "cfg.train.checkpoint", "cfg.data.cache_dir", "cfg.data.root", "cfg.eval.batch_size"}


def applies(key: str, trials: pd.DataFrame) -> pd.Series:
    """Per trial, whether its variant reads ``key`` (``cfg.loss.beta`` only where ``cfg.loss.name`` is vae)."""
    from facebench.config import SECTIONS

    everywhere = pd.Series(True, index=trials.index)
    parts = key.split(".", 2)
    if len(parts) < 3 or parts[1] not in SECTIONS:   # a top-level key (cfg.task)
        return everywhere
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[parts[1]])}
    meta = fields[parts[2]].metadata if parts[2] in fields else {}
    selector = f"cfg.{meta['selector'].key}" if "users" in meta else None
    if selector is None:
        return everywhere
    if selector not in trials.columns:
        return ~everywhere
    return trials[selector].isin(list(meta["users"]))


def common_epoch_effects(ranked: pd.DataFrame, epochs: pd.DataFrame) -> list[tuple[str, int, int, pd.DataFrame]]:
    """Per sweep: (sweep, epoch, trials, rows of key / kind / n / statistic / p / levels), most significant first."""
    out = []
    if ranked.empty or epochs.empty or "objective_metric" not in ranked.columns:
        return out
    own = ranked[~is_confirmation(ranked)]
    for sweep, trials in own.groupby("sweep", sort=False):
        metric = trials["objective_metric"].dropna()
        if metric.empty or metric.iloc[0] not in epochs.columns:
            continue
        ep = epochs[(epochs["sweep"] == sweep) & epochs["trial_id"].isin(trials["trial_id"])]
        ep = ep.dropna(subset=[metric.iloc[0]])
        reached = ep.groupby("trial_id")["epoch"].max()
        if len(reached) < MIN_TRIALS:
            continue
        at = int(reached.min())
        value = ep[ep["epoch"] == at].set_index("trial_id")[metric.iloc[0]]
        rows = [r for key in _varying(trials) if (r := _effect(key, trials, value))]
        if rows:
            out.append((str(sweep), at, len(value), pd.DataFrame(rows).sort_values("p", kind="stable")))
    return out


def _varying(trials: pd.DataFrame) -> list[str]:
    return [c for c in trials.columns if c.startswith("cfg.") and c not in SKIP
            and trials[c].dropna().map(str).nunique() > 1]


def _effect(key: str, trials: pd.DataFrame, value: pd.Series) -> dict[str, Any] | None:
    from scipy import stats

    used = trials[applies(key, trials)]
    x = used.set_index("trial_id")[key].dropna()
    x = x[x.index.isin(value.index)]
    if len(x) < MIN_TRIALS or x.map(str).nunique() < 2:
        return None
    y = value.loc[x.index].to_numpy(float)
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    levels = x.groupby(x.map(_level)).apply(lambda g: float(np.mean(value.loc[g.index])))
    shown = ", ".join(f"{k}: {v:.3f}" for k, v in levels.sort_values(ascending=False).head(6).items())
    if numeric and x.nunique() > 2:
        rho, p = stats.spearmanr(x.to_numpy(float), y)
        return {"key": key[4:], "test": "Spearman rho", "n": len(x), "statistic": float(rho), "p": float(p),
                "levels": "" if x.nunique() > 6 else shown}
    groups = [y[(x.map(str) == lv).to_numpy()] for lv in x.map(str).unique()]
    if any(len(g) < 2 for g in groups) or np.ptp(y) == 0:
        return None
    h, p = stats.kruskal(*groups)
    return {"key": key[4:], "test": "Kruskal-Wallis H", "n": len(x), "statistic": float(h), "p": float(p),
            "levels": shown}


def _level(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) and not math.isnan(v) else str(v)


def effects_html(ranked: pd.DataFrame, epochs: pd.DataFrame) -> str:
    parts = []
    for sweep, at, n, rows in common_epoch_effects(ranked, epochs):
        parts.append(f"<h3>Which hyperparameters matter: {html.esc(sweep)}, all {n} trials at epoch {at}</h3>")
        parts.append(html.table(rows, (("key", "config key"), ("test", "test"), ("n", "trials"),
                                       ("statistic", "statistic"), ("p", "p"), ("levels", "mean objective by level"))))
        parts.append('<p class="note">Every trial is judged on the validation objective at the last epoch all of '
                     "them reached, so trials ASHA stopped count as much as the ones it let finish; a key is tested "
                     "only on the trials whose variant reads it. p-values are uncorrected: a ranking, not a "
                     "discovery.</p>")
    return "".join(parts)
