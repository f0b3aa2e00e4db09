"""PCA whitening of embeddings, fitted on the embeddings of training images only (``eval.whiten``).

The whitened-PCA ("eigenfaces") floor scores pixels after exactly this treatment, so a learned embedding read
without it is compared at a disadvantage. The fit sees only training people (never a validation or test image):
centre on their mean, project on the top ``k`` principal directions and divide each by its standard deviation,
as ``sklearn.decomposition.PCA(whiten=True)`` does (the test suite checks against it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError

FIT_MAX = 20_000  # training images the whitening is fitted on at most (a fixed, seeded subset beyond)
EPS = 1e-8  # variance floor: a dead direction is not blown up to infinity


@dataclass(frozen=True)
class Whitening:
    mean: np.ndarray  # (D,)
    projection: np.ndarray  # (D, k): principal directions divided by their standard deviations

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) @ self.projection).astype(np.float32)


def fit_rows(n: int, *, seed: int = 0) -> np.ndarray:
    """The training rows the whitening is fitted on: all of them, or FIT_MAX of them drawn with ``seed``."""
    if n <= FIT_MAX:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, FIT_MAX, replace=False))


def fit_whitening(x: np.ndarray, components: int) -> Whitening:
    """Whitening with ``min(components, D, N - 1)`` components fitted on ``x`` (N, D)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2 or not np.isfinite(x).all():
        raise DataError(f"eval.whiten: needs at least 2 finite training embeddings, got shape {x.shape}")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = max(1, min(components, x.shape[1], len(x) - 1))
    std = s[:k] / np.sqrt(len(x) - 1)
    return Whitening(mean, vt[:k].T / np.maximum(std, EPS))
