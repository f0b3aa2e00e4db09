"""``facebench report --check DIR``: recompute every verdict and headline number the page states from the files
beside it (record.py's summary.json and decisions.npz) and name the first that differs.

Checked, in order: each trial's test score in summary.json against its decisions; each ``targets`` entry (value and
interval of a single trial from its decisions; a confirmed recipe's label from its rivals' verdicts, as
record.winner_label words it; the verdict from the interval, the line) and that line on the page;
the confirmation stage (the reference chosen again on the per-seed validation objectives; each recipe's per-seed
test accuracy, mean and interval from its runs' decisions; each comparison's Holm-adjusted verdict and its line, on
the page); the calibration (coverage and its interval from the re-runs' objectives and their trials' prediction
intervals, the line on the page); the #1 by validation's objective on the page. Exit 0 when all agree, 1 at the first difference; a folder without
the record is a DataError (one line, exit 2).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from facebench.errors import DataError

from ..eval import confirmation as stats
from . import confirmation
from .html import cell
from .record import DECISIONS, RECORD, calibration_line, confirmed_label, fold_interval, target_line, verdict

TOL = 1e-9


def _load(folder: Path) -> tuple[dict, dict, str]:
    missing = [n for n in (RECORD, DECISIONS, "index.html") if not (folder / n).is_file()]
    if missing:
        raise DataError(
            f"{folder}: no {' or '.join(missing)} beside the page: a report that predates the record "
            "--check recomputes from (re-build it with this facebench)"
        )
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        with np.load(folder / DECISIONS, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{folder}: unreadable record: {e}") from None
    return record, arrays, html.unescape((folder / "index.html").read_text(encoding="utf-8"))


def _score(arrays: dict, sweep: str, trial: str) -> tuple[float, list[float]] | None:
    key = f"{sweep}/{trial}"
    if f"{key}/correct" not in arrays:
        return None
    return fold_interval(arrays[f"{key}/correct"], arrays[f"{key}/fold"])


def _differs(a: float, b: float) -> bool:
    return not (math.isnan(a) and math.isnan(b)) and not abs(a - b) <= TOL


def _values_differ(a: object, b: object) -> bool:
    """Two numbers or two equal-length lists of numbers differ somewhere (beyond TOL)."""
    return any(_differs(float(x), float(y)) for x, y in zip(np.atleast_1d(a), np.atleast_1d(b)))


def _trial_scores(summaries: list[dict], arrays: dict) -> str | None:
    for s in summaries:
        for row in s.get("trials") or []:
            test = row.get("test") or {}
            key = next((k for k in ("test_accuracy_mean", "test_accuracy") if k in test), None)
            got = _score(arrays, str(s.get("name")), str(row.get("trial_id")))
            if key is not None and got is not None and _differs(float(test[key]), got[0]):
                return (
                    f"summary.json: trial {s.get('name')}/{row['trial_id']} {key} {test[key]!r}, but its "
                    f"decisions give {got[0]!r}"
                )
    return None


def _targets(record: dict, summaries: list[dict], arrays: dict, page: str) -> str | None:
    by_name = {str(s.get("name")): s for s in summaries}
    for e in record.get("targets") or []:
        src = e.get("source") or {}
        want = dict(e)
        if "trial_id" in src:
            got = _score(arrays, src["sweep"], src["trial_id"])
            if got is not None:
                want["value"], want["ci95"] = got
        else:
            confirmation = by_name.get(src.get("sweep"), {}).get("confirmation") or []
            conf = next((c for c in confirmation if c.get("recipe") == src.get("recipe")), {})
            want["value"], want["ci95"] = conf.get("test_accuracy_mean", math.nan), conf.get("ci95", [math.nan] * 2)
            want["label"] = confirmed_label(str(src.get("sweep")), confirmation) or e.get("label")
        want["verdict"] = verdict(want["ci95"], float(e["target"]))
        for k in ("label", "value", "ci95", "verdict"):
            a, b = e.get(k), want[k]
            if (a != b) if k in ("label", "verdict") else _values_differ(a, b):
                return f"summary.json: target {e.get('label')!r} {k} {a!r}, but recomputed {b!r}"
        line = target_line(want)
        if line != e.get("line") or line not in page:
            return f"index.html: the target line {line!r} is not on the page as recomputed"
    return None


def _runs(arrays: dict, sweep: str, row: dict) -> list[stats.Run] | None:
    """A confirmed recipe's completed runs from their decisions (None when the record lacks one)."""
    failed = set(row.get("failed") or [])
    done = [t for t in row.get("trial_ids") or [] if t not in failed]
    if len(done) != len(row.get("seeds") or []) or not all(f"{sweep}/{t}/correct" in arrays for t in done):
        return None
    return [
        stats.Run(seed=int(seed), correct=arrays[f"{sweep}/{t}/correct"], fold=arrays[f"{sweep}/{t}/fold"])
        for t, seed in zip(done, row["seeds"])
    ]


