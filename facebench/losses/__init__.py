"""Losses: the ``loss`` registry and ``build_loss``.

Entries are classes with keyword-only hyperparameters whose defaults are the published ones; a config
value of None means "that default". Classification heads are called as ``head(embeddings, labels,
norms=None)``; reconstruction objectives as ``objective(out, target, epoch=float)``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from ..config import TrialConfig

LOSSES = Registry("loss")


def _register() -> None:
    from . import heads, reconstruction

    entries = {
        "ce": heads.SoftmaxCE, "normsoftmax": heads.NormSoftmax, "sphereface": heads.SphereFace,
        "cosface": heads.CosFace, "arcface": heads.ArcFace, "curricularface": heads.CurricularFace,
        "adaface": heads.AdaFace, "ae": reconstruction.AEObjective, "vae": reconstruction.VAEObjective,
    }
    for name, cls in entries.items():
        LOSSES.add(name, cls)


_register()

# Config keys that map onto constructor keywords of the same name (None = the published default).
_HYPER_KEYS = ("scale", "margin", "h", "t_alpha", "beta")


def build_loss(cfg: "TrialConfig", *, embedding_size: int, num_classes: int) -> "nn.Module":
    """The head or objective ``cfg.loss.name`` configured by ``cfg.loss.*``.

    Reconstruction objectives ignore ``embedding_size`` and ``num_classes``.
    """
    name = cfg.loss.name
    cls = LOSSES.get(name, key="loss.name")
    params = inspect.signature(cls.__init__).parameters
    kwargs = {}
    for key in _HYPER_KEYS:
        value = getattr(cfg.loss, key)
        if value is None:
            continue
        if key not in params:
            raise ConfigError(f"loss.{key} is not used by loss {name!r}; remove it")
        kwargs[key] = value
    if "recon_reduction" in params:
        kwargs["recon_reduction"] = cfg.loss.recon_reduction
        if "beta_warmup_epochs" in params:
            kwargs["beta_warmup_epochs"] = cfg.loss.beta_warmup_epochs
        return cls(**kwargs)
    if cfg.loss.recon_reduction != "sum":
        raise ConfigError(f"loss.recon_reduction is not used by loss {name!r}; remove it")
    return cls(embedding_size=embedding_size, num_classes=num_classes, **kwargs)
