"""The trial's tables: small long-format Parquet files under ``artefacts/``, one per (trial, table).

Each has the fixed columns of ``TABLES`` (typed, always present), any extra columns a newer writer adds, and
``schema_version`` as a column and in the file metadata. The engine writes them, the report reads them as pyarrow
datasets over many trials; ``facebench.artefacts`` (the folder layout) re-exports what its callers use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .io import atomic_path

SCHEMA_VERSION = 2  # 1: tables built by the report from npz/JSON artefacts; 2: tables written by the engine
ROC_POINTS = 100  # per trial and split: a smooth curve, small for 1,000 trials

EPOCH_METRICS = (
    "lr",
    "train_loss",
    "train_recon",
    "train_kld",
    "train_beta",
    "train_accuracy",
    "images_per_s",
    "epoch_s",
    "peak_mem_mb",
    "val_accuracy",
    "val_auc",
    "val_loss",
)
_F, _I, _S = pa.float64(), pa.int64(), pa.string()
# name -> fixed columns. A new table is one entry here and one ``write_table`` call in the engine; the report
# reads every table named here.
TABLES: dict[str, list[tuple[str, pa.DataType]]] = {
    "epochs": [("epoch", _I)] + [(m, _F) for m in EPOCH_METRICS],
    "folds": [
        ("split", _S),
        ("fold", _I),
        ("n_pairs", _I),
        ("threshold", _F),
        ("accuracy", _F),
        ("intersection_threshold", _F),
        ("intersection_accuracy", _F),
    ],
    "roc": [("split", _S), ("point", _I), ("fpr", _F), ("tpr", _F), ("threshold", _F)],
    "confusion": [("true", _S), ("pred", _S), ("true_index", _I), ("pred_index", _I), ("count", _I)],
    # one row per verification set of eval.sets (facebench.engine.sets): the papers' table reads these
    "sets": [
        ("set", _S),
        ("path", _S),
        ("format", _S),
        ("pairs", _I),
        ("positives", _I),
        ("folds", _S),
        ("accuracy_mean", _F),
        ("accuracy_std", _F),
        ("accuracy_sem", _F),
        ("auc", _F),
        ("eer", _F),
    ],
}
_VERSION = ("schema_version", pa.int32())


# -- tables ------------------------------------------------------------------------------------------


def table_path(artefacts_dir: str | Path, name: str) -> Path:
    return Path(artefacts_dir) / f"{name}.parquet"


def rows_to_columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    """Row dicts -> columns (the union of their keys, None where a row lacks one); lists and dicts are dropped."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    cols = {k: [r.get(k) for r in rows] for k in keys}
    return {k: v for k, v in cols.items() if all(x is None or isinstance(x, (int, float, str)) for x in v)}


def write_table(artefacts_dir: str | Path, name: str, columns: dict[str, Any]) -> Path:
    """``<artefacts_dir>/<name>.parquet`` (atomic): the fixed columns of ``TABLES[name]``, then any others."""
    table = typed_table(name, columns, fixed=TABLES[name])
    path = table_path(artefacts_dir, name)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def typed_table(name: str, columns: dict[str, Any], *, fixed: list[tuple[str, pa.DataType]]) -> pa.Table:
    """``schema_version``, the ``fixed`` columns typed (null-filled when absent), then the other columns sorted."""
    n = max((len(v) for v in columns.values()), default=0)
    known = dict(fixed)
    arrays = {_VERSION[0]: pa.array([SCHEMA_VERSION] * n, type=_VERSION[1])}
    for key in list(known) + sorted(k for k in columns if k not in known and k != _VERSION[0]):
        values = columns.get(key)
        values = [None] * n if values is None else list(values)
        arrays[key] = typed_array(values + [None] * (n - len(values)), known.get(key))
    meta = {b"facebench.schema_version": str(SCHEMA_VERSION).encode(), b"facebench.table": name.encode()}
    schema = pa.schema([pa.field(k, a.type) for k, a in arrays.items()], metadata=meta)
    return pa.Table.from_arrays(list(arrays.values()), schema=schema)


