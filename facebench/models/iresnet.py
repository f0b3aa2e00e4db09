"""IResNet-18/34/50/100: InsightFace's face backbone (Deng et al., ArcFace; the ``arcface_torch`` definition).

Each block is BN -> conv3x3 -> BN -> PReLU -> conv3x3(stride) -> BN plus the shortcut (a 1x1 conv + BN where the
shape changes); every stage halves the map, so a 112x112 face ends as 512 x 7 x 7. The output block flattens that
map: BN2d -> dropout -> FC (with bias) -> BN1d whose scale is fixed at 1. Module names follow InsightFace's
``iresnet.py`` key for key, so at 112x112 with width 1 a state dict of theirs loads here unchanged.

Input convention: RGB, (x / 255 - 0.5) / 0.5, which is what ``facebench.data.transforms.to_input`` does for
every backbone; InsightFace's sets are aligned 112x112 crops (``data.image_size=112``, ``data.crop=1.0``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .common import neck_embedding_size, scaled

STAGE_CHANNELS = (64, 128, 256, 512)
LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3)}
CONV_INIT_STD = 0.1  # InsightFace initialises every conv from N(0, 0.1); its training recipes assume it


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False)


class IBasicBlock(nn.Module):
    def __init__(self, c_in: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = _conv(c_in, planes, 3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.prelu = nn.PReLU(planes)
        self.conv2 = _conv(planes, planes, 3, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or c_in != planes:
            self.downsample = nn.Sequential(_conv(c_in, planes, 1, stride), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return branch + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """``model(x)`` and ``model.encode(x)`` give the (B, embedding_size) embedding."""

    is_autoencoder = False

    def __init__(
        self,
        layers: tuple[int, ...],
        *,
        in_channels: int,
        image_size: int,
        width: float,
        embedding_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        c = scaled(STAGE_CHANNELS[0], width)
        self.conv1 = _conv(in_channels, c, 3)
        self.bn1 = nn.BatchNorm2d(c)
        self.prelu = nn.PReLU(c)
        side = image_size
        for i, (base, n) in enumerate(zip(STAGE_CHANNELS, layers)):
            planes = scaled(base, width)
            blocks = [IBasicBlock(c if j == 0 else planes, planes, 2 if j == 0 else 1) for j in range(n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c, side = planes, math.ceil(side / 2)  # a padded 3x3 conv of stride 2 gives ceil(n / 2)
        self.bn2 = nn.BatchNorm2d(c)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c * side * side, embedding_size)
        self.features = nn.BatchNorm1d(embedding_size)
        self.embedding_size = embedding_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(self.fc(self.dropout(torch.flatten(self.bn2(x), 1))))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


def _init(model: IResNet, *, zero_init_residual: bool) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, CONV_INIT_STD)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    # The embedding BN only centres and shifts: InsightFace fixes its scale at 1 and does not train it.
    model.features.weight.requires_grad_(False)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, IBasicBlock):
                nn.init.zeros_(m.bn3.weight)  # each residual branch starts at zero: the block is the identity


def build_iresnet(
    *,
    depth: int,
    input_size: tuple[int, int, int],
    width: float,
    embedding_size: int | None,
    dropout: float,
    zero_init_residual: bool,
) -> IResNet:
    """IResNet-``depth`` for (C, H, W) ``input_size``; the other keyword arguments are the declared model.* keys
    (facebench.models). The classifier is the loss head (facebench.losses)."""
    in_channels, image_size, _ = input_size
    net = IResNet(
        LAYERS[depth],
        in_channels=in_channels,
        image_size=image_size,
        width=width,
        embedding_size=neck_embedding_size(embedding_size),
        dropout=dropout,
    )
    _init(net, zero_init_residual=zero_init_residual)
    return net
