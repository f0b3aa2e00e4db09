"""Resume after a killed driver, Ctrl-C and a dead node: nothing finished is lost, nothing is trained twice.

Kill points are chosen by ``facebench.faults`` in the code path (FACEBENCH_KILL_AT), never by sleeping. Each
test starts its Ray with a private temp dir, stops exactly those processes by pid and removes the dir.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from facebench.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from cluster_two_nodes import ray_pids, start_nodes, stop, worker_raylet  # noqa: E402

SWEEP = """
from functools import partial
from facebench.sweep import SweepSpec, main, space
from facebench.sweep.presets import SMOKE_FACE
SPEC = SweepSpec(name="kp", task="face", base={{**SMOKE_FACE, "model.backbone": "cnn", "loss.name": "ce",
                 "data.synthetic_identities": 8}}, space=partial(space.fixed, values={{}}, lr=(1e-3, 1e-2)),
                 num_samples={n}, scheduler="fifo", cpus_per_trial=1, seed=1, max_failures={retries})
if __name__ == "__main__":
    raise SystemExit(main(SPEC))
"""
# Hostile pickles planted where Tune keeps its state: a resume that unpickled one would create this file.
PLANTED = "planted_pickle_ran"


@pytest.fixture
def ray_tmp():
    """A private Ray temp dir: it marks the Ray processes this test starts, so only those are stopped."""
    path = tempfile.mkdtemp(prefix="fbrs_", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    yield path
    stop(path)
    shutil.rmtree(path, ignore_errors=True)


class Sweep:
    """One sweep driven through the CLI, round after round, as a user would after each crash."""

    def __init__(self, tmp_path: Path, ray_tmp: str, n: int, retries: int = 0) -> None:
        self.file = tmp_path / "kp_sweep.py"
        self.file.write_text(SWEEP.format(n=n, retries=retries))
        self.results, self.ray_tmp, self.n = tmp_path / "results", ray_tmp, n
        self.dir = self.results / "kp"
        self.env = {**os.environ, "RAY_TMPDIR": ray_tmp, "PYTHONPATH": str(ROOT)}
        self.logs = tmp_path

    def run(self, *flags: str, env: dict | None = None, log: str = "run") -> tuple[int, str]:
        cmd = [
            sys.executable,
            "-m",
            "facebench.cli",
            "sweep",
            str(self.file),
            "--results",
            str(self.results),
            "--quiet",
            "--local",
            *flags,
        ]
        out = self.logs / f"{log}.log"
        with open(out, "w") as f:  # a file, not a pipe: Ray processes outliving a killed driver would hold it
            driver = subprocess.Popen(
                cmd, env={**self.env, **(env or {})}, cwd=ROOT, stdout=f, stderr=f, start_new_session=True
            )
            try:
                rc = driver.wait(timeout=400)
            finally:
                stop(self.ray_tmp)
        return rc, out.read_text()

    def finished(self) -> dict[str, bytes]:
        out = {}
        for res in (self.dir / "trials").glob("*/result.json"):
            if json.loads(res.read_bytes()).get("status") == "completed":
                out[res.parent.name] = res.read_bytes()
        return out

    def temps(self) -> list[Path]:
        return list((self.dir / "trials").rglob(".*.tmp"))


def _check_final(sweep: Sweep, kept: dict[str, bytes], *, rewritten: set[str] = frozenset()) -> dict:
    """Zero lost, zero re-run, zero RUNNING: every kept trial is in the summary unchanged, there are exactly n
    distinct trials and configurations, each trained epochs 1..2 once, and the study tells each trial once."""
    import optuna

    summary = json.loads((sweep.dir / "summary.json").read_text())
    rows = {t["trial_id"]: t for t in summary["trials"]}
    assert len(summary["trials"]) == len(rows) == sweep.n, sorted(rows)
    assert len({t["params"]["optim.lr"] for t in summary["trials"]}) == sweep.n  # no config proposed twice
    assert summary["counts"] == {"completed": sweep.n, "stopped": 0, "failed": 0}
    for trial_id, before in kept.items():
        assert trial_id in rows, f"completed trial {trial_id} lost"
        after = (sweep.dir / "trials" / trial_id / "result.json").read_bytes()
        if trial_id not in rewritten:
            assert after == before, f"completed trial {trial_id} was trained again"
        assert json.loads(after)["metrics"]["objective"] == json.loads(before)["metrics"]["objective"]
    for trial_id in rows:
        epochs = [r["epoch"] for r in read_jsonl(sweep.dir / "trials" / trial_id / "epochs.jsonl")]
        assert epochs == [1, 2], (trial_id, epochs)
    study = optuna.load_study(study_name="kp", storage=f"sqlite:///{sweep.dir / 'study.db'}")
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    named = [t for t in study.trials if "facebench_trial_id" in t.user_attrs]
    assert sorted(t.user_attrs["facebench_trial_id"] for t in named) == sorted(rows)  # each told exactly once
    for t in named:
        last = read_jsonl(sweep.dir / "trials" / t.user_attrs["facebench_trial_id"] / "epochs.jsonl")[-1]
        told = last.get("objective", last["val_accuracy"])  # the number Tune tells Optuna
        assert t.state == optuna.trial.TrialState.COMPLETE and t.value == pytest.approx(told)
    assert all(t.state == optuna.trial.TrialState.FAIL for t in study.trials if t not in named)
    assert not sweep.temps()
    assert not (sweep.results / PLANTED).exists()
    return summary


def _plant_pickles(sweep: Sweep) -> None:
    """What Tune.restore would unpickle (tuner.pkl, the searcher's state, a trial's params.pkl)."""
    import pickle

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {sweep.results / PLANTED}",))

    state = sweep.dir / "ray"
    for path in [
        state / "tuner.pkl",
        state / "searcher-state-2000-01-01_00-00-00.pkl",
        *[d / "params.pkl" for d in state.iterdir() if d.is_dir()],
    ]:
        path.write_bytes(pickle.dumps(Hostile()))


# Each case is one sweep killed at these points in turn (one driver per round), then resumed to the end.
# told:k: the driver dies right after telling Optuna its k-th final value; done: a trial wrote result.json but
# the driver never heard; mid-epoch: half an epoch trained; write:<file>: the new file is complete on disk
# under its temporary name, not yet renamed (a checkpoint being written, a result being written).
KILL_CHAINS = {
    # Each later point stays reachable however many trials finished beside the told ones before a kill (two run at
    # once): after two rounds at most 5 of the 8 are finished, so 2 more tells always come.
    "after-k-trials": (8, ["told:1", "told:2", "told:2"]),
    "mid-write": (4, ["mid-epoch:2", "write:checkpoint.pt:2", "write:result.json:1", "done:1"]),
}


@pytest.mark.slow
@pytest.mark.durability
@pytest.mark.parametrize("case", list(KILL_CHAINS))
def test_resume_after_driver_kills(tmp_path, ray_tmp, case):
    n, points = KILL_CHAINS[case]
    sweep = Sweep(tmp_path, ray_tmp, n)
    kept: dict[str, bytes] = {}
    figures = []
    for i, point in enumerate(points):
        rc, log = sweep.run(*(["--resume"] if i else []), env={"FACEBENCH_KILL_AT": point}, log=f"round{i}")
        assert rc == -signal.SIGKILL, f"kill point {point} was never reached (exit {rc}):\n{log[-3000:]}"
        now = sweep.finished()
        lost = [t for t in kept if t not in now or now[t] != kept[t]]
        assert not lost, f"after the kill at {point}: {lost} lost or rewritten"
        if point.startswith("write:"):
            assert sweep.temps(), "the kill inside an atomic write left no temporary file"
        figures.append((point, len(now), len(lost)))
        kept = now
    rewritten = set()
    if case == "mid-write":  # a torn result.json beside an intact checkpoint: the trial is finished again
        torn = next(iter(kept))
        path = sweep.dir / "trials" / torn / "result.json"
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
        rewritten.add(torn)
    else:
        _plant_pickles(sweep)
    rc, log = sweep.run("--resume", log="final")
    assert rc == 0, log[-3000:]
    assert "facebench sweep: resuming:" in log
    _check_final(sweep, kept, rewritten=rewritten)
    for point, done, lost in figures:
        print(f"kill at {point}: {done} completed before, {lost} lost")


def test_resume_of_a_sweep_that_never_ran(tmp_path):
    results = tmp_path / "results"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "facebench.cli",
            "sweep",
            str(ROOT / "sweeps" / "demo.py"),
            "--smoke",
            "--resume",
            "--results",
            str(results),
            "--local",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "nothing to resume" in lines[0] and "Traceback" not in res.stderr
    assert not (results / "demo-smoke").exists()


def test_hostile_checkpoint_pickle_runs_nothing(tmp_path):
    """Checkpoints load with weights_only: a planted pickle that would run a command is refused."""

    import torch

    from facebench.engine.checkpoint import load_checkpoint
    from facebench.errors import ConfigError

    marker = tmp_path / "ran"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    ckpt = tmp_path / "checkpoint.pt"
    torch.save({"format": 1, "x": Hostile()}, ckpt)
    with pytest.raises(ConfigError, match="not a readable facebench checkpoint"):
        load_checkpoint(ckpt)
    assert not marker.exists()


@pytest.mark.slow
def test_ctrl_c_exits_130_and_resumes(tmp_path, ray_tmp):
    """Ctrl-C (SIGINT to the driver's process group, as a terminal sends it) while a trial is paused after
    its first epoch's checkpoint: exit 130 with one line; --resume continues that trial from epoch 2."""
    sweep = Sweep(tmp_path, ray_tmp, 2)
    pause = tmp_path / "pause"
    pause.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "facebench.cli",
        "sweep",
        str(sweep.file),
        "--results",
        str(sweep.results),
        "--quiet",
        "--local",
    ]
    env = {**sweep.env, "FACEBENCH_PAUSE_AT": "reported:1", "FACEBENCH_PAUSE_DIR": str(pause)}
    with open(tmp_path / "interrupted.log", "w") as f:
        # A terminal's foreground job has SIGINT at its default. A shell starts a background job with SIGINT
        # ignored, and a test run started that way (a CI runner's) would hand the ignore on to the driver, which
        # then rightly never sees this Ctrl-C: the disposition is set here, not inherited.
        driver = subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
            stdout=f,
            stderr=f,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            while not list(pause.glob("*.json")) and driver.poll() is None:
                time.sleep(0.1)  # waits for the trial's own marker, the kill point is the pause
            paused = json.loads(next(pause.glob("*.json")).read_text())["tag"]
            os.killpg(driver.pid, signal.SIGINT)
            rc = driver.wait(timeout=120)
        finally:
            if driver.poll() is None:  # not exited: it must not outlive the test and load the ones after it
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait()
            stop(ray_tmp)
    log = (tmp_path / "interrupted.log").read_text()
    assert rc == 130, log[-3000:]
    assert "interrupted; finished trials are kept, continue with --resume" in log and "Traceback" not in log
    rc, log = sweep.run("--resume", log="resumed")
    assert rc == 0, log[-3000:]
    summary = _check_final(sweep, {})
    meta = json.loads((sweep.dir / "trials" / paused / "meta.json").read_text())
    assert meta.get("resumed_from_epoch") == 1, meta
    assert summary["counts"]["completed"] == 2


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None  # already gone


