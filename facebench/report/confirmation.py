"""The report's headline when a sweep ran its confirmation stage: which recipe really wins.

Reads the ``confirmation`` list that the stage wrote into the sweep's summary.json (facebench/sweep/confirm.py,
statistics in facebench/eval/confirmation.py) and shows it as it is: recipe -> test accuracy mean and 95% CI
over seeds and folds, each recipe against the reference (the difference's interval, the Holm-adjusted paired p, the
verdict and the smallest difference the seeds could detect) and one plain verdict line per comparison. Nothing is
recomputed here.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .html import esc, table

COLUMNS = (
    ("recipe", "recipe"),
    ("role", ""),
    ("n_seeds", "seeds"),
    ("test_mean", "test accuracy (mean over seeds)"),
    ("ci", "95% CI"),
    ("objective_mean", "validation objective (mean)"),
    ("difference", "vs reference (points)"),
    ("difference_ci", "95% CI (points)"),
    ("p_adjusted", "adjusted p (Holm)"),
    ("verdict", "verdict"),
    ("detectable", "detectable at 80% power"),
)


def headline(sweeps: list[Any]) -> str:
    """HTML for every sweep with a confirmation list; empty when none has one."""
    parts = []
    for sweep in sweeps:
        entries = getattr(sweep, "confirmation", None) or []
        if entries:
            parts.append(render(sweep.name, entries))
    return "".join(parts)


def render(name: str, entries: list[dict]) -> str:
    """One sweep's confirmation: its verdict lines and table (also what report --check expects on the page)."""
    rows = pd.DataFrame([_row(e) for e in entries])
    lines = [e.get("verdict_line") or e.get("verdict") for e in entries]
    seeds = sorted({s for e in entries for s in e.get("seeds") or []})
    failed = [t for e in entries for t in e.get("failed") or []]
    methods = sorted({m for e in entries for m in (e.get("ci_method"), (e.get("vs_best") or {}).get("ci_method")) if m})
    return (
        f"<h3>{esc(name)}: the top configurations re-run with new seeds {esc(', '.join(map(str, seeds)))}</h3>"
        + "<ul>"
        + "".join(f"<li><b>{esc(v)}</b></li>" for v in lines if v)
        + "</ul>"
        + table(rows, COLUMNS)
        + '<p class="empty">The reference is the recipe with the best mean validation objective over its new '
        "seeds (never chosen on test); differences are test accuracy in points on the same test items. "
        + (_METHOD_NOTE.format(methods=", ".join(methods)) if "ci_method" in entries[0] else _OLD_NOTE)
        + "</p>"
        + (f'<p class="note">runs that did not complete: {esc(", ".join(failed))}</p>' if failed else "")
    )


_METHOD_NOTE = (
    "Each interval is the wider of a t-interval over seeds and a bootstrap over seeds and folds (here: "
    "{methods}); p is the paired t-test on the per-seed differences, Holm-adjusted over the comparisons "
    "with the reference; equivalence is TOST against the sweep's margin; McNemar's exact test per seed is "
    "in summary.json, never pooled over seeds scored on the same items."
)
# Confirmations written before the evidence-grade statistics (a pooled McNemar, a bootstrap over seeds and pairs).
_OLD_NOTE = (
    "Written by an older facebench: its interval resamples seeds and pairs, its p pools McNemar over seeds; "
    "re-run `facebench confirm` for intervals over seeds and folds and an equivalence verdict."
)


def _row(e: dict) -> dict[str, Any]:
    vs = e.get("vs_best") or {}
    ci = e.get("ci95") or [math.nan, math.nan]
    dci = vs.get("ci") or [math.nan, math.nan]
    detectable = vs.get("detectable")
    return {
        "recipe": e.get("recipe"),
        "role": "reference" if e.get("best") else "",
        "n_seeds": len(e.get("seeds") or []),
        "test_mean": e.get("test_accuracy_mean"),
        "ci": _pair(ci, 1.0),
        "objective_mean": e.get("objective_mean"),
        "difference": 100 * vs["difference"] if "difference" in vs else None,
        "difference_ci": _pair(dci, 100.0) if vs else "",
        "p_adjusted": vs.get("p_adjusted"),
        "verdict": "" if e.get("best") else (e.get("verdict") or ""),
        "detectable": f"{100 * detectable:.1f} points"
        if isinstance(detectable, (int, float)) and math.isfinite(detectable)
        else "",
    }


def _pair(pair: list, scale: float) -> str:
    lo, hi = (float(x) * scale if isinstance(x, (int, float)) else math.nan for x in pair)
    if math.isnan(lo) or math.isnan(hi):
        return "–"
    return f"{lo:.3f} to {hi:.3f}" if scale == 1.0 else f"{lo:+.1f} to {hi:+.1f}"
