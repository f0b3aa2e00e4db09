"""Which hyperparameters matter: one model of every factor together, judged on every trial at one epoch they all
reached.

Optuna's importances see only the trials that ran to the end; with ASHA most did not, and the ones that did were
chosen for being good. Here each sweep's trials (confirmation re-runs left out) are compared at the last epoch
*every* trial reached (ASHA's first rung at least), on the sweep's own validation objective, with all factors in one
OLS model and a type-II ANOVA (facebench/report/anova.py): a factor aliased with another in the design is named so
and given no effect of its own, and the p-values are Holm-adjusted over every factor tested. A key is analysed only
over the trials whose variant reads it (beta only for the VAE); a loss's own keys (scale, margin, ...) are analysed
per loss, since SphereFace's margin and ArcFace's are different quantities.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from . import html
from .anova import ALIAS_R
from .stats import is_confirmation

MIN_TRIALS = 6
LOSS = "cfg.loss.name"  # the selector whose keys are analysed per level (per loss)
# Keys that say how or where a trial ran, not what it learned.
SKIP = {
    "cfg.train.seed",
    "cfg.name",
    "cfg.train.threads",
    "cfg.train.device",
    "cfg.train.objective",
    "cfg.train.select",
    "cfg.train.checkpoint",
    "cfg.data.cache_dir",
    "cfg.data.root",
    "cfg.eval.batch_size",
}


def common_epoch_values(ranked: pd.DataFrame, epochs: pd.DataFrame) -> list[tuple[str, int, pd.DataFrame, pd.Series]]:
    """Per sweep: (sweep, the last epoch every sweep trial reached, the sweep's trials, their objective at that
    epoch by trial_id). The effects table and the factor plots both read this."""
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
        out.append((str(sweep), at, trials[trials["trial_id"].isin(value.index)], value))
    return out


_LAST: list = []  # (ranked, epochs, result) of the last call: the effects table, factor plots and importance
# caption of one page all read the same frames, and the joint fits cost a second or more at 1,000 trials


def common_epoch_effects(ranked: pd.DataFrame, epochs: pd.DataFrame) -> list[tuple[str, int, int, pd.DataFrame]]:
    """``_common_epoch_effects``, computed once per (ranked, epochs) pair of frames (the same objects)."""
    if _LAST and _LAST[0] is ranked and _LAST[1] is epochs:
        return _LAST[2]
    result = _common_epoch_effects(ranked, epochs)
    _LAST[:] = [ranked, epochs, result]
    return result


def _common_epoch_effects(ranked: pd.DataFrame, epochs: pd.DataFrame) -> list[tuple[str, int, int, pd.DataFrame]]:
    """Per sweep: (sweep, epoch, trials, rows of scope / key / term / n / df / F / p / p_holm / aliased_with /
    effect), tested keys by adjusted p, then the aliased and untestable ones."""
    from ..eval.confirmation import holm

    out = []
    for sweep, at, trials, value in common_epoch_values(ranked, epochs):
        rows = []
        for scope, subset, keys in _scopes(trials):
            rows += _fit(scope, subset, keys, value)
        if rows:
            table = pd.DataFrame(rows)
            table["p_holm"] = holm(table["p"].to_numpy(float))
            out.append(
                (
                    sweep,
                    at,
                    len(value),
                    table.sort_values(["p_holm", "scope", "key"], kind="stable", na_position="last").reset_index(
                        drop=True
                    ),
                )
            )
    return out


def _selector(key: str) -> tuple[str, tuple] | None:
    """(selector column, the variants that read ``key``), or None for a key every trial reads."""
    from facebench.config import SECTIONS

    parts = key.split(".", 2)
    if len(parts) < 3 or parts[1] not in SECTIONS:
        return None
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[parts[1]])}
    meta = fields[parts[2]].metadata if parts[2] in fields else {}
    return (f"cfg.{meta['selector'].key}", tuple(meta["users"])) if "users" in meta else None


def _scopes(trials: pd.DataFrame) -> list[tuple[str, pd.DataFrame, list[str]]]:
    """(scope label, its trials, the keys tested there): the keys every trial reads over all trials; a loss's own
    keys per loss (with the general keys that vary there); another variant's keys where that variant ran."""
    keys = _varying(trials)
    general = [k for k in keys if _selector(k) is None or _everywhere(k, trials)]
    out = [("all trials", trials, general)] if general else []
    groups: dict[tuple, list[str]] = {}
    for k in keys:
        sel = _selector(k)
        if k in general:
            continue
        column, users = sel
        levels = [lv for lv in users if column in trials.columns and (trials[column] == lv).any()]
        split = column == LOSS
        for lv in levels if split else [tuple(levels)]:
            groups.setdefault((column, lv), []).append(k)
    for (column, lv), own in groups.items():
        subset = trials[trials[column].isin([lv] if isinstance(lv, str) else list(lv))]
        label = f"{column[4:]} = {lv}" if isinstance(lv, str) else f"{column[4:]} in {', '.join(lv)}"
        others = [k for k in general if k != column and subset[k].dropna().map(str).nunique() > 1]
        out.append((label, subset, own + others))
    return out


