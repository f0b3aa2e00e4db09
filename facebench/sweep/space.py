"""Optuna define-by-run search spaces, shared by the sweep files.

A hyperparameter's default range is the ``search`` its variant declares beside its code (``facebench.losses``,
``facebench.optim``, ``facebench.models``); a space's keyword arguments may narrow or replace it.

Each space is a module-level function ``space(trial, *, choices...) -> dict`` used through
``functools.partial``, or a frozen dataclass of its choices called on the trial (``Margin``, ``VAE``): Tune
pickles the searcher (and so the space) by reference when it saves the sweep for ``--resume``. Conditional parameters are only suggested where they mean something (margin
and scale for margin losses, each loss with its own ranges; beta only for the VAE), so the space never
proposes a combination that ``TrialConfig`` rejects. A parameter whose range depends on a variant gets
an Optuna-only name ``key@variant`` and the returned dict carries the real config key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..losses import LOSSES
from ..models import BACKBONES
from ..optim import SCHEDULERS
from ..registry import Registry, Variant
from .spec import ALIAS_MARK


def search_ranges(registry: Registry) -> dict[str, dict[str, tuple[float, float, bool]]]:
    """(low, high, log) per hyperparameter per variant: the ``search`` each variant declares beside its code."""
    return {v.name: {k: p.search for k, p in v.params.items() if p.search} for v in registry.variants()}


# Around each paper's default (facebench.losses); the classification heads only.
LOSS_RANGES = {name: r for name, r in search_ranges(LOSSES).items() if LOSSES.get(name).kind == "head"}
_BETA = LOSSES.get("vae").params["beta"].search

# Cosine with warm-up is "cosine" + its declared warmup_epochs range.
SCHEDULE_CHOICES = ("step", "onecycle", "cosine")


def suggest_declared(
    trial: Any,
    variant: Variant,
    section: str,
    *,
    epochs: int = 1,
    alias: bool = False,
    ranges: Mapping[str, tuple] | None = None,
) -> dict:
    """One suggestion per key ``variant`` declares a search range for; ``ranges`` replaces declared ones.

    ``alias``: the Optuna name is ``key@variant``, so variants' ranges of one key stay apart for TPE.
    """
    out: dict[str, Any] = {}
    for key, param in variant.params.items():
        rng = (ranges if ranges is not None else {}).get(key, param.search)
        if rng is None:
            continue
        lo, hi, log = rng
        if param.per_epoch:
            lo, hi = lo * epochs, hi * epochs
        name = f"{section}.{key}{ALIAS_MARK}{variant.name}" if alias else f"{section}.{key}"
        if param.kind is int:  # whole epochs, at least the key's own lower bound
            low = max(int(param.lo or 0), math.floor(lo))
            out[f"{section}.{key}"] = trial.suggest_int(name, low, max(low, math.floor(hi)), log=log)
        else:
            out[f"{section}.{key}"] = trial.suggest_float(name, lo, hi, log=log)
    return out


def suggest_loss(trial: Any, losses: Sequence[str], ranges: Mapping[str, Mapping] = LOSS_RANGES) -> dict:
    name = trial.suggest_categorical("loss.name", list(losses))
    return {
        "loss.name": name,
        **suggest_declared(trial, LOSSES.get(name), "loss", alias=True, ranges=ranges.get(name, {})),
    }


def suggest_optim(
    trial: Any, *, optimizers: Sequence[str], lr: tuple[float, float], weight_decay: tuple[float, float]
) -> dict:
    name = trial.suggest_categorical("optim.name", list(optimizers))
    # SGD wants an LR roughly 10-100x Adam's: separate ranges keep TPE from mixing them.
    lo, hi = (lr[0] * 10, lr[1] * 10) if name == "sgd" else lr
    return {
        "optim.name": name,
        "optim.lr": trial.suggest_float(f"optim.lr{ALIAS_MARK}{name}", lo, hi, log=True),
        "optim.weight_decay": trial.suggest_float("optim.weight_decay", *weight_decay, log=True),
    }


def suggest_schedule(trial: Any, *, schedules: Sequence[str], epochs: int) -> dict:
    name = trial.suggest_categorical("schedule.name", list(schedules))
    return {"schedule.name": name, **suggest_declared(trial, SCHEDULERS.get(name), "schedule", epochs=epochs)}


@dataclass(frozen=True)
class Margin:
    """Backbone x margin loss x optimizer x schedule on face identities; ``stem`` for the backbones that have one,
    ``widths`` the width multipliers searched per backbone, ``loss_ranges`` replaces a loss's declared ranges.
    A sweep's ``space=Margin(backbones=..., losses=...)``: called on each Optuna trial, pickled by reference."""

    backbones: Sequence[str]
    losses: Sequence[str]
    optimizers: Sequence[str] = ("sgd", "adamw")
    schedules: Sequence[str] = SCHEDULE_CHOICES
    lr: tuple[float, float] = (1e-4, 1e-2)
    weight_decay: tuple[float, float] = (1e-5, 1e-3)
    batch_sizes: Sequence[int] = (64, 128, 256)
    epochs: int = 20
    stem: str | None = None
    widths: Mapping[str, Sequence[float]] | None = None
    loss_ranges: Mapping[str, Mapping] | None = None

    def __call__(self, trial: Any) -> dict:
        backbone = trial.suggest_categorical("model.backbone", list(self.backbones))
        out = {"model.backbone": backbone}
        if self.stem is not None and "stem" in BACKBONES.get(backbone).params:
            out["model.stem"] = self.stem
        if self.widths and backbone in self.widths:
            out["model.width"] = trial.suggest_categorical(
                f"model.width{ALIAS_MARK}{backbone}", list(self.widths[backbone])
            )
        out.update(suggest_loss(trial, self.losses, {**LOSS_RANGES, **(self.loss_ranges or {})}))
        out.update(suggest_optim(trial, optimizers=self.optimizers, lr=self.lr, weight_decay=self.weight_decay))
        out.update(suggest_schedule(trial, schedules=self.schedules, epochs=self.epochs))
        out["train.batch_size"] = trial.suggest_categorical("train.batch_size", list(self.batch_sizes))
        return out


