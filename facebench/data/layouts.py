"""On-disk layouts: find and list LFW, identity folders (CASIA-WebFace style), AT&T and CIFAR-10.

Listing never decodes an image; it only walks directories, so ``facebench data check`` stays fast.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from .images import is_image
from .safepickle import restricted_load

LFW_IMAGE_DIRS = ("lfw-deepfunneled", "lfw_funneled", "lfw-funneled", "lfw")
CIFAR_BATCH_DIR = "cifar-10-batches-py"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_ATT_DIR = re.compile(r"^s\d+$")
# What an LFW root holds, said in every "not found" message so the user sees what was looked for.
LFW_LAYOUT = "a folder holding lfw-deepfunneled/<Person>/<Person>_<NNNN>.jpg (or lfw_funneled/, lfw/) and pairs.txt"


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted((Path(e.path) for e in os.scandir(path) if e.is_dir()), key=lambda p: p.name)
    except OSError as e:
        raise DataError(f"{path}: cannot list directory ({e.strerror})") from None


def list_identity_folder(root: str | Path) -> dict[str, list[str]]:
    """identity -> sorted relative image names ``identity/file``; an identity folder with no image is a DataError."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"{root}: not a directory (looked for {root.absolute()}; expected one folder of images per "
            "identity: <root>/<identity>/<image>)"
        )
    out: dict[str, list[str]] = {}
    for d in _subdirs(root):
        files = sorted(e.name for e in os.scandir(d) if e.is_file() and is_image(e.name))
        if not files:
            raise DataError(f"{d}: identity folder has no images")
        out[d.name] = [f"{d.name}/{f}" for f in files]
    if not out:
        raise DataError(f"{root}: no identity folders (expected <identity>/<image> files)")
    return out


def find_lfw(root: str | Path, *, key: str = "LFW root") -> tuple[Path, Path | None]:
    """(image folder, pairs.txt or None) for ``root`` = the folder holding lfw-deepfunneled/ etc. or the image folder.

    ``key`` names the setting the path came from (``data.root``), for the message when it is not there."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"{key}={str(root)!r}: LFW root not found: looked for the folder {root.absolute()} "
            f"({'it is a file' if root.exists() else 'no such folder'}); expected {LFW_LAYOUT}"
        )
    for name in LFW_IMAGE_DIRS:
        # ``lfw/`` is both the original image folder and a common name for the folder holding it.
        if (root / name).is_dir() and not _is_lfw_root(root / name):
            pairs = root / "pairs.txt"
            return root / name, pairs if pairs.is_file() else None
    for pairs in (root / "pairs.txt", root.parent / "pairs.txt"):
        if pairs.is_file():
            return root, pairs
    return root, None


def _is_lfw_root(path: Path) -> bool:
    return (path / "pairs.txt").is_file() or any((path / n).is_dir() for n in LFW_IMAGE_DIRS)


def list_att(root: str | Path) -> dict[str, list[str]]:
    folders = list_identity_folder(root)
    bad = [k for k in folders if not _ATT_DIR.match(k)]
    if bad:
        raise DataError(f"{Path(root) / bad[0]}: not an AT&T folder name (expected s<k>)")
    return folders


def find_cifar(root: str | Path) -> tuple[str, Path]:
    """("batches", dir with data_batch_*) or ("folder", dir with train/ and test/); DataError otherwise."""
    root = Path(root)
    for d in (root / CIFAR_BATCH_DIR, root):
        if (d / "data_batch_1").is_file() or (d / "test_batch").is_file():
            return "batches", d
    if (root / "train").is_dir() and (root / "test").is_dir():
        return "folder", root
    raise DataError(
        f"{root}: not a CIFAR-10 root (expected {CIFAR_BATCH_DIR}/ with data_batch_1..5 and "
        "test_batch, or train/<class>/ and test/<class>/ image folders)"
    )


def cifar_batch_files(batch_dir: Path, split: str) -> list[Path]:
    files = [batch_dir / n for n in (CIFAR_TRAIN_BATCHES if split == "train" else ("test_batch",))]
    for f in files:
        if not f.is_file():
            raise DataError(f"{f}: CIFAR-10 batch file missing")
    return files


def _unpickle(path: Path) -> dict:
    # A batch in a data folder may come from anyone: no pickled code runs (facebench.data.safepickle).
    obj = restricted_load(path, what="a CIFAR-10 python batch", holds="dicts, lists, bytes, numbers and numpy arrays")
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a CIFAR-10 python batch (top level is {type(obj).__name__})")
    return obj


def cifar_classes(batch_dir: Path) -> list[str]:
    meta = batch_dir / "batches.meta"
    if not meta.is_file():
        return list(CIFAR_CLASSES)
    names = _unpickle(meta).get(b"label_names")
    if not names:
        raise DataError(f"{meta}: no b'label_names'")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One official batch -> images (N, 32, 32, 3) uint8 and labels (N,) int64."""
    batch = _unpickle(path)
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if data is None or labels is None:
        raise DataError(f"{path}: CIFAR batch needs keys b'data' and b'labels', has {sorted(batch)}")
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise DataError(f"{path}: b'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(data),):
        raise DataError(f"{path}: {len(labels)} labels for {len(data)} images")
    # Rows are 1024 red, 1024 green, 1024 blue values, each plane row-major.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def list_class_folder(split_dir: Path, classes: list[str] | None = None) -> tuple[list[str], np.ndarray, list[str]]:
    """(names ``class/file``, labels, classes) for an image-folder split; classes default to its sorted subfolders."""
    folders = list_identity_folder(split_dir)
    classes = classes or sorted(folders)
    unknown = sorted(set(folders) - set(classes))
    if unknown:
        raise DataError(f"{split_dir / unknown[0]}: class folder not in the training classes")
    names, labels = [], []
    for label, cls in enumerate(classes):
        files = folders.get(cls, [])
        names += files
        labels += [label] * len(files)
    return names, np.array(labels, dtype=np.int64), classes


def check_ten_classes(split_dir: Path, classes: list[str], labels: np.ndarray) -> None:
    """CIFAR-10 is 10 classes in train and in test: an extra folder (an 11-class "CIFAR-10") or a class
    without images (testing on 9) is refused by name instead of trained and scored."""
    if len(classes) != len(CIFAR_CLASSES):
        odd = sorted(set(classes) - set(CIFAR_CLASSES)) or sorted(set(CIFAR_CLASSES) - set(classes))
        raise DataError(
            f"{split_dir}: CIFAR-10 has 10 class folders, found {len(classes)} (check {', '.join(odd[:3])})"
        )
    empty = [c for i, c in enumerate(classes) if not (labels == i).any()]
    if empty:
        raise DataError(
            f"{split_dir / empty[0]}: no images of class {empty[0]!r} in this split; CIFAR-10 needs "
            "all 10 classes in train and test"
        )
