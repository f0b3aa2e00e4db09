"""Benchmark: facebench's exact k-fold verification against an InsightFace-style threshold grid.

6,000 pairs of 512-d embeddings in 10 folds (LFW's shape). The baseline is written here the way
insightface's ``verification.py`` does it: ``thresholds = np.arange(0, 4, 0.01)`` on squared distances, a
loop per fold calling a per-threshold accuracy for the training folds and again for the ROC of the test fold.
Both run in this process on the same data; the script prints both times and the speedup (target >= 50x),
then the grid's answer on unnormalised embeddings (distances > 4) beside this method's.

    .venv/bin/python tests/bench/bench_verification.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from facebench.eval.verification import best_cut, evaluate, pair_scores, roc_curve_auc


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
                threshold, dist[test_set], actual_issame[test_set])
        _, _, accuracy[fold_idx] = insightface_accuracy(thresholds[best], dist[test_set], actual_issame[test_set])
    return accuracy


def like_for_like(emb, a, b, same, fold):
    """What the grid method computes: distances, per-fold thresholds, held-out accuracies and a ROC."""
    d, _ = pair_scores(emb, a, b, metric="sqeuclidean")
    return search(-d, same, fold)


def search(u, same, fold):
    """Exact per-fold thresholds, held-out accuracies and the pooled ROC, from precomputed scores."""
    roc_curve_auc(u, same)
    order = np.argsort(u, kind="stable")
    us, ys, fs = u[order], same[order], fold[order]
    acc = np.empty(10)
    for k in range(10):
        t, _ = best_cut(us[fs != k], ys[fs != k])
        acc[k] = np.mean((u[fold == k] > t) == same[fold == k])
    return acc


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


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    emb, a, b, same, fold = make_data()

    t_grid, acc_grid = best_time(lambda: insightface_roc(emb[a], emb[b], same), max(1, args.repeats // 2))
    t_core, acc_core = best_time(lambda: like_for_like(emb, a, b, same, fold), args.repeats)

    def full():
        d, g = pair_scores(emb, a, b, metric="sqeuclidean")
        return evaluate(d, same, fold, greater_is_same=g)

    t_full, result = best_time(full, args.repeats)
    d_f64, _ = pair_scores(emb, a, b, metric="sqeuclidean")
    t_search, _ = best_time(lambda: search(-d_f64, same, fold), args.repeats)
    t_if_dist, _ = best_time(lambda: np.sum(np.square(np.subtract(emb[a], emb[b])), 1), args.repeats)
    t_scores, _ = best_time(lambda: pair_scores(emb, a, b, metric="sqeuclidean"), args.repeats)
    print("6,000 pairs, 512-d, 10 folds (best of repeats)")
    print(f"  insightface grid (400 thresholds, accuracy + ROC per fold): {t_grid * 1e3:8.1f} ms  "
          f"accuracy {acc_grid.mean():.4f}")
    print(f"  facebench distances, thresholds, accuracies, ROC (exact):    {t_core * 1e3:8.1f} ms  "
          f"accuracy {acc_core.mean():.4f}  speedup {t_grid / t_core:6.1f}x")
    print(f"  facebench full: pair_scores + evaluate() (+ KDE intersection, fold ROC, EER, TAR@FAR): "
          f"{t_full * 1e3:.1f} ms  speedup {t_grid / t_full:.1f}x")
    print(f"  scoring alone: facebench float64 {t_scores * 1e3:.1f} ms, insightface float32 {t_if_dist * 1e3:.1f} ms")
    print(f"  threshold search + accuracies + ROC alone: grid {(t_grid - t_if_dist) * 1e3:.1f} ms, "
          f"facebench {t_search * 1e3:.2f} ms, speedup {(t_grid - t_if_dist) / t_search:.0f}x")

    scaled = emb * 10  # unnormalised, as AE/VAE latents are: squared distances far above 4
    acc_grid_scaled = insightface_roc(scaled[a], scaled[b], same)
    d, g = pair_scores(scaled, a, b, metric="sqeuclidean")
    r = evaluate(d, same, fold, greater_is_same=g)
    print("embeddings x10 (squared distances "
          f"{np.percentile(d, 1):.0f}..{np.percentile(d, 99):.0f}):")
    print(f"  insightface grid accuracy {acc_grid_scaled.mean():.4f}   facebench accuracy {r.accuracy_mean:.4f}")


if __name__ == "__main__":
    main()
