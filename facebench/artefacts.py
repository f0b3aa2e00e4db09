"""The on-disk layout: every name in a sweep folder and a trial folder, the trial's tables (Parquet) and arrays (npz).

``SweepDir`` and ``TrialDir`` own the names; no other module spells them (tests/test_artefacts.py checks).

The engine writes through this module, the eval CLI and the report read through it; the layout is in
docs/architecture.md. It sits beside ``io.py``, above the stages, because eval may import nothing of the engine
and the report neither engine nor sweep; it imports no facebench stage itself.

The tables under ``artefacts/`` are ``facebench.tables``' (Parquet, versioned schema); arrays are npz files read
with ``np.load(allow_pickle=False)`` (``facebench.npzfiles``); both are re-exported here for their callers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .attempts import check_current, take_lease
from .errors import DataError
from .io import append_jsonl, atomic_write_json, atomic_write_text, dumps_json, read_json, read_jsonl
from .npzfiles import load_npz, save_npz  # noqa: F401  (re-exported: the trial folder's arrays)
from .ownership import TEMP_PATTERN, claim_dir, remove_stale_temps
from .tables import (  # noqa: F401  (re-exported: the trial folder's tables)
    EPOCH_METRICS,
    ROC_POINTS,
    SCHEMA_VERSION,
    TABLES,
    confusion_columns,
    downsample_roc,
    read_tables,
    rows_to_columns,
    table_path,
    typed_array,
    typed_table,
    verification_columns,
    write_table,
)

CONFIG, META, EPOCHS_LOG, RESULT, ARTEFACTS = "config.json", "meta.json", "epochs.jsonl", "result.json", "artefacts"
CHECKPOINT = "checkpoint.pt"  # the latest epoch (facebench.engine.checkpoint); only the engine reads it
RAY_META = "ray.json"  # written by the sweep's trainable: where the trial ran and the parameters it was given
ATTEMPT = "attempt.json"  # the sweep's trainable: the lease naming the trial's current attempt (facebench.attempts)
SWEEP_JSON, SUMMARY_JSON, STUDY_DB, TRIALS = "sweep.json", "summary.json", "study.db", "trials"
RAY_STATE, REPORT, LOGS, MLFLOW_DB = "ray", "report", "logs", "mlflow.db"
SUGGEST_LOG = "suggest_ms.txt"  # logs/: wall and CPU ms of each new Optuna proposal (sweep/search.py)
# sweep.json's "layout_version": the names above. A sweep.json without one was written before it was recorded
# (the same layout, version 1); a newer one is refused by name (``check_layout``).
LAYOUT_VERSION = 1
COMPLETED, FAILED, STOPPED = "completed", "failed", "stopped"  # result.json's "status"
STATUSES = (COMPLETED, FAILED, STOPPED)
OBJECTIVE_KEYS = ("objective", "objective_se", "objective_epoch")  # the running objective in each epoch's row
# What facebench (and, under ``ray/``, Ray Tune on its behalf) writes in each kind of folder (facebench.ownership).
OWNED: dict[str, tuple[str, ...]] = {
    "sweep": (
        SWEEP_JSON,
        SUMMARY_JSON,
        STUDY_DB,
        f"{STUDY_DB}-journal",
        f"{STUDY_DB}-wal",
        f"{STUDY_DB}-shm",
        TRIALS,
        RAY_STATE,
        REPORT,
        LOGS,
        MLFLOW_DB,
        TEMP_PATTERN,
    ),
    "trial": (CONFIG, META, EPOCHS_LOG, RESULT, CHECKPOINT, RAY_META, ATTEMPT, ARTEFACTS, "*.parquet", TEMP_PATTERN),
    "report": ("index.html", "*.parquet", "*.png", "*.svg", "plots", TEMP_PATTERN),
    # `eval model FILE.onnx --save DIR` (facebench.deploy.evaluate)
    "model-eval": (RESULT, ARTEFACTS, TEMP_PATTERN),
    # sweep/trials/: a container whose entries are trial folders (each with its own marker).
    TRIALS: (TEMP_PATTERN,),
    # The kinds NESTED gives unmarked folders. ray/: Ray Tune's experiment state and its per-trial folders.
    RAY_STATE: (
        "experiment_state-*.json",
        "basic-variant-state-*.json",
        "search_gen_state-*.json",
        "searcher-state-*.pkl",
        "tuner.pkl",
        "trainable.pkl",
        ".validate_storage_marker",
        TEMP_PATTERN,
    ),
    "tune-trial": (
        "params.json",
        "params.pkl",
        "result.json",
        "progress.csv",
        "error.txt",
        "error.pkl",
        "events.out.tfevents.*",
        TEMP_PATTERN,
    ),
    LOGS: (SUGGEST_LOG, TEMP_PATTERN),
    "ray-logs": ("*.log", "*.out", "*.err", "debug_state*.txt", TEMP_PATTERN),
    ARTEFACTS: (
        "*.parquet",
        "*.npz",
        "verification.json",
        "classification.json",
        "recon.png",
        "train_identities.txt",
        TEMP_PATTERN,
    ),
    "artefact-sets": ("*.npz", TEMP_PATTERN),
    "plots": ("*.png", "*.svg", TEMP_PATTERN),
}
# the report's record beside its page (facebench report --check reads it: report/record.py)
REPORT_RECORD, REPORT_DECISIONS = SUMMARY_JSON, "decisions.npz"
OWNED["report"] += ("best.toml", "paper_table.md", REPORT_RECORD, REPORT_DECISIONS)
# Unmarked folders facebench (or Tune) fills inside its own: parent kind -> {name pattern: kind}. --fresh removes
# only that kind's names in them (a user's file stays, with the folders around it); other unmarked folders stay whole.
NESTED: dict[str, dict[str, str]] = {
    "sweep": {RAY_STATE: RAY_STATE, LOGS: LOGS, REPORT: "report"},
    RAY_STATE: {"*": "tune-trial"},
    LOGS: {"ray": "ray-logs", "ray-*": "ray-logs"},
    "ray-logs": {"*": "ray-logs"},
    "trial": {ARTEFACTS: ARTEFACTS},
    "model-eval": {ARTEFACTS: ARTEFACTS},
    ARTEFACTS: {"sets": "artefact-sets"},
    "report": {"plots": "plots"},
}
VERIFICATION_NPZ = "verification.npz"
WHITENING_NPZ = "whitening.npz"  # eval.whiten: the mean and projection fitted under the chosen weights
PREDICTIONS_NPZ = "predictions.npz"  # task cifar: each test image's label and predicted class, for paired tests


# -- the sweep and trial directories --------------------------------------------------------------------


def check_layout(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """``spec`` (a sweep.json) if this facebench reads its layout; a newer one is a DataError naming both."""
    version = spec.get("layout_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= LAYOUT_VERSION:
        raise DataError(
            f"{where}: sweep layout version {version!r}, but this facebench reads layout versions up to "
            f"{LAYOUT_VERSION}; upgrade facebench (pip install -U facebench) to read this folder"
        )
    return spec


class SweepDir:
    """One sweep folder, ``<results>/<name>/``: every name in it (docs/architecture.md, "Sweep directory").

    Words: a *trial* is one configuration the search proposed once (one Optuna trial, one folder
    ``trials/<trial_id>``); an *attempt* is one run of a trial (the first, a Ray retry, a resumed sweep's
    continuation). A trial has one or more attempts, all in its one folder; its ``result.json`` is the current
    one's. Each attempt has its own id; ``attempt.json`` names the current one, and a superseded attempt's writes
    are refused (facebench.attempts), so two attempts never write one folder at once. Counts of lost or duplicated
    work are counts of trials.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.spec_file, self.summary_file = self.path / SWEEP_JSON, self.path / SUMMARY_JSON
        self.study_file, self.mlflow_db = self.path / STUDY_DB, self.path / MLFLOW_DB
        self.trials, self.ray, self.report = self.path / TRIALS, self.path / RAY_STATE, self.path / REPORT
        self.ray_logs = self.path / LOGS / "ray"  # a private Ray's own session logs, copied when it stops
        self.suggest_log = self.path / LOGS / SUGGEST_LOG  # wall and CPU ms of each new Optuna proposal

    def trial(self, trial_id: str) -> TrialDir:
        return TrialDir(self.trials / trial_id)

    def trial_dirs(self) -> list[TrialDir]:
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
    """Reads and writes one trial directory; every write is atomic or an fsynced append. With ``attempt`` (an
    attempt id, ``begin_attempt``) every write first checks that the attempt is still the trial's current one."""

    def __init__(self, path: str | Path, attempt: str | None = None) -> None:
        self.path = Path(path)
        self.artefacts = self.path / ARTEFACTS
        self.attempt = attempt

    def begin_attempt(self, where: dict[str, Any] | None = None) -> dict[str, Any]:
        """Take the trial's lease for a new attempt (a fresh id) and write as it from now on; returns its record."""
        record = take_lease(self.path / ATTEMPT, where)
        self.attempt = record["attempt_id"]
        return record

    def check_attempt(self, what: str) -> None:
        """``StaleAttempt`` when a newer attempt of this trial has started (called before each write)."""
        check_current(self.path / ATTEMPT, self.attempt, what)

    def read_attempt(self) -> dict[str, Any]:
        """The current attempt's record (empty for a folder written before attempts had ids)."""
        record = read_json(self.path / ATTEMPT)
        return record if isinstance(record, dict) else {}

    def claim(self) -> None:
        """Create the folder with facebench's marker, or accept one facebench created (else ConfigError)."""
        claim_dir(self.path, "trial")
        remove_stale_temps(self.path)  # atomic writes killed midway (a SIGKILL during a checkpoint save)

    def start(self, flat_config: dict[str, Any], meta: dict[str, Any]) -> None:
        self.check_attempt(CONFIG)
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path / CONFIG, flat_config)
        atomic_write_json(self.path / META, meta)

    def append_epoch(self, metrics: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """``epochs.jsonl`` gets the row (the streaming log the sweep's resume reads); ``epochs.parquet`` is
        rewritten with ``history`` (every epoch so far), so a killed trial's curves are in its table too."""
        self.check_attempt(EPOCHS_LOG)
        append_jsonl(self.path / EPOCHS_LOG, metrics)
        write_table(self.artefacts, "epochs", rows_to_columns(history))

    def rewrite_epochs(self, history: list[dict[str, Any]]) -> None:
        """On resume: exactly the epochs the checkpoint covers (drops rows written after it)."""
        self.check_attempt(EPOCHS_LOG)
        atomic_write_text(self.path / EPOCHS_LOG, "".join(dumps_json(r, sort_keys=True) + "\n" for r in history))
        write_table(self.artefacts, "epochs", rows_to_columns(history))

    def write_result(self, result: dict[str, Any]) -> None:
        self.check_attempt(RESULT)
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
        self.check_attempt(RAY_META)
        atomic_write_json(self.path / RAY_META, where)


# result.json metrics that are fractions in [0, 1] (a test score outside it, or NaN, was not measured).
SCORE_WORDS = ("accuracy", "auc", "eer", "tar", "precision", "recall", "f1", "auroc", "auprc")


def bad_score(result: dict[str, Any]) -> str | None:
    """The first test score of a ``result.json`` that is not a number in [0, 1] (``"metrics.test_auc = 7.5"``), or
    a note that ``metrics`` is not a mapping; None when every score is one. Read back by the engine (a finished
    trial) and the report, which never shows a hand-edited 7.5 as if it were measured."""
    metrics = result.get("metrics", {})
    if not isinstance(metrics, dict):
        return "'metrics' is not a mapping"
    for key, value in metrics.items():
        if (
            not (key.startswith("test_") and any(w in key for w in SCORE_WORDS))
            or value is None
            or isinstance(value, bool)
        ):
            continue
        if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):  # NaN fails 0 <= NaN as well
            return f"metrics.{key} = {value!r} is not a score in [0, 1]"
    return None


