"""``build_task_data``: config -> train / validation / test arrays, with the cache, splits and leakage guard.

Each face dataset (declared in ``facebench.data``) reads the TRAINING identities of its source; the shared code
here filters, holds out validation identities, loads images through the cache, attaches the test
protocol named by ``data.test`` and refuses identity leakage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import TrialConfig
from ..errors import ConfigError, DataError, LeakageError
from . import DATASETS
from .arrays import ImageArray, PairIndex, TaskData
from .cache import cached_images, default_cache_dir
from .images import Decoding, prepare_array
from .layouts import find_lfw, list_att, list_identity_folder
from .pairs import Pairs, check_no_leakage, parse_folds, person_of, read_pairs
from .recordio import RecordSet, read_recordio
from .sets import plan_sets, record_images, set_people
from .splits import draw_pairs, holdout_identities
from .synthetic import synthetic_faces

SYNTHETIC_TEST_FOLDS = 10


@dataclass
class FaceSource:
    """Training identities of a face dataset: in files under ``root`` or already in memory (synthetic)."""

    identities: dict[str, list[str]]  # identity -> relative image names, sorted
    root: Path | None = None
    memory: ImageArray | None = None
    default_test: str = "lfw"
    info: dict | None = None
    records: RecordSet | None = None  # RecordIO: names are ``<identity>/<record key>``


def build_task_data(cfg: TrialConfig, *, progress: bool = False) -> TaskData:
    """The arrays one trial trains, validates and tests on; see docs/datasets.md for the semantics."""
    return DATASETS.get(cfg.data.train).load()(cfg, progress=progress, **cfg.params("data"))


# -- datasets (declared in facebench.data) ----------------------------------------------------


def synthetic_task(cfg: TrialConfig, *, progress: bool = False) -> TaskData:
    if cfg.task == "cifar":  # ten synthetic identities as classes
        from .cifar import build_cifar_task

        return build_cifar_task(cfg, progress=progress)
    return _face_task(cfg, _synthetic(cfg), progress=progress)


def lfw_people_task(cfg: TrialConfig, *, progress: bool = False, train_folds: str) -> TaskData:
    return _face_task(cfg, _lfw_people(cfg, train_folds), progress=progress)


def identity_folder_task(cfg: TrialConfig, *, progress: bool = False) -> TaskData:
    return _face_task(cfg, FaceSource(list_identity_folder(cfg.data.root), root=Path(cfg.data.root)), progress=progress)


def recordio_task(cfg: TrialConfig, *, progress: bool = False) -> TaskData:
    records = read_recordio(cfg.data.root)
    ids = {name: [f"{name}/{k}" for k in keys] for name, keys in records.identities.items()}
    return _face_task(cfg, FaceSource(ids, root=records.file.rec, records=records), progress=progress)


def att_faces_task(cfg: TrialConfig, *, progress: bool = False) -> TaskData:
    return _face_task(cfg, FaceSource(list_att(cfg.data.root), root=Path(cfg.data.root)), progress=progress)


def _synthetic(cfg: TrialConfig) -> FaceSource:
    d = cfg.data
    faces = synthetic_faces(
        identities=d.synthetic_identities, images_per_identity=d.synthetic_images, seed=d.synthetic_seed
    )
    ids: dict[str, list[str]] = {c: [] for c in faces.classes}
    for n in faces.names:  # one pass: names are grouped by identity already, in order
        ids[person_of(n)].append(n)
    return FaceSource(ids, memory=faces, default_test="synthetic")


def _lfw_people(cfg: TrialConfig, train_folds: str) -> FaceSource:
    image_dir, pairs = _lfw_dirs(cfg, cfg.data.root, key="data.root")
    folds = parse_folds(train_folds, pairs.folds)
    people_of = pairs.people_of_folds()
    people = set().union(*(people_of[f] for f in folds))
    listing = list_identity_folder(image_dir)
    unknown = sorted(people - set(listing))
    if unknown:
        raise ConfigError(
            f"data.root: {len(unknown)} people of {pairs.source} have no folder in {image_dir} (e.g. {unknown[0]})"
        )
    return FaceSource(
        {p: listing[p] for p in sorted(people)}, root=image_dir, info={"train_folds": folds, "pairs": pairs.source}
    )


# -- shared face pipeline ---------------------------------------------------------------------


def _lfw_dirs(cfg: TrialConfig, root: str, *, key: str) -> tuple[Path, Pairs]:
    image_dir, found = find_lfw(root, key=key)
    pairs_path = Path(cfg.data.pairs) if cfg.data.pairs else found
    if pairs_path is None:
        raise ConfigError(f"data.pairs: no pairs.txt beside {image_dir}; set data.pairs=PATH")
    return image_dir, read_pairs(pairs_path)


def _load(cfg: TrialConfig, source: FaceSource, identities: list[str], *, progress: bool) -> ImageArray:
    names = [n for i in identities for n in source.identities[i]]
    labels = np.repeat(np.arange(len(identities)), [len(source.identities[i]) for i in identities])
    d = cfg.data
    if source.records is not None:
        images = record_images(source.records, names, Decoding.of(d, progress=progress))
    elif source.memory is not None:
        row = {n: k for k, n in enumerate(source.memory.names)}
        images = prepare_array(
            source.memory.images[[row[n] for n in names]], size=d.image_size, crop=d.crop, color=d.color
        )
    else:
        images = cached_images(source.root, names, Decoding.of(d, progress=progress))
    return ImageArray(images, labels, names, list(identities))


def _select_train(cfg: TrialConfig, source: FaceSource) -> tuple[list[str], list[str]]:
    d = cfg.data
    eligible = [i for i, files in source.identities.items() if len(files) >= d.min_images]
    if len(eligible) < 2:
        raise ConfigError(f"data.min_images: only {len(eligible)} identities have >= {d.min_images} images")
    train, val = holdout_identities(eligible, fraction=d.val_fraction, seed=cfg.train.seed)
    if d.limit:
        order = np.random.default_rng([cfg.train.seed, 4]).permutation(len(train))
        counts = np.cumsum([len(source.identities[train[i]]) for i in order])
        keep = max(2, int(np.searchsorted(counts, d.limit, side="right")))
        train = sorted(train[i] for i in order[:keep])
    return train, val


def _face_task(cfg: TrialConfig, source: FaceSource, *, progress: bool) -> TaskData:
    train_ids, val_ids = _select_train(cfg, source)
    test, test_pairs, test_info = _test_protocol(cfg, source, progress=progress)
    check_no_leakage(
        set(train_ids) | set(val_ids),
        test.identities,
        where=f"data.train={cfg.data.train!r} vs test {test_info['test']!r}",
    )
    for _, path, folds in plan_sets(cfg.eval.sets, cfg.eval.set_folds):  # tested at the end; checked before training
        people = set_people(path, folds)
        if people is not None:
            check_no_leakage(
                set(train_ids) | set(val_ids),
                people,
                where=f"data.train={cfg.data.train!r} vs "
                f"eval.sets {path!r}{' folds ' + cfg.eval.set_folds if folds else ''}",
            )
    train = _load(cfg, source, train_ids, progress=progress)
    val = _load(cfg, source, val_ids, progress=progress)
    shared = _check_test_images(cfg, (train, val), test.images, test.names, repr(test_info["test"]))
    in_sets = _check_eval_sets(cfg, (train, val), progress=progress)
    val_pairs = draw_pairs(val.labels, pairs=cfg.data.val_pairs, folds=5, seed=cfg.train.seed)
    describe = {
        "task": cfg.task,
        "train_dataset": cfg.data.train,
        "train_root": str(source.root or ""),
        "train_images": len(train),
        "train_identities": len(train_ids),
        "val_images": len(val),
        "val_identities": len(val_ids),
        "val_pairs": len(val_pairs),
        "val_folds": val_pairs.num_folds,
        **(source.info or {}),
        **test_info,
        "test_images": len(test),
        "test_pairs": len(test_pairs),
        "cache_dir": str(default_cache_dir(cfg.data.cache_dir)),
        "image_size": cfg.data.image_size,
        "crop": cfg.data.crop,
        "color": cfg.data.color,
        "test_images_in_training": shared,
        "eval_set_images_in_training": in_sets,
        "allow_test_images": cfg.data.allow_test_images,
    }
    return TaskData(train, val, val_pairs, test, test_pairs, num_classes=len(train_ids), describe=describe)


def _check_test_images(
    cfg: TrialConfig, parts: tuple[ImageArray, ...], images: np.ndarray, names: list[str], label: str
) -> int:
    """Training (or validation) images with the same decoded pixels as a test image: refused unless
    data.allow_test_images; the count goes into the trial's description either way."""
    from .overlap import shared_images

    found = [(part.names[i], names[j]) for part in parts for i, j in shared_images(part.images, images)]
    if found and not cfg.data.allow_test_images:
        a, b = found[0]
        raise LeakageError(
            f"data.train={cfg.data.train!r}: {len(found)} training images have the same pixels as "
            f"test images of {label} (e.g. {a} = {b}); remove them (`facebench data "
            "overlap` lists them) or set data.allow_test_images=true to train anyway"
        )
    return len(found)