def _mean_objective(row: dict) -> float:
    vals = [p["objective"] for p in row.get("per_seed") or [] if isinstance(p.get("objective"), (int, float))]
    return float(np.mean(vals)) if vals else math.nan


def _confirmation(summaries: list[dict], arrays: dict, page: str) -> str | None:
    for s in summaries:
        rows, name = s.get("confirmation") or [], str(s.get("name"))
        runs = [_runs(arrays, name, r) for r in rows]
        if not rows or any(r is None for r in runs):
            continue
        where = f"summary.json: confirmation of {name}"
        sign = -1.0 if s.get("mode") == "max" else 1.0
        ref = min(
            range(len(rows)), key=lambda i: (math.isnan(_mean_objective(rows[i])), sign * _mean_objective(rows[i]), i)
        )
        if not rows[ref].get("reference"):
            return f"{where}: the reference should be {rows[ref].get('recipe')!r} (best mean validation objective)"
        for row, rs in zip(rows, runs):
            got = [r.accuracy for r in rs]
            if any(_differs(float(p["test_accuracy"]), g) for p, g in zip(row["per_seed"], got)):
                return f"{where}: {row['recipe']!r} per-seed test accuracy {[p['test_accuracy'] for p in row['per_seed']]}, but its decisions give {got}"
            interval = stats.accuracy_interval(rs)
            if _values_differ(row["test_accuracy_mean"], interval["mean"]) or _values_differ(
                row["ci95"], interval["ci95"]
            ):
                return f"{where}: {row['recipe']!r} mean {row['test_accuracy_mean']!r} (95% CI {row['ci95']}), but recomputed {interval['mean']!r} ({interval['ci95']})"
            if cell(row["test_accuracy_mean"])[0] not in page:
                return f"index.html: {row['recipe']!r}'s test accuracy {cell(row['test_accuracy_mean'])[0]} is not on the page"
        others = [i for i in range(len(rows)) if i != ref]
        vs = [
            stats.compare_to_reference(
                runs[i], runs[ref], margin=float((rows[i].get("vs_best") or {}).get("margin", math.nan))
            )
            for i in others
        ]
        for i, v, p in zip(others, vs, stats.holm([v.p if v is not None else math.nan for v in vs])):
            if v is None:
                continue
            v.p_adjusted = p
            line = stats.comparison_line(rows[i]["recipe"], rows[ref]["recipe"], v)
            if rows[i].get("verdict") != stats.verdict(v) or rows[i].get("verdict_line") != line:
                return f"{where}: {rows[i]['recipe']!r} reads {rows[i].get('verdict_line')!r}, but recomputed {line!r}"
            stored = rows[i].get("vs_best") or {}
            for k, b in (("difference", v.difference), ("ci", v.ci), ("p_adjusted", p), ("detectable", v.detectable)):
                a = stored.get(k)
                if a is None or _values_differ(a, b):
                    return f"{where}: {rows[i]['recipe']!r} vs the reference {k} {a!r}, but recomputed {b!r}"
            if line not in page:
                return f"index.html: the verdict {line!r} is not on the page"
        if html.unescape(confirmation.render(name, rows)) not in page:
            return f"index.html: the confirmation table of {name} differs from summary.json's"
    return None


def _calibration(summaries: list[dict], page: str) -> str | None:
    for s in summaries:
        c = s.get("calibration")
        if not c:
            continue
        pis = {str(r["trial_id"]): r["objective_pi95"] for r in s.get("trials") or [] if r.get("objective_pi95")}
        runs = [dict(r) for r in c.get("runs") or []]
        if any(r["source_trial_id"] not in pis for r in runs):
            return f"summary.json: calibration of {s.get('name')}: a re-run's source trial has no objective_pi95"
        want = stats.coverage(runs, pis)
        for k in ("coverage", "ci95", "n", "inside"):
            if _values_differ(c.get(k), want[k]):
                return f"summary.json: calibration of {s.get('name')} {k} {c.get(k)!r}, but recomputed {want[k]!r}"
        line = calibration_line(str(s.get("name")), c)
        if line not in page:
            return f"index.html: the calibration line {line!r} is not on the page"
    return None


def _headline(summaries: list[dict], page: str) -> str | None:
    for s in summaries:
        first = next((r for r in s.get("trials") or [] if r.get("status") == "completed"), None)
        if first is not None and isinstance(first.get("objective"), (int, float)):
            shown = f"({s.get('name')}/{first['trial_id']}): {cell(first['objective'])[0]}"
            if len(summaries) == 1 and shown not in page:
                return f"index.html: the #1 by validation should read {shown!r}"
    return None


def check(folder: str | Path) -> str | None:
    """The first difference between the page, its record and a recomputation from the record's files; None."""
    record, arrays, page = _load(Path(folder))
    summaries = record["sweeps"] if isinstance(record.get("sweeps"), list) else [record]
    return (
        _trial_scores(summaries, arrays)
        or _targets(record, summaries, arrays, page)
        or _confirmation(summaries, arrays, page)
        or _calibration(summaries, page)
        or _headline(summaries, page)
    )
