"""Results in a bucket vs on local disk: the same sweep twice in one Ray, its wall time and the report's.

    .venv/bin/python tests/bench/bench_storage.py [--trials 4] [--epochs 3]

The bucket is moto's S3 server on loopback (started and stopped here, as the tests do). Ratio = wall time
with ``--storage s3://...`` / wall time on local disk, for the sweep (trial folders mirrored after every
epoch, the study snapshot after every trial, the driver's pull and push at the end) and for the report
(read straight from the bucket vs from disk). Also prints how many objects and bytes the sweep left in the
bucket. A loopback server measures facebench's own overhead, not a network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()

    from servers import S3_ENV, create_bucket, moto_server

    from facebench.report import build_report
    from facebench.storage import resolve
    from facebench.sweep import Output, SweepSpec, run_sweep, space
    from facebench.sweep.presets import SMOKE_FACE
    from facebench.sweep.session import RAY_ENV

    spec = SweepSpec(
        name="benchs3",
        task="face",
        base={**SMOKE_FACE, "train.epochs": args.epochs, "model.backbone": "resnet18", "loss.name": "arcface"},
        space=partial(space.fixed, values={}, lr=(1e-3, 1e-2)),
        num_samples=args.trials,
        scheduler="fifo",
        cpus_per_trial=1,
        max_concurrent=2,
    )
    tmp = Path(tempfile.mkdtemp(prefix="fb_bench_storage_"))
    try:
        with moto_server() as endpoint:
            create_bucket(endpoint, "bench")
            os.environ.update({**S3_ENV, "AWS_ENDPOINT_URL": endpoint, **RAY_ENV})
            import ray

            ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, logging_level="WARNING")
            try:
                walls = {}
                for where, storage in (("disk", None), ("s3", "s3://bench/runs")):
                    t0 = time.time()
                    summary = run_sweep(spec, output=Output(storage=storage, results=str(tmp / where), verbose=0))
                    walls[where] = (time.time() - t0, summary["counts"]["completed"])
            finally:
                ray.shutdown()
            reports = {}
            for where, src in (("disk", str(tmp / "disk" / "benchs3")), ("s3", "s3://bench/runs/benchs3")):
                t0 = time.time()
                build_report([src], out=tmp / f"report-{where}")
                reports[where] = time.time() - t0
            files = resolve("s3://bench/runs/benchs3").files()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"sweep: {args.trials} trials x {args.epochs} epochs, load average {os.getloadavg()[0]:.1f}")
    for where in ("disk", "s3"):
        print(
            f"  {where:4s}  sweep {walls[where][0]:6.1f} s ({walls[where][1]} completed)  report {reports[where]:5.1f} s"
        )
    print(
        f"  ratio s3/disk: sweep {walls['s3'][0] / walls['disk'][0]:.2f}, report {reports['s3'] / reports['disk']:.2f}"
    )
    print(f"  bucket: {len(files)} objects, {sum(files.values()) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
