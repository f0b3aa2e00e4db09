"""Pieces shared by every embedding backbone: the face-embedding neck, the wrapper, neck checks."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

DEFAULT_NECK_EMBEDDING = 512  # InsightFace IResNet / ArcFace embedding size


def scaled(channels: int, width: float) -> int:
    """Channel count under the ``model.width`` multiplier (at least 1, so width 0.01 still builds)."""
    return max(1, int(round(channels * width)))


class Neck(nn.Module):
    """BN2d -> pool -> dropout -> FC -> BN1d: the InsightFace IResNet output block, with pooling.

    IResNet flattens the whole 7x7 map; here the map is pooled first (``pool``) so any input size works.
    The FC has no bias because BN1d follows it.
    """

    def __init__(
        self, *, channels: int, pool: nn.Module, pooled_cells: int, embedding_size: int, dropout: float
    ) -> None:
        super().__init__()
        self.bn2d = nn.BatchNorm2d(channels)
        self.pool = pool
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels * pooled_cells, embedding_size, bias=False)
        self.bn1d = nn.BatchNorm1d(embedding_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.pool(self.bn2d(x)), 1)
        return self.bn1d(self.fc(self.dropout(x)))


class EmbeddingNet(nn.Module):
    """``features`` (a conv trunk, NCHW -> NCHW) followed by ``head`` (NCHW -> (B, D)).

    ``model(x)`` and ``model.encode(x)`` both give the (B, embedding_size) embedding.
    """

    is_autoencoder = False

    def __init__(self, features: nn.Module, head: nn.Module, *, embedding_size: int) -> None:
        super().__init__()
        self.features = features
        self.head = head
        self.embedding_size = embedding_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


def neck_embedding_size(embedding_size: int | None) -> int:
    return embedding_size or DEFAULT_NECK_EMBEDDING


def check_no_neck_dropout(dropout: float) -> None:
    """model.dropout acts inside the neck; without one it would be silently ignored."""
    if dropout:
        raise ConfigError("model.dropout is applied in the neck; it needs model.neck=true")


def check_no_neck_size(embedding_size: int | None, natural: int, *, backbone: str, width: float) -> None:
    """Without a neck the pooled features are the embedding; a different embedding_size cannot be honoured."""
    if embedding_size is not None and embedding_size != natural:
        raise ConfigError(
            f"model.embedding_size={embedding_size} needs model.neck=true: without the neck, backbone "
            f"{backbone!r} at model.width={width} gives {natural} features"
        )
