"""Training augmentation presets (declared in ``facebench.data``), vectorised over a batch on the device.

Every preset maps a uint8 NHWC batch (as it comes from the decoded-tensor cache, already moved to
the training device) to a uint8 NHWC batch of the same shape; ``facebench.data.transforms.to_input``
then does the one normalisation. Randomness comes only from the ``torch.Generator`` passed in, so a
seed fixes every crop, flip and jitter factor, and a checkpoint can save and restore it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import AUGMENTATIONS

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

# ColorJitter(0.4, 0.4, 0.4) strengths: the common ResNet/CIFAR recipe (torchvision references, timm).
JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4}
# Rec. 601 luma weights, as torchvision's rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)


def crop_padding(size: int) -> int:
    """4 px of padding at 32 px (the CIFAR recipe), scaled with the image side: 8 at 64, 14 at 112."""
    return max(1, round(4 * size / 32))


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device).mul_(hi - lo).add_(lo)


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2 (x: N, H, W, C)."""
    flip = torch.rand(x.shape[0], generator=gen, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(2), x)


def random_crop(x: torch.Tensor, gen: torch.Generator, *, padding: int | None = None) -> torch.Tensor:
    """Zero-pad by ``padding`` px on every side and take a random crop of the original size per image."""
    n, h, w, _ = x.shape
    pad = crop_padding(max(h, w)) if padding is None else padding
    padded = torch.nn.functional.pad(x, (0, 0, pad, pad, pad, pad))  # NHWC: pads W then H
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (N, H, 1)
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (N, 1, W)
    return padded[torch.arange(n, device=x.device)[:, None, None], rows, cols]


def color_jitter(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    brightness: float = JITTER["brightness"],
    contrast: float = JITTER["contrast"],
    saturation: float = JITTER["saturation"],
) -> torch.Tensor:
    """Brightness, contrast, then saturation, each factor uniform in [1 - s, 1 + s] per image.

    Follows torchvision's definitions (blend with black, with the mean grey level, with the grey
    image) in a fixed order; saturation is skipped for single-channel images.
    """
    n, c = x.shape[0], x.shape[-1]
    y = x.float()
    b = _uniform(n, 1 - brightness, 1 + brightness, gen, x.device)[:, None, None, None]
    y = (y * b).clamp_(0, 255)
    k = _uniform(n, 1 - contrast, 1 + contrast, gen, x.device)[:, None, None, None]
    mean = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
    y = (k * y + (1 - k) * mean).clamp_(0, 255)
    s = _uniform(n, 1 - saturation, 1 + saturation, gen, x.device)[:, None, None, None]
    if c == 3:
        y = (s * y + (1 - s) * _gray(y)).clamp_(0, 255)
    return y.round_().to(torch.uint8)


def _gray(y: torch.Tensor) -> torch.Tensor:
    if y.shape[-1] == 1:
        return y
    w = torch.tensor(_LUMA, dtype=y.dtype, device=y.device)
    return (y * w).sum(dim=-1, keepdim=True)


def identity(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return x


def crop_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return random_flip(random_crop(x, gen), gen)


def crop_flip_jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return color_jitter(random_flip(random_crop(x, gen), gen), gen)


def get_augmentation(name: str) -> Augment:
    return AUGMENTATIONS.get(name).load()
