"""Structured hostile cases from issue 22, in-process through the CLI: exit 2, one line naming the file or key,
no traceback, the user's files untouched (docs/bad-input.md counts them)."""

from __future__ import annotations

import pickle
import shutil

import pytest

from facebench.cli import main
from facebench.data.recordio import pack, write_record

OK = "2\t1\nA\t1\t2\nA\t1\tB\t1\nC\t1\t2\nC\t1\tD\t1\n"


def _pairs(text):
    def build(d, lfw):
        (d / "pairs.txt").write_text(text, encoding="utf-8")
        return ["data", "check", str(d / "pairs.txt")]
    return build


def _rec(records):
    def build(d, lfw):
        (d / "r").mkdir()
        idx = []
        with open(d / "r" / "train.rec", "wb") as f:
            for k, payload in enumerate(records):
                idx.append(f"{k}\t{f.tell()}\n")
                write_record(f, payload)
        (d / "r" / "train.idx").write_text("".join(idx))
        return ["data", "check", str(d / "r")]
    return build


def _forged_index(d, lfw):
    """Record 0: identity records 2..2; identity 0 claims image records 1..9,999,998 of a 3-record file."""
    return _rec([pack([2.0, 3.0]), pack(0.0, b"x"), pack([1.0, 9_999_999.0])])(d, lfw)


def _pack_outside(d, lfw):
    from facebench.data.pairs import read_pairs

    image_dir, pairs = lfw
    p = read_pairs(pairs)
    rows = [f"{a},{b},{int(s)},{f}" for a, b, s, f in zip(p.a, p.b, p.same, p.fold)]
    rows[0] = "../../../../../etc/hostname," + rows[0].split(",", 1)[1]
    (d / "pairs.csv").write_text("path_a,path_b,same,fold\n" + "\n".join(rows) + "\n")
    return ["data", "pack", str(d / "pairs.csv"), "--out", str(d / "x.bin"), "--images", str(image_dir)]


def _pack_marked(d, lfw):
    (d / "out").mkdir()
    (d / "out" / ".facebench").write_text('{"kind": "recordio", "owner": "facebench"}')
    (d / "out" / "identities.txt").write_text("the user's own list\n")
    return ["data", "pack", str(lfw[0].parent), "--out", str(d / "out")]


def _bin(images, same):
    def build(d, lfw):
        (d / "x.bin").write_bytes(pickle.dumps((images, same)))
        return ["data", "check", str(d / "x.bin")]
    return build


def _zero_byte_jpeg(d, lfw):
    shutil.copytree(lfw[0], d / "lfw")
    shutil.copy(lfw[1], d / "pairs.txt")
    next((d / "lfw").rglob("*.jpg")).write_bytes(b"")
    return ["data", "check", str(d)]


IMG = [bytes([i]) * 8 for i in range(40)]
CASES = {
    "pairs: header with a non-ASCII digit": (_pairs("²\t1\n"), "pairs.txt:1: bad header"),
    "pairs: 0\\t0": (_pairs("0\t0\n"), "pairs.txt:1: header '0\\t0' promises no pairs"),
    "pairs: fold past 2^64": (_pairs("path_a,path_b,same,fold\na/a_1.jpg,b/b_1.jpg,1,18446744073709551617\n"),
                              "pairs.txt:2: fold must be an integer"),
    "pairs: no negatives": (_pairs("path_a,path_b,same,fold\na/1.jpg,a/2.jpg,1,0\nb/1.jpg,b/2.jpg,1,1\n"),
                            "are same-person pairs"),
    "pairs: duplicated": (_pairs(OK.replace("C\t1\t2", "A\t1\t2")), "repeats pair 0"),
    "pairs: contradictory": (_pairs("path_a,path_b,same,fold\na/1.jpg,b/1.jpg,1,0\nb/1.jpg,a/1.jpg,0,0\n"),
                             "contradictory"),
    "pairs: zero pairs (CSV)": (_pairs("path_a,path_b,same,fold\n"), "pairs.txt: no pairs"),
    "recordio: NaN label": (_rec([pack(float("nan"), b"x")]), "record 0: label nan"),
    "recordio: header with flag 1 and one label": (_rec([pack([1.0]), pack(0.0, b"x")]), "record 0 has 1 label"),
    "recordio: forged identity range": (_forged_index, "gives image records 1..9999998, outside"),
    "bin: duplicated pair": (_bin(IMG + IMG[:2], [True, False] * 10 + [True]), "given twice"),
    "bin: contradictory pair": (_bin(IMG + IMG[:2], [True, False] * 10 + [False]), "contradictory"),
    "bin: self-pair": (_bin(IMG[:38] + [IMG[0], IMG[0]], [True, False] * 10), "with itself"),
    "pack: pairs naming ../../etc/hostname": (_pack_outside, "outside the image folder"),
    "pack: --folds 0-10000000000": (lambda d, lfw: ["data", "pack", str(lfw[0].parent), "--out", str(d / "o"),
                                                    "--folds", "0-10000000000"], "--folds: fold 10000000000"),
    "pack: a marked folder with a user's identities.txt": (_pack_marked, "identities.txt"),
    "check: zero-byte JPEG": (_zero_byte_jpeg, "empty file (0 bytes)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_case(case, synthetic_lfw, tmp_path, capsys):
    build, expect = CASES[case]
    argv = build(tmp_path, synthetic_lfw)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith("decoding")]
    assert len(err) == 1 and err[0].startswith("facebench: error:") and expect in err[0], err
    assert all(p.read_bytes() == b for p, b in before.items())
