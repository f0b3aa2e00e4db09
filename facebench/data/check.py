"""``facebench data check PATH``: recognise a dataset layout, count it and decode every image once.

Decoding is what finds a zero-byte or truncated JPEG before a training run does; a failure names the file (or the
record / ``.bin`` entry) and is a DataError, like every other defect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .images import decode_bytes, decode_file
from .layouts import (
    check_ten_classes,
    cifar_batch_files,
    cifar_classes,
    find_cifar,
    find_lfw,
    list_att,
    list_class_folder,
    list_identity_folder,
    read_cifar_batch,
)
from .pairs import Pairs, read_pairs
from .recordio import find_recordio, read_recordio


def check_path(path: str | Path) -> list[str]:
    """Report lines for the dataset at ``path``; DataError if it is no dataset facebench reads."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.suffix == ".bin" or find_recordio(path) is not None:
        return _check_insightface(path)
    if path.is_file():
        return _check_pairs_file(path)
    try:
        layout, where = find_cifar(path)
    except DataError:
        layout = ""
    if layout == "batches":
        return _check_cifar_batches(where)
    if layout == "folder":
        return _check_cifar_folder(where)
    image_dir, pairs = find_lfw(path)
    if pairs is not None or image_dir != path:
        return _check_lfw(image_dir, pairs)
    try:
        folders = list_identity_folder(path)
    except DataError as e:
        raise DataError(
            f"{path}: not a dataset facebench reads (LFW folder + pairs.txt, identity folders, AT&T, "
            f"CIFAR-10 batches or image folders, or a pairs file): {e}"
        ) from None
    n = sum(len(v) for v in folders.values())
    decode_all([path / f for files in folders.values() for f in files])
    try:
        list_att(path)
        kind = "AT&T faces"
    except DataError:
        kind = "identity folder"
    return [f"{kind}: {path}", f"  {n:,} images of {len(folders):,} people"]


def _pairs_lines(pairs: Pairs, image_names: set[str] | None, image_dir: Path | None) -> list[str]:
    folds = pairs.folds
    per = [(int(np.sum(pairs.same[pairs.fold == f])), int(np.sum(~pairs.same[pairs.fold == f]))) for f in folds]
    split = (
        f"{per[0][0]} same / {per[0][1]} different each"
        if len(set(per)) == 1
        else "; ".join(f"fold {f}: {s}/{d}" for f, (s, d) in zip(folds, per))
    )
    lines = [f"  pairs: {len(pairs):,} pairs in {len(folds)} folds ({split}) from {pairs.source}"]
    people = pairs.people_of_folds()
    lines.append(f"  {sum(len(p) for p in people.values()):,} people in the pairs, each in exactly one fold")
    if image_names is not None:
        missing = sorted(set(pairs.names) - image_names)
        if missing:
            raise DataError(
                f"{pairs.source}: {len(missing)} pair images are missing from {image_dir} (e.g. {missing[0]})"
            )
        lines.append(f"  every pair image exists in {image_dir}")
    return lines


def _check_lfw(image_dir: Path, pairs_path: Path | None) -> list[str]:
    folders = list_identity_folder(image_dir)
    names = {n for files in folders.values() for n in files}
    decode_all([image_dir / n for n in sorted(names)])
    lines = [f"LFW: {image_dir}", f"  {len(names):,} images, {len(folders):,} people (every one decoded)"]
    if pairs_path is None:
        return lines + ["  no pairs.txt found beside the image folder"]
    return lines + _pairs_lines(read_pairs(pairs_path), names, image_dir)


def _check_pairs_file(path: Path) -> list[str]:
    pairs = read_pairs(path)
    image_dir, _ = find_lfw(path.parent)
    names = None
    if image_dir != path.parent or any(image_dir.iterdir()):
        try:
            folders = list_identity_folder(image_dir)
            names = {n for files in folders.values() for n in files}
        except DataError:
            names = None
    lines = [f"pairs file: {path}"] + _pairs_lines(pairs, names, image_dir if names is not None else None)
    if names is not None:
        decode_all([image_dir / n for n in pairs.names])
    return lines


def _check_insightface(path: Path) -> list[str]:
    if path.suffix == ".bin":
        from .binset import BIN_FOLDS, read_bin

        data = read_bin(path)
        decode_all(data.images, where=lambda i: f"{path}: image {i} (pair {i // 2}, from 0)")
        return [
            f"InsightFace .bin verification set: {path}",
            f"  {len(data):,} pairs ({int(data.same.sum()):,} positives), {len(data.images):,} encoded images, "
            f"{BIN_FOLDS} contiguous folds",
        ]
    rs = read_recordio(path)
    keys = [k for v in rs.identities.values() for k in v]
    decode_all(keys, where=lambda k: f"{rs.file.rec}: record {k}", read=lambda k: _record_image(rs, k))
    n = len(keys)
    prop = f"; property: {rs.property[0]:,} identities, {rs.property[1]}x{rs.property[2]}" if rs.property else ""
    return [
        f"InsightFace RecordIO training set: {rs.file.rec}",
        f"  {n:,} images of {len(rs.identities):,} identities{prop}",
    ]


def _check_cifar_batches(batch_dir: Path) -> list[str]:
    classes = cifar_classes(batch_dir)
    counts = {}
    for split in ("train", "test"):
        labels = np.concatenate([read_cifar_batch(f)[1] for f in cifar_batch_files(batch_dir, split)])
        bad = labels[(labels < 0) | (labels >= len(classes))]
        if len(bad):
            raise DataError(f"{batch_dir}: label {int(bad[0])} outside the {len(classes)} classes")
        counts[split] = len(labels)
    return [
        f"CIFAR-10 python batches: {batch_dir}",
        f"  {counts['train']:,} train / {counts['test']:,} test in {len(classes)} classes",
    ]


def _check_cifar_folder(root: Path) -> list[str]:
    train_names, train_labels, classes = list_class_folder(root / "train")
    check_ten_classes(root / "train", classes, train_labels)
    test_names, test_labels, _ = list_class_folder(root / "test", classes)
    check_ten_classes(root / "test", classes, test_labels)
    decode_all([root / "train" / n for n in train_names] + [root / "test" / n for n in test_names])
    return [
        f"CIFAR-10 image folders: {root}",
        f"  {len(train_names):,} train / {len(test_names):,} test in {len(classes)} classes",
    ]


def decode_all(items, *, where=None, read=None, progress: bool = True) -> None:
    """Decode every image of ``items`` (paths, encoded bytes, or keys ``read`` turns into bytes) at full size, with
    a progress bar on a terminal; the first that fails is a DataError naming it (``where(i)`` for held images)."""
    from tqdm import tqdm

    items = list(items)
    bar = tqdm(items, unit="img", desc="decoding", disable=not progress or None, leave=False)
    for i, item in enumerate(bar):
        if isinstance(item, Path):
            if item.stat().st_size == 0:
                raise DataError(f"{item}: empty file (0 bytes), not an image")
            decode_file(item, size=8, crop=1.0, color="rgb")
        else:
            data = read(item) if read else item
            name = where(item if read else i) if where else f"image {i}"
            if not data:
                raise DataError(f"{name}: empty (0 bytes), not an image")
            decode_bytes(data, where=name, size=8, crop=1.0, color="rgb")


def _record_image(rs, key: int) -> bytes:
    from .recordio import unpack

    return unpack(rs.file.read(key), where=f"{rs.file.rec}: record {key}")[1]
