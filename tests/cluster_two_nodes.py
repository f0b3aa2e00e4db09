"""Two Ray nodes on this machine, a smoke sweep submitted through the head's address, trials on both nodes.

    .venv/bin/python tests/cluster_two_nodes.py [--results DIR]

Starts ``ray start --head --num-cpus=1`` and a second ``ray start --address=... --num-cpus=1``, runs
``sweeps/cifar.py --smoke --address HEAD`` (1 CPU per trial, so two trials at a time: one per node), checks
that completed trials ran on two different Ray node ids, and stops exactly the Ray processes it started
(by pid: never ``ray stop``, which would also end other Ray sessions of this machine). Exit 0 on success.
"""

from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_pids(marker: str) -> list[int]:
    """Processes of our private Ray temp dir: named in the command line (GCS, raylets) or holding a log file
    there (the agents retitle themselves ``ray::DashboardAgent`` and outlive a killed raylet)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fds = _fd_targets(entry) if marker not in cmd else []
        except OSError:
            continue
        if marker in cmd or any(marker in f for f in fds):
            pids.append(int(entry.name))
    return pids


def _fd_targets(proc: Path) -> list[str]:
    out = []
    for fd in proc.joinpath("fd").iterdir():
        try:
            out.append(os.readlink(fd))
        except OSError:
            pass  # closed between listing and reading
    return out


def stop(marker: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = ray_pids(marker)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        while ray_pids(marker) and time.time() < deadline:
            time.sleep(0.2)


def start_nodes(temp: str, env: dict | None = None) -> str:
    port = free_port()
    common = ["--num-cpus=1", "--num-gpus=0", "--disable-usage-stats"]
    env = {**ENV, **(env or {})}
    subprocess.run(
        [RAY, "start", "--head", f"--port={port}", f"--temp-dir={temp}", "--include-dashboard=false", *common],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    address = f"127.0.0.1:{port}"
    # A second raylet on the same host is a separate Ray node (own node id); the custom resource marks it.
    subprocess.run(
        [RAY, "start", f"--address={address}", '--resources={"node2": 1}', *common],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    return address


def worker_raylet(marker: str) -> int:
    """The pid of the second node's raylet (its command line carries the "node2" resource)."""
    for pid in ray_pids(marker):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"/raylet") and any(b"node2" in part for part in cmd):
            return pid
    raise RuntimeError(f"no raylet of the second node among the Ray processes of {marker}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", default=None, help="results folder (default: a temporary one)")
    p.add_argument("--num-samples", type=int, default=4)
    p.add_argument(
        "--ray-temp",
        default=None,
        help="Ray temp dir to use and remove (default: a new /tmp/fbray_*); a caller that may kill this "
        "script passes its own, so it can stop the Ray processes itself",
    )
    args = p.parse_args()
    results = args.results or tempfile.mkdtemp(prefix="fb_cluster_")
    temp = args.ray_temp or tempfile.mkdtemp(prefix="fbray_", dir="/tmp")  # short: Ray's sockets fit 107 bytes
    try:
        address = start_nodes(temp)
        cmd = [
            sys.executable,
            str(ROOT / "sweeps" / "cifar.py"),
            "--smoke",
            "--address",
            address,
            "--results",
            results,
            "--num-samples",
            str(args.num_samples),
            "--cpus-per-trial",
            "1",
            "--quiet",
            "--fresh",
        ]
        run = subprocess.run(
            cmd, env={**ENV, "RAY_ADDRESS": address}, cwd=ROOT, text=True, capture_output=True, timeout=300
        )
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        if run.returncode != 0:
            print(f"sweep exited {run.returncode}")
            return 1
    finally:
        stop(temp)
        shutil.rmtree(temp, ignore_errors=True)
    summary = json.loads((Path(results) / "cifar-smoke" / "summary.json").read_text())
    nodes = {t["node_id"] for t in summary["trials"] if t["node_id"]}
    print(
        f"trials on {len(nodes)} Ray nodes: {sorted(n[:8] for n in nodes)}; "
        f"pids {sorted({t['pid'] for t in summary['trials']})}"
    )
    return 0 if len(nodes) >= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
