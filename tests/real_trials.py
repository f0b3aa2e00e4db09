"""Sweep directories of REAL engine output for the report tests: tiny ``run_trial`` runs on synthetic data.

Every trial directory is written by ``facebench.engine.run_trial`` itself (2 epochs, tiny models); faults are
driven through the engine's own hooks: ``should_stop`` (an early stop, as ASHA does), an exception from
``on_step`` (a failed trial with its reason), a ``KeyboardInterrupt`` from ``on_step`` (a killed trial: no
``result.json``). The Optuna study is a real SQLite study written by Optuna.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from facebench.engine import run_trial
from facebench.io import atomic_write_json

EVIL = "<script>alert(1)</script>"
TINY = {
    "data.image_size": 24,
    "model.width": 0.125,
    "train.epochs": 2,
    "train.batch_size": 8,
    "data.synthetic_identities": 8,
    "data.synthetic_images": 4,
    "data.val_pairs": 16,
    "train.max_steps": 2,
    "eval.batch_size": 64,
    "train.threads": 1,
}
FACE = {**TINY, "task": "face", "model.backbone": "cnn", "loss.name": "arcface"}
VAE = {**TINY, "task": "autoencoder", "model.backbone": "vae", "loss.name": "vae", "model.depth": 2}
CIFAR = {**TINY, "task": "cifar", "model.backbone": "cnn", "loss.name": "ce"}

# (trial id, config, fault); the mixed sweep of tests/test_report.py and tests/test_report_browser.py
MIXED = [
    ("t0000", {**FACE, "train.seed": 0}, None),
    ("t0001", {**FACE, "train.seed": 1}, None),
    ("t0002", {**FACE, "loss.name": "cosface", "train.seed": 0}, None),
    ("t0003", {**FACE, "loss.name": "cosface", "train.seed": 1}, None),
    ("t0004", {**VAE, "loss.beta": 0.5, "model.embedding_size": 16}, None),
    ("t0005", {**VAE, "loss.beta": 4.0, "model.embedding_size": 32, "name": EVIL}, None),
    ("t0006", CIFAR, None),
    ("t0007", FACE, "fail"),
    ("t0008", FACE, "kill"),
    ("t0009", FACE, "stop"),
]


class Killed(KeyboardInterrupt):
    """Raised from ``on_step``: not an Exception, so ``run_trial`` writes no result.json, as after a SIGKILL."""


def _fault_hook(fault: str | None):
    def on_step(epoch: int, step: int, steps: int) -> None:
        if epoch == 1 and fault == "fail":
            raise RuntimeError(EVIL)
        if epoch == 1 and fault == "kill":
            raise Killed()

    return on_step


def run_one(trial_dir: Path, config: dict[str, Any], fault: str | None = None) -> Path:
    try:
        run_trial(
            config,
            trial_dir=trial_dir,
            on_step=_fault_hook(fault),
            should_stop=(lambda: True) if fault == "stop" else None,
        )
    except Killed:
        pass
    return trial_dir


def make_sweep(root: Path, name: str, trials: list[tuple[str, dict, str | None]], *, study: bool = False) -> Path:
    """``<root>/<name>``: sweep.json, ``trials/<id>`` written by run_trial, and (``study``) an Optuna study."""
    sweep = Path(root) / name
    atomic_write_json(
        sweep / "sweep.json", {"name": name, "metric": "val_accuracy", "mode": "max", "num_samples": len(trials)}
    )
    (sweep / "trials").mkdir(parents=True, exist_ok=True)
    for tid, config, fault in trials:
        run_one(sweep / "trials" / tid, config, fault)
    if study:
        make_study(sweep / "study.db", name, n=8)
    return sweep


def make_study(path: Path, name: str, *, n: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.create_study(study_name=name, storage=f"sqlite:///{path}", direction="maximize")
    dists = {
        "optim.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
        "loss.margin": optuna.distributions.FloatDistribution(0.1, 0.6),
    }
    rng = np.random.default_rng(0)
    for _ in range(n):
        lr, m = float(10 ** rng.uniform(-4, -2)), float(rng.uniform(0.1, 0.6))
        st.add_trial(
            optuna.trial.create_trial(
                params={"optim.lr": lr, "loss.margin": m},
                distributions=dists,
                value=0.6 + 0.3 * m - 0.1 * abs(math.log10(lr) + 3),
            )
        )
