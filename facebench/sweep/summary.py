"""The end of a sweep: every Tune trial's outcome from its trial directory, a ranked table, summary.json."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..artefacts import COMPLETED, FAILED, OBJECTIVE_KEYS, STOPPED, TrialDir, last_objective
from ..pareto import COST_KEY, front_rows
from .intervals import add_intervals
from .spec import ALIAS_MARK, SweepSpec

# Under the ranking: one seed per configuration says nothing about which recipe wins (docs/sweeps.md, "Confirmation").
EXPLORATORY = (
    "exploratory: one seed per configuration; which recipe wins is the confirmation stage's verdict "
    "(a sweep's confirm_top, --confirm K, or `facebench confirm RUN_DIR`)"
)
TEST_KEYS = ("test_accuracy_mean", "test_accuracy", "test_auc", "test_macro_f1")


def rank_rows(rows: list[dict], mode: str) -> list[dict]:
    """Completed trials first, then by objective (missing last); equal values keep trial-creation order,
    as Optuna's best trial does (the first of equal values), so the two never disagree on a tie."""
    from ..eval.uncertainty import tie_se, tied_with_first

    sign = -1.0 if mode == "max" else 1.0
    rows = sorted(rows, key=lambda r: r["trial_id"])
    rows.sort(key=lambda r: (r["status"] != COMPLETED, _rank_value(r.get("objective"), sign)))
    done = [r for r in rows if r["status"] == COMPLETED]
    ci = [r.get("objective_ci95") if isinstance(r.get("objective_ci95"), list) else [None, None] for r in done]
    se = tie_se([_num(c[0]) for c in ci], [_num(c[1]) for c in ci], [_num(r.get("objective_se")) for r in done])
    tied = tied_with_first([_num(r.get("objective")) for r in done], se, mode=mode)
    for r in rows:
        r["tied_with_first"] = False
    for r, t in zip(done, tied):
        r["tied_with_first"] = t
    return rows


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def summarize(spec: SweepSpec, paths: Any, grid: Any, *, wall_s: float, earlier: list[str] = ()) -> dict:
    """``earlier``: ids of trials an interrupted run finished (a resumed run's grid holds only its own)."""
    metric, mode = spec.objective
    results = {Path(r.path).name: r for r in grid}
    ids = list(dict.fromkeys([*earlier, *results]))
    rows = [trial_row(spec, paths, trial_id, results.get(trial_id)) for trial_id in ids]
    seeds = add_intervals(rows)  # before ranking: "tied with #1" reads objective_ci95
    rows = rank_rows(rows, mode)
    counts = {s: sum(r["status"] == s for r in rows) for s in (COMPLETED, STOPPED, FAILED)}
    summary = {
        "name": spec.name,
        "metric": metric,
        "mode": mode,
        "select": spec.select,
        "counts": counts,
        "failed": [{"trial_id": r["trial_id"], "reason": r["reason"]} for r in rows if r["status"] == FAILED],
        "wall_s": wall_s,
        "trial_train_s": sum(r["train_s"] or 0.0 for r in rows),
        "sweep_dir": str(paths.sweep_dir),
        "experiment": paths.experiment,
        "seed_variance": seeds,
        "trials": rows,
    }
    if spec.second_objective:
        summary.update(
            second_objective=spec.second_objective, pareto_front=pareto_front(rows, mode, spec.second_objective)
        )
    if spec.replay is not None:  # recorded curves replayed, no training: never a real result (docs/scale.md)
        summary["replayed"] = spec.replay.to_json()
    paths.dir.write_summary(summary)
    print(format_table(rows, f"{metric} ({spec.select} epoch)"))
    print(EXPLORATORY)
    if spec.second_objective:
        print(format_front(summary["pareto_front"], metric, spec.second_objective))
    replayed = " (REPLAYED trials)" if spec.replay is not None else ""
    print(
        f"facebench sweep{replayed}: {counts[COMPLETED]} completed, {counts[STOPPED]} stopped, {counts[FAILED]} failed "
        f"in {wall_s:.1f} s; summary: {paths.dir.summary_file}"
    )
    return summary


