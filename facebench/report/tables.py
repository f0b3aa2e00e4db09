"""Trial records -> five long-format Arrow tables with a versioned schema (documented in docs/report.md).

``trials`` (one row per trial) is built here from each trial's JSON files; ``epochs``, ``folds``, ``roc`` and
``confusion`` are the engine's own per-trial Parquet tables (``facebench.artefacts``), read as one pyarrow dataset
per table over every trial folder and keyed by ``sweep`` and ``trial_id``. Every table carries
``schema_version`` as a column and in its Parquet metadata, so tables written by different facebench versions can
be told apart after they are concatenated.
"""

from __future__ import annotations

import io
import math
import typing
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from facebench import artefacts
from facebench.storage import Location

from .collect import TrialRecord
from .paths import portable_value, trial_path

SCHEMA_VERSION = artefacts.SCHEMA_VERSION
TABLES = ("trials", *artefacts.TABLES)

FACE_METRICS = (
    "test_accuracy_mean",
    "test_accuracy_std",
    "test_accuracy_sem",
    "test_auc",
    "test_eer",
    "test_tar_far_1e-1",
    "test_tar_far_1e-2",
    "test_tar_far_1e-3",
    "test_intersection_accuracy_mean",
)
CIFAR_METRICS = (
    "test_accuracy",
    "test_macro_precision",
    "test_macro_recall",
    "test_macro_f1",
    "test_auroc",
    "test_auprc",
)
COMMON_METRICS = ("objective", "objective_se", "params", "flops", "train_s", "test_kld")
FINAL_METRICS = FACE_METRICS + CIFAR_METRICS + COMMON_METRICS
INT_METRICS = ("latent_dims", "active_units", "objective_epoch")
VERSION_KEYS = ("python", "torch", "facebench", "git")

_KEY = [("schema_version", pa.int32()), ("sweep", pa.string()), ("trial_id", pa.string())]
TRIALS_FIXED = _KEY + [
    ("name", pa.string()),
    ("task", pa.string()),
    ("status", pa.string()),
    ("reason", pa.string()),
    ("seed", pa.int64()),
    ("score", pa.float64()),
    ("score_metric", pa.string()),
    ("epochs_run", pa.int64()),
    ("wall_s", pa.float64()),
    ("device", pa.string()),
    ("host", pa.string()),
    ("started_at", pa.string()),
    *[(f"version.{k}", pa.string()) for k in VERSION_KEYS],
    ("path", pa.string()),
    *[(m, pa.float64()) for m in FINAL_METRICS],
    *[(m, pa.int64()) for m in INT_METRICS],
    ("objective_metric", pa.string()),
    ("objective_mode", pa.string()),
    ("objective_select", pa.string()),
    ("stage", pa.string()),
]
FIXED = {"trials": TRIALS_FIXED, **{name: _KEY + cols for name, cols in artefacts.TABLES.items()}}


def primary_metric(task: str) -> str:
    """The test metric a trial is summarised by: verification accuracy, or CIFAR accuracy."""
    return "test_accuracy" if task == "cifar" else "test_accuracy_mean"


# -- building -----------------------------------------------------------------------------------


def build_tables(trials: list[TrialRecord]) -> tuple[dict[str, pa.Table], list[str]]:
    """Every table for these trials, and notes on the per-trial tables that could not be read."""
    notes: list[str] = []
    out = {name: _trial_tables(name, trials, notes) for name in artefacts.TABLES}
    epochs_run = np.bincount(_trial_index(out["epochs"]), minlength=len(trials))
    rows = [_trial_row(rec, int(n)) for rec, n in zip(trials, epochs_run)]
    cols = artefacts.rows_to_columns(rows) if rows else {}
    out = {"trials": _trials_table(cols), **{name: _keyed(name, t, trials) for name, t in out.items()}}
    return out, notes


def _trial_tables(name: str, trials: list[TrialRecord], notes: list[str]) -> pa.Table:
    """The dataset of ``<trial>/artefacts/<name>.parquet`` over the trials that have one, per filesystem."""
    file = f"{name}.parquet"
    groups: dict[int, list[int]] = {}
    for i, rec in enumerate(trials):
        if file in rec.artefacts:
            groups.setdefault(id(rec.loc.fs), []).append(i)
    parts = []
    for idx in groups.values():
        fs = trials[idx[0]].loc.fs
        table, more = artefacts.read_tables(
            name, [trials[i].loc.join(artefacts.ARTEFACTS).path for i in idx], filesystem=fs
        )
        notes += more
        parts.append(
            table.set_column(
                table.schema.get_field_index("trial_index"),
                "trial_index",
                pa.array(idx, pa.int32()).take(table.column("trial_index")),
            )
        )
    if not parts:
        return artefacts.read_tables(name, [])[0]
    return pa.concat_tables(parts, promote_options="permissive")


def _trial_index(table: pa.Table) -> np.ndarray:
    return table.column("trial_index").to_numpy().astype(np.int64) if table.num_rows else np.zeros(0, np.int64)


