"""``run_trial``: one recipe trained, validated every epoch and tested once, without Ray.

The sweep adapter passes ``tune.report`` as ``report``; the CLI passes a printer; tests pass a list's
``append``. Same code, same numbers.
"""

from __future__ import annotations

import errno
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ..config import TrialConfig
from ..errors import ConfigError, FacebenchError
from .checkpoint import (check_complete, check_same_config, cpu_state_dict, load_checkpoint, rng_state,
                         save_checkpoint, seed_everything, set_rng_state)
from .loop import NonFiniteLoss, Setup, build_setup, peak_mem_mb, resolve_device, train_one_epoch
from .record import CHECKPOINT, TrialDir, default_trial_dir, device_name, make_meta

Report = Callable[[dict[str, Any]], None]


def run_trial(config: TrialConfig | Mapping[str, Any], report: Report | None = None, *,
              trial_dir: str | Path | None = None, resume: bool = True,
              should_stop: Callable[[], bool] | None = None, raise_on_error: bool = False,
              on_step: Callable[[int, int, int], None] | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Train, validate and test one trial; return the result dict that is also ``result.json``.

    ``report(metrics)`` gets the flat per-epoch metrics (docs/architecture.md). ``trial_dir`` defaults
    to ``runs/train/<name-or-task>-<config hash>``. With ``resume`` a directory holding a checkpoint of
    the same config continues from its next epoch (a different config is a ConfigError). After each
    epoch ``should_stop()`` may end training early: status ``stopped``, and the model chosen so far is
    still tested. A NaN/inf loss or an exception during the trial gives status ``failed`` with the
    reason (and traceback) in the result instead of an exception, unless ``raise_on_error``; user
    errors (``FacebenchError``: bad config, data, leakage) are always raised after being recorded.
    ``on_step(epoch, step, steps_per_epoch)`` is called after every optimizer step (progress bars).
    ``trial_dir`` must be new, empty or a trial folder facebench created (facebench.ownership); a finished
    trial there is returned as it is (same config) or refused (another config, or ``resume=False``) unless
    ``overwrite``, which clears what facebench wrote there first.
    """
    cfg = config if isinstance(config, TrialConfig) else TrialConfig.from_dict(config)
    flat = cfg.to_flat()
    tdir = TrialDir(trial_dir if trial_dir is not None else default_trial_dir(flat))
    tdir.claim()  # before anything is written: a folder of the user's is refused untouched
    finished = _finished_here(tdir, flat, resume=resume, overwrite=overwrite)
    if finished is not None:
        return finished
    started = time.time()
    meta = make_meta(flat, tdir.path, resolve_device(cfg.train.device))
    history: list[dict[str, Any]] = []
    try:
        return _execute(cfg, flat, tdir, meta, history, report=report, resume=resume, should_stop=should_stop,
                        on_step=on_step, started=started)
    except NonFiniteLoss as e:
        return _failed(tdir, flat, meta, history, started, reason=str(e), tb=None)
    except Exception as e:  # noqa: BLE001 - a trial's failure is data for the sweep, not a crash of it
        try:
            result = _failed(tdir, flat, meta, history, started, reason=_reason(e), tb=traceback.format_exc())
        except OSError:
            raise e from None  # the disk that failed the trial refuses its record too: the first error tells why
        if raise_on_error or isinstance(e, FacebenchError) or _is_environment(e):
            raise
        return result


def _finished_here(tdir: TrialDir, flat: dict, *, resume: bool, overwrite: bool) -> dict[str, Any] | None:
    """The finished result of this same config (nothing to do), None to train, or a ConfigError: a finished
    trial is never replaced without ``overwrite``."""
    previous = tdir.read_result()
    if previous is None or previous.get("status") not in ("completed", "stopped", "failed"):
        return None
    if overwrite:
        tdir.clear()
        return None
    same = previous.get("config") == flat
    if same and previous["status"] != "completed":
        return None  # stopped or failed: resuming (or restarting with resume=False) it is what was asked
    if same and resume:
        return previous
    if same:
        raise ConfigError(f"{tdir.path}: holds a completed trial of this config; --no-resume would train it "
                          "again and replace it: pass --overwrite for that, or choose another --out")
    before = previous.get("config") or {}
    diff = [k for k in sorted(set(flat) | set(before)) if before.get(k) != flat.get(k)]
    shown = ", ".join(f"{k}: there {before.get(k)!r} vs now {flat.get(k)!r}" for k in diff[:3])
    raise ConfigError(f"{tdir.path}: holds a {previous['status']} trial of another config ({shown}); pass "
                      "--overwrite to replace it, or choose another --out")


def _is_environment(e: BaseException) -> bool:
    """A full, read-only or forbidden disk is the machine's problem, not the recipe's: raised, not scored."""
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM,
                                                  errno.EDQUOT, errno.ENOTDIR, errno.EISDIR)


def _reason(e: BaseException) -> str:
    if isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower():
        return "out of memory"
    return f"{type(e).__name__}: {e}"


def _failed(tdir: TrialDir, flat: dict, meta: dict, history: list[dict], started: float, *, reason: str,
            tb: str | None) -> dict[str, Any]:
    result = {"status": "failed", "reason": reason, "traceback": tb, "config": flat, "meta": meta,
              "metrics": _summary(history), "epochs_completed": len(history), "wall_s": time.time() - started,
              "trial_dir": str(tdir.path)}
    if tdir.path.exists():
        tdir.write_result(result)
    return result


def _summary(history: list[dict[str, Any]]) -> dict[str, Any]:
    vals = [h["val_accuracy"] for h in history if h.get("val_accuracy") is not None]
    return {"best_val_accuracy": max(vals) if vals else None,
            "train_s": sum(h.get("train_s", 0.0) for h in history)}


def _execute(cfg: TrialConfig, flat: dict, tdir: TrialDir, meta: dict, history: list[dict], *,
             report: Report | None, resume: bool, should_stop: Callable[[], bool] | None,
             on_step: Callable[[int, int, int], None] | None, started: float) -> dict[str, Any]:
    ckpt_path = tdir.path / CHECKPOINT
    state = None
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        check_complete(ckpt_path, state)
        check_same_config(ckpt_path, state["config"], flat)
        previous = tdir.read_result()
        if previous and previous.get("status") == "completed" and state["epoch"] >= cfg.train.epochs:
            return previous  # nothing left to do: the same config already ran to the end here
    else:
        tdir.clear()  # no resume, or nothing to resume from: stale epochs/result must not mix in
    seed_everything(cfg.train.seed)
    s = build_setup(cfg)
    meta["device"] = device_name(s.device)
    best: dict[str, Any] | None = None
    if state is not None:
        best = _restore(s, state)
        history.extend(state["history"])
        tdir.rewrite_epochs(history)
        meta["resumed_from_epoch"] = state["epoch"]
    tdir.start(flat, meta)
    status, reason = "completed", ""
    for epoch in range(len(history), cfg.train.epochs):
        metrics = _run_epoch(s, epoch, on_step)
        history.append(metrics)
        if best is None or metrics["val_accuracy"] > best["val_accuracy"]:
            best = {"epoch": epoch + 1, "val_accuracy": metrics["val_accuracy"],
                    "model": cpu_state_dict(s.model), "loss": cpu_state_dict(s.loss_fn)}
        tdir.append_epoch(metrics)
        if cfg.train.checkpoint:
            save_checkpoint(ckpt_path, _checkpoint_state(s, flat, epoch + 1, best, history))
        if report is not None:
            report(dict(metrics))
        if should_stop is not None and epoch + 1 < cfg.train.epochs and should_stop():
            status, reason = "stopped", f"stopped by the caller after epoch {epoch + 1}"
            break
    return _finish(s, tdir, flat, meta, history, best, status=status, reason=reason, started=started)


def _run_epoch(s: Setup, epoch: int, on_step: Callable[[int, int, int], None] | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    if s.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(s.device)
    step_cb = (lambda step: on_step(epoch, step, s.steps_per_epoch)) if on_step else None
    train = train_one_epoch(s, epoch, on_step=step_cb)
    val = s.task.validate()
    return {"epoch": epoch + 1, **train, **val, "epoch_s": time.perf_counter() - t0,
            "peak_mem_mb": peak_mem_mb(s.device)}


def _checkpoint_state(s: Setup, flat: dict, epoch: int, best: dict | None, history: list[dict]) -> dict[str, Any]:
    return {"config": flat, "epoch": epoch, "model": s.model.state_dict(), "loss": s.loss_fn.state_dict(),
            "optimizer": s.optimizer.state_dict(), "scheduler": s.scheduler.state_dict(),
            "scaler": s.scaler.state_dict(), "rng": rng_state(s.generator), "best": best,
            "history": history}


def _restore(s: Setup, state: dict[str, Any]) -> dict[str, Any] | None:
    s.model.load_state_dict(state["model"])
    s.loss_fn.load_state_dict(state["loss"])
    s.optimizer.load_state_dict(state["optimizer"])
    s.scheduler.load_state_dict(state["scheduler"])
    if state["scaler"]:
        s.scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"], s.generator)
    return state["best"]


def _finish(s: Setup, tdir: TrialDir, flat: dict, meta: dict, history: list[dict], best: dict | None, *,
            status: str, reason: str, started: float) -> dict[str, Any]:
    """Test the model chosen on validation (best val_accuracy; ties keep the earlier epoch)."""
    if best is not None:
        s.model.load_state_dict(best["model"])
        s.loss_fn.load_state_dict(best["loss"])
    tdir.artefacts.mkdir(parents=True, exist_ok=True)
    metrics = dict(s.task.final(tdir.artefacts))
    metrics.update(_summary(history))
    metrics["best_epoch"] = best["epoch"] if best else None
    metrics.update(_complexity(s))
    result = {"status": status, "reason": reason, "metrics": metrics, "config": flat, "meta": meta,
              "data": getattr(s.data, "describe", {}), "epochs_completed": len(history),
              "wall_s": time.time() - started, "trial_dir": str(tdir.path)}
    tdir.write_result(result)
    return result


def _complexity(s: Setup) -> dict[str, Any]:
    """Backbone parameters (the trained head is not part of the deployed embedder) and the FLOPs of one
    image as ``facebench.models.complexity`` counts them (backbone + a linear head; AE: encoder + decoder)."""
    from ..models.complexity import model_complexity

    params = sum(p.numel() for p in s.model.parameters())
    c = model_complexity(s.cfg, s.cfg.data.image_size, s.data.num_classes)
    return {"params": params, "flops": c["flops"]}
