"""Engine training-step throughput against a bare hand-written torch loop, measured in the same run.

Both loops train the same model (same config, same initial weights), on the same uint8 batches, with
the same batch size, optimizer and loss head; the bare loop has no scheduler, no augmentation, no
per-step read-back and no bookkeeping. Rounds alternate engine / bare so a neighbour's load hits
both alike; the medians are compared. Besides wall-clock images/s it prints images per CPU-second of
this process (``time.process_time``, all threads), which a busy shared machine disturbs far less.
Target: engine overhead <= 5 %.

    .venv/bin/python tests/bench/bench_engine.py [--steps 30] [--rounds 5] [--size 32] [--width 0.25]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch


def timed(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``fn()``."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def bare_loop(
    model, head, optimizer, images: np.ndarray, labels: np.ndarray, order: np.ndarray, *, batch_size: int, steps: int
) -> None:
    from facebench.data.transforms import to_input

    model.train()
    head.train()
    for step in range(steps):
        rows = order[step * batch_size : (step + 1) * batch_size]
        x = to_input(torch.from_numpy(images[rows]))
        y = torch.from_numpy(labels[rows])
        loss = head(model(x), y)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


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
    from facebench.engine.build import build_optimizer
    from facebench.engine.loop import build_training, train_one_epoch

    n = args.steps * args.batch_size
    cfg = TrialConfig.from_dict(
        {
            "task": "face",
            "model.backbone": args.backbone,
            "model.width": args.width,
            "loss.name": "arcface",
            "data.image_size": args.size,
            "data.synthetic_identities": max(8, n // 8),
            "data.synthetic_images": 8,
            "data.val_fraction": 0.05,
            "data.val_pairs": 20,
            "train.batch_size": args.batch_size,
            "train.max_steps": args.steps,
            "train.augment": "none",
            "train.device": "cpu",
        }
    )
    torch.manual_seed(0)
    task, batches, stepper = build_training(cfg)
    steps = batches.steps
    model, head = copy.deepcopy(task.model), copy.deepcopy(task.loss_fn)
    optimizer = build_optimizer(cfg, [model, head])
    train = task.data.train
    images, labels = np.ascontiguousarray(train.images), train.labels
    images_done = steps * args.batch_size
    rounds: dict[str, list[tuple[float, float]]] = {"engine": [], "bare": []}
    for r in range(args.rounds + 1):  # round 0 warms both up and is not counted
        order = np.random.default_rng([0, r]).permutation(len(images))
        run_engine = lambda: timed(lambda: train_one_epoch(task, batches, stepper, r))  # noqa: E731
        run_bare = lambda: timed(
            lambda: bare_loop(
                model,
                head,
                optimizer,
                images,
                labels,
                order,  # noqa: E731
                batch_size=args.batch_size,
                steps=steps,
            )
        )
        if r % 2:  # alternate which goes first, so neither always inherits the other's warm caches
            e, b = run_engine(), run_bare()
        else:
            b, e = run_bare(), run_engine()
        if r:
            rounds["engine"].append(e)
            rounds["bare"].append(b)
    print(
        f"{args.backbone} width {args.width} at {args.size}px, batch {args.batch_size}, {steps} steps x "
        f"{args.rounds} rounds, {torch.get_num_threads()} threads"
    )
    med = {}
    for name, rs in rounds.items():
        med[name] = [statistics.median(images_done / t[i] for t in rs) for i in (0, 1)]
        print(
            f"{name:<6}: {med[name][0]:8.1f} images/s wall ({', '.join(f'{images_done / t[0]:.0f}' for t in rs)}), "
            f"{med[name][1]:8.1f} images/CPU-s"
        )
    for i, what in ((0, "wall"), (1, "CPU")):
        ratio = med["engine"][i] / med["bare"][i]
        print(f"engine / bare ({what:<4}): {ratio:.3f}  (overhead {100 * (1 - ratio):+.1f} %, target <= 5 %)")


if __name__ == "__main__":
    main()
