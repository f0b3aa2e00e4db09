"""The containers every stage receives from the data layer (see docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ImageArray:
    """Decoded images, ready for training: uint8 NHWC, usually a read-only memmap from the cache."""

    images: np.ndarray
    labels: np.ndarray
    names: list[str]
    classes: list[str]

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, C), got {self.images.dtype} {self.images.shape}")
        if not (len(self.images) == len(self.labels) == len(self.names)):
            raise ValueError(
                f"images/labels/names lengths differ: {len(self.images)}, {len(self.labels)}, {len(self.names)}"
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def identities(self) -> set[str]:
        """Names of the identities / classes that actually occur."""
        return {self.classes[i] for i in np.unique(self.labels)}

    def subset(self, rows: np.ndarray, *, relabel: bool = False) -> ImageArray:
        """Rows ``rows`` (a copy unless they form a slice); ``relabel`` re-indexes labels to 0..n-1."""
        rows = np.asarray(rows, dtype=np.int64)
        images = _take(self.images, rows)
        labels = self.labels[rows]
        classes = list(self.classes)
        if relabel:
            used, labels = np.unique(labels, return_inverse=True)
            classes = [self.classes[i] for i in used]
        return ImageArray(images, labels, [self.names[i] for i in rows], classes)


def _take(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    # A contiguous run stays a view of the memmap, so nothing is copied into RAM.
    if len(rows) and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        return images[rows[0] : rows[0] + len(rows)]
    return images[rows]


@dataclass
class PairIndex:
    """Verification pairs as row indices into an ImageArray."""

    a: np.ndarray
    b: np.ndarray
    same: np.ndarray
    fold: np.ndarray

    def __post_init__(self) -> None:
        self.a = np.asarray(self.a, dtype=np.int64)
        self.b = np.asarray(self.b, dtype=np.int64)
        self.same = np.asarray(self.same, dtype=bool)
        self.fold = np.asarray(self.fold, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.a)

    @property
    def num_folds(self) -> int:
        return len(np.unique(self.fold))


@dataclass
class TaskData:
    train: ImageArray
    val: ImageArray
    val_pairs: PairIndex | None
    test: ImageArray
    test_pairs: PairIndex | None
    num_classes: int
    describe: dict = field(default_factory=dict)
