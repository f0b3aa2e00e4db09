"""The report's section for a Pareto sweep: accuracy against cost on the sweep's declared pair of objectives.

For every sweep whose ``sweep.json`` declares a ``second_objective``: its completed trials' validation objective
against their cost (``cost`` in each trial's result.json), dominated trials behind in grey, the front as a step line
with its members named, and a table of the members with the objective's 95% interval. The front is recomputed here
from the trials table with ``facebench.pareto`` (the function the sweep's summary.json ``pareto_front`` came from),
on validation, never on test: the test score is shown beside it, not used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from facebench.eval.uncertainty import Z95
from facebench.pareto import COST_KEY, front_rows

from .html import esc, img, table
from .plots import Plot, figure, png
from .section import Inputs, Section

COLUMNS = (
    ("trial_id", "trial"),
    ("name", "name"),
    ("cfg.model.backbone", "backbone"),
    ("cfg.loss.name", "loss"),
    ("objective", "validation objective"),
    ("objective_se", "± se"),
    ("lo", "95% interval from"),
    ("hi", "to"),
    (COST_KEY, "cost"),
    ("score", "test score (not used for the front)"),
)


def front_html(ranked: pd.DataFrame, sweeps: list[Any]) -> str:
    """HTML (figure + members' table) for every Pareto sweep among ``sweeps``; empty when there is none."""
    parts = []
    for sweep in sweeps:
        cost = sweep.spec.get("second_objective") if isinstance(sweep.spec, dict) else None
        if not cost or ranked.empty or COST_KEY not in ranked.columns:
            continue
        rows = ranked[(ranked["sweep"] == sweep.name) & (ranked["stage"] != "confirmation")]
        mode = str(sweep.spec.get("mode") or "max")
        members = pd.DataFrame(front_rows(rows.to_dict("records"), mode=mode))
        done = rows[(rows["status"] == "completed") & rows[COST_KEY].notna() & rows["objective"].notna()]
        if members.empty:
            parts.append(f'<p class="empty">sweep {esc(sweep.name)}: no completed trial with both objectives</p>')
            continue
        metric = str(sweep.spec.get("metric") or "objective")
        members = members.assign(
            lo=members["objective"] - Z95 * members["objective_se"],
            hi=members["objective"] + Z95 * members["objective_se"],
        )
        parts.append(
            f"<h3>{esc(sweep.name)}: {esc(metric)} (validation, {esc(mode)}) against {esc(cost)} (min); "
            f"{len(members)} of {len(done)} completed trials on the front</h3>"
        )
        parts.append(
            img(plot_front(done, members, title=f"{sweep.name}: {metric} against {cost}", metric=metric, cost=cost))
        )
        parts.append(table(members, [(c, cost if c == COST_KEY else label) for c, label in COLUMNS]))
    return "".join(parts)


def plot_front(done: pd.DataFrame, members: pd.DataFrame, *, title: str, metric: str, cost: str) -> Plot:
    """Dominated trials in grey behind, the front as a step line (cheapest first) with each member named."""
    fig, axes = figure(6.4, 4.0, bottom=0.14)
    ax = axes[0, 0]
    behind = done[~done["trial_id"].isin(members["trial_id"])]
    ax.scatter(behind[COST_KEY], behind["objective"], s=16, color="0.7", label="dominated", zorder=1)
    f = members.sort_values(COST_KEY)
    # The attainment line: each member's accuracy holds until the next member's cost, the last to the dearest trial.
    xs = [*f[COST_KEY], done[COST_KEY].max()]
    ax.step(xs, [*f["objective"], f["objective"].iloc[-1]], where="post", color="C0", lw=1.5, zorder=2)
    se = np.nan_to_num(f["objective_se"].to_numpy(float)) * Z95
    ax.errorbar(
        f[COST_KEY], f["objective"], yerr=se, fmt="o", color="C0", ms=5, capsize=2, label="front (95%)", zorder=3
    )
    for _, r in f.iterrows():
        ax.annotate(
            str(r["trial_id"]), (r[COST_KEY], r["objective"]), textcoords="offset points", xytext=(4, 4), fontsize=7
        )
    lo, hi = done[COST_KEY].min(), done[COST_KEY].max()
    if lo > 0 and hi / lo > 20:
        ax.set_xscale("log")
    ax.set_xlabel(f"{cost} (lower is better)")
    ax.set_ylabel(f"{metric} (validation)")
    ax.legend(fontsize=7)
    return Plot(
        title,
        png(fig),
        "the front: completed trials no other is both cheaper and more accurate on "
        "validation; named by trial id, with the objective's 95% interval; grey: dominated trials",
    )


def front_section(i: Inputs) -> Section:
    """The page's section for the sweeps that declared a second objective; left off the page when none did."""
    title = "Pareto front of the declared objectives (validation)"
    try:
        return Section("front", title, html=front_html(i.ranked, i.data.sweeps), optional=True)
    except Exception as e:  # noqa: BLE001 - one broken section must not lose the report
        return Section("front", title, notes=(f"Pareto front failed: {type(e).__name__}: {e}",), optional=True)
