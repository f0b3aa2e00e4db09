"""Optuna's suggestion time at a sweep's history size: the margin sweep's CPU space, a study of N finished trials
(70% pruned with per-epoch intermediate values, as ASHA leaves them), then the next K proposals timed (thread CPU
time of ``ask`` + the space function), for the stock TPESampler and facebench's sampler (facebench.sweep.sampler).
Both see the same history and the same seed; the JSON line gives p50/p95 of each, their ratio, and whether the two
proposed the same parameters.

    .venv/bin/python tests/bench/bench_suggest.py [--trials 1000] [--proposals 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sweeps"))


def history(n: int, space, seed: int = 0):
    """An in-memory study of ``n`` finished trials proposed at random from ``space``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        t = study.ask()
        space(t)
        epochs = int(rng.choice([4, 12, 24], p=[0.45, 0.25, 0.30]))
        curve = 0.5 + 0.3 * (1 - np.exp(-np.arange(1, epochs + 1) / 6)) + rng.normal(0, 0.02, epochs)
        for e, v in enumerate(curve, 1):
            t.report(float(v), e)
        study.tell(t, float(curve.max()) if epochs == 24 else None, state=None if epochs == 24 else _pruned())
    return study


def _pruned():
    import optuna

    return optuna.trial.TrialState.PRUNED


def timed(study, sampler, space, k: int) -> tuple[list[float], list[dict]]:
    import optuna

    s = optuna.create_study(direction="maximize", sampler=sampler)
    s.add_trials(study.trials)
    ms, params = [], []
    for _ in range(k):
        c0 = time.thread_time()
        t = s.ask()
        space(t)
        ms.append((time.thread_time() - c0) * 1000)
        params.append(dict(t.params))
        s.tell(t, state=optuna.trial.TrialState.PRUNED)  # keep the history size fixed for the next proposal
    return ms, params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--proposals", type=int, default=100)
    args = ap.parse_args()
    import margin
    import optuna

    from facebench.sweep.sampler import tpe_sampler

    space = margin.SPEC.profiles["cpu"].space
    study = history(args.trials, space)
    stock_ms, stock_p = timed(study, optuna.samplers.TPESampler(seed=1), space, args.proposals)
    ours_ms, ours_p = timed(study, tpe_sampler(seed=1), space, args.proposals)
    p = {
        name: (float(np.percentile(v, 50)), float(np.percentile(v, 95)))
        for name, v in (("stock", stock_ms), ("ours", ours_ms))
    }
    print(
        json.dumps(
            {
                "trials": args.trials,
                "proposals": args.proposals,
                "stock_ms_p50": round(p["stock"][0], 2),
                "stock_ms_p95": round(p["stock"][1], 2),
                "ms_p50": round(p["ours"][0], 2),
                "ms_p95": round(p["ours"][1], 2),
                "ratio_p95": round(p["ours"][1] / p["stock"][1], 3),
                "same_proposals": stock_p == ours_p,
            }
        )
    )


if __name__ == "__main__":
    main()
