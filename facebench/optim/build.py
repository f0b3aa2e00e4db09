"""The torch side of the optimizers and LR schedules declared in ``facebench.optim``.

Every schedule is stepped once per optimizer step (per batch), so a schedule written in epochs is
converted to steps here: ``warmup_epochs`` -> ``round(warmup_epochs * steps_per_epoch)`` steps, and
StepLR's "decay every ``step_size`` epochs" -> every ``step_size * steps_per_epoch`` steps. That keeps
one stepping rule for all schedules and makes warm-up and OneCycle as smooth as they are meant to be.

The LR at optimizer step ``k`` (0-based) is ``optim.lr * f(k)``; ``f`` for each schedule is a pure
function (``*_multiplier``) so the unit tests check known values without building a model. Each
declared variant's callable here takes exactly the keys it declares, as keyword arguments.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

from ..config import TrialConfig
from . import OPTIMIZERS, SCHEDULERS

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


def sgd(groups: list[dict], *, lr: float, momentum: float, nesterov: bool) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)


def adam(groups: list[dict], *, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(groups, lr=lr)


def adamw(groups: list[dict], *, lr: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=lr)


def build_optimizer(cfg: TrialConfig, modules: Iterable[nn.Module]) -> torch.optim.Optimizer:
    """The optimizer named by ``optim.name`` over the parameters of ``modules`` (model and loss head)."""
    o = cfg.optim
    groups = param_groups(modules, weight_decay=o.weight_decay, no_decay_norm_bias=o.no_decay_norm_bias)
    return OPTIMIZERS.get(o.name).load()(groups, lr=o.lr, **cfg.params("optim"))


# -- schedules ---------------------------------------------------------------------------------
# Every schedule: fn(optimizer, *, lr, steps_per_epoch, total_steps, <its declared schedule.* keys>).

def _warmup_then(decay: Callable[[float], float], *, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Linear warm-up reaching 1.0 at step ``warmup_steps``, then ``decay(progress in [0, 1])``."""

    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        return decay(min(1.0, (step - warmup_steps) / span))

    return f


def step_multiplier(*, steps_per_epoch: int, step_size: int, gamma: float) -> Callable[[int], float]:
    every = step_size * steps_per_epoch
    return lambda step: gamma ** (step // every)


def cosine_multiplier(*, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> Callable[[int], float]:
    floor = min_lr_ratio
    return _warmup_then(lambda p: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)),
                        warmup_steps=warmup_steps, total_steps=total_steps)


def poly_multiplier(*, warmup_steps: int, total_steps: int, min_lr_ratio: float,
                    power: float) -> Callable[[int], float]:
    floor = min_lr_ratio
    return _warmup_then(lambda p: floor + (1 - floor) * (1 - p) ** power,
                        warmup_steps=warmup_steps, total_steps=total_steps)


def constant(optimizer: torch.optim.Optimizer, *, lr: float, steps_per_epoch: int,
             total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def step(optimizer: torch.optim.Optimizer, *, lr: float, steps_per_epoch: int, total_steps: int, step_size: int,
         gamma: float) -> torch.optim.lr_scheduler.LRScheduler:
    f = step_multiplier(steps_per_epoch=steps_per_epoch, step_size=step_size, gamma=gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def cosine(optimizer: torch.optim.Optimizer, *, lr: float, steps_per_epoch: int, total_steps: int,
           warmup_epochs: float, min_lr_ratio: float) -> torch.optim.lr_scheduler.LRScheduler:
    f = cosine_multiplier(warmup_steps=_in_steps(warmup_epochs, steps_per_epoch), total_steps=total_steps,
                          min_lr_ratio=min_lr_ratio)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def poly(optimizer: torch.optim.Optimizer, *, lr: float, steps_per_epoch: int, total_steps: int,
         warmup_epochs: float, min_lr_ratio: float, power: float) -> torch.optim.lr_scheduler.LRScheduler:
    f = poly_multiplier(warmup_steps=_in_steps(warmup_epochs, steps_per_epoch), total_steps=total_steps,
                        min_lr_ratio=min_lr_ratio, power=power)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def onecycle(optimizer: torch.optim.Optimizer, *, lr: float, steps_per_epoch: int, total_steps: int,
             pct_start: float) -> torch.optim.lr_scheduler.LRScheduler:
    # cycle_momentum=False: momentum / Adam's beta1 stay what optim.* says instead of being
    # silently replaced by OneCycle's 0.85-0.95 cycle.
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                               pct_start=pct_start, cycle_momentum=False)


def _in_steps(epochs: float, steps_per_epoch: int) -> int:
    return int(round(epochs * steps_per_epoch))


def build_scheduler(cfg: TrialConfig, optimizer: torch.optim.Optimizer, *, steps_per_epoch: int,
                    epochs: int) -> torch.optim.lr_scheduler.LRScheduler:
    """A scheduler to be stepped after every optimizer step; ``epochs * steps_per_epoch`` steps in all."""
    build = SCHEDULERS.get(cfg.schedule.name).load()
    return build(optimizer, lr=cfg.optim.lr, steps_per_epoch=steps_per_epoch,
                 total_steps=max(1, epochs * steps_per_epoch), **cfg.params("schedule"))


def clip_gradients(parameters: list[torch.Tensor], max_norm: float) -> torch.Tensor | None:
    """Clip the global gradient norm to ``optim.grad_clip`` (0 = off); returns the pre-clip norm
    as a tensor (no device sync)."""
    if max_norm <= 0:
        return None
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)
