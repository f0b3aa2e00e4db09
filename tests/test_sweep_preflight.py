"""Bad targets for a sweep: one clear line, exit 2, and nothing left behind that blocks a retry.

Each case runs the real sweep file (``python sweeps/demo.py --smoke``) in a subprocess against a real server
on loopback (moto's S3, a closed port for a server that is down); the checks run before Ray starts, so each
case takes a few seconds. The subprocess timeout is a hang guard, not a speed assertion.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from servers import S3_ENV, create_bucket, free_port, moto_auth, moto_server  # noqa: E402

BUCKET = "fbpreflight"


@pytest.fixture(scope="module")
def s3():
    with moto_server() as endpoint:
        create_bucket(endpoint, BUCKET)
        yield endpoint


def _sweep(tmp_path: Path, *flags: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # --local unless the case is about the address: a Ray head another job started on this machine must not
    # decide which check speaks first.
    where = [] if "--address" in flags else ["--local"]
    cmd = [
        sys.executable,
        str(ROOT / "sweeps" / "demo.py"),
        "--smoke",
        "--quiet",
        "--results",
        str(tmp_path / "runs"),
        *where,
        *flags,
    ]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(cmd, cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=60)


def _refused(res: subprocess.CompletedProcess, tmp_path: Path, *words: str) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stdout[-1500:] + res.stderr[-1500:]
    assert len(lines) == 1 and lines[0].startswith("facebench: error: "), res.stderr
    for word in words:
        assert word in lines[0], lines[0]
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.rglob("*"))  # no empty run folder
    return lines[0]


def _bucket_keys(endpoint: str) -> list[str]:
    import pyarrow.fs as pafs

    fs = pafs.S3FileSystem(endpoint_override=endpoint, access_key="testing", secret_key="testing", region="us-east-1")
    return [i.path for i in fs.get_file_info(pafs.FileSelector(BUCKET, recursive=True))]


def test_unreachable_s3_endpoint(tmp_path):
    env = {**S3_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    _refused(
        _sweep(tmp_path, "--storage", f"s3://{BUCKET}/x", env=env), tmp_path, "does not answer", "AWS_ENDPOINT_URL"
    )


def test_missing_bucket(s3, tmp_path):
    env = {**S3_ENV, "AWS_ENDPOINT_URL": s3}
    _refused(
        _sweep(tmp_path, "--storage", "s3://no-such-bucket/x", env=env), tmp_path, "'no-such-bucket' does not exist"
    )


def test_bad_credentials(s3, tmp_path):
    env = {**S3_ENV, "AWS_ENDPOINT_URL": s3, "AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG"}
    moto_auth(s3, on=True)  # moto now checks keys like S3 does: this one is unknown
    try:
        res = _sweep(tmp_path, "--storage", f"s3://{BUCKET}/x", env=env)
    finally:
        moto_auth(s3, on=False)
    _refused(res, tmp_path, "credentials were refused")
    assert _bucket_keys(s3) == []
    # With good credentials the bucket passes; this retry is then refused for its database, checked after it.
    pytest.importorskip("psycopg")
    res = _sweep(
        tmp_path,
        "--storage",
        f"s3://{BUCKET}/x",
        "--study-db",
        f"postgresql://facebench@127.0.0.1:{free_port()}/facebench",
        env={**S3_ENV, "AWS_ENDPOINT_URL": s3},
    )
    _refused(res, tmp_path, "--study-db", "cannot connect")
    assert _bucket_keys(s3) == []


def test_unreachable_study_database(tmp_path):
    pytest.importorskip("psycopg")
    url = f"postgresql://facebench@127.0.0.1:{free_port()}/facebench"
    line = _refused(_sweep(tmp_path, "--study-db", url), tmp_path, "--study-db", "cannot connect")
    assert "facebench@" not in line or "***@" in line


def test_password_in_the_study_url_is_refused(tmp_path):
    url = f"postgresql://facebench:hunter2@127.0.0.1:{free_port()}/facebench"
    line = _refused(_sweep(tmp_path, "--study-db", url), tmp_path, "FACEBENCH_STUDY_DB_PASSWORD")
    assert "hunter2" not in line


def test_ray_address_that_does_not_answer(tmp_path):
    _refused(_sweep(tmp_path, "--address", f"127.0.0.1:{free_port()}"), tmp_path, "--address", "no Ray cluster answers")


@pytest.mark.parametrize("bucket, endpoint", [("no-such-bucket", "moto"), (BUCKET, "closed")])
def test_report_from_a_bucket_that_cannot_be_read(s3, tmp_path, bucket, endpoint):
    url = s3 if endpoint == "moto" else f"http://127.0.0.1:{free_port()}"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "facebench.cli",
            "report",
            f"s3://{bucket}/team/demo",
            "--out",
            str(tmp_path / "runs" / "report"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **S3_ENV, "AWS_ENDPOINT_URL": url},
        timeout=60,
    )
    _refused(res, tmp_path, "does not exist" if endpoint == "moto" else "does not answer")


def test_a_stale_record_of_this_nodes_cluster_is_refused(tmp_path):
    """``auto`` (what a cluster node's sweep uses) reads the address `ray start --head` recorded; a cluster that
    is gone leaves that record behind. The check reads a given record file: the real one is shared."""
    from facebench.errors import ConfigError
    from facebench.sweep.preflight import check_ray_address

    record = tmp_path / "ray_current_cluster"
    record.write_text(f"127.0.0.1:{free_port()}")
    with pytest.raises(ConfigError, match="--address auto .*no Ray cluster answers"):
        check_ray_address("auto", current_cluster=str(record))
    check_ray_address("auto", current_cluster=str(tmp_path / "absent"))  # nothing recorded: left to Ray


@pytest.mark.parametrize("case", ["closed port", "missing bucket"])
def test_bucket_check_in_process_names_the_endpoint_or_the_bucket(s3, monkeypatch, case):
    """``check_reachable`` itself (what the sweep, the report and ``--resume`` call): a closed loopback port is
    "does not answer" naming the endpoint, never "bucket does not exist; create it"; a real server without the
    bucket says the bucket is missing."""
    from facebench.errors import DataError
    from facebench.storage import check_reachable, endpoint_answers

    endpoint = f"http://127.0.0.1:{free_port()}" if case == "closed port" else s3
    for key, value in {**S3_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    assert endpoint_answers(endpoint) is (case == "missing bucket")
    with pytest.raises(DataError) as info:
        check_reachable(f"s3://{'no-such-bucket' if case == 'missing bucket' else BUCKET}/x")
    line = str(info.value)
    if case == "closed port":
        assert "does not answer" in line and endpoint in line and "create it" not in line, line
    else:
        assert "'no-such-bucket' does not exist" in line and endpoint in line, line
    if case == "missing bucket":
        check_reachable(f"s3://{BUCKET}/x")  # the bucket that exists passes