def typed_array(values: list, typ: pa.DataType | None) -> pa.Array:
    """Typed where the schema knows the column; inferred otherwise; strings as the last resort."""
    if typ is not None:
        try:
            return pa.array(values, type=typ, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    try:
        arr = pa.array(values, from_pandas=True)
        return arr.cast(pa.string()) if pa.types.is_null(arr.type) else arr
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def read_tables(name: str, artefacts_dirs: list[str], *, filesystem: Any = None) -> tuple[pa.Table, list[str]]:
    """One pyarrow dataset over ``<dir>/<name>.parquet`` of every given trial -> (table, notes).

    Every directory must hold the file (the report lists them first; a listing is one request on an object
    store, a probe per file would be a thousand). The table has the union of the files' columns (types promoted)
    plus ``trial_index`` (int32), the position of the row's directory in ``artefacts_dirs``. A file that cannot be
    read is left out with a note naming it.
    """
    import pyarrow.fs as pafs

    fs = filesystem or pafs.LocalFileSystem()
    paths = [f"{str(d).rstrip('/')}/{name}.parquet" for d in artefacts_dirs]
    try:
        return _dataset_table(paths, list(range(len(paths))), fs, name), []
    except (pa.ArrowException, OSError, ValueError):
        pass  # one bad file spoils the whole scan: read them one by one to name it
    good, notes = [], []
    for i, p in enumerate(paths):
        try:
            _dataset_table([p], [i], fs, name)
            good.append((i, p))
        except (pa.ArrowException, OSError, ValueError) as e:
            notes.append(f"{p}: unreadable {name} table ({type(e).__name__}: {' '.join(str(e).split())[:160]})")
    return _dataset_table([p for _, p in good], [i for i, _ in good], fs, name), notes


def _dataset_table(paths: list[str], index: list[int], fs: Any, name: str) -> pa.Table:
    import pyarrow.dataset as ds  # here, not at the top: it imports pandas (~0.5 s), which writers never need

    if not paths:
        return typed_table(name, {}, fixed=TABLES[name]).append_column("trial_index", pa.array([], pa.int32()))
    factory = ds.FileSystemDatasetFactory(fs, paths, ds.ParquetFileFormat())
    schema = factory.inspect(promote_options="permissive", fragments=None)  # every footer: the union of columns
    position = dict(zip(paths, index))
    batches, owner = [], []
    for tagged in factory.finish(schema).scanner().scan_batches():  # each batch knows the file it came from
        batches.append(tagged.record_batch)
        owner.append(np.full(tagged.record_batch.num_rows, position[tagged.fragment.path], dtype=np.int32))
    table = pa.Table.from_batches(batches, schema=schema)
    return table.append_column("trial_index", pa.array(np.concatenate(owner) if owner else [], pa.int32()))


def verification_columns(result: Any, fold: np.ndarray, split: str) -> dict[str, dict[str, list]]:
    """``folds`` and ``roc`` columns of one ``facebench.eval.verification.VerificationResult``."""
    fold = np.asarray(fold)
    ids = np.asarray(result.fold_ids, dtype=np.int64)
    k = len(ids)
    folds = {
        "split": [split] * k,
        "fold": ids.tolist(),
        "n_pairs": [int((fold == f).sum()) for f in ids],
        "threshold": _floats(result.thresholds),
        "accuracy": _floats(result.fold_accuracy),
        "intersection_threshold": _floats(result.intersection_thresholds),
        "intersection_accuracy": _floats(result.intersection_accuracy),
    }
    fpr, tpr, thr = downsample_roc(result.roc_fpr, result.roc_tpr, result.roc_thresholds)
    roc = {
        "split": [split] * len(fpr),
        "point": list(range(len(fpr))),
        "fpr": _floats(fpr),
        "tpr": _floats(tpr),
        "threshold": _floats(thr),
    }
    return {"folds": folds, "roc": roc}


_ROC_GRID = np.concatenate((np.logspace(-4, 0, ROC_POINTS // 2 - 1), np.linspace(0, 1, ROC_POINTS // 2 - 1)))


def downsample_roc(fpr: Any, tpr: Any, thr: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """<= ``ROC_POINTS`` vertices of an ROC: at FPRs spaced both linearly and logarithmically (so a log-FPR plot
    keeps its low end) the highest TPR reached at FPR <= that value, plus both ends."""
    fpr, tpr, thr = np.asarray(fpr), np.asarray(tpr), np.asarray(thr)
    if len(fpr) == 0:
        return fpr, tpr, thr
    idx = np.searchsorted(fpr, _ROC_GRID, side="right") - 1
    idx = np.unique(np.concatenate(([0, len(fpr) - 1], np.clip(idx, 0, len(fpr) - 1))))
    return fpr[idx], tpr[idx], thr[idx]


def confusion_columns(matrix: Any, class_names: list[str]) -> dict[str, list]:
    """Long format of a k x k count matrix (rows: true class), zeros included."""
    m = np.asarray(matrix, dtype=np.int64)
    k = m.shape[0]
    names = [str(c) for c in class_names][:k] + [str(i) for i in range(len(class_names), k)]
    ti, pi = np.divmod(np.arange(k * k), k)
    return {
        "true": [names[i] for i in ti],
        "pred": [names[i] for i in pi],
        "true_index": ti.tolist(),
        "pred_index": pi.tolist(),
        "count": m.ravel().tolist(),
    }


def _floats(arr: Any) -> list:
    return [v if np.isfinite(v) else None for v in np.asarray(arr, dtype=np.float64).tolist()]
