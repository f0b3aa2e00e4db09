"""Decoding and resizing: the one path from a source image to the uint8 HWC array the cache stores.

Real files and synthetic arrays both go through ``prepare`` so crop, resize filter and colour mode
cannot drift between them.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import DataError


@dataclass(frozen=True)
class Decoding:
    """How source images become the cache's arrays, passed as one object: ``size`` (output side, px), ``crop``
    (central square, fraction of the shorter side), ``color`` ("rgb" or "gray"), where the cache lives
    (``cache_dir``, "" for the default), a progress bar, decoding threads (0: one per CPU). Only size, crop and
    colour enter a cache key (``key_params``)."""

    size: int
    crop: float = 1.0
    color: str = "rgb"
    cache_dir: str | Path = ""
    progress: bool = False
    workers: int = 0

    @classmethod
    def of(cls, data: Any, *, progress: bool = False) -> Decoding:
        """The decoding a config's ``data`` section asks for (image_size, crop, color, cache_dir)."""
        return cls(data.image_size, data.crop, data.color, data.cache_dir, progress)

    def key_params(self) -> dict[str, Any]:
        return {"size": self.size, "crop": float(self.crop), "color": self.color}

    @property
    def shape(self) -> tuple[int, int, int]:
        """One image's (H, W, C)."""
        return (self.size, self.size, 1 if self.color == "gray" else 3)


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".bmp", ".webp", ".tif", ".tiff")


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _crop_box(w: int, h: int, crop: float) -> tuple[float, float, float, float]:
    # A central square of side crop * min(w, h): faces keep their aspect ratio whatever the source shape.
    side = crop * min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    return (left, top, left + side, top + side)


def prepare(img: Image.Image, *, size: int, crop: float, color: str) -> np.ndarray:
    """PIL image -> (size, size, C) uint8, C = 3 (rgb) or 1 (gray)."""
    mode = "L" if color == "gray" else "RGB"
    if img.mode != mode:
        img = img.convert(mode)
    out = img.resize((size, size), Image.Resampling.BILINEAR, box=_crop_box(*img.size, crop))
    arr = np.asarray(out, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def decode_file(path: str | Path, *, size: int, crop: float, color: str) -> np.ndarray:
    """Decode one image file; a file PIL cannot read is a DataError naming it."""
    return _decode(path, str(path), size=size, crop=crop, color=color)


def decode_bytes(data: bytes, *, where: str, size: int, crop: float, color: str) -> np.ndarray:
    """Decode one encoded image held in memory (a RecordIO record, a ``.bin`` entry); ``where`` names it."""
    return _decode(io.BytesIO(data), where, size=size, crop=crop, color=color)


def _decode(source: str | Path | io.BytesIO, where: str, *, size: int, crop: float, color: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                w, h = img.size
                # JPEG DCT scaling decodes at 1/2, 1/4 or 1/8 resolution when the output is that much
                # smaller: 2-4x faster, and still at least the requested crop size.
                scale = size / (crop * min(w, h))
                img.draft("L" if color == "gray" else "RGB", (math.ceil(w * scale), math.ceil(h * scale)))
                img.load()
                return prepare(img, size=size, crop=crop, color=color)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"{where}: cannot decode image ({e})") from None


def prepare_array(images: np.ndarray, *, size: int, crop: float, color: str) -> np.ndarray:
    """uint8 (N, H, W, 3) in memory (CIFAR batches, synthetic faces) -> (N, size, size, C) via ``prepare``."""
    channels = 1 if color == "gray" else 3
    if crop == 1.0 and images.shape[1:] == (size, size, channels):
        return np.ascontiguousarray(images)  # resizing to the same size is the identity: skip 50,000 PIL calls
    out = np.empty((len(images), size, size, channels), dtype=np.uint8)
    for i, im in enumerate(images):
        out[i] = prepare(
            Image.fromarray(im.squeeze(-1) if im.shape[-1] == 1 else im), size=size, crop=crop, color=color
        )
    return out
