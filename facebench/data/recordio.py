"""InsightFace's RecordIO training sets (``train.rec`` + ``train.idx`` + ``property``), read and written without mxnet.

The byte layout is dmlc-core's RecordIO, as mxnet's ``MXIndexedRecordIO`` writes it:

- ``train.rec``: records, each ``uint32 magic 0xced7230a``, ``uint32 lrec`` (upper 3 bits: continuation flag,
  lower 29: payload length), the payload, zero padding to a multiple of 4. A payload that contains the magic
  at a 4-aligned position is split there into parts flagged 1 (first), 2 (middle), 3 (last); the magic is
  dropped by the writer and put back by the reader.
- ``train.idx``: text lines ``<key>\\t<byte offset>``.
- a payload is mxnet's ``recordio.pack``: ``IRHeader`` = ``<IfQQ`` (flag, label, id, id2), then ``flag`` float32
  labels when flag > 0, then the encoded image.
- InsightFace's identity ranges: record 0's labels are ``(first identity record, end)``; identity record k's labels
  are ``(first image key, end image key)``; image records carry the identity number as label.
- ``property``: ``<identities>,<height>,<width>``.

``identities.txt`` (one name per identity number) is facebench's own addition, written by ``facebench data pack``:
with it the leakage guard can compare names; without it identities are named by number.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_HEADER = struct.Struct("<IfQQ")  # mxnet.recordio.IRHeader: flag, label, id, id2
_LENGTH_BITS = 29
REC, IDX, PROPERTY, NAMES = "train.rec", "train.idx", "property", "identities.txt"


def _padded(n: int) -> int:
    return (n + 3) & ~3


class RecordFile:
    """Random access to the records of ``train.rec`` through ``train.idx``; every defect is a DataError."""

    def __init__(self, rec: str | Path, idx: str | Path) -> None:
        self.rec, self.idx = Path(rec), Path(idx)
        self._fd: int | None = None
        for p in (self.rec, self.idx):
            if not p.is_file():
                raise DataError(f"{p}: file not found")
        self.size = self.rec.stat().st_size
        self.offsets = self._read_index()

    def _read_index(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for lineno, line in enumerate(self.idx.read_text(encoding="ascii", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2 or not all(f.isdigit() for f in fields):
                raise DataError(f"{self.idx}:{lineno}: expected '<key>\\t<offset>', got {line[:60]!r}")
            if max(len(f) for f in fields) > 19:
                raise DataError(f"{self.idx}:{lineno}: number too large in {line[:60]!r}")
            key, offset = int(fields[0]), int(fields[1])
            if key in out:
                raise DataError(f"{self.idx}:{lineno}: record {key} is listed twice")
            if offset % 4 or offset + 8 > self.size:
                raise DataError(
                    f"{self.idx}:{lineno}: record {key} at offset {offset} is past the end of "
                    f"{self.rec} ({self.size} bytes) or not on a 4-byte record boundary"
                )
            out[key] = offset
            if len(out) > self.size // 8:  # every record takes at least its 8-byte header: a forged index
                raise DataError(f"{self.idx}: lists more records than {self.rec} ({self.size} bytes) can hold")
        if not out:
            raise DataError(f"{self.idx}: no records")
        return out

    def keys(self) -> list[int]:
        return sorted(self.offsets)

    def read(self, key: int) -> bytes:
        """The payload of record ``key`` (continuation parts joined)."""
        if key not in self.offsets:
            raise DataError(f"{self.idx}: no record {key}")
        if self._fd is None:
            self._fd = os.open(self.rec, os.O_RDONLY)
        return read_record(self._fd, self.offsets[key], where=f"{self.rec}: record {key}", size=self.size)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

    def __getstate__(self) -> dict:  # a file descriptor does not cross processes; reopen lazily
        return {**self.__dict__, "_fd": None}


def read_record(fd: int, offset: int, *, where: str, size: int) -> bytes:
    """One record at ``offset``; ``os.pread`` keeps concurrent readers (the cache's decode threads) apart."""
    parts: list[bytes] = []
    while True:
        head = os.pread(fd, 8, offset)
        if len(head) < 8:
            raise DataError(f"{where} at offset {offset}: truncated (record header past the end of the file)")
        magic, lrec = struct.unpack("<II", head)
        if magic != MAGIC:
            raise DataError(
                f"{where} at offset {offset}: wrong magic number 0x{magic:08x} (expected "
                f"0x{MAGIC:08x}); not a RecordIO file, or a wrong .idx offset"
            )
        cflag, length = lrec >> _LENGTH_BITS, lrec & ((1 << _LENGTH_BITS) - 1)
        if offset + 8 + length > size:
            raise DataError(
                f"{where} at offset {offset}: truncated ({length} payload bytes announced, the file "
                f"ends {size - offset - 8} bytes after the header)"
            )
        parts.append(os.pread(fd, length, offset + 8))
        if cflag in (0, 3):
            return b"".join(parts)
        if cflag not in (1, 2) or (cflag == 1 and len(parts) > 1):
            raise DataError(f"{where} at offset {offset}: bad continuation flag {cflag}")
        parts.append(_MAGIC_BYTES)  # the writer split the payload at a magic number and dropped it
        offset += 8 + _padded(length)


def write_record(fh: BinaryIO, payload: bytes) -> None:
    """dmlc-core's ``RecordIOWriter::WriteRecord``: split at 4-aligned magic numbers, pad to 4 bytes."""
    start = 0
    for i in range(0, len(payload) - len(payload) % 4, 4):
        if payload[i : i + 4] == _MAGIC_BYTES:
            fh.write(struct.pack("<II", MAGIC, ((1 if start == 0 else 2) << _LENGTH_BITS) | (i - start)))
            fh.write(payload[start:i])
            start = i + 4
    rest = len(payload) - start
    fh.write(struct.pack("<II", MAGIC, ((3 if start else 0) << _LENGTH_BITS) | rest))
    fh.write(payload[start:])
    fh.write(b"\0" * (_padded(rest) - rest))


@dataclass
class Header:
    flag: int
    labels: np.ndarray  # float32: one value when flag == 0, else ``flag`` values
    id: int
    id2: int


def unpack(payload: bytes, *, where: str) -> tuple[Header, bytes]:
    """mxnet ``recordio.unpack``: (header, the encoded image that follows it)."""
    if len(payload) < _HEADER.size:
        raise DataError(f"{where}: {len(payload)} bytes, shorter than the {_HEADER.size}-byte record header")
    flag, label, id1, id2 = _HEADER.unpack_from(payload)
    body = payload[_HEADER.size :]
    if flag == 0:
        labels = np.array([label], dtype=np.float32)
    elif len(body) < 4 * flag:
        raise DataError(f"{where}: header announces {flag} labels, only {len(body)} bytes follow")
    else:
        labels, body = np.frombuffer(body, dtype="<f4", count=flag).astype(np.float32), body[4 * flag :]
    # Labels are identity numbers and record keys: whole, finite, non-negative, below 2^31 (float32's exact range
    # is 2^24, more than any training set's identities).
    bad = ~np.isfinite(labels) | (labels < 0) | (labels >= 2**31) | (labels != np.floor(labels))
    if bad.any():
        raise DataError(
            f"{where}: label {float(labels[bad][0])} is not a record key or identity number (a whole number >= 0)"
        )
    return Header(flag, labels, id1, id2), body


def pack(labels: list[float] | float, image: bytes = b"", *, id: int = 0, id2: int = 0) -> bytes:
    """mxnet ``recordio.pack``: one label -> flag 0; a list of labels -> flag = its length."""
    if isinstance(labels, (list, tuple)):
        arr = np.asarray(labels, dtype="<f4")
        return _HEADER.pack(len(arr), 0.0, id, id2) + arr.tobytes() + image
    return _HEADER.pack(0, float(labels), id, id2) + image


@dataclass
class RecordSet:
    """A training set in RecordIO: identity name -> record keys of its images, and the open file."""

    file: RecordFile
    identities: dict[str, list[int]]
    property: tuple[int, int, int] | None


def find_recordio(root: str | Path) -> Path | None:
    """The folder holding ``train.rec`` (``root`` itself, or ``root`` is the .rec file); None if there is none."""
    root = Path(root)
    if root.is_file() and root.suffix == ".rec":
        return root.parent
    return root if (root / REC).is_file() else None


def read_recordio(root: str | Path) -> RecordSet:
    """Open ``root/train.rec`` and list identities through record 0's ranges (or every header without them)."""
    folder = find_recordio(root)
    if folder is None:
        raise DataError(f"{root}: no {REC} (a RecordIO training set is a folder with {REC}, {IDX} and {PROPERTY})")
    f = RecordFile(folder / REC, folder / IDX)
    head, body = unpack(f.read(0), where=f"{f.rec}: record 0")
    if head.flag > 0 and not body:  # InsightFace's header: labels, no image
        by_label = _identity_ranges(f, head)
    else:  # a set without InsightFace's header record: every record is an image labelled by its identity
        by_label = {}
        for key in f.keys():
            h, _ = unpack(f.read(key), where=f"{f.rec}: record {key}")
            by_label.setdefault(int(h.labels[0]), []).append(key)
    last = max(f.offsets, key=f.offsets.__getitem__)
    f.read(last)  # a truncated file shows at its last record; find it before any training starts
    prop = _read_property(folder / PROPERTY, len(by_label))
    names = _identity_names(folder / NAMES, sorted(by_label))
    return RecordSet(f, {names[k]: keys for k, keys in sorted(by_label.items())}, prop)


def _identity_ranges(f: RecordFile, head: Header) -> dict[int, list[int]]:
    if head.flag < 2:
        raise DataError(
            f"{f.rec}: record 0 has {head.flag} label(s) and no image; InsightFace's header record "
            "holds 2 labels (first identity record, end)"
        )
    first, end = (int(v) for v in head.labels[:2])
    if end - first > len(f.offsets) or first > max(f.offsets) + 1:
        raise DataError(
            f"{f.rec}: record 0 gives identity records {first}..{end - 1}, more than the "
            f"{len(f.offsets)} records {f.idx} lists"
        )
    if not 1 <= first <= end:
        raise DataError(f"{f.rec}: record 0 gives identity records {first}..{end - 1}; expected 1 <= first <= end")
    out: dict[int, list[int]] = {}
    total = 0
    for number, key in enumerate(range(first, end)):
        h, _ = unpack(f.read(key), where=f"{f.rec}: record {key}")
        lo, hi = (int(v) for v in h.labels[:2]) if h.flag >= 2 else (-1, -1)
        if h.flag < 2 or not 1 <= lo < hi <= first:
            raise DataError(
                f"{f.rec}: record {key} (identity {number}) gives image records {lo}..{hi - 1}, outside "
                f"the image records 1..{first - 1}"
            )
        total += hi - lo
        if total > len(f.offsets):  # before the range is built: a forged range names millions of records
            raise DataError(
                f"{f.rec}: record {key} (identity {number}) brings the image records to {total:,}, more "
                f"than the {len(f.offsets):,} records {f.idx} lists"
            )
        missing = [k for k in range(lo, hi) if k not in f.offsets]
        if missing:
            raise DataError(f"{f.idx}: no record {missing[0]}, an image of identity {number} (record {key})")
        out[number] = list(range(lo, hi))
    return out


def _read_property(path: Path, identities: int) -> tuple[int, int, int] | None:
    if not path.is_file():
        return None
    fields = path.read_text(encoding="ascii", errors="replace").strip().split(",")
    if len(fields) != 3 or not all(x.strip().isdigit() for x in fields):
        raise DataError(f"{path}:1: expected '<identities>,<height>,<width>', got {','.join(fields)[:60]!r}")
    n, h, w = (int(x) for x in fields)
    if n != identities:
        raise DataError(f"{path}:1: says {n} identities, the record file has {identities}")
    return n, h, w


def _identity_names(path: Path, numbers: list[int]) -> dict[int, str]:
    if not path.is_file():
        return {k: f"{k:07d}" for k in numbers}  # CASIA-style numeric names, zero-padded so they sort by number
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(names) != len(numbers) or len(set(names)) != len(names):
        raise DataError(f"{path}: {len(names)} names ({len(set(names))} distinct) for {len(numbers)} identities")
    return dict(zip(numbers, names))


def write_recordio(out_dir: str | Path, identities: dict[str, list[Path]], *, size: tuple[int, int]) -> int:
    """Write ``identities`` (name -> image files, stored byte for byte) as InsightFace's layout; returns images.

    Keys: 0 the header, 1..N the images grouped by identity, N+1..N+K one range record per identity.
    """
    out = Path(out_dir)
    tmp = {n: out / f".{n}.tmp" for n in (REC, IDX)}
    n_images = sum(len(v) for v in identities.values())
    first_identity = n_images + 1
    index: list[tuple[int, int]] = []
    try:
        _write_records(tmp[REC], identities, index, first_identity)
        tmp[IDX].write_text("".join(f"{k}\t{o}\n" for k, o in index), encoding="ascii")
        for name, path in tmp.items():
            os.replace(path, out / name)
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    (out / PROPERTY).write_text(f"{len(identities)},{size[0]},{size[1]}\n", encoding="ascii")
    (out / NAMES).write_text("".join(f"{n}\n" for n in identities), encoding="utf-8")
    return n_images


def _write_records(
    path: Path, identities: dict[str, list[Path]], index: list[tuple[int, int]], first_identity: int
) -> None:
    with open(path, "wb") as rec:

        def put(key: int, payload: bytes) -> None:
            index.append((key, rec.tell()))
            write_record(rec, payload)

        put(0, pack([first_identity, first_identity + len(identities)]))
        key, ranges = 1, []
        for number, files in enumerate(identities.values()):
            ranges.append((key, key + len(files)))
            for image in files:
                put(key, pack(float(number), Path(image).read_bytes(), id=key))
                key += 1
        for number, (lo, hi) in enumerate(ranges):
            put(first_identity + number, pack([lo, hi], id=first_identity + number))
        rec.flush()
        os.fsync(rec.fileno())
