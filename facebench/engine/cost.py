"""The cost a two-objective sweep minimises beside its accuracy (facebench.pareto.COSTS), measured once per trial.

It is measured before the first epoch, on the trial's own model, and carried in every epoch's row as ``cost``: Tune
and Optuna need both objectives from the first report, and a trial's cost does not change while it trains (the model
chosen on validation has the same architecture, so the same parameters, FLOPs and forward time). The same number
lands in ``result.json`` (``metrics.cost`` and ``cost``: its name and, for latency, how it was timed).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from ..pareto import COST_KEY, check_cost

WARMUP = 5  # untimed passes first: allocator, caches and lazy kernel selection settle
TIMED = 30  # the median of this many timed passes is the latency


def measure_cost(name: str, cfg: Any, task: Any, device: torch.device) -> dict[str, Any]:
    """``{"cost": value, "cost_info": {...}}`` for cost ``name`` of this trial's model."""
    check_cost(name)
    if name == "params":  # as result.json's "params": the embedding model without the training head
        value: float = float(sum(p.numel() for p in task.model.parameters()))
        info: dict[str, Any] = {}
    elif name == "flops":  # as result.json's "flops" and `facebench list --complexity`
        from .build import complexity

        value = float(complexity(cfg, num_classes=task.data.num_classes)["flops"])
        info = {}
    else:
        value, info = latency_ms(task.model, (cfg.in_channels, cfg.data.image_size, cfg.data.image_size), device)
    return {COST_KEY: value, "cost_info": {"name": name, **info}}


def latency_ms(
    model: torch.nn.Module,
    input_size: tuple[int, int, int],
    device: torch.device,
    *,
    warmup: int = WARMUP,
    timed: int = TIMED,
) -> tuple[float, dict[str, Any]]:
    """Median milliseconds of ``model.encode`` on one image (batch 1) in eval mode under ``inference_mode``;
    CUDA is synchronised around every timed pass. The model's train/eval mode is restored afterwards; no random
    number is drawn and no weight or BN statistic changes, so training continues exactly as without it."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, *input_size, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *a: None)
    times = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model.encode(x)
            for _ in range(timed):
                sync(device)
                t0 = time.perf_counter()
                model.encode(x)
                sync(device)
                times.append((time.perf_counter() - t0) * 1000.0)
    finally:
        model.train(was_training)
    info = {
        "warmup": warmup,
        "timed": timed,
        "statistic": "median",
        "batch": 1,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "min_ms": min(times),
        "max_ms": max(times),
    }
    return statistics.median(times), info
