"""Fake sweep and trial directories in exactly the layout of docs/architecture.md, for report tests and the bench.

The numbers are synthetic but shaped like real ones (fold accuracies from real thresholded scores, VAE
recon falling and KL rising, confusion matrices with a dominant diagonal), so every plot has data to draw.
"""

from __future__ import annotations

import io
import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from facebench.config import TrialConfig
from facebench.io import atomic_write_bytes, atomic_write_json, dumps_json

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TASK_CONFIGS = {
    "face": {"task": "face", "model.backbone": "resnet18", "loss.name": "arcface"},
    "autoencoder": {"task": "autoencoder", "model.backbone": "vae", "loss.name": "vae", "loss.beta": 1.0,
                    "model.embedding_size": 32},
    "cifar": {"task": "cifar", "model.backbone": "resnet18", "loss.name": "ce", "data.image_size": 32},
}


def full_config(task: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A complete flat config, as the engine writes config.json (every key)."""
    values = {**TASK_CONFIGS[task], **(overrides or {})}
    return TrialConfig.from_dict(values).to_flat()


def _npz(path: Path, **arrays: Any) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # as facebench.engine.artefacts writes them
    atomic_write_bytes(path, buf.getvalue())


def verification_arrays(rng: np.random.Generator, *, quality: float, n_pairs: int = 600,
                        folds: int = 10) -> dict[str, np.ndarray]:
    """Cosine-like scores with same-pair mean ``quality``; per-fold threshold chosen on the other folds."""
    same = np.tile(np.repeat([True, False], n_pairs // (2 * folds)), folds)
    fold = np.repeat(np.arange(folds), n_pairs // folds)
    scores = np.where(same, rng.normal(quality, 0.15, same.size), rng.normal(0.0, 0.15, same.size))
    thresholds, acc = np.zeros(folds), np.zeros(folds)
    for k in range(folds):
        train = fold != k
        cands = np.unique(scores[train])
        accs = [((scores[train] > t) == same[train]).mean() for t in cands[:: max(1, cands.size // 50)]]
        thresholds[k] = cands[:: max(1, cands.size // 50)][int(np.argmax(accs))]
        acc[k] = ((scores[~train] > thresholds[k]) == same[~train]).mean()
    return dict(scores=scores, same=same, fold=fold, thresholds=thresholds, fold_accuracy=acc,
                fold_ids=np.arange(folds), metric=np.array("cosine"), greater_is_same=np.array(True))


def make_trial(trial_dir: Path, *, task: str = "face", trial_id: str | None = None, seed: int = 0,
               status: str = "completed", epochs: int = 3, quality: float = 0.5, name: str | None = None,
               overrides: dict[str, Any] | None = None, artefacts: bool = True, n_pairs: int = 600,
               nan_metrics: bool = False, reason: str = "") -> Path:
    """Write one trial directory; ``status='stopped-no-result'`` leaves result.json out (a killed trial)."""
    trial_dir = Path(trial_dir)
    trial_id = trial_id or trial_dir.name
    rng = np.random.default_rng(zlib.crc32(f"{trial_id}:{seed}".encode()))
    cfg = full_config(task, {"name": name if name is not None else trial_id, "train.seed": seed,
                             "train.epochs": epochs, **(overrides or {})})
    meta = {"trial_id": trial_id, "name": cfg["name"], "seed": seed, "device": "cpu", "host": "testhost",
            "started_at": "2025-01-01T00:00:00Z",
            "versions": {"python": "3.12.0", "torch": "2.14.1", "facebench": "0.1.0", "git": "abc1234"}}
    atomic_write_json(trial_dir / "config.json", cfg)
    atomic_write_json(trial_dir / "meta.json", meta)
    lines = [dumps_json(_epoch(task, e, epochs, quality, cfg, rng), sort_keys=True) for e in range(1, epochs + 1)]
    (trial_dir / "epochs.jsonl").write_text("".join(line + "\n" for line in lines))
    folds = None
    if artefacts and status == "completed":
        folds = _artefacts(trial_dir / "artefacts", task, quality, rng, n_pairs=n_pairs, cfg=cfg)
    if status != "stopped-no-result":
        metrics = _final_metrics(task, quality, nan=nan_metrics, folds=folds) if status != "failed" else {}
        atomic_write_json(trial_dir / "result.json", {"status": status, "reason": reason, "metrics": metrics,
                                                      "config": cfg, "meta": meta, "wall_s": 10.0 + 5 * quality})
    return trial_dir


def _epoch(task: str, e: int, epochs: int, quality: float, cfg: dict, rng: np.random.Generator) -> dict:
    frac = e / epochs
    row = {"epoch": e, "lr": cfg["optim.lr"] * 0.5 * (1 + math.cos(math.pi * frac)), "images_per_s": 900.0,
           "epoch_s": 2.0, "peak_mem_mb": 300.0, "val_accuracy": 0.5 + (quality * 0.8) * frac * 0.5,
           "val_auc": 0.5 + quality * 0.4 * frac}
    if task == "autoencoder":
        beta = cfg["loss.beta"] or 1.0
        row.update(train_recon=200.0 / (1 + 2 * frac) + rng.normal(0, 1), train_kld=5.0 + 20 * frac / beta,
                   train_beta=beta)
        row["train_loss"] = row["train_recon"] + beta * row["train_kld"]
    else:
        row.update(train_loss=3.0 * (1 - 0.6 * frac) + rng.normal(0, 0.02), train_accuracy=0.3 + 0.6 * frac)
    return row


def _final_metrics(task: str, quality: float, *, nan: bool, folds: np.ndarray | None) -> dict:
    acc = float(folds.mean()) if folds is not None else 0.5 + 0.45 * min(quality, 1.0)
    out = {"best_val_accuracy": acc - 0.01, "params": 1.1e7, "flops": 5e8 * (1 + quality), "train_s": 20 + 10 * quality}
    if task == "cifar":
        out.update(test_accuracy=acc, test_macro_precision=acc, test_macro_recall=acc, test_macro_f1=acc,
                   test_auroc=0.9, test_auprc=0.8)
    else:
        std = float(folds.std()) if folds is not None else 0.02
        out.update({"test_accuracy_mean": acc, "test_accuracy_std": std, "test_accuracy_sem": std / 3,
                    "test_auc": 0.5 + quality * 0.45, "test_eer": 0.5 - quality * 0.4, "test_tar_far_1e-1": 0.7,
                    "test_tar_far_1e-2": 0.4, "test_tar_far_1e-3": 0.2, "test_intersection_accuracy_mean": acc - 0.005})
    if nan:
        out[next(k for k in out if k.startswith("test_accuracy"))] = float("nan")
    return out


def _artefacts(art: Path, task: str, quality: float, rng: np.random.Generator, *, n_pairs: int,
               cfg: dict) -> np.ndarray | None:
    """Write the task's artefacts; return the test fold accuracies (verification tasks)."""
    if task == "cifar":
        k = len(CIFAR_CLASSES)
        conf = rng.integers(0, 20, (k, k)) + np.eye(k, dtype=np.int64) * int(800 * quality)
        atomic_write_json(art / "classification.json", {
            "confusion_matrix": conf.tolist(), "class_names": list(CIFAR_CLASSES),
            "accuracy": float(np.trace(conf) / conf.sum())})
        return None
    arrays = verification_arrays(rng, quality=quality, n_pairs=n_pairs)
    _npz(art / "verification.npz", **arrays)
    # As the engine writes it (VerificationResult.to_json): the intersection thresholds live only here.
    inter = [{"fold": int(k), "threshold": float(t) + 0.01, "accuracy": float(a) - 0.005, "method": "kde"}
             for k, t, a in zip(arrays["fold_ids"], arrays["thresholds"], arrays["fold_accuracy"])]
    atomic_write_json(art / "verification.json", {"accuracy_mean": float(arrays["fold_accuracy"].mean()),
                                                  "intersection": {"folds": inter[::-1]}})
    _npz(art / "val_verification.npz", **verification_arrays(rng, quality=quality * 0.9, n_pairs=200))
    if task == "autoencoder":
        dims = cfg["model.embedding_size"] or 128
        mu_variance = np.sort(rng.exponential(0.3 / (cfg["loss.beta"] or 1.0), dims))[::-1]
        _npz(art / "latents.npz", threshold=np.array(0.01), mu_variance=mu_variance)
        _recon_png(art / "recon.png", rng)
    return arrays["fold_accuracy"]


def _recon_png(path: Path, rng: np.random.Generator) -> None:
    from PIL import Image

    grid = (rng.random((64, 128, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def make_sweep(root: Path, name: str, trials: list[dict], *, study: bool = False) -> Path:
    """A sweep dir with one trial per dict of ``make_trial`` keywords; ``study`` adds a real Optuna SQLite study."""
    sweep = Path(root) / name
    task = trials[0].get("task", "face") if trials else "face"
    atomic_write_json(sweep / "sweep.json", {"name": name, "task": task, "metric": "val_accuracy", "mode": "max",
                                             "space": {"optim.lr": "loguniform(1e-4, 1e-2)"}, "num_samples": len(trials)})
    (sweep / "trials").mkdir(parents=True, exist_ok=True)
    for i, kw in enumerate(trials):
        kw = dict(kw)
        tid = kw.pop("trial_id", f"t{i:04d}")
        make_trial(sweep / "trials" / tid, trial_id=tid, **kw)
    if study:
        make_study(sweep / "study.db", name, n=8)
    return sweep


def make_study(path: Path, name: str, *, n: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.create_study(study_name=name, storage=f"sqlite:///{path}", direction="maximize")
    dists = {"optim.lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
             "loss.margin": optuna.distributions.FloatDistribution(0.1, 0.6)}
    rng = np.random.default_rng(0)
    for _ in range(n):
        lr, m = float(10 ** rng.uniform(-4, -2)), float(rng.uniform(0.1, 0.6))
        st.add_trial(optuna.trial.create_trial(params={"optim.lr": lr, "loss.margin": m}, distributions=dists,
                                               value=0.6 + 0.3 * m - 0.1 * abs(math.log10(lr) + 3)))
