"""Raw-pixel verification floor on a trial's own test pairs, through the same facebench.eval code.

The embedding of an image is its network input (``to_input``, flattened); the pairs, folds and
thresholds are exactly those ``facebench train`` uses for the same ``--set`` options, so a trained
model's ``test_accuracy_mean`` can be read against this number.

    .venv/bin/python tests/bench/raw_pixel_floor.py --set data.train=lfw_people --set data.root=../shared/data/lfw \
        --set data.image_size=64
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()

    from facebench.config import TrialConfig
    from facebench.data import build_task_data
    from facebench.data.transforms import to_input
    from facebench.eval.verification import evaluate, pair_scores

    cfg = TrialConfig.from_dict({"task": "face", "loss.name": "arcface"}).with_overrides(args.overrides)
    data = build_task_data(cfg)
    pixels = to_input(torch.from_numpy(np.array(data.test.images))).flatten(1).numpy()
    pairs = data.test_pairs
    print(f"{len(pairs)} test pairs, {len(data.test)} images at {cfg.data.image_size}px ({cfg.data.color})")
    for metric in ("cosine", "euclidean"):
        scores, greater = pair_scores(pixels, pairs.a, pairs.b, metric=metric)
        r = evaluate(scores, pairs.same, pairs.fold, greater_is_same=greater)
        print(f"raw pixels, {metric:<9}: accuracy {r.accuracy_mean:.4f} +- {r.accuracy_std:.4f}, AUC {r.auc:.4f}")


if __name__ == "__main__":
    main()
