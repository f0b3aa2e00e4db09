"""``facebench data check|cache|download``. Top level is argparse only: the handlers import the rest."""

from __future__ import annotations

import argparse

from ..cliflags import number, one_line_errors


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("data", help="check, cache, download or pack datasets (InsightFace RecordIO and .bin)")
    sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    # The order here is the order --help lists the actions in.
    actions = (_add_check, _add_cache, _add_pack, _add_overlap, _add_download)
    for parser in (p, *(add(sub) for add in actions)):
        one_line_errors(parser)


def _add_check(sub) -> argparse.ArgumentParser:
    c = sub.add_parser("check", help="detect a dataset's format, print its counts and decode every image")
    c.add_argument(
        "path",
        help="LFW root, identity folder, AT&T folder, CIFAR-10 root, a pairs file, a RecordIO "
        "folder (train.rec) or a .bin verification set",
    )
    c.set_defaults(func=_check)
    return c


def _add_cache(sub) -> argparse.ArgumentParser:
    k = sub.add_parser("cache", help="decode every image of a dataset once into the decoded-tensor cache")
    k.add_argument("path", help="LFW root, identity folder, AT&T folder or CIFAR-10 root")
    k.add_argument("--size", type=int, default=64, help="output side in pixels, as data.image_size (default 64)")
    k.add_argument(
        "--crop", type=float, default=1.0, help="central crop fraction before resizing, as data.crop (default 1.0)"
    )
    k.add_argument("--color", choices=("rgb", "gray"), default="rgb", help="colour mode (default rgb)")
    k.add_argument("--cache-dir", default="", help="cache directory (default $FACEBENCH_CACHE or ~/.cache/facebench)")
    k.set_defaults(func=_cache)
    return k


def _add_pack(sub) -> argparse.ArgumentParser:
    pk = sub.add_parser(
        "pack",
        help="write InsightFace formats: identity folders -> RecordIO, a pairs file -> .bin",
        description="SRC an identity folder or LFW root -> OUT a folder with train.rec, train.idx, "
        "property, identities.txt; SRC a pairs file -> OUT.bin. Images are stored byte for byte.",
    )
    pk.add_argument("src", help="identity folder / LFW root (RecordIO) or pairs.txt (.bin)")
    pk.add_argument("--out", required=True, help="output folder (RecordIO) or FILE.bin; never overwritten")
    pk.add_argument(
        "--folds", default="", help="only these LFW folds, e.g. 0-4: their people (RecordIO) or their pairs (.bin)"
    )
    pk.add_argument(
        "--images",
        default="",
        help=".bin: image folder the pairs refer to (default: the LFW folder beside the pairs file)",
    )
    pk.set_defaults(func=_pack)
    return pk


def _add_overlap(sub) -> argparse.ArgumentParser:
    o = sub.add_parser(
        "overlap",
        help="identities and images a training set shares with a test set (by normalised "
        "name, same pixels, and near copies by perceptual hash)",
    )
    o.add_argument("train", help="training set: identity folder, LFW root (with --train-folds), RecordIO folder")
    o.add_argument("test", help="test set: LFW root or pairs file (the pairs' images), .bin set, or any dataset")
    o.add_argument("--train-folds", default="", help="LFW root as TRAIN: only the people of these folds, e.g. 0-4")
    o.add_argument("--test-folds", default="", help="only the pairs of these folds, e.g. 5-9")
    o.add_argument(
        "--near",
        type=number(0, 64),
        default=None,
        help="pHash distance reported as a near copy, 0-64 (default 4 of 64 bits; docs/datasets.md)",
    )
    o.add_argument(
        "--cache-dir", default="", help="decoded cache directory (default $FACEBENCH_CACHE or ~/.cache/facebench)"
    )
    o.set_defaults(func=_overlap)
    return o


def _add_download(sub) -> argparse.ArgumentParser:
    d = sub.add_parser("download", help="download LFW (deep-funneled + pairs.txt) or CIFAR-10, MD5-checked")
    d.add_argument("dataset", choices=("lfw", "cifar10"))
    d.add_argument("--root", required=True, help="directory to download and extract into")
    d.add_argument(
        "--mirror",
        default="",
        help="base URL serving the same file names (default: the official host, or $FACEBENCH_MIRROR)",
    )
    d.set_defaults(func=_download)
    return d


def _check(args: argparse.Namespace) -> int:
    from .check import check_path

    for line in check_path(args.path):
        print(line)
    return 0


def _cache(args: argparse.Namespace) -> int:
    from ..config import check_key
    from ..errors import ConfigError
    from .build import cache_dataset
    from .cache import default_cache_dir

    for flag, key, value in (("--size", "data.image_size", args.size), ("--crop", "data.crop", args.crop)):
        try:  # the bounds a trial accepts: a cache no config can use is no use
            check_key(key, value)
        except ConfigError as e:
            raise ConfigError(f"{flag} {value}: as {e}") from None
    n, shape = cache_dataset(args.path, size=args.size, crop=args.crop, color=args.color, cache_dir=args.cache_dir)
    print(f"cached {n:,} images as {shape} uint8 in {default_cache_dir(args.cache_dir)}")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from .pack import pack_bin, pack_recordio

    if args.out.endswith(".bin"):
        n, pos = pack_bin(args.src, args.out, folds=args.folds, images=args.images)
        print(f"packed {n:,} pairs ({pos:,} positives) into {args.out}")
    else:
        n, ids = pack_recordio(args.src, args.out, folds=args.folds)
        print(f"packed {n:,} images of {ids:,} identities into {args.out}")
    return 0


def _overlap(args: argparse.Namespace) -> int:
    from ..errors import LeakageError
    from .overlap import NEAR_BITS, find_overlap, load_side, report_lines
    from .pairs import parse_folds
    from .sets import available_folds

    near = NEAR_BITS if args.near is None else args.near  # 0-64: checked by its argparse type
    sides = []
    for path, spec, role, key in (
        (args.train, args.train_folds, "train", "--train-folds"),
        (args.test, args.test_folds, "test", "--test-folds"),
    ):
        folds = parse_folds(spec, available_folds(path), key=key) if spec else None
        sides.append(load_side(path, folds=folds, role=role, cache_dir=args.cache_dir, progress=True))
    result = find_overlap(*sides, near_bits=near)
    for line in report_lines(result, *sides, near_bits=near):
        print(line)
    if result.refused:
        raise LeakageError(
            f"{args.train}: shares {len(result.identities)} identities and {len(result.exact)} "
            f"images with {args.test}; training on it is refused (listed above)"
        )
    return 0


def _download(args: argparse.Namespace) -> int:
    from .download import download

    root = download(args.dataset, args.root, mirror=args.mirror)
    print(f"downloaded and verified {args.dataset} in {root}")
    return 0
