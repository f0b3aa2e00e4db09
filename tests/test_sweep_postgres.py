"""The Optuna study on a real PostgreSQL server: two sweep drivers at once against one database, then a resume.

The server is Debian's PostgreSQL 15 in a temp dir (tests/servers.py). The password reaches the drivers only
through the environment (PGPASSWORD for one, FACEBENCH_STUDY_DB_PASSWORD for the other) and must appear in
no file the sweeps write. Each driver starts its own Ray in a private temp dir, stopped by that marker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from cluster_two_nodes import stop  # noqa: E402
from servers import postgres_server  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.durability]
PASSWORD = "pg-test-Secret-42"


def _driver(tmp_path: Path, url: str, name: str, env: dict, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        str(ROOT / "sweeps" / "demo.py"),
        "--smoke",
        "--local",
        "--quiet",
        "--name",
        name,
        "--num-samples",
        "1",
        "--results",
        str(tmp_path / "runs"),
        "--study-db",
        url,
        *extra,
    ]
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-4000:]
    return out


def test_two_sweeps_at_once_on_postgresql_then_resume(tmp_path):
    pytest.importorskip("psycopg")
    import optuna

    ray_tmp = tempfile.mkdtemp(prefix="fbpgray_", dir="/tmp")
    base = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "FACEBENCH_STUDY_DB_PASSWORD")}
    base.update({"PYTHONPATH": str(ROOT), "RAY_TMPDIR": ray_tmp})
    env_a = {**base, "PGPASSWORD": PASSWORD}
    env_b = {**base, "FACEBENCH_STUDY_DB_PASSWORD": PASSWORD}
    with postgres_server(PASSWORD) as url:
        try:
            drivers = [_driver(tmp_path, url, "pga", env_a), _driver(tmp_path, url, "pgb", env_b)]
            for proc in drivers:
                _finish(proc)
            first = json.loads((tmp_path / "runs" / "pga" / "summary.json").read_text())
            _finish(_driver(tmp_path, url, "pga", env_a, "--resume"))
        finally:
            stop(ray_tmp)
            shutil.rmtree(ray_tmp, ignore_errors=True)
        storage = f"{url.replace('@', ':' + PASSWORD + '@', 1)}"
        for name in ("pga", "pgb"):
            study = optuna.load_study(study_name=name, storage=storage)
            states = [t.state for t in study.trials]
            assert states.count(optuna.trial.TrialState.COMPLETE) == 1, (name, states)
            assert optuna.trial.TrialState.RUNNING not in states
        again = json.loads((tmp_path / "runs" / "pga" / "summary.json").read_text())
    assert sorted(t["trial_id"] for t in again["trials"]) == sorted(t["trial_id"] for t in first["trials"])
    assert again["counts"]["completed"] == 1
    sweep = json.loads((tmp_path / "runs" / "pga" / "sweep.json").read_text())
    assert sweep["study_db"].startswith("postgresql://") and "127.0.0.1" in sweep["study_db"]
    for path in (tmp_path / "runs").rglob("*"):  # the password is in no file written
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