@dataclass(frozen=True)
class VAE:
    """Autoencoder family: plain AE, denoising AE and VAE as categorical alternatives; beta only for the VAE.
    ``whiten``: eval.whiten choices (0 = off) when the latent is also read PCA-whitened."""

    backbones: Sequence[str] = ("vae", "ae", "dae")
    latent_sizes: Sequence[int] = (32, 64, 128, 256)
    image_sizes: Sequence[int] = (112, 64, 56, 32)
    beta: tuple[float, float] = _BETA[:2]
    lr: tuple[float, float] = (1e-4, 3e-3)
    weight_decay: tuple[float, float] = (1e-6, 1e-3)
    batch_sizes: Sequence[int] = (32, 64, 128)
    schedules: Sequence[str] = ("cosine", "onecycle", "step")
    epochs: int = 30
    whiten: Sequence[int] = ()

    def __call__(self, trial: Any) -> dict:
        backbone = trial.suggest_categorical("model.backbone", list(self.backbones))
        out: dict[str, Any] = {
            "model.backbone": backbone,
            "loss.name": "vae" if backbone == "vae" else "ae",
            "model.embedding_size": trial.suggest_categorical("model.embedding_size", list(self.latent_sizes)),
            "data.image_size": trial.suggest_categorical("data.image_size", list(self.image_sizes)),
        }
        if backbone == "vae":
            out.update(
                suggest_declared(
                    trial, LOSSES.get("vae"), "loss", epochs=self.epochs, ranges={"beta": (*self.beta, True)}
                )
            )
        out.update(suggest_declared(trial, BACKBONES.get(backbone), "model"))  # the DAE's noise_level
        out.update(suggest_optim(trial, optimizers=("adam", "adamw"), lr=self.lr, weight_decay=self.weight_decay))
        out.update(suggest_schedule(trial, schedules=self.schedules, epochs=self.epochs))
        out["train.batch_size"] = trial.suggest_categorical("train.batch_size", list(self.batch_sizes))
        if self.whiten:
            out["eval.whiten"] = trial.suggest_categorical("eval.whiten", list(self.whiten))
        return out


def grid(
    trial: Any,
    *,
    axes: Mapping[str, Sequence[Any]],
    with_choice: Mapping[str, Mapping[Any, Mapping[str, Any]]] | None = None,
) -> dict:
    """A plain grid over categorical config keys (pair with sampler 'grid' to visit every cell once).

    ``with_choice``: fixed keys that go with one value of an axis, e.g. ``{"model.backbone": {"resnet18":
    {"model.width": 0.25}}}`` gives only the ResNet cells a quarter width."""
    out = {key: trial.suggest_categorical(key, list(values)) for key, values in axes.items()}
    for key, by_value in (with_choice or {}).items():
        out.update(by_value.get(out.get(key), {}))
    return out


def fixed(trial: Any, *, values: Mapping[str, Any], lr: tuple[float, float] | None = None) -> dict:
    """Fixed keys plus, optionally, a log-uniform LR: for tests and benchmarks."""
    out = dict(values)
    if lr is not None:
        out["optim.lr"] = trial.suggest_float("optim.lr", *lr, log=True)
    return out
