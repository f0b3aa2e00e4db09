"""Replay trials: recorded learning curves of a real sweep, replayed at a chosen pace, written as real trial folders.

A sweep with ``SweepSpec(replay=Replay(source="reports/margin"))`` runs no training: each trial looks up the
recorded trial whose configuration is nearest to its own in the source's ``trials.parquet`` (a committed report,
docs/report.md), and replays that trial's rows of ``epochs.parquet``, one epoch every ``seconds_per_epoch``
seconds. Everything else is real: Optuna proposes, Ray places and retries, ASHA stops, the trial folder is written
through ``TrialDir`` (config.json, meta.json, epochs.jsonl + epochs.parquet, a checkpoint of ``checkpoint_bytes``
after every epoch, result.json), and the summary, resume, confirmation and the report read it. It exists to
measure the orchestrator at 1,000 trials on one machine (docs/scale.md). A replayed sweep says so in sweep.json,
summary.json, every trial's meta.json and result.json, and the report refuses to mix it with real sweeps.

Nearest configuration: the sum over the config keys both sides have and the recorded trials vary, of 0/1 for a
categorical mismatch and, for a number, the absolute difference divided by the recorded range (on a log scale when
every recorded value is positive); ties go to the first recorded trial. Epochs: a replayed trial of N epochs
replays recorded epoch ceil(e * R / N) at its epoch e, R being the recorded trial's ``train.epochs``; a recorded
trial that ASHA stopped early holds its last recorded epoch from then on (a plateau), a documented simplification.
The objective is recomputed from the replayed rows with the sweep's own metric and select rule.

A replay checkpoint is not a torch file: one JSON line (the epochs it covers) padded to the chosen size; only
this module reads it, to continue a retried or resumed trial after its last checkpointed epoch.
"""

from __future__ import annotations

import functools
import json
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..artefacts import CHECKPOINT, COMPLETED, TrialDir
from ..io import atomic_path

EPOCH_COLUMNS = ("lr", "train_loss", "train_accuracy", "val_accuracy", "val_auc", "val_loss")


@dataclass(frozen=True)
class Replay:
    """The replay setting of a sweep (``SweepSpec.replay``); never part of a trial's training config."""

    source: str  # a folder holding trials.parquet and epochs.parquet of a real sweep
    seconds_per_epoch: float = 0.5  # the pace of the replay (the trial's "compute")
    checkpoint_bytes: int = 256 * 1024

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "source": str(Path(self.source).absolute())}


@dataclass(frozen=True)
class Curves:
    """The recorded trials of a source: their configs (the varying keys) and their epoch rows."""

    ids: list[str]
    configs: list[dict[str, Any]]
    epochs: dict[str, list[dict[str, Any]]]
    test: dict[str, float]
    scales: dict[str, tuple[float, bool]]  # numeric key -> (range, log)


@functools.lru_cache(maxsize=4)
def load_curves(source: str) -> Curves:
    """Read a source once per process (each Ray worker replays many trials)."""
    import pyarrow.parquet as pq

    trials = pq.read_table(Path(source) / "trials.parquet").to_pylist()
    rows = pq.read_table(Path(source) / "epochs.parquet").to_pylist()
    keys = sorted({k for t in trials for k in t if k.startswith("cfg.")})
    varying = [k for k in keys if len({repr(t.get(k)) for t in trials}) > 1]
    configs = [{k[4:]: t.get(k) for k in varying if t.get(k) is not None} for t in trials]
    ids = [str(t["trial_id"]) for t in trials]
    epochs: dict[str, list[dict]] = {i: [] for i in ids}
    for r in sorted(rows, key=lambda r: (str(r["trial_id"]), r["epoch"])):
        epochs.setdefault(str(r["trial_id"]), []).append(r)
    for i, t in zip(ids, trials):
        epochs[i] = [{**r, "recorded_epochs": int(t.get("cfg.train.epochs") or len(epochs[i]))} for r in epochs[i]]
    test = {i: t.get("test_accuracy_mean") for i, t in zip(ids, trials)}
    finite = {k: v for k, v in test.items() if isinstance(v, float) and math.isfinite(v)}
    return Curves(ids, configs, epochs, finite, _scales(configs))


def _scales(configs: list[dict]) -> dict[str, tuple[float, bool]]:
    out = {}
    for key in {k for c in configs for k in c}:
        values = [c[key] for c in configs if _number(c.get(key))]
        if values and len(values) == sum(key in c for c in configs):
            log = min(values) > 0
            vals = [math.log(v) for v in values] if log else values
            out[key] = (max(vals) - min(vals) or 1.0, log)
    return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def nearest(curves: Curves, flat: dict[str, Any]) -> tuple[str, float]:
    """The recorded trial nearest to ``flat`` (a trial's flat config) and its distance (0: the same values)."""
    best, best_d = curves.ids[0], math.inf
    for trial_id, recorded in zip(curves.ids, curves.configs):
        d = 0.0
        for key, value in recorded.items():
            if key not in flat:
                continue
            mine = flat[key]
            if key in curves.scales and _number(mine):
                span, log = curves.scales[key]
                a, b = (math.log(mine), math.log(value)) if log and mine > 0 else (mine, value)
                d += min(abs(a - b) / span, 1.0)
            else:
                d += mine != value
        if d < best_d:
            best, best_d = trial_id, d
    return best, best_d


