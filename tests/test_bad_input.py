"""The bad-input suite: users' mistakes and a shared folder's hazards, fed to the real CLI in a subprocess.

Every case in ``CASES`` must end in exactly one line on stderr that names the file or key (the expected
text), exit code 2 (130 for an interrupt), no traceback, and leave the user's files byte-identical. Cases
in ``HANDLED`` are inputs facebench must get right rather than refuse. Add a case for every new hazard:
the suite only grows, and its counts are stated in docs/architecture.md and the README (checked below).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import bad_inputs as b
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
KEEP_NAME = b.KEEP

# id -> (builder, text the one line must contain, exit code)
CASES = {
    # config files
    "config: key flat and nested (JSON)": (
        b.config_file("c.json", '{"train.epochs": 1, "train": {"epochs": 2}}'),
        "c.json: key 'train.epochs' is given twice",
        2,
    ),
    "config: key repeated (JSON)": (
        b.config_file("c.json", '{"train.epochs": 1, "train.epochs": 2}'),
        "c.json: key 'train.epochs' is given twice",
        2,
    ),
    "config: key repeated (YAML)": (
        b.config_file("c.yaml", "train:\n  epochs: 1\n  epochs: 2\n"),
        "c.yaml: line 3: key 'epochs' is given twice",
        2,
    ),
    "config: key flat and nested (YAML)": (
        b.config_file("c.yaml", "train.epochs: 1\ntrain:\n  epochs: 2\n"),
        "c.yaml: key 'train.epochs' is given twice",
        2,
    ),
    "config: key flat and nested (TOML)": (
        b.config_file("c.toml", '"train.epochs" = 1\n[train]\nepochs = 2\n'),
        "c.toml: key 'train.epochs' is given twice",
        2,
    ),
    "config: key repeated (TOML)": (
        b.config_file("c.toml", "[train]\nepochs = 1\nepochs = 2\n"),
        "c.toml: cannot parse",
        2,
    ),
    "config: nested 100,000 deep (JSON)": (
        b.config_file("c.json", '{"a":' * 100_000 + "1" + "}" * 100_000),
        "c.json: nested too deeply",
        2,
    ),
    "config: nested 3,000 deep (YAML)": (
        b.config_file("c.yaml", "a:\n" + "".join(" " * (i + 1) + f"b{i}:\n" for i in range(3000))),
        "c.yaml: nested too deeply",
        2,
    ),
    "config: YAML alias bomb": (b.config_file("c.yaml", b.alias_bomb()), "c.yaml: more than 10000 keys", 2),
    "config: not UTF-8": (b.config_file("c.json", b'{"name": "caf\xe9"}'), "c.json:1: not UTF-8", 2),
    "config: not JSON": (b.config_file("c.json", "{train: 1"), "c.json: cannot parse", 2),
    "config: top level a list": (b.config_file("c.json", "[1, 2]"), "c.json: top level must be a mapping", 2),
    "config: unknown key": (b.config_file("c.json", '{"train.epochz": 1}'), "train.epochz", 2),
    "config: unknown format": (b.config_file("c.ini", "[train]"), "c.ini: unknown config format", 2),
    # train --out
    "train: --out is a file": (b.out_is("file"), "notes.txt: is a file, not a folder", 2),
    "train: --out is a folder facebench did not create": (
        b.out_is("user folder"),
        "mine: this folder was not created by facebench",
        2,
    ),
    "train: empty checkpoint": (b.checkpoint(b""), "checkpoint.pt: not a readable facebench checkpoint (empty)", 2),
    # seed 2's bytes fail in torch's unpickler with an IndexError (test_engine_parts tries 300 seeds)
    "train: checkpoint of random bytes": (
        b.checkpoint(random.Random(2).randbytes(4096)),
        "checkpoint.pt: not a readable",
        2,
    ),
    "train: checkpoint without config": (
        b.checkpoint(b.torch_save({"format": 1, "epoch": 1})),
        "checkpoint.pt: checkpoint lacks config",
        2,
    ),
    "train: checkpoint of another format": (
        b.checkpoint(b.torch_save({"weights": 1})),
        "checkpoint.pt: checkpoint format None",
        2,
    ),
    # sweep names, folders and files
    "sweep: --name ..": (b.sweep_results(".."), "sweep name '..'", 2),
    "sweep: --name .": (b.sweep_results("."), "sweep name '.'", 2),
    "sweep: --name .hidden": (b.sweep_results(".hidden"), "sweep name '.hidden'", 2),
    "sweep: --name a/b": (b.sweep_results("a/b"), "sweep name 'a/b'", 2),
    "sweep: --fresh on a folder facebench did not create": (
        b.sweep_results("mysweep", prepare="user"),
        "mysweep: not created by facebench",
        2,
    ),
    "sweep: --results is a file": (b.sweep_results("s", prepare="file", fresh=False), "notes.txt: is a file", 2),
    "sweep file: not found": (lambda d: ["sweep", str(d / "nope.py")], "nope.py: sweep file not found", 2),
    "sweep file: syntax error": (b.sweep_file("x = (\n"), "mysweep.py:1: syntax error", 2),
    "sweep file: bad import": (
        b.sweep_file("import no_such_module_here\n"),
        "mysweep.py: ModuleNotFoundError: No module named 'no_such_module_here' (raised while importing the sweep file",
        2,
    ),
    "sweep file: space raises": (
        b.sweep_space('raise ValueError("no such lr")'),
        "mysweep.py:3: search space space of sweep 'bad' raised ValueError: no such lr",
        2,
    ),
    "sweep file: space proposes a bad value": (b.sweep_space('return {"optim.name": "lion"}'), "optim.name", 2),
    "sweep file: sys.exit with a message": (
        b.sweep_file('import sys\nsys.exit("needs a GPU node")\n'),
        "mysweep.py: needs a GPU node",
        2,
    ),
    "sweep file: defines no SPEC": (b.sweep_file("x = 1\n"), "mysweep.py: defines no SPEC", 2),
    "sweep file: interrupted (Ctrl-C)": (b.sweep_space("raise KeyboardInterrupt"), "interrupted", 130),
    # eval
    "eval: 0-d embeddings": (b.embeddings(np.array(3.0)), "emb.npz: 'embeddings' must be a real numeric (N, D)", 2),
    "eval: embeddings with D = 0": (b.embeddings(np.zeros((8, 0))), "emb.npz: 'embeddings' is empty", 2),
    "eval: complex embeddings": (b.embeddings(np.ones((8, 4)) * 1j), "emb.npz: 'embeddings' must be a real", 2),
    "eval: all-zero embeddings": (b.embeddings(np.zeros((8, 4))), "emb.npz: every embedding is all zeros", 2),
    "eval: NaN embedding": (
        b.embeddings(np.where(np.eye(8, 4) > 0, np.nan, 1.0)),
        "emb.npz: 4 embeddings contain NaN or inf (first: row 0, 'P0/P0_0001.jpg')",
        2,
    ),
    "eval: squared distances overflow": (
        b.embeddings(np.eye(8, 4) * 1e300, metric="sqeuclidean"),
        "emb.npz: sqeuclidean scores overflow float64",
        2,
    ),
    "eval: .npz header claims 8 TB": (b.huge_header, "emb.npz: array 'embeddings' claims shape (1000000, 1000000)", 2),
    "eval: names and rows differ": (b.embeddings(np.eye(8), names=b.NAMES[:7]), "emb.npz: 7 names but 8", 2),
    "eval: self-pair": (b.self_pair("eval"), "pairs.csv:2: pair compares image 'P0/P0_0001.jpg' with itself", 2),
    "eval compare: all-NaN scores": (b.compare(np.full(600, np.nan)), "b.npz: scores contain NaN", 2),
    "eval compare: --n-boot 1000000000": (b.compare(None, "--n-boot", "1000000000"), "--n-boot 1000000000: needs", 2),
    # data
    "data check: self-pair": (b.self_pair("check"), "pairs.csv:2: pair compares image", 2),
    "data check: CIFAR with an 11th class": (
        b.cifar("check", train_extra="zebra"),
        "cifar10/train: CIFAR-10 has 10 class folders, found 11 (check zebra)",
        2,
    ),
    "data check: CIFAR test without a class": (
        b.cifar("check", test_missing="cat"),
        "cifar10/test/cat: no images of class 'cat'",
        2,
    ),
    "train: CIFAR with an 11th class": (b.cifar("train", train_extra="zebra"), "found 11 (check zebra)", 2),
    # more of the same families
    "config: file not found": (
        lambda d: ["train", "--config", str(d / "none.json")],
        "none.json: config file not found",
        2,
    ),
    "train: --set without a value": (
        lambda d: ["train", "--set", "train.epochs"],
        "--set 'train.epochs': expected key=value",
        2,
    ),
    "train: --out below a file": (
        lambda d: ["train", *b.sets(b.TINY), "--out", str(b.keep(d) / "sub")],
        "notes.txt: is a file, not a folder",
        2,
    ),
    "sweep: --name with a space": (b.sweep_results("my sweep"), "sweep name 'my sweep'", 2),
    "sweep: --num-samples 0": (
        lambda d: [*b.sweep_results("s", fresh=False)(d), "--num-samples", "0"],
        "--num-samples 0: out of range; allowed [1, 100000]",
        2,
    ),
    "eval: embeddings file not found": (
        lambda d: ["eval", "pairs", "--embeddings", str(d / "e.npz"), "--pairs", str(b.pairs_csv(d))],
        "e.npz: embeddings file not found",
        2,
    ),
    "eval: embeddings of an unknown format": (
        lambda d: (b.keep(d), ["eval", "pairs", "--embeddings", str(d / KEEP_NAME), "--pairs", str(b.pairs_csv(d))])[1],
        "notes.txt: unknown embeddings format '.txt'",
        2,
    ),
    "eval: --folds -1": (lambda d: [*b.embeddings(np.eye(8))(d), "--folds", "-1"], "--folds: -1 is out of range", 2),
    "eval: pairs CSV with a wrong header": (b.pairs_header, "pairs.csv:1: bad header", 2),
    "eval compare: two trials on different pairs": (b.compare_other_pairs, "are not on the same pairs", 2),
    "data check: no such path": (lambda d: ["data", "check", str(d / "nothing")], "nothing: no such file", 2),
    # report
    "report: result.json without a config": (b.report_of("no config"), "trial: no config", 2),
    "report: --out is a file": (b.report_of("out is a file"), "notes.txt", 2),
    "report: --reference without a value": (b.report_of("ok", "--reference", "floor"), "expected LABEL=VALUE", 2),
    "report: --reference not finite": (b.report_of("ok", "--reference", "floor=nan"), "--reference 'floor=nan'", 2),
    "report: --target not a score": (b.report_of("ok", "--target", "80"), "--target 80.0: a test score", 2),
    "sweep: --profile the sweep lacks": (
        lambda d: [
            "sweep",
            str(REPO / "sweeps" / "margin.py"),
            "--profile",
            "gpu",
            "--results",
            str(d / "results"),
            "--local",
        ],
        "--profile 'gpu': sweep 'margin' has profiles: cpu",
        2,
    ),
    "report: --out is a folder of the user's": (
        b.report_of("out is a folder of the user's"),
        "mine: this folder was not created by facebench",
        2,
    ),
}


def run_cli(args: list[str], cwd: Path, *, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "FACEBENCH_CACHE": str(cwd / ".cache"),
        "FACEBENCH_RUNS": str(cwd / "runs"),
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "facebench.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file() and ".cache" not in p.parts}


def assert_one_line(proc: subprocess.CompletedProcess, expected: str, code: int) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == code, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("facebench") and expected in lines[0], lines[0]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_loses_nothing(case, tmp_path):
    build, expected, code = CASES[case]
    args = build(tmp_path)
    before = snapshot(tmp_path)
    proc = run_cli(args, tmp_path)
    assert_one_line(proc, expected, code)
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before, "a file that was there changed or went"


def test_counts_in_the_docs_match_the_suite():
    from test_bad_input_handled import ERRORS_AFTER_TRAINING, ERRORS_ON_A_BAD_DISK, HANDLED

    text = (REPO / "docs" / "architecture.md").read_text() + (REPO / "README.md").read_text()
    clear, handled = len(CASES) + len(ERRORS_AFTER_TRAINING) + len(ERRORS_ON_A_BAD_DISK), len(HANDLED)
    tried = clear + handled
    for doc in ("docs/architecture.md", "README.md"):
        body = (REPO / doc).read_text()
        pattern = r"(\d+) bad inputs tried: (\d+) end in a clear one-line error, (\d+) are handled"
        found = re.search(pattern.replace(" ", r"\s+"), body)
        assert found, f"{doc} states no bad-input counts"
        assert tuple(map(int, found.groups())) == (tried, clear, handled), f"{doc}: update the counts"
    assert "tests/test_bad_input.py" in text
