"""The on-disk layout: every name in a sweep folder and a trial folder, the trial's tables (Parquet) and arrays (npz).

``SweepDir`` and ``TrialDir`` own the names; no other module spells them (tests/test_artefacts.py checks).

The engine writes through this module, the eval CLI and the report read through it; the layout is in
docs/architecture.md. It sits beside ``io.py``, above the stages, because eval may import nothing of the engine
and the report neither engine nor sweep; it imports no facebench stage itself.

Tables are small long-format Parquet files under ``artefacts/``, one per (trial, table), each with the fixed
columns of ``TABLES`` (typed, always present), any extra columns a newer writer adds, ``schema_version`` as a
column and in the file metadata. Arrays are npz files read with ``np.load(allow_pickle=False)``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DataError
from .io import (
    append_jsonl,
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    dumps_json,
    read_json,
    read_jsonl,
)
from .ownership import TEMP_PATTERN, claim_dir, remove_stale_temps
from .npzfiles import load_npz, save_npz  # noqa: F401  (re-exported: the trial folder's arrays)

SCHEMA_VERSION = 2  # 1: tables built by the report from npz/JSON artefacts; 2: tables written by the engine
CONFIG, META, EPOCHS_LOG, RESULT, ARTEFACTS = "config.json", "meta.json", "epochs.jsonl", "result.json", "artefacts"
CHECKPOINT = "checkpoint.pt"  # the latest epoch (facebench.engine.checkpoint); only the engine reads it
RAY_META = "ray.json"  # written by the sweep's trainable: where the trial ran and the parameters it was given
SWEEP_JSON, SUMMARY_JSON, STUDY_DB, TRIALS = "sweep.json", "summary.json", "study.db", "trials"
RAY_STATE, REPORT, LOGS, MLFLOW_DB = "ray", "report", "logs", "mlflow.db"
# sweep.json's "layout_version": the names above. A sweep.json without one was written before it was recorded
# (the same layout, version 1); a newer one is refused by name (``check_layout``).
LAYOUT_VERSION = 1
COMPLETED, FAILED, STOPPED = "completed", "failed", "stopped"  # result.json's "status"
STATUSES = (COMPLETED, FAILED, STOPPED)
OBJECTIVE_KEYS = ("objective", "objective_se", "objective_epoch")  # the running objective in each epoch's row
# What facebench (and, under ``ray/``, Ray Tune on its behalf) writes in each kind of folder (facebench.ownership).
OWNED: dict[str, tuple[str, ...]] = {
    "sweep": (SWEEP_JSON, SUMMARY_JSON, STUDY_DB, f"{STUDY_DB}-journal", f"{STUDY_DB}-wal", f"{STUDY_DB}-shm",
              TRIALS, RAY_STATE, REPORT, LOGS, MLFLOW_DB, TEMP_PATTERN),
    "trial": (CONFIG, META, EPOCHS_LOG, RESULT, CHECKPOINT, RAY_META, ARTEFACTS, "*.parquet", TEMP_PATTERN),
    "report": ("index.html", "*.parquet", "*.png", "*.svg", "plots", TEMP_PATTERN),
    # `eval model FILE.onnx --save DIR` (facebench.deploy.evaluate)
    "model-eval": (RESULT, ARTEFACTS, TEMP_PATTERN),
    # sweep/trials/: a container whose entries are trial folders (each with its own marker).
    TRIALS: (TEMP_PATTERN,),
}
VERIFICATION_NPZ = "verification.npz"
WHITENING_NPZ = "whitening.npz"  # eval.whiten: the mean and projection fitted under the chosen weights
PREDICTIONS_NPZ = "predictions.npz"  # task cifar: each test image's label and predicted class, for paired tests
ROC_POINTS = 100  # per trial and split: a smooth curve, small for 1,000 trials

EPOCH_METRICS = ("lr", "train_loss", "train_recon", "train_kld", "train_beta", "train_accuracy", "images_per_s",
                 "epoch_s", "peak_mem_mb", "val_accuracy", "val_auc", "val_loss")
_F, _I, _S = pa.float64(), pa.int64(), pa.string()
# name -> fixed columns. A new table is one entry here and one ``write_table`` call in the engine; the report
# reads every table named here.
TABLES: dict[str, list[tuple[str, pa.DataType]]] = {
    "epochs": [("epoch", _I)] + [(m, _F) for m in EPOCH_METRICS],
    "folds": [("split", _S), ("fold", _I), ("n_pairs", _I), ("threshold", _F), ("accuracy", _F),
              ("intersection_threshold", _F), ("intersection_accuracy", _F)],
    "roc": [("split", _S), ("point", _I), ("fpr", _F), ("tpr", _F), ("threshold", _F)],
    "confusion": [("true", _S), ("pred", _S), ("true_index", _I), ("pred_index", _I), ("count", _I)],
    # one row per verification set of eval.sets (facebench.engine.sets): the papers' table reads these
    "sets": [("set", _S), ("path", _S), ("format", _S), ("pairs", _I), ("positives", _I), ("folds", _S),
             ("accuracy_mean", _F), ("accuracy_std", _F), ("accuracy_sem", _F), ("auc", _F), ("eer", _F)],
}
_VERSION = ("schema_version", pa.int32())


# -- the sweep and trial directories --------------------------------------------------------------------

def check_layout(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """``spec`` (a sweep.json) if this facebench reads its layout; a newer one is a DataError naming both."""
    version = spec.get("layout_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= LAYOUT_VERSION:
        raise DataError(f"{where}: sweep layout version {version!r}, but this facebench reads layout versions up to "
                        f"{LAYOUT_VERSION}; upgrade facebench (pip install -U facebench) to read this folder")
    return spec


class SweepDir:
    """One sweep folder, ``<results>/<name>/``: every name in it (docs/architecture.md, "Sweep directory").

    Words: a *trial* is one configuration the search proposed once (one Optuna trial, one folder
    ``trials/<trial_id>``); an *attempt* is one run of a trial (the first, a Ray retry, a resumed sweep's
    continuation). A trial has one or more attempts, all in its one folder; its ``result.json`` is the last one's.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.spec_file, self.summary_file = self.path / SWEEP_JSON, self.path / SUMMARY_JSON
        self.study_file, self.mlflow_db = self.path / STUDY_DB, self.path / MLFLOW_DB
        self.trials, self.ray, self.report = self.path / TRIALS, self.path / RAY_STATE, self.path / REPORT
        self.ray_logs = self.path / LOGS / "ray"   # a private Ray's own session logs, copied when it stops
        self.suggest_log = self.path / LOGS / "suggest_ms.txt"   # wall and CPU ms of each new Optuna proposal

    def trial(self, trial_id: str) -> "TrialDir":
        return TrialDir(self.trials / trial_id)

    def trial_dirs(self) -> list["TrialDir"]:
        return [TrialDir(p) for p in sorted(self.trials.iterdir()) if p.is_dir()] if self.trials.is_dir() else []

    def read_spec(self) -> dict[str, Any] | None:
        """sweep.json (None when missing or torn); a layout newer than this facebench reads is a DataError."""
        spec = read_json(self.spec_file)
        return None if spec is None else check_layout(spec, str(self.spec_file))

    def write_spec(self, spec: dict[str, Any]) -> None:
        atomic_write_json(self.spec_file, {**spec, "layout_version": LAYOUT_VERSION})

    def read_summary(self) -> dict[str, Any] | None:
        return read_json(self.summary_file)

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_json(self.summary_file, summary)


