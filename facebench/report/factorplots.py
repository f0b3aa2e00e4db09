"""The factor plots: the data of the "which hyperparameters matter" table, drawn.

One figure per sweep and scope of the table (effects.py): each panel a key of that scope, each dot a sweep trial's
validation objective at the common epoch (the table's y), only over the trials whose variant reads the key (the keys
every trial reads are drawn once, in the all-trials figure; a variant's figure draws its own keys); the
confirmation stage's seeds of the same sweep, at the same epoch, are drawn apart (red crosses on their own row),
never pooled with the sweep's trials.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .plots import TITLE_Y, Plot, figure, png
from .stats import is_confirmation

MAX_PANELS = 6
ALL = "all trials"  # effects._scopes' label of the scope holding every trial
MAX_LEVELS = 12


def factor_data(
    ranked: pd.DataFrame, epochs: pd.DataFrame
) -> list[tuple[str, pd.DataFrame, list[str], pd.Series, pd.Series]]:
    """(title, the scope's trials, its keys, their objective at the common epoch, the confirmation seeds' objective at
    that epoch): what each figure draws, the same trials and values as the effects table."""
    from .effects import _scopes, common_epoch_effects, common_epoch_values

    tables = {sweep: rows for sweep, _, _, rows in common_epoch_effects(ranked, epochs)}
    out = []
    for sweep, at, trials, value in common_epoch_values(ranked, epochs):
        confirming = _confirmation_values(ranked, epochs, sweep, at, trials["objective_metric"].iloc[0])
        table = tables.get(sweep, pd.DataFrame(columns=["scope", "key"]))
        scopes = _scopes(trials)
        general = {k for scope, _, keys in scopes if scope == ALL for k in keys}
        for scope, subset, keys in scopes:
            rows = set(table.loc[table["scope"] == scope, "key"])  # the table's own rows, nothing else
            # A key every trial reads is drawn once, over all trials; a variant's figure draws that variant's own
            # keys (the table also tests the general keys within each variant).
            keys = [k for k in keys if k[4:] in rows and (scope == ALL or k not in general)][:MAX_PANELS]
            if keys:
                out.append((f"{sweep}: {scope}, objective at epoch {at}", subset, keys, value, confirming))
    return out


def plot_factor_effects(ranked: pd.DataFrame, epochs: pd.DataFrame) -> list[Plot]:
    return [_figure(*d) for d in factor_data(ranked, epochs)]


def _confirmation_values(ranked: pd.DataFrame, epochs: pd.DataFrame, sweep: str, at: int, metric: str) -> pd.Series:
    """The sweep's confirmation runs' objective at the common epoch, by trial_id (empty when none ran)."""
    ids = ranked.loc[is_confirmation(ranked) & (ranked["sweep"] == sweep), "trial_id"]
    ep = epochs[(epochs["sweep"] == sweep) & epochs["trial_id"].isin(ids) & (epochs["epoch"] == at)]
    return ep.set_index("trial_id")[metric].dropna() if metric in ep.columns else pd.Series(dtype=float)


def _figure(title: str, subset: pd.DataFrame, keys: list[str], value: pd.Series, confirming: pd.Series) -> Plot:
    fig, axes = figure(2.8 * len(keys) + 0.4, 3.4, ncols=len(keys), left=0.45 / len(keys) + 0.03, bottom=0.18)
    fig.subplots_adjust(wspace=0.12)
    for ax in axes[0, 1:]:  # one y axis for the row: its tick labels drawn once
        ax.sharey(axes[0, 0])
        ax.tick_params(labelleft=False)
    rows = subset.set_index("trial_id")
    for ax, key in zip(axes[0], keys):
        x = rows[key].dropna()
        y = value.reindex(x.index)
        _panel(ax, key, x, y, confirming)
        ax.set_xlabel(key[4:], fontsize=8)
    axes[0, 0].set_ylabel("objective", fontsize=8)
    fig.suptitle(title, fontsize=9, y=TITLE_Y - 0.02)
    return Plot(
        title,
        png(fig),
        "dots = sweep trials at the common epoch (the table's data, only where the key "
        "applies; a key every trial reads is drawn once, over all trials); red crosses = the confirmation seeds, "
        "drawn apart",
    )


def _panel(ax: Any, key: str, x: pd.Series, y: pd.Series, confirming: pd.Series) -> None:
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x) and x.nunique() > 2
    if numeric:
        ax.scatter(x.to_numpy(float), y.to_numpy(float), s=12, alpha=0.7, color="tab:blue")
        if (x > 0).all() and x.max() / x.min() > 10:
            ax.set_xscale("log")
            ax.minorticks_off()  # unlabelled minor ticks: hundreds of lines a figure, drawn for nothing
    else:
        levels = sorted(x.map(str).unique())[:MAX_LEVELS]
        pos = {lv: i for i, lv in enumerate(levels)}
        keep = x.map(str).isin(pos)
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, int(keep.sum()))
        ax.scatter(
            x[keep].map(str).map(pos).to_numpy() + jitter, y[keep].to_numpy(float), s=12, alpha=0.7, color="tab:blue"
        )
        ticks = levels
        if len(confirming):
            ax.scatter(np.full(len(confirming), len(levels)), confirming.to_numpy(float), marker="x", color="tab:red")
            ticks = levels + ["confirmation\nseeds"]
        ax.set_xticks(range(len(ticks)), ticks, fontsize=7, rotation=30)
    ax.tick_params(labelsize=7)
