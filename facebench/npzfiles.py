"""npz arrays, written atomically and read without pickles (headers checked before anything is allocated)."""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import DataError
from .io import atomic_path
from .resources import check_npz_headers


def save_npz(path: str | Path, *, compressed: bool = False, **arrays: Any) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            (np.savez_compressed if compressed else np.savez)(f, **arrays)


def load_npz(source: str | os.PathLike | bytes | BinaryIO, *, name: str = "") -> dict[str, np.ndarray]:
    """Every array of an npz (a path, its bytes or an open file); no pickles, and headers checked before anything
    is allocated (``facebench.resources.check_npz_headers``). Unreadable: DataError naming it."""
    label = name or str(source if isinstance(source, (str, os.PathLike)) else "npz data")
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        check_npz_headers(data, label=label)
        with np.load(data, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{label}: not a readable .npz file ({' '.join(str(e).split())[:160]})") from None
