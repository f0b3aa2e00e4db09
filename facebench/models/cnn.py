"""The CIFAR-10 loss study's baseline CNN (the Keras CIFAR-10 tutorial network).

conv3x3x32 - maxpool - conv3x3x64 - maxpool - conv3x3x64 - fc64 [embedding] (- fc n: the loss head).
Convolutions are unpadded ("valid") with bias and ReLU, no BN: 32 -> 30 -> 15 -> 13 -> 6 -> 4, so the
flatten is 64*4*4 = 1024 and with a 10-class linear head the total is 122,570 parameters, the CIFAR-10
loss study's count. An adaptive 4x4 average pool before the flatten (the identity at 32 px) lets any input of at
least 18 px use the same fc64; larger inputs are averaged down to the 4x4 grid the fc64 was sized for.
"""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from .common import EmbeddingNet, Neck, check_no_neck_dropout, neck_embedding_size, scaled

FC_WIDTH = 64  # the CIFAR-10 loss study's Dense(64) embedding
GRID = 4  # the 4x4 map that study's flatten sees at 32 px
MIN_SIZE = 18  # smallest input whose last conv still has a 1x1 output


def build_cnn(
    *, input_size: tuple[int, int, int], width: float, neck: bool, embedding_size: int | None, dropout: float
) -> EmbeddingNet:
    """Baseline CNN: 3 unpadded 3x3 convs + fc64 (122,570 params with a 10-class head at 32 px)."""
    in_channels, image_size, _ = input_size
    if image_size < MIN_SIZE:
        raise ConfigError(f"data.image_size={image_size}: backbone 'cnn' needs at least {MIN_SIZE} px")
    c1, c2 = scaled(32, width), scaled(64, width)
    features = nn.Sequential(
        nn.Conv2d(in_channels, c1, 3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(c2, c2, 3),
        nn.ReLU(inplace=True),
    )
    pool = nn.AdaptiveAvgPool2d(GRID)
    if neck:
        size = neck_embedding_size(embedding_size)
        head: nn.Module = Neck(channels=c2, pool=pool, pooled_cells=GRID * GRID, embedding_size=size, dropout=dropout)
    else:
        check_no_neck_dropout(dropout)
        # The study's Dense(64, relu): its width is the embedding size, so embedding_size sets it.
        size = embedding_size or FC_WIDTH
        head = nn.Sequential(pool, nn.Flatten(1), nn.Linear(c2 * GRID * GRID, size), nn.ReLU(inplace=True))
    return EmbeddingNet(features, head, embedding_size=size)
