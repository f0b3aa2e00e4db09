"""The trial directory's provenance files: config.json, meta.json, epochs.jsonl, result.json."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..io import append_jsonl, atomic_write_json, atomic_write_text, dumps_json
from ..ownership import claim_dir, remove_stale_temps

CONFIG, META, EPOCHS, RESULT, ARTEFACTS = "config.json", "meta.json", "epochs.jsonl", "result.json", "artefacts"
CHECKPOINT = "checkpoint.pt"  # the latest epoch, saved by facebench.engine.checkpoint.save_checkpoint


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
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, Any]:
    import numpy
    import torch

    from .. import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "facebench": __version__, "git": git_revision()}


def device_name(device: Any) -> str:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"


def make_meta(flat_config: dict[str, Any], trial_dir: Path, device: Any) -> dict[str, Any]:
    return {"trial_id": trial_dir.name, "name": flat_config.get("name", ""), "seed": flat_config["train.seed"],
            "versions": versions(), "device": device_name(device), "host": socket.gethostname(),
            "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "argv": list(sys.argv)}


class TrialDir:
    """Writes the files of one trial directory; every write is atomic or an fsynced append."""

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

    def append_epoch(self, metrics: dict[str, Any]) -> None:
        append_jsonl(self.path / EPOCHS, metrics)

    def rewrite_epochs(self, history: list[dict[str, Any]]) -> None:
        """On resume: exactly the epochs the checkpoint covers (drops rows written after it)."""
        atomic_write_text(self.path / EPOCHS, "".join(dumps_json(r, sort_keys=True) + "\n" for r in history))

    def write_result(self, result: dict[str, Any]) -> None:
        atomic_write_json(self.path / RESULT, result)

    def read_result(self) -> dict[str, Any] | None:
        """None when missing or torn (a faulty disk; facebench's own writes are atomic): the checkpoint decides."""
        try:
            return json.loads((self.path / RESULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def clear(self) -> None:
        """--no-resume / --overwrite: forget previous attempts' checkpoint, epochs, result and artefacts (what
        the sweep adapter wrote, ray.json, stays)."""
        for name in (CHECKPOINT, EPOCHS, RESULT):
            (self.path / name).unlink(missing_ok=True)
        if self.artefacts.is_dir() and not self.artefacts.is_symlink():
            shutil.rmtree(self.artefacts)
