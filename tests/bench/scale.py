"""A replayed sweep on a simulated cluster beside plain Ray Tune + OptunaSearch on the same trials: one JSON line.

    .venv/bin/python tests/bench/scale.py --trials 1000 --nodes 8 --gpus-per-node 2 --gpus-per-trial 0.5 \\
        --seconds-per-epoch 0.5 [--scheduler asha|fifo] [--storage DIR|s3://...|s3-loopback] [--study-db URL] \\
        [--kill-nodes K] [--keep-checkpoints all|usable]

Trials replay the recorded curves of the committed margin sweep (reports/margin, facebench/sweep/replay.py) on
the CPU profile's space with ``--epochs`` epochs of ``--seconds-per-epoch`` each. The cluster
(facebench/sweep/simcluster.py) is ``--nodes`` raylets of ``gpus/gpus-per-trial`` CPUs and ``--gpus-per-node``
logical GPUs, in a supervisor process. Each driver is a subprocess of this script (its peak RSS is its own).

Without ``--kill-nodes``: the facebench sweep and plain Tune on the same cluster, ``--pairs`` times each in
alternating order (overhead_ratio = the median over pairs of facebench wall / plain wall, both from just before Ray
is joined to the end, the summary included). With ``--kill-nodes K``: K nodes are removed once a quarter of the
trials have finished, the driver is SIGKILLed by the fault hook when Optuna has been told half of them
(FACEBENCH_KILL_AT=told:N/2), then resumed; resume_s is from the resumed driver's start to the first trial it
starts, and plain Tune is then started cold on the reduced cluster (one trial per live slot) for the same
measure (raw_tune_first_trial_s). Everything started is stopped, every temp dir removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = "scale"


def build_spec(args: argparse.Namespace):
    from facebench.sweep.replay import Replay
    from facebench.sweep.space import Margin
    from facebench.sweep.spec import load_sweep_file

    cpu = load_sweep_file(str(ROOT / "sweeps" / "margin.py")).profile_variant("cpu")
    space = Margin(**{**{k: getattr(cpu.space, k) for k in cpu.space.__dataclass_fields__}, "epochs": args.epochs})
    replay = Replay(
        source=str(ROOT / "reports" / "margin"),
        seconds_per_epoch=args.seconds_per_epoch,
        checkpoint_bytes=args.checkpoint_kb * 1024,
    )
    return cpu.replace(
        name=args.name,
        base={**cpu.base, "train.epochs": args.epochs},
        space=space,
        num_samples=args.trials,
        scheduler=args.scheduler,
        grace_period=1,
        cover=False,
        cpus_per_trial=1.0,
        gpus_per_trial=args.gpus_per_trial,
        max_failures=3,
        replay=replay,
    )


def facebench_driver(args: argparse.Namespace) -> dict:
    from facebench.sweep import Output, Placement, run_sweep

    spec = build_spec(args)
    t0 = time.time()
    summary = run_sweep(
        spec,
        Placement(address=args.address, gpus_per_trial=args.gpus_per_trial, cpus_per_trial=1),
        Output(
            results=args.results,
            storage=args.storage,
            study_db=args.study_db,
            verbose=0,
            resume=args.resume,
            fresh=not args.resume,
            keep_checkpoints=args.keep_checkpoints,
        ),
    )
    return {"wall_s": time.time() - t0, "counts": summary["counts"]}


def plain_driver(args: argparse.Namespace) -> dict:
    """Plain Ray Tune + OptunaSearch (in-memory study, Tune's defaults) on the same replayed trials."""
    import optuna
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search.optuna import OptunaSearch

    from facebench.sweep.replay import plain_trainable
    from facebench.sweep.session import trial_slots

    spec = build_spec(args)
    t0 = time.time()
    ray.init(address=args.address, logging_level="WARNING")
    search = OptunaSearch(
        space=spec.space, metric="objective", mode="max", sampler=optuna.samplers.TPESampler(seed=spec.seed)
    )
    scheduler = (
        FIFOScheduler()
        if spec.scheduler == "fifo"
        else ASHAScheduler(
            time_attr="epoch",
            max_t=spec.epochs,
            grace_period=1,
            reduction_factor=spec.reduction_factor,
            stop_last_trials=False,
        )
    )
    trainable = tune.with_resources(
        tune.with_parameters(plain_trainable, spec=spec), {"cpu": 1, "gpu": args.gpus_per_trial}
    )
    grid = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            metric="objective",
            mode="max",
            search_alg=search,
            scheduler=scheduler,
            num_samples=spec.num_samples,
            reuse_actors=True,
            max_concurrent_trials=trial_slots(spec),  # the cap facebench sets itself (tuner._tune_config)
        ),
        run_config=tune.RunConfig(name="plain", storage_path=args.results, verbose=0),
    ).fit()
    wall = time.time() - t0
    ray.shutdown()
    starts = [r.metrics["started_at"] for r in grid if r.metrics and "started_at" in r.metrics]
    return {
        "wall_s": wall,
        "errors": sum(r.error is not None for r in grid),
        "first_start": min(starts, default=None),
        "epochs_run": sum(int((r.metrics or {}).get("training_iteration", 0)) for r in grid),
    }