def _check_eval_sets(cfg: TrialConfig, parts: tuple[ImageArray, ...], *, progress: bool) -> dict[str, int]:
    """The sets of ``eval.sets`` (a ``.bin`` or a pairs folder) are test sets too: each one's images, decoded as the
    trial decodes them (the same cache entries its test reads later), under the main test set's rule. Returns
    set name -> training images found in it (0 where none)."""
    from .sets import load_set

    found = {}
    for name, path, folds in plan_sets(cfg.eval.sets, cfg.eval.set_folds):
        vs = load_set(path, Decoding.of(cfg.data, progress=progress), folds=folds, name=name)
        rows = [f"{vs.name}:{i}" for i in range(len(vs.images))]  # a .bin names no file: its image rows
        found[vs.name] = _check_test_images(cfg, parts, vs.images, rows, f"eval.sets {vs.name!r} ({path})")
    return found


def _test_protocol(cfg: TrialConfig, source: FaceSource, *, progress: bool) -> tuple[ImageArray, PairIndex, dict]:
    kind = source.default_test if cfg.data.test == "auto" else cfg.data.test
    if kind == "synthetic":
        return _synthetic_test(cfg)
    if kind != "lfw":
        raise ConfigError(
            f"data.test: {kind!r} is not a verification protocol; task {cfg.task!r} uses 'lfw' or 'synthetic'"
        )
    root = cfg.data.test_root or cfg.data.root
    if not root:
        raise ConfigError("data.test_root: the LFW test protocol needs the LFW folder (--set data.test_root=PATH)")
    image_dir, pairs = _lfw_dirs(cfg, root, key="data.test_root" if cfg.data.test_root else "data.root")
    people_of = pairs.people_of_folds()  # verifies that each person is in exactly one fold
    folds = pairs.folds
    if cfg.data.test_folds:
        folds = parse_folds(cfg.data.test_folds, folds, key="data.test_folds")
    elif cfg.data.train == "lfw_people":
        train_folds = set((source.info or {})["train_folds"])
        folds = [f for f in folds if f not in train_folds]
        if not folds:
            raise ConfigError(f"data.train_folds: {cfg.data.train_folds!r} leaves no LFW fold to test on")
    pairs = pairs.select_folds(folds)
    names = pairs.names
    people = sorted({person_of(n) for n in names})
    label = {p: i for i, p in enumerate(people)}
    d = cfg.data
    images = cached_images(image_dir, names, Decoding.of(d, progress=progress))
    test = ImageArray(images, np.array([label[person_of(n)] for n in names]), names, people)
    info = {
        "test": "lfw",
        "test_root": str(image_dir),
        "test_pairs_file": pairs.source,
        "test_folds_original": folds,
        "test_people": len(set().union(*(people_of[f] for f in folds))),
    }
    return test, pairs.to_index(names), info


