"""A trial's model, loss, optimizer and schedule from its config: the only code that unpacks a ``TrialConfig``
for them. The stages take plain keyword arguments (timm's ``create_model(name, **kwargs)``): a backbone, a loss
or an optimizer never sees the trainer's config; their keys are the ones each variant declares beside its code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ..config import TrialConfig
from ..losses import LOSSES, create_loss
from ..models import BACKBONES, create_model
from ..optim.build import create_optimizer, create_scheduler


def model_kwargs(cfg: TrialConfig) -> dict[str, Any]:
    """The keyword arguments of ``cfg.model.backbone``: the (C, H, W) input, its declared ``model.*`` keys and,
    for an autoencoder, whether to build its decoder (only the autoencoder task trains one)."""
    kwargs = {"input_size": (cfg.in_channels, cfg.data.image_size, cfg.data.image_size), **cfg.params("model")}
    if BACKBONES.get(cfg.model.backbone).kind == "autoencoder":
        kwargs["decoder"] = cfg.task == "autoencoder"
    return kwargs


def build_model(cfg: TrialConfig) -> nn.Module:
    """The backbone ``cfg.model.backbone`` for ``cfg.data.image_size`` images (its classifier is the loss head)."""
    return create_model(cfg.model.backbone, **model_kwargs(cfg))


def build_loss(cfg: TrialConfig, *, embedding_size: int, num_classes: int) -> nn.Module:
    """The head or objective ``cfg.loss.name`` configured by its declared ``loss.*`` keys.

    Reconstruction objectives take no ``embedding_size`` / ``num_classes``.
    """
    params = cfg.params("loss")
    if LOSSES.get(cfg.loss.name).kind == "head":
        params.update(embedding_size=embedding_size, num_classes=num_classes)
    return create_loss(cfg.loss.name, **params)


def build_optimizer(cfg: TrialConfig, modules: Iterable[nn.Module]) -> torch.optim.Optimizer:
    """The optimizer named by ``optim.name`` over the parameters of ``modules`` (model and loss head)."""
    o = cfg.optim
    return create_optimizer(
        o.name,
        modules,
        lr=o.lr,
        weight_decay=o.weight_decay,
        no_decay_norm_bias=o.no_decay_norm_bias,
        **cfg.params("optim"),
    )


def build_scheduler(
    cfg: TrialConfig, optimizer: torch.optim.Optimizer, *, steps_per_epoch: int, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A scheduler to be stepped after every optimizer step; ``epochs * steps_per_epoch`` steps in all."""
    return create_scheduler(
        cfg.schedule.name,
        optimizer,
        lr=cfg.optim.lr,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        **cfg.params("schedule"),
    )


def complexity(cfg: TrialConfig, *, num_classes: int) -> dict[str, int]:
    """``facebench.models.complexity.model_complexity`` of the trial's backbone on one of its images."""
    from ..models.complexity import model_complexity

    kwargs = model_kwargs(cfg)
    return model_complexity(cfg.model.backbone, num_classes=num_classes, **kwargs)
