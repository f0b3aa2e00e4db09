"""The bad-input suite, part two: cases that need a finished trial or a real full/read-only disk, and inputs
facebench must get right instead of refusing (the "handled" count of docs/architecture.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import bad_inputs as b
import numpy as np
import pytest
from test_bad_input import assert_one_line, run_cli, snapshot

ERRORS_AFTER_TRAINING = (
    "train: again into a finished trial with another config, no checkpoint",
    "train: again into a finished trial with --no-resume",
)
ERRORS_ON_A_BAD_DISK = (
    "train: full disk",
    "train: read-only disk",
    "report: read-only disk",
    "sweep: read-only results folder",
    "sweep: full disk (starts Ray)",
)
HANDLED = (
    "eval: cosine of embeddings near 1e300",
    "eval: cosine of embeddings near 1e-300",
    "eval: euclidean of embeddings near 1e300",
    "data: decoded cache overwritten with same-size garbage",
    "train: checkpoint temp file left by a SIGKILL",
    "train: --overwrite replaces a finished trial",
)


def test_a_finished_trial_is_replaced_only_with_overwrite(tmp_path):
    out = tmp_path / "out"
    config = {**b.TINY, "train.checkpoint": "false"}
    assert run_cli(["train", *b.sets(config), "--out", str(out), "--quiet"], tmp_path).returncode == 0
    finished = snapshot(out)
    changed = b.sets({**config, "optim.lr": 0.002})
    assert_one_line(
        run_cli(["train", *changed, "--out", str(out), "--quiet"], tmp_path),
        "holds a completed trial of another config (optim.lr: there 0.001 vs now 0.002)",
        2,
    )
    assert_one_line(
        run_cli(["train", *b.sets(config), "--out", str(out), "--no-resume", "--quiet"], tmp_path),
        "--no-resume would train it again",
        2,
    )
    assert snapshot(out) == finished
    # A SIGKILL during a checkpoint write leaves .checkpoint.pt.<random>.tmp; the next run removes it.
    (out / ".checkpoint.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    proc = run_cli(["train", *changed, "--out", str(out), "--overwrite", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "result.json").read_text())["config"]["optim.lr"] == 0.002
    assert not list(out.glob(".*.tmp"))


@pytest.fixture
def disk(tmp_path):
    """A real tiny filesystem (tmpfs): ``disk("full")`` has 40 KiB, ``disk("ro")`` is mounted read-only.
    Root in a container may mount; elsewhere the test is skipped."""
    mounts = []

    def make(kind: str) -> Path:
        where = tmp_path / f"mnt-{kind}"
        where.mkdir()
        opts = "size=40k" if kind == "full" else "ro,size=1m"
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
        if proc.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()})")
        mounts.append(where)
        return where

    yield make
    for where in mounts:
        subprocess.run(["umount", str(where)], check=False)


@pytest.mark.parametrize("case", ERRORS_ON_A_BAD_DISK)
def test_full_or_read_only_disk_is_one_line(case, tmp_path, disk):
    if case == "train: full disk":
        args, expected = ["train", *b.sets(b.TINY), "--out", str(disk("full") / "t"), "--quiet"], "No space left"
    elif case == "train: read-only disk":
        args, expected = ["train", *b.sets(b.TINY), "--out", str(disk("ro") / "t"), "--quiet"], "Read-only"
    elif case == "report: read-only disk":
        args = ["train", *b.sets(b.TINY), "--out", str(tmp_path / "t"), "--quiet"]
        assert run_cli(args, tmp_path).returncode == 0
        args, expected = ["report", str(tmp_path / "t"), "--out", str(disk("ro") / "r")], "Read-only"
    else:
        (tmp_path / "ok.py").write_text(b.SPACE.format(body="pass", tail=b.MAIN))
        full = case.startswith("sweep: full")
        args = [
            "sweep",
            str(tmp_path / "ok.py"),
            "--results",
            str(disk("full" if full else "ro")),
            "--local",
            "--quiet",
        ]
        expected = (
            "study database (--study-db, default <results>/<name>/study.db): database or disk is full"
            if full
            else "Read-only"
        )
    assert_one_line(run_cli(args, tmp_path), expected, 2)


def _eval_json(tmp_path: Path, emb: np.ndarray, metric: str) -> dict:
    args = b.embeddings(emb, metric=metric)(tmp_path)
    proc = run_cli([*args, "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    "case, scale, metric",
    [(HANDLED[0], 1e300, "cosine"), (HANDLED[1], 1e-300, "cosine"), (HANDLED[2], 1e300, "euclidean")],
)
def test_extreme_but_finite_embeddings_score_as_their_unit_scale_copy(case, scale, metric, tmp_path):
    emb = np.random.default_rng(0).normal(size=(8, 4))
    (tmp_path / "small").mkdir()
    (tmp_path / "big").mkdir()
    unit = _eval_json(tmp_path / "small", emb, metric)
    scaled = _eval_json(tmp_path / "big", emb * scale, metric)
    assert scaled["auc"] == pytest.approx(unit["auc"]) and scaled["accuracy_mean"] == unit["accuracy_mean"]
    assert scaled["auc"] != 0.5  # the unit copy separates the pairs: the equality above is not vacuous


def test_decoded_cache_overwritten_with_garbage_is_detected_and_rebuilt(tmp_path, capsys):
    """``HANDLED[3]``: same-size garbage over the .npy is caught by the manifest's block CRCs."""
    from facebench.data.cache import STATS, get_or_build

    params = {"kind": "bad-input-test", "n": 3}

    def fill(out: np.ndarray) -> None:
        out[:] = np.arange(out.size, dtype=np.uint64).reshape(out.shape) % 251

    first = np.array(get_or_build(params, (3, 64, 64, 3), fill, cache_dir=tmp_path))
    npy = next(tmp_path.glob("*.npy"))
    header = 128
    raw = bytearray(npy.read_bytes())
    raw[header:] = np.random.default_rng(0).integers(0, 256, len(raw) - header, dtype=np.uint8).tobytes()
    npy.write_bytes(bytes(raw))
    builds, corrupt = STATS["builds"], STATS["corrupt"]
    again = np.array(get_or_build(params, (3, 64, 64, 3), fill, cache_dir=tmp_path))
    assert STATS["corrupt"] > corrupt and STATS["builds"] == builds + 1
    np.testing.assert_array_equal(again, first)
    assert "fails its checksum); rebuilding it" in capsys.readouterr().err
