"""Datasets: the ``dataset`` registry, readers, decoded-tensor cache, splits, leakage guard, download.

Importing this package registers every dataset and imports no torch (the CLI and ``facebench list``
stay fast); ``transforms`` is the only module here that needs torch.
"""

from __future__ import annotations

from .arrays import ImageArray, PairIndex, TaskData
from .build import DATASETS, build_task_data
from .pairs import Pairs, check_no_leakage, read_pairs
from .synthetic import synthetic_faces, write_synthetic_lfw

__all__ = ["DATASETS", "ImageArray", "PairIndex", "Pairs", "TaskData", "build_task_data", "check_no_leakage",
           "read_pairs", "synthetic_faces", "write_synthetic_lfw"]
