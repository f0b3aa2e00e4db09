"""One driver per sweep (facebench/sweep/lock.py): a second driver on the same sweep folder, or the same study in a
PostgreSQL database, is refused at once (exit 2, the holder named); a killed holder's lock is taken over."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from facebench.errors import ConfigError
from facebench.ownership import LOCK, MARKER
from facebench.sweep import Output
from facebench.sweep.lock import STALE_S, FolderLock, driver_lock, study_lock
from facebench.sweep.runner import _prepare_dir, sweep_paths

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from cluster_two_nodes import stop  # noqa: E402
from test_ownership import NOTES  # noqa: E402

HOLD = (
    "import sys, os, signal\nfrom pathlib import Path\nfrom facebench.sweep.lock import driver_lock\n"
    "with driver_lock(Path(sys.argv[1])):\n    {then}\n"
)


def _holder(sweep: Path, then: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD.format(then=then), str(sweep)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
    )


def test_a_live_holder_refuses_a_second_driver_naming_itself(tmp_path):
    sweep = tmp_path / "s"
    holder = _holder(sweep, "Path(sys.argv[1], 'held').touch(); sys.stdin.read()")
    try:
        while not (sweep / "held").exists():  # the holder says when it holds the lock
            assert holder.poll() is None
            time.sleep(0.05)
        with pytest.raises(ConfigError) as e:
            with driver_lock(sweep):
                pass
        assert f"host {socket.gethostname()}, pid {holder.pid}, started " in str(e.value)
        assert "another facebench driver is running this sweep" in str(e.value)
    finally:
        holder.communicate(b"")
    assert holder.returncode == 0 and not (sweep / LOCK).exists()  # released on exit


def test_a_sigkilled_holders_lock_is_taken_over_with_a_notice(tmp_path, capsys):
    sweep = tmp_path / "s"
    holder = _holder(sweep, "os.kill(os.getpid(), signal.SIGKILL)")
    assert holder.wait(timeout=60) == -signal.SIGKILL and (sweep / LOCK).exists()
    with driver_lock(sweep):
        info = json.loads((sweep / LOCK).read_text())
        assert info["pid"] == os.getpid()
    out = capsys.readouterr().out
    assert f"taking over the driver lock of {sweep} from a driver that is gone" in out and f"pid {holder.pid}" in out
    assert not sweep.exists()  # released, and the lock made the folder: nothing left behind


@pytest.mark.parametrize("age, refused", [(STALE_S / 4, True), (STALE_S * 2, False)])
def test_another_hosts_lock_is_stale_only_after_its_heartbeat_bound(tmp_path, age, refused):
    sweep = tmp_path / "s"
    sweep.mkdir()
    (sweep / MARKER).write_text(json.dumps({"kind": "sweep", "owner": "facebench"}))
    now = time.time()
    (sweep / LOCK).write_text(
        json.dumps({"host": "head-node-7", "pid": 1, "started_at": now - 3600, "heartbeat_at": now - age})
    )
    lock = FolderLock(sweep, "sweep")
    if refused:
        with pytest.raises(ConfigError, match="host head-node-7, pid 1"):
            lock.acquire()
    else:
        lock.acquire()
        lock.release()


SWEEP = """
from functools import partial
from facebench.sweep import SweepSpec, space
from facebench.sweep.presets import SMOKE_FACE
SPEC = SweepSpec(name="lk", task="face", base={**SMOKE_FACE, "model.backbone": "cnn", "loss.name": "ce",
                 "data.synthetic_identities": 8, "train.epochs": 1},
                 space=partial(space.fixed, values={}, lr=(1e-3, 1e-2)), num_samples=2, scheduler="fifo",
                 cpus_per_trial=1, max_concurrent=1, seed=1)
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_drivers_on_one_sweep_folder(tmp_path):
    """The first driver pauses in its first trial (the `reported` fault point writes a marker); a second driver,
    with --fresh even, is refused at once, and so is a third resuming under another code version (its sweep.json
    untouched); the first then finishes exactly num_samples trials. --fresh on the
    real folder afterwards keeps a user's notes in every subfolder."""
    ray_tmp = tempfile.mkdtemp(prefix="fblk_", dir="/tmp")
    (tmp_path / "lk.py").write_text(SWEEP)
    pause = tmp_path / "pause"
    pause.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": ray_tmp, "FACEBENCH_CACHE": str(tmp_path / "cache")}
    cmd = [
        sys.executable,
        "-m",
        "facebench.cli",
        "sweep",
        str(tmp_path / "lk.py"),
        "--results",
        str(tmp_path / "results"),
        "--quiet",
        "--local",
    ]
    try:
        with open(tmp_path / "first.log", "w") as log:
            first = subprocess.Popen(
                cmd,
                env={**env, "FACEBENCH_PAUSE_AT": "reported:1", "FACEBENCH_PAUSE_DIR": str(pause)},
                stdout=log,
                stderr=log,
            )
            while not list(pause.glob("*.json")):
                assert first.poll() is None, (tmp_path / "first.log").read_text()
                time.sleep(0.1)
            second = subprocess.run([*cmd, "--fresh"], env=env, capture_output=True, text=True, timeout=120)
            # a resume under another code version is refused by the lock, before its version check could write
            # the running sweep's sweep.json
            spec_file = tmp_path / "results" / "lk" / "sweep.json"
            spec_file.write_text(
                json.dumps({**json.loads(spec_file.read_text()), "code_version": {"facebench": "0", "git": "other"}})
            )
            before = spec_file.read_bytes()
            third = subprocess.run(
                [*cmd, "--resume", "--allow-version-change"], env=env, capture_output=True, text=True, timeout=120
            )
            assert spec_file.read_bytes() == before
            (pause / "release").touch()
            assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()
    finally:
        stop(ray_tmp)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
    assert third.returncode == 2 and "another facebench driver is running this sweep" in third.stderr, third.stderr
    assert (
        f"another facebench driver is running this sweep (host {socket.gethostname()}, pid {first.pid}" in second.stderr
    )
    sweep = tmp_path / "results" / "lk"
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["counts"]["completed"] == 2 and len(summary["trials"]) == 2
    assert len([p for p in (sweep / "trials").iterdir() if p.is_dir()]) == 2
    assert not (sweep / LOCK).exists()
    # --fresh on the real folder (ray/, logs/ray, report/, trials/ as written): the user's notes survive
    trial = next(p.name for p in (sweep / "trials").iterdir() if p.is_dir())
    notes = [n.replace("t1", trial) for n in NOTES]
    for name in notes:
        (sweep / name).parent.mkdir(parents=True, exist_ok=True)
        (sweep / name).write_text(name)
    _prepare_dir(sweep_paths("lk", Output(results=str(tmp_path / "results"))), resume=False, fresh=True)
    for name in notes:
        assert (sweep / name).read_text() == name
    written = [p for p in sweep.rglob("*") if p.is_file() and p.name not in (MARKER, *[Path(n).name for n in notes])]
    assert written == []


