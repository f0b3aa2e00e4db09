"""Engine training-step throughput against a bare hand-written torch loop, measured in the same run.

Both loops train the same model (same config, same initial weights), on the same uint8 batches, with
the same batch size, optimizer and loss head; the bare loop has no scheduler, no augmentation, no
per-step read-back and no bookkeeping. Rounds alternate engine / bare so a neighbour's load hits
both alike; the medians are compared. Target: engine overhead <= 5 %.

    .venv/bin/python tests/bench/bench_engine.py [--steps 30] [--rounds 5] [--size 32] [--width 0.25]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch


def bare_loop(model, head, optimizer, images: np.ndarray, labels: np.ndarray, order: np.ndarray, *,
              batch_size: int, steps: int) -> float:
    from facebench.data.transforms import to_input

    model.train()
    head.train()
    t0 = time.perf_counter()
    for step in range(steps):
        rows = order[step * batch_size:(step + 1) * batch_size]
        x = to_input(torch.from_numpy(images[rows]))
        y = torch.from_numpy(labels[rows])
        loss = head(model(x), y)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--backbone", default="resnet18")
    args = ap.parse_args()

    from facebench.config import TrialConfig
    from facebench.engine.loop import build_setup, train_one_epoch
    from facebench.engine.optim import build_optimizer

    n = args.steps * args.batch_size
    cfg = TrialConfig.from_dict({
        "task": "face", "model.backbone": args.backbone, "model.width": args.width, "loss.name": "arcface",
        "data.image_size": args.size, "data.synthetic_identities": max(8, n // 8), "data.synthetic_images": 8,
        "data.val_fraction": 0.05, "data.val_pairs": 20, "train.batch_size": args.batch_size,
        "train.max_steps": args.steps, "train.augment": "none", "train.device": "cpu"})
    torch.manual_seed(0)
    s = build_setup(cfg)
    steps = s.steps_per_epoch
    model, head = copy.deepcopy(s.model), copy.deepcopy(s.loss_fn)
    optimizer = build_optimizer(cfg, [model, head])
    train = s.data.train
    images, labels = np.ascontiguousarray(train.images), train.labels
    engine, bare = [], []
    for r in range(args.rounds + 1):  # round 0 warms both up and is not counted
        t0 = time.perf_counter()
        train_one_epoch(s, r)
        e = steps * args.batch_size / (time.perf_counter() - t0)
        order = np.random.default_rng([0, r]).permutation(len(images))
        b = bare_loop(model, head, optimizer, images, labels, order, batch_size=args.batch_size, steps=steps)
        if r:
            engine.append(e)
            bare.append(b)
    e, b = statistics.median(engine), statistics.median(bare)
    print(f"{args.backbone} width {args.width} at {args.size}px, batch {args.batch_size}, {steps} steps x "
          f"{args.rounds} rounds, {torch.get_num_threads()} threads")
    print(f"bare torch loop : {b:8.1f} images/s (median; rounds {', '.join(f'{v:.0f}' for v in bare)})")
    print(f"engine          : {e:8.1f} images/s (median; rounds {', '.join(f'{v:.0f}' for v in engine)})")
    print(f"engine / bare   : {e / b:.3f}  (overhead {100 * (1 - e / b):+.1f} %, target <= 5 %)")


if __name__ == "__main__":
    main()
