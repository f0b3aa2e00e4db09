"""Verification sets by path: an InsightFace ``.bin`` or an LFW-style folder (images + ``pairs.txt``).

``eval.sets`` and ``facebench eval model --on`` name any number of them; each one is loaded through the
decoded-tensor cache with the trial's image size, crop and colour, so a set is decoded once per setting.
A ``.bin`` names nobody, so the leakage guard cannot check it (``people`` is None); a folder's pairs do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .arrays import PairIndex
from .binset import BIN_FOLDS, read_bin
from .cache import cached_encoded, cached_images, file_fingerprint
from .images import Decoding
from .layouts import find_lfw, list_identity_folder
from .pairs import parse_folds, read_pairs
from .recordio import RecordSet, find_recordio, read_recordio, unpack


@dataclass
class VerificationSet:
    name: str  # lfw, cfp_fp, ...: the file stem or folder name
    path: str
    images: np.ndarray  # uint8 NHWC, rows as the pairs index them
    pairs: PairIndex  # folds renumbered 0..K-1
    people: set[str] | None  # None: the format names nobody
    info: dict = field(default_factory=dict)


def set_name(path: str | Path) -> str:
    p = Path(path)
    return p.stem if p.suffix == ".bin" else (p.parent.name if p.is_file() else p.name)


def plan_sets(sets: str, set_folds: str = "") -> list[tuple[str, str, list[int] | None]]:
    """``eval.sets`` and ``eval.set_folds`` -> (name, path, folds or None for all) per set; checked before training
    starts, so a typo does not cost a training run. An entry is ``PATH`` (named by its stem or folder) or
    ``NAME=PATH``."""
    entries = []
    for item in (s.strip() for s in sets.split(",")):
        if item:
            name, sep, path = item.partition("=")
            entries.append((name.strip(), path.strip()) if sep else (set_name(item), item))
    names = [n for n, _ in entries]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(f"eval.sets: two sets are named {dup!r}; name one NAME=PATH (the tables key sets by name)")
    out = []
    for name, path in entries:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"eval.sets: set name {name!r} must be letters, digits, '_' or '-'")
        if not Path(path).exists():
            raise ConfigError(f"eval.sets: {path}: not found (a .bin file or a folder with images and pairs.txt)")
        folds = parse_folds(set_folds, available_folds(path), key="eval.set_folds") if set_folds else None
        out.append((name, path, folds))
    return out


def set_people(path: str | Path, folds: list[int] | None) -> set[str] | None:
    """The people in the chosen folds of a folder set (no image decoded); None for a .bin, which names nobody
    (but is read once, so a bad one is refused before training)."""
    if Path(path).suffix == ".bin":
        read_bin(path)  # refuse a hostile or malformed file now, not after hours of training
        return None
    _, pairs_path = _folder(path, "")
    pairs = read_pairs(pairs_path)
    people_of = pairs.people_of_folds()
    return set().union(*(people_of[f] for f in (folds if folds is not None else pairs.folds)))


def available_folds(path: str | Path, pairs_file: str = "") -> list[int]:
    if Path(path).suffix == ".bin":
        return list(range(BIN_FOLDS))
    _, pairs_path = _folder(path, pairs_file)
    return read_pairs(pairs_path).folds


def load_set(
    path: str | Path, how: Decoding, *, folds: list[int] | None = None, pairs_file: str = "", name: str = ""
) -> VerificationSet:
    """The set at ``path`` (``.bin`` file, or an LFW-style folder / its pairs file); ``folds`` selects folds."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: verification set not found (a .bin file or a folder with images and pairs.txt)")
    vs = _load_bin(p, folds, how) if p.suffix == ".bin" else _load_folder(p, folds, pairs_file, how)
    vs.name = name or vs.name
    return vs


def _check_folds(where: Path, folds: list[int] | None, available: list[int]) -> list[int]:
    if folds is None:
        return available
    bad = sorted(set(folds) - set(available))
    if bad:
        raise DataError(f"{where}: fold {bad[0]} is not among its folds {available[0]}-{available[-1]}")
    return sorted(folds)


