"""Structured hostile cases, in-process through the CLI: exit 2, one line naming the file or key,
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


def _train(**values):
    from bad_inputs import TINY, sets

    return lambda d, lfw: ["train", *sets({**TINY, **values}), "--out", str(d / "out"), "--quiet"]


def _flags(*argv):
    return lambda d, lfw: [a.replace("{d}", str(d)) for a in argv]


def _configs_twice(d, lfw):
    (d / "a.json").write_text('{"train.epochs": 1}')
    (d / "b.json").write_text('{"train.epochs": 2}')
    return ["train", "--config", str(d / "a.json"), "--config", str(d / "b.json"), "--out", str(d / "out")]


def _edited_result(value):
    def build(d, lfw):
        import json

        from bad_inputs import TINY, sets

        from facebench.engine import run_trial

        run_trial(TINY, trial_dir=d / "t", raise_on_error=True)
        result = json.loads((d / "t" / "result.json").read_text())
        result["metrics"]["test_accuracy_mean"] = value
        (d / "t" / "result.json").write_text(json.dumps(result))
        return ["train", *sets(TINY), "--out", str(d / "t"), "--quiet"]

    return build


IMG = [bytes([i]) * 8 for i in range(40)]
CASES = {
    "pairs: header with a non-ASCII digit": (_pairs("²\t1\n"), "pairs.txt:1: bad header"),
    "pairs: 0\\t0": (_pairs("0\t0\n"), "pairs.txt:1: header '0\\t0' promises no pairs"),
    "pairs: fold past 2^64": (
        _pairs("path_a,path_b,same,fold\na/a_1.jpg,b/b_1.jpg,1,18446744073709551617\n"),
        "pairs.txt:2: fold must be an integer",
    ),
    "pairs: no negatives": (
        _pairs("path_a,path_b,same,fold\na/1.jpg,a/2.jpg,1,0\nb/1.jpg,b/2.jpg,1,1\n"),
        "are same-person pairs",
    ),
    "pairs: duplicated": (_pairs(OK.replace("C\t1\t2", "A\t1\t2")), "repeats pair 0"),
    "pairs: contradictory": (
        _pairs("path_a,path_b,same,fold\na/1.jpg,b/1.jpg,1,0\nb/1.jpg,a/1.jpg,0,0\n"),
        "contradictory",
    ),
    "pairs: zero pairs (CSV)": (_pairs("path_a,path_b,same,fold\n"), "pairs.txt: no pairs"),
    "recordio: NaN label": (_rec([pack(float("nan"), b"x")]), "record 0: label nan"),
    "recordio: header with flag 1 and one label": (_rec([pack([1.0]), pack(0.0, b"x")]), "record 0 has 1 label"),
    "recordio: forged identity range": (_forged_index, "gives image records 1..9999998, outside"),
    "bin: duplicated pair": (_bin(IMG + IMG[:2], [True, False] * 10 + [True]), "given twice"),
    "bin: contradictory pair": (_bin(IMG + IMG[:2], [True, False] * 10 + [False]), "contradictory"),
    "bin: self-pair": (_bin(IMG[:38] + [IMG[0], IMG[0]], [True, False] * 10), "with itself"),
    "pack: pairs naming ../../etc/hostname": (_pack_outside, "outside the image folder"),
    "pack: --folds 0-10000000000": (
        lambda d, lfw: ["data", "pack", str(lfw[0].parent), "--out", str(d / "o"), "--folds", "0-10000000000"],
        "--folds: fold 10000000000",
    ),
    "pack: a marked folder with a user's identities.txt": (_pack_marked, "identities.txt"),
    "check: zero-byte JPEG": (_zero_byte_jpeg, "empty file (0 bytes)"),
    # numeric config keys and flags (every key's range is walked in tests/test_config_ranges.py)
    "train: train.epochs=1e21": (_train(**{"train.epochs": "1e21"}), "train.epochs: expected int"),
    "train: train.epochs=100000": (
        _train(**{"train.epochs": 100000}),
        "train.epochs: 100000 is out of range; allowed [1, 10000]",
    ),
    "train: train.seed=-1": (_train(**{"train.seed": -1}), "train.seed: -1 is out of range; allowed [0, 2^63-1]"),
    "train: data.image_size=0": (_train(**{"data.image_size": 0}), "data.image_size: 0 is out of range"),
    "train: data.image_size=-32": (_train(**{"data.image_size": -32}), "data.image_size: -32 is out of range"),
    "train: data.synthetic_identities=0": (
        _train(**{"data.synthetic_identities": 0}),
        "data.synthetic_identities: 0 is out of range",
    ),
    "train: optim.lr=nan": (
        _train(**{"optim.lr": "nan"}),
        "optim.lr: must be finite, got nan; allowed (0.0, 1000000.0]",
    ),
    "train: train.batch_size=10^9": (_train(**{"train.batch_size": 10**9}), "allowed [1, 65536]"),
    "train: --config given twice": (_configs_twice, "--config given twice"),
    "eval compare: --n-boot 0": (
        _flags("eval", "compare", "{d}/a", "{d}/b", "--n-boot", "0"),
        "--n-boot: 0 is out of range; allowed [1, 1_000_000_000]",
    ),
    "eval compare: --seed -1": (
        _flags("eval", "compare", "{d}/a", "{d}/b", "--seed", "-1"),
        "--seed: -1 is out of range; allowed [0, 2^63-1]",
    ),
    "eval pairs: --folds 0": (
        _flags("eval", "pairs", "--embeddings", "e", "--pairs", "p", "--folds", "0"),
        "--folds: 0 is out of range",
    ),
    "data overlap: --near 65": (_flags("data", "overlap", "a", "b", "--near", "65"), "--near: 65 is out of range"),
    "data cache: --size -32": (_flags("data", "cache", "{d}", "--size", "-32"), "--size -32: as data.image_size"),
    "data cache: --crop inf": (
        _flags("data", "cache", "{d}", "--crop", "inf"),
        "--crop inf: as data.crop: must be finite",
    ),
    "train: result.json edited to accuracy 7.5": (
        _edited_result(7.5),
        "metrics.test_accuracy_mean = 7.5 is not a score in [0, 1]",
    ),
    "train: result.json edited to accuracy NaN": (_edited_result(float("nan")), "metrics.test_accuracy_mean = nan"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_case(case, synthetic_lfw, tmp_path, capsys):
    build, expect = CASES[case]
    argv = build(tmp_path, synthetic_lfw)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's refusal of a flag (facebench.cliflags: one line, exit 2)
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith("decoding")]
    assert len(err) == 1 and err[0].startswith("facebench: error:") and expect in err[0], err
    assert all(p.read_bytes() == b for p, b in before.items())