def replay_rows(curves: Curves, source_id: str, epochs: int, metric: str, mode: str, select: str) -> list[dict]:
    """The ``epochs`` rows the replayed trial reports, its running objective recomputed (metric, mode, select)."""
    recorded = curves.epochs[source_id]
    total = recorded[0]["recorded_epochs"] if recorded else 1
    out, best = [], None
    for e in range(1, epochs + 1):
        src = recorded[min(len(recorded), math.ceil(e * total / epochs)) - 1]
        row = {"epoch": e, **{k: src[k] for k in EPOCH_COLUMNS if _number(src.get(k))}}
        value, se = src.get(metric), src.get(f"{metric}_se", src.get("objective_se"))
        better = best is None or (value is not None and (value > best[0] if mode == "max" else value < best[0]))
        if select == "last" or better:
            best = (value, se, e)
        row.update(objective=best[0], objective_se=best[1], objective_epoch=best[2], replayed_from=source_id)
        out.append(row)
    return out


def write_checkpoint(trial: TrialDir, epochs_done: int, size: int) -> None:
    head = (json.dumps({"replay_checkpoint": 1, "epochs": epochs_done}) + "\n").encode()
    with atomic_path(trial.path / CHECKPOINT) as tmp:
        tmp.write_bytes(head + bytes(max(0, size - len(head))))  # written, not sparse: real disk per trial


def read_checkpoint(trial: TrialDir) -> int:
    """Epochs the trial's replay checkpoint covers (0 without one)."""
    try:
        with open(trial.path / CHECKPOINT, "rb") as f:
            return int(json.loads(f.readline()).get("epochs", 0))
    except (OSError, ValueError, AttributeError):
        return 0


def replay_trial(
    spec: Any,
    flat: dict[str, Any],
    report: Callable[[dict], None],
    trial: TrialDir,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Replay one trial into ``trial`` (the engine's ``run_trial`` contract: ``report`` after every epoch, the
    result dict returned and written). Continues after the epochs its checkpoint covers."""
    replay = spec.replay
    curves = load_curves(str(Path(replay.source).absolute()))
    source_id, distance = nearest(curves, flat)
    metric, mode = spec.objective
    rows = replay_rows(curves, source_id, int(flat.get("train.epochs", spec.epochs)), metric, mode, spec.select)
    replayed = {**replay.to_json(), "recorded_trial": source_id, "distance": round(distance, 6)}
    meta = {
        "replayed": replayed,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "device": "replay",
        "trial_id": trial.path.name,
        "task": flat.get("task"),
        "started_at": time.time(),
    }
    done = read_checkpoint(trial)
    history = trial.read_epochs()[:done]
    if done and len(history) == done:
        trial.rewrite_epochs(history)
    else:
        done, history = 0, []
        trial.start(flat, meta)
    for row in rows[done:]:
        sleep(replay.seconds_per_epoch)
        row = {**row, "epoch_s": replay.seconds_per_epoch, "train_s": replay.seconds_per_epoch}
        history.append(row)
        trial.append_epoch(row, history)
        write_checkpoint(trial, len(history), replay.checkpoint_bytes)
        report(row)
    last = history[-1]
    metrics = {k: last[k] for k in ("objective", "objective_se", "objective_epoch")}
    if source_id in curves.test:
        metrics["test_accuracy_mean"] = curves.test[source_id]
    metrics["train_s"] = replay.seconds_per_epoch * len(history)
    result = {
        "status": COMPLETED,
        "reason": "",
        "metrics": metrics,
        "config": flat,
        "meta": meta,
        "replayed": replayed,
        "epochs_run": len(history),
        "wall_s": metrics["train_s"],
    }
    trial.write_result(result)
    return result


def plain_trainable(config: dict, spec: Any) -> None:
    """The baseline: the same replayed rows at the same pace through plain ``tune.report``, writing nothing of
    facebench's (tests/bench/scale.py runs it with plain Tune + OptunaSearch beside the facebench sweep)."""
    from ray import tune

    started_at = time.time()  # as a facebench trial's ray.json: when the trial's own code first runs
    flat = spec.trial_config(config)
    curves = load_curves(str(Path(spec.replay.source).absolute()))
    source_id, _ = nearest(curves, flat)
    metric, mode = spec.objective
    for row in replay_rows(curves, source_id, spec.epochs, metric, mode, spec.select):
        time.sleep(spec.replay.seconds_per_epoch)
        tune.report({**{k: v for k, v in row.items() if k != "replayed_from"}, "started_at": started_at})
