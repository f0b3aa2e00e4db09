"""Real servers on loopback for the tests: an S3 API (moto's standalone server) and PostgreSQL (Debian's).

Each is started in a temporary folder, waited for by polling its port (not by sleeping a fixed time), and
stopped by its own pid / data directory, so nothing of another test or another user's servers is touched.
A server whose program is missing skips the test that needs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, *, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {limit_s:.0f} s")


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """``moto_server -H 127.0.0.1 -p PORT``; yields the endpoint URL; stopped by its pid."""
    exe = Path(sys.executable).with_name("moto_server")
    if not exe.exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]', in the dev extra)")
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, start_new_session=True
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def moto_auth(endpoint: str, *, on: bool) -> None:
    """Turn moto's credential checking on (every request needs a key IAM knows) or off (any key works)."""
    req = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0" if on else b"inf",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )  # flask keeps a form body to itself
    with urllib.request.urlopen(req, timeout=10) as r:
        json.loads(r.read())


def create_bucket(endpoint: str, bucket: str) -> None:
    import pyarrow.fs as pafs

    pafs.S3FileSystem(
        endpoint_override=endpoint,
        access_key=S3_ENV["AWS_ACCESS_KEY_ID"],
        secret_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        region="us-east-1",
        allow_bucket_creation=True,
    ).create_dir(bucket)


@contextlib.contextmanager
def postgres_server(password: str) -> Iterator[str]:
    """A throwaway PostgreSQL 15 cluster in a temp dir owned by ``postgres`` (initdb refuses root), on a free
    loopback port, with role ``facebench`` (password ``password``) owning database ``facebench``. Yields
    ``postgresql://facebench@127.0.0.1:PORT/facebench``; the password is for the caller's environment."""
    if not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL is not installed ({PG_BIN}; apt-get install postgresql)")
    as_pg = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="fbpg_"))
    data = root / "data"
    if as_pg:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    pw_file = root / "pw"  # initdb reads the superuser's password from a file; deleted right after
    pw_file.write_text(password)
    if as_pg:
        shutil.chown(pw_file, "postgres", "postgres")
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    try:
        subprocess.run(
            as_pg
            + [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pw_file}",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            **run,
        )
        pw_file.unlink()
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            as_pg + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"], **run
        )
        env = {**os.environ, "PGPASSWORD": password}
        sql = f"CREATE ROLE facebench LOGIN PASSWORD '{password}'; CREATE DATABASE facebench OWNER facebench;"
        for stmt in sql.split("; "):
            subprocess.run(
                [
                    str(PG_BIN / "psql"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    stmt,
                ],
                env=env,
                **run,
            )
        yield f"postgresql://facebench@127.0.0.1:{port}/facebench"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                as_pg + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
