"""Datasets: the ``dataset`` registry, readers, decoded-tensor cache, splits, leakage guard, download.

Names are loaded lazily, as in ``facebench.eval``: ``facebench --help`` imports ``facebench.data.cli``, and
with it this package, which then imports neither numpy nor PIL. ``build`` registers every dataset when
imported (``registry.load_all`` does that); ``transforms`` is the only module here that needs torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ImageArray": "arrays", "PairIndex": "arrays", "TaskData": "arrays", "DATASETS": "build",
    "build_task_data": "build", "Pairs": "pairs", "check_no_leakage": "pairs", "read_pairs": "pairs",
    "synthetic_faces": "synthetic", "write_synthetic_lfw": "synthetic",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