def _everywhere(key: str, trials: pd.DataFrame) -> bool:
    """Whether every trial's variant reads ``key`` (width: every backbone of the sweep has one). A loss's own key is
    never one: the same margin means different things to SphereFace, CosFace and ArcFace."""
    column, users = _selector(key)
    return column != LOSS and column in trials.columns and bool(trials[column].isin(list(users)).all())


def _fit(scope: str, subset: pd.DataFrame, keys: list[str], value: pd.Series) -> list[dict]:
    from .anova import joint_anova

    data = subset.set_index("trial_id")[keys].copy()
    data["y"] = value.reindex(data.index)
    data = data.dropna()
    keys = [k for k in keys if data[k].map(str).nunique() > 1]
    if len(data) < MIN_TRIALS or not keys:
        return []
    fit = joint_anova(data, keys)
    if fit.note and len(keys) > 1 and scope != "all trials":  # a loss's few trials: its own keys alone
        own = [k for k in keys if _selector(k) is not None]
        fit = joint_anova(data, own) if own else fit
        fit.note = fit.note or "the other factors are not held fixed here (too few trials for all of them)"
    return [{"scope": scope, **r, "key": r["key"][4:], "n": fit.n, "note": fit.note} for r in fit.rows]


def _varying(trials: pd.DataFrame) -> list[str]:
    return [
        c
        for c in trials.columns
        if c.startswith("cfg.") and c not in SKIP and trials[c].dropna().map(str).nunique() > 1
    ]


def effects_html(ranked: pd.DataFrame, epochs: pd.DataFrame) -> str:
    parts = []
    for sweep, at, n, rows in common_epoch_effects(ranked, epochs):
        parts.append(f"<h3>Which hyperparameters matter: {html.esc(sweep)}, all {n} trials at epoch {at}</h3>")
        parts.append(html.table(rows, COLUMNS))
        parts.append(
            '<p class="note">Every trial is judged on the validation objective at the last epoch all of '
            "them reached, so trials ASHA stopped count as much as the ones it let finish. All factors of a "
            "scope are in one OLS model (type-II ANOVA: each factor's F given all the others); p (Holm) is "
            "adjusted over every factor tested. A factor the design cannot separate from another (canonical "
            f"correlation ≥ {ALIAS_R}) is shown as aliased and given no effect of its own: its effect and "
            "its partner's are one. A loss's own keys are analysed per loss; a key only where its variant "
            "reads it. The mean objective by level is descriptive.</p>"
        )
    return "".join(parts)


COLUMNS = (
    ("scope", "scope"),
    ("key", "config key"),
    ("term", "coded as"),
    ("n", "trials"),
    ("df", "df"),
    ("F", "F"),
    ("p", "p"),
    ("p_holm", "p (Holm)"),
    ("aliased_with", "aliased with"),
    ("effect", "mean objective by level"),
    ("note", "note"),
)
