"""``facebench data pack``: identity folders (or LFW people of some folds) -> RecordIO; a pairs file -> ``.bin``.

Images are stored byte for byte (no re-encoding), so a packed set decodes to exactly the pixels of its
source files and a model scores the same on either route. The outputs are new files: an existing
``train.rec`` or ``.bin`` is never overwritten, and RecordIO goes into a new or empty folder (facebench's marker
file marks it as its own).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..errors import DataError
from ..ownership import MARKER, TEMP_PATTERN, claim_dir
from .binset import BIN_FOLDS, check_bin, write_bin
from .layouts import find_lfw, list_identity_folder
from .pairs import parse_folds, read_pairs
from .recordio import REC, write_recordio


def _refuse_existing(path: Path) -> None:
    if path.exists() or path.is_symlink():
        raise DataError(
            f"{path}: already exists; facebench data pack writes new files only (remove it or choose another --out)"
        )


def _refuse_foreign(out: Path) -> None:
    """A folder facebench marked may still hold a user's files (an ``identities.txt``, a ``property``): packing
    writes only into a folder holding nothing but its marker."""
    import fnmatch

    if not (out / MARKER).is_file():
        return  # new, empty or the user's own folder: claim_dir decides
    foreign = sorted(p.name for p in out.iterdir() if p.name != MARKER and not fnmatch.fnmatch(p.name, TEMP_PATTERN))
    if foreign:
        raise DataError(
            f"{out}: holds files facebench data pack did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); pack into a new or empty folder"
        )


def _inside(root: Path, name: str, where: str) -> Path:
    """``root/name`` resolved (symlinks too) and inside ``root``: a pairs file naming ``../../etc/hostname`` or a
    link out of the image folder is refused, so nothing outside the image root is ever read into a pack."""
    base = root.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(base):
        raise DataError(f"{where}: refers to {name!r}, which resolves to {path}, outside the image folder {base}")
    return path


def pack_recordio(src: str | Path, out: str | Path, *, folds: str = "") -> tuple[int, int]:
    """Identity folders under ``src`` (all, or with ``folds`` the LFW people of those folds) -> ``out``/train.rec,
    train.idx, property, identities.txt. Returns (images, identities)."""
    out = Path(out)
    _refuse_existing(out / REC)
    image_dir, pairs_path = find_lfw(src)
    listing = list_identity_folder(image_dir)
    if folds:
        if pairs_path is None:
            raise DataError(f"{src}: --folds needs the LFW pairs.txt beside the images")
        pairs = read_pairs(pairs_path)
        people_of = pairs.people_of_folds()
        chosen = set().union(*(people_of[f] for f in parse_folds(folds, pairs.folds, key="--folds")))
        missing = sorted(chosen - set(listing))
        if missing:
            raise DataError(f"{pairs_path}: {len(missing)} people have no folder in {image_dir} (e.g. {missing[0]})")
        listing = {p: listing[p] for p in sorted(chosen)}
    files = {
        name: [_inside(image_dir, f, f"{image_dir}: identity {name!r}") for f in names]
        for name, names in listing.items()
    }
    size = _image_size(next(iter(files.values()))[0])
    _refuse_foreign(out)
    claim_dir(out, "recordio")  # a new or empty folder (or one facebench made): the user's folders are not written
    return write_recordio(out, files, size=size), len(files)


def pack_bin(pairs_file: str | Path, out: str | Path, *, folds: str = "", images: str = "") -> tuple[int, int]:
    """The pairs of ``pairs_file`` (all, or those of ``folds``) -> InsightFace ``.bin``; returns (pairs, positives).

    Images are looked up in ``images`` or the LFW image folder beside the pairs file.
    """
    out = Path(out)
    _refuse_existing(out)
    pairs = read_pairs(pairs_file)
    if folds:
        pairs = pairs.select_folds(parse_folds(folds, pairs.folds, key="--folds"))
    if len(pairs) < BIN_FOLDS:
        raise DataError(
            f"{pairs.source}: {len(pairs)} pairs{' in folds ' + folds if folds else ''}, fewer than the "
            f".bin protocol's {BIN_FOLDS} folds; the set could not be read back"
        )
    image_dir = Path(images) if images else find_lfw(Path(pairs_file).parent)[0]
    blobs: list[bytes] = []
    for i, (a, b) in enumerate(zip(pairs.a, pairs.b)):
        for name in (a, b):
            path = _inside(image_dir, name, f"{pairs.source}: pair {i}")
            if not path.is_file():
                raise DataError(f"{pairs.source}: pair {i} refers to {name!r}, not found in {image_dir}")
            blobs.append(path.read_bytes())
    check_bin(out, (blobs, pairs.same.tolist()))  # what the reader would refuse is not written
    write_bin(out, blobs, pairs.same.tolist())
    return len(pairs), int(pairs.same.sum())


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as img:
            return img.size[1], img.size[0]
    except OSError as e:
        raise DataError(f"{path}: cannot read image ({e})") from None
