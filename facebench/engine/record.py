"""A trial's identity and provenance: its directory name, versions, device and host (``meta.json``).

The directory's files themselves are written through ``facebench.artefacts.TrialDir``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


def trial_id(flat_config: dict[str, Any]) -> str:
    """``<name or task>-<8 hex of the config hash>``: the same config maps to the same directory."""
    digest = hashlib.sha1(json.dumps(flat_config, sort_keys=True).encode()).hexdigest()[:8]
    # A folder name (facebench.ownership.check_name): no separators, no leading dot.
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", flat_config.get("name") or "").lstrip("._-")[:40] or flat_config["task"]
    return f"{stem}-{digest}"


def default_trial_dir(flat_config: dict[str, Any]) -> Path:
    return Path("runs") / "train" / trial_id(flat_config)


def git_revision() -> str | None:
    """The facebench checkout's commit (``+dirty`` with local changes), or None outside a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, Any]:
    import numpy
    import torch

    from .. import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "facebench": __version__,
        "git": git_revision(),
    }


def device_name(device: Any) -> str:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"


def make_meta(flat_config: dict[str, Any], trial_dir: Path, device: Any) -> dict[str, Any]:
    return {
        "trial_id": trial_dir.name,
        "name": flat_config.get("name", ""),
        "seed": flat_config["train.seed"],
        "versions": versions(),
        "device": device_name(device),
        "host": socket.gethostname(),
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "argv": list(sys.argv),
    }


def check_result_metrics(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (a ``result.json`` read back) whose test scores are fractions in [0, 1]; a hand-edited 7.5 or NaN
    is a ConfigError naming the file and the metric, never a result shown as if it were measured."""
    from ..artefacts import bad_score
    from ..errors import ConfigError

    problem = bad_score(result) if isinstance(result.get("metrics"), dict) else "'metrics' is not a mapping"
    if problem:
        raise ConfigError(f"{path}: {problem} (edited by hand?); pass --overwrite to train the trial again")
    return result
