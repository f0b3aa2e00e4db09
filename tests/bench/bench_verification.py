"""Benchmark: facebench's exact k-fold verification against an InsightFace-style threshold grid.

6,000 pairs of 512-d embeddings in 10 folds (LFW's shape). The baseline is written here the way
insightface's ``verification.py`` does it: ``thresholds = np.arange(0, 4, 0.01)`` on squared distances, a
loop per fold calling a per-threshold accuracy for the training folds and again for the ROC of the test fold.
Both run in this process on the same data, interleaved (one run of each per round, so both see the same load);
the script prints both median times, the like-for-like speedup, the target (>= 50x) and PASS/FAIL, the parts
alone, then the grid's answer on unnormalised embeddings (distances > 4) beside this method's.

    .venv/bin/python tests/bench/bench_verification.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from facebench.eval.curves import roc_curve_auc
from facebench.eval.verification import evaluate, fold_best_cuts, pair_scores


def insightface_accuracy(threshold, dist, actual_issame):
    predict_issame = np.less(dist, threshold)
    tp = np.sum(np.logical_and(predict_issame, actual_issame))
    fp = np.sum(np.logical_and(predict_issame, np.logical_not(actual_issame)))
    tn = np.sum(np.logical_and(np.logical_not(predict_issame), np.logical_not(actual_issame)))
    fn = np.sum(np.logical_and(np.logical_not(predict_issame), actual_issame))
    tpr = 0 if (tp + fn == 0) else float(tp) / float(tp + fn)
    fpr = 0 if (fp + tn == 0) else float(fp) / float(fp + tn)
    return tpr, fpr, float(tp + tn) / dist.size


def insightface_roc(emb1, emb2, actual_issame, nrof_folds=10):
    """insightface's calculate_roc: contiguous folds (KFold without shuffle), a fixed threshold grid."""
    thresholds = np.arange(0, 4, 0.01)
    nrof_pairs = len(actual_issame)
    diff = np.subtract(emb1, emb2)
    dist = np.sum(np.square(diff), 1)
    folds = np.array_split(np.arange(nrof_pairs), nrof_folds)
    accuracy = np.zeros(nrof_folds)
    tprs = np.zeros((nrof_folds, len(thresholds)))
    fprs = np.zeros((nrof_folds, len(thresholds)))
    for fold_idx, test_set in enumerate(folds):
        train_set = np.setdiff1d(np.arange(nrof_pairs), test_set)
        acc_train = np.zeros(len(thresholds))
        for threshold_idx, threshold in enumerate(thresholds):
            _, _, acc_train[threshold_idx] = insightface_accuracy(threshold, dist[train_set], actual_issame[train_set])
        best = np.argmax(acc_train)
        for threshold_idx, threshold in enumerate(thresholds):
            tprs[fold_idx, threshold_idx], fprs[fold_idx, threshold_idx], _ = insightface_accuracy(
                threshold, dist[test_set], actual_issame[test_set]
            )
        _, _, accuracy[fold_idx] = insightface_accuracy(thresholds[best], dist[test_set], actual_issame[test_set])
    return accuracy


def like_for_like(emb, a, b, same, fold):
    """What the grid method computes: distances, per-fold thresholds, held-out accuracies and a ROC."""
    d, _ = pair_scores(emb, a, b, metric="sqeuclidean")
    return search(-d, same, fold)


def search(u, same, fold):
    """Exact per-fold thresholds, held-out accuracies and the pooled ROC, from precomputed scores.

    The same calls ``evaluate`` makes for these three things: one sort, shared by the threshold search of every
    fold and the ROC.
    """
    order = np.argsort(u)
    roc_curve_auc(u, same, order=order)
    t, _, _ = fold_best_cuts(u[order], same[order], fold[order], 10)
    correct = (u > t[fold]) == same
    return np.bincount(fold, weights=correct, minlength=10) / np.bincount(fold, minlength=10)


