"""Benchmark: `facebench report` tables + HTML for 1,000 synthetic trials of 10 epochs each; target <= 10 s.

    .venv/bin/python tests/bench/bench_report.py [--trials 1000] [--epochs 10] [--pairs 6000] [--keep DIR [--reuse]]

The fake sweep (the documented layout, with verification artefacts of --pairs LFW-sized pairs, VAE latents,
CIFAR confusion matrices and a real Optuna SQLite study) is written first, untimed. The timed part is one
``build_report`` call in a fresh process state: collection, Parquet tables, plots, statistics and HTML.
Printed: wall seconds, CPU seconds of this process and of the report's worker processes, the ratio to the 10 s target, and the ratio to a baseline measured in the same
run: reading every trial's JSON files and artefacts with no processing (the I/O floor).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for report_fakes

from report_fakes import make_study, make_trial  # noqa: E402

from facebench.io import atomic_write_json  # noqa: E402

TARGET_S = 10.0


def make_big_sweep(root: Path, *, trials: int, epochs: int, pairs: int) -> Path:
    sweep = root / "bench"
    atomic_write_json(sweep / "sweep.json", {"name": "bench", "task": "mixed", "num_samples": trials})
    rng = np.random.default_rng(0)
    backbones, losses = ("resnet18", "resnet34", "resnet50", "cnn"), ("arcface", "cosface", "sphereface", "adaface")
    for i in range(trials):
        kind = i % 10
        status = "failed" if i % 50 == 7 else "stopped" if i % 20 == 3 else "completed"
        if kind < 6:
            kw = dict(task="face", overrides={"model.backbone": backbones[i % 4], "loss.name": losses[(i // 4) % 4],
                                              "optim.lr": float(10 ** rng.uniform(-4, -2))})
        elif kind < 9:
            kw = dict(task="autoencoder", overrides={"loss.beta": (0.5, 1.0, 4.0)[i % 3],
                                                     "model.embedding_size": (16, 32, 64, 128)[i % 4]})
        else:
            kw = dict(task="cifar", overrides={"model.backbone": backbones[i % 4]})
        make_trial(sweep / "trials" / f"t{i:05d}", seed=i % 3, status=status, epochs=epochs,
                   quality=float(rng.uniform(0.1, 0.9)), n_pairs=pairs, **kw)
    make_study(sweep / "study.db", "bench", n=min(trials, 200))
    return sweep


def io_floor(sweep: Path) -> float:
    """Read every file of every trial (JSON parsed, npz arrays loaded): what any report must at least do."""
    t = time.perf_counter()
    for d in sorted((sweep / "trials").iterdir()):
        for name in ("config.json", "meta.json", "result.json"):
            if (d / name).exists():
                json.loads((d / name).read_text())
        [json.loads(line) for line in (d / "epochs.jsonl").read_text().splitlines()]
        for f in sorted((d / "artefacts").glob("*")) if (d / "artefacts").exists() else []:
            if f.suffix == ".npz":
                with np.load(f) as z:
                    [z[k] for k in z.files]
            else:
                f.read_bytes()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=6000)
    ap.add_argument("--keep", default="", help="write the sweep and report here instead of a temporary directory")
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse a sweep generated there before")
    args = ap.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_report_"))
    t = time.perf_counter()
    if args.reuse and (root / "bench" / "sweep.json").exists():
        sweep = root / "bench"
        print(f"reusing {sweep}")
    else:
        sweep = make_big_sweep(root, trials=args.trials, epochs=args.epochs, pairs=args.pairs)
    print(f"sweep of {args.trials} trials x {args.epochs} epochs ({args.pairs} pairs) ready in "
          f"{time.perf_counter() - t:.1f} s (untimed) under {sweep}")
    floor = io_floor(sweep)
    from facebench.report import build_report

    t0, c0 = time.perf_counter(), os.times()
    index = build_report([sweep], root / "report")
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = c1.user + c1.system - c0.user - c0.system
    child = c1.children_user + c1.children_system - c0.children_user - c0.children_system
    size = Path(index).stat().st_size / 1e6
    print(f"report: {wall:.2f} s wall; CPU {cpu:.2f} s main process + {child:.2f} s worker processes "
          f"-> {index} ({size:.1f} MB)")
    print(f"ratio to the {TARGET_S:.0f} s target: {wall / TARGET_S:.2f} ({'PASS' if wall <= TARGET_S else 'FAIL'})")
    print(f"I/O floor (read every file, no processing): {floor:.2f} s; report / floor = {wall / floor:.1f}x")


if __name__ == "__main__":
    main()
