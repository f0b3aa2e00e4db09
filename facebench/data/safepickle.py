"""Unpickling data files without running their code: CIFAR-10's python batches, InsightFace's ``.bin`` sets.

A pickle can name any importable callable and have it called while loading. ``restricted_load`` admits only what
those formats are made of: the builtin containers, bytes, numbers and strings (pickle opcodes, no globals) and
numpy arrays (``numpy.ndarray``, ``numpy.dtype`` and numpy's own two array-rebuilding functions); ``_codecs.encode``
only as protocols 0-2 spell bytes (latin-1). Any other global is refused with one line before anything runs;
callers then check the types and shapes they expect.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError


def restricted_load(path: str | Path, *, what: str, holds: str) -> object:
    """The object pickled in ``path``; ``what``/``holds`` word the refusal (e.g. "a .bin verification set")."""
    try:
        with open(path, "rb") as fh:
            return _Restricted(fh, where=str(path), what=what, holds=holds).load()
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - a truncated or foreign pickle raises any of a dozen types
        raise DataError(f"{path}: not {what} ({type(e).__name__}: {e})") from None


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
    def __init__(self, fh, *, where: str, what: str, holds: str) -> None:
        super().__init__(fh, encoding="bytes")  # Python 2 files hold str data: keep it as bytes
        self.where, self.what, self.holds = where, what, holds
        self.allowed = _numpy_rebuilders()

    def find_class(self, module: str, name: str):
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        raise DataError(
            f"{self.where}: refused: the pickle names {module}.{name}; {self.what} holds only "
            f"{self.holds} (nothing was executed)"
        )

    def persistent_load(self, pid):
        raise DataError(f"{self.where}: refused: the pickle uses persistent ids (nothing was executed)")
