"""The Ray Tune trainable: one Tune trial = one ``run_trial`` call in its own trial directory.

The trial directory is keyed by Tune's trial id, so a trial that Tune restarts (a retry, or a sweep
resumed after the driver died) finds its own directory and the engine continues from its last epoch
checkpoint. A trial whose ``result.json`` already exists is replayed, never trained again.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import faults
from ..errors import FacebenchError
from ..io import atomic_write_json, read_jsonl
from .resume import TRIAL_KEY
from .spec import SweepSpec
from .summary import read_json

class TrialFailed(RuntimeError):
    """The engine reported a failed trial (diverged, invalid config): Tune records it as an error."""


@dataclass(frozen=True)
class TrialSetup:
    spec: SweepSpec
    trials_root: str          # <sweep>/trials on a filesystem every node sees (local disk or NFS)
    upload: bool = False      # results go to a cloud URI: ship the trial dir as the Tune checkpoint


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
    trial_dir = Path(setup.trials_root) / trial_id
    if setup.upload:
        _restore_from_checkpoint(tune.get_checkpoint(), trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    where = {"trial_id": trial_id, "node_id": ray.get_runtime_context().get_node_id(),
             "hostname": socket.gethostname(), "pid": os.getpid(), "started_at": time.time(),
             "params": {k: v for k, v in config.items() if k != TRIAL_KEY}}
    atomic_write_json(trial_dir / "ray.json", where)

    reported = []

    def report(metrics: dict) -> None:
        reported.append(metrics.get("epoch"))
        row = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
        row["node_id"] = where["node_id"]
        if setup.upload:
            tune.report(row, checkpoint=tune.Checkpoint.from_directory(str(trial_dir)))
        else:
            tune.report(row)
        faults.at("reported", trial_id)

    previous = read_json(trial_dir / "result.json")
    if previous is not None and previous.get("status") in ("completed", "stopped", "failed"):
        result = previous  # finished before Tune retried it: replay, do not train again
        rows = read_jsonl(trial_dir / "epochs.jsonl")
        if rows and result["status"] != "failed":
            report(rows[-1])
    else:
        flat = setup.spec.trial_config(config)
        try:
            cfg = validate_config({**flat, "name": flat.get("name") or f"{setup.spec.name}/{trial_id}"})
        except FacebenchError as e:
            atomic_write_json(trial_dir / "result.json", {"status": "failed", "reason": f"invalid config: {e}",
                                                          "config": flat, "metrics": {}, "meta": where})
            raise TrialFailed(f"invalid config: {e}") from None
        from ..engine import run_trial

        result = run_trial(cfg, report, trial_dir=str(trial_dir), resume=True, on_step=_mid_epoch_point)
        faults.at("done", trial_id)
        rows = read_jsonl(trial_dir / "epochs.jsonl")
        if not reported and rows and result.get("status") != "failed":
            report(rows[-1])  # resumed after its last epoch (only the test was left): Tune still needs the metric
    if setup.upload:
        rows = read_jsonl(trial_dir / "epochs.jsonl")
        if rows:  # one more report: Tune uploads the final artefacts, the driver learns status and test metrics
            final = {k: v for k, v in (result.get("metrics") or {}).items() if k.startswith(("test_", "best_"))}
            report({**rows[-1], **final, "trial_status": result.get("status", "failed")})
    if result.get("status") == "failed":
        raise TrialFailed(result.get("reason") or "failed")


def _mid_epoch_point(epoch: int, step: int, steps_per_epoch: int) -> None:
    if step == steps_per_epoch // 2:
        faults.at("mid-epoch")


def _restore_from_checkpoint(checkpoint: Any, trial_dir: Path) -> None:
    """Cloud storage: a restarted trial (maybe on another node) gets its trial dir back from Tune."""
    if checkpoint is None or (trial_dir / "epochs.jsonl").exists():
        return
    with checkpoint.as_directory() as src:
        tmp = Path(tempfile.mkdtemp(dir=trial_dir.parent if trial_dir.parent.exists() else None))
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        trial_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(trial_dir, ignore_errors=True)
        os.replace(tmp, trial_dir)
