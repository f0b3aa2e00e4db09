"""Optimizers and LR schedules: known-answer LR curves, per-step stepping, no-decay parameter groups."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from facebench.config import TrialConfig
from facebench.engine.build import build_optimizer, build_scheduler
from facebench.errors import ConfigError
from facebench.optim.build import (
    OPTIMIZERS,
    SCHEDULERS,
    clip_gradients,
    create_optimizer,
    create_scheduler,
    param_groups,
)


def cfg(**values) -> TrialConfig:
    return TrialConfig.from_dict(values)


def lrs(c: TrialConfig, *, steps_per_epoch: int, epochs: int) -> list[float]:
    """The LR used by every optimizer step, read from a real optimizer + scheduler pair."""
    p = nn.Parameter(torch.zeros(1))
    opt = build_optimizer(c, [nn.ParameterList([p])])
    sched = build_scheduler(c, opt, steps_per_epoch=steps_per_epoch, epochs=epochs)
    out = []
    for _ in range(steps_per_epoch * epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_registries_list_the_promised_names():
    assert OPTIMIZERS.names() == ["adam", "adamw", "sgd"]
    assert SCHEDULERS.names() == ["cosine", "none", "onecycle", "poly", "step"]


def test_cosine_warmup_end_and_midpoint():
    # 10 steps/epoch, 2 warm-up epochs = 20 steps, then 80 cosine steps.
    c = cfg(**{"optim.lr": 0.1, "schedule.name": "cosine", "schedule.warmup_epochs": 2, "schedule.min_lr_ratio": 0.1})
    lr = lrs(c, steps_per_epoch=10, epochs=10)
    assert lr[0] == pytest.approx(0.1 / 20)  # first warm-up step: 1/20 of the peak
    assert lr[19] == pytest.approx(0.1)  # last warm-up step reaches the peak
    assert lr[20] == pytest.approx(0.1)  # cosine starts at the peak
    assert lr[60] == pytest.approx(0.1 * (0.1 + 0.9 * 0.5))  # midpoint of the cosine: (peak + floor) / 2
    assert lr[99] == pytest.approx(0.1 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 79 / 80))))
    assert all(a >= b for a, b in zip(lr[20:], lr[21:]))  # monotone after warm-up


def test_step_decay_happens_at_the_epoch_boundary_in_steps():
    c = cfg(**{"optim.lr": 1.0, "schedule.name": "step", "schedule.step_size": 2, "schedule.gamma": 0.5})
    lr = lrs(c, steps_per_epoch=3, epochs=6)
    assert lr[5] == pytest.approx(1.0) and lr[6] == pytest.approx(0.5)  # after 2 epochs = 6 steps
    assert lr[11] == pytest.approx(0.5) and lr[12] == pytest.approx(0.25)


def test_poly_known_values():
    c = cfg(**{"optim.lr": 1.0, "schedule.name": "poly", "schedule.power": 2.0})
    lr = lrs(c, steps_per_epoch=10, epochs=1)
    assert lr[0] == pytest.approx(1.0)
    assert lr[5] == pytest.approx((1 - 5 / 10) ** 2)
    assert lr[9] == pytest.approx((1 - 9 / 10) ** 2)


def test_onecycle_peaks_at_pct_start_and_keeps_momentum():
    c = cfg(
        **{
            "optim.name": "sgd",
            "optim.lr": 0.4,
            "schedule.name": "onecycle",
            "schedule.pct_start": 0.25,
            "optim.momentum": 0.8,
        }
    )
    lr = lrs(c, steps_per_epoch=20, epochs=2)
    peak = max(range(len(lr)), key=lr.__getitem__)
    assert peak == round(0.25 * 40) - 1 and lr[peak] == pytest.approx(0.4)
    assert lr[0] == pytest.approx(0.4 / 25)  # torch's div_factor
    p = nn.Parameter(torch.zeros(1))
    opt = build_optimizer(c, [nn.ParameterList([p])])
    build_scheduler(c, opt, steps_per_epoch=20, epochs=2)
    assert opt.param_groups[0]["momentum"] == 0.8


def test_constant_schedule_and_rejected_unused_warmup():
    assert set(lrs(cfg(**{"schedule.name": "none", "optim.lr": 0.3}), steps_per_epoch=4, epochs=2)) == {0.3}
    with pytest.raises(ConfigError, match="schedule.warmup_epochs"):
        lrs(cfg(**{"schedule.name": "step", "schedule.warmup_epochs": 1}), steps_per_epoch=4, epochs=2)
    with pytest.raises(ConfigError, match="optim.momentum"):
        build_optimizer(cfg(**{"optim.name": "adam", "optim.momentum": 0.5}), [nn.Linear(2, 2)])


def test_no_decay_groups_hold_norms_and_biases():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    head = nn.Linear(2, 5, bias=False)
    groups = param_groups([net, head], weight_decay=0.1, no_decay_norm_bias=True)
    decayed = {id(p) for p in groups[0]["params"]}
    plain = {id(p) for p in groups[1]["params"]}
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    assert decayed == {id(net[0].weight), id(net[3].weight), id(head.weight)}
    assert plain == {id(net[0].bias), id(net[1].weight), id(net[1].bias), id(net[3].bias)}
    one = param_groups([net, head], weight_decay=0.1, no_decay_norm_bias=False)
    assert len(one) == 1 and len(one[0]["params"]) == 7


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_optimizers_use_the_config(name):
    extra = {"optim.nesterov": True, "optim.momentum": 0.7} if name == "sgd" else {}
    opt = build_optimizer(
        cfg(**{"optim.name": name, "optim.lr": 0.02, "optim.weight_decay": 0.3, **extra}), [nn.Linear(3, 3)]
    )
    assert opt.param_groups[0]["lr"] == 0.02 and opt.param_groups[0]["weight_decay"] == 0.3
    assert opt.param_groups[1]["weight_decay"] == 0.0
    if name == "sgd":
        assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["momentum"] == 0.7
    assert type(opt).__name__.lower() == name


def test_adamw_decay_is_decoupled_and_zero_on_bias():
    # One step with zero gradient: AdamW shrinks the weight by lr * wd, leaves the bias alone.
    lin = nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.fill_(2.0)
        lin.bias.fill_(3.0)
    opt = build_optimizer(cfg(**{"optim.lr": 0.1, "optim.weight_decay": 0.5}), [lin])
    for p in lin.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    assert lin.weight.item() == pytest.approx(2.0 * (1 - 0.1 * 0.5))
    assert lin.bias.item() == pytest.approx(3.0)


def test_grad_clip_bounds_the_global_norm():
    a, b = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(1))
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])
    norm = clip_gradients([a, b], 1.0)
    assert float(norm) == pytest.approx(5.0)
    assert torch.cat([a.grad, b.grad]).norm().item() == pytest.approx(1.0)
    assert clip_gradients([a, b], 0.0) is None


def test_optimizer_and_schedule_build_from_plain_keyword_arguments_without_a_config():
    """StepLR from keyword arguments, by hand: lr 0.1 decayed x0.5 every 2 epochs of 3 steps."""
    lin = nn.Linear(2, 2)
    opt = create_optimizer(
        "sgd", [lin], lr=0.1, weight_decay=0.01, no_decay_norm_bias=True, momentum=0.9, nesterov=False
    )
    assert [g["weight_decay"] for g in opt.param_groups] == [0.01, 0.0]  # the bias is 1-D: no decay
    assert opt.param_groups[0]["momentum"] == 0.9
    sched = create_scheduler("step", opt, lr=0.1, steps_per_epoch=3, epochs=4, step_size=2, gamma=0.5)
    seen = []
    for _ in range(12):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.1] * 6 + [0.05] * 6)
    with pytest.raises(TypeError):
        create_scheduler("step", opt, lr=0.1, steps_per_epoch=3, epochs=4, step_size=2)
