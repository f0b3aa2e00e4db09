"""Where a sweep runs and writes (``Placement``, ``Output``) and its one Ray session, shared with the confirmation
stage: environment, start or join, resource check, threads per trial, Ray's logs kept.

``ray_session(spec, placement, sweep)`` sets Ray's environment, starts a private Ray on this machine or joins the
cluster ``placement.address`` names, refuses a trial larger than the largest node, and on exit shuts down the
Ray it started, copies that Ray's own logs into ``<sweep>/logs/ray`` and removes its private temp dir. A Ray
already running in the process (a test's, a notebook's) is joined and left running.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:  # at run time neither is needed here: `facebench` imports this module on start-up
    from ..artefacts import SweepDir
    from .spec import SweepSpec

# Only for results in a bucket, read by the trial processes (set before a private Ray starts, sent to a joined
# cluster's workers through ray.init's runtime_env): a reused actor waits this long for the trial before it (Tune's
# default: 2 s) to end. A stopped trial first finishes its uploads to the bucket (uploads.py); under a 2 s wait Tune
# gave up on the reuse and failed the next trial outright. Without a bucket Tune's 2 s stay: a trial stuck mid-epoch
# would otherwise hold a Ctrl-C's exit for the whole wait.
BUCKET_WORKER_ENV = {"TUNE_FUNCTION_THREAD_TIMEOUT_S": "120"}
# Set before Ray is imported: no auth token or usage report for a local cluster, and no Tune logger
# callbacks (they import torch in the driver and duplicate what the trial directory records). Tune warns
# about any driver step over 0.5 s; on a busy laptop that is a line every few seconds: warn past 5 s.
RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_MAX_PENDING_TRIALS_PG": "auto",
    "TUNE_WARN_THRESHOLD_S": "5",
    # Ctrl-C raises KeyboardInterrupt at once (exit 130) instead of Tune's graceful stop, which would end
    # the running trials as if finished; they stay unfinished and --resume continues them.
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
}


RAY_SESSION_LOGS = ("session_latest", "logs")  # under a Ray temp dir: the latest session's own logs


@dataclass(frozen=True)
class Placement:
    """Where trials run and how large each is; None keeps the sweep file's own value."""

    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    max_concurrent: int | None = None  # 0: as many as the resources allow
    address: str | None = None  # a Ray cluster to join ("auto", HOST:PORT); None: a private local Ray

    @property
    def local(self) -> bool:
        return self.address is None

    def apply(self, spec: SweepSpec) -> SweepSpec:
        """``spec`` with these values (a GPU placement also sets train.device cuda) and its trials' threads."""
        changes = {
            k: v
            for k, v in (
                ("cpus_per_trial", self.cpus_per_trial),
                ("gpus_per_trial", self.gpus_per_trial),
                ("max_concurrent", self.max_concurrent),
            )
            if v is not None
        }
        if changes.get("gpus_per_trial", 0) > 0 and "train.device" not in spec.base:
            spec = spec.replace(base={**spec.base, "train.device": "cuda"})
        spec = spec.replace(**changes) if changes else spec
        if "train.threads" not in spec.base:
            spec = spec.replace(base={**spec.base, "train.threads": trial_threads(spec.cpus_per_trial)})
        return spec


@dataclass(frozen=True)
class Output:
    """Where a sweep writes and what it shows while it runs."""

    results: str | None = None  # results folder (default $FACEBENCH_RUNS or ./runs)
    storage: str | None = None  # shared results location: an NFS path or a bucket URI (s3://bucket/runs)
    study_db: str | None = None  # SQLAlchemy URL of the Optuna study (default sqlite:///<sweep>/study.db)
    resume: bool = False  # continue an interrupted sweep of the same name
    fresh: bool = False  # delete an earlier sweep of the same name first
    verbose: int = 1  # 0 nothing while it runs, 1 one progress line, 2 Ray's table and trial output
    trackers: tuple[str, ...] = ()  # "tensorboard", "mlflow" (Ray Tune's logger callbacks, trackers.py)
    mlflow_uri: str | None = None  # --log mlflow's store (default sqlite:///<sweep>/mlflow.db)
    allow_version_change: bool = False  # resume under a code version other than sweep.json's (sweep/version.py)
    keep_checkpoints: str = "all"  # "usable": only the checkpoints the sweep can still use (retention.py)


