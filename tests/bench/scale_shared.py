"""Several replayed sweeps at once, each its own study on one PostgreSQL server, on one simulated cluster; then a
second driver started on a running sweep, which the one-driver lock must refuse. One JSON line.

    .venv/bin/python tests/bench/scale_shared.py --sweeps 4 --trials 100 --nodes 8 --gpus-per-node 2 \\
        --gpus-per-trial 0.5 --seconds-per-epoch 0.5

The server is Debian's PostgreSQL 15 in a temp dir on loopback (tests/servers.py; root runs it as ``postgres``);
the password reaches the drivers through PGPASSWORD only. Each sweep is ``tests/bench/scale.py``'s facebench driver
(replayed margin trials) named ``scale-<i>``, with its own results folder and study ``scale-<i>`` in the one
database. Once every sweep has finished a trial, the same driver is started again on sweep 0 with ``--resume``:
it must exit 2 naming the running driver, and sweep 0 must go on unharmed. Accounting per sweep as scale.py's
(lost, proposed twice, trained twice). Everything started is stopped, every temp dir removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import scale  # noqa: E402  (tests/bench/scale.py: the driver, its accounting and the simulated cluster)
from servers import postgres_server  # noqa: E402

PASSWORD = "bench-only-password"


def sweep_args(args: argparse.Namespace, i: int) -> argparse.Namespace:
    """scale.py's driver arguments for sweep ``i`` (named, and its study named, ``scale-<i>``)."""
    return argparse.Namespace(**{**vars(args), "name": f"scale-{i}"})


def second_driver(args: argparse.Namespace, work: Path) -> dict:
    """The same driver again on running sweep 0 (``--resume``): its exit code and last line."""
    log = work / "second-driver.log"
    proc = scale.run_driver("facebench", sweep_args(args, 0), str(work / "fb-0"), log, resume=True)
    rc = scale.wait_for(proc, "second driver", limit_s=300)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return {"rc": rc, "line": lines[-1] if lines else ""}


def run_all(args: argparse.Namespace, work: Path) -> dict:
    each = [sweep_args(args, i) for i in range(args.sweeps)]
    procs = [scale.run_driver("facebench", a, str(work / f"fb-{i}"), work / f"fb-{i}.log") for i, a in enumerate(each)]
    sweeps = [work / f"fb-{i}" / a.name for i, a in enumerate(each)]
    while any(p.poll() is None for p in procs) and not all(scale.finished_trials(s) > 0 for s in sweeps):
        time.sleep(0.5)  # polling a condition: every sweep has a finished trial
    running = procs[0].poll() is None
    second = second_driver(args, work) if running else {"rc": None, "line": "sweep 0 ended before the check"}
    rcs = [scale.wait_for(p, f"driver {i}") for i, p in enumerate(procs)]
    per_sweep = []
    for i, (mine, sweep) in enumerate(zip(each, sweeps)):
        acc = scale.accounting(mine, sweep)
        acc.pop("epochs_run")
        driver = json.loads((work / f"fb-{i}" / "facebench-driver.json").read_text()) if rcs[i] == 0 else {}
        per_sweep.append({"sweep": mine.name, "rc": rcs[i], "wall_s": round(driver.get("wall_s", 0), 1), **acc})
    return {"second_driver": second, "sweeps": per_sweep}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sweeps", type=int, default=4)
    p.add_argument("--trials", type=int, default=100, help="trials per sweep")
    p.add_argument("--nodes", type=int, default=8)
    p.add_argument("--gpus-per-node", type=float, default=2.0)
    p.add_argument("--gpus-per-trial", type=float, default=0.5)
    p.add_argument("--seconds-per-epoch", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--keep", default=None, help="keep the work folder here instead of removing it")
    args = parse_common(p.parse_args(argv))
    work = Path(args.keep or tempfile.mkdtemp(prefix="fb_shared_", dir=os.environ.get("RAY_TMPDIR") or None))
    work.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("PGPASSWORD")
    try:
        from facebench.sweep.simcluster import SimCluster

        with postgres_server(PASSWORD) as url:
            os.environ["PGPASSWORD"] = PASSWORD  # the drivers inherit it; no file holds it
            args.study_db = url
            slots = int(args.gpus_per_node / args.gpus_per_trial)
            with SimCluster(args.nodes, slots, args.gpus_per_node, log=str(work / "cluster.log")) as cluster:
                args.address = cluster.address
                t0 = time.time()
                out = run_all(args, work)
                out["wall_s"] = round(time.time() - t0, 1)
        out["second_driver"]["refused"] = out["second_driver"]["rc"] == 2 and "another facebench driver" in str(
            out["second_driver"]["line"]
        )
        out.update(
            trials_per_sweep=args.trials,
            nodes=args.nodes,
            lost=sum(s["lost"] for s in out["sweeps"]),
            duplicates=sum(s["duplicates"] for s in out["sweeps"]),
            load_1m=round(os.getloadavg()[0], 1),
        )
        print(json.dumps(out))
    finally:
        if saved is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = saved
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def parse_common(args: argparse.Namespace) -> argparse.Namespace:
    """scale.py's driver settings for everything this script does not vary."""
    defaults = scale.parse([])
    for key, value in vars(defaults).items():
        if not hasattr(args, key):
            setattr(args, key, value)
    args.keep_checkpoints = "usable"
    return args


if __name__ == "__main__":
    sys.exit(main())
