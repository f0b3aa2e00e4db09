"""Parity and time of an exported trial: `python tests/bench/bench_deploy.py RUN_DIR MODEL.onnx LFW_DIR --folds 5-9`.

Embeds the set's images with the trial's torch model (facebench.engine.use.embed) and with onnxruntime on the
exported file (facebench.deploy.evaluate.onnx_embed), then prints the max abs difference of the L2-normalised
embeddings, both accuracies on the same pairs, and each embedding step's time (median of 3).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from facebench.data.images import Decoding
    from facebench.data.pairs import parse_folds
    from facebench.data.sets import available_folds, load_set
    from facebench.deploy.evaluate import onnx_embed, resolve_convention
    from facebench.deploy.onnxfile import read_model, session
    from facebench.engine.use import embed, load_trained
    from facebench.eval.verification import evaluate, pair_scores

    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir"), ap.add_argument("model"), ap.add_argument("lfw")
    ap.add_argument("--folds", default="5-9")
    args = ap.parse_args()
    t, m = load_trained(args.run_dir), read_model(args.model)
    conv, sess = resolve_convention(m), session(m)
    d = t.cfg.data
    vs = load_set(
        args.lfw,
        Decoding(size=d.image_size, crop=d.crop, color=d.color),
        folds=parse_folds(args.folds, available_folds(args.lfw), key="--folds"),
    )
    timed = {}
    for name, fn in (
        ("torch", lambda: embed(t, vs.images)),
        ("onnxruntime", lambda: onnx_embed(sess, m, conv, vs.images)),
    ):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            emb = fn()
            times.append(time.perf_counter() - start)
        timed[name] = (emb, float(np.median(times)))
    unit = lambda e: e / np.linalg.norm(e, axis=1, keepdims=True)
    diff = np.abs(unit(timed["torch"][0].astype(np.float64)) - unit(timed["onnxruntime"][0].astype(np.float64))).max()
    print(
        f"{len(vs.images):,} images, {len(vs.pairs.same):,} pairs; max abs diff of L2-normalised embeddings {diff:.2e}"
    )
    for name, (emb, sec) in timed.items():
        s, g = pair_scores(emb, vs.pairs.a, vs.pairs.b, metric=conv.metric, normalize=conv.l2_normalize)
        r = evaluate(s, vs.pairs.same, vs.pairs.fold, greater_is_same=g)
        print(f"{name:<12} accuracy {r.accuracy_mean:.4f} ± {r.accuracy_std:.4f}  embedding {sec:.2f} s")


if __name__ == "__main__":
    main()
