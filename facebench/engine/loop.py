"""The one training loop: building a trial's parts and running one epoch of any task."""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..config import TrialConfig
from ..data.transforms import to_input
from ..errors import ConfigError
from ..data.augment import Augment, get_augmentation
from ..optim.build import build_optimizer, build_scheduler, clip_gradients


class NonFiniteLoss(Exception):
    """A loss component became NaN/inf: the trial ends as failed with this message."""


@dataclass
class Setup:
    cfg: TrialConfig
    data: Any                      # facebench.data.TaskData
    model: torch.nn.Module         # the module whose state is saved (never the compiled wrapper)
    model_step: Callable           # what the training step calls: model, or torch.compile(model)
    loss_fn: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    device: torch.device
    amp_dtype: torch.dtype | None
    generator: torch.Generator     # augmentation randomness
    augment: Augment
    steps_per_epoch: int
    params: list[torch.Tensor] = field(default_factory=list)
    task: Any = None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: 'cuda' was asked for but torch sees no CUDA device; use 'cpu' or 'auto'")
    return torch.device(name)


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype; fp16 needs CUDA (its GradScaler has no CPU counterpart worth using)."""
    if amp == "none":
        return None
    if amp == "fp16":
        if device.type != "cuda":
            raise ConfigError(f"train.amp: 'fp16' needs a CUDA device, the device is {device.type}; "
                              "use 'bf16' (supported on CPU) or 'none'")
        return torch.float16
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("train.amp: 'bf16' is not supported by this GPU; use 'fp16' or 'none'")
    return torch.bfloat16


def steps_per_epoch(n_train: int, *, batch_size: int, max_steps: int) -> int:
    """Full batches only (drop_last: a 1-image BatchNorm batch fails); one short batch if the set is smaller."""
    steps = max(1, n_train // batch_size)
    return min(steps, max_steps) if max_steps else steps


def build_setup(cfg: TrialConfig) -> Setup:
    from ..data import build_task_data
    from ..losses import build_loss
    from ..models import build_model
    from .tasks import build_task

    device = resolve_device(cfg.train.device)
    dtype = amp_dtype(cfg.train.amp, device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    data = build_task_data(cfg)
    model = build_model(cfg, num_classes=data.num_classes).to(device)
    loss_fn = build_loss(cfg, embedding_size=model.embedding_size, num_classes=data.num_classes).to(device)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model_step = torch.compile(model) if cfg.train.compile else model
    optimizer = build_optimizer(cfg, [model, loss_fn])
    spe = steps_per_epoch(len(data.train), batch_size=cfg.train.batch_size, max_steps=cfg.train.max_steps)
    scheduler = build_scheduler(cfg, optimizer, steps_per_epoch=spe, epochs=cfg.train.epochs)
    generator = torch.Generator(device=device)
    generator.manual_seed(cfg.train.seed)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    setup = Setup(cfg=cfg, data=data, model=model, model_step=model_step, loss_fn=loss_fn, optimizer=optimizer,
                  scheduler=scheduler, scaler=torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
                  device=device, amp_dtype=dtype, generator=generator, augment=get_augmentation(cfg.train.augment),
                  steps_per_epoch=spe, params=params)
    setup.task = build_task(setup)
    return setup


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The data order of ``epoch``: a function of (seed, epoch) only, so a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def _batch(s: Setup, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    rows = np.sort(rows)  # ascending reads of the memmap; the batch is the same set either way
    train = s.data.train
    x = torch.from_numpy(np.ascontiguousarray(train.images[rows])).to(s.device, non_blocking=True)
    y = torch.from_numpy(train.labels[rows]).to(s.device, non_blocking=True)
    x = to_input(s.augment(x, s.generator))
    if s.cfg.train.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def train_step(s: Setup, x: torch.Tensor, y: torch.Tensor, *, epoch: float) -> dict[str, torch.Tensor]:
    with torch.autocast(s.device.type, dtype=s.amp_dtype or torch.float32, enabled=s.amp_dtype is not None):
        comps = s.task.train_step(x, y, epoch=epoch)
    s.optimizer.zero_grad(set_to_none=True)
    s.scaler.scale(comps["loss"]).backward()
    if s.cfg.optim.grad_clip > 0:
        s.scaler.unscale_(s.optimizer)
        clip_gradients(s.params, s.cfg.optim.grad_clip)
    s.scaler.step(s.optimizer)
    s.scaler.update()
    s.scheduler.step()
    return comps


def train_one_epoch(s: Setup, epoch: int, *, on_step: Callable[[int], None] | None = None) -> dict[str, float]:
    """Train epoch ``epoch`` (0-based); returns ``train_<component>`` means, lr, images_per_s, train_s.

    Every step's components are read back once (one device sync, after the optimizer step, as a
    logging ``loss.item()`` would) and checked: a NaN/inf ends the epoch with ``NonFiniteLoss``
    naming the epoch, step and component.
    """
    s.model.train()
    s.loss_fn.train()
    order = epoch_order(s.cfg.train.seed, epoch, len(s.data.train))
    bs = min(s.cfg.train.batch_size, len(order))
    sums: dict[str, float] = {}
    lr = s.optimizer.param_groups[0]["lr"]
    seen = 0
    t0 = time.perf_counter()
    for step in range(s.steps_per_epoch):
        x, y = _batch(s, order[step * bs:(step + 1) * bs])
        comps = train_step(s, x, y, epoch=epoch + step / s.steps_per_epoch)
        values = torch.stack([v.detach().float().reshape(()).to(s.device) for v in comps.values()]).tolist()
        bad = [name for name, v in zip(comps, values) if not math.isfinite(v)]
        if bad:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in zip(comps, values))
            raise NonFiniteLoss(f"non-finite {bad[0]!r} at epoch {epoch + 1}, step {step + 1} ({shown})")
        for name, v in zip(comps, values):
            sums[name] = sums.get(name, 0.0) + v
        seen += len(y)
        if on_step:
            on_step(step)
    if s.device.type == "cuda":
        torch.cuda.synchronize(s.device)
    train_s = time.perf_counter() - t0
    out = {f"train_{k}": v / s.steps_per_epoch for k, v in sums.items()}
    out.update(lr=lr, images_per_s=seen / train_s, train_s=train_s)
    return out


def peak_mem_mb(device: torch.device) -> float:
    """GPU: peak allocated by torch; CPU: the process's peak resident set (ru_maxrss, KiB on Linux)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