def make_data(seed=0, n_people=1500, dim=512, pairs=6000):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_people, dim))
    a_person = rng.integers(0, n_people, pairs)
    same = np.tile(np.repeat([True, False], 300), pairs // 600)
    b_person = np.where(same, a_person, (a_person + rng.integers(1, n_people, pairs)) % n_people)
    # Identity signal 0.4 against unit noise: about 90% accuracy, like a weak face model.
    emb = 0.4 * np.concatenate([centers[a_person], centers[b_person]]) + rng.normal(size=(2 * pairs, dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return emb.astype(np.float32), np.arange(pairs), np.arange(pairs, 2 * pairs), same, np.repeat(np.arange(10), 600)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


TARGET = 50.0  # like-for-like speedup the project asks for


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    emb, a, b, same, fold = make_data()
    n = len(a)
    # insightface slices its embeddings (embeddings[0::2], embeddings[1::2]): views, no gather. Here the pairs
    # are rows 0..n-1 against n..2n-1, so the equivalent views are emb[:n] and emb[n:].
    assert np.array_equal(a, np.arange(n)) and np.array_equal(b, np.arange(n, 2 * n))
    emb1, emb2 = emb[:n], emb[n:]

    grid_times, core_times = [], []
    for _ in range(args.repeats):  # interleaved rounds: a burst of load from elsewhere hits both sides
        t0 = time.perf_counter()
        acc_grid = insightface_roc(emb1, emb2, same)
        t1 = time.perf_counter()
        acc_core = like_for_like(emb, a, b, same, fold)
        grid_times.append(t1 - t0)
        core_times.append(time.perf_counter() - t1)
    t_grid, t_core = float(np.median(grid_times)), float(np.median(core_times))

    def full():
        d, g = pair_scores(emb, a, b, metric="sqeuclidean")
        return evaluate(d, same, fold, greater_is_same=g)

    t_full, result = median_time(full, args.repeats)
    d_sc, _ = pair_scores(emb, a, b, metric="sqeuclidean")
    t_search, _ = median_time(lambda: search(-d_sc, same, fold), args.repeats)
    t_if_dist, _ = median_time(lambda: np.sum(np.square(np.subtract(emb1, emb2)), 1), args.repeats)
    t_scores, _ = median_time(lambda: pair_scores(emb, a, b, metric="sqeuclidean"), args.repeats)
    speedup = t_grid / t_core
    print(f"6,000 pairs, 512-d, 10 folds (median of {args.repeats} interleaved runs)")
    print(
        f"  insightface grid (400 thresholds, accuracy + ROC per fold): {t_grid * 1e3:8.1f} ms  "
        f"accuracy {acc_grid.mean():.4f}"
    )
    print(
        f"  facebench distances, thresholds, accuracies, ROC (exact):    {t_core * 1e3:8.1f} ms  "
        f"accuracy {acc_core.mean():.4f}  speedup {speedup:6.1f}x"
    )
    print(f"  like-for-like target >= {TARGET:.0f}x: {'PASS' if speedup >= TARGET else 'FAIL'}")
    print(
        f"  facebench full: pair_scores + evaluate() (+ KDE intersection, fold ROC, EER, TAR@FAR): "
        f"{t_full * 1e3:.1f} ms  speedup {t_grid / t_full:.1f}x"
    )
    print(
        f"  scoring alone: facebench (gather by index, float32) {t_scores * 1e3:.1f} ms, "
        f"insightface (float32, slices) {t_if_dist * 1e3:.1f} ms"
    )
    print(
        f"  threshold search + accuracies + ROC alone: grid {(t_grid - t_if_dist) * 1e3:.1f} ms, "
        f"facebench {t_search * 1e3:.2f} ms, speedup {(t_grid - t_if_dist) / t_search:.0f}x"
    )

    scaled = emb * 10  # unnormalised, as AE/VAE latents are: squared distances far above 4
    acc_grid_scaled = insightface_roc(scaled[a], scaled[b], same)
    d, g = pair_scores(scaled, a, b, metric="sqeuclidean")
    r = evaluate(d, same, fold, greater_is_same=g)
    print(f"embeddings x10 (squared distances {np.percentile(d, 1):.0f}..{np.percentile(d, 99):.0f}):")
    print(f"  insightface grid accuracy {acc_grid_scaled.mean():.4f}   facebench accuracy {r.accuracy_mean:.4f}")


if __name__ == "__main__":
    main()
