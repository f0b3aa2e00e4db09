"""``run_trial``: one recipe trained, validated every epoch and tested once, without Ray.

The sweep adapter passes ``tune.report`` as ``report``; the CLI passes a printer; tests pass a list's
``append``. Same code, same numbers.
"""

from __future__ import annotations

import errno
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..artefacts import CHECKPOINT, RESULT, TrialDir, last_objective
from ..attempts import StaleAttempt
from ..config import TrialConfig
from ..errors import ConfigError, FacebenchError
from .checkpoint import (
    check_complete,
    check_same_config,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from .clear import clear_trial
from .errors import OUT_OF_MEMORY, NonFiniteLoss, is_out_of_memory
from .loop import Batches, Stepper, build_training, peak_mem_mb, resolve_device, train_one_epoch
from .record import check_result_metrics, default_trial_dir, device_name, make_meta
from .selection import Selection

Report = Callable[[dict[str, Any]], None]
StepHook = Callable[[int, int, int], None]


def run_trial(
    config: TrialConfig | Mapping[str, Any],
    report: Report | None = None,
    *,
    trial_dir: str | Path | TrialDir | None = None,
    resume: bool = True,
    should_stop: Callable[[], bool] | None = None,
    raise_on_error: bool = False,
    on_step: StepHook | None = None,
    overwrite: bool = False,
    cost: str | None = None,
) -> dict[str, Any]:
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
    ``overwrite``, which clears what facebench wrote there first. ``cost`` (a name in facebench.pareto.COSTS, for a
    two-objective sweep) is measured once before the first epoch and reported in every epoch's metrics
    (engine/cost.py). A ``TrialDir`` given as ``trial_dir`` with an attempt id (the sweep's retries) writes only
    while that attempt is the trial's current one: a superseded attempt raises ``StaleAttempt`` (facebench.attempts).
    """
    cfg = config if isinstance(config, TrialConfig) else TrialConfig.from_dict(config)
    flat = cfg.to_flat()
    tdir = (
        trial_dir
        if isinstance(trial_dir, TrialDir)
        else TrialDir(trial_dir if trial_dir is not None else default_trial_dir(flat))
    )
    tdir.claim()  # before anything is written: a folder of the user's is refused untouched
    finished = _finished_here(tdir, flat, resume=resume, overwrite=overwrite)
    if finished is not None:
        return finished
    rec = _Record(cfg, flat, tdir, make_meta(flat, tdir.path, resolve_device(cfg.train.device)))
    try:
        previous, state = _resume_point(rec, resume)
        if previous is not None:
            return previous  # nothing left to do: the same config already ran to the end here
        return _train_and_test(rec, state, report, should_stop, on_step, cost)
    except NonFiniteLoss as e:
        return rec.failed(str(e), tb=None)
    except StaleAttempt:
        raise  # a newer attempt owns the folder: this one records nothing
    except Exception as e:  # noqa: BLE001 - a trial's failure is data for the sweep, not a crash of it
        try:
            result = rec.failed(_reason(e), tb=traceback.format_exc())
        except OSError:
            raise e from None  # the disk that failed the trial refuses its record too: the first error tells why
        if raise_on_error or isinstance(e, FacebenchError) or _is_environment(e):
            raise
        return result


@dataclass
class _Record:
    """What ``result.json`` says about the trial so far: its config, provenance and epochs."""

    cfg: TrialConfig
    flat: dict[str, Any]
    tdir: TrialDir
    meta: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def result(self, status: str, reason: str, metrics: dict[str, Any], **extra: Any) -> dict[str, Any]:
        result = {
            "status": status,
            "reason": reason,
            "metrics": metrics,
            "config": self.flat,
            "meta": self.meta,
            **extra,
            **({"attempt": self.tdir.attempt} if self.tdir.attempt else {}),
            "epochs_completed": len(self.history),
            "wall_s": time.time() - self.started,
            "trial_dir": str(self.tdir.path),
        }
        if self.tdir.path.exists():
            self.tdir.write_result(result)
        return result

    def failed(self, reason: str, *, tb: str | None) -> dict[str, Any]:
        metrics = {**_summary(self.history), **last_objective(self.history)}
        return self.result("failed", reason, metrics, traceback=tb)


def _finished_here(tdir: TrialDir, flat: dict, *, resume: bool, overwrite: bool) -> dict[str, Any] | None:
    """The finished result of this same config (nothing to do), None to train, or a ConfigError: a finished
    trial is never replaced without ``overwrite``."""
    previous = tdir.read_result()
    if previous is None or previous.get("status") not in ("completed", "stopped", "failed"):
        return None
    if overwrite:
        clear_trial(tdir)
        return None
    same = previous.get("config") == flat
    if same and previous["status"] != "completed":
        return None  # stopped or failed: resuming (or restarting with resume=False) it is what was asked
    if same and resume:
        return check_result_metrics(tdir.path / RESULT, previous)
    if same:
        raise ConfigError(
            f"{tdir.path}: holds a completed trial of this config; --no-resume would train it "
            "again and replace it: pass --overwrite for that, or choose another --out"
        )
    before = previous.get("config") or {}
    diff = [k for k in sorted(set(flat) | set(before)) if before.get(k) != flat.get(k)]
    shown = ", ".join(f"{k}: there {before.get(k)!r} vs now {flat.get(k)!r}" for k in diff[:3])
    raise ConfigError(
        f"{tdir.path}: holds a {previous['status']} trial of another config ({shown}); pass "
        "--overwrite to replace it, or choose another --out"
    )


def _is_environment(e: BaseException) -> bool:
    """A full, read-only or forbidden disk is the machine's problem, not the recipe's: raised, not scored."""
    return isinstance(e, OSError) and e.errno in (
        errno.ENOSPC,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EDQUOT,
        errno.ENOTDIR,
        errno.EISDIR,
    )


def _reason(e: BaseException) -> str:
    if is_out_of_memory(e):
        return OUT_OF_MEMORY
    return f"{type(e).__name__}: {e}"


def _summary(history: list[dict[str, Any]]) -> dict[str, Any]:
    return {"train_s": sum(h.get("train_s", 0.0) for h in history)}


def _resume_point(rec: _Record, resume: bool) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the finished result to return as is, or None; the checkpoint to continue from, or None)."""
    ckpt_path = rec.tdir.path / CHECKPOINT
    if not (resume and ckpt_path.exists()):
        clear_trial(rec.tdir)  # no resume, or nothing to resume from: stale epochs/result must not mix in
        return None, None
    state = load_checkpoint(ckpt_path)
    check_complete(ckpt_path, state)
    check_same_config(ckpt_path, state["config"], rec.flat)
    previous = rec.tdir.read_result()
    if previous and previous.get("status") == "completed" and state["epoch"] >= rec.cfg.train.epochs:
        return check_result_metrics(rec.tdir.path / RESULT, previous), None
    return None, state


def _train_and_test(
    rec: _Record,
    state: dict[str, Any] | None,
    report: Report | None,
    should_stop: Callable[[], bool] | None,
    on_step: StepHook | None,
    cost: str | None = None,
) -> dict[str, Any]:
    seed_everything(rec.cfg.train.seed)
    task, batches, stepper = build_training(rec.cfg)
    rec.meta["device"] = device_name(batches.device)
    fixed = _cost(cost, rec.cfg, task, batches.device)
    best: dict[str, Any] | None = None
    if state is not None:
        task.load_state_dict(state)
        stepper.load_state_dict(state)
        set_rng_state(state["rng"], batches.generator)
        best = state["best"]
        rec.history.extend(state["history"])
        rec.tdir.rewrite_epochs(rec.history)
        rec.meta["resumed_from_epoch"] = state["epoch"]
    rec.tdir.start(rec.flat, rec.meta)
    selection = Selection(rec.cfg, best)
    status, reason = "completed", ""
    for epoch in range(len(rec.history), rec.cfg.train.epochs):
        metrics = _run_epoch(task, batches, stepper, epoch, on_step)
        metrics.update(selection.update(metrics, task))
        metrics.update({k: v for k, v in fixed.items() if k != "cost_info"})
        rec.history.append(metrics)
        rec.tdir.append_epoch(metrics, rec.history)
        if rec.cfg.train.checkpoint:
            rec.tdir.check_attempt(CHECKPOINT)
            save_checkpoint(
                rec.tdir.path / CHECKPOINT,
                {
                    "config": rec.flat,
                    "epoch": epoch + 1,
                    **task.state_dict(),
                    **stepper.state_dict(),
                    "rng": rng_state(batches.generator),
                    "best": selection.chosen,
                    "history": rec.history,
                },
            )
        if report is not None:
            report(dict(metrics))
        if should_stop is not None and epoch + 1 < rec.cfg.train.epochs and should_stop():
            status, reason = "stopped", f"stopped by the caller after epoch {epoch + 1}"
            break
    return _test(rec, task, selection, status, reason, fixed)


def _cost(name: str | None, cfg: TrialConfig, task: Any, device: torch.device) -> dict[str, Any]:
    """The declared second objective's value (empty for a one-objective trial): measured once, here."""
    if not name:
        return {}
    from .cost import measure_cost

    return measure_cost(name, cfg, task, device)


def _run_epoch(task: Any, batches: Batches, stepper: Stepper, epoch: int, on_step: StepHook | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    if batches.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(batches.device)
    step_cb = (lambda step: on_step(epoch, step, batches.steps)) if on_step else None
    train = train_one_epoch(task, batches, stepper, epoch, on_step=step_cb)
    val = task.validate()
    return {
        "epoch": epoch + 1,
        **train,
        **val,
        "epoch_s": time.perf_counter() - t0,
        "peak_mem_mb": peak_mem_mb(batches.device),
    }


def _test(
    rec: _Record, task: Any, selection: Selection, status: str, reason: str, fixed: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Test the model chosen on validation (engine/selection.py: train.objective and train.select)."""
    selection.load_chosen(task)
    rec.tdir.artefacts.mkdir(parents=True, exist_ok=True)
    metrics = dict(task.final(rec.tdir.artefacts))
    metrics.update(_summary(rec.history))
    metrics.update(selection.fields())
    metrics.update(_complexity(rec.cfg, task))
    extra = {}
    if fixed:  # a two-objective trial: the cost it reported every epoch, its name and how it was measured
        metrics["cost"] = fixed["cost"]
        metrics.setdefault(fixed["cost_info"]["name"], fixed["cost"])  # latency_ms; params and flops are there
        extra["cost"] = fixed["cost_info"]
    return rec.result(
        status, reason, metrics, selection=selection.describe(), data=getattr(task.data, "describe", {}), **extra
    )


def _complexity(cfg: TrialConfig, task: Any) -> dict[str, Any]:
    """Backbone parameters (the trained head is not part of the deployed embedder) and the FLOPs of one
    image as ``facebench.models.complexity`` counts them (backbone + a linear head; AE: encoder + decoder)."""
    from .build import complexity

    params = sum(p.numel() for p in task.model.parameters())
    c = complexity(cfg, num_classes=task.data.num_classes)
    return {"params": params, "flops": c["flops"]}
