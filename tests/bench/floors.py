"""Verification floors on real LFW: what a trained model must beat.

Raw pixels (Euclidean, cosine) on all 6,000 View-2 pairs with the 10-fold protocol, and eigenfaces (PCA)
under two protocols:

* strict: for each test fold k, PCA is fitted on the images of the pairs of the other nine folds (their
  people only, since LFW puts each person in one fold), then fold k is scored with it; thresholds are
  fitted on the other folds' scores under that same PCA. Pooled AUC uses each pair scored by the PCA
  that did not see its fold.
* engine: PCA fitted on the images of folds 0-4, evaluated on the pairs of folds 5-9 (5-fold protocol),
  the split ``data.train_folds=0-4`` gives a trained model.

PCA is sklearn's with the exact SVD (``svd_solver="full"``), the same decomposition ``eval.whiten`` uses.

Images come through the decoded-tensor cache (``facebench.data.cache.cached_images``), 64x64 RGB by
default, scaled to [0, 1].

    .venv/bin/python tests/bench/floors.py [--root ../shared/data/lfw] [--size 64] [--crop 1.0] [--components 128]
        [--protocols strict,engine] [--json FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from facebench.data.cache import cached_images
from facebench.data.images import Decoding
from facebench.data.pairs import read_pairs
from facebench.eval.verification import evaluate, pair_scores

VARIANTS = (("euclidean", False), ("cosine", False))


def load(root: Path, size: int, crop: float):
    pairs = read_pairs(root / "pairs.txt")
    names = pairs.names
    t0 = time.perf_counter()
    images = cached_images(root / "lfw-deepfunneled", names, Decoding(size=size, crop=crop, color="rgb", progress=True))
    print(f"{len(names)} images {images.shape[1:]} in {time.perf_counter() - t0:.1f} s (cache)", file=sys.stderr)
    row = {n: i for i, n in enumerate(names)}
    a = np.array([row[n] for n in pairs.a])
    b = np.array([row[n] for n in pairs.b])
    x = np.asarray(images, dtype=np.float32).reshape(len(names), -1) / 255.0
    return x, a, b, pairs.same, pairs.fold


def fit_pca(x: np.ndarray, rows: np.ndarray, components: int, whiten: bool):
    from sklearn.decomposition import PCA

    # The exact SVD (LAPACK), as facebench.eval.whiten fits a trained model's embeddings: a randomized solver's
    # approximation of the top components moves the floor with its random state.
    return PCA(n_components=components, whiten=whiten, svd_solver="full").fit(x[rows])


def raw_floors(x, a, b, same, fold) -> dict:
    out = {}
    for metric, _ in VARIANTS:
        s, g = pair_scores(x, a, b, metric=metric)
        r = evaluate(s, same, fold, greater_is_same=g)
        out[f"raw_{metric}"] = r
    return out


def strict_pca(x, a, b, same, fold, components: int, whiten: bool) -> dict:
    """Per-fold refit; returns per variant (fold accuracies, pooled AUC, EER of the composite scores)."""
    K = len(np.unique(fold))
    acc = {m: np.empty(K) for m, _ in VARIANTS}
    composite = {m: np.empty(len(same)) for m, _ in VARIANTS}
    for k in range(K):
        train_rows = np.unique(np.concatenate([a[fold != k], b[fold != k]]))
        z = fit_pca(x, train_rows, components, whiten).transform(x)
        for metric, _ in VARIANTS:
            s, g = pair_scores(z, a, b, metric=metric)
            acc[metric][k] = evaluate(s, same, fold, greater_is_same=g).fold_accuracy[k]
            composite[metric][fold == k] = s[fold == k]
    out = {}
    for metric, _ in VARIANTS:
        pooled = evaluate(composite[metric], same, fold, greater_is_same=metric == "cosine")
        out[metric] = {
            "accuracy_mean": float(acc[metric].mean()),
            "accuracy_std": float(acc[metric].std()),
            "fold_accuracy": acc[metric].tolist(),
            "auc": pooled.auc,
            "eer": pooled.eer,
        }
    return out


def engine_pca(x, a, b, same, fold, components: int, whiten: bool) -> dict:
    train = fold <= 4
    rows = np.unique(np.concatenate([a[train], b[train]]))
    z = fit_pca(x, rows, components, whiten).transform(x)
    out = {}
    for metric, _ in VARIANTS:
        s, g = pair_scores(z, a[~train], b[~train], metric=metric)
        r = evaluate(s, same[~train], fold[~train], greater_is_same=g)
        out[metric] = {"accuracy_mean": r.accuracy_mean, "accuracy_std": r.accuracy_std, "auc": r.auc, "eer": r.eer}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lfw")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--crop", type=float, default=1.0)
    ap.add_argument("--components", type=int, default=128)
    ap.add_argument("--json", type=Path, help="also write every number here")
    ap.add_argument(
        "--protocols",
        default="strict,engine",
        help="PCA protocols to run, comma-separated (strict refits 10 times: minutes at 64 px with the exact SVD)",
    )
    args = ap.parse_args()
    x, a, b, same, fold = load(args.root, args.size, args.crop)
    report: dict = {"size": args.size, "crop": args.crop, "components": args.components}
    print(f"LFW View 2, 6,000 pairs, {args.size}x{args.size} RGB, crop {args.crop}")
    print(f"{'method':<40} {'accuracy':>16} {'AUC':>7} {'EER':>7}")
    for name, r in raw_floors(x, a, b, same, fold).items():
        report[name] = r.to_json()
        print(f"{name + ' (10 folds)':<40} {r.accuracy_mean:.4f} ± {r.accuracy_std:.4f} {r.auc:7.4f} {r.eer:7.4f}")
    for whiten in (False, True):
        tag = f"pca{args.components}{'_white' if whiten else ''}"
        t0 = time.perf_counter()
        for protocol, fn, desc in (
            ("strict", strict_pca, "per-fold refit, 10 folds"),
            ("engine", engine_pca, "fit folds 0-4, test 5-9"),
        ):
            if protocol not in args.protocols.split(","):
                continue
            res = fn(x, a, b, same, fold, args.components, whiten)
            report[f"{tag}_{protocol}"] = res
            for metric, r in res.items():
                label = f"{tag} {metric} ({desc})"
                print(f"{label:<40} {r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f} {r['auc']:7.4f} {r['eer']:7.4f}")
        print(f"  ({tag}: {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    if args.json:
        from facebench.io import atomic_write_json

        atomic_write_json(args.json, report)


if __name__ == "__main__":
    main()