def _rank_value(value: Any, sign: float) -> float:
    return sign * value if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def trial_row(spec: SweepSpec, paths: Any, trial_id: str, result: Any = None) -> dict:
    """One row: status and reason from result.json, written here for trials the engine could not finish.
    ``result`` is Tune's view of a trial this run scheduled (None for one an earlier run finished)."""
    trial = paths.dir.trial(trial_id)
    epochs = trial.read_epochs()
    seen = last_objective(epochs)
    record = trial.read_result()
    if record is None:  # with a bucket, the driver pulled every trial folder before this
        error = _error_reason(result.error) if result is not None and result.error is not None else None
        record = write_unfinished_record(trial, error, epochs)
    metrics = record.get("metrics") or {}
    ray_meta = trial.read_ray_meta()
    params = ray_meta.get("params") if result is None else result.config
    return {
        "trial_id": trial_id,
        "status": record.get("status", FAILED),
        "reason": record.get("reason") or "",
        "params": {k: v for k, v in (params or {}).items() if ALIAS_MARK not in k},
        **{k: metrics.get(k, seen.get(k)) for k in OBJECTIVE_KEYS},
        "epochs": len(epochs),
        **({COST_KEY: metrics.get(COST_KEY, _last(epochs, COST_KEY))} if spec.second_objective else {}),
        "test": {k: metrics[k] for k in TEST_KEYS if k in metrics},
        "train_s": metrics.get("train_s", sum(r.get("epoch_s", 0.0) for r in epochs) or None),
        "node_id": ray_meta.get("node_id"),
        "hostname": ray_meta.get("hostname"),
        "pid": ray_meta.get("pid"),
        "attempts": trial.read_attempt().get("number", 1),  # runs of this one trial (facebench.attempts)
        "trial_dir": str(trial.path),
    }


def _last(epochs: list[dict], key: str) -> Any:
    return next((r[key] for r in reversed(epochs) if key in r), None)


def pareto_front(rows: list[dict], mode: str, cost: str) -> list[dict]:
    """summary.json's ``pareto_front``: the completed trials no other completed trial beats on both the validation
    objective and the cost (facebench.pareto), cheapest first, each with both values and the objective's standard
    error and 95% normal interval (objective ± 1.96 se; null where the objective has no se)."""
    from ..eval.uncertainty import Z95

    out = []
    for r in front_rows(rows, mode=mode):
        se = _num(r.get("objective_se"))
        interval = [r["objective"] - Z95 * se, r["objective"] + Z95 * se] if math.isfinite(se) else None
        out.append(
            {
                "trial_id": r["trial_id"],
                "objective": r["objective"],
                "objective_se": r.get("objective_se"),
                "interval_95": interval,
                COST_KEY: r[COST_KEY],
                "cost_name": cost,
            }
        )
    return out


def format_front(front: list[dict], metric: str, cost: str) -> str:
    lines = [f"Pareto front ({metric} on validation against {cost}; {len(front)} trial(s), cheapest first):"]
    for f in front:
        se = f"{f['objective_se']:.3g}" if isinstance(f.get("objective_se"), (int, float)) else "-"
        lines.append(f"  {f['trial_id']}  {metric} {f['objective']:.4f} ± {se}  {cost} {f[COST_KEY]:.4g}")
    return "\n".join(lines)


def _error_reason(error: BaseException) -> str:
    lines = [ln for ln in str(error).strip().splitlines() if ln.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


def write_unfinished_record(trial: TrialDir, error: str | None, epochs: list) -> dict:
    """A trial without result.json was stopped by ASHA (Tune ends it between epochs) or died (error, OOM
    kill): write the record the engine could not, so the report and later readers see why."""
    if error is not None:
        record = {"status": FAILED, "reason": error}
    else:
        record = {"status": STOPPED, "reason": f"stopped by the scheduler after epoch {len(epochs)}"}
    record.update(
        {
            "metrics": last_objective(epochs),
            "config": trial.read_config(),
            "meta": trial.read_meta(),
            "written_by": "facebench.sweep",
        }
    )
    if trial.path.exists():
        trial.write_result(record)
    return record


def format_table(rows: list[dict], objective: str, *, limit: int = 30) -> str:
    """The ranking as printed at the end of a sweep; ``=`` marks trials statistically tied with #1."""
    params = sorted({k for r in rows for k in r["params"]})
    head = ["rank", "trial", "status", objective, "±se", "test", "ep"] + [_label(p) for p in params]
    lines = [head]
    for i, r in enumerate(rows[:limit], 1):
        test = next(iter(r["test"].values()), None)
        rank = f"{i}{'=' if r.get('tied_with_first') and i > 1 else ''}"
        lines.append(
            [
                rank,
                r["trial_id"],
                r["status"],
                _fmt(r.get("objective")),
                _fmt(r.get("objective_se")),
                _fmt(test),
                str(r["epochs"]),
            ]
            + [_fmt(r["params"].get(p)) for p in params]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    for r in rows:
        if r["status"] == FAILED:
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
