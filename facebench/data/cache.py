"""Decoded-tensor cache: every source image is decoded once; epochs read a memory-mapped ``.npy``.

Layout under the cache directory, per entry ``<key>``:

- ``<key>.npy``   uint8 (N, H, W, C), read with ``np.load(mmap_mode="r")`` (no per-image PIL at read time);
- ``<key>.json``  the manifest: names, shape, source, parameters, CRC-32 of every 1 MiB block of the ``.npy``
  (checked by sample at each open; a corrupt entry is rebuilt). It is written LAST (atomically), so an
  entry whose writer died mid-way (a stray ``.tmp``, an ``.npy`` without manifest) is rebuilt, never read;
- ``<key>.lock``  an ``fcntl.flock`` lock: concurrent trials on one machine wait for the one that builds.

The key hashes the source fingerprint (relative paths in order + byte sizes + mtimes), the output size,
crop and colour mode, so touching or replacing a source file, or changing a parameter, makes a new entry.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..io import atomic_write_json
from .images import Decoding, decode_bytes, decode_file

FORMAT_VERSION = 1
# Integrity: CRC-32 per 1 MiB block in the manifest; an entry up to 64 blocks is verified whole at each
# open, a larger one by 16 random blocks + first + last (tests/bench/bench_cache.py prints the cost).
BLOCK = 1 << 20
ALL_BLOCKS_BELOW = 64
SAMPLED_BLOCKS = 16
# Counts per process, so tests can prove a second call decoded nothing (no timing involved).
STATS: collections.Counter = collections.Counter()


def default_cache_dir(configured: str = "") -> Path:
    return Path(configured or os.environ.get("FACEBENCH_CACHE") or Path.home() / ".cache" / "facebench").expanduser()


def fingerprint(root: str | Path, names: list[str]) -> str:
    """sha256 of the relative paths in order with each file's size and mtime; missing file -> DataError."""
    h = hashlib.sha256()
    root = Path(root)
    for name in names:
        try:
            st = os.stat(root / name)
        except OSError:
            raise DataError(f"{root / name}: image not found") from None
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def entry_key(params: dict) -> str:
    blob = json.dumps({"v": FORMAT_VERSION, **params}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def cached_images(root: str | Path, names: list[str], how: Decoding) -> np.ndarray:
    """Images ``root/<name>`` for ``names`` (in that order) as a read-only (N, size, size, C) uint8 memmap."""
    root = Path(root).resolve()
    params = {"kind": "files", "fingerprint": fingerprint(root, names), **how.key_params()}
    kw = how.key_params()

    def fill(out: np.ndarray) -> None:
        _decode_into(out, lambda i: decode_file(root / names[i], **kw), progress=how.progress, workers=how.workers)

    return get_or_build(
        params, (len(names), *how.shape), fill, cache_dir=how.cache_dir, manifest={"source": str(root), "names": names}
    )


def cached_encoded(
    params: dict,
    count: int,
    encoded: Callable[[int], tuple[bytes, str]],
    how: Decoding,
    *,
    manifest: dict | None = None,
) -> np.ndarray:
    """Images held encoded inside one file (RecordIO records, ``.bin`` entries): ``encoded(i)`` gives image i's
    bytes and a ``where`` naming it. ``params`` must identify the source file and the selection."""
    params = {**params, **how.key_params()}

    def decode(i: int) -> np.ndarray:
        data, where = encoded(i)
        return decode_bytes(data, where=where, **how.key_params())

    return get_or_build(
        params,
        (count, *how.shape),
        lambda out: _decode_into(out, decode, progress=how.progress, workers=0),
        cache_dir=how.cache_dir,
        manifest=manifest,
    )


def file_fingerprint(path: str | Path) -> str:
    """Path, size and mtime of one source file (a .rec, a .bin): any rewrite of it makes new cache entries."""
    st = os.stat(path)
    return f"{Path(path).resolve()}\0{st.st_size}\0{st.st_mtime_ns}"


def get_or_build(
    params: dict,
    shape: tuple,
    fill: Callable[[np.ndarray], dict | None],
    *,
    cache_dir: str | Path = "",
    manifest: dict | None = None,
) -> np.ndarray:
    """The entry for ``params``: read it if complete, otherwise build it under the lock with ``fill(out)``.

    ``fill`` writes every row of ``out`` and may return extra manifest fields (e.g. labels).
    """
    directory = default_cache_dir(str(cache_dir))
    directory.mkdir(parents=True, exist_ok=True)
    key = entry_key(params)
    found = _read_entry(directory, key, shape)
    if found is not None:
        STATS["hits"] += 1
        return found
    with _locked(directory / f"{key}.lock"):
        found = _read_entry(directory, key, shape)  # another process may have built it while we waited
        if found is not None:
            STATS["hits"] += 1
            return found
        _build(directory, key, shape, fill, {**(manifest or {}), "params": params})
    found = _read_entry(directory, key, shape)
    assert found is not None, f"cache entry {key} unreadable right after building it"
    return found


def read_manifest(params: dict, *, cache_dir: str | Path = "") -> dict:
    """The JSON manifest of a complete entry (call after ``get_or_build``)."""
    path = default_cache_dir(str(cache_dir)) / f"{entry_key(params)}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _read_entry(directory: Path, key: str, shape: tuple) -> np.ndarray | None:
    meta_path, npy = directory / f"{key}.json", directory / f"{key}.npy"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not meta.get("complete") or tuple(meta["shape"]) != tuple(shape):
            return None
        if npy.stat().st_size != meta["nbytes"] or not _blocks_intact(npy, meta):
            return None
        arr = np.load(npy, mmap_mode="r")
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    if arr.shape != tuple(shape) or arr.dtype != np.uint8:
        return None
    return arr


def block_checksums(path: Path) -> list[int]:
    """CRC-32 of every ``BLOCK`` bytes of the file, in order (stored in the manifest)."""
    out = []
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK):
            out.append(zlib.crc32(chunk))
    return out


