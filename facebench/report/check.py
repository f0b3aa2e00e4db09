"""``facebench report --check DIR``: recompute every verdict and headline number the page states from the files
beside it (record.py's summary.json and decisions.npz) and name the first that differs.

Checked, in order: each trial's test score in summary.json against its decisions; each ``targets`` entry (value and
interval of a single trial from its decisions, the verdict from the interval, the line) and that line on the page;
the #1 by validation's objective on the page. Exit 0 when all agree, 1 at the first difference; a folder without
the record is a DataError (one line, exit 2).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from facebench.errors import DataError

from .html import cell
from .record import DECISIONS, RECORD, fold_interval, target_line, verdict

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
            conf = next(
                (
                    c
                    for c in by_name.get(src.get("sweep"), {}).get("confirmation") or []
                    if c.get("recipe") == src.get("recipe")
                ),
                {},
            )
            want["value"], want["ci95"] = conf.get("test_accuracy_mean", math.nan), conf.get("ci95", [math.nan] * 2)
        want["verdict"] = verdict(want["ci95"], float(e["target"]))
        for k in ("value", "ci95", "verdict"):
            a, b = e.get(k), want[k]
            if (
                (a != b)
                if k == "verdict"
                else any(_differs(float(x), float(y)) for x, y in zip(np.atleast_1d(a), np.atleast_1d(b)))
            ):
                return f"summary.json: target {e.get('label')!r} {k} {a!r}, but recomputed {b!r}"
        line = target_line(want)
        if line != e.get("line") or line not in page:
            return f"index.html: the target line {line!r} is not on the page as recomputed"
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
    return _trial_scores(summaries, arrays) or _targets(record, summaries, arrays, page) or _headline(summaries, page)
