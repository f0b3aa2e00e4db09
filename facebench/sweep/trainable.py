"""The Ray Tune trainable: one Tune trial = one ``run_trial`` call in its own trial directory.

The trial directory is keyed by Tune's trial id, so a trial that Tune restarts (a retry, or a sweep
resumed after the driver died) finds its own directory and the engine continues from its last epoch
checkpoint. A trial whose ``result.json`` already exists is replayed, never trained again.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import faults
from ..artefacts import FAILED, TrialDir
from ..errors import FacebenchError
from .resume import TRIAL_KEY
from .spec import SweepSpec
from .storage import trial_mirror


class TrialFailed(RuntimeError):
    """The engine reported a failed trial (diverged, invalid config): Tune records it as an error."""


@dataclass(frozen=True)
class TrialSetup:
    spec: SweepSpec
    trials_root: str          # <sweep>/trials on a filesystem every node sees (local disk or NFS)
    remote_trials: str | None = None   # <URI>/<name>/trials: each trial folder is mirrored there (storage.py)


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
    trial = TrialDir(Path(setup.trials_root) / trial_id)
    mirror = trial_mirror(setup.remote_trials, trial.path)
    if mirror is not None:
        mirror.pull()  # a retry on another node, or a resumed sweep: continue from the bucket's copy
    trial.claim()
    where = {"trial_id": trial_id, "node_id": ray.get_runtime_context().get_node_id(),
             "hostname": socket.gethostname(), "pid": os.getpid(), "started_at": time.time(),
             "params": {k: v for k, v in config.items() if k != TRIAL_KEY}}
    trial.write_ray_meta(where)

    reported = []

    def report(metrics: dict) -> None:
        reported.append(metrics.get("epoch"))
        row = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
        row["node_id"] = where["node_id"]
        if mirror is not None:
            mirror.push()  # the engine saved this epoch's checkpoint before reporting it
        tune.report(row)
        faults.at("reported", trial_id)

    previous = trial.final_result()
    if previous is not None:
        result = previous  # finished before Tune retried it: replay, do not train again
        rows = trial.read_epochs()
        if rows and result["status"] != FAILED:
            report(rows[-1])
    else:
        flat = setup.spec.trial_config(config)
        try:
            cfg = validate_config({**flat, "name": flat.get("name") or f"{setup.spec.name}/{trial_id}"})
        except FacebenchError as e:
            trial.write_result({"status": FAILED, "reason": f"invalid config: {e}", "config": flat, "metrics": {},
                                "meta": where})
            raise TrialFailed(f"invalid config: {e}") from None
        if setup.spec.replay is not None:   # recorded curves, not training (replay.py; docs/scale.md)
            from .replay import replay_trial

            result = replay_trial(setup.spec, flat, report, trial)
        else:
            from ..engine import run_trial

            result = run_trial(cfg, report, trial_dir=str(trial.path), resume=True, on_step=_mid_epoch_point)
        faults.at("done", trial_id)
        rows = trial.read_epochs()
        if not reported and rows and result.get("status") != FAILED:
            report(rows[-1])  # resumed after its last epoch (only the test was left): Tune still needs the metric
    if mirror is not None:
        mirror.push()  # the final evaluation's artefacts and result.json
    if result.get("status") == FAILED:
        raise TrialFailed(result.get("reason") or "failed")


def _mid_epoch_point(epoch: int, step: int, steps_per_epoch: int) -> None:
    if step == steps_per_epoch // 2:
        faults.at("mid-epoch")