def run_driver(
    kind: str,
    args: argparse.Namespace,
    results: str,
    log: Path,
    *,
    resume: bool = False,
    env: dict | None = None,
    trials: int | None = None,
) -> subprocess.Popen:
    cmd = [
        sys.executable,
        __file__,
        "--driver",
        kind,
        "--address",
        args.address,
        "--results",
        results,
        "--name",
        args.name,
        "--trials",
        str(trials or args.trials),
        "--gpus-per-trial",
        str(args.gpus_per_trial),
        "--epochs",
        str(args.epochs),
        "--seconds-per-epoch",
        str(args.seconds_per_epoch),
        "--scheduler",
        args.scheduler,
        "--checkpoint-kb",
        str(args.checkpoint_kb),
        "--keep-checkpoints",
        args.keep_checkpoints,
        *(["--resume"] if resume else []),
        *(["--storage", args.storage] if args.storage else []),
        *(["--study-db", args.study_db] if args.study_db else []),
    ]
    from facebench.sweep.session import RAY_ENV

    out = open(log, "a")
    pending = {"TUNE_MAX_PENDING_TRIALS_PG": str(args.max_pending)} if args.max_pending else {}
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=out,
        stderr=out,
        start_new_session=True,
        env={**os.environ, **RAY_ENV, **pending, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def driver_main(args: argparse.Namespace) -> int:
    out = facebench_driver(args) if args.driver == "facebench" else plain_driver(args)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["rss_mb"] = usage.ru_maxrss / 1024
    out["cpu_s"] = usage.ru_utime + usage.ru_stime  # the driver's own CPU time (its thread pool included)
    (Path(args.results) / f"{args.driver}-driver.json").write_text(json.dumps(out))
    return 0


def wait_for(proc: subprocess.Popen, what: str, limit_s: float = 3600) -> int:
    try:
        return proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise RuntimeError(f"{what} ran past {limit_s} s")


def finished_trials(sweep: Path) -> int:
    return sum(1 for _ in (sweep / "trials").glob("*/result.json"))


def run_facebench(args: argparse.Namespace, cluster, work: Path, folder: str = "fb") -> dict:
    """The facebench sweep; with --kill-nodes, nodes removed at a quarter, the driver killed at half, resumed."""
    from facebench.faults import KILL

    results, log, sweep = str(work / folder), work / f"{folder}.log", work / folder / args.name
    faults = {KILL: f"told:{args.trials // 2}"} if args.kill_nodes else {}
    launched = time.time()
    driver = run_driver("facebench", args, results, log, env=faults)
    killed = []
    if args.kill_nodes:
        while driver.poll() is None and finished_trials(sweep) < args.trials // 4:
            time.sleep(0.2)  # polling a condition: trials finished
        killed = cluster.kill_nodes(args.kill_nodes)
        stranded = running_on(sweep, set(killed))  # trials whose attempt was on a removed node
    rc = wait_for(driver, "facebench driver")
    out = {"killed_nodes": len(killed), "first_rc": rc, "first_trial_s": first_start_after(sweep, launched)}
    if args.kill_nodes:
        t0 = time.time()
        resumed = run_driver("facebench", args, results, log, resume=True)
        out["resume_plan_s"] = seconds_to_line(resumed, log, "facebench sweep: resuming:", t0)
        rc = wait_for(resumed, "resumed facebench driver")
        out["resume_s"] = first_start_after(sweep, t0)
        out["on_killed_nodes"] = len(stranded)
        out["retried_elsewhere"] = sum(finished_elsewhere(sweep / "trials" / t, set(killed)) for t in stranded)
    if rc != 0:
        raise RuntimeError(f"facebench driver exited {rc}; see {log}: {log.read_text()[-3000:]}")
    return {**out, **json.loads((Path(results) / "facebench-driver.json").read_text())}


def run_plain(args: argparse.Namespace, work: Path, folder: str = "plain", trials: int | None = None) -> dict:
    """Plain Tune + OptunaSearch on the same cluster; ``first_trial_s``: from its launch to its first trial's
    start (a cold start on this cluster, as a resumed facebench driver's is)."""
    log = work / f"{folder}.log"
    launched = time.time()
    driver = run_driver("plain", args, str(work / folder), log, trials=trials)
    rc = wait_for(driver, "plain Tune driver")
    if rc != 0:
        raise RuntimeError(f"plain Tune driver exited {rc}: {log.read_text()[-3000:]}")
    out = json.loads((work / folder / "plain-driver.json").read_text())
    first = out.get("first_start")
    return {**out, "first_trial_s": round(first - launched, 2) if first else None}


def running_on(sweep: Path, nodes: set[str]) -> list[str]:
    """Trials whose last attempt ran on one of ``nodes`` and that have no final record yet: those running there,
    and those ASHA stopped there (a stopped trial's record is written at the sweep's end)."""
    out = []
    for meta in (sweep / "trials").glob("*/ray.json"):
        if json.loads(meta.read_text()).get("node_id") in nodes and not (meta.parent / "result.json").exists():
            out.append(meta.parent.name)
    return out


def finished_elsewhere(trial: Path, killed: set[str]) -> bool:
    """The trial has its final record and its last attempt ran on a node that was not removed."""
    ray_meta = trial / "ray.json"
    if not (trial / "result.json").exists() or not ray_meta.exists():
        return False
    return json.loads(ray_meta.read_text()).get("node_id") not in killed


def seconds_to_line(proc: subprocess.Popen, log: Path, text: str, t0: float) -> float | None:
    """Seconds from ``t0`` until ``text`` appears in ``log`` (None if ``proc`` ends first): the resumed driver's
    own part of a resume (start, lock, Ray joined, study and folders reconciled), before Tune starts any trial."""
    start = log.stat().st_size if log.exists() else 0
    while proc.poll() is None:
        with open(log, "rb") as f:
            f.seek(start)
            if text.encode() in f.read():
                return round(time.time() - t0, 2)
        time.sleep(0.1)  # polling a condition: a line in the driver's log
    return None


def first_start_after(sweep: Path, t0: float) -> float | None:
    starts = [json.loads(p.read_text()).get("started_at", 0) for p in (sweep / "trials").glob("*/ray.json")]
    later = [s for s in starts if s >= t0]
    return round(min(later) - t0, 2) if later else None


def accounting(args: argparse.Namespace, sweep: Path) -> dict:
    """Every proposed trial has one folder with a final record; nothing proposed twice or trained twice."""
    import optuna

    from facebench.sweep.resume import TRIAL_ATTR

    records = {p.parent.name: json.loads(p.read_text()) for p in (sweep / "trials").glob("*/result.json")}
    status = [r.get("status") for r in records.values()]
    url = args.study_db or f"sqlite:///{sweep / 'study.db'}"
    trials = optuna.load_study(study_name=sweep.name, storage=url).get_trials(deepcopy=False)
    ids = [t.user_attrs.get(TRIAL_ATTR) for t in trials if t.user_attrs.get(TRIAL_ATTR)]
    params = [json.dumps(t.params, sort_keys=True) for t in trials if t.user_attrs.get(TRIAL_ATTR)]
    rows = {p.parent.name: len(p.read_text().splitlines()) for p in (sweep / "trials").glob("*/epochs.jsonl")}
    overrun = sum(n > args.epochs for n in rows.values())
    ok = sum(s in ("completed", "stopped") for s in status)
    kinds = {
        "duplicate_folders": len(ids) - len(set(ids)),  # study trials naming one trial folder
        "duplicate_proposals": len(params) - len(set(params)),  # identical parameters proposed twice
        "trained_twice": overrun,  # trials with more epoch rows than the sweep has epochs
    }
    # Attempts that Tune saw fail (a node lost under them) and retried: Tune keeps their error in its trial folder.
    retried = sum(1 for _ in (sweep / "ray").glob("*/error.txt"))
    return {
        "completed": status.count("completed"),
        "stopped": status.count("stopped"),
        "failed": status.count("failed"),
        "lost": args.trials - ok,
        "retried": retried,
        "duplicates": sum(kinds.values()),
        **kinds,
        "epochs_run": sum(rows.get(i, 0) for i in records),
    }


def nodes_used(sweep: Path) -> int:
    """Distinct Ray nodes the trials' last attempts ran on (ray.json)."""
    return len({json.loads(p.read_text()).get("node_id") for p in (sweep / "trials").glob("*/ray.json")})


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def suggest_ms(sweep: Path, column: int = 0) -> tuple[float | None, float | None]:
    """p50 and p95 of the last 100 proposals: column 0 wall ms, 1 the driver thread's CPU ms (load-independent)."""
    log = sweep / "logs" / "suggest_ms.txt"
    rows = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    values = [float(r[column]) for r in rows if len(r) > column][-100:]
    if len(values) < 2:
        return None, None
    return round(statistics.median(values), 1), round(statistics.quantiles(values, n=20)[-1], 1)


def time_report(sweep: Path, work: Path) -> float:
    t0 = time.time()
    run = subprocess.run(
        [sys.executable, "-m", "facebench.cli", "report", str(sweep), "--out", str(work / "report")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise RuntimeError(f"report failed: {run.stderr[-2000:]}")
    return round(time.time() - t0, 2)


def measure(args: argparse.Namespace, work: Path) -> dict:
    from facebench.sweep.simcluster import SimCluster

    slots_per_node = int(args.gpus_per_node / args.gpus_per_trial) if args.gpus_per_trial else 4
    baseline = not args.kill_nodes and not args.no_baseline
    with SimCluster(args.nodes, slots_per_node, args.gpus_per_node, log=str(work / "cluster.log")) as cluster:
        args.address = cluster.address
        loads = [os.getloadavg()[0]]  # the machine's 1-minute load: before the first run and after each
        runs: list[tuple[dict, dict | None]] = []
        folders = [f"fb{i}" if i else "fb" for i in range(args.pairs if baseline else 1)]
        for i, folder in enumerate(folders):
            # Pairs alternate their order (facebench first, then plain Tune first, ...), so a drift of the
            # machine's speed over the runs weighs on both sides alike.
            fb_first = i % 2 == 0
            plain = None
            if baseline and not fb_first:
                plain = run_plain(args, work, f"plain{i}")
                loads.append(os.getloadavg()[0])
            fb = run_facebench(args, cluster, work, folder)
            loads.append(os.getloadavg()[0])
            if baseline and fb_first:
                plain = run_plain(args, work, f"plain{i}")
                loads.append(os.getloadavg()[0])
            runs.append((fb, plain))
        cold = None
        if args.kill_nodes and not args.no_baseline:
            # The cold start a resumed driver pays, measured for plain Tune on the same (reduced) cluster: just
            # enough trials to fill it once.
            live = args.nodes - runs[0][0]["killed_nodes"]
            cold = run_plain(args, work, "plain-cold", trials=max(1, live * slots_per_node))
            loads.append(os.getloadavg()[0])
    fb, plain = runs[0]
    sweeps = [work / folder / args.name for folder in folders]
    accs = [accounting(args, sweep) for sweep in sweeps]
    acc = dict(accs[0])
    for key in ("lost", "failed", "duplicates", "duplicate_folders", "duplicate_proposals", "trained_twice"):
        acc[key] = sum(a[key] for a in accs)  # every sweep of every pair is accounted for
    sweep = sweeps[0]
    slots = args.nodes * slots_per_node
    ideal = acc.pop("epochs_run") * args.seconds_per_epoch / slots
    p50, p95 = suggest_ms(sweep)
    cpu50, cpu95 = suggest_ms(sweep, 1)
    ratios = [f["wall_s"] / p["wall_s"] for f, p in runs if p]
    # ASHA and TPE stop different trials in each run, so the two drivers run different numbers of epochs: the
    # ratio of their walls per epoch run (wall / ideal) compares them on equal work.
    per_epoch = [
        (f["wall_s"] / a["epochs_run"]) / (p["wall_s"] / p["epochs_run"])
        for (f, p), a in zip(runs, accs)
        if p and p.get("epochs_run") and a["epochs_run"]
    ]
    plain_ideal = plain["epochs_run"] * args.seconds_per_epoch / slots if plain and plain.get("epochs_run") else None
    return {
        "trials": args.trials,
        "nodes": args.nodes,
        **acc,
        "wall_s": round(fb["wall_s"], 1),
        "ideal_s": round(ideal, 1),
        "wall_over_ideal": round(fb["wall_s"] / ideal, 3),
        "raw_tune_wall_s": round(plain["wall_s"], 1) if plain else None,
        "overhead_ratio": round(statistics.median(ratios), 3) if ratios else None,
        "raw_tune_ideal_s": round(plain_ideal, 1) if plain_ideal else None,
        "overhead_ratio_per_epoch": round(statistics.median(per_epoch), 3) if per_epoch else None,
        "pairs": len(ratios),
        "walls_s": [round(f["wall_s"], 1) for f, _ in runs] if len(runs) > 1 else None,
        "raw_tune_walls_s": [round(p["wall_s"], 1) for _, p in runs if p] if len(runs) > 1 else None,
        "overhead_ratios": [round(r, 3) for r in ratios] if len(ratios) > 1 else None,
        "suggest_ms_p50": p50,
        "suggest_ms_p95": p95,
        "suggest_cpu_ms_p50": cpu50,
        "suggest_cpu_ms_p95": cpu95,
        "driver_rss_mb": round(max(f["rss_mb"] for f, _ in runs)),
        "driver_cpu_s": round(fb["cpu_s"], 1),
        "raw_tune_driver_cpu_s": round(plain["cpu_s"], 1) if plain else None,
        "first_trial_s": fb.get("first_trial_s"),
        "raw_tune_first_trial_s": (cold or plain or {}).get("first_trial_s"),
        "resume_s": fb.get("resume_s"),
        "resume_plan_s": fb.get("resume_plan_s"),
        "on_killed_nodes": fb.get("on_killed_nodes"),
        "retried_elsewhere": fb.get("retried_elsewhere"),
        "report_s": time_report(sweep, work),
        "bytes_per_trial": disk_bytes(sweep) // args.trials,
        "killed_nodes": fb["killed_nodes"],
        "scheduler": args.scheduler,
        "seconds_per_epoch": args.seconds_per_epoch,
        "epochs": args.epochs,
        "gpus_per_trial": args.gpus_per_trial,
        "gpus_per_node": args.gpus_per_node,
        "keep_checkpoints": args.keep_checkpoints,
        "checkpoint_kb": args.checkpoint_kb,
        "max_pending": args.max_pending or "auto",
        "nodes_used": nodes_used(sweep),
        "plain_errors": sum(p.get("errors", 0) for _, p in runs if p) if baseline else None,
        "load_1m": [round(x, 1) for x in loads],
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--gpus-per-node", type=float, default=2)
    p.add_argument("--gpus-per-trial", type=float, default=0.5)
    p.add_argument("--seconds-per-epoch", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--scheduler", choices=("asha", "fifo"), default="asha")
    p.add_argument(
        "--storage",
        default=None,
        help="results: a shared folder, a bucket URI, or s3-loopback (a moto S3 server started here; default: none)",
    )
    p.add_argument("--study-db", default=None, help="the Optuna study's URL (default: SQLite in the sweep folder)")
    p.add_argument("--kill-nodes", type=int, default=0, help="nodes removed mid-sweep; the driver is also killed")
    p.add_argument("--checkpoint-kb", type=int, default=256, help="size of each replayed trial's checkpoint")
    p.add_argument("--keep-checkpoints", choices=("all", "usable"), default="all")
    p.add_argument(
        "--max-pending",
        type=int,
        default=0,
        help="TUNE_MAX_PENDING_TRIALS_PG for both drivers (default 'auto': both cap their outstanding trials at the "
        "cluster's slots, so Tune keeps that many pending)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the plain Tune run")
    p.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="facebench and plain Tune run this many times each, in alternating order; overhead_ratio is the "
        "median of the pairs' ratios (without faults only)",
    )
    p.add_argument("--name", default=NAME, help="the sweep's name (its study's name too)")
    p.add_argument("--keep", default=None, help="keep the work folder here instead of removing it")
    p.add_argument("--driver", choices=("facebench", "plain"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--address", default=None, help=argparse.SUPPRESS)
    p.add_argument("--results", default=None, help=argparse.SUPPRESS)
    p.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.pairs < 1:
        p.error(f"--pairs {args.pairs}: at least 1")
    return args


@contextlib.contextmanager
def loopback_bucket(args: argparse.Namespace):
    """``--storage s3-loopback``: a moto S3 server on 127.0.0.1 with one bucket, its endpoint and test keys in this
    process's environment (the simulated cluster and both drivers inherit them), results under s3://fbscale/runs."""
    if args.storage != "s3-loopback":
        yield
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from servers import S3_ENV, create_bucket, moto_server

    saved = dict(os.environ)
    with moto_server() as endpoint:
        create_bucket(endpoint, "fbscale")
        os.environ.update({**S3_ENV, "AWS_ENDPOINT_URL": endpoint})
        args.storage = "s3://fbscale/runs"
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.driver:
        from facebench.cli import run_command

        return run_command(driver_main, args)  # facebench's own error policy: a refusal is one line and exit 2
    work = Path(args.keep or tempfile.mkdtemp(prefix="fb_scale_", dir=os.environ.get("RAY_TMPDIR") or None))
    work.mkdir(parents=True, exist_ok=True)
    try:
        with loopback_bucket(args):
            print(json.dumps(measure(args, work)))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
