"""The end of a sweep: every Tune trial's outcome from its trial directory, a ranked table, summary.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..io import atomic_write_json, read_jsonl
from .spec import ALIAS_MARK, SweepSpec

TEST_KEYS = ("test_accuracy_mean", "test_accuracy", "test_auc", "test_macro_f1")


def summarize(spec: SweepSpec, paths: Any, grid: Any, *, wall_s: float, earlier: list[str] = ()) -> dict:
    """``earlier``: ids of trials an interrupted run finished (a resumed run's grid holds only its own)."""
    results = {Path(r.path).name: r for r in grid}
    ids = list(dict.fromkeys([*earlier, *results]))
    rows = [trial_row(spec, paths, trial_id, results.get(trial_id)) for trial_id in ids]
    sign = -1.0 if spec.mode == "max" else 1.0
    rows.sort(key=lambda r: (r["status"] != "completed", _rank_value(r["best_" + spec.metric], sign)))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "stopped", "failed")}
    summary = {"name": spec.name, "metric": spec.metric, "mode": spec.mode, "counts": counts,
               "failed": [{"trial_id": r["trial_id"], "reason": r["reason"]} for r in rows if r["status"] == "failed"],
               "wall_s": wall_s, "trial_train_s": sum(r["train_s"] or 0.0 for r in rows),
               "sweep_dir": str(paths.sweep_dir), "experiment": paths.experiment, "trials": rows}
    atomic_write_json(paths.sweep_dir / "summary.json", summary)
    print(format_table(rows, spec.metric))
    print(f"facebench sweep: {counts['completed']} completed, {counts['stopped']} stopped, {counts['failed']} failed "
          f"in {wall_s:.1f} s; summary: {paths.sweep_dir / 'summary.json'}")
    return summary


def _rank_value(value: Any, sign: float) -> float:
    return sign * value if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def trial_row(spec: SweepSpec, paths: Any, trial_id: str, result: Any = None) -> dict:
    """One row: status and reason from result.json, written here for trials the engine could not finish.
    ``result`` is Tune's view of a trial this run scheduled (None for one an earlier run finished)."""
    trial_dir = paths.trials / trial_id
    epochs = read_jsonl(trial_dir / "epochs.jsonl")
    record = read_json(trial_dir / "result.json")
    if record is None:   # with a bucket, the driver pulled every trial folder before this
        error = _error_reason(result.error) if result is not None and result.error is not None else None
        record = write_unfinished_record(trial_dir, error, epochs, spec.metric, spec.mode)
    metrics = record.get("metrics") or {}
    best = metrics.get(f"best_{spec.metric}", _best_seen(epochs, spec.metric, spec.mode))
    ray_meta = read_json(trial_dir / "ray.json") or {}
    params = ray_meta.get("params") if result is None else result.config
    return {"trial_id": trial_id, "status": record.get("status", "failed"), "reason": record.get("reason") or "",
            "params": {k: v for k, v in (params or {}).items() if ALIAS_MARK not in k},
            f"best_{spec.metric}": best, "epochs": len(epochs),
            "test": {k: metrics[k] for k in TEST_KEYS if k in metrics},
            "train_s": metrics.get("train_s", sum(r.get("epoch_s", 0.0) for r in epochs) or None),
            "node_id": ray_meta.get("node_id"), "hostname": ray_meta.get("hostname"), "pid": ray_meta.get("pid"),
            "trial_dir": str(trial_dir)}


def _best_seen(epochs: list[dict], metric: str, mode: str) -> float | None:
    vals = [r[metric] for r in epochs if isinstance(r.get(metric), (int, float))]
    return (max if mode == "max" else min)(vals) if vals else None


def _error_reason(error: BaseException) -> str:
    lines = [ln for ln in str(error).strip().splitlines() if ln.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


def write_unfinished_record(trial_dir: Path, error: str | None, epochs: list, metric: str, mode: str) -> dict:
    """A trial without result.json was stopped by ASHA (Tune ends it between epochs) or died (error, OOM
    kill): write the record the engine could not, so the report and later readers see why."""
    if error is not None:
        record = {"status": "failed", "reason": error}
    else:
        record = {"status": "stopped", "reason": f"stopped by the scheduler after epoch {len(epochs)}"}
    best = _best_seen(epochs, metric, mode)
    record.update({"metrics": {f"best_{metric}": best} if best is not None else {},
                   "config": read_json(trial_dir / "config.json") or {},
                   "meta": read_json(trial_dir / "meta.json") or {}, "written_by": "facebench.sweep"})
    if trial_dir.exists():
        atomic_write_json(trial_dir / "result.json", record)
    return record


def read_json(path: Path) -> dict | None:
    """A JSON file's contents, or None when it is missing or unreadable (a torn or half-written file)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def format_table(rows: list[dict], metric: str, *, limit: int = 30) -> str:
    params = sorted({k for r in rows for k in r["params"]})
    head = ["rank", "trial", "status", f"best {metric}", "test", "ep"] + [_label(p) for p in params]
    lines = [head]
    for i, r in enumerate(rows[:limit], 1):
        test = next(iter(r["test"].values()), None)
        lines.append([str(i), r["trial_id"], r["status"], _fmt(r[f"best_{metric}"]), _fmt(test), str(r["epochs"])]
                     + [_fmt(r["params"].get(p)) for p in params])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    for r in rows:
        if r["status"] == "failed":
            out.append(f"  failed {r['trial_id']}: {r['reason'][:160]}")
    return "\n".join(out)


def _label(key: str) -> str:
    section, _, name = key.partition(".")
    return section if name == "name" else name


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
