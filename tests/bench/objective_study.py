"""Which validation objective predicts test accuracy? A measurement on real LFW, at CPU scale.

Trains ``--trials`` recipes drawn at random (seeded) from a margin-loss space on the LFW people of folds 0-4
(32 px, narrow nets, few epochs) and records, after every epoch, the validation metrics each candidate
objective needs and, for this measurement only, the test accuracy on the pairs of folds 5-9. The product never
does the latter: a sweep's selection sees validation only; here the test accuracy of every epoch is what lets
each candidate be judged by the model it would itself have chosen.

A candidate is (validation metric, epoch rule): its value for a trial is the metric of the last epoch
(``last``) or its best over epochs (``best``, early stopping: the best epoch's model is the one tested). Its
score is Spearman's rank correlation, across trials, between that value and the test accuracy of the epoch it
chooses, with a bootstrap 95% interval over trials. ``val200`` is the old protocol (200 pairs drawn from the
held-out identities); ``val`` is every pair those identities allow.

    PYTHONPATH=. .venv/bin/python tests/bench/objective_study.py --root ../shared/data/lfw --trials 16 \
        --epochs 8 --out objective_study.json
    PYTHONPATH=. .venv/bin/python tests/bench/objective_study.py --table objective_study.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

CANDIDATES = (
    ("val200_accuracy", "last"),
    ("val200_accuracy", "best"),
    ("val_accuracy", "last"),
    ("val_accuracy", "best"),
    ("val_auc", "last"),
    ("val_auc", "best"),
    ("val200_auc", "best"),
)


def recipe(rng: np.random.Generator, root: str, epochs: int) -> dict:
    backbone, width = [("cnn", 0.5), ("cnn", 1.0), ("resnet18", 0.125)][rng.integers(3)]
    loss = ["ce", "cosface", "arcface", "adaface"][rng.integers(4)]
    return {
        "task": "face",
        "data.train": "lfw_people",
        "data.root": root,
        "data.train_folds": "0-4",
        "data.image_size": 32,
        "data.min_images": 2,
        "data.val_pairs": 6000,
        "model.backbone": backbone,
        "model.width": width,
        "model.stem": "cifar",
        "loss.name": loss,
        "optim.name": "adamw",
        "optim.lr": float(10 ** rng.uniform(-3.3, -1.7)),
        "optim.weight_decay": float(10 ** rng.uniform(-5, -3)),
        "schedule.name": "cosine",
        "train.batch_size": 64,
        "train.epochs": epochs,
        "train.threads": 1,
        "train.device": "cpu",
        "train.augment": "flip",
        "train.checkpoint": False,
        "eval.batch_size": 256,
    }


def run_one(flat: dict) -> list[dict]:
    from facebench.config import TrialConfig
    from facebench.data.splits import draw_pairs
    from facebench.engine.checkpoint import seed_everything
    from facebench.engine.errors import NonFiniteLoss
    from facebench.engine.loop import build_training, train_one_epoch

    cfg = TrialConfig.from_dict(flat)
    seed_everything(cfg.train.seed)
    task, batches, stepper = build_training(cfg)
    d = task.data
    small = draw_pairs(d.val.labels, pairs=200, folds=5, seed=cfg.train.seed)
    rows = []
    for epoch in range(cfg.train.epochs):
        try:
            train_one_epoch(task, batches, stepper, epoch)
            val, _ = task.verify(d.val.images, d.val_pairs)
            val200, _ = task.verify(d.val.images, small)
            test, _ = task.verify(d.test.images, d.test_pairs)  # measurement only, never a choice
        except NonFiniteLoss:
            break
        rows.append(
            {
                "epoch": epoch + 1,
                "val_accuracy": val.accuracy_mean,
                "val_auc": val.auc,
                "val200_accuracy": val200.accuracy_mean,
                "val200_auc": val200.auc,
                "test_accuracy": test.accuracy_mean,
                "val_pairs": len(d.val_pairs),
                "val200_pairs": len(small),
            }
        )
    return rows


def choose(rows: list[dict], metric: str, rule: str) -> dict:
    if rule == "last":
        return rows[-1]
    return max(rows, key=lambda r: r[metric])  # ties keep the earlier epoch, as the engine does


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def score(trials: list[dict], metric: str, rule: str, *, n_boot: int = 2000) -> dict:
    chosen = [choose(t["epochs"], metric, rule) for t in trials if t["epochs"]]
    value = np.array([c[metric] for c in chosen])
    test = np.array([c["test_accuracy"] for c in chosen])
    rng = np.random.default_rng(0)
    boots = [spearman(value[i], test[i]) for i in (rng.integers(0, len(value), len(value)) for _ in range(n_boot))]
    lo, hi = np.nanquantile(boots, [0.025, 0.975])
    return {
        "candidate": f"{metric} ({rule})",
        "rho": spearman(value, test),
        "ci95": [float(lo), float(hi)],
        "test_of_first": float(test[np.argmax(value)]),
        "mean_test_chosen": float(test.mean()),
        "n": len(value),
    }


def table(results: dict) -> str:
    trials = results["trials"]
    lines = [
        "| candidate objective | Spearman ρ vs test accuracy | 95% CI (bootstrap over trials) | "
        "test acc. of its #1 | mean test acc. of chosen models |",
        "|---|---|---|---|---|",
    ]
    for metric, rule in CANDIDATES:
        s = score(trials, metric, rule)
        lines.append(
            f"| {s['candidate']} | {s['rho']:.3f} | [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}] | "
            f"{s['test_of_first']:.3f} | {s['mean_test_chosen']:.3f} |"
        )
    best_test = max(max(r["test_accuracy"] for r in t["epochs"]) for t in trials if t["epochs"])
    pairs = trials[0]["epochs"][0]
    lines.append(
        f"\n{len(trials)} trials; {pairs['val_pairs']} validation pairs (val200: {pairs['val200_pairs']}); "
        f"best test accuracy of any epoch of any trial {best_test:.3f}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default="../shared/data/lfw")
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="objective_study.json")
    p.add_argument("--table", default=None, help="print the table of an earlier --out file and exit")
    args = p.parse_args(argv)
    if args.table:
        print(table(json.loads(Path(args.table).read_text())))
        return 0
    rng = np.random.default_rng(args.seed)
    results = {"argv": sys.argv, "trials": []}
    for i in range(args.trials):
        flat = recipe(rng, str(Path(args.root).resolve()), args.epochs)
        t0 = time.time()
        rows = run_one(flat)
        results["trials"].append({"config": flat, "epochs": rows, "wall_s": time.time() - t0})
        Path(args.out).write_text(json.dumps(results, indent=1))
        last = rows[-1] if rows else {}
        print(
            f"trial {i + 1}/{args.trials} {flat['model.backbone']} {flat['loss.name']} lr {flat['optim.lr']:.2g}: "
            f"val acc {last.get('val_accuracy', float('nan')):.3f} auc {last.get('val_auc', float('nan')):.3f} "
            f"test {last.get('test_accuracy', float('nan')):.3f} in {time.time() - t0:.0f} s",
            flush=True,
        )
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