def _keyed(name: str, table: pa.Table, trials: list[TrialRecord]) -> pa.Table:
    """``sweep`` and ``trial_id`` from each row's ``trial_index``, the fixed columns in order, then the rest."""
    idx = table.column("trial_index")
    sweep = pa.array([t.sweep for t in trials], pa.string()).take(idx) if trials else pa.array([], pa.string())
    tid = pa.array([t.trial_id for t in trials], pa.string()).take(idx) if trials else pa.array([], pa.string())
    cols = {"sweep": sweep, "trial_id": tid}
    cols.update({c: table.column(c) for c in table.column_names if c not in ("trial_index", "sweep", "trial_id")})
    return _ordered(name, cols, table.num_rows)


def _ordered(name: str, cols: dict[str, Any], n: int) -> pa.Table:
    fixed = dict(FIXED[name])
    if name == "trials":
        fixed.update(_config_types())  # every config key is a column, even in an empty table
    arrays, fields = [], []
    for key in list(fixed) + sorted(k for k in cols if k not in fixed):
        col = cols.get(key)
        if col is None:
            arr = pa.nulls(n, fixed[key])
        elif isinstance(col, (pa.Array, pa.ChunkedArray)):
            arr = col.cast(fixed[key]) if key in fixed and col.type != fixed[key] else col
        else:
            arr = artefacts.typed_array(list(col) + [None] * (n - len(col)), fixed.get(key))
        arrays.append(arr)
        fields.append(pa.field(key, arr.type))
    meta = {b"facebench.schema_version": str(SCHEMA_VERSION).encode(), b"facebench.table": name.encode()}
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=meta))


def _trials_table(cols: dict[str, list]) -> pa.Table:
    n = max((len(v) for v in cols.values()), default=0)
    return _ordered("trials", {"schema_version": [SCHEMA_VERSION] * n, **cols}, n)


def _trial_row(rec: TrialRecord, epochs_run: int) -> dict[str, Any]:
    result, meta, cfg = rec.result or {}, rec.meta, rec.config
    task = str(cfg.get("task") or meta.get("task") or "")
    metrics = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    status, reason = _status(rec)
    seed = meta.get("seed", cfg.get("train.seed"))
    versions = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
    values: dict[str, Any] = {
        "sweep": rec.sweep,
        "trial_id": rec.trial_id,
        "name": str(cfg.get("name") or meta.get("name") or ""),
        "task": task,
        "status": status,
        "reason": reason,
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "score": _num(metrics.get(primary_metric(task))),
        "score_metric": primary_metric(task),
        "epochs_run": epochs_run,
        "wall_s": _num(result.get("wall_s")),
        "device": _str(meta.get("device")),
        "host": _str(meta.get("host")),
        "started_at": _str(meta.get("started_at")),
        "path": trial_path(rec.loc.path),
        "stage": rec.stage,
    }
    values.update({f"version.{k}": _str(v) for k, v in versions.items()})
    values.update({k: float(v) for k, v in metrics.items() if _is_number(v)})
    for key in INT_METRICS:
        if _is_number(values.get(key)) and math.isfinite(values[key]):
            values[key] = int(values[key])
    values.update(_objective(result, cfg, task))
    values.update({f"cfg.{k}": portable_value(k, v) for k, v in cfg.items()})
    return values


def _objective(result: dict, cfg: dict, task: str) -> dict[str, Any]:
    """How the trial's ``objective`` was defined (result.json's ``selection``, else its config's declaration)."""
    from facebench.config import objective_of
    from facebench.errors import ConfigError

    sel = result.get("selection") if isinstance(result.get("selection"), dict) else {}
    try:
        metric, mode = objective_of(task, str(cfg.get("train.objective") or "auto"))
    except ConfigError:
        metric, mode = None, None
    return {
        "objective_metric": _str(sel.get("metric", metric)),
        "objective_mode": _str(sel.get("mode", mode)),
        "objective_select": _str(sel.get("select", cfg.get("train.select", "best"))),
    }


def _status(rec: TrialRecord) -> tuple[str, str]:
    if rec.result is None:
        return "stopped", "no result.json (stopped early, killed or still running)"
    status = str(rec.result.get("status") or "failed")
    reason = rec.result.get("reason")
    return status, "" if reason is None else str(reason)


def _config_types() -> dict[str, pa.DataType]:
    """Arrow type of every ``cfg.<key>`` column, from the typed config, so the schema does not drift."""
    import dataclasses

    from facebench.config import SECTIONS, TOP_LEVEL

    arrow = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}
    out = {f"cfg.{k}": pa.string() for k in TOP_LEVEL}
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            t = hints[f.name]
            args = [a for a in typing.get_args(t) if a is not type(None)]
            out[f"cfg.{section}.{f.name}"] = arrow.get(args[0] if args else t, pa.string())
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _num(v: Any) -> float | None:
    return float(v) if _is_number(v) else None


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


# -- Parquet ------------------------------------------------------------------------------------


def write_tables(tables: dict[str, pa.Table], out: Location) -> dict[str, str]:
    """Write ``<name>.parquet`` for each table under ``out``; return name -> URI."""
    written = {}
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        target = out.join(f"{name}.parquet")
        target.write_bytes(sink.getvalue().to_pybytes())
        written[name] = target.uri
    return written


def read_table(where: str, name: str) -> pa.Table:
    """Read one table written by ``write_tables`` from a local path or URI."""
    from facebench.storage import resolve

    loc = resolve(where).join(f"{name}.parquet")
    return pq.read_table(io.BytesIO(loc.read_bytes()))


def concat(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate tables of several sweeps: the union of their columns, missing ones null."""
    return pa.concat_tables(list(tables), promote_options="permissive")
