"""The CIFAR-10 loss study's grid: (cnn, resnet18, resnet50, plainnet18) x (ce, arcface, curricularface, adaface).

Every cell of the grid runs once (Optuna's GridSampler), each loss at its published defaults; judged by
validation accuracy on held-out training images, then tested on the CIFAR-10 test split
(``--data-root``: the folder holding ``cifar10/``). ``--smoke``: synthetic images, tiny nets.

    python sweeps/cifar.py --gpus-per-trial 0.25
    python sweeps/cifar.py --smoke
"""

from functools import partial

from facebench.sweep import SweepSpec, main, space
from facebench.sweep.presets import SMOKE_CIFAR

GRID = {"model.backbone": ("cnn", "resnet18", "resnet50", "plainnet18"),
        "loss.name": ("ce", "arcface", "curricularface", "adaface")}
SPEC = SweepSpec(
    name="cifar", task="cifar",
    base={"data.train": "cifar10", "data.root": "{data}/cifar10", "data.image_size": 32, "model.stem": "cifar",
          "train.epochs": 30, "train.batch_size": 128, "train.augment": "crop_flip", "optim.name": "sgd",
          "optim.lr": 0.1, "optim.weight_decay": 5e-4, "schedule.name": "onecycle"},
    space=partial(space.grid, axes=GRID), sampler="grid", grid=GRID, scheduler="fifo",
    num_samples=16, cpus_per_trial=4, gpus_per_trial=0.25,
    smoke=SMOKE_CIFAR, smoke_num_samples=4,
    description="the CIFAR-10 loss study: backbone x loss grid",
)

if __name__ == "__main__":
    raise SystemExit(main(SPEC))
