"""Overlap between a training set and a test set, by content and by normalised name (``facebench data overlap``).

The leakage guard by exact name misses a test person's folder renamed (``george w bush``) or a test photo copied
under another name. Here:

- **names** are compared after ``normalise``: Unicode NFKD with accents dropped, case folded, spaces, underscores,
  dashes and dots removed (``José_María Aznar`` = ``jose maria aznar``). A match is refused.
- **exact content**: the image decoded to a ``THUMB`` x ``THUMB`` RGB array (one decoded-cache entry per dataset),
  hashed. The same pixels give the same array; a match is refused.
- **near content**: a 64-bit DCT perceptual hash (pHash: 32x32 grey, 2-D DCT-II, the 8x8 lowest frequencies,
  each bit "above the median of the 63 non-DC coefficients"); pairs at Hamming distance <= ``NEAR_BITS`` are
  reported with count and distance, not refused (docs/datasets.md states the threshold and what it misses).

What it cannot catch: a test image re-aligned or re-cropped (``.bin`` sets hold re-aligned 112x112 crops, so a
training copy of the original photo is at best a near match, often not even that), mirrored, rotated or colour
shifted copies, and a person under an unrelated name.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .images import Decoding
from .layouts import find_lfw
from .pairs import person_of, read_pairs

THUMB = 64  # decoded side for the content checks: one cache entry per dataset, 12 KB per image
NEAR_BITS = 4  # pHash Hamming distance at or below which two images are reported as near copies (of 64 bits)
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def normalise(name: str) -> str:
    """Identity name for comparison: accents dropped (NFKD), case folded, separators and spaces removed."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return "".join(c for c in text if c.isalnum())


def phash(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 with H = W a multiple of 32 -> (N,) uint64 DCT perceptual hashes."""
    from scipy.fft import dctn

    n, h, w, _ = images.shape
    if h != w or h % 32:
        raise ValueError(f"phash needs square images with a side that is a multiple of 32, got {h}x{w}")
    grey = images.astype(np.float32).mean(axis=3).reshape(n, 32, h // 32, 32, w // 32).mean(axis=(2, 4))
    low = dctn(grey, type=2, norm="ortho", axes=(1, 2))[:, :8, :8].reshape(n, 64)
    bits = low > np.median(low[:, 1:], axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").reshape(n).astype(np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit distances between every hash of ``a`` (N,) and ``b`` (M,): (N, M) uint8."""
    x = np.bitwise_xor(a[:, None], b[None, :]).view(np.uint8).reshape(len(a), len(b), 8)
    return _POPCOUNT[x].sum(axis=2, dtype=np.uint8)


@dataclass
class Side:
    """One dataset's images for the check: names, each image's person (None where the format names nobody)."""

    path: str
    names: list[str]
    people: list[str] | None
    images: np.ndarray


@dataclass
class Overlap:
    identities: list[tuple[str, str]] = field(default_factory=list)  # (train name, test name)
    exact: list[tuple[str, str]] = field(default_factory=list)  # (train image, test image)
    near: list[tuple[str, str, int]] = field(default_factory=list)  # (train image, test image, distance)

    @property
    def refused(self) -> bool:
        return bool(self.identities or self.exact)


def find_overlap(train: Side, test: Side, *, near_bits: int = NEAR_BITS) -> Overlap:
    out = Overlap()
    if train.people is not None and test.people is not None:
        out.identities = check_listing_names(set(train.people), set(test.people))
    shared = shared_images(train.images, test.images)
    out.exact = [(train.names[i], test.names[j]) for i, j in shared]
    exact_rows = {i for i, _ in shared}
    th, te = phash(np.asarray(train.images)), phash(np.asarray(test.images))
    for start in range(0, len(te), 512):  # (N x 512) distances at a time: 13,000 x 512 bytes
        d = hamming(th, te[start : start + 512])
        for i, j in zip(*np.nonzero(d <= near_bits)):
            if i not in exact_rows:
                out.near.append((train.names[i], test.names[start + j], int(d[i, j])))
    return out


def _digest(image: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest()


def load_side(
    path: str | Path, *, folds: list[int] | None = None, role: str, cache_dir: str = "", progress: bool = False
) -> Side:
    """``role`` "train": every image (an LFW root with ``folds``: the people of those folds); "test": the images of
    the pairs (of ``folds``) of a pairs file, an LFW root or a ``.bin``; any other layout: every image."""
    from .sets import dataset_images, load_set

    how = Decoding(THUMB, 1.0, "rgb", cache_dir, progress)
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or directory")
    if p.suffix == ".bin":
        vs = load_set(p, how, folds=folds)
        return Side(str(p), [f"{p.name}:{i}" for i in range(len(vs.images))], None, vs.images)
    image_dir, pairs_path = find_lfw(p.parent if p.is_file() else p)
    if role == "test" and pairs_path is not None:
        vs = load_set(p, how, folds=folds)
        pairs = read_pairs(p if p.is_file() else pairs_path)
        names = (pairs.select_folds(folds) if folds else pairs).names
        return Side(str(p), names, [person_of(n) for n in names], vs.images)
    names, images = dataset_images(p, how)
    people = [n.rpartition("/")[0] for n in names]
    if folds:
        if pairs_path is None:
            raise DataError(f"{p}: folds need the LFW pairs.txt beside the images")
        chosen = set().union(*(read_pairs(pairs_path).people_of_folds().get(f, set()) for f in folds))
        rows = [i for i, who in enumerate(people) if who in chosen]
        names, people, images = [names[i] for i in rows], [people[i] for i in rows], images[rows]
    return Side(str(p), names, people, images)


def report_lines(o: Overlap, train: Side, test: Side, *, near_bits: int = NEAR_BITS, show: int = 20) -> list[str]:
    lines = [f"train {train.path}: {len(train.names):,} images; test {test.path}: {len(test.names):,} images"]
    if train.people is None or test.people is None:
        lines.append("  names: not compared (a .bin names nobody)")
    lines.append(f"  identities with the same normalised name: {len(o.identities)}")
    lines += [f"    {a!r} ~ {b!r}" for a, b in o.identities[:show]]
    lines.append(f"  images with the same pixels: {len(o.exact)}")
    lines += [f"    {a} = {b}" for a, b in o.exact[:show]]
    lines.append(f"  near copies (pHash distance <= {near_bits} of 64 bits): {len(o.near)}")
    lines += [f"    {a} ~ {b} (distance {d})" for a, b, d in sorted(o.near, key=lambda t: t[2])[:show]]
    return lines


def check_listing_names(train_identities, test_people) -> list[tuple[str, str]]:
    """Training identities equal to a test person after ``normalise`` (the leakage guard's name rule)."""
    test_by = {normalise(p): p for p in sorted(test_people)}
    return sorted((t, test_by[normalise(t)]) for t in train_identities if normalise(t) in test_by)


def shared_images(train: np.ndarray, test: np.ndarray) -> list[tuple[int, int]]:
    """(train row, test row) of decoded images with the same pixels (the training guard's content rule)."""
    digest = {_digest(im): j for j, im in enumerate(test)}
    return [(i, digest[d]) for i, im in enumerate(train) if (d := _digest(im)) in digest]
