"""Optuna define-by-run search spaces, shared by the sweep files.

Each space is a module-level function ``space(trial, *, choices...) -> dict`` used through
``functools.partial``: Tune pickles the searcher (and so the space) by reference when it saves the
sweep for ``--resume``. Conditional parameters are only suggested where they mean something (margin
and scale for margin losses, each loss with its own ranges; beta only for the VAE), so the space never
proposes a combination that ``TrialConfig`` rejects. A parameter whose range depends on a variant gets
an Optuna-only name ``key@variant`` and the returned dict carries the real config key.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..losses import LOSSES
from ..models import BACKBONES
from ..optim import SCHEDULERS
from ..registry import Registry
from .spec import ALIAS_MARK


def search_ranges(registry: Registry) -> dict[str, dict[str, tuple[float, float, bool]]]:
    """(low, high, log) per hyperparameter per variant: the ``search`` each variant declares beside its code."""
    return {v.name: {k: p.search for k, p in v.params.items() if p.search} for v in registry.variants()}


# Around each paper's default (facebench.losses); the classification heads only.
LOSS_RANGES = {name: r for name, r in search_ranges(LOSSES).items() if LOSSES.get(name).kind == "head"}
_PCT_START = SCHEDULERS.get("onecycle").params["pct_start"].search
_NOISE_LEVEL = BACKBONES.get("dae").params["noise_level"].search
_BETA = LOSSES.get("vae").params["beta"].search

# Extra keys each LR schedule needs, with ranges; cosine with warm-up is "cosine" + warmup_epochs.
SCHEDULE_CHOICES = ("step", "onecycle", "cosine")


def suggest_loss(trial: Any, losses: Sequence[str], ranges: Mapping[str, Mapping] = LOSS_RANGES) -> dict:
    name = trial.suggest_categorical("loss.name", list(losses))
    out: dict[str, Any] = {"loss.name": name}
    for key, (lo, hi, log) in ranges.get(name, {}).items():
        out[f"loss.{key}"] = trial.suggest_float(f"loss.{key}{ALIAS_MARK}{name}", lo, hi, log=log)
    return out


def suggest_optim(trial: Any, *, optimizers: Sequence[str], lr: tuple[float, float],
                  weight_decay: tuple[float, float]) -> dict:
    name = trial.suggest_categorical("optim.name", list(optimizers))
    # SGD wants an LR roughly 10-100x Adam's: separate ranges keep TPE from mixing them.
    lo, hi = (lr[0] * 10, lr[1] * 10) if name == "sgd" else lr
    return {"optim.name": name,
            "optim.lr": trial.suggest_float(f"optim.lr{ALIAS_MARK}{name}", lo, hi, log=True),
            "optim.weight_decay": trial.suggest_float("optim.weight_decay", *weight_decay, log=True)}


def suggest_schedule(trial: Any, *, schedules: Sequence[str], epochs: int) -> dict:
    name = trial.suggest_categorical("schedule.name", list(schedules))
    out: dict[str, Any] = {"schedule.name": name}
    if name == "cosine":
        out["schedule.warmup_epochs"] = trial.suggest_float("schedule.warmup_epochs", 0.0, max(0.5, epochs / 5))
    elif name == "step":
        out["schedule.step_size"] = trial.suggest_int("schedule.step_size", max(1, epochs // 3), max(1, epochs))
    elif name == "onecycle":
        out["schedule.pct_start"] = trial.suggest_float("schedule.pct_start", *_PCT_START[:2], log=_PCT_START[2])
    return out


def margin(trial: Any, *, backbones: Sequence[str], losses: Sequence[str], optimizers: Sequence[str] = ("sgd", "adamw"),
           schedules: Sequence[str] = SCHEDULE_CHOICES, lr: tuple[float, float] = (1e-4, 1e-2),
           weight_decay: tuple[float, float] = (1e-5, 1e-3), batch_sizes: Sequence[int] = (64, 128, 256),
           epochs: int = 20, stem: str | None = None) -> dict:
    """Backbone x margin loss x optimizer x schedule on face identities; ``stem`` for the backbones that have one."""
    backbone = trial.suggest_categorical("model.backbone", list(backbones))
    out = {"model.backbone": backbone}
    if stem is not None and "stem" in BACKBONES.get(backbone).params:
        out["model.stem"] = stem
    out.update(suggest_loss(trial, losses))
    out.update(suggest_optim(trial, optimizers=optimizers, lr=lr, weight_decay=weight_decay))
    out.update(suggest_schedule(trial, schedules=schedules, epochs=epochs))
    out["train.batch_size"] = trial.suggest_categorical("train.batch_size", list(batch_sizes))
    return out


def vae(trial: Any, *, backbones: Sequence[str] = ("vae", "ae", "dae"), latent_sizes: Sequence[int] = (32, 64, 128, 256),
        image_sizes: Sequence[int] = (112, 64, 56, 32), beta: tuple[float, float] = _BETA[:2],
        lr: tuple[float, float] = (1e-4, 3e-3), weight_decay: tuple[float, float] = (1e-6, 1e-3),
        batch_sizes: Sequence[int] = (32, 64, 128), schedules: Sequence[str] = ("cosine", "onecycle", "step"),
        epochs: int = 30) -> dict:
    """Autoencoder family: plain AE, denoising AE and VAE as categorical alternatives; beta only for the VAE."""
    backbone = trial.suggest_categorical("model.backbone", list(backbones))
    out: dict[str, Any] = {"model.backbone": backbone, "loss.name": "vae" if backbone == "vae" else "ae",
                           "model.embedding_size": trial.suggest_categorical("model.embedding_size", list(latent_sizes)),
                           "data.image_size": trial.suggest_categorical("data.image_size", list(image_sizes))}
    if backbone == "vae":
        out["loss.beta"] = trial.suggest_float("loss.beta", *beta, log=True)
        out["loss.beta_warmup_epochs"] = trial.suggest_int("loss.beta_warmup_epochs", 0, max(0, epochs // 3))
    elif backbone == "dae":
        out["model.noise_level"] = trial.suggest_float("model.noise_level", *_NOISE_LEVEL[:2], log=_NOISE_LEVEL[2])
    out.update(suggest_optim(trial, optimizers=("adam", "adamw"), lr=lr, weight_decay=weight_decay))
    out.update(suggest_schedule(trial, schedules=schedules, epochs=epochs))
    out["train.batch_size"] = trial.suggest_categorical("train.batch_size", list(batch_sizes))
    return out


def grid(trial: Any, *, axes: Mapping[str, Sequence[Any]]) -> dict:
    """A plain grid over categorical config keys (pair with sampler 'grid' to visit every cell once)."""
    return {key: trial.suggest_categorical(key, list(values)) for key, values in axes.items()}


def fixed(trial: Any, *, values: Mapping[str, Any], lr: tuple[float, float] | None = None) -> dict:
    """Fixed keys plus, optionally, a log-uniform LR: for tests and benchmarks."""
    out = dict(values)
    if lr is not None:
        out["optim.lr"] = trial.suggest_float("optim.lr", *lr, log=True)
    return out