class TrialDir:
    """Reads and writes one trial directory; every write is atomic or an fsynced append."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.artefacts = self.path / ARTEFACTS

    def claim(self) -> None:
        """Create the folder with facebench's marker, or accept one facebench created (else ConfigError)."""
        claim_dir(self.path, "trial")
        remove_stale_temps(self.path)  # atomic writes killed midway (a SIGKILL during a checkpoint save)

    def start(self, flat_config: dict[str, Any], meta: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path / CONFIG, flat_config)
        atomic_write_json(self.path / META, meta)

    def append_epoch(self, metrics: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """``epochs.jsonl`` gets the row (the streaming log the sweep's resume reads); ``epochs.parquet`` is
        rewritten with ``history`` (every epoch so far), so a killed trial's curves are in its table too."""
        append_jsonl(self.path / EPOCHS_LOG, metrics)
        write_table(self.artefacts, "epochs", rows_to_columns(history))

    def rewrite_epochs(self, history: list[dict[str, Any]]) -> None:
        """On resume: exactly the epochs the checkpoint covers (drops rows written after it)."""
        atomic_write_text(self.path / EPOCHS_LOG, "".join(dumps_json(r, sort_keys=True) + "\n" for r in history))
        write_table(self.artefacts, "epochs", rows_to_columns(history))

    def write_result(self, result: dict[str, Any]) -> None:
        atomic_write_json(self.path / RESULT, result)

    def read_result(self) -> dict[str, Any] | None:
        """None when missing or torn (a faulty disk; facebench's own writes are atomic): the checkpoint decides."""
        return read_json(self.path / RESULT)

    def final_result(self) -> dict[str, Any] | None:
        """result.json when it records a finished trial (completed, failed or stopped), else None."""
        record = self.read_result()
        return record if isinstance(record, dict) and record.get("status") in STATUSES else None

    def read_config(self) -> dict[str, Any]:
        return read_json(self.path / CONFIG) or {}

    def read_meta(self) -> dict[str, Any]:
        return read_json(self.path / META) or {}

    def read_epochs(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path / EPOCHS_LOG)

    def read_ray_meta(self) -> dict[str, Any]:
        return read_json(self.path / RAY_META) or {}

    def write_ray_meta(self, where: dict[str, Any]) -> None:
        atomic_write_json(self.path / RAY_META, where)

    def clear(self) -> None:
        """--no-resume / --overwrite: forget previous attempts' checkpoint, epochs, result and artefacts (what
        the sweep adapter wrote, ray.json, stays)."""
        for name in (CHECKPOINT, EPOCHS_LOG, RESULT):
            (self.path / name).unlink(missing_ok=True)
        if self.artefacts.is_dir() and not self.artefacts.is_symlink():
            shutil.rmtree(self.artefacts)


def last_objective(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The running objective after the last recorded epoch (what Tune last compared; a failed trial's value)."""
    return next(({k: r[k] for k in OBJECTIVE_KEYS if k in r} for r in reversed(history) if "objective" in r), {})


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


def write_verification(artefacts_dir: str | Path, result: Any, *, scores: np.ndarray, same: np.ndarray,
                       fold: np.ndarray, metric: str, split: str) -> None:
    """One split's verification artefacts: ``[val_]verification.npz``; for the test split also
    ``verification.json`` (the whole ``VerificationResult``) and the ``folds`` and ``roc`` tables."""
    prefix = "" if split == "test" else f"{split}_"
    write_verification_npz(Path(artefacts_dir) / f"{prefix}{VERIFICATION_NPZ}", scores=scores, same=same,
                           fold=fold, result=result, metric=metric)
    if split == "test":
        atomic_write_json(Path(artefacts_dir) / "verification.json", result.to_json())
        for name, cols in verification_columns(result, fold, split).items():
            write_table(artefacts_dir, name, cols)


def verification_columns(result: Any, fold: np.ndarray, split: str) -> dict[str, dict[str, list]]:
    """``folds`` and ``roc`` columns of one ``facebench.eval.verification.VerificationResult``."""
    fold = np.asarray(fold)
    ids = np.asarray(result.fold_ids, dtype=np.int64)
    k = len(ids)
    folds = {"split": [split] * k, "fold": ids.tolist(), "n_pairs": [int((fold == f).sum()) for f in ids],
             "threshold": _floats(result.thresholds), "accuracy": _floats(result.fold_accuracy),
             "intersection_threshold": _floats(result.intersection_thresholds),
             "intersection_accuracy": _floats(result.intersection_accuracy)}
    fpr, tpr, thr = downsample_roc(result.roc_fpr, result.roc_tpr, result.roc_thresholds)
    roc = {"split": [split] * len(fpr), "point": list(range(len(fpr))), "fpr": _floats(fpr), "tpr": _floats(tpr),
           "threshold": _floats(thr)}
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
    return {"true": [names[i] for i in ti], "pred": [names[i] for i in pi], "true_index": ti.tolist(),
            "pred_index": pi.tolist(), "count": m.ravel().tolist()}


def _floats(arr: Any) -> list:
    return [v if np.isfinite(v) else None for v in np.asarray(arr, dtype=np.float64).tolist()]


# -- arrays ------------------------------------------------------------------------------------------

def write_verification_npz(path: str | Path, *, scores: np.ndarray, same: np.ndarray, fold: np.ndarray,
                           result: Any, metric: str) -> None:
    """``verification.npz``: the pairs' scores, labels and folds with each fold's threshold (docs/architecture.md)."""
    save_npz(path, scores=np.asarray(scores, dtype=np.float64), same=np.asarray(same, dtype=bool),
             fold=np.asarray(fold, dtype=np.int64), thresholds=result.thresholds, fold_ids=result.fold_ids,
             fold_accuracy=result.fold_accuracy, metric=np.array(metric),
             greater_is_same=np.array(bool(result.greater_is_same)))


def read_verification_npz(source: str | Path | bytes, *, name: str = "") -> dict[str, np.ndarray]:
    """A trial's scores, same, fold, greater_is_same (+ thresholds when present); a trial dir is accepted too."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            path = path / ARTEFACTS / VERIFICATION_NPZ
        if not path.is_file():
            raise DataError(f"{path}: verification artefact not found (a trial directory holds "
                            f"{ARTEFACTS}/{VERIFICATION_NPZ})")
        source, name = path, str(path)
    out = load_npz(source, name=name)
    label = name or "verification.npz"
    for key in ("scores", "same", "fold", "greater_is_same"):
        if key not in out:
            raise DataError(f"{label}: missing array {key!r} (found: {', '.join(sorted(out))})")
    if not (len(out["scores"]) == len(out["same"]) == len(out["fold"])):
        raise DataError(f"{label}: scores, same and fold differ in length")
    out["greater_is_same"] = np.asarray(bool(out["greater_is_same"]))
    out["source"] = np.array(label)
    return out
