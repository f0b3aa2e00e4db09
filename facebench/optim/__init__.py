"""Optimizers and LR schedules: each declared once with the ``optim.*`` / ``schedule.*`` keys it reads.

The torch code is in ``facebench.optim.build`` (imported when a trial builds its optimizer), so the
declarations here cost nothing to import; config validation reads them.
"""

from __future__ import annotations

from ..params import Param
from ..registry import Registry

OPTIMIZERS = Registry("optimizer", key="optim.name")
SCHEDULERS = Registry("scheduler", key="schedule.name")

_BUILD = "facebench.optim.build"

OPTIMIZERS.declare(
    "sgd",
    "SGD with momentum (optim.momentum) and optional Nesterov (optim.nesterov)",
    f"{_BUILD}:sgd",
    display="SGD",
    params={
        "momentum": Param(0.9, "SGD momentum", lo=0.0, hi=1.0, hi_open=True),
        "nesterov": Param(False, "SGD Nesterov momentum"),
    },
)
OPTIMIZERS.declare("adam", "Adam (L2 weight decay added to the gradient)", f"{_BUILD}:adam", display="Adam")
OPTIMIZERS.declare("adamw", "AdamW (decoupled weight decay)", f"{_BUILD}:adamw", display="AdamW")

_WARMUP = Param(0.0, "linear warm-up length in epochs", lo=0.0, hi=10_000.0, search=(0.0, 0.2, False), per_epoch=True)
_FLOOR = Param(0.0, "final LR as a fraction of the peak", lo=0.0, hi=1.0)

SCHEDULERS.declare("none", "constant LR", f"{_BUILD}:constant", display="constant")
SCHEDULERS.declare(
    "step",
    "StepLR: LR x gamma every step_size epochs (expressed in steps)",
    f"{_BUILD}:step",
    display="StepLR",
    params={
        "step_size": Param(
            10, "StepLR: epochs between decays", lo=1, hi=10_000, search=(1 / 3, 1.0, False), per_epoch=True
        ),
        "gamma": Param(0.1, "StepLR: decay factor", lo=0.0, hi=1.0, lo_open=True),
    },
)
SCHEDULERS.declare(
    "cosine",
    "linear warm-up (warmup_epochs), then cosine to min_lr_ratio x lr",
    f"{_BUILD}:cosine",
    display="cosine",
    params={"warmup_epochs": _WARMUP, "min_lr_ratio": _FLOOR},
)
SCHEDULERS.declare(
    "poly",
    "linear warm-up, then (1 - progress)^power down to min_lr_ratio x lr",
    f"{_BUILD}:poly",
    display="poly",
    params={
        "warmup_epochs": _WARMUP,
        "min_lr_ratio": _FLOOR,
        "power": Param(1.0, "polynomial decay power", lo=0.0, hi=100.0, lo_open=True),
    },
)
SCHEDULERS.declare(
    "onecycle",
    "torch OneCycleLR: cosine rise from lr/25 for pct_start of the steps, then cosine fall to lr/25e4",
    f"{_BUILD}:onecycle",
    display="OneCycle",
    params={
        "pct_start": Param(
            0.3,
            "OneCycle: fraction of steps rising",
            lo=0.0,
            hi=1.0,
            lo_open=True,
            hi_open=True,
            search=(0.1, 0.4, False),
        )
    },
)