@pytest.mark.durability
def test_the_same_study_in_postgresql_has_one_driver(monkeypatch):
    pytest.importorskip("psycopg")
    from servers import postgres_server

    monkeypatch.setenv("PGPASSWORD", "password")
    with postgres_server("password") as url:
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from facebench.sweep.lock import study_lock\n"
                "with study_lock(sys.argv[1], 'shared', 'db'):\n print('held', flush=True); sys.stdin.read()",
                url,
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(
                ConfigError,
                match=f"study 'shared' in db: another facebench driver is running it \\(facebench .* pid {holder.pid} ",
            ):
                with study_lock(url, "shared", "db"):
                    pass
            with study_lock(url, "other", "db"):  # another study in the same database is not held
                pass
            holder.kill()  # a crashed driver: PostgreSQL ends its session and frees the lock
            holder.wait(timeout=30)
            deadline = time.time() + 30
            while True:
                try:
                    with study_lock(url, "shared", "db"):
                        break
                except ConfigError:  # the server notices the closed socket within moments
                    assert time.time() < deadline
                    time.sleep(0.2)
        finally:
            holder.kill()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigterm_ends_a_sweep_driver_like_ctrl_c(tmp_path):
    """SIGTERM once a trial has reported (the `reported` fault point's marker, not a sleep): exit 130, the
    --resume line last, no Ray native stack dump or Python traceback, the lock released, resumable."""
    ray_tmp = tempfile.mkdtemp(prefix="fbtm_", dir="/tmp")
    (tmp_path / "lk.py").write_text(SWEEP)
    pause = tmp_path / "pause"
    pause.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RAY_TMPDIR": ray_tmp,
        "FACEBENCH_CACHE": str(tmp_path / "cache"),
        "FACEBENCH_PAUSE_AT": "reported:1",
        "FACEBENCH_PAUSE_DIR": str(pause),
    }
    cmd = [
        sys.executable,
        "-m",
        "facebench.cli",
        "sweep",
        str(tmp_path / "lk.py"),
        "--results",
        str(tmp_path / "results"),
        "--quiet",
        "--local",
    ]
    try:
        with open(tmp_path / "driver.log", "w") as log:
            driver = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
            while not list(pause.glob("*.json")):
                assert driver.poll() is None, (tmp_path / "driver.log").read_text()
                time.sleep(0.1)
            driver.send_signal(signal.SIGTERM)
            rc = driver.wait(timeout=120)
    finally:
        (pause / "release").touch()
        stop(ray_tmp)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    out = (tmp_path / "driver.log").read_text()
    assert rc == 130, out
    assert out.strip().splitlines()[-1] == "facebench: interrupted; finished trials are kept, continue with --resume"
    for dump in ("Traceback", "Fatal Python error", "Stack trace", "*** SIGTERM", "Aborted at"):
        assert dump not in out, out
    sweep = tmp_path / "results" / "lk"
    assert (sweep / "sweep.json").is_file() and not (sweep / LOCK).exists()
