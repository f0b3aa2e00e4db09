"""InsightFace ``.bin`` verification sets (lfw.bin, cfp_fp.bin, agedb_30.bin, calfw.bin, cplfw.bin), read safely.

InsightFace writes them as ``pickle.dump((bins, issame_list), f)``: ``bins`` the encoded images, two per pair
(pair i is ``bins[2i]``, ``bins[2i + 1]``), ``issame_list`` one same-person flag per pair. Unpickling can run
any code a file names, so ``read_bin`` admits only the builtin containers, bytes, bools and numpy bool arrays
(the three numpy functions that rebuild an array); any other global is refused before anything runs.

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

BIN_FOLDS = 10
_PICKLE_PROTOCOL = 4  # what InsightFace's Python 3 scripts write with HIGHEST_PROTOCOL on 3.7; readable by 3.4+


def _numpy_rebuilders() -> dict[tuple[str, str], object]:
    # The functions numpy's own __reduce_ex__ names (their module moved from numpy.core to numpy._core in 2.0),
    # asked of numpy itself rather than spelled out, plus the spellings older files carry.
    probe = np.zeros(2, dtype=bool)
    reconstruct, frombuffer = probe.__reduce_ex__(2)[0], probe.__reduce_ex__(5)[0]
    out: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(module, "_reconstruct")] = reconstruct
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        out[(module, "_frombuffer")] = frombuffer
    out[("_codecs", "encode")] = _latin1  # how protocols 0-2 spell bytes in Python 3
    return out


def _latin1(text: str, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise DataError(f"refused: _codecs.encode with {encoding!r} is not how a pickle spells bytes")
    return text.encode("latin1")


class _Restricted(pickle.Unpickler):
    def __init__(self, fh, *, where: str) -> None:
        super().__init__(fh, encoding="bytes")  # Python 2 files hold str images: keep them as bytes
        self.where = where
        self.allowed = _numpy_rebuilders()

    def find_class(self, module: str, name: str):
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        raise DataError(f"{self.where}: refused: the pickle names {module}.{name}; a .bin verification set holds "
                        "only bytes, bools, lists/tuples and numpy bool arrays (nothing was executed)")

    def persistent_load(self, pid):
        raise DataError(f"{self.where}: refused: the pickle uses persistent ids (nothing was executed)")


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
    try:
        with open(path, "rb") as fh:
            obj = _Restricted(fh, where=str(path)).load()
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - a truncated or foreign pickle raises any of a dozen types
        raise DataError(f"{path}: not a .bin verification set ({type(e).__name__}: {e})") from None
    return _check(path, obj)


def _check(path: Path, obj: object) -> BinSet:
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
    return BinSet(path, [bytes(b) for b in images], same)


def write_bin(path: str | Path, images: list[bytes], same: list[bool]) -> None:
    """InsightFace's layout, atomically: ``pickle.dump((images, same), f)``, two images per pair."""
    if len(images) != 2 * len(same):
        raise ValueError(f"{len(images)} images for {len(same)} pairs")
    buf = io.BytesIO()
    pickle.dump(([bytes(b) for b in images], [bool(s) for s in same]), buf, protocol=_PICKLE_PROTOCOL)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