def _synthetic_test(cfg: TrialConfig) -> tuple[ImageArray, PairIndex, dict]:
    d = cfg.data
    n_ids = SYNTHETIC_TEST_FOLDS * max(
        2, math.ceil((d.synthetic_test_identities or d.synthetic_identities / 4) / SYNTHETIC_TEST_FOLDS)
    )
    faces = synthetic_faces(
        identities=n_ids, images_per_identity=d.synthetic_images, seed=d.synthetic_seed, stream="test"
    )
    faces.images = prepare_array(faces.images, size=d.image_size, crop=d.crop, color=d.color)
    pairs = draw_pairs(
        faces.labels,
        pairs=d.synthetic_test_pairs or 60 * SYNTHETIC_TEST_FOLDS,
        folds=SYNTHETIC_TEST_FOLDS,
        seed=d.synthetic_seed,
    )
    return (
        faces,
        pairs,
        {"test": "synthetic", "test_identities": n_ids, "test_folds_original": list(range(pairs.num_folds))},
    )


def cache_dataset(
    path: str | Path, *, size: int, crop: float, color: str, cache_dir: str = "", progress: bool = True
) -> tuple[int, tuple]:
    """Decode every image under ``path`` (any layout ``facebench data check`` knows) into the cache."""
    from .cifar import load_cifar_split
    from .layouts import find_cifar

    how = Decoding(size, crop, color, cache_dir, progress)
    try:
        find_cifar(path)
    except DataError:
        image_dir, _ = find_lfw(path)
        names = [n for files in list_identity_folder(image_dir).values() for n in files]
        images = cached_images(image_dir, names, how)
        return len(images), tuple(images.shape[1:])
    train = load_cifar_split(path, "train", how)
    test = load_cifar_split(path, "test", how, classes=train.classes)
    return len(train) + len(test), tuple(train.images.shape[1:])