def last_objective(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The running objective after the last recorded epoch (what Tune last compared; a failed trial's value)."""
    return next(({k: r[k] for k in OBJECTIVE_KEYS if k in r} for r in reversed(history) if "objective" in r), {})


def write_verification(
    artefacts_dir: str | Path,
    result: Any,
    *,
    scores: np.ndarray,
    same: np.ndarray,
    fold: np.ndarray,
    metric: str,
    split: str,
) -> None:
    """One split's verification artefacts: ``[val_]verification.npz``; for the test split also
    ``verification.json`` (the whole ``VerificationResult``) and the ``folds`` and ``roc`` tables."""
    prefix = "" if split == "test" else f"{split}_"
    write_verification_npz(
        Path(artefacts_dir) / f"{prefix}{VERIFICATION_NPZ}",
        scores=scores,
        same=same,
        fold=fold,
        result=result,
        metric=metric,
    )
    if split == "test":
        atomic_write_json(Path(artefacts_dir) / "verification.json", result.to_json())
        for name, cols in verification_columns(result, fold, split).items():
            write_table(artefacts_dir, name, cols)


# -- arrays ------------------------------------------------------------------------------------------


def write_verification_npz(
    path: str | Path, *, scores: np.ndarray, same: np.ndarray, fold: np.ndarray, result: Any, metric: str
) -> None:
    """``verification.npz``: the pairs' scores, labels and folds with each fold's threshold (docs/architecture.md)."""
    save_npz(
        path,
        scores=np.asarray(scores, dtype=np.float64),
        same=np.asarray(same, dtype=bool),
        fold=np.asarray(fold, dtype=np.int64),
        thresholds=result.thresholds,
        fold_ids=result.fold_ids,
        fold_accuracy=result.fold_accuracy,
        metric=np.array(metric),
        greater_is_same=np.array(bool(result.greater_is_same)),
    )


def read_verification_npz(source: str | Path | bytes, *, name: str = "") -> dict[str, np.ndarray]:
    """A trial's scores, same, fold, greater_is_same (+ thresholds when present); a trial dir is accepted too."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            path = path / ARTEFACTS / VERIFICATION_NPZ
        if not path.is_file():
            raise DataError(
                f"{path}: verification artefact not found (a trial directory holds {ARTEFACTS}/{VERIFICATION_NPZ})"
            )
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
