"""The Ray Tune trainable: one Tune trial = one ``run_trial`` call in its own trial directory.

The trial directory is keyed by Tune's trial id, so a trial that Tune restarts (a retry, or a sweep
resumed after the driver died) finds its own directory and the engine continues from its last epoch
checkpoint. A trial whose ``result.json`` already exists is replayed, never trained again. Each run of the
trial is an attempt with its own id (facebench.attempts): the newest one holds the folder, and an older one
still running after a partition has its writes refused. With a bucket, the folder is uploaded in the background
(uploads.py) and a failed upload fails the trial at its end.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import faults
from ..artefacts import FAILED, TrialDir
from ..errors import FacebenchError
from .resume import TRIAL_KEY
from .spec import SweepSpec
from .storage import trial_mirror
from .uploads import Uploads


class TrialFailed(RuntimeError):
    """The engine reported a failed trial (diverged, invalid config): Tune records it as an error."""


@dataclass(frozen=True)
class TrialSetup:
    spec: SweepSpec
    trials_root: str  # <sweep>/trials on a filesystem every node sees (local disk or NFS)
    remote_trials: str | None = None  # <URI>/<name>/trials: each trial folder is mirrored there (storage.py)


def trial_dirname(trial: Any) -> str:
    """Tune's own per-trial folder is named like ours: by the facebench trial id (a resumed trial keeps the id
    of its first run while Tune gives it a new one)."""
    return (trial.config or {}).get(TRIAL_KEY) or trial.trial_id


def validate_config(flat: dict):
    """TrialConfig.from_dict: a ConfigError names the key and the allowed values."""
    from ..config import TrialConfig

    return TrialConfig.from_dict(flat)


def train_trial(config: dict, setup: TrialSetup) -> None:
    """Function trainable (keep the signature Tune expects: config first, extras by with_parameters)."""
    import ray
    from ray import tune

    trial_id = config.get(TRIAL_KEY) or tune.get_context().get_trial_id()
    run_attempt(config, setup, trial_id, tune.report, node_id=ray.get_runtime_context().get_node_id())


def run_attempt(
    config: dict, setup: TrialSetup, trial_id: str, send: Callable[[dict], None], *, node_id: str | None = None
) -> dict:
    """One attempt of trial ``trial_id`` (imports no Ray: ``send`` is ``tune.report``, or a test's list). It takes
    the trial's lease (a new attempt id, facebench.attempts) before it writes, uploads the folder in the
    background while it trains (uploads.py) and returns the trial's result; a failed trial, or a failed upload,
    raises ``TrialFailed`` with the reason, and a superseded attempt ``StaleAttempt``."""
    trial = TrialDir(Path(setup.trials_root) / trial_id)
    mirror = trial_mirror(setup.remote_trials, trial.path)
    if mirror is not None:
        mirror.pull()  # a retry on another node, or a resumed sweep: continue from the bucket's copy
    trial.claim()
    where = {"trial_id": trial_id, "node_id": node_id, "hostname": socket.gethostname(), "pid": os.getpid()}
    where["attempt_id"] = trial.begin_attempt(where)["attempt_id"]
    trial.write_ray_meta(
        {**where, "started_at": time.time(), "params": {k: v for k, v in config.items() if k != TRIAL_KEY}}
    )
    uploads = Uploads(mirror, guard=trial.check_attempt) if mirror is not None else None
    try:
        result, tell_tune = _train_or_replay(config, setup, trial, send, uploads)
    except BaseException:
        if uploads is not None:
            uploads.close()  # a stopped or crashed trial: what it wrote still reaches the bucket
        raise
    failure = uploads.finish() if uploads is not None else None  # the final evaluation's files and result.json
    if failure is not None and result.get("status") != FAILED:
        result = {**result, "status": FAILED, "reason": failure}
        trial.write_result(result)  # the local record says why; the bucket could not be written
    tell_tune()
    if result.get("status") == FAILED:
        raise TrialFailed(result.get("reason") or "failed")
    return result


def _train_or_replay(
    config: dict, setup: TrialSetup, trial: TrialDir, send: Callable[[dict], None], uploads: Uploads | None
) -> tuple[dict, Callable[[], None]]:
    """The trial's result, and what is left to tell Tune once everything is written: the last epoch's row is
    held until the test evaluation has run, result.json is written and the uploads are done. Tune may stop a trial
    on any report (ASHA stops every trial at max_t), and a stop landing during the test would lose a trial that
    finished training."""
    trial_id = trial.path.name
    node_id = trial.read_attempt().get("node_id")
    reported: list = []
    final_epoch: list[int] = []
    held: list[dict] = []

    def report(metrics: dict, *, upload: bool = True) -> None:
        if upload and uploads is not None:
            uploads.request()  # the engine saved this epoch's checkpoint before reporting it; uploaded off-thread
        if final_epoch and metrics.get("epoch") == final_epoch[0] and not held:
            held.append(metrics)
            return
        reported.append(metrics.get("epoch"))
        row = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
        row["node_id"] = node_id
        send(row)
        faults.at("reported", trial_id)

    previous = trial.final_result()
    if previous is not None:
        rows = trial.read_epochs()  # finished before Tune retried it: replay, do not train again
        if rows and previous["status"] != FAILED:
            report(rows[-1])
        return previous, lambda: None
    flat, cfg = _checked_config(config, setup, trial)
    final_epoch.append(cfg.train.epochs)
    result = _run(setup, flat, cfg, report, trial)
    faults.at("done", trial_id)
    final_epoch.clear()
    if held:
        return result, lambda: report(held[0], upload=False)
    rows = trial.read_epochs()
    if rows and result.get("status") != FAILED and not reported:
        return result, lambda: report(rows[-1], upload=False)  # resumed after its last epoch: Tune needs it
    return result, lambda: None


def _checked_config(config: dict, setup: TrialSetup, trial: TrialDir) -> tuple[dict, Any]:
    """(the flat config, its TrialConfig); an invalid one is recorded in result.json as the trial's failure, so the
    summary says why, then raises TrialFailed."""
    flat = setup.spec.trial_config(config)
    try:
        return flat, validate_config({**flat, "name": flat.get("name") or f"{setup.spec.name}/{trial.path.name}"})
    except FacebenchError as e:
        trial.write_result(
            {
                "status": FAILED,
                "reason": f"invalid config: {e}",
                "config": flat,
                "metrics": {},
                "meta": trial.read_ray_meta(),
            }
        )
        raise TrialFailed(f"invalid config: {e}") from None


def _run(setup: TrialSetup, flat: dict, cfg: Any, report: Callable, trial: TrialDir) -> dict:
    """The trial's result: trained by the engine, or a replayed sweep's recorded curves (no data, no training)."""
    if setup.spec.replay is not None:  # recorded curves, not training (replay.py; docs/scale.md)
        from .replay import replay_trial

        return replay_trial(setup.spec, flat, report, trial)
    from ..engine import run_trial

    return run_trial(
        cfg, report, trial_dir=trial, resume=True, on_step=_mid_epoch_point, cost=setup.spec.second_objective or None
    )


def _mid_epoch_point(epoch: int, step: int, steps_per_epoch: int) -> None:
    if step == steps_per_epoch // 2:
        faults.at("mid-epoch")
