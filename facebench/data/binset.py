"""InsightFace ``.bin`` verification sets (lfw.bin, cfp_fp.bin, agedb_30.bin, calfw.bin, cplfw.bin), read safely.

InsightFace writes them as ``pickle.dump((bins, issame_list), f)``: ``bins`` the encoded images, two per pair
(pair i is ``bins[2i]``, ``bins[2i + 1]``), ``issame_list`` one same-person flag per pair. Unpickling can run
any code a file names, so ``read_bin`` unpickles with ``safepickle.restricted_load`` (builtin containers, bytes,
numbers and numpy arrays only; any other global is refused before anything runs) and then admits only bytes and
bools or a numpy bool array.

The protocol on them is InsightFace's and LFW's: 10 contiguous folds in file order.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import atomic_path
from .safepickle import restricted_load

BIN_FOLDS = 10
_PICKLE_PROTOCOL = 4  # what InsightFace's Python 3 scripts write with HIGHEST_PROTOCOL on 3.7; readable by 3.4+


@dataclass
class BinSet:
    """A ``.bin`` set: encoded images (two per pair) and the pairs' same flags, in file order."""

    path: Path
    images: list[bytes]
    same: np.ndarray

    def __len__(self) -> int:
        return len(self.same)

    @property
    def fold(self) -> np.ndarray:
        """10 contiguous folds in file order (600 pairs each for LFW's 6,000)."""
        return (np.arange(len(self.same)) * BIN_FOLDS) // len(self.same)


def read_bin(path: str | Path) -> BinSet:
    """Unpickle ``path`` with the restricted unpickler and check its shape; every problem is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    obj = restricted_load(
        path, what="a .bin verification set", holds="bytes, bools, lists/tuples and numpy bool arrays"
    )
    return check_bin(path, obj)


def check_bin(path: Path, obj: object) -> BinSet:
    if not isinstance(obj, (tuple, list)) or len(obj) != 2:
        raise DataError(f"{path}: expected a pickled pair (images, same flags), got {type(obj).__name__}")
    images, flags = obj
    if not isinstance(images, (list, tuple)):
        raise DataError(f"{path}: the images must be a list of encoded images, got {type(images).__name__}")
    bad = next((i for i, b in enumerate(images) if not isinstance(b, (bytes, bytearray))), None)
    if bad is not None:
        raise DataError(f"{path}: image {bad} is {type(images[bad]).__name__}, not encoded bytes")
    if isinstance(flags, np.ndarray):
        if flags.dtype != bool or flags.ndim != 1:
            raise DataError(f"{path}: the same flags must be a 1-D bool array, got {flags.dtype} {flags.shape}")
    elif not isinstance(flags, (list, tuple)) or not all(isinstance(f, bool) for f in flags):
        raise DataError(f"{path}: the same flags must be a list of bools")
    same = np.asarray(flags, dtype=bool)
    if len(images) != 2 * len(same):
        raise DataError(f"{path}: {len(images)} images for {len(same)} pairs; a .bin holds 2 images per pair")
    if len(same) < BIN_FOLDS:
        raise DataError(f"{path}: {len(same)} pairs, fewer than the protocol's {BIN_FOLDS} folds")
    if same.all() or not same.any():
        raise DataError(f"{path}: every pair is {'same' if same.all() else 'different'}; verification needs both")
    _check_distinct(path, images, same)
    return BinSet(path, [bytes(b) for b in images], same)


def _check_distinct(path: Path, images: list, same: np.ndarray) -> None:
    """A pair whose two images are the same bytes (a self-pair), or the same two images given twice (counted double;
    contradictory when the flags differ), is refused: the set's score would not mean what it says."""
    import hashlib

    digest = [hashlib.blake2b(bytes(b), digest_size=16).digest() for b in images]
    seen: dict[tuple[bytes, bytes], int] = {}
    for i in range(len(same)):
        a, b = digest[2 * i], digest[2 * i + 1]
        if a == b:
            raise DataError(f"{path}: pair {i} (from 0) compares an image with itself (both images are the same bytes)")
        j = seen.setdefault((min(a, b), max(a, b)), i)
        if j != i:
            verdict = (
                "labelled both same and different (contradictory)"
                if same[i] != same[j]
                else "given twice (a duplicate counts double)"
            )
            raise DataError(f"{path}: pair {i} repeats pair {j} (pairs counted from 0), {verdict}")


def write_bin(path: str | Path, images: list[bytes], same: list[bool]) -> None:
    """InsightFace's layout, atomically: ``pickle.dump((images, same), f)``, two images per pair."""
    if len(images) != 2 * len(same):
        raise ValueError(f"{len(images)} images for {len(same)} pairs")
    buf = io.BytesIO()
    pickle.dump(([bytes(b) for b in images], [bool(s) for s in same]), buf, protocol=_PICKLE_PROTOCOL)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
