"""Datasets and augmentations: each declared once here (registries ``dataset`` and ``augmentation``);
readers, decoded-tensor cache, splits, leakage guard, download in the modules beside.

Names are loaded lazily, as in ``facebench.eval``: ``facebench --help`` imports ``facebench.data.cli``, and
with it this package, which then imports neither numpy nor PIL; config validation reads the declarations
below. ``transforms`` and ``augment`` are the only modules here that need torch.

A dataset's callable builds the trial's arrays: ``fn(cfg, *, progress) -> TaskData``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..params import Param
from ..registry import Registry

DATASETS = Registry("dataset", key="data.train")
AUGMENTATIONS = Registry("augmentation", key="train.augment")

_FACES = {"task": ("face", "autoencoder")}
_BUILD = "facebench.data.build"
# kind "files": read from data.root; "generated": drawn in memory, needs no root.
DATASETS.declare(
    "synthetic",
    "face-like synthetic identities drawn with numpy, deterministic by seed "
    "(data.synthetic_*); 10 of them as classes for task cifar",
    f"{_BUILD}:synthetic_task",
    kind="generated",
)
DATASETS.declare(
    "lfw_people",
    "LFW people of the folds data.train_folds (data.root: LFW folder + pairs.txt); tested on the other folds",
    f"{_BUILD}:lfw_people_task",
    kind="files",
    requires=_FACES,
    params={"train_folds": Param("0-4", "LFW folds whose people train the model, e.g. '0-4' or '0,2,4'")},
)
DATASETS.declare(
    "identity_folder",
    "one folder of images per identity (CASIA-WebFace layout); tested on all LFW folds at data.test_root",
    f"{_BUILD}:identity_folder_task",
    kind="files",
    requires=_FACES,
)
DATASETS.declare(
    "recordio",
    "InsightFace RecordIO (data.root: folder with train.rec, train.idx, property; CASIA "
    "faces_webface_112x112, MS1MV2, Glint360K); tested on all LFW folds at data.test_root",
    f"{_BUILD}:recordio_task",
    kind="files",
    requires=_FACES,
)
DATASETS.declare(
    "att_faces",
    "AT&T (ORL) faces s<k>/<n>.pgm; tested on all LFW folds at data.test_root",
    f"{_BUILD}:att_faces_task",
    kind="files",
    requires=_FACES,
)
DATASETS.declare(
    "cifar10",
    "CIFAR-10: official python batches or train/test image folders",
    "facebench.data.cifar:build_cifar_task",
    kind="files",
    requires={"task": ("cifar",)},
)

_AUGMENT = "facebench.data.augment"
AUGMENTATIONS.declare("none", "no augmentation", f"{_AUGMENT}:identity")
AUGMENTATIONS.declare("flip", "random horizontal flip", f"{_AUGMENT}:random_flip")
AUGMENTATIONS.declare("crop_flip", "random crop with zero padding (4 px at 32, scaled) + flip", f"{_AUGMENT}:crop_flip")
AUGMENTATIONS.declare(
    "crop_flip_jitter", "crop_flip + colour jitter (brightness/contrast/saturation 0.4)", f"{_AUGMENT}:crop_flip_jitter"
)

_EXPORTS = {
    "ImageArray": "arrays",
    "PairIndex": "arrays",
    "TaskData": "arrays",
    "build_task_data": "build",
    "Pairs": "pairs",
    "check_no_leakage": "pairs",
    "read_pairs": "pairs",
    "synthetic_faces": "synthetic",
    "write_synthetic_lfw": "synthetic",
    "Decoding": "images",
}
__all__ = sorted([*_EXPORTS, "DATASETS", "AUGMENTATIONS"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
