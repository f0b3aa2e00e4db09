"""Resumable checkpoints and seeding.

A checkpoint is written atomically every epoch (``facebench.io.atomic_path`` + ``torch.save``), so a
kill leaves the previous complete one. It holds only tensors and plain Python types, so it loads with
``torch.load(..., weights_only=True)``: RNG states are stored as int64 tensors, not as the tuples and
numpy arrays their libraries return.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..io import atomic_path

FORMAT = 1
# What engine.trial writes and reads back on resume (a file missing one is not ours, or from another version).
_KEYS = ("config", "epoch", "model", "loss", "optimizer", "scheduler", "scaler", "rng", "best", "history")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every RNG the training step can touch, as weights_only-loadable values."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": py_gauss},
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np_keys.astype(np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        try:
            torch.save({"format": FORMAT, **state}, f)
        except RuntimeError as e:
            # A full disk surfaces as torch's "unexpected pos" RuntimeError around Python's own OSError:
            # raise the OSError, which says what happened (and the CLI turns into one line).
            if isinstance(e.__context__, OSError):
                raise e.__context__ from None
            raise


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state ``save_checkpoint`` wrote; an empty, truncated or foreign file is a ConfigError naming it.
    ``weights_only``: a checkpoint in a results folder may come from anyone, so no pickled code runs."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise  # the file could not be read at all (permissions, I/O): its own one line
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file fails anywhere in the unpickler: random
        # bytes raise KeyError or IndexError as well as UnpicklingError, EOFError, RuntimeError or BadZipFile
        why = "empty" if Path(path).stat().st_size == 0 else f"{type(e).__name__}: {' '.join(str(e).split())}"[:160]
        raise ConfigError(
            f"{path}: not a readable facebench checkpoint ({why}); start afresh with --no-resume or another --out"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ConfigError(
            f"{path}: checkpoint format {found!r}, this facebench writes {FORMAT}; "
            "start afresh with --no-resume or another --out"
        )
    return state


def check_complete(path: str | Path, state: dict[str, Any]) -> None:
    """A trial checkpoint holds everything ``run_trial`` restores; one missing a part is refused by name."""
    missing = [k for k in _KEYS if k not in state]
    if missing:
        raise ConfigError(
            f"{path}: checkpoint lacks {', '.join(missing)}; start afresh with --no-resume or another --out"
        )


def check_same_config(path: str | Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """A resumed trial must be the same trial: any differing key is a ConfigError naming it."""
    keys = sorted(set(saved) | set(current))
    diff = [k for k in keys if saved.get(k) != current.get(k)]
    if diff:
        shown = ", ".join(f"{k}: checkpoint {saved.get(k)!r} vs now {current.get(k)!r}" for k in diff[:5])
        raise ConfigError(
            f"{path}: the checkpoint was written with a different config ({shown}); resume with the "
            "same config, or start afresh with --no-resume or another --out"
        )


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy: the best-so-far weights kept in memory must not alias the live ones."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