LOCAL = Placement()  # the sweep's own resources on a private Ray on this machine
DEFAULT_OUTPUT = Output()  # ./runs (or $FACEBENCH_RUNS), a new sweep, one progress line


def trial_threads(cpus_per_trial: float) -> int:
    """torch threads of a trial: one per CPU it holds (torch's default is every core of the node, and concurrent
    trials would fight over them). The sweep's trials and the confirmation's re-runs both use it."""
    return max(1, int(cpus_per_trial))


def set_ray_env() -> None:
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)


def skip_usage_tags() -> None:
    """With usage stats off (RAY_ENV), Tune still sorts a run's callbacks into kinds for its usage tag, importing
    every logger integration it knows to do so (mlflow's among them: 1 to 2.5 s at each sweep start and resume on
    2 cores) and then records nothing. Off with the stats; Ray's own setting is respected when it is on."""
    if os.environ.get("RAY_USAGE_STATS_ENABLED") != "0":
        return
    try:
        from ray.air._internal import usage
    except ImportError:
        return
    if hasattr(usage, "tag_callbacks"):
        usage.tag_callbacks = lambda callbacks: False


@contextmanager
def ray_session(
    spec: SweepSpec, placement: Placement, sweep: SweepDir, *, verbose: int = 1, bucket: bool = False
) -> Iterator[None]:
    """Ray started (or joined) for ``spec``'s trials; ``verbose`` >= 2 shows the trials' own output; ``bucket``:
    results go to a bucket (BUCKET_WORKER_ENV)."""
    set_ray_env()
    import ray

    started = _init_ray(placement, gpus=spec.gpus_per_trial, verbose=verbose, bucket=bucket)
    interrupt_on_sigterm()
    skip_usage_tags()
    try:
        check_resources(spec, local=placement.local)
        yield
    finally:
        if started is not None:  # the Ray this context started (None: one already running in the process)
            ray.shutdown()
            if started:
                keep_ray_logs(started, sweep)


def _init_ray(placement: Placement, *, gpus: float, verbose: int, bucket: bool = False) -> str | None:
    """Start or join Ray. Returns None when Ray was already running (the caller leaves it be), else what this
    call started: a private local Ray's temp dir (whose logs go to the sweep folder), or "" for a cluster."""
    import ray

    if ray.is_initialized():
        return None
    worker_env = dict(BUCKET_WORKER_ENV) if bucket else {}
    if placement.local:
        for key, value in worker_env.items():  # the private Ray's workers inherit the driver's environment
            os.environ.setdefault(key, value)
        # GPUs: Ray's own detection (CUDA_VISIBLE_DEVICES / NVML); a GPU sweep on a machine without one is then
        # refused by check_resources instead of scheduling "GPU" trials onto the CPU.
        temp_dir = ray_temp_dir()
        ray.init(
            address="local",
            num_cpus=os.cpu_count(),
            num_gpus=None if gpus > 0 else 0,
            include_dashboard=False,
            logging_level="WARNING",
            log_to_driver=verbose >= 2,
            _temp_dir=temp_dir,
        )
        return temp_dir
    target = placement.address or os.environ.get("RAY_ADDRESS") or "auto"
    try:
        ray.init(address=target, logging_level="WARNING", runtime_env={"env_vars": worker_env} if worker_env else None)
    except ConnectionError as e:
        raise ConfigError(
            f"--address {target}: cannot reach a Ray cluster there ({e}); start one with "
            "`ray start --head` or `ray up cluster/cluster.yaml`, or run on this machine with --local"
        ) from None
    return ""


