"""The one training loop: building a trial's parts and running one epoch of any task."""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import TrialConfig
from ..data.augment import Augment, get_augmentation
from ..data.transforms import to_input
from ..errors import ConfigError
from ..optim.build import clip_gradients
from .build import build_loss, build_model, build_optimizer, build_scheduler
from .errors import NonFiniteLoss


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
            raise ConfigError(
                f"train.amp: 'fp16' needs a CUDA device, the device is {device.type}; "
                "use 'bf16' (supported on CPU) or 'none'"
            )
        return torch.float16
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("train.amp: 'bf16' is not supported by this GPU; use 'fp16' or 'none'")
    return torch.bfloat16


def steps_per_epoch(n_train: int, *, batch_size: int, max_steps: int) -> int:
    """Full batches only (drop_last: a 1-image BatchNorm batch fails); one short batch if the set is smaller."""
    steps = max(1, n_train // batch_size)
    return min(steps, max_steps) if max_steps else steps


@dataclass
class Batches:
    """The training split as augmented device batches; an epoch's order depends on (seed, epoch) only."""

    images: np.ndarray  # uint8 NHWC (the cache's read-only memmap)
    labels: np.ndarray
    batch_size: int
    steps: int  # per epoch
    seed: int
    augment: Augment
    generator: torch.Generator  # augmentation randomness (saved in the checkpoint)
    device: torch.device
    channels_last: bool = False

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = epoch_order(self.seed, epoch, len(self.images))
        bs = min(self.batch_size, len(order))
        for step in range(self.steps):
            rows = np.sort(order[step * bs : (step + 1) * bs])  # ascending memmap reads; the same set either way
            x = torch.from_numpy(np.ascontiguousarray(self.images[rows])).to(self.device, non_blocking=True)
            y = torch.from_numpy(self.labels[rows]).to(self.device, non_blocking=True)
            x = to_input(self.augment(x, self.generator))
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y


@dataclass
class Stepper:
    """One optimizer step: the forward under autocast, scaled backward, clipping, optimizer and schedule step."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    device_type: str
    grad_clip: float = 0.0

    def __post_init__(self) -> None:
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]

    def autocast(self) -> torch.autocast:
        return torch.autocast(
            self.device_type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        )

    def step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            clip_gradients(self.params, self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])


def build_training(cfg: TrialConfig) -> tuple[Any, Batches, Stepper]:
    """The task (data, model, loss), the batches and the optimizer step of one trial, as torchvision's
    reference ``main`` builds its parts before the loop."""
    from ..data import build_task_data
    from .tasks import build_task

    device = resolve_device(cfg.train.device)
    dtype = amp_dtype(cfg.train.amp, device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    data = build_task_data(cfg)
    model = build_model(cfg).to(device)
    loss_fn = build_loss(cfg, embedding_size=model.embedding_size, num_classes=data.num_classes).to(device)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model_step = torch.compile(model) if cfg.train.compile else model
    optimizer = build_optimizer(cfg, [model, loss_fn])
    spe = steps_per_epoch(len(data.train), batch_size=cfg.train.batch_size, max_steps=cfg.train.max_steps)
    generator = torch.Generator(device=device)
    generator.manual_seed(cfg.train.seed)
    batches = Batches(
        data.train.images,
        data.train.labels,
        batch_size=cfg.train.batch_size,
        steps=spe,
        seed=cfg.train.seed,
        augment=get_augmentation(cfg.train.augment),
        generator=generator,
        device=device,
        channels_last=cfg.train.channels_last,
    )
    stepper = Stepper(
        optimizer,
        build_scheduler(cfg, optimizer, steps_per_epoch=spe, epochs=cfg.train.epochs),
        torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
        dtype,
        device.type,
        grad_clip=cfg.optim.grad_clip,
    )
    task = build_task(cfg.task, cfg=cfg, model=model, loss_fn=loss_fn, data=data, device=device, model_step=model_step)
    return task, batches, stepper


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The data order of ``epoch``: a function of (seed, epoch) only, so a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def train_one_epoch(
    task: Any, batches: Batches, stepper: Stepper, epoch: int, *, on_step: Callable[[int], None] | None = None
) -> dict[str, float]:
    """Train epoch ``epoch`` (0-based); returns ``train_<component>`` means, lr, images_per_s, train_s.

    Every step's components are read back once (one device sync, after the optimizer step, as a
    logging ``loss.item()`` would) and checked: a NaN/inf ends the epoch with ``NonFiniteLoss``
    naming the epoch, step and component.
    """
    task.train()
    sums: dict[str, float] = {}
    lr = stepper.optimizer.param_groups[0]["lr"]
    seen = 0
    t0 = time.perf_counter()
    for step, (x, y) in enumerate(batches.epoch(epoch)):
        with stepper.autocast():
            comps = task.train_step(x, y, epoch=epoch + step / batches.steps)
        stepper.step(comps["loss"])
        values = torch.stack([v.detach().float().reshape(()).to(batches.device) for v in comps.values()]).tolist()
        bad = [name for name, v in zip(comps, values) if not math.isfinite(v)]
        if bad:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in zip(comps, values))
            raise NonFiniteLoss(f"non-finite {bad[0]!r} at epoch {epoch + 1}, step {step + 1} ({shown})")
        for name, v in zip(comps, values):
            sums[name] = sums.get(name, 0.0) + v
        seen += len(y)
        if on_step:
            on_step(step)
    if batches.device.type == "cuda":
        torch.cuda.synchronize(batches.device)
    train_s = time.perf_counter() - t0
    out = {f"train_{k}": v / batches.steps for k, v in sums.items()}
    out.update(lr=lr, images_per_s=seen / train_s, train_s=train_s)
    return out


def peak_mem_mb(device: torch.device) -> float:
    """GPU: peak allocated by torch; CPU: the process's peak resident set (ru_maxrss, KiB on Linux)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
