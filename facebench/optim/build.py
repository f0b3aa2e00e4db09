"""The torch side of the optimizers and LR schedules declared in ``facebench.optim``.

Every schedule is stepped once per optimizer step (per batch), so a schedule written in epochs is
converted to steps here: ``warmup_epochs`` -> ``round(warmup_epochs * steps_per_epoch)`` steps, and
StepLR's "decay every ``step_size`` epochs" -> every ``step_size * steps_per_epoch`` steps. That keeps
one stepping rule for all schedules and makes warm-up and OneCycle as smooth as they are meant to be.

The LR at optimizer step ``k`` (0-based) is ``optim.lr * f(k)``; ``f`` for each schedule is a pure
function (``*_multiplier``) so the unit tests check known values without building a model. Each
declared variant's callable here takes exactly the keys it declares, as keyword arguments; nothing here sees
the trial config (``facebench.engine.build`` unpacks it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

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


def create_optimizer(
    name: str, modules: Iterable[nn.Module], *, lr: float, weight_decay: float, no_decay_norm_bias: bool, **kwargs: Any
) -> torch.optim.Optimizer:
    """Optimizer ``name`` over the parameters of ``modules`` (model and loss head); ``kwargs`` are its declared
    ``optim.*`` keys."""
    groups = param_groups(modules, weight_decay=weight_decay, no_decay_norm_bias=no_decay_norm_bias)
    return OPTIMIZERS.get(name).load()(groups, lr=lr, **kwargs)


# -- schedules ---------------------------------------------------------------------------------
# Every schedule: fn(optimizer, *, lr, steps, <its declared schedule.* keys>).


@dataclass(frozen=True)
class Steps:
    """A schedule's length in optimizer steps: ``per_epoch`` steps an epoch, ``total`` in all."""

    per_epoch: int
    total: int


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
    return _warmup_then(
        lambda p: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)),
        warmup_steps=warmup_steps,
        total_steps=total_steps,
    )


def poly_multiplier(
    *, warmup_steps: int, total_steps: int, min_lr_ratio: float, power: float
) -> Callable[[int], float]:
    floor = min_lr_ratio
    return _warmup_then(
        lambda p: floor + (1 - floor) * (1 - p) ** power, warmup_steps=warmup_steps, total_steps=total_steps
    )


def constant(optimizer: torch.optim.Optimizer, *, lr: float, steps: Steps) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def step(
    optimizer: torch.optim.Optimizer, *, lr: float, steps: Steps, step_size: int, gamma: float
) -> torch.optim.lr_scheduler.LRScheduler:
    f = step_multiplier(steps_per_epoch=steps.per_epoch, step_size=step_size, gamma=gamma)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def cosine(
    optimizer: torch.optim.Optimizer, *, lr: float, steps: Steps, warmup_epochs: float, min_lr_ratio: float
) -> torch.optim.lr_scheduler.LRScheduler:
    f = cosine_multiplier(
        warmup_steps=_in_steps(warmup_epochs, steps.per_epoch), total_steps=steps.total, min_lr_ratio=min_lr_ratio
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def poly(
    optimizer: torch.optim.Optimizer,
    *,
    lr: float,
    steps: Steps,
    warmup_epochs: float,
    min_lr_ratio: float,
    power: float,
) -> torch.optim.lr_scheduler.LRScheduler:
    f = poly_multiplier(
        warmup_steps=_in_steps(warmup_epochs, steps.per_epoch),
        total_steps=steps.total,
        min_lr_ratio=min_lr_ratio,
        power=power,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def onecycle(
    optimizer: torch.optim.Optimizer, *, lr: float, steps: Steps, pct_start: float
) -> torch.optim.lr_scheduler.LRScheduler:
    # cycle_momentum=False: momentum / Adam's beta1 stay what optim.* says instead of being
    # silently replaced by OneCycle's 0.85-0.95 cycle.
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps.total, pct_start=pct_start, cycle_momentum=False
    )


def _in_steps(epochs: float, steps_per_epoch: int) -> int:
    return int(round(epochs * steps_per_epoch))


def create_scheduler(
    name: str, optimizer: torch.optim.Optimizer, *, lr: float, steps_per_epoch: int, epochs: int, **kwargs: Any
) -> torch.optim.lr_scheduler.LRScheduler:
    """Schedule ``name`` (``kwargs``: its declared ``schedule.*`` keys), to be stepped after every optimizer
    step; ``epochs * steps_per_epoch`` steps in all, peaking at ``lr``."""
    steps = Steps(per_epoch=steps_per_epoch, total=max(1, epochs * steps_per_epoch))
    return SCHEDULERS.get(name).load()(optimizer, lr=lr, steps=steps, **kwargs)


def clip_gradients(parameters: list[torch.Tensor], max_norm: float) -> torch.Tensor | None:
    """Clip the global gradient norm to ``optim.grad_clip`` (0 = off); returns the pre-clip norm
    as a tensor (no device sync)."""
    if max_norm <= 0:
        return None
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)
