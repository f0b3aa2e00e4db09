"""ResNet-18/34/50 (He et al., 2016, torchvision layout) and PlainNet, the same nets without skips.

Convolutions carry no bias (BN follows); the stride of a Bottleneck sits on its 3x3 conv (torchvision's
"ResNet v1.5"). With the ``cifar`` stem, no neck and a 10-class linear head the parameter counts equal
torchvision's with the 7x7 stem swapped for a 3x3 one: 11,173,962 (ResNet-18), 23,520,842 (ResNet-50).
"""

from __future__ import annotations

import torch
from torch import nn

from .common import EmbeddingNet, Neck, check_no_neck_dropout, check_no_neck_size, neck_embedding_size, scaled

STAGE_CHANNELS = (64, 128, 256, 512)


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out)]


class _Block(nn.Module):
    """relu(branch(x) + shortcut(x)); PlainNet blocks have no shortcut: relu(branch(x))."""

    branch: nn.Sequential
    shortcut: nn.Module | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return torch.relu(out)


class BasicBlock(_Block):
    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int, *, skip: bool) -> None:
        super().__init__()
        c_out = planes * self.expansion
        self.branch = nn.Sequential(
            *_conv_bn(c_in, planes, 3, stride), nn.ReLU(inplace=True), *_conv_bn(planes, c_out, 3, 1)
        )
        self.shortcut = _shortcut(c_in, c_out, stride, skip)


class Bottleneck(_Block):
    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int, *, skip: bool) -> None:
        super().__init__()
        c_out = planes * self.expansion
        self.branch = nn.Sequential(
            *_conv_bn(c_in, planes, 1, 1),
            nn.ReLU(inplace=True),
            *_conv_bn(planes, planes, 3, stride),
            nn.ReLU(inplace=True),
            *_conv_bn(planes, c_out, 1, 1),
        )
        self.shortcut = _shortcut(c_in, c_out, stride, skip)


def _shortcut(c_in: int, c_out: int, stride: int, skip: bool) -> nn.Module | None:
    if not skip:
        return None  # PlainNet: no identity and no projection either
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return nn.Sequential(*_conv_bn(c_in, c_out, 1, stride))


def _stem(kind: str, c_in: int, c_out: int) -> nn.Sequential:
    if kind == "imagenet":
        return nn.Sequential(*_conv_bn(c_in, c_out, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
    stride = 1 if kind == "cifar" else 2  # "stride2": halve once, keep detail a max-pool would drop
    return nn.Sequential(*_conv_bn(c_in, c_out, 3, stride), nn.ReLU(inplace=True))


def _trunk(
    block: type, layers: tuple[int, ...], *, in_channels: int, width: float, stem: str, skip: bool
) -> tuple[nn.Sequential, int]:
    c = scaled(STAGE_CHANNELS[0], width)
    modules: list[nn.Module] = [_stem(stem, in_channels, c)]
    for i, (base, n) in enumerate(zip(STAGE_CHANNELS, layers)):
        planes = scaled(base, width)
        blocks = []
        for j in range(n):
            blocks.append(block(c, planes, 2 if (i > 0 and j == 0) else 1, skip=skip))
            c = planes * block.expansion
        modules.append(nn.Sequential(*blocks))
    return nn.Sequential(*modules), c


def _init(model: nn.Module, *, zero_init_residual: bool) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        # Goyal et al. 2017: each residual block starts as the identity, which eases early training.
        for m in model.modules():
            if isinstance(m, _Block):
                nn.init.zeros_(m.branch[-1].weight)


_LAYERS: dict[int, tuple[type, tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
}


def _head(
    channels: int, *, backbone: str, width: float, neck: bool, embedding_size: int | None, dropout: float
) -> tuple[nn.Module, int]:
    """The pooled head over ``channels`` features and its embedding size: the neck, or the pooled features."""
    if neck:
        size = neck_embedding_size(embedding_size)
        return Neck(
            channels=channels, pool=nn.AdaptiveAvgPool2d(1), pooled_cells=1, embedding_size=size, dropout=dropout
        ), size
    check_no_neck_dropout(dropout)
    check_no_neck_size(embedding_size, channels, backbone=backbone, width=width)
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1)), channels


def build_resnet(
    *,
    depth: int,
    skip: bool,
    input_size: tuple[int, int, int],
    width: float,
    stem: str,
    zero_init_residual: bool = False,
    **neck: object,
) -> EmbeddingNet:
    """ResNet-``depth`` (``skip``) or PlainNet-``depth`` for (C, H, W) ``input_size``; the other keyword
    arguments are the declared model.* keys, ``neck`` the neck's (``neck``, ``embedding_size``, ``dropout``).

    ``zero_init_residual`` is declared for the residual nets only (facebench.models). The classifier is the
    loss head (facebench.losses).
    """
    block, layers = _LAYERS[depth]
    features, channels = _trunk(block, layers, in_channels=input_size[0], width=width, stem=stem, skip=skip)
    backbone = f"{'resnet' if skip else 'plainnet'}{depth}"
    head, size = _head(channels, backbone=backbone, width=width, **neck)
    net = EmbeddingNet(features, head, embedding_size=size)
    _init(net, zero_init_residual=zero_init_residual)
    return net
