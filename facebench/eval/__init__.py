"""Pure evaluation: verification (LFW k-fold protocol), classification metrics, paired comparison, embedding.

Arrays in, results out; training, sweeps, reports and ``facebench eval`` call the same functions. Names are
loaded lazily so that ``facebench --help`` (which imports ``facebench.eval.cli``) does not import numpy/torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# The choices eval's functions accept; facebench.config's eval.metric and eval.flip offer these.
METRICS = ("euclidean", "sqeuclidean", "cosine")  # verification scores: verification.pair_scores
FLIPS = ("none", "sum", "concat")  # flip fusion of original and mirrored embeddings: embed.embed_images

_EXPORTS = {
    "pair_scores": "verification",
    "evaluate": "verification",
    "predict": "verification",
    "VerificationResult": "verification",
    "classification_metrics": "classification",
    "paired_comparison": "compare",
    "compare_verification": "compare",
    "Comparison": "compare",
    "embed_images": "embed",
    "read_embeddings": "files",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
