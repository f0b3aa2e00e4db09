"""Backbones: every backbone declared once with the ``model.*`` keys it reads (the ``backbone`` registry).

Every entry builds ``fn(*, input_size=(C, H, W), <its declared model.* keys>) -> nn.Module`` from plain
keyword arguments (autoencoders also take ``decoder``: False builds the encoder alone); a backbone never sees
the trial config (``facebench.engine.build.build_model`` unpacks it). Embedding networks
(kind "embedding") return a (B, embedding_size) tensor; autoencoders (kind "autoencoder") return the dict
described in docs/architecture.md. Every model has ``embedding_size``, ``is_autoencoder`` and ``encode(x)``.
The network code is imported only when a backbone is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..params import Param
from ..registry import Registry

if TYPE_CHECKING:
    from torch import nn

BACKBONES = Registry("backbone", key="model.backbone")

_WIDTH = Param(1.0, "channel width multiplier", lo=0.0, hi=8.0, lo_open=True)
_NECK = {
    "neck": Param(
        True, "face-embedding neck BN-dropout-FC-BN after pooling (False: pooled features are the embedding)"
    ),
    "embedding_size": Param(None, "embedding size (default 512 with a neck)", type=Optional[int], lo=1, hi=16384),
    "dropout": Param(0.0, "dropout in the neck", lo=0.0, hi=1.0, hi_open=True),
}
_CLASSIFIER = {"task": ("face", "cifar")}  # an autoencoder task needs a decoder
# Only residual nets take zero_init_residual: zeroing the last BN of a plain block zeroes the whole signal.
_ZERO_INIT = Param(False, "zero-initialise the last BN of each residual branch")

BACKBONES.declare(
    "cnn",
    "the CIFAR-10 loss study's baseline CNN: 3 unpadded 3x3 convs + fc64 (122,570 params "
    "with a 10-class head at 32 px)",
    "facebench.models.cnn:build_cnn",
    kind="embedding",
    display="baseline CNN",
    requires=_CLASSIFIER,
    params={"width": _WIDTH, **_NECK},
)


def _declare_resnets() -> None:
    stem = Param(
        "cifar",
        "stem: imagenet = 7x7/2 + max-pool; cifar = 3x3/1, no pool; stride2 = 3x3/2, no pool",
        choices=("imagenet", "cifar", "stride2"),
    )
    for depth in (18, 34, 50):
        block = "Bottleneck" if depth >= 50 else "BasicBlock"
        for family, label, skip in (("resnet", "ResNet", True), ("plainnet", "PlainNet", False)):
            params = {"width": _WIDTH, "stem": stem, **_NECK, **({"zero_init_residual": _ZERO_INIT} if skip else {})}
            BACKBONES.declare(
                f"{family}{depth}",
                f"{label}-{depth} ({block}, {'residual' if skip else 'no skip connections'})",
                "facebench.models.resnet:build_resnet",
                kind="embedding",
                requires=_CLASSIFIER,
                params=params,
                options={"depth": depth, "skip": skip},
                display=f"{label}-{depth}",
            )


_declare_resnets()
for _depth, _layers in {18: "2-2-2-2", 34: "3-4-6-3", 50: "3-4-14-3", 100: "3-13-30-3"}.items():  # iresnet.LAYERS
    # No model.neck: IResNet always ends in its BN-dropout-FC-BN output block, as InsightFace defines it.
    BACKBONES.declare(
        f"iresnet{_depth}",
        f"IResNet-{_depth} (InsightFace's face backbone, {_layers} blocks; 112x112 input as published)",
        "facebench.models.iresnet:build_iresnet",
        kind="embedding",
        requires=_CLASSIFIER,
        options={"depth": _depth},
        display=f"IResNet-{_depth}",
        params={
            "width": _WIDTH,
            "embedding_size": _NECK["embedding_size"],
            "dropout": _NECK["dropout"],
            "zero_init_residual": _ZERO_INIT,
        },
    )
_AE = {
    "width": _WIDTH,
    "depth": Param(4, "number of stride-2 conv blocks", lo=1, hi=6),
    "embedding_size": Param(None, "embedding size = the latent size (default 128)", type=Optional[int], lo=1, hi=16384),
}
# Only the autoencoder task trains the decoder path that sees the corruption; a face task uses the encoder.
_CORRUPTION = {
    "noise": Param(
        "gaussian",
        "corruption type",
        choices=("gaussian", "masking", "salt_pepper"),
        requires={"task": ("autoencoder",)},
    ),
    "noise_level": Param(
        0.1, "corruption level", lo=0.0, hi=1.0, search=(0.05, 0.3, False), requires={"task": ("autoencoder",)}
    ),
}
BACKBONES.declare(
    "ae",
    "convolutional autoencoder (embedding = latent)",
    "facebench.models.autoencoder:build_autoencoder",
    kind="autoencoder",
    params=_AE,
    options={"variant": "ae"},
    display="AE",
)
BACKBONES.declare(
    "dae",
    "denoising convolutional autoencoder (model.noise at model.noise_level, train mode only)",
    "facebench.models.autoencoder:build_autoencoder",
    kind="autoencoder",
    params={**_AE, **_CORRUPTION},
    options={"variant": "dae"},
    display="denoising AE",
)
BACKBONES.declare(
    "vae",
    "variational autoencoder (embedding = mu)",
    "facebench.models.autoencoder:build_autoencoder",
    kind="autoencoder",
    params=_AE,
    options={"variant": "vae"},
    display="VAE",
)

AUTOENCODER_BACKBONES = tuple(v.name for v in BACKBONES.variants() if v.kind == "autoencoder")


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Backbone ``name`` built from plain keyword arguments (timm's ``create_model``): ``input_size``, its
    declared ``model.*`` keys (a key left out takes its declared default) and, for an autoencoder, ``decoder``."""
    variant = BACKBONES.get(name)
    declared = {key: param.default for key, param in variant.params.items()}  # a key left out: its declared default
    return variant.load()(**{**declared, **kwargs})
