"""Losses: every loss declared once with its hyperparameters (the ``loss`` registry) and ``create_loss``.

A hyperparameter's default is the published one, cited beside it; a ``loss.<key>`` left unset (None)
means that default. Classification heads (kind "head") are called as ``head(embeddings, labels,
norms=None)``; reconstruction objectives (kind "reconstruction") as ``objective(out, target, epoch=float)``.
A loss takes plain keyword arguments and never sees the trial config (``facebench.engine.build`` unpacks it).
The classes (``heads``, ``reconstruction``) are imported only when a loss is built.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..params import Param
from ..registry import Registry

if TYPE_CHECKING:
    from torch import nn

LOSSES = Registry("loss", key="loss.name")

_HEAD = {"task": ("face", "cifar")}
_HEADS = "facebench.losses.heads"
_RECON = "facebench.losses.reconstruction"


def _scale(default: float, search: tuple) -> Param:
    return Param(default, "logit scale s", lo=0.0, hi=1024.0, lo_open=True, search=search)


def _margin(default: float, doc: str, search: tuple, hi: float = math.pi / 2) -> Param:
    # hi: an angular margin past pi/2 makes every target logit the smallest; a cosine margin past 2 likewise.
    return Param(default, doc, lo=0.0, hi=hi, search=search)


_T_ALPHA = Param(0.01, "EMA momentum of the batch statistics", lo=0.0, hi=1.0)
_RECON_REDUCTION = Param(
    "sum", "MSE summed per image (then mean over batch) or mean per pixel", choices=("sum", "mean")
)


def _head(name: str, help: str, cls: str, *, display: str, **params: Param) -> None:
    LOSSES.declare(name, help, f"{_HEADS}:{cls}", kind="head", requires=_HEAD, params=params, display=display)


_head("ce", "softmax cross-entropy with a linear (bias) classifier on the raw embedding", "SoftmaxCE", display="CE")
# s = 64 as CosFace/ArcFace, so normsoftmax is exactly their m = 0 ablation.
_head(
    "normsoftmax",
    "normalised softmax (NormFace, Wang et al. 2017): s*cos, no margin",
    "CosineHead",
    display="NormSoftmax",
    scale=_scale(64.0, (8.0, 64.0, True)),
)
# s = 30, m = 1.5: OpenSphere's SphereFace head (Liu et al., "SphereFace Revived", TPAMI 2022), which
# normalises features and detaches the margin term instead of the 2017 lambda annealing at m = 4.
_head(
    "sphereface",
    "SphereFace multiplicative angular margin, OpenSphere formulation",
    "SphereFace",
    display="SphereFace",
    scale=_scale(30.0, (16.0, 64.0, True)),
    margin=_margin(1.5, "margin m (multiplies the angle)", (1.2, 2.0, False), hi=4.0),
)
# s = 64, m = 0.35: Wang et al., "CosFace", CVPR 2018 (section 4.1).
_head(
    "cosface",
    "CosFace / AM-Softmax: target logit s*(cos theta - m)",
    "CosFace",
    display="CosFace",
    scale=_scale(64.0, (16.0, 64.0, True)),
    margin=_margin(0.35, "margin m (subtracted from the cosine)", (0.1, 0.5, False), hi=2.0),
)
# s = 64, m = 0.5: Deng et al., "ArcFace", CVPR 2019 (section 3 / InsightFace defaults).
_head(
    "arcface",
    "ArcFace additive angular margin: target logit s*cos(theta + m)",
    "ArcFace",
    display="ArcFace",
    scale=_scale(64.0, (16.0, 64.0, True)),
    margin=_margin(0.5, "margin m (added to the angle, radians)", (0.2, 0.6, False)),
)
# s = 64, m = 0.5, t momentum 0.01, t starts at 0: Huang et al., "CurricularFace", CVPR 2020 (eq. 10-11).
_head(
    "curricularface",
    "CurricularFace: ArcFace target, hard negatives re-weighted by an EMA t",
    "CurricularFace",
    display="CurricularFace",
    scale=_scale(64.0, (32.0, 64.0, True)),
    margin=_margin(0.5, "margin m (added to the angle, radians)", (0.3, 0.6, False)),
    t_alpha=_T_ALPHA,
)
# s = 64, m = 0.4, h = 0.333, t_alpha = 0.01: the paper's and its repo's training config (Kim et al., CVPR 2022).
_head(
    "adaface",
    "AdaFace: margin adapted to image quality through the feature norm",
    "AdaFace",
    display="AdaFace",
    scale=_scale(64.0, (32.0, 64.0, True)),
    margin=_margin(0.4, "margin m (adapted to the feature norm)", (0.2, 0.5, False)),
    h=Param(0.333, "feature-norm concentration h", lo=0.0, hi=1.0, search=(0.2, 0.5, False)),
    t_alpha=_T_ALPHA,
)
LOSSES.declare(
    "ae",
    "autoencoder / denoising autoencoder: reconstruction error of the clean target",
    f"{_RECON}:AEObjective",
    kind="reconstruction",
    display="AE",
    requires={"task": ("autoencoder",), "model.backbone": ("ae", "dae")},
    params={"recon_reduction": _RECON_REDUCTION},
)
# beta = 1: the ELBO of Kingma & Welling (2014); warm-up from 0 as in Bowman et al. (2016).
LOSSES.declare(
    "vae",
    "VAE: recon + beta * KL (beta-VAE, Higgins et al. 2017), optional linear beta warm-up",
    f"{_RECON}:VAEObjective",
    kind="reconstruction",
    display="VAE",
    requires={"task": ("autoencoder",), "model.backbone": ("vae",)},
    params={
        "beta": Param(1.0, "KL weight beta", lo=0.0, hi=1000.0, search=(0.05, 10.0, True)),
        "beta_warmup_epochs": Param(
            0, "epochs of linear beta warm-up from 0", lo=0, hi=10_000, search=(0.0, 1 / 3, False), per_epoch=True
        ),
        "recon_reduction": _RECON_REDUCTION,
    },
)


def create_loss(name: str, **kwargs: Any) -> nn.Module:
    """Loss ``name`` built from plain keyword arguments: its declared ``loss.*`` keys (a key left out takes its declared default) and, for a classification
    head (kind "head"), ``embedding_size`` and ``num_classes``."""
    variant = LOSSES.get(name)
    declared = {key: param.default for key, param in variant.params.items()}  # a key left out: its declared default
    return variant.load()(**{**declared, **kwargs})
