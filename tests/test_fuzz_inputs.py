"""Property-based fuzzers, one per input surface (docs/bad-input.md): valid inputs made by the real writers, mutated.

The contract, per example: a correct result or the user-error type (``FacebenchError``, which the CLI prints as one
line with exit 2); never another exception (it propagates and fails the test), never a hang past the per-test
timeout, never a write outside the destination. Derandomised: the same examples on every run.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facebench.cli import main
from facebench.data.binset import read_bin
from facebench.data.check import check_path
from facebench.data.pairs import read_pairs
from facebench.data.recordio import read_recordio
from facebench.errors import FacebenchError

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(120)]
FUZZ = dict(derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "²",
    "٣",
    "1e3",
    "NaN",
    "99999999999999999999999",
    "18446744073709551617",
    "é",
    "../../../../etc/hostname",
    "\x00",
    "A",
    "300",
]


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _contract(fn):
    """Run ``fn``: its result, or None for the user-error type; anything else propagates (a bug)."""
    try:
        return fn()
    except FacebenchError as e:
        assert "\n" not in str(e).strip(), f"not one line: {e}"
        return None


@st.composite
def line_edits(draw, lines: list[str]):
    out = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(0, len(out) - 1)))
        op = draw(st.sampled_from(["delete", "duplicate", "token", "swap", "truncate"]))
        if not out:
            break
        if op == "delete":
            del out[i]
        elif op == "duplicate":
            out.insert(i, out[i])
        elif op == "swap":
            j = draw(st.integers(0, len(out) - 1))
            out[i], out[j] = out[j], out[i]
        elif op == "truncate":
            out[i] = out[i][: draw(st.integers(0, len(out[i])))]
        else:
            fields = out[i].split("\t") or [""]
            k = draw(st.integers(0, len(fields) - 1))
            fields[k] = draw(st.sampled_from(HOSTILE))
            out[i] = "\t".join(fields)
    return out


@given(st.data())
@settings(max_examples=60, **FUZZ)
def test_fuzz_pairs_file(synthetic_lfw, tmp_path_factory, data):
    image_dir, pairs = synthetic_lfw
    lines = data.draw(line_edits(pairs.read_text().splitlines()))
    d = tmp_path_factory.mktemp("pairs")
    (d / "pairs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.symlink(image_dir, d / image_dir.name)
    before = _tree(d)
    got = _contract(lambda: read_pairs(d / "pairs.txt"))
    if got is not None:  # accepted: scorable, and data check agrees on the same file
        assert got.same.any() and not got.same.all() and len(set(zip(got.a, got.b))) == len(got)
        _contract(lambda: check_path(d / "pairs.txt"))
    out = d / "out.bin"
    _contract(lambda: main(["data", "pack", str(d / "pairs.txt"), "--out", str(out)]) in (0, 2) or None)
    if out.exists():
        assert len(read_bin(out)) == len(got)
    assert {k: v for k, v in _tree(d).items() if k != "out.bin"} == before
    shutil.rmtree(d)


@pytest.fixture(scope="module")
def packed(synthetic_lfw, tmp_path_factory):
    image_dir, pairs = synthetic_lfw
    d = tmp_path_factory.mktemp("packed")
    assert main(["data", "pack", str(image_dir.parent), "--out", str(d / "rec"), "--folds", "0-4"]) == 0
    assert main(["data", "pack", str(pairs), "--out", str(d / "lfw.bin")]) == 0
    return d


@given(st.data())
@settings(max_examples=60, **FUZZ)
def test_fuzz_bin_set(packed, tmp_path_factory, data):
    images, same = pickle.loads((packed / "lfw.bin").read_bytes())  # our own file, written by write_bin
    kind = data.draw(st.sampled_from(["bytes", "structure"]))
    d = tmp_path_factory.mktemp("bin")
    if kind == "bytes":
        blob = bytearray((packed / "lfw.bin").read_bytes())
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] = data.draw(st.integers(0, 255))
        blob = blob[: data.draw(st.integers(0, len(blob)))] if data.draw(st.booleans()) else blob
    else:
        images, same = list(images), list(same)
        i = data.draw(st.integers(0, len(same) - 1))
        op = data.draw(st.sampled_from(["dup", "flip", "drop", "empty", "garbage", "nan", "self", "allsame"]))
        if op == "dup":
            images, same = images + images[2 * i : 2 * i + 2], same + [same[i]]
        elif op == "flip":
            images, same = images + images[2 * i : 2 * i + 2], same + [not same[i]]
        elif op == "drop":
            images = images[:-1]
        elif op == "empty":
            images[2 * i] = b""
        elif op == "garbage":
            images[2 * i] = images[2 * i][: data.draw(st.integers(0, 200))]
        elif op == "nan":
            same[i] = float("nan")
        elif op == "self":
            images[2 * i + 1] = images[2 * i]
        else:
            same = [True] * len(same)
        blob = pickle.dumps((images, same), protocol=4)
    (d / "x.bin").write_bytes(bytes(blob))
    got = _contract(lambda: check_path(d / "x.bin"))  # reads and decodes every image
    if got is not None:
        s = read_bin(d / "x.bin")
        assert len(s.images) == 2 * len(s) and s.same.any() and not s.same.all()
    assert _tree(d) == {"x.bin": len(blob)}
    shutil.rmtree(d)


@given(st.data())
@settings(max_examples=60, **FUZZ)
def test_fuzz_recordio(packed, tmp_path_factory, data):
    d = tmp_path_factory.mktemp("rec")
    shutil.copytree(packed / "rec", d / "rec")
    if data.draw(st.booleans()):
        idx = d / "rec" / "train.idx"
        idx.write_text("\n".join(data.draw(line_edits(idx.read_text().splitlines()))) + "\n")
    else:
        rec = d / "rec" / "train.rec"
        blob = bytearray(rec.read_bytes())
        for _ in range(data.draw(st.integers(1, 3))):
            # headers and labels live in the first 64 bytes of each record; aim there as often as anywhere
            i = data.draw(st.one_of(st.integers(0, 63), st.integers(0, len(blob) - 1)))
            blob[i] = data.draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xC0, 0xFF, 0x0A, 0x23, 0xD7, 0xCE]))
        if data.draw(st.booleans()):
            blob = blob[: data.draw(st.integers(0, len(blob)))]
        rec.write_bytes(bytes(blob))
    before = _tree(d)
    got = _contract(lambda: read_recordio(d / "rec"))
    if got is not None:
        n = sum(len(v) for v in got.identities.values())
        assert 0 < n <= len(got.file.offsets) and got.file.size == (d / "rec" / "train.rec").stat().st_size
        got.file.close()
        _contract(lambda: check_path(d / "rec"))
    assert _tree(d) == before
    shutil.rmtree(d)


TINY = {
    "data.image_size": 24,
    "model.width": 0.125,
    "train.epochs": 1,
    "train.batch_size": 8,
    "data.val_pairs": 16,
    "train.max_steps": 2,
    "eval.batch_size": 64,
    "train.threads": 1,
    "model.backbone": "cnn",
    "loss.name": "arcface",
}


@pytest.fixture(scope="module")
def trial(synthetic_lfw, packed, tmp_path_factory):
    from facebench.engine import run_trial

    image_dir, _ = synthetic_lfw
    d = tmp_path_factory.mktemp("trial")
    cfg = {
        **TINY,
        "data.train": "recordio",
        "data.root": str(packed / "rec"),
        "data.test_root": str(image_dir.parent),
        "data.test_folds": "5-9",
    }
    run_trial(cfg, trial_dir=d / "t", raise_on_error=True)
    run_trial({**cfg, "model.backbone": "resnet18"}, trial_dir=d / "other", raise_on_error=True)
    return d


CONFIGS = [
    b"",
    b"{",
    b"[]",
    b"[1, 2]",
    b"null",
    b"42",
    b'"x"',
    b'{"model.backbone": 7}',
    b'{"model.backbone": "nope"}',
    b'{"data.image_size": -32}',
    b'{"data.image_size": "big"}',
    b'{"model.width": 1e308}',
    b"\xef\xbb\xbf{}",
]


@given(st.data())
@settings(max_examples=25, **FUZZ)
def test_fuzz_trial_folder(trial, synthetic_lfw, tmp_path_factory, data):
    image_dir, _ = synthetic_lfw
    d = tmp_path_factory.mktemp("fz")
    shutil.copytree(trial / "t", d / "t")
    op = data.draw(st.sampled_from(["config", "config-trunc", "config-key", "no-model", "other-arch", "ckpt-trunc"]))
    cfg = d / "t" / "config.json"
    if op == "config":
        cfg.write_bytes(data.draw(st.sampled_from(CONFIGS)))
    elif op == "config-trunc":
        cfg.write_bytes(cfg.read_bytes()[: data.draw(st.integers(0, cfg.stat().st_size))])
    elif op == "config-key":
        flat = json.loads(cfg.read_text())
        key = data.draw(st.sampled_from(sorted(flat)))
        flat[key] = data.draw(st.sampled_from([None, [], {}, -1, "x", 1e300, True]))
        cfg.write_text(json.dumps(flat))
    elif op == "no-model":
        (d / "t" / "checkpoint.pt").unlink()
    elif op == "other-arch":
        shutil.copy(trial / "other" / "checkpoint.pt", d / "t" / "checkpoint.pt")
    else:
        ck = d / "t" / "checkpoint.pt"
        ck.write_bytes(ck.read_bytes()[: data.draw(st.integers(0, ck.stat().st_size))])
    before = _tree(d)
    out = d / "emb.npz"
    for argv in (
        ["embed", str(d / "t"), "--data", str(image_dir.parent), "--out", str(out), "--quiet"],
        ["eval", "model", str(d / "t"), "--on", str(image_dir.parent), "--folds", "5-9"],
    ):
        assert main(argv) in (0, 2), argv
    assert {k: v for k, v in _tree(d).items() if k != "emb.npz"} == before
    shutil.rmtree(d)