def _load_bin(path: Path, folds: list[int] | None, how: Decoding) -> VerificationSet:
    data = read_bin(path)
    folds = _check_folds(path, folds, list(range(BIN_FOLDS)))
    chosen = np.flatnonzero(np.isin(data.fold, folds))
    rows = np.stack([2 * chosen, 2 * chosen + 1], axis=1).reshape(-1)  # the images of the chosen pairs only
    params = {"kind": "bin", "file": file_fingerprint(path), "folds": folds}
    images = cached_encoded(
        params,
        len(rows),
        lambda i: (data.images[rows[i]], f"{path}: image {rows[i]}"),
        how,
        manifest={"source": str(path)},
    )
    k = np.arange(len(chosen))
    _, fold = np.unique(data.fold[chosen], return_inverse=True)
    pairs = PairIndex(2 * k, 2 * k + 1, data.same[chosen], fold)
    info = {
        "pairs": len(chosen),
        "positives": int(data.same[chosen].sum()),
        "folds": folds,
        "format": "bin",
        "leakage_check": "not possible: a .bin names no people",
    }
    return VerificationSet(set_name(path), str(path), images, pairs, None, info)


def _folder(path: str | Path, pairs_file: str) -> tuple[Path, Path]:
    p = Path(path)
    image_dir, found = find_lfw(p.parent if p.is_file() else p)
    pairs_path = Path(pairs_file) if pairs_file else (p if p.is_file() else found)
    if pairs_path is None:
        raise DataError(
            f"{p}: no pairs.txt beside the images; a verification set is a .bin file or a folder "
            "with images and pairs.txt"
        )
    return image_dir, pairs_path


def _load_folder(path: Path, folds: list[int] | None, pairs_file: str, how: Decoding) -> VerificationSet:
    image_dir, pairs_path = _folder(path, pairs_file)
    pairs = read_pairs(pairs_path)
    people_of = pairs.people_of_folds()
    folds = _check_folds(pairs_path, folds, pairs.folds)
    pairs = pairs.select_folds(folds)
    names = pairs.names
    images = cached_images(image_dir, names, how)
    info = {
        "pairs": len(pairs),
        "positives": int(pairs.same.sum()),
        "folds": folds,
        "format": "folder",
        "pairs_file": str(pairs_path),
    }
    people = set().union(*(people_of[f] for f in folds))
    return VerificationSet(set_name(path), str(path), images, pairs.to_index(names), people, info)


def record_images(records: RecordSet, names: list[str], how: Decoding) -> np.ndarray:
    """RecordIO images named ``<identity>/<record key>``, through the cache."""
    keys = [int(n.rpartition("/")[2]) for n in names]
    f = records.file

    def encoded(i: int) -> tuple[bytes, str]:
        where = f"{f.rec}: record {keys[i]}"
        return unpack(f.read(keys[i]), where=where)[1], where

    # A digest, not the keys: cache parameters stay small for 500,000 records.
    digest = hashlib.sha256(np.asarray(keys, dtype=np.int64).tobytes()).hexdigest()
    params = {"kind": "recordio", "file": file_fingerprint(f.rec), "keys": digest}
    return cached_encoded(params, len(keys), encoded, how, manifest={"source": str(f.rec), "names": names})


def dataset_images(path: str | Path, how: Decoding) -> tuple[list[str], np.ndarray]:
    """Every image of a dataset with the names ``eval pairs`` resolves: ``Person/Person_0001.jpg`` for image folders
    (LFW, identity folders), ``<identity>/<record>`` for RecordIO, ``<i>`` (file order) for a ``.bin``."""
    p = Path(path)
    if p.suffix == ".bin":
        vs = load_set(p, how)
        return [str(i) for i in range(len(vs.images))], vs.images
    if find_recordio(p) is not None:
        records = read_recordio(p)
        names = [f"{name}/{k}" for name, keys in records.identities.items() for k in keys]
        return names, record_images(records, names, how)
    image_dir, _ = find_lfw(p)
    names = [n for files in list_identity_folder(image_dir).values() for n in files]
    return names, cached_images(image_dir, names, how)
