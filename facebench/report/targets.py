"""What a published sweep's summary needs besides its figures: the compute budget the sweep used, the target score
(met, or missed by how much) and reference scores (floors measured elsewhere), drawn against each backbone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from facebench.errors import ConfigError

from .names import display_name
from .plots import Plot, figure, png
from .stats import is_confirmation


def budget_lines(sweeps: Sequence[Any], ranked: pd.DataFrame) -> list[str]:
    """Per sweep: its trials and wall time (summary.json), and the confirmation stage's runs and span (the
    confirmation trials' start times and wall times), so a reader sees what the result cost."""
    out = []
    for s in sweeps:
        rows = ranked[ranked["sweep"] == s.name] if "sweep" in ranked.columns else ranked.iloc[:0]
        conf_rows = is_confirmation(rows)
        own, conf = rows[~conf_rows], rows[conf_rows]
        text = f"sweep {s.name}: {len(own)} trials"
        if s.wall_s:
            text += f" in {s.wall_s / 60:.1f} min of wall time"
        stage = conf["stage"] if "stage" in conf.columns else pd.Series("confirmation", index=conf.index)
        for name in ("confirmation", "calibration"):  # the two kinds of repeat, each with its own span
            part = conf[stage == name]
            span = _span_s(part)
            if len(part):
                text += f"; {name}: {len(part)} runs" + (f" in {span / 60:.1f} min" if span else "")
        devices = sorted({str(d) for d in rows.get("device", pd.Series(dtype=str)).dropna()})
        if devices:
            text += f"; trial devices: {', '.join(devices)}"
        out.append(text)
    return out


def calibration_lines(sweeps: Sequence[Any]) -> list[str]:
    """Per sweep calibrated with ``facebench confirm --calibrate``: its new-seed objectives inside their trials'
    prediction intervals (summary.json's ``calibration``)."""
    from .record import calibration_line

    return [calibration_line(s.name, s.summary["calibration"]) for s in sweeps if s.summary.get("calibration")]


def target_lines(target: float | None, sweeps: Sequence[Any], ranked: pd.DataFrame) -> list[str]:
    """``--target``: the generated lines of record.target_entries (met / missed / inconclusive from a 95% interval,
    never from the point value), the ones summary.json's ``targets`` holds."""
    from .arrays import load_npz
    from .record import target_entries

    if target is None:
        return []
    entries = target_entries(target, sweeps, ranked, load_npz)
    return [e["line"] for e in entries] or [f"target {target:.4f}: no completed trial to judge"]


def version_lines(ranked: pd.DataFrame) -> list[str]:
    """The code versions the trials ran under (facebench version at git revision, with counts): one line, or a
    warning that the page mixes several."""
    if ranked.empty or "version.facebench" not in ranked.columns:
        return []
    git = ranked["version.git"] if "version.git" in ranked.columns else pd.Series("", index=ranked.index)
    shown = ranked["version.facebench"].fillna("?").astype(str) + " at " + git.fillna("no git revision").astype(str)
    counts = shown.value_counts()
    text = "; ".join(f"facebench {v} ({n} trial{'s' if n > 1 else ''})" for v, n in counts.items())
    return [("code versions: this page MIXES " if len(counts) > 1 else "code version: ") + text]


def _span_s(rows: pd.DataFrame) -> float | None:
    if rows.empty or "started_at" not in rows.columns:
        return None
    try:
        start = [datetime.fromisoformat(str(t)).timestamp() for t in rows["started_at"]]
    except ValueError:
        return None
    ends = [a + float(w) for a, w in zip(start, rows["wall_s"]) if pd.notna(w)]
    return max(ends) - min(start) if ends else None


def parse_references(values: Sequence[str] | None) -> list[tuple[str, float]]:
    """``--reference "LABEL=VALUE"``: a score the trials are read against, such as a floor measured elsewhere."""
    out = []
    for text in values or []:
        label, sep, number = text.rpartition("=")
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if not sep or not label.strip() or not math.isfinite(value):
            raise ConfigError(
                f"--reference {text!r}: expected LABEL=VALUE with a finite number, "
                "e.g. --reference 'whitened PCA floor=0.629'"
            )
        out.append((label.strip(), value))
    return out


def plot_families(ranked: pd.DataFrame, references: Sequence[tuple[str, float]]) -> list[Plot]:
    """Each backbone's trials (test score) against the reference scores: 'does it beat the floor?'."""
    done = ranked[(ranked["status"] == "completed") & ranked["score"].notna() & ~is_confirmation(ranked)]
    if done.empty or "cfg.model.backbone" not in done.columns or not references:
        return []
    groups = [
        (display_name("backbone", name), g["score"].to_numpy(float)) for name, g in done.groupby("cfg.model.backbone")
    ]
    groups.sort(key=lambda x: np.max(x[1]))
    height = 0.4 * len(groups) + 1.8
    fig, ax = figure(6.4, height, left=0.22, bottom=0.75 / height)
    ax = ax[0, 0]
    for i, (_, scores) in enumerate(groups):
        ax.scatter(scores, np.full(len(scores), i), s=14, alpha=0.6, color="tab:blue")
        ax.scatter([np.max(scores)], [i], marker="|", s=200, color="tab:blue")
    for j, (label, value) in enumerate(references):
        ax.axvline(value, ls="--", lw=1, color=f"C{j + 1}", label=f"{label} {value:.4f}")
    ax.set_yticks(range(len(groups)), [f"{n} (n={len(s)})" for n, s in groups], fontsize=8)
    ax.set_xlabel(str(done["score_metric"].iloc[0]) + " (test, touched once per trial)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Backbones against the reference scores", fontsize=9)
    best = {n: float(np.max(s)) for n, s in groups}
    text = "; ".join(f"{n} best {v:.4f}" for n, v in sorted(best.items(), key=lambda x: -x[1]))
    shown = set(done["cfg.model.backbone"])
    unscored = sorted(set(ranked["cfg.model.backbone"].dropna()) - shown)
    gone = (
        f" No trial of {', '.join(str(display_name('backbone', u)) for u in unscored)} completed "
        "(stopped early: no test score)."
        if unscored
        else ""
    )
    return [
        Plot(
            "Backbones against the reference scores",
            png(fig),
            f"dots = the sweep's completed trials, bar = each backbone's best; dashed = references. {text}.{gone}",
        )
    ]
