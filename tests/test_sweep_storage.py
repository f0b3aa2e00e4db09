"""Sweeps against real servers on loopback: results in an S3 bucket (moto's server), the Optuna study in
PostgreSQL. The sweeps are the demo's smoke variant (two tiny trials); the servers come from tests/servers.py."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from facebench.io import read_jsonl
from facebench.storage import resolve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sweeps"))
sys.path.insert(0, str(ROOT / "tests"))
from servers import S3_ENV, create_bucket, moto_server  # noqa: E402
from test_sweep_resume import ray_tmp  # noqa: E402,F401  (fixture: a private Ray temp dir, stopped by pid)

pytestmark = [pytest.mark.slow, pytest.mark.durability]
BUCKET = "fbsweeps"


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server with one bucket, its endpoint in this process's environment (and so its children's)."""
    from facebench.sweep.session import BUCKET_WORKER_ENV, RAY_ENV

    saved = dict(os.environ)
    with moto_server() as endpoint:
        create_bucket(endpoint, BUCKET)
        os.environ.update({**S3_ENV, "AWS_ENDPOINT_URL": endpoint, **RAY_ENV, **BUCKET_WORKER_ENV})
        try:
            yield endpoint
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture(scope="module")
def s3_ray(s3):
    """One Ray for the in-process sweeps; its workers inherit the endpoint."""
    import ray

    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, logging_level="WARNING")
    try:
        yield s3
    finally:
        ray.shutdown()


def _spec():
    import demo

    return demo.SPEC.smoke_variant().replace(name="s3demo", cover=False)  # two trials: this test is about storage


def test_s3_results_resume_from_the_bucket_alone_and_report(s3_ray, tmp_path):
    from facebench.report import build_report
    from facebench.sweep import Output, run_sweep

    uri = f"s3://{BUCKET}/team"
    local = tmp_path / "runs"
    first = run_sweep(_spec(), output=Output(storage=uri, results=str(local), verbose=0), num_samples=2)
    assert first["counts"]["completed"] == 2
    sweep = resolve(f"{uri}/s3demo")
    files = sweep.files()
    for name in (".facebench", "trials/.facebench", "sweep.json", "summary.json", "study.db"):
        assert name in files, sorted(files)
    assert any(f.startswith("ray/") for f in files)  # Tune's experiment state
    ids = [t["trial_id"] for t in first["trials"]]
    for trial_id in ids:  # facebench's own layout, not checkpoints
        for name in ("config.json", "epochs.jsonl", "result.json"):
            assert f"trials/{trial_id}/{name}" in files
    remote_epochs = {i: sweep.join("trials", i, "epochs.jsonl").read_text() for i in ids}

    shutil.rmtree(local)  # the bucket alone
    again = run_sweep(_spec(), output=Output(storage=uri, results=str(local), resume=True, verbose=0), num_samples=2)
    assert sorted(t["trial_id"] for t in again["trials"]) == sorted(ids)
    assert all(t["status"] == "completed" for t in again["trials"])
    for trial_id in ids:  # replayed, not trained again
        assert (local / "s3demo" / "trials" / trial_id / "epochs.jsonl").read_text() == remote_epochs[trial_id]
        assert sweep.join("trials", trial_id, "epochs.jsonl").read_text() == remote_epochs[trial_id]
        assert [r["epoch"] for r in read_jsonl(local / "s3demo" / "trials" / trial_id / "epochs.jsonl")] == [1, 2]

    out = tmp_path / "report"
    build_report([f"{uri}/s3demo"], out=out)  # straight from the bucket
    import pyarrow.parquet as pq

    trials = pq.read_table(out / "trials.parquet").to_pandas()
    assert sorted(trials["trial_id"]) == sorted(ids)
    assert (out / "index.html").stat().st_size > 1000
    summary = json.loads(sweep.join("summary.json").read_text())
    assert summary["counts"]["completed"] == 2


def test_s3_refuses_a_second_sweep_of_the_same_name_without_resume(s3_ray, tmp_path):
    from facebench.errors import ConfigError
    from facebench.storage import Location
    from facebench.sweep import Output, run_sweep

    uri = f"s3://{BUCKET}/other"
    loc: Location = resolve(f"{uri}/s3demo")
    loc.join("sweep.json").write_bytes(b"{}")
    with pytest.raises(ConfigError, match="already ran there"):
        run_sweep(_spec(), output=Output(storage=uri, results=str(tmp_path), verbose=0))
    assert not (tmp_path / "s3demo").exists()


def test_driver_killed_then_resumed_from_the_bucket_alone(s3, tmp_path, ray_tmp):
    """The kill points of tests/test_sweep_resume.py with results in the bucket: the driver dies after Optuna
    was told its second final value, the head's folder is then lost, and a resume from the bucket alone ends
    with every trial trained once (the completed ones untouched) and the study honest."""
    import signal

    from test_sweep_resume import Sweep, _check_final

    uri = f"s3://{BUCKET}/killed"
    sweep = Sweep(tmp_path, ray_tmp, n=3)
    rc, log = sweep.run("--storage", uri, env={"FACEBENCH_KILL_AT": "told:2"}, log="killed")
    assert rc == -signal.SIGKILL, f"kill point never reached (exit {rc}):\n{log[-3000:]}"
    # The bucket is the truth once the head's folder is gone: a trial is kept if its completion reached it.
    # Every trial Optuna was told of did (a trial uploads before it returns); one that wrote result.json on
    # its node but was killed mid-upload is not finished for the sweep and is completed on resume.
    bucket_trials = resolve(f"{uri}/kp/trials")
    kept = {}
    for trial_id in bucket_trials.children():
        record = bucket_trials.join(trial_id, "result.json")
        if record.info().type.name == "File" and json.loads(record.read_bytes()).get("status") == "completed":
            kept[trial_id] = record.read_bytes()
    assert len(kept) >= 2, sorted(kept)
    assert set(kept) <= set(sweep.finished())
    shutil.rmtree(sweep.results)  # the bucket alone
    rc, log = sweep.run("--storage", uri, "--resume", log="resumed")
    assert rc == 0, log[-3000:]
    _check_final(sweep, kept)
    remote = json.loads(resolve(f"{uri}/kp/summary.json").read_text())
    assert remote["counts"] == {"completed": 3, "stopped": 0, "failed": 0}


def test_fresh_on_a_bucket_removes_only_what_facebench_wrote(s3, tmp_path):
    from facebench.errors import ConfigError
    from facebench.sweep import Output
    from facebench.sweep import storage as bucket
    from facebench.sweep.runner import sweep_paths

    paths = sweep_paths("fr", Output(results=str(tmp_path), storage=f"s3://{BUCKET}/fresh"))
    loc = resolve(f"s3://{BUCKET}/fresh/fr")
    for name in ("sweep.json", "trials/abc/result.json", "ray/experiment_state.json", "notes.txt"):
        loc.join(name).write_bytes(b"{}")
    with pytest.raises(ConfigError, match="not created by facebench"):
        bucket.delete_remote(paths)  # no marker: not facebench's folder, nothing touched
    assert len(loc.files()) == 4
    loc.join(".facebench").write_bytes(b"{}")
    assert bucket.delete_remote(paths) == ["notes.txt"]
    assert sorted(loc.files()) == [".facebench", "notes.txt"]
