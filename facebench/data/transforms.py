"""The one place images become network inputs: uint8 NHWC from the cache -> float NCHW in [-1, 1].

Train, validation, test and the AE/VAE reconstruction target all go through ``to_input``; the VAE's
Tanh decoder output lives in the same [-1, 1] range, so ``to_uint8`` inverts it for image grids.
"""

from __future__ import annotations

import torch

MEAN = 0.5  # maps [0, 1] to [-1, 1]; the same for every channel and every dataset
STD = 0.5


def to_input(images_uint8: torch.Tensor, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) float in [-1, 1]."""
    x = images_uint8.permute(0, 3, 1, 2).to(dtype)
    return x.div_(255.0).sub_(MEAN).div_(STD)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) float in [-1, 1] -> (N, H, W, C) uint8."""
    x = (x.detach().float() * STD + MEAN).clamp_(0, 1).mul_(255).round_()
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous()