def interrupt_on_sigterm() -> None:
    """SIGTERM (a scheduler's stop, `kill`) ends the driver as Ctrl-C does: KeyboardInterrupt, so the command's
    one line naming --resume and exit 130 (facebench.cli.run_command). ``ray.init`` installs Ray's own SIGTERM
    handler (its exit path dumps the core worker's native stack), so this runs after it; faulthandler is
    unregistered for SIGTERM too, so no Python stack is dumped either."""
    import faulthandler
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return  # a notebook's or a test's worker thread: signals belong to the main thread
    if hasattr(faulthandler, "unregister"):
        faulthandler.unregister(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def check_resources(spec: SweepSpec, *, local: bool) -> None:
    """A trial asking for more than the largest node has stays PENDING forever: on this machine that is an
    error; on a cluster it is a warning, since the autoscaler may still add such a node."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    cpus = max((n.get("CPU", 0.0) for n in nodes), default=0.0)
    gpus = max((n.get("GPU", 0.0) for n in nodes), default=0.0)
    if spec.cpus_per_trial <= cpus and spec.gpus_per_trial <= gpus:
        return
    msg = (
        f"a trial needs {spec.cpus_per_trial:g} CPUs and {spec.gpus_per_trial:g} GPUs but the largest Ray node "
        f"has {cpus:g} CPUs and {gpus:g} GPUs; pass --cpus-per-trial / --gpus-per-trial (0 without a GPU)"
    )
    if local:
        raise ConfigError(msg)
    print(f"facebench sweep: warning: {msg}; waiting for the autoscaler")


def trial_slots(spec: SweepSpec) -> int:
    """How many of ``spec``'s trials the joined cluster's live nodes hold at once. The sweep caps its outstanding
    proposals at this number when --max-concurrent is 0, which also lets Tune request that many placement groups at
    once (with a search algorithm and no cap Tune keeps one trial pending at a time, so a cluster fills one trial
    after another)."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    return slots_of(nodes, spec.cpus_per_trial, spec.gpus_per_trial)


def slots_of(nodes: list[dict], cpus_per_trial: float, gpus_per_trial: float) -> int:
    """Per node, the fewer of its CPUs and GPUs divided by a trial's (a trial asking for none of one is not limited
    by it), summed over ``nodes`` (Ray's resource dicts); at least 1."""

    def fits(have: float, need: float) -> int:
        return int(have / need + 1e-9) if need > 0 else 1 << 30

    per_node = [min(fits(n.get("CPU", 0.0), cpus_per_trial), fits(n.get("GPU", 0.0), gpus_per_trial)) for n in nodes]
    return max(1, min(sum(per_node), 100_000))


RAY_TEMP_PREFIX, RAY_TEMP_OWNER = "fb-ray-", "facebench-driver.json"  # the owner file: host and pid of the driver


def ray_temp_dir() -> str:
    """A private, short Ray temp dir (Ray's unix sockets live under it and their paths may not exceed 107
    bytes, so it cannot be the sweep folder itself); its logs are copied into the sweep folder at the end.
    Under ``$RAY_TMPDIR`` where set (Ray's own variable for where its temp files go), else the system temp dir.
    It holds an owner file (host, pid), so a later run can prove a dir left by a SIGKILLed driver stale
    (``remove_stale_ray_dirs``)."""
    parent = os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    remove_stale_ray_dirs(parent)
    path = tempfile.mkdtemp(prefix=RAY_TEMP_PREFIX, dir=parent)
    Path(path, RAY_TEMP_OWNER).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    return path


def remove_stale_ray_dirs(parent: str) -> list[str]:
    """Remove the ``fb-ray-*`` dirs in ``parent`` whose owner file names this host and a pid that is not alive
    (a driver killed before its clean-up); a dir without that file, another host's or a live driver's is kept."""
    removed = []
    for path in Path(parent).glob(f"{RAY_TEMP_PREFIX}*"):
        try:
            owner = json.loads((path / RAY_TEMP_OWNER).read_text(encoding="utf-8"))
            pid = owner["pid"] if owner.get("host") == socket.gethostname() else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if path.is_symlink() or not isinstance(pid, int) or pid <= 0 or _alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(str(path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def keep_ray_logs(temp_dir: str, sweep: SweepDir) -> Path | None:
    """Copy the Ray session's logs to ``<sweep>/logs/ray`` and remove the private temp dir."""
    src = Path(temp_dir).joinpath(*RAY_SESSION_LOGS)
    dest = sweep.ray_logs
    try:
        if src.is_dir() and sweep.path.is_dir():
            if dest.exists():  # a resumed sweep: keep the earlier Ray run's logs beside this one's
                dest = dest.with_name(f"ray-{time.strftime('%Y%m%d-%H%M%S')}")
            shutil.copytree(
                src, dest, ignore=shutil.ignore_patterns("*.sock", "sockets"), ignore_dangling_symlinks=True
            )
        return dest if dest.exists() else None
    except OSError:
        return None  # logs are a convenience: a sweep never fails for want of them
    finally:
        _remove_tree(temp_dir)


def _remove_tree(path: str, tries: int = 5) -> None:
    """Ray's processes can still be writing their last log lines right after ``ray.shutdown()`` returns; an
    rmtree racing them leaves a half-empty folder in /tmp, so try again a few times."""
    for i in range(tries):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            return
        time.sleep(0.5 * (i + 1))