def _kill_node(marker: str, raylet: int) -> None:
    """The node dies: its raylet and every process it started (the trial's worker too: a worker only notices
    its raylet's death on its next call to it, and could otherwise finish the trial from beyond the grave)."""
    children = [pid for pid in ray_pids(marker) if _parent(pid) == raylet]
    for pid in [raylet, *children]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
@pytest.mark.durability
def test_node_death_retries_the_trial_on_the_surviving_node(tmp_path):
    """Two Ray nodes on this machine, one trial on each, both paused after their first epoch's checkpoint; the
    second node's raylet and its processes are SIGKILLed: its trial is retried on the head (max_failures) and
    continues from that checkpoint, which lives in the sweep's trial folder, not on the dead node."""
    temp = tempfile.mkdtemp(prefix="fbray_", dir="/tmp")
    try:
        # Node death is noticed by GCS health checks: every 0.5 s, dead after 2 misses (the default is ~15 s).
        fast = {
            "RAY_health_check_period_ms": "500",
            "RAY_health_check_failure_threshold": "2",
            "RAY_health_check_initial_delay_ms": "0",
            "RAY_health_check_timeout_ms": "1000",
        }
        pause = tmp_path / "pause"
        pause.mkdir()
        # Trials inherit the environment of the node they run on (`ray start`), not the driver's.
        hooks = {"FACEBENCH_PAUSE_AT": "reported:1", "FACEBENCH_PAUSE_DIR": str(pause)}
        address = start_nodes(temp, env={**fast, **hooks})
        sweep = Sweep(tmp_path, temp, 2, retries=2)
        cmd = [
            sys.executable,
            "-m",
            "facebench.cli",
            "sweep",
            str(sweep.file),
            "--results",
            str(sweep.results),
            "--quiet",
            "--address",
            address,
        ]
        env = {**sweep.env, **fast}
        with open(tmp_path / "driver.log", "w") as f:
            driver = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=f, stderr=f, start_new_session=True)
            while len(list(pause.glob("*.json"))) < 2 and driver.poll() is None:
                time.sleep(0.1)  # both trials reached their pause: the kill point is in the code path
            raylet = worker_raylet(temp)
            markers = [json.loads(p.read_text()) for p in pause.glob("*.json")]
            victim = [m["tag"] for m in markers if _parent(m["pid"]) == raylet]
            assert len(victim) == 1, (markers, raylet)
            _kill_node(temp, raylet)
            (pause / "release").touch()
            rc = driver.wait(timeout=400)
    finally:
        stop(temp)
        shutil.rmtree(temp, ignore_errors=True)
    log = (tmp_path / "driver.log").read_text()
    assert rc == 0, log[-3000:]
    summary = _check_final(sweep, {})
    rows = {t["trial_id"]: t for t in summary["trials"]}
    meta = json.loads((sweep.dir / "trials" / victim[0] / "meta.json").read_text())
    assert meta.get("resumed_from_epoch") == 1, meta  # continued from its checkpoint, not restarted
    assert len({t["node_id"] for t in rows.values()}) == 1  # both finished on the surviving node
    print(f"node killed: trial {victim[0]} retried on the surviving node from epoch {meta['resumed_from_epoch']}")
