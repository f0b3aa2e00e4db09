"""A simulated Ray cluster on this machine, kept by a supervisor process that outlives the sweep's driver.

    python -m facebench.sweep.simcluster --nodes 8 --cpus-per-node 4 --gpus-per-node 2

``ray.cluster_utils.Cluster`` starts a head (no CPUs, no GPUs: it holds the GCS and the driver's raylet) and
``--nodes`` worker raylets, each declaring its CPUs and a number of *logical* GPUs, so placement, fractional-GPU
packing and node loss go through Ray's own code. The supervisor prints one JSON line (``{"address", "nodes",
"temp_dir"}``), then reads commands on stdin, one a line: ``kill K`` removes K worker nodes at once (their
raylets and workers SIGKILLed, as a machine lost) and answers ``{"killed": [...]}``; ``quit``, end of input (its
parent died) or SIGTERM tears the cluster down: Ray's processes stopped, any process still holding the private
temp dir killed by pid, the temp dir removed, and the current-cluster address file removed when it names this
cluster, so a later ``--address auto`` never joins a cluster that is gone. ``SimCluster`` is the client side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def pids_holding(marker: str) -> list[int]:
    """Processes naming ``marker`` in their command line or holding a file under it (Ray's agents retitle
    themselves and keep their log files open), except this one and its parent (the supervisor's client may
    still hold its own driver log there)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), os.getppid()):
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            hit = marker in cmd or any(marker in _readlink(fd) for fd in (entry / "fd").iterdir())
        except OSError:
            continue
        if hit:
            out.append(int(entry.name))
    return out


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def kill_holders(marker: str, limit_s: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal(pids_holding(marker), sig)
        deadline = time.monotonic() + limit_s / 2
        while pids_holding(marker) and time.monotonic() < deadline:
            time.sleep(0.2)  # waiting for the processes to exit, a condition


def remove_address_file(address: str) -> None:
    """Ray's current-cluster file (``ray_current_cluster``), only when it names this cluster."""
    from ray._private.utils import get_ray_address_file

    for path in {Path(get_ray_address_file(None)), Path(tempfile.gettempdir(), "ray", "ray_current_cluster")}:
        try:
            if path.read_text().strip() == address:
                path.unlink()
        except OSError:
            pass


def serve(nodes: int, cpus: float, gpus: float, temp: str) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        shutdown_at_exit=True,
        head_node_args={"num_cpus": 0, "num_gpus": 0, "temp_dir": temp, "include_dashboard": False},
    )
    address = cluster.address
    try:
        workers = [cluster.add_node(num_cpus=cpus, num_gpus=gpus, wait=False) for _ in range(nodes)]
        cluster.wait_for_nodes()
        _say({"address": address, "nodes": [n.node_id for n in workers], "temp_dir": temp})
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["kill"]:
                gone = workers[: int(words[1])]
                workers = workers[len(gone) :]
                for node in gone:
                    workers_of_node = _children(_raylet_pid(node))  # before the raylet dies and they are reparented
                    cluster.remove_node(node, allow_graceful=False)
                    _signal(workers_of_node, signal.SIGKILL)
                _say({"killed": [n.node_id for n in gone]})
            elif words[:1] == ["quit"]:
                break
    finally:
        try:
            cluster.shutdown()
        finally:
            kill_holders(temp)
            remove_address_file(address)
            shutil.rmtree(temp, ignore_errors=True)


def _raylet_pid(node) -> int | None:
    from ray._private import ray_constants

    procs = node.all_processes.get(ray_constants.PROCESS_TYPE_RAYLET) or []
    return procs[0].process.pid if procs else None


def _children(pid: int | None) -> list[int]:
    """The processes ``pid`` started: a raylet's workers, which Ray's ``remove_node`` leaves running (a worker notices
    its raylet's death only on its next call to it). A lost machine takes them with it, so ``kill`` does too:
    otherwise a trial's old attempt could keep writing after Tune has started it again elsewhere."""
    if pid is None:
        return []
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            out.append(int(entry.name))
    return out


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _say(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class SimCluster:
    """Client of the supervisor: ``with SimCluster(8, 4, 2) as c: c.address; c.kill_nodes(2)``."""

    def __init__(self, nodes: int, cpus_per_node: float, gpus_per_node: float, *, log: str | None = None) -> None:
        self.temp = tempfile.mkdtemp(prefix="fbsim_", dir=os.environ.get("RAY_TMPDIR") or "/tmp")
        cmd = [
            sys.executable,
            "-m",
            "facebench.sweep.simcluster",
            "--nodes",
            str(nodes),
            "--cpus-per-node",
            str(cpus_per_node),
            "--gpus-per-node",
            str(gpus_per_node),
            "--temp",
            self.temp,
        ]
        err = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, **RAY_ENV},
            start_new_session=True,
        )
        try:
            hello = self._read()
        except BaseException:
            self.close()
            raise
        self.address, self.nodes = hello["address"], hello["nodes"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"simulated cluster supervisor exited ({self.proc.wait()}) before answering")
        return json.loads(line)

    def kill_nodes(self, k: int) -> list[str]:
        self.proc.stdin.write(f"kill {k}\n")
        self.proc.stdin.flush()
        return self._read()["killed"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        kill_holders(self.temp)  # whatever the supervisor could not stop
        shutil.rmtree(self.temp, ignore_errors=True)

    def __enter__(self) -> SimCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--cpus-per-node", type=float, default=4)
    p.add_argument("--gpus-per-node", type=float, default=2)
    p.add_argument("--temp", default=None, help="private Ray temp dir (short: Ray's socket paths fit 107 bytes)")
    args = p.parse_args(argv)
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    temp = args.temp or tempfile.mkdtemp(prefix="fbsim_", dir=os.environ.get("RAY_TMPDIR") or "/tmp")
    # Ray writes its current-cluster file under $RAY_TMPDIR/ray: inside the private temp dir, it can never be
    # read by another driver on this machine and goes with the temp dir.
    os.environ["RAY_TMPDIR"] = temp
    os.makedirs(os.path.join(temp, "ray"), exist_ok=True)
    serve(args.nodes, args.cpus_per_node, args.gpus_per_node, temp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
