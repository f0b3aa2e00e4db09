"""The cifar task: CIFAR-10 (official python batches or image folders) or synthetic identities as 10 classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import TrialConfig
from ..errors import ConfigError, DataError
from .arrays import ImageArray, TaskData
from .cache import cached_images, default_cache_dir, fingerprint, get_or_build, read_manifest
from .images import Decoding, prepare_array
from .layouts import (
    check_ten_classes,
    cifar_batch_files,
    cifar_classes,
    find_cifar,
    list_class_folder,
    read_cifar_batch,
)
from .splits import select_rows
from .synthetic import synthetic_faces

SYNTHETIC_CLASSES = 10


def load_cifar_split(root: str | Path, split: str, how: Decoding, *, classes: list[str] | None = None) -> ImageArray:
    """One CIFAR-10 split ("train" or "test") from either layout, through the decoded cache."""
    layout, where = find_cifar(root)
    if layout == "folder":
        names, labels, classes = list_class_folder(where / split, classes)
        check_ten_classes(where / split, classes, labels)
        images = cached_images(where / split, names, how)
        return ImageArray(images, labels, names, classes)
    files = cifar_batch_files(where, split)
    params = {"kind": "cifar-batches", "fingerprint": fingerprint(where, [f.name for f in files]), **how.key_params()}
    cache_dir = how.cache_dir

    def fill(out: np.ndarray) -> dict:
        start, labels = 0, []
        for f in files:
            images, lab = read_cifar_batch(f)
            if start + len(images) > len(out):
                raise DataError(f"{f}: batch sizes changed while reading")
            out[start : start + len(images)] = prepare_array(images, **how.key_params())
            start += len(images)
            labels.append(lab)
        return {"labels": np.concatenate(labels).tolist()}

    try:  # a complete entry knows N; otherwise unpickle the batches once to count rows
        n = read_manifest(params, cache_dir=cache_dir)["shape"][0]
    except (OSError, KeyError, ValueError):
        n = _count_rows(files)
    images = get_or_build(
        params,
        (n, *how.shape),
        fill,
        cache_dir=cache_dir,
        manifest={"source": str(where), "batches": [f.name for f in files]},
    )
    labels = read_manifest(params, cache_dir=cache_dir)["labels"]
    return ImageArray(images, np.asarray(labels), [f"{split}/{i:05d}" for i in range(n)], cifar_classes(where))


def _count_rows(files: list[Path]) -> int:
    # Reading the labels is the cheap way to know N before allocating the cache entry.
    return sum(len(read_cifar_batch(f)[1]) for f in files)


def build_cifar_task(cfg: TrialConfig, *, progress: bool = False) -> TaskData:
    d = cfg.data
    if d.test not in ("auto", "cifar10" if d.train == "cifar10" else "synthetic"):
        raise ConfigError(
            f"data.test: {d.test!r} is not a classification test set for data.train={d.train!r}; use 'auto'"
        )
    if d.train == "synthetic":
        full, test = _synthetic_classes(cfg)
    else:
        how = Decoding.of(d, progress=progress)
        full = load_cifar_split(d.root, "train", how)
        test = load_cifar_split(d.test_root or d.root, "test", how, classes=full.classes)
    train_rows, val_rows = select_rows(full.labels, fraction=d.val_fraction, seed=cfg.train.seed, limit=d.limit)
    train, val = full.subset(train_rows), full.subset(val_rows)
    describe = {
        "task": "cifar",
        "train_dataset": d.train,
        "train_root": d.root,
        "train_images": len(train),
        "val_images": len(val),
        "test": "cifar10" if d.train == "cifar10" else "synthetic",
        "test_root": d.test_root or d.root,
        "test_images": len(test),
        "classes": full.classes,
        "cache_dir": str(default_cache_dir(d.cache_dir)),
        "image_size": d.image_size,
        "crop": d.crop,
        "color": d.color,
    }
    return TaskData(train, val, None, test, None, num_classes=len(full.classes), describe=describe)


def _synthetic_classes(cfg: TrialConfig) -> tuple[ImageArray, ImageArray]:
    """10 synthetic identities as classes, with as many images in all as the face setting would draw."""
    d = cfg.data
    per_class = max(d.synthetic_images, d.synthetic_identities * d.synthetic_images // SYNTHETIC_CLASSES)
    per_test = max(2, per_class // 5)
    faces = synthetic_faces(
        identities=SYNTHETIC_CLASSES, images_per_identity=per_class + per_test, seed=d.synthetic_seed, stream="cifar"
    )
    faces.images = prepare_array(faces.images, size=d.image_size, crop=d.crop, color=d.color)
    is_test = (np.arange(len(faces)) % (per_class + per_test)) >= per_class
    return faces.subset(np.flatnonzero(~is_test)), faces.subset(np.flatnonzero(is_test))
