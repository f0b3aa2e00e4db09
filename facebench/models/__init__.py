"""Backbones: the ``backbone`` registry and ``build_model``.

Every entry is a builder ``fn(cfg, *, num_classes) -> nn.Module``. Embedding networks return a
(B, embedding_size) tensor; autoencoders (task 'autoencoder') return the dict described in
docs/architecture.md. Every model has ``embedding_size``, ``is_autoencoder`` and ``encode(x)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from ..config import TrialConfig

BACKBONES = Registry("backbone")


def _register() -> None:
    from . import autoencoder, cnn, iresnet, resnet

    BACKBONES.add("cnn", cnn.build_cnn)
    for name, help_line, builder in resnet.variants() + iresnet.variants():
        BACKBONES.add(name, builder, help=help_line)
    helps = {"ae": "convolutional autoencoder (embedding = latent)",
             "dae": "denoising convolutional autoencoder (model.noise at model.noise_level, train mode only)",
             "vae": "variational autoencoder (embedding = mu)"}
    for kind, help_line in helps.items():
        def builder(cfg: "TrialConfig", *, num_classes: int, _kind: str = kind) -> "nn.Module":
            del num_classes
            return autoencoder.build_autoencoder(cfg, kind=_kind)

        BACKBONES.add(kind, builder, help=help_line)


_register()


def build_model(cfg: "TrialConfig", *, num_classes: int) -> "nn.Module":
    """The backbone ``cfg.model.backbone`` configured by ``cfg.model.*`` for ``cfg.data.image_size`` inputs."""
    builder = BACKBONES.get(cfg.model.backbone, key="model.backbone")
    return builder(cfg, num_classes=num_classes)
