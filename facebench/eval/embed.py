"""The embedding step: uint8 images -> normalised network input -> embeddings, with optional flip fusion."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..data.transforms import to_input
from ..errors import ConfigError
from . import FLIPS


def embed_images(
    encode: Callable[[torch.Tensor], torch.Tensor],
    images_uint8_nhwc: np.ndarray,
    *,
    batch_size: int,
    flip: str = "none",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> np.ndarray:
    """Embed (N, H, W, C) uint8 images in batches; returns (N, D) float32 (2D for ``flip="concat"``).

    ``flip="sum"`` adds the embedding of the horizontally mirrored image, ``"concat"`` appends it. The caller
    puts the model in eval mode; this runs under ``torch.inference_mode``.
    """
    if flip not in FLIPS:
        raise ConfigError(f"eval.flip {flip!r} is not one of {', '.join(FLIPS)}")
    if batch_size < 1:
        raise ConfigError(f"eval.batch_size {batch_size} must be >= 1")
    images = np.asarray(images_uint8_nhwc)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ConfigError(f"images must be uint8 (N, H, W, C), got {images.dtype} {images.shape}")
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            # np.array copies: a read-only cache memmap cannot back a tensor.
            batch = torch.from_numpy(np.array(images[start : start + batch_size])).to(device)
            x = to_input(batch, dtype=dtype)
            emb = encode(x)
            if flip != "none":
                mirrored = encode(torch.flip(x, dims=[3]))
                emb = emb + mirrored if flip == "sum" else torch.cat([emb, mirrored], dim=1)
            out.append(emb.float().cpu().numpy())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out)
