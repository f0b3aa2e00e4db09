"""The report's headline when a sweep ran its confirmation stage: which recipe really wins.

Reads the ``confirmation`` list that the stage wrote into the sweep's summary.json (facebench/sweep/confirm.py,
statistics in facebench/eval/confirmation.py) and shows it as it is: recipe -> test accuracy mean and 95% CI
over seeds, each recipe against the best one (paired bootstrap CI of the difference, Holm-adjusted McNemar p)
and one plain verdict line per comparison. Nothing is recomputed here.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .html import esc, table

COLUMNS = (("recipe", "recipe"), ("role", ""), ("n_seeds", "seeds"), ("test_mean", "test accuracy (mean over seeds)"),
           ("ci", "95% CI"), ("objective_mean", "validation objective (mean)"), ("difference", "vs best (points)"),
           ("difference_ci", "95% CI (paired bootstrap)"), ("p_adjusted", "adjusted p (McNemar, Holm)"))


def headline(sweeps: list[Any]) -> str:
    """HTML for every sweep with a confirmation list; empty when none has one."""
    parts = []
    for sweep in sweeps:
        entries = getattr(sweep, "confirmation", None) or []
        if entries:
            parts.append(_one(sweep.name, entries))
    return "".join(parts)


def _one(name: str, entries: list[dict]) -> str:
    rows = pd.DataFrame([_row(e) for e in entries])
    verdicts = [e["verdict"] for e in entries if e.get("verdict")]
    seeds = sorted({s for e in entries for s in e.get("seeds") or []})
    failed = [t for e in entries for t in e.get("failed") or []]
    return (f"<h3>{esc(name)}: the top configurations re-run with new seeds {esc(', '.join(map(str, seeds)))}</h3>"
            + "<ul>" + "".join(f"<li><b>{esc(v)}</b></li>" for v in verdicts) + "</ul>"
            + table(rows, COLUMNS)
            + '<p class="empty">The best recipe is the one with the best mean validation objective over its new '
              "seeds (never chosen on test); differences are test accuracy in points on the same test pairs, "
              "resampling seeds and pairs; a difference is claimed only when the adjusted p is below 0.05 and "
              "the interval excludes 0.</p>"
            + (f'<p class="note">runs that did not complete: {esc(", ".join(failed))}</p>' if failed else ""))


def _row(e: dict) -> dict[str, Any]:
    vs = e.get("vs_best") or {}
    ci = e.get("ci95") or [math.nan, math.nan]
    dci = vs.get("ci") or [math.nan, math.nan]
    return {"recipe": e.get("recipe"), "role": "best" if e.get("best") else "", "n_seeds": len(e.get("seeds") or []),
            "test_mean": e.get("test_accuracy_mean"), "ci": _pair(ci, 1.0),
            "objective_mean": e.get("objective_mean"),
            "difference": 100 * vs["difference"] if "difference" in vs else None,
            "difference_ci": _pair(dci, 100.0) if vs else "", "p_adjusted": vs.get("p_adjusted")}


def _pair(pair: list, scale: float) -> str:
    lo, hi = (float(x) * scale if isinstance(x, (int, float)) else math.nan for x in pair)
    if math.isnan(lo) or math.isnan(hi):
        return "–"
    return f"{lo:.3f} to {hi:.3f}" if scale == 1.0 else f"{lo:+.1f} to {hi:+.1f}"