def _blocks_intact(npy: Path, meta: dict) -> bool:
    """Compare a sample of blocks with the manifest's CRCs: every block of a small entry; of a large one the
    first, the last and ``SAMPLED_BLOCKS`` drawn afresh at each open (so repeated opens cover the file).
    Garbage written over the entry (any size) is caught at once; a few flipped bytes eventually. An entry
    that fails, or predates the checksums, is rebuilt."""
    crcs, block = meta.get("block_crc32"), meta.get("block_bytes")
    if not isinstance(crcs, list) or block != BLOCK:
        return False
    n = len(crcs)
    if n <= ALL_BLOCKS_BELOW:
        picks = range(n)
    else:
        rng = np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
        picks = sorted({0, n - 1, *rng.choice(n, SAMPLED_BLOCKS, replace=False).tolist()})
    with open(npy, "rb") as f:
        for i in picks:
            f.seek(i * BLOCK)
            if zlib.crc32(f.read(BLOCK)) != crcs[i]:
                print(
                    f"facebench: decoded cache {npy} is corrupt (block {i} fails its checksum); rebuilding it",
                    file=sys.stderr,
                )
                STATS["corrupt"] += 1
                return False
    return True


def _build(directory: Path, key: str, shape: tuple, fill: Callable[[np.ndarray], dict | None], manifest: dict) -> None:
    for stale in directory.glob(f".{key}.npy.*.tmp"):
        stale.unlink(missing_ok=True)  # left by a writer that died; we hold the lock, so nobody owns it
    (directory / f"{key}.json").unlink(missing_ok=True)
    tmp = directory / f".{key}.npy.{os.getpid()}.tmp"
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        extra = fill(out) or {}
        out.flush()
        del out
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        crcs = block_checksums(tmp)
        os.replace(tmp, directory / f"{key}.npy")
    finally:
        tmp.unlink(missing_ok=True)
    nbytes = (directory / f"{key}.npy").stat().st_size
    atomic_write_json(
        directory / f"{key}.json",
        {
            **manifest,
            **extra,
            "shape": list(shape),
            "dtype": "uint8",
            "nbytes": nbytes,
            "block_bytes": BLOCK,
            "block_crc32": crcs,
            "complete": True,
        },
    )
    STATS["builds"] += 1


def _decode_into(out: np.ndarray, decode: Callable[[int], np.ndarray], *, progress: bool, workers: int) -> None:
    # PIL releases the GIL while decoding and resizing, so threads use every core without pickling images.
    workers = workers or os.cpu_count() or 1
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(out), unit="img", desc="decoding")

    def work(i: int) -> None:
        out[i] = decode(i)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for start in range(0, len(out), 512):
                list(pool.map(work, range(start, min(start + 512, len(out)))))
                STATS["decoded"] += min(512, len(out) - start)
                if bar is not None:
                    bar.update(min(512, len(out) - start))
    finally:
        if bar is not None:
            bar.close()
