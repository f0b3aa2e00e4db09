"""Find and read trial directories (the layout in docs/architecture.md) without judging them.

A run directory given to the report is a sweep directory (``sweep.json`` or ``trials/``), a single trial
directory (``config.json``/``meta.json``/``epochs.jsonl``/``result.json``) or a folder of sweep directories.
Unreadable files become notes on the report, not crashes: a report of a broken sweep is still a report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow.fs as pafs

from facebench.artefacts import (
    ARTEFACTS,
    CONFIG,
    EPOCHS_LOG,
    META,
    RESULT,
    STUDY_DB,
    SUMMARY_JSON,
    SWEEP_JSON,
    TRIALS,
    bad_score,
    check_layout,
)
from facebench.config import flatten
from facebench.errors import DataError
from facebench.storage import Location, resolve

TRIAL_FILES = (CONFIG, META, EPOCHS_LOG, RESULT)
# A trial is reported only with the config it ran (config.json, or the copy in result.json): numbers
# without one cannot be ranked against anything, and a hand-made result.json is not to be trusted.
NO_CONFIG = "no config (config.json, or the config in result.json); a trial is reported only with its config"
SWEEP_MARKERS = (SWEEP_JSON, TRIALS)


@dataclass
class TrialRecord:
    """The raw contents of one trial directory."""

    sweep: str
    trial_id: str
    loc: Location
    config: dict[str, Any]
    meta: dict[str, Any]
    result: dict[str, Any] | None
    artefacts: frozenset[str]  # file names under artefacts/
    notes: list[str] = field(default_factory=list)
    stage: str = "sweep"  # "confirmation": a re-run of a top configuration with a new seed (summary.json)

    def artefact(self, name: str) -> Location | None:
        return self.loc.join(ARTEFACTS, name) if name in self.artefacts else None


@dataclass
class SweepRecord:
    name: str
    loc: Location
    spec: dict[str, Any]
    study: Location | None  # the Optuna SQLite file, when the sweep has one
    confirmation: list[dict[str, Any]] = field(default_factory=list)  # summary.json's, when the stage ran
    wall_s: float | None = None  # the sweep's wall time (summary.json), for the report's budget line
    summary: dict[str, Any] = field(default_factory=dict)  # the whole summary.json (copied beside the page)
    replayed: bool = False  # recorded curves replayed (facebench/sweep/replay.py, docs/scale.md), not trained


@dataclass
class Collection:
    trials: list[TrialRecord]
    sweeps: list[SweepRecord]
    notes: list[str]


def collect(run_dirs: list[str | os.PathLike]) -> Collection:
    """Read every trial under the given run directories; a path that is none of the kinds is a DataError."""
    out = Collection([], [], [])
    for where in run_dirs:
        loc = resolve(where)
        kids = loc.children()
        if not kids and not loc.is_dir():
            raise DataError(f"{loc.uri}: no such directory (expected a sweep or trial directory)")
        if _is_trial(kids):
            trial = read_trial(loc, sweep=_lone_trial_sweep(loc), kids=kids)
            if not trial.config:
                raise DataError(f"{loc.uri}: {NO_CONFIG}")
            out.trials.append(trial)
        elif _is_sweep(kids):
            _read_sweep(loc, kids, out)
        else:
            subs = [loc.join(n) for n, t in sorted(kids.items()) if t == pafs.FileType.Directory]
            sweeps = [(s, s.children()) for s in subs]
            sweeps = [(s, k) for s, k in sweeps if _is_sweep(k)]
            if not sweeps:
                raise DataError(
                    f"{loc.uri}: not a run directory: expected a sweep directory ({SWEEP_JSON} or "
                    f"{TRIALS}/), a trial directory ({', '.join(TRIAL_FILES)}) or a folder of sweeps"
                )
            for s, k in sweeps:
                _read_sweep(s, k, out)
    check_replayed(out)
    return out


def is_replayed(trial: TrialRecord) -> bool:
    return bool(trial.meta.get("replayed") or (trial.result or {}).get("replayed"))


def check_replayed(out: Collection) -> None:
    """A report is all replayed trials or all real ones: replayed curves never enter a real report."""
    replayed = {t.sweep or t.trial_id for t in out.trials if is_replayed(t)}
    real = {t.sweep or t.trial_id for t in out.trials if not is_replayed(t)}
    if replayed and real:
        raise DataError(
            f"cannot mix replayed and real trials in one report (replayed: {', '.join(sorted(replayed))}; "
            f"real: {', '.join(sorted(real))}); report them separately"
        )


def _is_trial(kids: dict[str, pafs.FileType]) -> bool:
    return any(kids.get(n) == pafs.FileType.File for n in TRIAL_FILES)


def _is_sweep(kids: dict[str, pafs.FileType]) -> bool:
    return kids.get(SWEEP_JSON) == pafs.FileType.File or kids.get(TRIALS) == pafs.FileType.Directory


def _lone_trial_sweep(loc: Location) -> str:
    parts = loc.path.rstrip("/").split("/")
    # <runs>/<sweep>/trials/<trial_id>: name it after its sweep; a bare trial dir has none.
    return parts[-3] if len(parts) >= 3 and parts[-2] == TRIALS else ""


def _read_sweep(loc: Location, kids: dict[str, pafs.FileType], out: Collection) -> None:
    spec = _read_json(loc.join(SWEEP_JSON), kids.get(SWEEP_JSON) == pafs.FileType.File, out.notes)
    check_layout(spec, loc.join(SWEEP_JSON).uri)  # a newer layout than this facebench reads: one line, exit 2
    name = str(spec.get("name") or loc.name)
    study = loc.join(STUDY_DB) if kids.get(STUDY_DB) == pafs.FileType.File else None
    summary = _read_json(loc.join(SUMMARY_JSON), kids.get(SUMMARY_JSON) == pafs.FileType.File, out.notes)
    confirmation = [c for c in summary.get("confirmation") or [] if isinstance(c, dict)]
    wall = summary.get("wall_s")
    out.sweeps.append(
        SweepRecord(
            name=name,
            loc=loc,
            spec=spec,
            study=study,
            confirmation=confirmation,
            wall_s=float(wall) if isinstance(wall, (int, float)) and wall > 0 else None,
            summary=summary,
            replayed=bool(spec.get("replay") or summary.get("replayed")),
        )
    )
    confirming = {str(t) for c in confirmation for t in c.get("trial_ids") or []}
    calibrating = {str(r.get("trial_id")) for r in (summary.get("calibration") or {}).get("runs") or []}
    trials_dir = loc.join(TRIALS)
    entries = trials_dir.children()
    for tid in sorted(n for n, t in entries.items() if t == pafs.FileType.Directory):
        trial = read_trial(trials_dir.join(tid), sweep=name)
        if trial.config:
            trial.stage = "confirmation" if tid in confirming else "calibration" if tid in calibrating else "sweep"
            out.trials.append(trial)
        else:
            out.notes.append(f"{trial.loc.uri}: {NO_CONFIG}; left out")
    if not entries:
        out.notes.append(f"sweep {name!r} ({loc.uri}): no trial directories under {TRIALS}/")


def _read_json(loc: Location, exists: bool, notes: list[str]) -> dict[str, Any]:
    if not exists:
        return {}
    try:
        data = json.loads(loc.read_text())
    except (OSError, ValueError) as e:
        notes.append(f"{loc.uri}: unreadable JSON ({e}); ignored")
        return {}
    if not isinstance(data, dict):
        notes.append(f"{loc.uri}: expected a JSON object, got {type(data).__name__}; ignored")
        return {}
    return data


def read_trial(loc: Location, *, sweep: str, kids: dict[str, pafs.FileType] | None = None) -> TrialRecord:
    kids = loc.children() if kids is None else kids
    notes: list[str] = []
    has = {n: kids.get(n) == pafs.FileType.File for n in TRIAL_FILES}
    config = _read_json(loc.join(CONFIG), has[CONFIG], notes)
    meta = _read_json(loc.join(META), has[META], notes)
    result = _read_json(loc.join(RESULT), has[RESULT], notes)
    if has[RESULT] and not result:
        result = {"status": "failed", "reason": "result.json is unreadable"}
    elif result and (problem := bad_score(result)):  # a hand-edited score: not shown as if it were measured
        notes.append(f"{loc.uri}/{RESULT}: {problem}; its scores are left out")
        result = {**result, "status": "failed", "reason": f"{RESULT}: {problem}", "metrics": {}}
    # result.json repeats config and meta; it is the fallback when the separate files are gone.
    config = flatten(config or (result or {}).get("config") or {})
    meta = meta or (result or {}).get("meta") or {}
    artefacts: frozenset[str] = frozenset()
    if kids.get(ARTEFACTS) == pafs.FileType.Directory:
        artefacts = frozenset(n for n, t in loc.join(ARTEFACTS).children().items() if t == pafs.FileType.File)
    trial_id = str(meta.get("trial_id") or loc.name)
    return TrialRecord(
        sweep=sweep,
        trial_id=trial_id,
        loc=loc,
        config=config,
        meta=meta,
        result=result or None,
        artefacts=artefacts,
        notes=notes,
    )
