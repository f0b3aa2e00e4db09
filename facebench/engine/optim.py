"""Optimizers and LR schedules, looked up by name (registries "optimizer" and "scheduler").

Every schedule is stepped once per optimizer step (per batch), so a schedule written in epochs is
converted to steps here: ``warmup_epochs`` -> ``round(warmup_epochs * steps_per_epoch)`` steps, and
StepLR's "decay every ``step_size`` epochs" -> every ``step_size * steps_per_epoch`` steps. That keeps
one stepping rule for all schedules and makes warm-up and OneCycle as smooth as they are meant to be.

The LR at optimizer step ``k`` (0-based) is ``optim.lr * f(k)``; ``f`` for each schedule is a pure
function (``lr_multiplier``) so the unit tests check known values without building a model.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

from ..config import TrialConfig
from ..registry import Registry

OPTIMIZERS = Registry("optimizer")
SCHEDULERS = Registry("scheduler")

# -- optimizers --------------------------------------------------------------------------------

def param_groups(modules: Iterable[nn.Module], *, weight_decay: float, no_decay_norm_bias: bool) -> list[dict]:
    """Trainable parameters of ``modules`` split into a decayed and a non-decayed group.

    With ``no_decay_norm_bias`` every parameter with ``ndim <= 1`` (biases, BatchNorm/LayerNorm
    scales and shifts, PReLU slopes) gets no weight decay: decaying them only shrinks the scale of
    normalised activations and costs accuracy (Goyal et al. 2017, timm's ``param_groups_weight_decay``).
    Margin heads' class-centre matrices are 2-D and keep their decay.
    """
    decay, no_decay, seen = [], [], set()
    for module in modules:
        for p in module.parameters():
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            (no_decay if no_decay_norm_bias and p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


@OPTIMIZERS.register("sgd", help="SGD with momentum (optim.momentum) and optional Nesterov (optim.nesterov)")
def _sgd(groups: list[dict], cfg: TrialConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov)


@OPTIMIZERS.register("adam", help="Adam (L2 weight decay added to the gradient)")
def _adam(groups: list[dict], cfg: TrialConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(groups, lr=cfg.optim.lr)


@OPTIMIZERS.register("adamw", help="AdamW (decoupled weight decay)")
def _adamw(groups: list[dict], cfg: TrialConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=cfg.optim.lr)


def build_optimizer(cfg: TrialConfig, modules: Iterable[nn.Module]) -> torch.optim.Optimizer:
    """The optimizer named by ``optim.name`` over the parameters of ``modules`` (model and loss head)."""
    o = cfg.optim  # optim.momentum / nesterov away from their defaults with Adam(W): rejected by the config
    groups = param_groups(modules, weight_decay=o.weight_decay, no_decay_norm_bias=o.no_decay_norm_bias)
    return OPTIMIZERS.get(o.name, key="optim.name")(groups, cfg)


# -- schedules ---------------------------------------------------------------------------------

def _warmup_then(decay: Callable[[float], float], *, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Linear warm-up reaching 1.0 at step ``warmup_steps``, then ``decay(progress in [0, 1])``."""

    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        return decay(min(1.0, (step - warmup_steps) / span))

    return f


@SCHEDULERS.register("none", help="constant LR")
def _none(cfg: TrialConfig, *, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    return lambda step: 1.0


@SCHEDULERS.register("step", help="StepLR: LR x gamma every step_size epochs (expressed in steps)")
def _step(cfg: TrialConfig, *, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    s = cfg.schedule
    every = s.step_size * steps_per_epoch
    return lambda step: s.gamma ** (step // every)


@SCHEDULERS.register("cosine", help="linear warm-up (warmup_epochs), then cosine to min_lr_ratio x lr")
def _cosine(cfg: TrialConfig, *, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    floor = cfg.schedule.min_lr_ratio
    return _warmup_then(lambda p: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)),
                        warmup_steps=_warmup_steps(cfg, steps_per_epoch), total_steps=total_steps)


@SCHEDULERS.register("poly", help="linear warm-up, then (1 - progress)^power down to min_lr_ratio x lr")
def _poly(cfg: TrialConfig, *, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    floor, power = cfg.schedule.min_lr_ratio, cfg.schedule.power
    return _warmup_then(lambda p: floor + (1 - floor) * (1 - p) ** power,
                        warmup_steps=_warmup_steps(cfg, steps_per_epoch), total_steps=total_steps)


@SCHEDULERS.register("onecycle", help="torch OneCycleLR: cosine rise from lr/25 for pct_start of the steps, "
                     "then cosine fall to lr/25e4")
def _onecycle(cfg: TrialConfig, *, steps_per_epoch: int, total_steps: int) -> None:
    return None  # built by build_scheduler from torch's own OneCycleLR


def _warmup_steps(cfg: TrialConfig, steps_per_epoch: int) -> int:
    return int(round(cfg.schedule.warmup_epochs * steps_per_epoch))


def lr_multiplier(cfg: TrialConfig, *, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    """``f(step)`` for the LambdaLR-based schedules (all but onecycle)."""
    factory = SCHEDULERS.get(cfg.schedule.name, key="schedule.name")
    f = factory(cfg, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
    if f is None:
        raise ValueError(f"schedule {cfg.schedule.name!r} has no pure multiplier")
    return f


def build_scheduler(cfg: TrialConfig, optimizer: torch.optim.Optimizer, *, steps_per_epoch: int,
                    epochs: int) -> torch.optim.lr_scheduler.LRScheduler:
    """A scheduler to be stepped after every optimizer step; ``epochs * steps_per_epoch`` steps in all."""
    s = cfg.schedule  # keys of other schedules are rejected by the config (used_by)
    total = max(1, epochs * steps_per_epoch)
    if s.name == "onecycle":
        # cycle_momentum=False: momentum / Adam's beta1 stay what optim.* says instead of being
        # silently replaced by OneCycle's 0.85-0.95 cycle.
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.optim.lr, total_steps=total,
                                                   pct_start=s.pct_start, cycle_momentum=False)
    f = lr_multiplier(cfg, steps_per_epoch=steps_per_epoch, total_steps=total)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def clip_gradients(parameters: list[torch.Tensor], max_norm: float) -> torch.Tensor | None:
    """Clip the global gradient norm to ``optim.grad_clip`` (0 = off); returns the pre-clip norm
    as a tensor (no device sync)."""
    if max_norm <= 0:
        return None
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)
