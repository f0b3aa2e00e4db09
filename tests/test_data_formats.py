"""InsightFace's formats: RecordIO training sets and .bin verification sets, both directions, and bad input."""

from __future__ import annotations

import io
import os
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

from facebench.cli import main
from facebench.data.binset import read_bin, write_bin
from facebench.data.layouts import list_identity_folder
from facebench.data.recordio import MAGIC, RecordFile, pack, read_recordio, unpack, write_record
from facebench.errors import DataError


@pytest.fixture
def packed(synthetic_lfw, tmp_path):
    """The synthetic LFW packed both ways: every person -> RecordIO, every pair -> lfw.bin."""
    image_dir, pairs = synthetic_lfw
    assert main(["data", "pack", str(image_dir), "--out", str(tmp_path / "rec")]) == 0
    assert main(["data", "pack", str(pairs), "--out", str(tmp_path / "lfw.bin")]) == 0
    return tmp_path / "rec", tmp_path / "lfw.bin"


def _one_line_error(capsys, argv: list[str], *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def test_recordio_round_trip_keeps_bytes_identities_and_insightface_headers(packed, synthetic_lfw):
    rec, _ = packed
    image_dir, _ = synthetic_lfw
    listing = list_identity_folder(image_dir)
    rs = read_recordio(rec)
    assert list(rs.identities) == sorted(listing)  # identities.txt restores the names
    n = sum(len(v) for v in listing.values())
    assert rs.property[0] == len(listing)
    head, body = unpack(rs.file.read(0), where="r0")
    assert head.flag == 2 and head.labels.tolist() == [n + 1, n + 1 + len(listing)] and body == b""
    key = 1
    for number, (person, names) in enumerate(sorted(listing.items())):
        ident, _ = unpack(rs.file.read(n + 1 + number), where="id")
        assert ident.labels.tolist() == [key, key + len(names)]
        for name in names:
            h, image = unpack(rs.file.read(key), where="img")
            assert (h.flag, h.labels.tolist(), h.id) == (0, [float(number)], key)
            assert image == (image_dir / name).read_bytes()  # stored byte for byte: identical pixels
            key += 1


def test_payload_holding_the_magic_is_split_and_rejoined(tmp_path):
    magic = struct.pack("<I", MAGIC)
    payload = b"abcd" + magic + b"efgh" + magic + b"xyz"
    path = tmp_path / "train.rec"
    with open(path, "wb") as f:
        write_record(f, payload)
    raw = path.read_bytes()
    # dmlc-core's layout: parts flagged 1, 2, 3 (upper 3 bits of lrec), the magic dropped, the tail padded.
    lrecs = [struct.unpack_from("<I", raw, o)[0] for o in (4, 16, 28)]
    assert [(v >> 29, v & 0x1FFFFFFF) for v in lrecs] == [(1, 4), (2, 4), (3, 3)]
    assert len(raw) == 3 * 8 + 4 + 4 + 4
    (tmp_path / "train.idx").write_text("0\t0\n")
    assert RecordFile(path, tmp_path / "train.idx").read(0) == payload


def test_header_with_label_array_round_trips():
    h, body = unpack(pack([3.0, 7.0], b"IMG", id=5, id2=9), where="x")
    assert (h.flag, h.labels.tolist(), h.id, h.id2, body) == (2, [3.0, 7.0], 5, 9, b"IMG")


def test_data_check_counts_both_formats(packed, capsys):
    rec, binfile = packed
    assert main(["data", "check", str(rec)]) == 0
    assert "80 images of 20 identities" in capsys.readouterr().out
    assert main(["data", "check", str(binfile)]) == 0
    assert "60 pairs (30 positives), 120 encoded images, 10 contiguous folds" in capsys.readouterr().out


def test_bin_round_trip_and_contiguous_folds(packed, synthetic_lfw):
    from facebench.data.pairs import read_pairs

    image_dir, pairs_path = synthetic_lfw
    data = read_bin(packed[1])
    pairs = read_pairs(pairs_path)
    assert data.same.tolist() == pairs.same.tolist()
    assert data.images[0] == (image_dir / pairs.a[0]).read_bytes()
    assert data.images[-1] == (image_dir / pairs.b[-1]).read_bytes()
    assert data.fold.tolist() == pairs.fold.tolist()  # LFW's folds are the 10 contiguous blocks


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_bin_accepts_numpy_bool_flags_in_every_protocol(tmp_path, protocol):
    path = tmp_path / "x.bin"
    same = np.array([True, False] * 5)
    path.write_bytes(pickle.dumps(([bytes([i]) for i in range(20)], same), protocol=protocol))  # distinct images
    assert read_bin(path).same.tolist() == same.tolist()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_bin_is_refused_and_nothing_runs(tmp_path, capsys):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.bin"
    path.write_bytes(pickle.dumps(([b"a", b"b"], [True], _Evil(marker))))
    _one_line_error(capsys, ["data", "check", str(path)], str(path), "refused", "system")
    assert not marker.exists()
    other = tmp_path / "floats.bin"  # a numpy array, but not of bools
    other.write_bytes(pickle.dumps(([b"a", b"b"] * 10, np.zeros(10))))
    _one_line_error(capsys, ["data", "check", str(other)], str(other), "bool")


def test_bin_count_mismatch_is_one_line(tmp_path, capsys):
    path = tmp_path / "bad.bin"
    path.write_bytes(pickle.dumps(([b"a"] * 21, [True, False] * 5)))
    _one_line_error(capsys, ["data", "check", str(path)], str(path), "21 images for 10 pairs")
    with pytest.raises(ValueError):
        write_bin(tmp_path / "never.bin", [b"a"], [True])
    assert not (tmp_path / "never.bin").exists()


def _copy_rec(packed, tmp_path):
    src = packed[0]
    dst = tmp_path / "broken"
    dst.mkdir()
    for name in ("train.rec", "train.idx", "property", "identities.txt"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_truncated_rec_names_the_record_and_offset(packed, tmp_path, capsys):
    rec = _copy_rec(packed, tmp_path)
    data = (rec / "train.rec").read_bytes()
    (rec / "train.rec").write_bytes(data[:-9])
    last_key, last_offset = (rec / "train.idx").read_text().splitlines()[-1].split("\t")
    _one_line_error(
        capsys, ["data", "check", str(rec)], "train.rec", f"record {last_key} at offset {last_offset}", "truncated"
    )


def test_wrong_magic_names_the_record_and_offset(packed, tmp_path, capsys):
    rec = _copy_rec(packed, tmp_path)
    key, offset = (rec / "train.idx").read_text().splitlines()[0].split("\t")
    data = bytearray((rec / "train.rec").read_bytes())
    data[int(offset) : int(offset) + 4] = b"\0\0\0\0"
    (rec / "train.rec").write_bytes(bytes(data))
    _one_line_error(
        capsys,
        ["data", "check", str(rec)],
        "train.rec",
        f"record {key} at offset {offset}",
        "wrong magic number 0x00000000",
    )


def test_idx_past_the_end_names_the_line(packed, tmp_path, capsys):
    rec = _copy_rec(packed, tmp_path)
    lines = (rec / "train.idx").read_text().splitlines()
    lines[3] = lines[3].split("\t")[0] + "\t999999999"
    (rec / "train.idx").write_text("\n".join(lines) + "\n")
    _one_line_error(capsys, ["data", "check", str(rec)], "train.idx:4", "offset 999999999 is past the end")


def test_property_count_mismatch_is_one_line(packed, tmp_path, capsys):
    rec = _copy_rec(packed, tmp_path)
    (rec / "property").write_text("21,250,250\n")
    _one_line_error(capsys, ["data", "check", str(rec)], "property:1", "21 identities", "has 20")


def test_pack_never_overwrites(packed, synthetic_lfw, capsys):
    image_dir, pairs = synthetic_lfw
    before = packed[1].read_bytes()
    _one_line_error(capsys, ["data", "pack", str(pairs), "--out", str(packed[1])], "already exists")
    _one_line_error(capsys, ["data", "pack", str(image_dir), "--out", str(packed[0])], "already exists")
    assert packed[1].read_bytes() == before


def test_record_file_reads_from_threads(packed):
    from concurrent.futures import ThreadPoolExecutor

    f = read_recordio(packed[0]).file
    keys = f.keys() * 4
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(f.read, keys))
    assert got == [f.read(k) for k in keys]


def test_missing_rec_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no train.rec"):
        read_recordio(tmp_path)


def test_recordio_without_header_record_is_listed_from_every_header(tmp_path, capsys):
    """Sets written by plain im2rec have no InsightFace record 0: each image's label is its identity."""
    index = []
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, "JPEG")  # data check decodes every record's image
    with open(tmp_path / "train.rec", "wb") as f:
        for key, label in enumerate([0, 0, 1, 2, 1]):
            index.append(f"{key}\t{f.tell()}\n")
            # labels as a 2-value array (flag 2) for one record: InsightFace takes the first value
            write_record(f, pack([float(label), 7.0] if key == 4 else float(label), jpeg.getvalue(), id=key))
    (tmp_path / "train.idx").write_text("".join(index))
    rs = read_recordio(tmp_path)
    assert rs.identities == {"0000000": [0, 1], "0000001": [2, 4], "0000002": [3]} and rs.property is None
    assert main(["data", "check", str(tmp_path)]) == 0
    assert "5 images of 3 identities" in capsys.readouterr().out


def test_pack_writes_recordio_only_into_a_new_or_empty_folder(synthetic_lfw, tmp_path, capsys):
    image_dir, _ = synthetic_lfw
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    _one_line_error(capsys, ["data", "pack", str(image_dir), "--out", str(mine)], "not created by facebench")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_cifar_batch_is_unpickled_without_running_code(cifar_batches, tmp_path, capsys):
    """The same restricted unpickler guards CIFAR-10's python batches: real ones load, a hostile one runs nothing."""
    marker = tmp_path / "pwned"
    assert main(["data", "check", str(cifar_batches.parent)]) == 0
    capsys.readouterr()
    (cifar_batches / "data_batch_1").write_bytes(pickle.dumps({b"data": _Evil(marker), b"labels": [0]}))
    _one_line_error(capsys, ["data", "check", str(cifar_batches.parent)], "data_batch_1", "refused", "system")
    assert not marker.exists()
