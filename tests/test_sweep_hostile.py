"""Issue 22, sweep side: numeric flags and sweep-file numbers have stated ranges; contradictory flags are refused.

In-process through ``facebench.cli.main`` (the one error policy): one line on stderr, exit 2, nothing started.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest

from facebench.cli import main
from facebench.errors import ConfigError
from facebench.sweep import SweepSpec, space

SWEEP_FILE = """from functools import partial
from facebench.sweep import SweepSpec, space
SPEC = SweepSpec(name="h", task="face", base={"train.epochs": 1}, space=partial(space.fixed, values={}))
"""


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "h.py"
    path.write_text(SWEEP_FILE)
    return path


@pytest.mark.parametrize(
    "flag, value, allowed",
    [
        (
            "--max-concurrent",
            "-1",
            "--max-concurrent -1: out of range; allowed [0, 100000] (0: the cluster's trial slots)",
        ),
        ("--num-samples", "0", "--num-samples 0: out of range; allowed [1, 100000]"),
        ("--num-samples", "1000000000", "--num-samples 1e+09: out of range; allowed [1, 100000]"),
        ("--gpus-per-trial", "-1", "--gpus-per-trial -1: out of range; allowed [0, 64] (0: no GPU)"),
        ("--gpus-per-trial", "nan", "--gpus-per-trial nan: out of range"),
        ("--cpus-per-trial", "0", "--cpus-per-trial 0: out of range; allowed [0.01, 1024]"),
        ("--cpus-per-trial", "inf", "--cpus-per-trial inf: out of range"),
        ("--confirm", "-1", "--confirm -1: out of range; allowed [0, 1000] (0: no confirmation)"),
        ("--seeds", "0", "--seeds 0: out of range; allowed [1, 1000]"),
    ],
)
def test_sweep_numeric_flags_are_refused_with_their_range(sweep_file, tmp_path, capsys, flag, value, allowed):
    results = tmp_path / "results"
    code = main(["sweep", str(sweep_file), "--results", str(results), "--local", flag, value])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and allowed in err, err
    assert not results.exists()  # refused before anything was created


@pytest.mark.parametrize(
    "flag, value, allowed",
    [
        ("--top", "0", "--top 0: out of range; allowed [1, 1000]"),
        ("--seeds", "-3", "--seeds -3: out of range; allowed [1, 1000]"),
    ],
)
def test_confirm_numeric_flags_are_refused_with_their_range(tmp_path, capsys, flag, value, allowed):
    code = main(["confirm", str(tmp_path / "nosweep"), flag, value])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and allowed in err, err


def test_fresh_with_resume_is_refused(sweep_file, tmp_path, capsys):
    code = main(["sweep", str(sweep_file), "--results", str(tmp_path / "r"), "--local", "--fresh", "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "--fresh and --resume contradict each other" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("max_concurrent", -1, "sweep max_concurrent -1: out of range; allowed whole numbers in [0, 100000]"),
        ("num_samples", 0, "sweep num_samples 0: out of range"),
        ("num_samples", 2.5, "sweep num_samples 2.5: out of range; allowed whole numbers"),
        ("gpus_per_trial", -1, "sweep gpus_per_trial -1: out of range; allowed [0, 64]"),
        ("cpus_per_trial", float("nan"), "sweep cpus_per_trial nan: out of range"),
        ("seed", -1, "sweep seed -1: out of range"),
        ("max_failures", -5, "sweep max_failures -5: out of range; allowed whole numbers in [0, 100]"),
        ("reduction_factor", 1, "sweep reduction_factor 1: out of range; allowed whole numbers in [2, 100]"),
        ("grace_period", True, "sweep grace_period True: out of range"),
    ],
)
def test_sweep_file_numbers_are_refused_with_their_range(field, value, allowed):
    with pytest.raises(ConfigError) as e:
        SweepSpec(name="t", task="face", base={}, space=partial(space.fixed, values={}), **{field: value})
    assert allowed in str(e.value)


def test_a_killed_drivers_ray_temp_dir_is_removed_by_the_next_run_and_no_other(tmp_path, monkeypatch):
    import json
    import socket
    import subprocess
    import sys

    from facebench.sweep.session import RAY_TEMP_OWNER, ray_temp_dir

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)  # a process that has exited: its pid is not alive
    here = socket.gethostname()

    def leftover(name: str, owner: dict | None) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / "session_latest").mkdir()
        if owner is not None:
            (path / RAY_TEMP_OWNER).write_text(json.dumps(owner))
        return path

    dead = leftover("fb-ray-dead", {"host": here, "pid": dead_pid})
    kept = [
        leftover("fb-ray-live", {"host": here, "pid": os.getpid()}),
        leftover("fb-ray-other-host", {"host": "elsewhere", "pid": dead_pid}),
        leftover("fb-ray-no-owner", None),
        leftover("not-ours", {"host": here, "pid": dead_pid}),
    ]
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    new = Path(ray_temp_dir())
    assert not dead.exists() and all(p.is_dir() for p in kept)
    assert json.loads((new / RAY_TEMP_OWNER).read_text()) == {"host": here, "pid": os.getpid()}
